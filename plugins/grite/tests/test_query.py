"""git-bug's features on our events: query language, label list, body from a file or stdin."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from toolkit_grite.testing import GRITE, grite


@pytest.fixture
def tracker(repo: Path) -> dict[str, str]:
    assert grite(repo, "init", "--no-agents-md").code == 0
    alice = grite(repo, "actor", "init", "--label", "alice", "--json").data["actor_id"]
    bob = grite(repo, "actor", "init", "--label", "bob", "--json").data["actor_id"]

    def make(actor: str, title: str, *args: str) -> str:
        return str(grite(repo, "--actor", actor, "issue", "create", "--title", title, *args, "--json").data["issue_id"])

    ids = {
        "crash": make(alice, "Crash on start", "--label", "bug", "--label", "p1", "--body", "segfault in main"),
        "docs": make(bob, "Write docs"),
        "slow": make(bob, "Slow list", "--label", "bug"),
    }
    grite(repo, "--actor", alice, "issue", "comment", ids["docs"], "--body", "mention the Frobnicator", "--json")
    grite(repo, "issue", "close", ids["slow"], "--json")
    return ids


def _titles(repo: Path, *query: str) -> list[str]:
    res = grite(repo, "issue", "list", *query, "--json")
    assert res.code == 0, res.err
    return [i["title"] for i in res.data["issues"]]


def test_query_language(repo: Path, tracker: dict[str, str]) -> None:
    assert _titles(repo, "status:open") == ["Crash on start", "Write docs"]
    assert _titles(repo, "label:bug") == ["Crash on start", "Slow list"]
    assert _titles(repo, "label:bug", "status:closed") == ["Slow list"]
    assert _titles(repo, "no:label") == ["Write docs"]
    assert _titles(repo, "author:alice") == ["Crash on start"]
    assert _titles(repo, "author:BOB", "sort:creation-desc") == ["Slow list", "Write docs"]
    assert _titles(repo, "frobnicator") == ["Write docs"]  # free text reaches comments
    assert _titles(repo, "segfault", "main") == ["Crash on start"]  # every word, title or body
    assert _titles(repo, "segfault main") == ["Crash on start"]  # arguments are joined, as in git-bug
    assert _titles(repo, '"segfault main"') == []  # a quoted phrase must occur as is
    assert _titles(repo, '"segfault in main"') == ["Crash on start"]
    assert _titles(repo, "label:bug segfault") == ["Crash on start"]
    assert _titles(repo, "sort:edit-desc")[0] == "Slow list"  # closed last
    assert _titles(repo, "status:open", "sort:id")[0] == min(
        ("Crash on start", "Write docs"), key=lambda t: tracker["crash" if t.startswith("Crash") else "docs"]
    )
    for bad in ("colour:red", "status:maybe", "sort:weird", "no:assignee", 'label:"unterminated'):
        res = grite(repo, "issue", "list", bad, "--json")
        assert res.code == 2, bad
        assert res.error["code"] == "invalid_args"


def test_label_list(repo: Path, tracker: dict[str, str]) -> None:
    labels = grite(repo, "issue", "label", "list", "--json").data["labels"]
    assert labels == [{"label": "bug", "open": 1, "issues": 2}, {"label": "p1", "open": 1, "issues": 1}]


def test_body_from_file_and_stdin(repo: Path, tmp_path: Path) -> None:
    assert grite(repo, "init", "--no-agents-md").code == 0
    body = tmp_path / "body.md"
    body.write_text("# Steps\n\n1. run it\n", encoding="utf-8")
    iid = grite(repo, "issue", "create", "--title", "t", "--body-file", str(body), "--json").data["issue_id"]
    for daemon in ("1", ""):  # through the daemon too: stdin stays with the client
        env = dict(os.environ, GRITE_NO_DAEMON=daemon)
        proc = subprocess.run(
            [*GRITE, "issue", "comment", iid, "--body-file", "-", "--json"],
            cwd=repo, input=f"from stdin {daemon or 'daemon'}\n", capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    shown = grite(repo, "issue", "show", iid, "--json").data["issue"]
    assert shown["body"] == "# Steps\n\n1. run it\n"
    assert [c["body"] for c in shown["comments"]] == ["from stdin 1\n", "from stdin daemon\n"]
    both = grite(repo, "issue", "comment", iid, "--body", "x", "--body-file", str(body), "--json")
    assert both.code == 2
    missing = grite(repo, "issue", "comment", iid, "--json")
    assert missing.code == 2
    grite(repo, "daemon", "stop", "--json")


def test_identities_with_name_and_email_sync(tmp_path: Path) -> None:
    from toolkit_grite.testing import two_replicas

    alice, bob = two_replicas(tmp_path)
    me = grite(alice, "actor", "set", "--name", "Alice Doe", "--email", "alice@example.com", "--json").data
    grite(alice, "issue", "create", "--title", "by alice", "--json")
    assert grite(alice, "sync", "--json").code == 0
    assert grite(bob, "sync", "--json").code == 0
    ids = grite(bob, "actor", "identities", "--json").data["identities"]
    assert [(i["actor_id"], i["name"], i["email"]) for i in ids] == [(me["actor_id"], "Alice Doe", "alice@example.com")]
    assert _titles(bob, "author:alice@example.com") == ["by alice"]
    assert _titles(bob, "author:bob") == []
    # A change of email travels too; the newest record wins.
    grite(alice, "actor", "set", "--email", "alice@new.example", "--json")
    assert grite(alice, "sync", "--json").code == 0
    assert grite(bob, "sync", "--json").code == 0
    (record,) = grite(bob, "actor", "identities", "--json").data["identities"]
    assert (record["name"], record["email"]) == ("Alice Doe", "alice@new.example")
    assert grite(bob, "actor", "set", "--json").code == 2  # nothing to set


def test_project_context(repo: Path) -> None:
    assert grite(repo, "init", "--no-agents-md").code == 0
    out = grite(repo, "context", "set", "owner", "alice", "--json").data
    assert (out["key"], out["value"], out["action"]) == ("owner", "alice", "set")
    grite(repo, "context", "set", "owner", "bob", "--json")
    grite(repo, "context", "set", "lang", "python", "--json")
    assert grite(repo, "context", "project", "--json").data == {
        "entries": [{"key": "lang", "value": "python"}, {"key": "owner", "value": "bob"}],
        "count": 2,
    }
    assert grite(repo, "context", "project", "owner", "--json").data == {"key": "owner", "value": "bob"}
    assert grite(repo, "context", "project", "nope", "--json").code == 3
    assert grite(repo, "context", "show", "src/x.py", "--json").code == 3
    assert grite(repo, "context", "query", "any", "--json").data == {"query": "any", "matches": [], "count": 0}
    assert grite(repo, "issue", "list", "--json").data["total"] == 0  # context is not an issue


def test_install_skill(repo: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    made = grite(repo, "install-skill", "--json").data
    assert made == {"path": str(repo / ".claude" / "skills" / "grite.md"), "action": "created"}
    assert "grite issue list" in (repo / ".claude" / "skills" / "grite.md").read_text()
    again = grite(repo, "install-skill", "--json")
    assert again.code == 4  # exists: conflict, as 0.5.3
    assert grite(repo, "install-skill", "--force", "--json").data["action"] == "updated"
    glob = grite(repo, "install-skill", "--global", "--json", env={"HOME": str(home)}).data
    assert glob["path"] == str(home / ".claude" / "skills" / "grite.md")
