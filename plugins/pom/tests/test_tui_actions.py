# ruff: noqa: E501 - the YAML fixture holds a long shell command verbatim
"""The TUI's process-compose actions (specs/pom/tui.md), driven by textual's Pilot against real processes."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from toolkit_pom.core.config import load_config
from toolkit_pom.core.supervisor import Supervisor
from toolkit_pom.testing import until, write_project

if TYPE_CHECKING:
    from textual.pilot import Pilot

    from toolkit_pom.tui.app import PomApp

pytestmark = [pytest.mark.asyncio, pytest.mark.tui]

COMPOSE = """\
version: "0.5"
processes:
  api:
    command: "trap 'echo got usr1' USR1; echo api up; while true; do sleep 0.1; done"
    namespace: backend
    depends_on:
      db:
        condition: process_started
  db:
    command: "echo db up; exec sleep 300"
    namespace: backend
  web:
    command: "for i in $(seq 1 300); do echo web line $i; if [ $((i % 60)) = 0 ]; then echo ma''tch $i; fi; done; exec sleep 300"
    namespace: frontend
    depends_on:
      api:
        condition: process_started
"""


def screen_text(app: PomApp) -> str:
    """What the terminal shows now, as plain text (the active screen, modal boxes included)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def notices(app: PomApp) -> str:
    """The text of every notification shown so far (toasts are drawn above the screen)."""
    return "\n".join(n.message for n in app._notifications)


def table_names(app: PomApp) -> list[str]:
    from textual.widgets import DataTable

    table = app.query_one("#procs", DataTable)
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


@asynccontextmanager
async def running(
    config_path: Path, size: tuple[int, int] = (140, 40)
) -> AsyncIterator[tuple[Supervisor, PomApp, Pilot[None]]]:
    from toolkit_pom.tui.app import PomApp

    sup = Supervisor(load_config(config_path))
    sup.begin()
    try:
        app = PomApp(sup, refresh_interval=0.05)
        async with app.run_test(size=size) as pilot:
            await pilot.pause(0.1)
            yield sup, app, pilot
    finally:
        await sup.close()


async def select(app: PomApp, pilot: Pilot[None], name: str) -> None:
    from textual.widgets import DataTable

    table = app.query_one("#procs", DataTable)
    table.move_cursor(row=table_names(app).index(name))
    await pilot.pause(0.1)
    assert app.selected == name


async def type_answer(pilot: Pilot[None], text: str) -> None:
    """Replace the prompt's text and press enter."""
    from textual.widgets import Input

    box = pilot.app.screen.query_one("#prompt", Input)
    box.value = ""
    await pilot.press(*text, "enter")
    await pilot.pause(0.1)


@pytest.fixture
def compose_file(tmp_path: Path) -> Path:
    path = tmp_path / "process-compose.yaml"
    path.write_text(COMPOSE)
    return path


