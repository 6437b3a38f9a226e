"""Snapshots in `refs/grite/snapshots/<ms>` (full copies of the event set, 0.5.3 layout)."""

from __future__ import annotations

import json
import time
from typing import Any

from toolkit_grite.core import wal
from toolkit_grite.core.chunk import decode_chunk, encode_chunk
from toolkit_grite.core.grite import Grite
from toolkit_grite.core.model import Event
from toolkit_grite.errors import DbError, GriteNotFound, InvalidArgs

__all__ = ["SNAP_PREFIX", "create", "exists", "gc", "list_snapshots", "load_latest"]

SNAP_PREFIX = "refs/grite/snapshots/"
PER_CHUNK = 1000


def _refs(g: Grite) -> list[tuple[int, str]]:
    out = []
    for name in g.repo.references:
        if name.startswith(SNAP_PREFIX) and name[len(SNAP_PREFIX) :].isdigit():
            out.append((int(name[len(SNAP_PREFIX) :]), name))
    return sorted(out, reverse=True)


def create(g: Grite) -> dict[str, Any]:
    """Write a snapshot of every event in the view."""
    import pygit2

    view = g.ready()
    events = view.all_events()
    head = wal.ref_target(g.repo, wal.WAL_REF)
    chunks_tb = g.repo.TreeBuilder()
    chunks = []
    for n, start in enumerate(range(0, len(events), PER_CHUNK)):
        part = events[start : start + PER_CHUNK]
        data, digest = encode_chunk(part)
        name = f"{n:04d}.bin"
        chunks_tb.insert(name, g.repo.create_blob(data), pygit2.enums.FileMode.BLOB)
        chunks.append({"path": f"events/{name}", "chunk_hash": digest.hex(), "event_count": len(part)})
    with g.write_lock():
        created = int(time.time() * 1000)
        while g.repo.references.get(f"{SNAP_PREFIX}{created}") is not None:
            created += 1
        meta = {
            "schema_version": 1,
            "created_ts": created,
            "wal_head": head,
            "event_count": len(events),
            "chunks": chunks,
        }
        tb = g.repo.TreeBuilder()
        tb.insert("snapshot.json", g.repo.create_blob(json.dumps(meta, indent=2).encode()), pygit2.enums.FileMode.BLOB)
        if chunks:
            tb.insert("events", chunks_tb.write(), pygit2.enums.FileMode.TREE)
        sig = wal.signature(created)
        msg = f"Snapshot: {len(events)} events at {created}"
        oid = str(g.repo.create_commit(None, sig, sig, msg, tb.write(), []))
        ref = f"{SNAP_PREFIX}{created}"
        wal.set_ref(g.repo, ref, oid, expected=None, message="grite: snapshot")
    return {"ref_name": ref, "oid": oid, "event_count": len(events), "wal_head": head}


def _meta(g: Grite, oid: str) -> dict[str, Any]:
    try:
        meta = json.loads(g.repo[g.repo[oid].tree["snapshot.json"].id].data)
    except (KeyError, ValueError) as exc:
        raise DbError(f"snapshot {oid} has no readable snapshot.json: {exc}") from None
    if not isinstance(meta, dict):
        raise DbError(f"snapshot {oid} is malformed")
    return meta


def list_snapshots(g: Grite) -> dict[str, Any]:
    """List snapshots, newest first."""
    snaps = []
    for ms, name in _refs(g):
        oid = wal.ref_target(g.repo, name)
        assert oid is not None
        try:
            count = _meta(g, oid).get("event_count")
        except DbError:
            count = None
        snaps.append({"oid": oid, "timestamp": ms, "ref_name": name, "event_count": count})
    return {"snapshots": snaps, "total": len(snaps)}


def gc(g: Grite, keep: int) -> dict[str, Any]:
    """Delete all but the newest `keep` snapshots."""
    if keep < 0:
        raise InvalidArgs("--keep must be >= 0")
    refs = _refs(g)
    deleted = 0
    with g.write_lock():
        for _ms, name in refs[keep:]:
            wal.set_ref(g.repo, name, None, expected=wal.ref_target(g.repo, name))
            deleted += 1
    return {"deleted": deleted, "kept": min(keep, len(refs))}


def exists(g: Grite) -> bool:
    """True when at least one snapshot ref exists."""
    return bool(_refs(g))


def load_latest(g: Grite) -> tuple[str, dict[str, Any], list[Event]]:
    """Return `(ref_name, meta, events)` of the newest snapshot.

    Raises:
        GriteNotFound: there is no snapshot.
        DbError: it is corrupt (bad chunk hash or chunk).
    """
    from toolkit_kernel.hashing import blake2b_256

    refs = _refs(g)
    if not refs:
        raise GriteNotFound("no snapshot exists", hint="run `grite snapshot create`")
    name = refs[0][1]
    oid = wal.ref_target(g.repo, name)
    assert oid is not None
    meta = _meta(g, oid)
    tree = g.repo[oid].tree
    events: list[Event] = []
    for chunk in meta.get("chunks", []):
        try:
            data = g.repo[tree[chunk["path"]].id].data
        except (KeyError, TypeError) as exc:
            raise DbError(f"snapshot {name} misses {chunk!r}: {exc}") from None
        if blake2b_256(data).hex() != chunk.get("chunk_hash"):
            raise DbError(f"snapshot {name}: {chunk['path']} fails its chunk hash")
        events.extend(decode_chunk(data))
    return name, meta, events
