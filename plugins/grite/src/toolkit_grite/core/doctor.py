"""`grite doctor`: health checks and repairs (stale ref locks, broken or lagging view)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from toolkit_grite.core import dbops, wal
from toolkit_grite.core import repo as repo_mod
from toolkit_grite.core.grite import Grite
from toolkit_grite.errors import GriteError
from toolkit_kernel.locks import FileLock

__all__ = ["doctor"]

Check = dict[str, Any]


def _check(cid: str, status: str, message: str, plan: list[str] | None = None) -> Check:
    return {"id": cid, "status": status, "message": message, "plan": plan or []}


def _stale_ref_locks(g: Grite, fix: bool, applied: list[str]) -> Check:
    base = g.paths.common_dir / "refs" / "grite"
    stale: list[Path] = sorted(base.rglob("*.lock")) if base.is_dir() else []
    if not stale:
        return _check("stale_ref_locks", "ok", "no stale ref lock files")
    if fix:
        # Only while no grite writer runs: holding the write lock proves the files are orphans.
        lock = FileLock(g.paths.write_lock_path)
        if lock.acquire(blocking=False):
            try:
                for path in stale:
                    path.unlink(missing_ok=True)
                    applied.append(f"removed stale ref lock {path.relative_to(g.paths.common_dir)}")
            finally:
                lock.release()
                lock.close()
            return _check("stale_ref_locks", "ok", "stale ref lock files removed")
        lock.close()
    names = ", ".join(str(p.relative_to(g.paths.common_dir)) for p in stale)
    return _check("stale_ref_locks", "error", f"stale ref lock files: {names}", ["remove them (doctor --fix)"])


def _wal_ref(g: Grite) -> Check:
    try:
        head = wal.ref_target(g.repo, wal.WAL_REF)
        if head is None:
            return _check("wal_ref", "warn", "no WAL yet (refs/grite/wal is created by the first write)")
        screen = g.screen()
        count = sum(len(evs) for _oid, evs in wal.walk(g.repo, head, screen=screen))
        g.record_quarantine(screen.problems)
    except GriteError as exc:
        return _check("wal_ref", "error", f"WAL unreadable: {exc.message}", ["inspect refs/grite/wal"])
    return _check("wal_ref", "ok", f"refs/grite/wal at {head[:12]} with {count} events")


def _actor_config(g: Grite) -> Check:
    try:
        default = repo_mod.default_actor(g.paths)
    except GriteError as exc:
        return _check("actor_config", "error", exc.message, ["fix .git/grite/config.toml"])
    if default:
        return _check("actor_config", "ok", f"default actor {default}")
    return _check("actor_config", "warn", "no default actor", ["run `grite init`"])


def _store_integrity(g: Grite, fix: bool, applied: list[str]) -> tuple[Check, bool]:
    try:
        g.view.counts()
    except Exception as exc:  # any LMDB or decoding failure means the view must be rebuilt
        if not fix:
            return _check(
                "store_integrity", "error", f"view unreadable: {exc}", ["rebuild the view from the WAL"]
            ), False
        g.close(force=True)
        shutil.rmtree(g.paths.view_dir, ignore_errors=True)
        result = dbops.rebuild(g)
        applied.append(f"rebuilt the view from the WAL ({result['event_count']} events)")
        return _check("store_integrity", "ok", "view rebuilt from the WAL"), True
    return _check("store_integrity", "ok", f"view at {g.paths.view_dir} opens and reads"), True


def _view_lag(g: Grite, fix: bool, applied: list[str]) -> Check:
    lagging = [h for h in g.wal_heads() if not g.view.has_commit(h)]
    if lagging and fix:
        added = g.catch_up(force=True)
        applied.append(f"ingested {added} pending WAL events into the view")
        lagging = []
    if lagging:
        return _check("view_lag", "warn", f"{len(lagging)} WAL head(s) not yet in the view", ["ingest them"])
    return _check("view_lag", "ok", "view is up to date with the WAL")


def _event_hashes(g: Grite, fix: bool, applied: list[str]) -> Check:
    """Recompute every event id in the view, and list forged events the WAL readers refused."""
    corrupt = [ev for ev in g.view.all_events() if ev.computed_id() != ev.event_id]
    if corrupt and fix:
        result = dbops.rebuild(g)  # rebuilding re-reads (and re-checks) every event from the WAL
        applied.append(f"rebuilt the view from the WAL ({result['event_count']} events)")
        corrupt = [ev for ev in g.view.all_events() if ev.computed_id() != ev.event_id]
    forged = [p for p in g.view.quarantine() if p["event_id"] and p["reason"].startswith("event id")]
    if corrupt:
        ids = ", ".join(ev.event_id.hex()[:12] for ev in corrupt[:5])
        return _check("event_hashes", "error", f"{len(corrupt)} event(s) in the view do not match their id: {ids}",
                      ["rebuild the view (doctor --fix)"])  # fmt: skip
    if forged:
        where = ", ".join(sorted({p["commit"][:12] for p in forged})[:5])
        return _check(
            "event_hashes",
            "error",
            f"{len(forged)} WAL event(s) do not match their id (refused, never applied) in commit(s) {where}",
            ["find who wrote these commits; the events are skipped on every replica"],
        )
    return _check("event_hashes", "ok", "every event matches its id")


def _quarantine(g: Grite) -> Check:
    """Malformed WAL commits, chunks or events that were skipped (the replica keeps working)."""
    other = [p for p in g.view.quarantine() if not (p["event_id"] and p["reason"].startswith("event id"))]
    if not other:
        return _check("quarantine", "ok", "no malformed WAL data")
    sample = "; ".join(f"{p['commit'][:12]}: {p['reason']}" for p in other[:3])
    return _check("quarantine", "warn", f"{len(other)} malformed WAL item(s) skipped: {sample}",
                  ["inspect the listed commits (git cat-file -p); good events around them are kept"])  # fmt: skip


def doctor(g: Grite, *, fix: bool = False) -> dict[str, Any]:
    """Run every check; with `fix`, repair what can be repaired safely."""
    applied: list[str] = []
    checks = [
        _check("git_repo", "ok", f"git repository at {g.paths.common_dir}"),
        _stale_ref_locks(g, fix, applied),
        _wal_ref(g),
        _actor_config(g),
    ]
    integrity, usable = _store_integrity(g, fix, applied)
    checks.append(integrity)
    if usable:
        checks.append(_view_lag(g, fix, applied))
        checks.append(_event_hashes(g, fix, applied))
        checks.append(_quarantine(g))
        if dbops.stats(g)["rebuild_recommended"]:
            checks.append(_check("rebuild_threshold", "warn", "many events since the last rebuild", ["grite rebuild"]))
        else:
            checks.append(_check("rebuild_threshold", "ok", "no rebuild needed"))
    return {"checks": checks, "applied": applied}