async def test_scale_signal_info_and_graph_act_through_control(compose_file: Path) -> None:
    from toolkit_pom.tui.screens import PromptScreen, TextScreen

    async with running(compose_file) as (sup, app, pilot):
        await until(lambda: sup.instances["api"].state == "running" and sup.instances["web"].state == "running")
        await until(lambda: "processes: 3 running" in screen_text(app))

        await select(app, pilot, "db")
        await pilot.press("S")
        assert isinstance(app.screen, PromptScreen)
        await type_answer(pilot, "3")
        # The instance that runs keeps its name; the new ones take the first unused replica names.
        await until(lambda: sup.groups["db"] == ["db", "db-0", "db-1"])
        await until(lambda: len(table_names(app)) == 5)
        replicas = sup.groups["db"]
        await until(lambda: all(sup.instances[n].state == "running" for n in replicas))

        # A refused count changes nothing and says why.
        await select(app, pilot, replicas[0])
        await pilot.press("S")
        await type_answer(pilot, "99")
        await until(lambda: "replicas must be between 0 and 64" in notices(app))
        assert sup.groups["db"] == replicas

        await select(app, pilot, "api")
        await pilot.press("K")
        await type_answer(pilot, "USR1")
        await until(lambda: sup.store.log("api").snapshot().query(contains="got usr1").lines)
        await pilot.press("K")
        await type_answer(pilot, "NOPE")
        await until(lambda: "NOPE" in notices(app) and "signal" in notices(app).lower())
        assert sup.instances["api"].state == "running"

        await pilot.press("i")
        await pilot.pause(0.1)
        assert isinstance(app.screen, TextScreen)
        info = screen_text(app)
        assert "info: api" in info
        assert "namespace: backend" in info
        assert "depends:   db (started)" in info
        await pilot.press("escape")

        await pilot.press("d")
        await pilot.pause(0.1)
        assert isinstance(app.screen, TextScreen)
        graph = screen_text(app)
        assert "web [running]" in graph
        assert "└─ api [running]" in graph
        assert "└─ db [running]" in graph
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, TextScreen)


async def test_namespace_filter_and_sort_choose_the_rows(compose_file: Path) -> None:
    async with running(compose_file) as (sup, app, pilot):
        await until(lambda: sup.instances["web"].state == "running")
        assert table_names(app) == ["api", "db", "web"]

        await pilot.press("e")  # backend
        await pilot.pause(0.1)
        assert app.namespace == "backend"
        assert table_names(app) == ["api", "db"]
        await pilot.press("e")  # frontend
        await pilot.pause(0.1)
        assert table_names(app) == ["web"]
        assert app.selected == "web"  # the selection left the table: the first shown row is selected
        await pilot.press("e")  # all again
        await pilot.pause(0.1)
        assert table_names(app) == ["api", "db", "web"]

        await pilot.press("F")
        await type_answer(pilot, "B")  # case-insensitive
        assert table_names(app) == ["db", "web"]
        assert "filter: 'B'" in screen_text(app)
        await pilot.press("F")
        await type_answer(pilot, "")
        assert table_names(app) == ["api", "db", "web"]

        await pilot.press("O")  # NAME descending
        await pilot.pause(0.1)
        assert table_names(app) == ["web", "db", "api"]
        await pilot.press("o")  # NAMESPACE (descending), then name
        await pilot.pause(0.1)
        assert app.sort == "NAMESPACE"
        assert table_names(app) == ["web", "db", "api"]
        await pilot.press("O")
        await pilot.pause(0.1)
        assert table_names(app) == ["api", "db", "web"]
        assert "sort: NAMESPACE asc" in screen_text(app)


async def test_reload_key_applies_the_changed_files(compose_file: Path) -> None:
    async with running(compose_file) as (sup, app, pilot):
        sup.reloader = lambda: load_config(compose_file)
        await until(lambda: sup.instances["web"].state == "running")
        compose_file.write_text(COMPOSE + '  extra:\n    command: "exec sleep 300"\n    namespace: backend\n')
        await pilot.press("ctrl+l")
        await until(lambda: "extra" in table_names(app))
        await until(lambda: "reloaded: added extra" in notices(app))
        compose_file.write_text("processes: [")
        await pilot.press("ctrl+l")
        await until(lambda: "not valid YAML" in notices(app))
        assert "extra" in sup.instances


