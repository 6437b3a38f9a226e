"""Lease locks in `refs/grite/locks/<sha256(resource)[:16]>` (see specs/grite/locks.md)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from toolkit_grite.core import wal
from toolkit_grite.errors import GriteConflict, GriteNotFound, InvalidArgs

if TYPE_CHECKING:
    from toolkit_grite.core.grite import Grite

__all__ = [
    "LOCK_PREFIX",
    "acquire",
    "check_policy",
    "conflicts",
    "gc",
    "is_live",
    "list_locks",
    "observe",
    "overlapping",
    "release",
    "renew",
    "status",
]

LOCK_PREFIX = "refs/grite/locks/"
NAMESPACES = ("repo:", "path:", "issue:")
DEFAULT_TTL = 300


def now_ms() -> int:
    """Current time in ms."""
    return int(time.time() * 1000)


def lock_ref(resource: str, prefix: str = LOCK_PREFIX) -> str:
    """The ref holding `resource`'s lock."""
    import hashlib  # here, not at the top: every write checks the lock policy, few take a lock

    return prefix + hashlib.sha256(resource.encode()).hexdigest()[:16]


def validate(resource: str) -> str:
    """Check the namespace of `resource`.

    Raises:
        InvalidArgs: unknown namespace or empty name.
    """
    if not any(resource.startswith(ns) and len(resource) > len(ns) for ns in NAMESPACES):
        raise InvalidArgs(
            f"invalid lock resource {resource!r}",
            hint="use repo:<name>, path:<path> or issue:<id>",
        )
    return resource


def _path_overlap(a: str, b: str) -> bool:
    a, b = a.strip("/"), b.strip("/")
    if not a or not b or a == b:
        return True
    return a.startswith(b + "/") or b.startswith(a + "/")


def conflicts(a: str, b: str) -> bool:
    """True when locks on resources `a` and `b` exclude each other.

    `issue:` names may be id prefixes (0.5.3's `--lock` takes `issue:<id as typed>`): one that is
    a prefix of the other may name the same issue, so they conflict.
    """
    if a.startswith("repo:") or b.startswith("repo:"):
        return True
    if a.startswith("path:") and b.startswith("path:"):
        return _path_overlap(a[5:], b[5:])
    if a.startswith("issue:") and b.startswith("issue:"):
        x, y = a[6:].lower(), b[6:].lower()
        return x.startswith(y) or y.startswith(x)
    return a == b


#: A foreign lease that looks expired by more than this (our clock) is stale whatever the skew.
MAX_CLOCK_SKEW_MS = 10 * 60 * 1000
SEEN_FILE = "leases-seen.json"


def _seen(g: Grite) -> dict[str, int]:
    try:
        data = json.loads((g.paths.grite_dir / SEEN_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, int)} if isinstance(data, dict) else {}


def observe(g: Grite, locks: list[dict[str, Any]]) -> dict[str, int]:
    """Record when this replica first saw each lock commit (our clock); return the record."""
    seen = _seen(g)
    now = now_ms()
    live = {lk["oid"] for lk in locks}
    changed = False
    for oid in live - seen.keys():
        seen[oid] = now
        changed = True
    for oid in set(seen) - live:  # forget locks that are gone
        del seen[oid]
        changed = True
    if changed:
        path = g.paths.grite_dir / SEEN_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(seen))
        tmp.replace(path)
    return seen


def _lease_ms(g: Grite, lock: dict[str, Any]) -> int:
    """The lease's length by its owner's clock: expiry minus the lock commit's time (0..24 h)."""
    try:
        written = int(g.repo[lock["oid"]].commit_time) * 1000
    except (KeyError, ValueError, AttributeError):
        return 0
    return max(0, min(int(lock["expires_unix_ms"]) - written, 24 * 3600 * 1000))


