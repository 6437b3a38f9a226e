"""A hostile or broken remote never corrupts or blocks a replica (specs/grite/sync.md, "Hostile remotes").

The attacker writes straight into the shared bare repository (as a force-push would), with
pygit2; the replicas are driven through the `grite` command as users run it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import cbor2
import pygit2
import pytest

from toolkit_grite.core.chunk import HEADER, encode_chunk
from toolkit_grite.core.model import make_event
from toolkit_grite.testing import git, grite, make_repo, write_tree

ATTACKER = bytes.fromhex("66" * 16)


def forge(remote: Path, chunk: bytes, *, parent: str | None, prev_wal: str | None, set_ref: bool = True) -> str:
    """Write a WAL commit holding `chunk` into the bare `remote` and (by default) point its WAL at it."""
    repo = pygit2.Repository(str(remote))
    digest = __import__("hashlib").blake2b(chunk, digest_size=32).hexdigest()
    meta = {"schema_version": 1, "actor_id": ATTACKER.hex(), "chunk_hash": digest, "prev_wal": prev_wal}
    files = {f"events/2026/01/01/{digest}.bin": chunk, "meta.json": json.dumps(meta, indent=2).encode()}
    sig = pygit2.Signature("grite", "grit@local", int(time.time()), 0)
    parents = [pygit2.Oid(hex=parent)] if parent else []
    oid = str(repo.create_commit(None, sig, sig, "WAL: forged", write_tree(repo, files), parents))
    if set_ref:
        repo.create_reference_direct("refs/grite/wal", pygit2.Oid(hex=oid), True)
    return oid


@pytest.fixture
def net(tmp_path: Path) -> tuple[Path, Path, Path]:
    remote = tmp_path / "remote.git"
    remote.mkdir()
    git(remote, "init", "-q", "--bare", ".")
    replicas = []
    for name in ("alice", "bob"):
        repo = make_repo(tmp_path / name)
        git(repo, "remote", "add", "origin", str(remote))
        replicas.append(repo)
    return remote, replicas[0], replicas[1]


def _titles(repo: Path) -> dict[str, str]:
    return {i["issue_id"]: i["title"] for i in grite(repo, "issue", "list", "--json").data["issues"]}


def test_forged_event_with_a_real_id_is_refused_everywhere(net: tuple[Path, Path, Path]) -> None:
    remote, alice, bob = net
    made = grite(alice, "issue", "create", "--title", "the real title", "--json").data
    grite(alice, "sync", "--json")
    # The attacker rewrites the remote WAL: same event id, other content (a "force-push").
    head = git(remote, "rev-parse", "refs/grite/wal").strip()
    repo = pygit2.Repository(str(remote))
    real_ev = next(iter(_events_of(repo, head)))
    forged = list(real_ev)
    forged[6] = ["forged title", "", []]
    forge(remote, HEADER + cbor2.dumps([forged]), parent=None, prev_wal=None)

    pulled = grite(bob, "sync", "--json").data
    assert [p["event_id"] for p in pulled["quarantined"]] == [made["event_id"]]
    assert _titles(bob) == {}  # never applied
    check = grite(bob, "db", "check", "--json")
    assert check.code == 5
    assert check.error["details"]["report"]["errors"][0]["event_id"] == made["event_id"]
    doctor = grite(bob, "doctor", "--json")
    assert doctor.code == 5
    checks = {c["id"]: c["status"] for c in doctor.error["details"]["report"]["checks"]}
    assert checks["event_hashes"] == "error"
    # The author's own sync keeps her real event and publishes it again on top of the forgery.
    grite(alice, "sync", "--json")
    assert _titles(alice) == {made["issue_id"]: "the real title"}
    grite(bob, "sync", "--json")
    assert _titles(bob) == {made["issue_id"]: "the real title"}


def _events_of(repo: pygit2.Repository, oid: str) -> list[list[object]]:
    tree = repo[oid].tree
    out: list[list[object]] = []

    def walk(t: pygit2.Tree) -> None:
        for entry in t:
            if entry.type == pygit2.enums.ObjectType.TREE:
                walk(repo[entry.id].peel(pygit2.Tree))
            elif (entry.name or "").endswith(".bin"):
                out.extend(cbor2.loads(repo[entry.id].peel(pygit2.Blob).data[len(HEADER) :]))

    walk(repo[tree["events"].id].peel(pygit2.Tree))
    return out


def test_malformed_commits_are_quarantined_and_good_events_kept(net: tuple[Path, Path, Path]) -> None:
    remote, alice, bob = net
    first = grite(alice, "issue", "create", "--title", "before", "--json").data["issue_id"]
    grite(alice, "sync", "--json")
    head = git(remote, "rev-parse", "refs/grite/wal").strip()
    good = make_event(bytes(range(16)), ATTACKER, 1_700_000_000_000, 1, ["good next to a bad one", "", []])
    huge = [good.event_id, bytes(16), ATTACKER, 1 << 64, None, 3, ["too late"], None]
    mixed = HEADER + cbor2.dumps([good.to_wire(), huge])  # one bad event must not cost the good one
    c1 = forge(remote, mixed, parent=head, prev_wal=head)
    c2 = forge(remote, b"GRITECNK\x01\x00\x07cbor-v1\xff\xff garbage", parent=c1, prev_wal=c1)
    c3 = forge(remote, encode_chunk([])[0], parent=c2, prev_wal="ab" * 20)  # prev_wal: no such commit
    above = make_event(bytes(range(1, 17)), ATTACKER, 1_700_000_001_000, 1, ["above the bad ones", "", []])
    forge(remote, encode_chunk([above])[0], parent=c3, prev_wal=c3)

    res = grite(bob, "sync", "--json")
    assert res.code == 0, res.err
    reasons = {p["commit"]: p["reason"] for p in res.data["quarantined"]}
    assert set(reasons) == {c1, c2, c3}
    assert "malformed event" in reasons[c1]
    assert "undecodable chunk" in reasons[c2]
    assert "bad prev_wal" in reasons[c3]
    assert sorted(_titles(bob).values()) == ["above the bad ones", "before", "good next to a bad one"]
    # Everything keeps working: list, doctor (a warning, exit 0), doctor --fix, rebuild, a second sync.
    doctor = grite(bob, "doctor", "--json")
    assert doctor.code == 0, doctor.err
    assert {c["id"]: c["status"] for c in doctor.data["checks"]}["quarantine"] == "warn"
    assert grite(bob, "doctor", "--fix", "--json").code == 0
    rebuilt = grite(bob, "rebuild", "--json").data
    assert rebuilt["quarantined"] == 3
    assert rebuilt["issue_count"] == 3
    grite(bob, "issue", "comment", first, "--body", "still writable", "--json")
    assert grite(bob, "sync", "--json").code == 0
    synced = grite(alice, "sync", "--json")
    assert synced.code == 0, synced.err
    assert len(_titles(alice)) == 3


def test_rebuild_from_snapshot_without_snapshot_falls_back(net: tuple[Path, Path, Path]) -> None:
    _remote, alice, _bob = net
    grite(alice, "issue", "create", "--title", "x", "--json")
    out = grite(alice, "rebuild", "--from-snapshot", "--json").data
    assert (out["source"], out["from_snapshot"], out["event_count"]) == ("wal", None, 1)


def test_signatures_required_refuse_unsigned_events_of_known_keys(net: tuple[Path, Path, Path]) -> None:
    remote, alice, bob = net
    signer = grite(alice, "actor", "init", "--label", "s", "--generate-key", "--json").data
    grite(alice, "--actor", signer["actor_id"], "issue", "create", "--title", "signed", "--json")
    grite(alice, "sync", "--json")
    # Bob knows the signer's key (a shared actor directory), and requires signatures.
    git(bob, "fetch", "-q", "origin")
    key_dir = bob / ".git" / "grite" / "actors" / signer["actor_id"]
    key_dir.mkdir(parents=True)
    src = alice / ".git" / "grite" / "actors" / signer["actor_id"] / "config.toml"
    (key_dir / "config.toml").write_text(src.read_text())
    (bob / ".git" / "grite" / "config.toml").write_text('verify_signatures = "require"\n')
    # The attacker adds an unsigned event in the signer's name.
    head = git(remote, "rev-parse", "refs/grite/wal").strip()
    fake = make_event(bytes(range(16)), bytes.fromhex(signer["actor_id"]), 1_700_000_000_000, 1, ["unsigned", "", []])
    forge(remote, encode_chunk([fake])[0], parent=head, prev_wal=head)
    res = grite(bob, "sync", "--json").data
    assert [p["event_id"] for p in res["quarantined"]] == [fake.event_id.hex()]
    assert sorted(_titles(bob).values()) == ["signed"]


def test_terminal_control_characters_are_escaped_in_human_output(net: tuple[Path, Path, Path]) -> None:
    _remote, alice, _bob = net
    title = "\x1b[2Jfake\rline\nsecond row\u202eevil"
    iid = grite(alice, "issue", "create", "--title", title, "--body", "body \x1b]0;pwned\x07", "--json").data[
        "issue_id"
    ]
    grite(alice, "issue", "comment", iid, "--body", "ok\x9b31m", "--json")
    listed = grite(alice, "issue", "list").out
    shown = grite(alice, "issue", "show", iid).out
    for text in (listed, shown):
        assert not any(ch in text for ch in "\x1b\r\x07\x9b\u202e"), repr(text)
    assert "\\x1b[2Jfake\\x0dline\\x0asecond row\\u202eevil" in listed  # one row, escapes visible
    assert "body \\x1b]0;pwned\\x07" in shown
    assert "ok\\x9b31m" in shown
    # JSON keeps the exact text (it is escaped by JSON itself).
    assert grite(alice, "issue", "show", iid, "--json").data["issue"]["title"] == title
