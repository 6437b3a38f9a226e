"""The writer lock: an exclusive `flock` on the pool file plus a thread lock.

`flock` excludes other processes (and other open file descriptions in this one);
the thread lock excludes threads sharing one open pool, which `flock` cannot.
"""

from __future__ import annotations

import fcntl
import threading

__all__ = ["WriterLock"]

#: Non-blocking attempts before blocking: about 10 us, a few times what an append holds the lock.
_SPIN_ATTEMPTS = 8
_TRY = fcntl.LOCK_EX | fcntl.LOCK_NB


class WriterLock:
    """Exclusive writer lock on an open pool file descriptor (released when the process dies)."""

    __slots__ = ("_fd", "_thread")

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._thread = threading.Lock()

    def acquire(self) -> None:
        """Block until this process holds the pool's writer lock.

        A few non-blocking attempts come first: the lock is held for a couple of
        microseconds, so a holder running on another CPU is usually done before a
        blocked waiter would even be woken (sleeping and waking costs tens of
        microseconds of CPU and latency). Then the ordinary blocking `flock`.
        """
        self._thread.acquire()
        try:
            fcntl.flock(self._fd, _TRY)  # the common case, uncontended: one system call as before
        except BlockingIOError:
            self._contended()
        except BaseException:
            self._thread.release()
            raise

    def _contended(self) -> None:
        """The lock was busy: the remaining non-blocking attempts, then block (thread lock held)."""
        try:
            fd = self._fd
            for _ in range(_SPIN_ATTEMPTS - 1):
                try:
                    fcntl.flock(fd, _TRY)
                    return
                except BlockingIOError:
                    pass
            fcntl.flock(fd, fcntl.LOCK_EX)
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
