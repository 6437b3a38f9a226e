"""Leases: a named resource held by one owner until a deadline, over a pluggable store.

A lease is advisory and time-bounded: a holder that crashes simply lets it expire. Every
change goes through the store's `compare_and_set`, so two processes can never both
believe they took the same resource. `FileLeaseStore` keeps one JSON file per resource in
a directory; grite's git-ref store or a database can implement the same protocol.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from toolkit_kernel.errors import Conflict, Corrupt, UsageError
from toolkit_kernel.hashing import blake2b_256
from toolkit_kernel.snapshot import atomic_write_text, fsync_dir

if TYPE_CHECKING:
    from toolkit_kernel.locks import FileLock

__all__ = ["FileLeaseStore", "Lease", "LeaseManager", "LeaseStore"]


@dataclass(frozen=True)
class Lease:
    """One holding of `resource` by `owner`, identified by `nonce`, valid until `expires_at_ms` (Unix ms)."""

    resource: str
    owner: str
    nonce: str
    expires_at_ms: int

    def expired(self, now_ms: int) -> bool:
        """True once `now_ms` has reached the expiry."""
        return now_ms >= self.expires_at_ms

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-safe form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Lease:
        """Build a lease from `to_dict()` output.

        Raises:
            ValueError: a field is missing or has the wrong type.
        """
        resource, owner, nonce, expires = (data.get(k) for k in ("resource", "owner", "nonce", "expires_at_ms"))
        if not (isinstance(resource, str) and isinstance(owner, str) and isinstance(nonce, str)):
            raise ValueError("lease fields resource/owner/nonce must be strings")
        if not isinstance(expires, int) or isinstance(expires, bool):
            raise ValueError("lease field expires_at_ms must be an integer")
        return cls(resource, owner, nonce, expires)


class LeaseStore(Protocol):
    """Where leases live. Implementations must make `compare_and_set` atomic across processes."""

    def read(self, resource: str) -> Lease | None:
        """Return the stored lease for `resource` (expired or not), or None."""
        ...

    def compare_and_set(self, resource: str, expected: Lease | None, new: Lease | None) -> bool:
        """Replace the stored lease with `new` (None deletes) only if it equals `expected`; True on success."""
        ...

    def list(self) -> list[Lease]:
        """Return every stored lease, expired ones included."""
        ...


class FileLeaseStore:
    """Leases as files in `directory`: `<blake2b-128 of resource>.lease` holding JSON.

    A compare-and-set takes an exclusive `flock` on `directory/.leases.lock`, compares, and
    replaces (or unlinks) the lease file atomically, so readers never see a torn file and
    need no lock. Safe across processes and threads.

    Example:
        >>> import tempfile
        >>> leases = LeaseManager(FileLeaseStore(tempfile.mkdtemp()))
        >>> lease = leases.acquire("issue:1a2b", "alice", ttl_s=60)
        >>> leases.try_acquire("issue:1a2b", "bob", ttl_s=60) is None
        True
    """

    SUFFIX = ".lease"

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        from toolkit_kernel.locks import FileLock  # locks re-exports this module's names

        self._lock: FileLock = FileLock(self.directory / ".leases.lock")
        self._mutex = threading.Lock()

    def path_for(self, resource: str) -> Path:
        """The file that holds `resource`'s lease (resource names are arbitrary strings)."""
        return self.directory / (blake2b_256(resource.encode("utf-8"))[:16].hex() + self.SUFFIX)

    def _load(self, path: Path) -> Lease | None:
        try:
            text = path.read_text("utf-8")
        except FileNotFoundError:
            return None
        try:
            return Lease.from_dict(json.loads(text))
        except (ValueError, AttributeError) as exc:
            raise Corrupt(
                f"lease file {path} is damaged: {exc}",
                hint="delete the file; the lease is then free",
                details={"path": str(path)},
            ) from None

    def read(self, resource: str) -> Lease | None:
        """Return the stored lease for `resource`, or None."""
        lease = self._load(self.path_for(resource))
        return lease if lease is None or lease.resource == resource else None

    def compare_and_set(self, resource: str, expected: Lease | None, new: Lease | None) -> bool:
        """Atomically replace `expected` by `new` (see `LeaseStore`)."""
        if new is not None and new.resource != resource:
            raise UsageError(f"lease is for {new.resource!r}, not {resource!r}")
        path = self.path_for(resource)
        with self._mutex, self._lock:
            if self.read(resource) != expected:
                return False
            if new is None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                fsync_dir(self.directory)
            else:
                atomic_write_text(path, json.dumps(new.to_dict(), sort_keys=True) + "\n")
            return True

    def list(self) -> list[Lease]:
        """Return every stored lease, sorted by resource."""
        leases = []
        for path in self.directory.glob("*" + self.SUFFIX):
            lease = self._load(path)
            if lease is not None:
                leases.append(lease)
        return sorted(leases, key=lambda lease: lease.resource)


