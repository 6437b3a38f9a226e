"""The writer lock: an exclusive `flock` on the pool file plus a thread lock.

`flock` excludes other processes (and other open file descriptions in this one);
the thread lock excludes threads sharing one open pool, which `flock` cannot.
"""

from __future__ import annotations

import fcntl
import threading

__all__ = ["WriterLock"]


class WriterLock:
    """Exclusive writer lock on an open pool file descriptor (released when the process dies)."""

    __slots__ = ("_fd", "_thread")

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._thread = threading.Lock()

    def acquire(self) -> None:
        """Block until this process holds the pool's writer lock."""
        self._thread.acquire()
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread.release()
            raise

    def release(self) -> None:
        """Release the writer lock."""
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread.release()

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()
