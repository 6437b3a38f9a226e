"""`flock(2)` file locks: exclusive or shared, blocking with a timeout, or non-blocking.

A `FileLock` opens its file once (O_CLOEXEC) and keeps the descriptor open across
acquire/release, so taking and dropping the lock on a hot path is one `flock` syscall.

Semantics worth knowing:

- **Per open file description.** Two `FileLock` objects on the same path exclude each
  other, even in one process. One `FileLock` object must not be shared between threads
  (both would hold "the" lock at once); give each thread its own, or guard it.
- **exec.** The descriptor is O_CLOEXEC: a program started with `exec` (including
  `subprocess` with `close_fds=False`) never inherits the lock.
- **fork.** After `os.fork()` the child would share the parent's description, and its
  `release()` would drop the parent's lock. So, in the child, every `FileLock` forgets its
  descriptor (closed without unlocking) and reports `locked == False`; the child must
  `acquire()` again, which opens a new description and contends with the parent normally.
- **Crash.** The kernel drops a flock when the last descriptor closes, so a process killed
  with `kill -9` never leaves a lock behind. This is why daemons use a flock as liveness proof.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from toolkit_kernel.errors import IoFailure, LockTimeout, UsageError

__all__ = ["FileLeaseStore", "FileLock", "Lease", "LeaseManager", "LeaseStore"]

_LIVE_LOCKS: weakref.WeakSet[FileLock] = weakref.WeakSet()


def _forget_locks_in_child() -> None:
    for lock in list(_LIVE_LOCKS):
        lock._forget_after_fork()


os.register_at_fork(after_in_child=_forget_locks_in_child)


class FileLock:
    """An advisory `flock` on `path`, exclusive by default.

    Args:
        path: The lock file; created (mode 0644) if missing. Its directory must exist.
        shared: Take a shared (reader) lock instead of an exclusive one.
        timeout: Default seconds `acquire()` waits; None waits forever.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "pool.lock"
        >>> with FileLock(path, timeout=5) as lock:
        ...     lock.locked
        True
    """

    __slots__ = ("__weakref__", "_fd", "_locked", "_op", "path", "shared", "timeout")

    def __init__(self, path: str | os.PathLike[str], *, shared: bool = False, timeout: float | None = None) -> None:
        self.path = Path(path)
        self.shared = shared
        self.timeout = timeout
        self._op = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        self._fd: int | None = None
        self._locked = False
        _LIVE_LOCKS.add(self)

    @property
    def locked(self) -> bool:
        """True while this object holds the lock."""
        return self._locked

    def _open(self) -> int:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise IoFailure(
                f"cannot open lock file {self.path}: {exc.strerror}",
                hint="check that the directory exists and is writable",
                details={"path": str(self.path), "errno": exc.errno},
            ) from exc
        self._fd = fd
        return fd

    def acquire(self, *, timeout: float | None = None, blocking: bool = True) -> bool:
        """Take the lock.

        Args:
            timeout: Seconds to wait; None uses the constructor's timeout (None there waits forever).
            blocking: False makes a single attempt.

        Returns:
            True when the lock is held; False only when `blocking=False` and someone else holds it.

        Raises:
            LockTimeout: the lock stayed busy for `timeout` seconds.
            UsageError: this object already holds the lock.
            IoFailure: the lock file cannot be opened.
        """
        if self._locked:
            raise UsageError(f"lock {self.path} is already held by this FileLock", hint="release it first")
        fd = self._fd if self._fd is not None else self._open()
        wait = self.timeout if timeout is None else timeout
        if blocking and wait is None:
            fcntl.flock(fd, self._op)
            self._locked = True
            return True
        if self._try(fd):
            return True
        if not blocking:
            return False
        assert wait is not None
        deadline = time.monotonic() + wait
        delay = 0.0005
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                mode = "shared" if self.shared else "exclusive"
                raise LockTimeout(
                    f"timed out after {wait:g}s waiting for {mode} lock {self.path}",
                    hint="another process holds it; retry later or raise the timeout",
                    details={"path": str(self.path), "timeout_s": wait},
                )
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.02)
            if self._try(fd):
                return True

    def _try(self, fd: int) -> bool:
        try:
            fcntl.flock(fd, self._op | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                return False
            raise
        self._locked = True
        return True

    def release(self) -> None:
        """Drop the lock (the file stays open for the next `acquire`); a no-op when not held."""
        if self._locked and self._fd is not None:
            self._locked = False
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Release the lock and close the file descriptor."""
        fd, self._fd = self._fd, None
        self._locked = False
        if fd is not None:
            os.close(fd)  # closing the last descriptor drops the flock

    def _forget_after_fork(self) -> None:
        fd, self._fd = self._fd, None
        self._locked = False
        if fd is not None:
            # The parent still references the description, so this close does not unlock it.
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def __repr__(self) -> str:
        mode = "shared" if self.shared else "exclusive"
        return f"FileLock({str(self.path)!r}, {mode}, locked={self._locked})"


# Leases are part of this module's public surface (they live in lease.py to keep modules small).
# They load on first use: lease.py's imports (dataclasses, uuid, secrets) cost a process that only
# takes a FileLock, such as a `grite issue create`, ~10 ms.
if TYPE_CHECKING:
    from toolkit_kernel.lease import FileLeaseStore, Lease, LeaseManager, LeaseStore

_LEASE_NAMES = frozenset({"FileLeaseStore", "Lease", "LeaseManager", "LeaseStore"})


def __getattr__(name: str) -> object:
    if name in _LEASE_NAMES:
        from toolkit_kernel import lease

        return getattr(lease, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
