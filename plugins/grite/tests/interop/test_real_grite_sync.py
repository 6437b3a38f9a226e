"""Replicas written by the real grite 0.5.3 and by ours converge through one bare remote.

What the real binary cannot do, and this file shows ours doing instead:
* its `sync` cannot merge a diverged WAL: libgit2 refuses the non-fast-forward push and the
  command fails (`internal_error`, exit 1) before its rebase code runs, so that replica's events
  never leave it. `grite sync` (ours) on the same repository merges and pushes them;
* after `git clone` + `sync --pull` it lists no issue (nothing ingests WAL events into its store);
  ours lists every issue.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from toolkit_grite.testing import Ours, Real, git, make_repo, summaries

pytestmark = pytest.mark.interop


def _replicas(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    remote = tmp_path / "remote.git"
    remote.mkdir()
    git(remote, "init", "-q", "--bare", ".")
    replicas = {}
    for name in "ABC":
        repo = make_repo(tmp_path / name)
        git(repo, "remote", "add", "origin", str(remote))
        replicas[name] = repo
    return remote, replicas


def _sync_real_replica(real: Real, ours: Ours, repo: Path) -> bool:
    """Sync C with the real grite when it can; when it refuses a diverged WAL, with ours. True if real did it."""
    res = real.run(repo, "--json", "sync")
    if res.code == 0:
        return True
    assert res.code == 1, (res.out, res.err)
    assert "non-fastforwardable" in res.err, res.err  # the defect, not some other failure
    ours(repo, "sync")
    return False


@pytest.mark.parametrize("order", list(itertools.permutations("ABC")), ids="".join)
def test_three_mixed_replicas_converge(tmp_path: Path, order: tuple[str, ...]) -> None:
    real, ours = Real(), Ours()
    remote, rep = _replicas(tmp_path)
    real(rep["C"], "init", "--no-agents-md")
    written: dict[str, str] = {}  # title -> writer
    comments = 0
    real_synced = 0
    for round_no in range(2):
        for name in "ABC":
            title = f"{name}{round_no}"
            if name == "C":
                real.refresh(rep["C"])
                issue = real(rep["C"], "issue", "create", "--title", title, "--label", "real")["issue_id"]
                real(rep["C"], "issue", "comment", issue, "--body", f"by real {round_no}")
            else:
                issue = ours(rep[name], "issue", "create", "--title", title, "--label", "ours")["issue_id"]
                ours(rep[name], "issue", "comment", issue, "--body", f"by ours {round_no}")
            comments += 1
            written[title] = name
        for name in order:
            if name == "C":
                real_synced += _sync_real_replica(real, ours, rep["C"])
            else:
                ours(rep[name], "sync")
    for name in order:  # one more pass: everyone has everything
        if name == "C":
            real_synced += _sync_real_replica(real, ours, rep["C"])
        else:
            ours(rep[name], "sync")

    views = {name: summaries(ours(rep[name], "issue", "list")["issues"]) for name in "ABC"}
    assert views["A"] == views["B"] == views["C"]
    assert sorted(s["title"] for s in views["A"].values()) == sorted(written)
    assert sum(s["comment_count"] for s in views["A"].values()) == comments
    # The real grite on replica C sees the same issues once its store is refreshed from the WAL.
    real.refresh(rep["C"])
    assert summaries(real(rep["C"], "issue", "list")["issues"]) == views["A"]
    # Every replica's WAL is the remote's: nothing is left to push anywhere.
    heads = {git(rep[n], "rev-parse", "refs/grite/wal").strip() for n in "ABC"}
    assert heads == {git(remote, "rev-parse", "refs/grite/wal").strip()}
    # The real grite's own sync did part of the work whenever the remote was a fast-forward for it.
    assert real_synced >= 1 or order[0] != "C"


def test_real_sync_fails_on_diverged_wal_ours_merges(tmp_path: Path) -> None:
    real, ours = Real(), Ours()
    remote, rep = _replicas(tmp_path)
    real(rep["C"], "init", "--no-agents-md")
    mine = real(rep["C"], "issue", "create", "--title", "written by the real grite")["issue_id"]
    ours(rep["A"], "issue", "create", "--title", "written by ours")
    ours(rep["A"], "sync")
    before = git(remote, "rev-parse", "refs/grite/wal").strip()
    failed = real.run(rep["C"], "--json", "sync")
    assert failed.code == 1  # 0.5.3: the push is refused, its rebase never runs
    assert git(remote, "rev-parse", "refs/grite/wal").strip() == before
    ours(rep["C"], "sync")  # ours on the real replica: merge on top of the remote, push
    ours(rep["A"], "sync")
    assert mine in {i["issue_id"] for i in ours(rep["A"], "issue", "list")["issues"]}


def test_clone_then_pull(tmp_path: Path) -> None:
    real, ours = Real(), Ours()
    remote, rep = _replicas(tmp_path)
    ours(rep["A"], "issue", "create", "--title", "one")
    ours(rep["A"], "issue", "create", "--title", "two")
    ours(rep["A"], "sync")
    for name, impl in (("real", real), ("ours", ours)):
        clone = tmp_path / f"clone-{name}"
        git(tmp_path, "clone", "-q", str(remote), str(clone))
        impl(clone, "init", "--no-agents-md")
        pulled = impl(clone, "sync", "--pull")
        listed = impl(clone, "issue", "list")["total"]
        if impl is real:
            assert pulled["events"] == 2
            assert listed == 0  # 0.5.3: the pulled events never reach its store
        else:
            assert pulled["pulled_events"] == 2
            assert pulled["events"] == 2  # 0.5.3's key, same meaning
            assert listed == 2
