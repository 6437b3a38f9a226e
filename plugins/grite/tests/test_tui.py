"""`grite tui` driven through textual's Pilot: every key writes through the core and is read back."""

from __future__ import annotations

import html
import re
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit_grite.core import ops
from toolkit_grite.core.grite import Grite
from toolkit_grite.testing import grite

pytestmark = [pytest.mark.tui]

HOSTILE = "evil\x1b[2J\x1b]0;pwned\x07 title\u202e"


def screen_text(app: Any) -> str:
    """The characters on the screen (from textual's own SVG rendering of it)."""
    svg = app.export_screenshot()
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


def issue(g: Grite, ident: str) -> dict[str, Any]:
    g.catch_up(force=True)
    shown: dict[str, Any] = ops.show_issue(g, ident)["issue"]
    return shown


@pytest.fixture
def seeded(repo: Path) -> tuple[Grite, str, str]:
    g = Grite()
    bug = ops.create_issue(g, "first bug", "it breaks", ["bug"])["issue_id"]
    other = ops.create_issue(g, HOSTILE, "body\x1b[31m red\nline two")["issue_id"]
    return g, bug, other


@pytest.mark.asyncio
async def test_list_query_and_escaped_detail(seeded: tuple[Grite, str, str]) -> None:
    from textual.widgets import DataTable, Input

    from toolkit_grite.tui.app import GriteApp

    g, bug, other = seeded
    app = GriteApp(g)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        table = app.query_one("#issues", DataTable)
        assert table.row_count == 2
        assert set(app.rows) == {bug, other}
        table.move_cursor(row=app.rows.index(other))
        await pilot.pause()
        shown = screen_text(app)
        # Control characters arrive as visible escapes, never as terminal commands.
        assert "evil\\x1b[2J\\x1b]0;pwned\\x07 title\\u202e" in shown
        assert "body\\x1b[31m red" in shown
        assert "\x1b" not in shown

        await pilot.press("slash")
        query = app.query_one("#query", Input)
        query.value = "label:bug"
        await pilot.press("enter")
        await pilot.pause()
        assert app.rows == [bug]
        assert "first bug" in screen_text(app)
        assert "1 issue(s) match 'label:bug'" in screen_text(app)

        query.value = "colour:red"  # unknown qualifier: an error line, the list stays
        await pilot.press("slash", "enter")
        await pilot.pause()
        assert "unknown qualifier colour:" in screen_text(app)
        assert app.rows == [bug]


@pytest.mark.asyncio
async def test_comment_edit_labels_close_reopen_create(seeded: tuple[Grite, str, str]) -> None:
    from textual.widgets import Input, TextArea

    from toolkit_grite.tui.app import GriteApp

    g, bug, _other = seeded
    app = GriteApp(g, query="label:bug")
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        assert app.current is not None
        assert app.current["issue_id"] == bug

        await pilot.press("c")
        await pilot.pause()
        app.screen.query_one("#body", TextArea).text = "a comment\nover two lines"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert [c["body"] for c in issue(g, bug)["comments"]] == ["a comment\nover two lines"]
        assert "over two lines" in screen_text(app)

        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#title", Input).value = "renamed bug"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert issue(g, bug)["title"] == "renamed bug"
        assert issue(g, bug)["body"] == "it breaks"  # unchanged fields are not rewritten

        await pilot.press("l", *"urgent", "enter")
        await pilot.pause()
        assert issue(g, bug)["labels"] == ["bug", "urgent"]
        await pilot.press("L", *"urgent", "enter")
        await pilot.pause()
        assert issue(g, bug)["labels"] == ["bug"]

        await pilot.press("x")
        await pilot.pause()
        assert issue(g, bug)["state"] == "closed"
        await pilot.press("x")
        await pilot.pause()
        assert issue(g, bug)["state"] == "open"

        await pilot.press("c", "escape")  # cancelled: nothing written
        await pilot.pause()
        assert len(issue(g, bug)["comments"]) == 1

        await pilot.press("n")
        await pilot.pause()
        app.screen.query_one("#title", Input).value = "made in the tui"
        app.screen.query_one("#body", TextArea).text = "with a body"
        await pilot.press("ctrl+s")
        await pilot.pause()
        made = [s for s in ops.list_issues(g, text="tui")["issues"]]
        assert [s["title"] for s in made] == ["made in the tui"]

        await pilot.press("n")
        await pilot.pause()
        await pilot.press("ctrl+s")  # an empty title is refused, nothing is written
        await pilot.pause()
        assert "--title must not be empty" in screen_text(app)
        assert ops.list_issues(g)["total"] == 3


@pytest.mark.asyncio
async def test_sees_writes_of_other_processes(seeded: tuple[Grite, str, str], repo: Path) -> None:
    from toolkit_grite.tui.app import GriteApp

    g, _bug, _other = seeded
    app = GriteApp(g, query="", watch_interval=0.05)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        assert len(app.rows) == 2
        made = grite(repo, "issue", "create", "--title", "written elsewhere", "--json")
        assert made.code == 0, made.err
        # The WAL head moved: the list follows without a key press (generous deadline: loaded machine).
        deadline = time.monotonic() + 60
        while len(app.rows) < 3 and time.monotonic() < deadline:
            await pilot.pause(0.05)
        assert len(app.rows) == 3
        assert "written elsewhere" in screen_text(app)
        grite(repo, "issue", "create", "--title", "and another", "--json")
        await pilot.press("r")  # and on demand
        await pilot.pause()
        assert len(app.rows) == 4


