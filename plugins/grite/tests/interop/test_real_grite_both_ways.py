"""One repository, the real grite 0.5.3 and ours: each reads what the other wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from toolkit_grite.testing import Ours, Real, event_ids, kind_names, make_repo, summaries

pytestmark = pytest.mark.interop

SHA = "ab" * 32


@pytest.fixture
def real() -> Real:
    return Real()


@pytest.fixture
def ours() -> Ours:
    return Ours()


def test_real_writes_ours_reads(tmp_path: Path, real: Real, ours: Ours) -> None:
    repo = make_repo(tmp_path / "r")
    real(repo, "init", "--no-agents-md")
    a = real(repo, "issue", "create", "--title", "Crash on start", "--body", "trace", "--label", "bug", "--label", "p0")
    b = real(repo, "issue", "create", "--title", "Docs")["issue_id"]
    ia = a["issue_id"]
    real(repo, "issue", "comment", ia, "--body", "seen it too")
    real(repo, "issue", "label", "add", ia, "--label", "triaged")
    real(repo, "issue", "label", "remove", ia, "--label", "p0")
    real(repo, "issue", "assignee", "add", ia, "--user", "alice")
    real(repo, "issue", "link", "add", ia, "--url", "https://example.com/1", "--note", "upstream")
    real(repo, "issue", "attachment", "add", ia, "--name", "log.txt", "--sha256", SHA, "--mime", "text/plain")
    real(repo, "issue", "update", b, "--title", "Docs v2")
    real(repo, "issue", "dep", "add", ia, "--target", b, "--type", "blocks")
    real(repo, "issue", "close", b)
    real(repo, "lock", "acquire", f"issue:{ia}", "--ttl", "600")
    signer = real(repo, "actor", "init", "--label", "signer", "--generate-key")
    real(repo, "--actor", signer["actor_id"], "issue", "comment", ia, "--body", "signed by a key")
    (repo / "mod.py").write_text("def handler():\n    return 1\n\nclass Thing:\n    pass\n")
    from toolkit_grite.testing import git

    git(repo, "add", "mod.py")
    assert real(repo, "context", "index")["indexed"] == 1
    real(repo, "context", "set", "owner", "alice")

    # Ours on the same repository, same default actor (the real init wrote the config).
    assert ours(repo, "actor", "current")["actor_id"] == a_actor(real, repo)
    theirs = real(repo, "issue", "list")["issues"]
    mine = ours(repo, "issue", "list")["issues"]
    assert summaries(mine) == summaries(theirs)
    for issue in (ia, b):
        real_show, our_show = real(repo, "issue", "show", issue), ours(repo, "issue", "show", issue)
        assert event_ids(our_show) == event_ids(real_show)
        assert kind_names(our_show) == kind_names(real_show)
    shown = ours(repo, "issue", "show", ia)["issue"]
    assert shown["body"] == "trace"
    assert [c["body"] for c in shown["comments"]] == ["seen it too", "signed by a key"]
    assert shown["links"][0]["url"] == "https://example.com/1"
    assert shown["attachments"][0]["sha256"] == SHA
    assert shown["dependencies"] == [{"target": b, "dep_type": "blocks"}]
    for target, reverse in ((ia, ()), (b, ("--reverse",))):
        ours_deps = ours(repo, "issue", "dep", "list", target, *reverse)
        real_deps = real(repo, "issue", "dep", "list", target, *reverse)
        assert (ours_deps["issue_id"], ours_deps["direction"]) == (real_deps["issue_id"], real_deps["direction"])
        rows = [(d["issue_id"], d["dep_type"], d["title"]) for d in ours_deps["deps"]]
        assert rows == [(d["issue_id"], d["dep_type"], d["title"]) for d in real_deps["deps"]]
    locks = ours(repo, "lock", "status")["locks"]
    assert [(lk["resource"], lk["owner"]) for lk in locks] == [(f"issue:{ia}", a_actor(real, repo))]
    # Signed events: our verifier accepts the real Ed25519 signature with the key the real grite stored.
    verify = ours(repo, "db", "verify")
    assert verify["signatures_checked"] == 1
    assert verify["signatures_valid"] == 1
    assert verify["error_count"] == 0
    check = ours(repo, "db", "check")
    assert check["corrupt_count"] == 0
    assert check["events_checked"] == check["events_valid"]
    # Context events (ContextUpdated, ProjectContextUpdated) are read, counted and exported.
    wal_events = real.refresh(repo)
    assert ours(repo, "db", "stats")["event_count"] == wal_events
    import json

    exported = json.loads(ours.run(repo, "export", "--format", "json").out)
    kinds = {next(iter(e["kind"])) for e in exported["events"]}
    assert {"ContextUpdated", "ProjectContextUpdated"} <= kinds


def a_actor(real: Real, repo: Path) -> str:
    return str(real(repo, "actor", "current")["actor_id"])


def test_ours_writes_real_reads(tmp_path: Path, real: Real, ours: Ours) -> None:
    repo = make_repo(tmp_path / "r")
    ours(repo, "init", "--no-agents-md")
    signer = ours(repo, "actor", "init", "--label", "signer", "--generate-key")
    a = ours(repo, "issue", "create", "--title", "Ours", "--body", "b", "--label", "z", "--label", "a")["issue_id"]
    b = ours(repo, "issue", "create", "--title", "Second")["issue_id"]
    ours(repo, "issue", "comment", a, "--body", "from ours")
    ours(repo, "--actor", signer["actor_id"], "issue", "comment", a, "--body", "signed by ours")
    ours(repo, "--actor", signer["actor_id"], "issue", "label", "add", a, "--label", "signed")
    ours(repo, "issue", "label", "remove", a, "--label", "z")
    ours(repo, "issue", "assignee", "add", a, "--user", "bob")
    ours(repo, "issue", "link", "add", a, "--url", "https://example.com/2")
    ours(repo, "issue", "attachment", "add", a, "--name", "x.bin", "--sha256", SHA, "--mime", "application/x")
    ours(repo, "issue", "dep", "add", a, "--target", b, "--type", "depends_on")
    ours(repo, "issue", "update", b, "--body", "new body")
    ours(repo, "issue", "close", b)
    ours(repo, "lock", "acquire", "path:src/", "--ttl", "600")

    count = real.refresh(repo)
    assert count == ours(repo, "db", "stats")["event_count"]
    assert summaries(real(repo, "issue", "list")["issues"]) == summaries(ours(repo, "issue", "list")["issues"])
    for issue in (a, b):
        assert event_ids(real(repo, "issue", "show", issue)) == event_ids(ours(repo, "issue", "show", issue))
    deps = real(repo, "issue", "dep", "list", a)
    assert deps["direction"] == "dependencies"
    assert [(d["issue_id"], d["dep_type"]) for d in deps["deps"]] == [(b, "depends_on")]
    assert [d["issue_id"] for d in real(repo, "issue", "dep", "list", b, "--reverse")["deps"]] == [a]
    locks = real(repo, "lock", "status")["locks"]
    assert [lk["resource"] for lk in locks] == ["path:src/"]
    # The real lock manager sees our lock as held for another actor (it compares the same resource only).
    other = real(repo, "actor", "init", "--label", "other")["actor_id"]
    held = real.run(repo, "--json", "--actor", other, "lock", "acquire", "path:src/")
    assert held.code == 4, (held.out, held.err)
    # The real verifier accepts our Ed25519 signatures with the public key we stored.
    verify = real(repo, "db", "verify")
    assert verify["signatures_checked"] == 2
    assert verify["signatures_valid"] == 2
    check = real(repo, "db", "check")
    assert check["corrupt_count"] == 0
    assert check["events_checked"] == check["events_valid"]


def test_alternating_writers(tmp_path: Path, real: Real, ours: Ours) -> None:
    """The two implementations take turns on one issue; after every turn both show the same issue."""
    repo = make_repo(tmp_path / "r")
    real(repo, "init", "--no-agents-md")
    issue = ours(repo, "issue", "create", "--title", "Shared", "--label", "one")["issue_id"]
    turns: list[tuple[Real | Ours, tuple[str, ...]]] = [
        (real, ("issue", "comment", issue, "--body", "real 1")),
        (ours, ("issue", "label", "add", issue, "--label", "two")),
        (real, ("issue", "label", "remove", issue, "--label", "one")),
        (ours, ("issue", "update", issue, "--title", "Shared v2")),
        (real, ("issue", "close", issue)),
        (ours, ("issue", "reopen", issue)),
        (real, ("issue", "assignee", "add", issue, "--user", "carol")),
        (ours, ("issue", "comment", issue, "--body", "ours 1")),
    ]
    for writer, args in turns:
        if writer is real:
            real.refresh(repo)  # the real grite writes against its own store: bring it up to date first
        writer(repo, *args)
        real.refresh(repo)
        assert summaries(real(repo, "issue", "list")["issues"]) == summaries(ours(repo, "issue", "list")["issues"])
    final = ours(repo, "issue", "show", issue)["issue"]
    assert (final["title"], final["state"], final["labels"], final["assignees"]) == (
        "Shared v2",
        "open",
        ["two"],
        ["carol"],
    )
    assert [c["body"] for c in final["comments"]] == ["real 1", "ours 1"]


def test_context_store_both_ways(tmp_path: Path, real: Real, ours: Ours) -> None:
    from toolkit_grite.testing import git

    repo = make_repo(tmp_path / "r")
    real(repo, "init", "--no-agents-md")
    (repo / "mod.py").write_text("def handler():\n    return 1\n\nclass Thing:\n    def helper(self):\n        pass\n")
    (repo / "lib.rs").write_text("pub fn handle_it() {}\nstruct Widget;\n")
    git(repo, "add", "mod.py", "lib.rs")
    assert real(repo, "context", "index")["indexed"] == 2
    real(repo, "context", "set", "owner", "alice")
    for args in (("context", "show", "mod.py"), ("context", "show", "lib.rs"), ("context", "query", "hand"),
                 ("context", "project"), ("context", "project", "owner")):  # fmt: skip
        assert ours(repo, *args) == real(repo, *args), args
    missing = ours.run(repo, "--json", "context", "show", "nope.py")
    assert missing.code == 3
    # Ours writes project context the real grite reads (after its snapshot refresh).
    ours(repo, "context", "set", "owner", "bob")
    ours(repo, "context", "set", "team", "infra")
    real.refresh(repo)
    assert real(repo, "context", "project") == ours(repo, "context", "project")
    assert ours(repo, "context", "project")["entries"] == [
        {"key": "owner", "value": "bob"},
        {"key": "team", "value": "infra"},
    ]


def test_context_index_both_ways(tmp_path: Path, real: Real, ours: Ours) -> None:
    """Both indexers give the same symbols for every language; each reads what the other indexed."""
    from toolkit_grite.testing import git
    from toolkit_grite.testing_context import write_samples

    theirs_repo, our_repo = make_repo(tmp_path / "theirs"), make_repo(tmp_path / "ours")
    real(theirs_repo, "init", "--no-agents-md")
    ours(our_repo, "init", "--no-agents-md")
    for repo in (theirs_repo, our_repo):
        paths = write_samples(repo)
        git(repo, "add", ".")
    assert ours(our_repo, "context", "index") == real(theirs_repo, "context", "index")
    indexed = [p for p in paths if not p.endswith(".md")]
    for path in indexed:
        expected = real(theirs_repo, "context", "show", path)
        assert ours(our_repo, "context", "show", path) == expected, path
        assert ours(theirs_repo, "context", "show", path) == expected, path  # ours reads the real index
    real.refresh(our_repo)
    real.refresh(theirs_repo)
    for path in indexed:
        # The real grite reads our index. Replayed from the WAL, its own lists symbols in the
        # event's (name, kind) order rather than source order: so does its replay of ours.
        assert real(our_repo, "context", "show", path) == real(theirs_repo, "context", "show", path), path
        assert _by_line(real(our_repo, "context", "show", path)) == ours(our_repo, "context", "show", path), path
    for text in ("", "Co", "get", "Nope"):
        assert real(our_repo, "context", "query", text) == real(theirs_repo, "context", "query", text), text
        assert ours(theirs_repo, "context", "query", text) == real(theirs_repo, "context", "query", text), text
    # Incremental: unchanged files are skipped by both; a changed file is re-indexed by both.
    for repo, grite in ((theirs_repo, real), (our_repo, ours)):
        assert grite(repo, "context", "index")["indexed"] == 0
        (repo / "app/models.py").write_text("def renamed():\n    pass\n")
    assert ours(our_repo, "context", "index") == real(theirs_repo, "context", "index")
    filtered = ("context", "index", "--force", "--path", "lib", "--pattern", "*.ex*")
    assert ours(our_repo, *filtered) == real(theirs_repo, *filtered)


def _by_line(shown: dict[str, Any]) -> dict[str, Any]:
    """A `context show` result with its symbols in source order."""
    key = ("line_start", "line_end", "name", "kind")
    return dict(shown, symbols=sorted(shown["symbols"], key=lambda s: tuple(s[k] for k in key)))