def is_live(g: Grite, lock: dict[str, Any], seen: dict[str, int], now: int) -> bool:
    """Whether a lease still holds, robust against a skewed local clock.

    By our clock alone, a clock running ahead would end other agents' leases early. So a lease
    that looks expired still holds until this replica has watched it (the same lock commit) for
    its whole length, measured by the owner's clock as expiry minus the commit time; only a lease
    expired by more than MAX_CLOCK_SKEW_MS is stale at once.
    """
    expires = int(lock.get("expires_unix_ms", 0))
    if expires > now:
        return True
    if now - expires > MAX_CLOCK_SKEW_MS:
        return False
    first = seen.get(lock.get("oid", ""), now)
    return now - first < _lease_ms(g, lock)


def read_lock(repo: Any, refname: str) -> dict[str, Any] | None:
    """Return the lock.json a lock ref points at (None when absent or unreadable)."""
    target = wal.ref_target(repo, refname)
    if target is None:
        return None
    try:
        data = json.loads(repo[repo[target].tree["lock.json"].id].data)
    except (KeyError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("resource"), str):
        return None
    data["ref"] = refname
    data["oid"] = target
    return data


def list_locks(repo: Any, prefix: str = LOCK_PREFIX) -> list[dict[str, Any]]:
    """Return every readable lock under `prefix`, sorted by resource."""
    out = []
    for name in list(repo.references):
        if name.startswith(prefix):
            lock = read_lock(repo, name)
            if lock is not None:
                out.append(lock)
    return sorted(out, key=lambda lk: lk["resource"])


def write_lock_commit(repo: Any, lock: dict[str, Any]) -> str:
    """Write a root commit with `lock.json`; return its oid."""
    import pygit2

    body = {k: lock[k] for k in ("owner", "nonce", "expires_unix_ms", "resource")}
    blob = repo.create_blob(json.dumps(body, indent=2).encode())
    tb = repo.TreeBuilder()
    tb.insert("lock.json", blob, pygit2.enums.FileMode.BLOB)
    sig = wal.signature()
    return str(repo.create_commit(None, sig, sig, f"Lock: {lock['resource']}", tb.write(), []))


def _public(lock: dict[str, Any], ttl_s: int | None = None) -> dict[str, Any]:
    out = {k: lock[k] for k in ("resource", "owner", "nonce", "expires_unix_ms")}
    if ttl_s is not None:
        out["ttl_seconds"] = ttl_s
    return out


def _blocking(g: Grite, resource: str, owner: str) -> dict[str, Any] | None:
    now = now_ms()
    locks = list_locks(g.repo)
    seen = observe(g, locks)
    for lock in locks:
        if lock.get("owner") != owner and conflicts(resource, lock["resource"]) and is_live(g, lock, seen, now):
            return lock
    return None


def _conflict(lock: dict[str, Any], resource: str) -> GriteConflict:
    return GriteConflict(
        f"{resource} conflicts with {lock['resource']} held by {lock['owner']}",
        hint="wait for the lock to expire or ask its owner to release it",
        details={"holder": lock["owner"], "resource": lock["resource"], "expires_unix_ms": lock["expires_unix_ms"]},
    )


def acquire(g: Grite, resource: str, ttl_s: int = DEFAULT_TTL) -> dict[str, Any]:
    """Acquire (or extend our own) lease on `resource`."""
    validate(resource)
    if ttl_s <= 0:
        raise InvalidArgs("--ttl must be a positive number of seconds")
    owner = g.actor.actor_id.hex()
    with g.write_lock():
        blocker = _blocking(g, resource, owner)
        if blocker is not None:
            raise _conflict(blocker, resource)
        ref = lock_ref(resource)
        current = read_lock(g.repo, ref)
        import uuid

        nonce = current["nonce"] if current and current.get("owner") == owner else str(uuid.uuid4())
        lock = {"owner": owner, "nonce": nonce, "expires_unix_ms": now_ms() + ttl_s * 1000, "resource": resource}
        oid = write_lock_commit(g.repo, lock)
        wal.set_ref(g.repo, ref, oid, expected=wal.ref_target(g.repo, ref), message="grite: lock")
        observe(g, list_locks(g.repo))
    return _public(lock, ttl_s)


