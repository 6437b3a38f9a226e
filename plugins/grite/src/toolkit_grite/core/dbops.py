"""Rebuild, stats, check and verify of the materialized view."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from toolkit_grite.core import repo as repo_mod
from toolkit_grite.core import snapshots, wal
from toolkit_grite.core.grite import Grite
from toolkit_grite.core.model import Event, verify

__all__ = ["check", "collect_all", "rebuild", "stats", "verify_signatures"]

REBUILD_EVENTS = 10_000
REBUILD_DAYS = 7


def collect_all(
    g: Grite,
    stop_at: set[str] | None = None,
    screen: wal.Screen | None = None,
    sink: Callable[[str, list[Event]], object] | None = None,
) -> list[tuple[str, list[Event]]]:
    """Read every WAL commit reachable from all heads (each commit once), stopping at `stop_at`.

    `sink` gets each commit as soon as it is read (see `wal.walk`).
    """
    seen: set[str] = set(stop_at or ())
    out: list[tuple[str, list[Event]]] = []
    # Whole chains: read in bulk from the start; libgit2 is opened only if a commit needs the
    # one-by-one reader (an unusual or malformed one).
    repo = wal.LazyRepo(str(g.paths.git_dir), lambda: g.repo)
    for head in g.wal_heads():
        commits = wal.walk(repo, head, stop=seen.__contains__, screen=screen, bulk_first=True, sink=sink)
        for oid, _events in commits:
            seen.add(oid)
        out.extend(commits)
    return out


def rebuild(g: Grite, *, from_snapshot: bool = False) -> dict[str, Any]:
    """Rebuild the view from the WAL (or from the newest snapshot plus the WAL above it).

    With `from_snapshot` and no snapshot at all, this is a full rebuild from the WAL (as 0.5.3
    does): `source` says "wal" and `from_snapshot` is null.
    """
    start = time.perf_counter()
    name: str | None = None
    snapshot_events: int | None = None
    screen = g.screen()
    with g.write_lock():
        if from_snapshot and snapshots.exists(g):
            name, meta, events = snapshots.load_latest(g)
            snapshot_events = len(events)
            base = meta.get("wal_head")
            covered = {base} if isinstance(base, str) else set()
            with g.view.resetting() as batch:
                batch.add(None, events)
                collect_all(g, covered, screen, sink=batch.add)
                # Marking the snapshot's base is enough: catch-up stops at the first ingested commit,
                # and every event below it is in the snapshot.
                for oid in covered:
                    batch.add(oid, [])
        else:
            # The view is built while the WAL is read (git reads ahead in its own processes).
            with g.view.resetting() as batch:
                collect_all(g, screen=screen, sink=batch.add)
        count = batch.added
        g.record_quarantine(screen.problems)
    out: dict[str, Any] = {
        "event_count": count,
        "issue_count": g.view.counts()["issue_count"],
        "source": "wal" if name is None else "snapshot",
        "elapsed_ms": round((time.perf_counter() - start) * 1000, 1),
        # 0.5.3's keys: the WAL head, and which snapshot (and how many of its events) fed the view.
        "wal_head": g.wal_head(),
        "from_snapshot": name,
        "snapshot_events": snapshot_events,
        "quarantined": len(screen.problems),
    }
    if name is not None:
        out["snapshot"] = name
    return out


def stats(g: Grite) -> dict[str, Any]:
    """Size and counters of the view, with a rebuild recommendation."""
    view = g.ready()
    counts = view.counts()
    last = view.get_meta("last_rebuild_ts")
    since = int(view.get_meta("events_since_rebuild", 0))
    days = None if last is None else round((time.time() * 1000 - last) / 86_400_000, 2)
    return {
        "path": str(view.path),
        "size_bytes": view.size_bytes(),
        "event_count": counts["event_count"],
        "issue_count": counts["issue_count"],
        "last_rebuild_ts": last,
        "events_since_rebuild": since,
        "days_since_rebuild": days,
        "rebuild_recommended": since > REBUILD_EVENTS or (days is not None and days > REBUILD_DAYS),
    }


def check(g: Grite, *, verify_parents: bool = False) -> dict[str, Any]:
    """Recompute every event id (and optionally check that parents exist)."""
    view = g.ready()
    errors: list[dict[str, Any]] = []
    events = view.all_events()
    for ev in events:
        if ev.computed_id() != ev.event_id:
            errors.append({"event_id": ev.event_id.hex(), "issue_id": ev.issue_id.hex(), "error": "event_id mismatch"})
        elif verify_parents and ev.parent is not None and not view.has_event(ev.parent):
            errors.append({"event_id": ev.event_id.hex(), "issue_id": ev.issue_id.hex(), "error": "missing parent"})
    # Events the WAL readers refused because their id does not match their content (a forged or
    # damaged WAL): they never reached the view, but the WAL carries them.
    forged = [p for p in view.quarantine() if p["event_id"] and p["reason"].startswith("event id")]
    errors += [
        {"event_id": p["event_id"], "issue_id": None, "error": p["reason"], "commit": p["commit"]} for p in forged
    ]
    return {
        "events_checked": len(events),
        "events_valid": len(events) - (len(errors) - len(forged)),
        "corrupt_count": len(errors),
        "errors": errors,
    }


def verify_signatures(g: Grite, *, verbose: bool = False) -> dict[str, Any]:
    """Check Ed25519 signatures of every signed event whose actor key is known locally."""
    view = g.ready()
    keys = {a["actor_id"]: bytes.fromhex(a["public_key"]) for a in repo_mod.list_actors(g.paths) if a.get("public_key")}
    checked = valid = unknown = 0
    errors = []
    events = view.all_events()
    for ev in events:
        if ev.sig is None:
            continue
        key = keys.get(ev.actor.hex())
        if key is None:
            unknown += 1
            if verbose:
                errors.append(
                    {"event_id": ev.event_id.hex(), "issue_id": ev.issue_id.hex(), "error": "unknown actor key"}
                )
            continue
        checked += 1
        if ev.computed_id() == ev.event_id and verify(key, ev.event_id, ev.sig):
            valid += 1
        else:
            errors.append({"event_id": ev.event_id.hex(), "issue_id": ev.issue_id.hex(), "error": "invalid signature"})
    return {
        "events_checked": len(events),
        "signatures_checked": checked,
        "signatures_valid": valid,
        "unknown_key_count": unknown,
        "error_count": checked - valid,
        "errors": errors,
    }
