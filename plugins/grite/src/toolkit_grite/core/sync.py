"""`grite sync`: fetch, union by event id, rebase local-only events, push fast-forward only.

Fetches go to a per-remote tracking namespace; local-only events are rewritten as one commit on
top of the remote head (see specs/grite/sync.md).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from typing import Any

from toolkit_grite.core import leases, wal
from toolkit_grite.core.grite import Grite
from toolkit_grite.core.model import Event
from toolkit_grite.errors import GriteConflict, GriteIoError, GriteNotFound

__all__ = ["MAX_ATTEMPTS", "find_fork", "sync"]

MAX_ATTEMPTS = 5
SNAP_PREFIX = "refs/grite/snapshots/"


def _git(g: Grite, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    try:
        return subprocess.run(
            ["git", f"--git-dir={g.paths.git_dir}", *args],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=600,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GriteIoError(f"git {args[0]} failed: {exc}") from None


def tracking_name(g: Grite, remote: str) -> str:
    """Name of the tracking namespace for `remote` (its name, or `url-<hash>` for a URL/path)."""
    res = _git(g, "config", "--get", f"remote.{remote}.url")
    if res.returncode == 0 and res.stdout.strip():
        return remote
    return "url-" + hashlib.blake2b(remote.encode(), digest_size=4).hexdigest()


def _ensure_refspec(g: Grite, remote: str, name: str) -> None:
    if name != remote:
        return
    spec = f"+refs/grite/*:refs/remotes/{name}/grite/*"
    res = _git(g, "config", "--get-all", f"remote.{remote}.fetch")
    if spec not in res.stdout.split():
        _git(g, "config", "--add", f"remote.{remote}.fetch", spec)


def fetch(g: Grite, remote: str, name: str) -> None:
    """Fetch `refs/grite/*` of `remote` into `refs/remotes/<name>/grite/*` (pruned)."""
    res = _git(g, "fetch", "--no-tags", "--prune", "--quiet", remote, f"+refs/grite/*:refs/remotes/{name}/grite/*")
    if res.returncode != 0:
        msg = res.stderr.strip().splitlines()
        text = msg[-1] if msg else "git fetch failed"
        if "does not appear to be a git repository" in res.stderr or "not found" in res.stderr.lower():
            raise GriteNotFound(
                f"remote {remote!r} not reachable: {text}",
                hint="check `git remote -v`",
                details={"suggestions": msg[-3:]},
            )
        raise GriteIoError(f"git fetch {remote} failed: {text}", details={"suggestions": msg[-3:]})


def find_fork(repo: Any, left: str, right: str) -> str | None:
    """Return the newest commit on both `prev_wal` chains (None when they share nothing)."""
    gens = [wal.chain_oids(repo, left), wal.chain_oids(repo, right)]
    seen: list[set[str]] = [set(), set()]
    alive = [True, True]
    while any(alive):
        for side in (0, 1):
            if not alive[side]:
                continue
            oid = next(gens[side], None)
            if oid is None:
                alive[side] = False
                continue
            if oid in seen[1 - side]:
                return oid
            seen[side].add(oid)
    return None


def _events_until(repo: Any, head: str, fork: str | None) -> list[tuple[str, list[Event]]]:
    return wal.walk(repo, head, stop=(lambda oid: oid == fork) if fork else None)


def merge(g: Grite, local: str | None, remote: str | None, *, allow_commit: bool) -> tuple[str | None, int]:
    """Return `(new local head, merged event count)`; writes a rebased commit when needed."""
    if remote is None or local == remote:
        return local, 0
    if local is None:
        return remote, 0
    fork = find_fork(g.repo, local, remote)
    if fork == remote:
        return local, 0
    if fork == local:
        return remote, 0
    remote_ids = {e.event_id for _oid, evs in _events_until(g.repo, remote, fork) for e in evs}
    local_only: list[Event] = []
    seen: set[bytes] = set()
    for _oid, evs in _events_until(g.repo, local, fork):
        for e in evs:
            if e.event_id not in remote_ids and e.event_id not in seen:
                seen.add(e.event_id)
                local_only.append(e)
    if not local_only:
        return remote, 0
    if not allow_commit:
        return local, 0
    oid = wal.build_commit(g.repo, local_only, g.actor.actor_id, remote)
    g.view.ingest([(oid, local_only)])
    return oid, len(local_only)


def _push(g: Grite, remote: str, *specs: str, lease: list[str] | None = None) -> tuple[bool, str]:
    args = ["push", "--porcelain", "--quiet", *(lease or []), remote, *specs]
    res = _git(g, *args)
    if res.returncode == 0:
        return True, ""
    text = res.stderr + res.stdout
    if "rejected" in text or "non-fast-forward" in text or "fetch first" in text or "stale info" in text:
        return False, text
    lines = text.strip().splitlines()
    raise GriteIoError(
        f"git push {remote} failed: {lines[-1] if lines else res.returncode}", details={"suggestions": lines[-3:]}
    )


def _sync_locks(g: Grite, remote: str, name: str, push: bool) -> list[str]:  # noqa: PLR0912 - one branch per case of the spec
    """Reconcile lock refs with the remote's (see specs/grite/locks.md); return conflicts."""
    prefix = f"refs/remotes/{name}/grite/locks/"
    mine = g.actor.actor_id.hex()
    now = leases.now_ms()
    conflicts: list[str] = []
    specs: list[str] = []
    lease: list[str] = []
    remote_locks = {lk["ref"][len(prefix) :]: lk for lk in leases.list_locks(g.repo, prefix)}
    local_locks = {lk["ref"][len(leases.LOCK_PREFIX) :]: lk for lk in leases.list_locks(g.repo)}
    seen = leases.observe(g, [*remote_locks.values(), *local_locks.values()])

    def live(lock: dict[str, Any]) -> bool:  # another owner's lease, judged skew-safely
        return leases.is_live(g, lock, seen, now)

    with g.write_lock():
        for key, rl in remote_locks.items():
            ll = local_locks.get(key)
            ref = leases.LOCK_PREFIX + key
            if ll is None:
                if rl["owner"] == mine:
                    specs.append(f":{ref}")
                    lease.append(f"--force-with-lease={ref}:{rl['oid']}")
                elif live(rl):
                    wal.set_ref(g.repo, ref, rl["oid"], expected=None, message="grite: adopt remote lock")
            elif ll["oid"] != rl["oid"]:
                if rl["owner"] != mine and live(rl):
                    if ll["owner"] == mine and ll["expires_unix_ms"] > now:
                        conflicts.append(rl["resource"])
                    wal.set_ref(g.repo, ref, rl["oid"], expected=ll["oid"], message="grite: remote lock wins")
                elif ll["owner"] == mine:
                    specs.append(f"+{ref}:{ref}")
                    lease.append(f"--force-with-lease={ref}:{rl['oid']}")
        for key, ll in local_locks.items():
            if key in remote_locks:
                continue
            ref = leases.LOCK_PREFIX + key
            if ll["owner"] != mine:
                # another owner's lock only ever arrives through sync: gone remotely means released
                wal.set_ref(g.repo, ref, None, expected=ll["oid"], message="grite: remote lock released")
            elif ll["expires_unix_ms"] > now:
                specs.append(f"{ref}:{ref}")
    if push and specs:
        _push(g, remote, *specs, lease=lease)
    return sorted(set(conflicts) | set(leases.overlapping(g)))


