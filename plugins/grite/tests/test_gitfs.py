"""Appends written straight into git's files are the commits libgit2 writes, and git accepts them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pygit2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit_grite.core import gitfs, wal
from toolkit_grite.core.model import Event, make_event
from toolkit_grite.errors import GriteIoError
from toolkit_grite.testing import git, make_repo

ACTOR = bytes.fromhex("00112233445566778899aabbccddeeff")


def _events(titles: list[str], ts: int) -> list[Event]:
    return [make_event(bytes(16), ACTOR, ts + i, 1, [t, "", []]) for i, t in enumerate(titles)]


@given(
    titles=st.lists(st.text(max_size=20), min_size=1, max_size=4),
    ts=st.integers(min_value=0, max_value=4_102_444_800_000),
)
@settings(max_examples=25, deadline=None)
def test_the_same_append_gives_the_same_oid_as_libgit2(tmp_path_factory: pytest.TempPathFactory, titles, ts) -> None:
    root = tmp_path_factory.mktemp("r")
    ours, theirs = make_repo(root / "ours"), make_repo(root / "theirs")
    repo = pygit2.Repository(str(theirs))
    expected_ours: str | None = None
    expected_theirs: str | None = None
    for round_ in range(2):
        events = _events([f"{t}{round_}" for t in titles], ts)
        expected_ours = wal.append_files(str(ours / ".git"), events, ACTOR, expected_ours)
        expected_theirs = wal.append_commit(repo, events, ACTOR, expected_theirs)
        assert expected_ours == expected_theirs
    assert git(ours, "rev-parse", wal.WAL_REF).strip() == expected_ours
    fsck = subprocess.run(["git", "fsck", "--strict"], cwd=ours, capture_output=True, text=True, check=False)
    assert fsck.returncode == 0, fsck.stderr


def test_a_moved_ref_or_a_held_lock_refuses_and_leaves_the_ref(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    common = str(repo / ".git")
    first = wal.append_files(common, _events(["a"], 1_000), ACTOR, None)
    with pytest.raises(GriteIoError, match="moved"):
        wal.append_files(common, _events(["b"], 2_000), ACTOR, None)
    lock = repo / ".git" / "refs" / "grite" / "wal.lock"
    lock.write_text("")
    with pytest.raises(GriteIoError, match=r"wal\.lock exists") as held:
        wal.append_files(common, _events(["c"], 3_000), ACTOR, first)
    assert "doctor --fix" in (held.value.hint or "")
    assert lock.exists()  # someone else's lock is never removed
    lock.unlink()
    assert git(repo, "rev-parse", wal.WAL_REF).strip() == first
    git(repo, "pack-refs", "--all")  # a packed ref is read and moved too
    second = wal.append_files(common, _events(["d"], 4_000), ACTOR, first)
    assert git(repo, "rev-parse", wal.WAL_REF).strip() == second


def test_only_plain_sha1_files_backend_repositories_are_written_directly(tmp_path: Path) -> None:
    plain = make_repo(tmp_path / "plain")
    assert gitfs.usable(str(plain / ".git"))
    sha256 = tmp_path / "sha256"
    subprocess.run(["git", "init", "-q", "--object-format=sha256", str(sha256)], check=True)
    assert not gitfs.usable(str(sha256 / ".git"))
    git(plain, "config", "core.logAllRefUpdates", "always")
    assert not gitfs.usable(str(plain / ".git"))
    shared = make_repo(tmp_path / "shared")
    git(shared, "config", "core.sharedRepository", "group")
    assert not gitfs.usable(str(shared / ".git"))