def test_tui_needs_a_terminal(repo: Path) -> None:
    res = grite(repo, "tui", "--json")
    assert res.code == 2
    assert res.error["message"] == "grite tui needs a terminal"


@pytest.mark.asyncio
async def test_edit_own_comment_and_remove(seeded: tuple[Grite, str, str], repo: Path) -> None:
    from textual.widgets import Input, TextArea

    from toolkit_grite.tui.app import GriteApp

    g, bug, other_issue = seeded
    mine = ops.comment(g, bug, "frist")["event_id"]
    other = grite(repo, "actor", "init", "--label", "other", "--json").data["actor_id"]
    assert grite(repo, "--actor", other, "issue", "comment", bug, "--body", "theirs", "--json").code == 0
    app = GriteApp(g, query="label:bug")
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        await pilot.press("E")  # offers the last of my comments (#1); #2 is not mine
        await pilot.pause()
        prompt = app.screen.query_one("#prompt", Input)
        assert prompt.value == "#1"
        prompt.value = "#2"
        await pilot.press("enter")
        await pilot.pause()
        assert "#2 is not one of your comments (#1)" in screen_text(app)

        await pilot.press("E", "enter")
        await pilot.pause()
        app.screen.query_one("#body", TextArea).text = "first"
        await pilot.press("ctrl+s")
        await pilot.pause()
        comments = issue(g, bug)["comments"]
        assert [(c["event_id"], c["body"], c.get("edited", False)) for c in comments] == [
            (mine, "first", True),
            (comments[1]["event_id"], "theirs", False),
        ]
        assert "(edited)" in screen_text(app)

        await pilot.press("D", "n", "enter")  # not confirmed: nothing happens
        await pilot.pause()
        assert issue(g, bug)["state"] == "open"
        await pilot.press("D", "y", "enter")
        await pilot.pause()
        assert app.rows == []
        assert [s["issue_id"] for s in ops.list_issues(g)["issues"]] == [other_issue]


# Tabs and newlines may stay in bodies and comments; nothing else that steers a terminal may.
CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@given(title=st.text(), body=st.text(), comment=st.text(), label=st.text(min_size=1))
@settings(max_examples=200, deadline=None)
def test_rendered_issue_never_carries_control_characters(title: str, body: str, comment: str, label: str) -> None:
    from toolkit_grite.tui.app import render_issue

    issue = {
        "issue_id": "ab" * 16,
        "title": title,
        "body": body,
        "state": "open",
        "labels": [label],
        "assignees": [],
        "created_ts": 1,
        "updated_ts": 2,
        "comments": [{"event_id": "cd" * 32, "actor": "ef" * 16, "ts": 3, "body": comment}],
        "links": [{"url": body, "note": title}],
        "attachments": [{"name": label, "mime": comment}],
        "dependencies": [{"target": "12" * 16, "dep_type": "blocks"}],
    }
    plain = render_issue(issue).plain
    assert not CONTROLS.search(plain)
    lines = plain.split("\n")
    assert lines[1].startswith("ab" * 16)  # the title never spills onto the next line
    assert "\t" not in lines[0]


def test_grite_tui_runs_in_a_real_terminal(repo: Path) -> None:
    """The shipped command end to end: a pty, the rendered title, `q` quits with status 0."""
    import os
    import pty
    import select
    import subprocess

    from toolkit_grite.testing import GRITE

    assert grite(repo, "issue", "create", "--title", "seen through a pty", "--json").code == 0
    leader, follower = pty.openpty()
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="140", LINES="40")
    with subprocess.Popen([*GRITE, "tui"], cwd=repo, stdin=follower, stdout=follower, stderr=follower, env=env) as proc:
        os.close(follower)
        seen = b""
        deadline = time.monotonic() + 120
        try:
            while b"seen through a pty" not in seen and time.monotonic() < deadline:
                if select.select([leader], [], [], 1.0)[0]:
                    seen += os.read(leader, 65536)
            assert b"seen through a pty" in seen
            os.write(leader, b"q")
            while proc.poll() is None and time.monotonic() < deadline:
                if select.select([leader], [], [], 1.0)[0]:
                    try:
                        os.read(leader, 65536)
                    except OSError:
                        break
            assert proc.wait(timeout=max(1.0, deadline - time.monotonic())) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
            os.close(leader)


@pytest.mark.asyncio
async def test_long_lists_are_cut_and_say_so(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit_grite.tui import app as tui

    g = Grite()
    for n in range(3):
        ops.create_issue(g, f"issue {n}")
    monkeypatch.setattr(tui, "LIST_LIMIT", 2)
    app = tui.GriteApp(g, query="")
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        assert len(app.rows) == 2
        assert "3 issue(s) match '', the first 2 shown" in screen_text(app)
