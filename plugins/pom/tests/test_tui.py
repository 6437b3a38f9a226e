from __future__ import annotations

from pathlib import Path

import pytest

from toolkit_pom.core.config import load_config
from toolkit_pom.core.supervisor import Supervisor
from toolkit_pom.testing import until, write_project

pytestmark = [pytest.mark.asyncio, pytest.mark.tui]


async def test_tui_table_logs_filter_search_copy_and_control(tmp_path: Path) -> None:
    from textual.widgets import DataTable

    from toolkit_pom.tui.app import HelpScreen, PomApp

    config = load_config(
        write_project(
            tmp_path,
            """
            [processes.alpha]
            command = "echo hello out; echo bad thing >&2; echo needle here; exec sleep 300"
            [processes.beta]
            command = "printf '\\\\033[31mbeta line\\\\033[0m\\\\n'; exec sleep 300"
            """,
        )
    )
    sup = Supervisor(config)
    sup.begin()
    try:
        await until(lambda: sup.store.log("alpha").snapshot().query(contains="needle").lines)
        app = PomApp(sup, refresh_interval=0.05)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.2)
            table = app.query_one("#procs", DataTable)
            assert table.row_count == 2
            assert app.selected == "alpha"
            plain = [t.plain for t in app._pane.shown]
            assert any("hello out" in p for p in plain)
            assert any("bad thing" in p for p in plain)

            await pilot.press("f", "f")  # stderr only
            await pilot.pause(0.2)
            assert app.stream == "stderr"
            assert [t.plain.split(" ", 1)[1] for t in app._pane.shown] == ["bad thing"]
            await pilot.press("f")  # back to all
            await pilot.press("slash")
            await pilot.press(*"needle")
            await pilot.press("enter")
            await pilot.pause(0.2)
            assert app.search == "needle"
            assert len(app._pane.shown) > 2  # find highlights; every line is still shown
            await pilot.press("v")  # only the matching lines
            await pilot.pause(0.2)
            shown = [t.plain.split(" ", 1)[1] for t in app._pane.shown]
            assert "needle here" in shown
            assert all("needle" in p for p in shown)
            assert len(shown) == 2
            span_styles = [str(s.style) for s in app._pane.shown[-1].spans]
            assert any("yellow" in s for s in span_styles)

            await pilot.press("c")
            assert "needle here" in app.clipboard
            await pilot.press("escape")
            await pilot.pause(0.1)
            assert app.search is None

            await pilot.press("j")
            await pilot.pause(0.2)
            assert app.selected == "beta"
            beta = [t for t in app._pane.shown if "beta line" in t.plain and "[pom]" not in t.plain]
            assert beta
            assert "\x1b" not in beta[0].plain  # ANSI colours are rendered, not shown as escapes
            colours = [getattr(getattr(span.style, "color", None), "number", None) for span in beta[0].spans]
            assert 1 in colours  # ANSI 31 = standard colour 1 (red)
            old_pid = sup.instances["beta"].pid
            await pilot.press("r")
            await until(
                lambda: sup.instances["beta"].pid not in (None, old_pid) and sup.instances["beta"].state == "running"
            )
            await pilot.press("x")
            await until(lambda: sup.instances["beta"].state == "stopped")
            await pilot.pause(0.2)
            assert "stopped" in str(table.get_row("beta")[2])
            await pilot.press("s")
            await until(lambda: sup.instances["beta"].state == "running")

            await pilot.press("question_mark")
            await pilot.pause(0.1)
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            await pilot.pause(0.1)
            assert not isinstance(app.screen, HelpScreen)
            await pilot.press("q", "y")
        assert app.return_value is None
    finally:
        await sup.close()