def _push_identity(g: Grite, remote: str, name: str) -> None:
    """Publish our own identity record when the remote's differs (only we rewrite our ref)."""
    from toolkit_grite.core.identities import IDENT_PREFIX

    ref = IDENT_PREFIX + g.actor.actor_id.hex()
    ours = wal.ref_target(g.repo, ref)
    if ours is not None and ours != wal.ref_target(
        g.repo, f"refs/remotes/{name}/grite/identities/{ref[len(IDENT_PREFIX) :]}"
    ):
        _push(g, remote, f"+{ref}:{ref}")


def _push_snapshots(g: Grite, remote: str, name: str) -> None:
    theirs = f"refs/remotes/{name}/grite/snapshots/"
    specs = []
    for ref in g.repo.references:
        if ref.startswith(SNAP_PREFIX) and g.repo.references.get(theirs + ref[len(SNAP_PREFIX) :]) is None:
            specs.append(f"{ref}:{ref}")
    if specs:
        _push(g, remote, *specs)


def sync(
    g: Grite, remote: str = "origin", *, pull: bool = True, push: bool = True, push_only: bool = False
) -> dict[str, Any]:
    """Synchronize `refs/grite/*` with `remote`; see the module docstring.

    `push_only` (`sync --push`) still fetches and merges first, but reports 0.5.3's push keys.
    """
    name = tracking_name(g, remote)
    _ensure_refspec(g, remote, name)
    tracking = f"refs/remotes/{name}/grite/wal"
    pulled = merged = 0
    pushed = False
    attempts = 0
    lock_conflicts: list[str] = []
    while True:
        attempts += 1
        fetch(g, remote, name)
        pulled += g.catch_up(force=True)
        with g.write_lock():
            local = wal.ref_target(g.repo, wal.WAL_REF)
            remote_head = wal.ref_target(g.repo, tracking)
            new_head, count = merge(g, local, remote_head, allow_commit=push)
            merged += count
            if new_head != local:
                wal.set_ref(g.repo, wal.WAL_REF, new_head, expected=local, message="grite: sync")
        g.catch_up(force=True)
        lock_conflicts = _sync_locks(g, remote, name, push)
        if not push or new_head is None or new_head == remote_head:
            pushed = push and new_head is not None
            break
        ok, _text = _push(g, remote, f"{wal.WAL_REF}:{wal.WAL_REF}")
        if ok:
            pushed = True
            break
        if attempts >= MAX_ATTEMPTS:
            raise GriteConflict(f"push to {remote} was rejected {attempts} times", hint="retry `grite sync`")
    if push:
        _push_snapshots(g, remote, name)
        _push_identity(g, remote, name)
    head = wal.ref_target(g.repo, wal.WAL_REF)
    out: dict[str, Any] = {
        "remote": remote,
        "pulled_events": pulled,
        "pushed": pushed,
        "merged_events": merged,
        "wal_head": head,
        "attempts": attempts,
        "lock_conflicts": lock_conflicts,
        # What the WAL readers refused during this sync (malformed or forged commits/events).
        "quarantined": g.quarantined,
    }
    mode = "push" if push_only else "sync" if push else "pull"
    out.update(_grite053_fields(remote, pulled, pushed, merged, head, mode))
    return out


def _grite053_fields(
    remote: str, pulled: int, pushed: bool, merged: int, head: str | None, mode: str
) -> dict[str, Any]:
    """The keys grite 0.5.3 prints for the same mode, so its consumers keep working (spec: sync.md)."""
    pull_message = f"Pulled {pulled} new events" if pulled else "Already up to date"
    push_message = f"Pushed to {remote}" if pushed else "Nothing to push"
    if mode == "pull":
        return {"success": True, "events": pulled, "message": pull_message}
    if mode == "push":
        return {
            "success": pushed,
            "rebased": merged > 0,
            "events_rebased": merged,
            "backfilled": 0,
            "message": push_message,
        }
    return {
        "pulled": True,
        "pull_events": pulled,
        "pull_wal_head": head,
        "push_success": pushed,
        "push_rebased": merged > 0,
        "push_events_rebased": merged,
        "message": f"{pull_message} / {push_message}",
    }
