"""`grite bridge git-bug import` against bugs written by the real git-bug v0.10.1."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from toolkit.testing_peers import require_peer
from toolkit_grite.testing import Ours, make_repo

pytestmark = pytest.mark.interop


def test_import_is_faithful_idempotent_and_incremental(tmp_path: Path) -> None:
    gb = str(require_peer("git-bug").path)
    ours = Ours()
    repo = make_repo(tmp_path / "r")

    def bug(*args: str) -> str:
        proc = subprocess.run([gb, *args], cwd=repo, capture_output=True, text=True, check=True, timeout=120)
        return proc.stdout

    alice = bug("user", "new", "--name", "Alice Doe", "--email", "alice@example.com", "--non-interactive").split()[-1]
    bug("bug", "new", "--title", "Crash on start", "--message", "it segfaults", "--non-interactive")
    bug("bug", "new", "--title", "Docs", "--message", "write them", "--non-interactive")
    ids = {line.split("\t")[0] if "\t" in line else line for line in bug("bug", "--format", "id").split()}
    by_title = {}
    for full in ids:
        title = subprocess.run([gb, "bug", "show", full, "--field", "title"], cwd=repo, capture_output=True,
                               text=True, check=True).stdout.strip()  # fmt: skip
        by_title[title] = full
    crash = by_title["Crash on start"]
    bug("bug", "comment", "new", crash, "--message", "seen on arm64", "--non-interactive")
    bug("bug", "label", "new", crash, "bug", "p1")
    bug("bug", "status", "close", by_title["Docs"])

    ours(repo, "init", "--no-agents-md")
    first = ours(repo, "bridge", "git-bug", "import", "--git-bug", gb)
    assert first["bugs"] == 2
    listed = {i["title"]: i for i in ours(repo, "issue", "list")["issues"]}
    assert listed["Crash on start"]["issue_id"] == crash[:32]
    assert (listed["Crash on start"]["labels"], listed["Crash on start"]["state"]) == (["bug", "p1"], "open")
    assert listed["Docs"]["state"] == "closed"
    shown = ours(repo, "issue", "show", crash[:8])
    assert shown["issue"]["body"] == "it segfaults"
    assert [c["body"] for c in shown["issue"]["comments"]] == ["seen on arm64"]
    assert {c["actor"] for c in shown["issue"]["comments"]} == {alice[:32]}  # the git-bug identity
    assert ours(repo, "db", "check")["corrupt_count"] == 0

    assert ours(repo, "bridge", "git-bug", "import", "--git-bug", gb)["events"] == 0  # idempotent

    bug("bug", "comment", "new", crash, "--message", "fixed upstream", "--non-interactive")
    bug("bug", "label", "rm", crash, "p1")
    bug("bug", "title", "edit", crash, "--title", "Crash on start (arm64)", "--non-interactive")
    bug("bug", "status", "close", crash)
    again = ours(repo, "bridge", "git-bug", "import", "--git-bug", gb)
    assert again["events"] == 4  # title, comment, label removed, closed
    issue = ours(repo, "issue", "show", crash[:8])["issue"]
    assert (issue["title"], issue["labels"], issue["state"]) == ("Crash on start (arm64)", ["bug"], "closed")
    assert [c["body"] for c in issue["comments"]] == ["seen on arm64", "fixed upstream"]


def test_export_to_git_bug_and_back(tmp_path: Path) -> None:
    gb = str(require_peer("git-bug").path)
    ours = Ours()
    repo = make_repo(tmp_path / "r")
    ours(repo, "init", "--no-agents-md")
    iid = ours(repo, "issue", "create", "--title", "From grite", "--body", "grite body", "--label", "infra")["issue_id"]
    ours(repo, "issue", "comment", iid, "--body", "first note")
    other = ours(repo, "issue", "create", "--title", "Closed in grite")["issue_id"]
    ours(repo, "issue", "close", other)
    out = ours(repo, "bridge", "git-bug", "export", "--git-bug", gb)
    assert (out["created"], out["updated"]) == (2, 0)

    def show(title: str) -> dict[str, Any]:
        import json

        listed = json.loads(subprocess.run([gb, "bug", "--format", "json"], cwd=repo, capture_output=True,
                                           text=True, check=True).stdout)  # fmt: skip
        (bug_id,) = [b["id"] for b in listed if b["title"] == title]
        out = subprocess.run([gb, "bug", "show", bug_id, "--format", "json"], cwd=repo, capture_output=True, text=True,
                             check=True).stdout  # fmt: skip
        shown: dict[str, Any] = json.loads(out)
        return shown

    bug = show("From grite")
    assert [c["message"] for c in bug["comments"]] == ["grite body", "first note"]
    assert (bug["labels"], bug["status"]) == (["infra"], "open")
    assert show("Closed in grite")["status"] == "closed"
    # Incremental: only the change goes out; and importing back does not duplicate anything.
    ours(repo, "issue", "comment", iid, "--body", "second note")
    ours(repo, "issue", "label", "remove", iid, "--label", "infra")
    assert ours(repo, "bridge", "git-bug", "export", "--git-bug", gb) == {"created": 0, "updated": 1, "issues": 2}
    bug = show("From grite")
    assert ([c["message"] for c in bug["comments"]][-1], bug["labels"]) == ("second note", [])
    assert ours(repo, "bridge", "git-bug", "import", "--git-bug", gb)["events"] == 0
    assert ours(repo, "issue", "list")["total"] == 2
