"""Whole-screen snapshots of `grite tui` (syrupy; `--snapshot-update` rewrites them after a deliberate change).

The repository holds fixed events (ids, actor, times), so nothing on the screen varies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from toolkit_grite.core.grite import Grite
from toolkit_grite.core.model import make_event

pytestmark = [pytest.mark.tui]

ACTOR = bytes.fromhex("a1" * 16)
DAY = 1_796_400_000_000  # 2026-12-04 (UTC), in ms


def screen_text(app: Any) -> str:
    """What the terminal shows now, as plain text (the active screen, modal boxes included)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def seed(g: Grite) -> None:
    crash, docs = bytes.fromhex("c0" * 16), bytes.fromhex("d0" * 16)
    events = [
        make_event(crash, ACTOR, DAY, 1, ["Crash on start", "It segfaults\nwhen HOME is unset.", ["bug", "p1"]]),
        make_event(crash, ACTOR, DAY + 60_000, 3, ["seen on arm64 too"]),
        make_event(crash, ACTOR, DAY + 120_000, 8, ["alice"]),
        make_event(docs, ACTOR, DAY + 180_000, 1, ["Docs: \x1b[31mred\x1b[0m title", "", ["docs"]]),
    ]
    g.write(events)


@pytest.mark.asyncio
async def test_screens(repo: Path, snapshot: Any) -> None:
    from textual.widgets import Input

    from toolkit_grite.tui.app import GriteApp

    g = Grite()
    seed(g)
    app = GriteApp(g, query="sort:id")
    async with app.run_test(size=(120, 24)) as pilot:
        await pilot.pause()
        assert screen_text(app) == snapshot(name="list")
        await pilot.press("down")
        await pilot.pause()
        assert screen_text(app) == snapshot(name="escaped title")
        await pilot.press("up", "e")
        await pilot.pause()
        assert app.screen.query_one("#title", Input).value == "Crash on start"
        assert screen_text(app) == snapshot(name="editor")