async def test_find_next_wrap_and_quit_confirmation(compose_file: Path) -> None:
    from toolkit_pom.tui.screens import ConfirmScreen

    async with running(compose_file, size=(100, 30)) as (sup, app, pilot):
        await until(lambda: sup.store.log("web").snapshot().query(contains="match 300").lines)
        await select(app, pilot, "web")
        await until(lambda: any("match 300" in t.plain for t in app._pane.shown))
        pane = app._pane

        await pilot.press("slash", *"match", "enter")
        await pilot.pause(0.1)
        found = app.matches()
        assert [app._pane.shown[i].plain.split(" ", 1)[1] for i in found] == [f"match {n}" for n in range(60, 301, 60)]
        assert app.match_index == 4  # the newest match first
        assert not app.follow  # jumping to a match pauses following

        def match_on_screen() -> bool:
            assert app.match_index is not None
            row = found[app.match_index]
            return pane.scroll_y <= row < pane.scroll_y + pane.scrollable_content_region.height

        await pilot.press("n", "n")
        await pilot.pause(0.1)
        assert app.match_index == 2
        assert match_on_screen()
        await pilot.press("N")
        await pilot.pause(0.1)
        assert app.match_index == 3
        await pilot.press("n", "n", "n", "n")  # past the oldest wraps to the newest
        await pilot.pause(0.1)
        assert app.match_index == 4
        assert match_on_screen()
        assert "find: 'match' (5/5)" in screen_text(app)

        # Wrap: a long line takes several rows, and n still lands on the match.
        before = len(pane.lines)
        sup.instances["web"].note("x" * 400)
        await pilot.press("p")  # follow again, so the long line arrives
        await until(lambda: any("xxxx" in t.plain for t in app._pane.shown))
        await pilot.press("w")
        await pilot.pause(0.1)
        assert app.wrap
        assert pane.wrap
        assert len(pane.lines) > before + 2  # the 400-character line wrapped onto several rows
        await pilot.press("n")
        await pilot.pause(0.1)
        assert match_on_screen()
        await pilot.press("w")
        await pilot.pause(0.1)
        assert len(pane.lines) == len(app._pane.shown)

        await pilot.press("q")
        await pilot.pause(0.1)
        assert isinstance(app.screen, ConfirmScreen)
        assert "Stop every process and quit pom?" in screen_text(app)
        await pilot.press("n")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, ConfirmScreen)
        assert app.is_running
        await pilot.press("f10", "y")
        await until(lambda: not app.is_running)


async def test_columns_never_cut_states_or_units(tmp_path: Path) -> None:
    config = write_project(
        tmp_path,
        """
        [processes.flaky]
        command = "echo try; exit 3"
        restart = "always"
        backoff_initial = 30
        """,
    )
    async with running(config, size=(80, 24)) as (sup, app, _pilot):
        await until(lambda: sup.instances["flaky"].state == "restarting")
        await until(lambda: "restarting" in screen_text(app))
        assert "crashed" not in screen_text(app)
        row = next(line for line in screen_text(app).splitlines() if "flaky" in line)
        assert " 3 " in row  # the exit code column


SNAPSHOT_PROJECT = """
[project]
name = "demo"

[processes.db]
command = "exec sleep 300"

[processes.web]
command = "exec sleep 300"
depends_on = { db = "started" }
replicas = 2

[processes.docs]
command = "true"
disabled = true
"""


async def test_screens_snapshot(tmp_path: Path, snapshot: Any) -> None:
    """The whole screen of a project not started yet (so nothing varies), its graph and info boxes."""
    from toolkit_pom.tui.app import PomApp

    sup = Supervisor(load_config(write_project(tmp_path, textwrap.dedent(SNAPSHOT_PROJECT))))
    try:
        app = PomApp(sup, refresh_interval=0.05, now=lambda: sup.started_at + 83)
        async with app.run_test(size=(110, 30)) as pilot:
            await until(lambda: "palette" in screen_text(app))  # the footer is drawn after the first frame
            assert screen_text(app) == snapshot(name="main")
            await pilot.press("d")
            await pilot.pause(0.2)
            assert screen_text(app) == snapshot(name="graph")
            await pilot.press("escape", "j", "i")
            await pilot.pause(0.2)
            assert screen_text(app) == snapshot(name="info")
            await pilot.press("escape", "question_mark")
            await pilot.pause(0.2)
            assert screen_text(app) == snapshot(name="help")
    finally:
        await sup.close()