def renew(g: Grite, resource: str, ttl_s: int = DEFAULT_TTL) -> dict[str, Any]:
    """Extend our unexpired lease on `resource`."""
    validate(resource)
    owner = g.actor.actor_id.hex()
    with g.write_lock():
        ref = lock_ref(resource)
        current = read_lock(g.repo, ref)
        if current is None or current["expires_unix_ms"] <= now_ms():
            raise GriteNotFound(f"no active lock on {resource}", hint="acquire it with `grite lock acquire`")
        if current["owner"] != owner:
            raise _conflict(current, resource)
        lock = dict(current, expires_unix_ms=now_ms() + ttl_s * 1000)
        oid = write_lock_commit(g.repo, lock)
        wal.set_ref(g.repo, ref, oid, expected=current["oid"], message="grite: renew lock")
    return _public(lock, ttl_s)


def release(g: Grite, resource: str) -> dict[str, Any]:
    """Release our lease on `resource`."""
    validate(resource)
    owner = g.actor.actor_id.hex()
    with g.write_lock():
        ref = lock_ref(resource)
        current = read_lock(g.repo, ref)
        if current is None:
            raise GriteNotFound(f"no lock on {resource}")
        if current["owner"] != owner and is_live(g, current, observe(g, list_locks(g.repo)), now_ms()):
            raise _conflict(current, resource)
        wal.set_ref(g.repo, ref, None, expected=current["oid"])
    return {"resource": resource, "released": True}


def status(g: Grite) -> dict[str, Any]:
    """List all locks with their remaining time."""
    now = now_ms()
    locks = []
    for lock in list_locks(g.repo):
        remaining = max(0, (lock["expires_unix_ms"] - now) // 1000)
        locks.append(
            {
                "resource": lock["resource"],
                "owner": lock["owner"],
                "expires_unix_ms": lock["expires_unix_ms"],
                "time_remaining_seconds": remaining,
                "expired": lock["expires_unix_ms"] <= now,
            }
        )
    return {"locks": locks, "total": len(locks)}


def gc(g: Grite) -> dict[str, Any]:
    """Delete expired lock refs."""
    removed = kept = 0
    owner = g.actor.actor_id.hex()
    with g.write_lock():
        now = now_ms()
        locks = list_locks(g.repo)
        seen = observe(g, locks)
        for lock in locks:
            mine = lock.get("owner") == owner
            if (mine and lock["expires_unix_ms"] <= now) or (not mine and not is_live(g, lock, seen, now)):
                wal.set_ref(g.repo, lock["ref"], None, expected=lock["oid"])
                removed += 1
            else:
                kept += 1
    return {"removed": removed, "kept": kept}


def check_policy(g: Grite, resource: str, *, strict: bool = False) -> None:
    """Apply `lock_policy` for a mutation touching `resource` (warn or raise).

    Raises:
        GriteConflict: policy `require` (or `strict`) and another owner holds a conflicting lock.
    """
    policy = "require" if strict else g.config["lock_policy"]
    if policy == "off":
        return
    from toolkit_grite.core.refsfs import read_refs

    known = read_refs(str(g.paths.common_dir), (LOCK_PREFIX,))
    if known == {}:
        return  # no lock refs at all: nothing can conflict

    blocker = _blocking(g, resource, g.actor.actor_id.hex())
    if blocker is None:
        return
    if policy == "require":
        raise _conflict(blocker, resource)
    g.warnings.append(f"{resource} is locked by {blocker['owner']} ({blocker['resource']}); proceeding")


def overlapping(g: Grite) -> list[str]:
    """Our live locks that conflict with another owner's live lock on a different resource.

    Two replicas can take overlapping locks offline (`path:src/` here, `path:src/a.py` there);
    they live in different refs, so sync brings both: this names ours so `sync` can report them.
    """
    owner = g.actor.actor_id.hex()
    now = now_ms()
    locks = list_locks(g.repo)
    seen = observe(g, locks)
    mine = [lk for lk in locks if lk.get("owner") == owner and lk["expires_unix_ms"] > now]
    theirs = [lk for lk in locks if lk.get("owner") != owner and is_live(g, lk, seen, now)]
    return sorted({m["resource"] for m in mine for t in theirs if conflicts(m["resource"], t["resource"])})
