"""The WAL byte format against grite 0.5.3's spec, written and read by independent code (git CLI + cbor2)."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import time
from pathlib import Path
from typing import Any

import cbor2

from toolkit_grite.testing import git, read_like_grite_053
from toolkit_kernel.hashing import grite_event_id


def _blob(repo, data: bytes) -> str:
    return (
        subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input=data, capture_output=True, check=True)
        .stdout.decode()
        .strip()
    )


def _tree(repo, entries: list[tuple[str, str, str]]) -> str:
    text = "".join(
        f"{mode} {kind} {oid}\t{name}\n"
        for mode, kind, oid, name in [(m, "blob" if m == "100644" else "tree", o, n) for m, o, n in entries]
    )
    return (
        subprocess.run(["git", "mktree"], cwd=repo, input=text.encode(), capture_output=True, check=True)
        .stdout.decode()
        .strip()
    )


def _wire(issue: bytes, actor: bytes, ts: int, kind: int, payload: list[Any]) -> list[Any]:
    return [grite_event_id(issue, actor, ts, None, kind, payload), issue, actor, ts, None, kind, payload, None]


def write_grite053_commit(repo: Path, events: list[list[Any]], actor: bytes, prev: str | None) -> str:
    """What grite 0.5.3's WalManager::append writes, built from the spec with the git CLI."""
    chunk = b"GRITECNK" + struct.pack("<H", 1) + bytes([7]) + b"cbor-v1" + cbor2.dumps(events)
    chunk_hash = hashlib.blake2b(chunk, digest_size=32).hexdigest()
    meta = json.dumps(
        {"schema_version": 1, "actor_id": actor.hex(), "chunk_hash": chunk_hash, "prev_wal": prev}, indent=2
    )
    y, m, d = time.strftime("%Y/%m/%d", time.gmtime(events[0][3] / 1000)).split("/")
    t = _tree(repo, [("100644", _blob(repo, chunk), f"{chunk_hash}.bin")])
    t = _tree(repo, [("040000", t, d)])
    t = _tree(repo, [("040000", t, m)])
    t = _tree(repo, [("040000", t, y)])
    root = _tree(repo, [("040000", t, "events"), ("100644", _blob(repo, meta.encode()), "meta.json")])
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="grite",
        GIT_AUTHOR_EMAIL="grit@local",
        GIT_COMMITTER_NAME="grite",
        GIT_COMMITTER_EMAIL="grit@local",
    )
    args = ["git", "commit-tree", root, "-m", f"WAL: {len(events)} events from {actor.hex()[:8]}"]
    if prev:
        args += ["-p", prev]
    oid = subprocess.run(args, cwd=repo, env=env, capture_output=True, check=True, text=True).stdout.strip()
    git(repo, "update-ref", "refs/grite/wal", oid)
    return oid


def test_reads_a_wal_written_in_grite_053_format(repo, g):
    actor = bytes.fromhex("101112131415161718191a1b1c1d1e1f")
    other = bytes.fromhex("202122232425262728292a2b2c2d2e2f")
    issue = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
    # The first commit holds a comment whose IssueCreated only arrives in the second commit.
    c1 = write_grite053_commit(repo, [_wire(issue, other, 1700000003000, 3, ["early comment"])], other, None)
    multi = [
        _wire(issue, actor, 1700000000000, 1, ["Test", "Body", ["bug", "p0"]]),
        _wire(issue, actor, 1700000002000, 4, ["wip"]),
        _wire(issue, actor, 1700000004000, 6, ["closed"]),
        _wire(issue, actor, 1700000005000, 7, ["https://example.com", "ref"]),
        _wire(issue, actor, 1700000008000, 10, ["log.txt", bytes(range(32)), "text/plain"]),
    ]
    write_grite053_commit(repo, multi, actor, c1)
    shown = g("issue", "show", "0001")
    issue_json = shown["issue"]
    assert issue_json["issue_id"] == issue.hex()
    assert issue_json["title"] == "Test"
    assert issue_json["state"] == "closed"
    assert issue_json["labels"] == ["bug", "p0", "wip"]
    assert issue_json["comments"][0]["body"] == "early comment"
    assert issue_json["attachments"][0]["sha256"] == bytes(range(32)).hex()
    assert shown["events"][0]["event_id"] == "9c2aee7924bf7482dd3842c6ec32fd5103883b9d2354f63df2075ac61fe3d827"
    assert g("db", "check")["corrupt_count"] == 0
    # Our own append lands on top of theirs and keeps prev_wal chaining.
    g("issue", "comment", "0001", "--body", "ours")
    head = git(repo, "rev-parse", "refs/grite/wal").strip()
    meta = json.loads(git(repo, "show", f"{head}:meta.json"))
    assert meta["prev_wal"] == git(repo, "rev-parse", "refs/grite/wal~1").strip()


def test_our_wal_reads_like_grite_053(repo, g):
    a = g("issue", "create", "--title", "A", "--label", "z", "--label", "a")["issue_id"]
    g("issue", "label", "add", a, "--label", "x", "--label", "y")
    g("issue", "dep", "add", a, "--target", g("issue", "create", "--title", "B")["issue_id"])
    events = read_like_grite_053(repo)
    assert [e[5] for e in events] == [1, 4, 4, 1, 11]
    assert events[0][6][2] == ["a", "z"]  # IssueCreated labels sorted in the chunk
    assert git(repo, "status", "--porcelain") == ""
    # HEAD and the index are untouched: the repository has no commits on any branch.
    assert (
        subprocess.run(["git", "rev-parse", "--verify", "HEAD"], check=False, cwd=repo, capture_output=True).returncode
        != 0
    )