class LeaseManager:
    """Acquire, renew, release and collect leases in a `LeaseStore`.

    Args:
        store: Where leases live.
        clock: Returns the current time in seconds (injectable for tests).
    """

    def __init__(self, store: LeaseStore, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    @staticmethod
    def _check_ttl(ttl_s: float) -> None:
        if not ttl_s > 0:
            raise UsageError(f"lease ttl must be positive, got {ttl_s}", hint="pass a ttl in seconds, e.g. 300")

    def try_acquire(self, resource: str, owner: str, ttl_s: float) -> Lease | None:
        """Take `resource` for `owner` for `ttl_s` seconds; None when someone else holds it.

        A resource whose lease has expired is free. If `owner` already holds it, the existing
        lease is returned unchanged (use `renew` to extend it).
        """
        self._check_ttl(ttl_s)
        while True:
            current = self.store.read(resource)
            now = self._now_ms()
            if current is not None and not current.expired(now):
                return current if current.owner == owner else None
            new = Lease(resource, owner, uuid.uuid4().hex, now + int(ttl_s * 1000))
            if self.store.compare_and_set(resource, current, new):
                return new

    def acquire(self, resource: str, owner: str, ttl_s: float) -> Lease:
        """Like `try_acquire`, but raise when someone else holds the resource.

        Raises:
            Conflict: held by another owner; `details` has `resource`, `holder` and `expires_at_ms`.
        """
        lease = self.try_acquire(resource, owner, ttl_s)
        if lease is not None:
            return lease
        current = self.store.read(resource)
        holder = current.owner if current else None
        expires = current.expires_at_ms if current else None
        raise Conflict(
            f"{resource} is held by {holder}",
            hint="wait for the lease to expire or ask the holder to release it",
            details={"resource": resource, "holder": holder, "expires_at_ms": expires},
        )

    def renew(self, lease: Lease, ttl_s: float) -> Lease:
        """Extend `lease` to `ttl_s` seconds from now (same nonce).

        An expired lease can be renewed as long as nobody else took the resource meanwhile.

        Raises:
            Conflict: the caller no longer holds the lease.
        """
        self._check_ttl(ttl_s)
        current = self.store.read(lease.resource)
        if current is None or (current.owner, current.nonce) != (lease.owner, lease.nonce):
            raise Conflict(
                f"{lease.resource} is not held by {lease.owner} with this lease",
                hint="acquire it again",
                details={
                    "resource": lease.resource,
                    "holder": current.owner if current else None,
                    "expires_at_ms": current.expires_at_ms if current else None,
                },
            )
        new = Lease(lease.resource, lease.owner, lease.nonce, self._now_ms() + int(ttl_s * 1000))
        if not self.store.compare_and_set(lease.resource, current, new):
            raise Conflict(f"{lease.resource} changed while renewing", hint="acquire it again")
        return new

    def release(self, lease: Lease) -> bool:
        """Give up `lease`; False when it was no longer held by it (expired and taken, or released)."""
        current = self.store.read(lease.resource)
        if current is None or (current.owner, current.nonce) != (lease.owner, lease.nonce):
            return False
        return self.store.compare_and_set(lease.resource, current, None)

    def get(self, resource: str) -> Lease | None:
        """Return the live lease on `resource`, or None when free (expired leases count as free)."""
        current = self.store.read(resource)
        return current if current is not None and not current.expired(self._now_ms()) else None

    def gc(self) -> list[Lease]:
        """Delete expired leases; return the ones removed."""
        removed = []
        now = self._now_ms()
        for lease in self.store.list():
            if lease.expired(now) and self.store.compare_and_set(lease.resource, lease, None):
                removed.append(lease)
        return removed
