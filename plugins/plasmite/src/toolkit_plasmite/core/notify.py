"""Follow wake-ups: inotify on the pool file when available, plain sleeping otherwise.

Wake-ups only shorten waits; callers always re-check the pool state, so a missed or
spurious wake-up never changes what a follower delivers.
"""

from __future__ import annotations

import ctypes
import os
import select
import sys
import time

from toolkit_plasmite.core.pool import PoolFile

__all__ = ["Waiter"]

_IN_MODIFY = 0x2
_IN_NONBLOCK = 0o4000
_IN_CLOEXEC = 0o2000000
_REFRESH_NS = 1_000_000_000


def _inotify_fd(path: str) -> int | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = int(libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC))
        if fd < 0:
            return None
        if int(libc.inotify_add_watch(fd, os.fsencode(path), _IN_MODIFY)) < 0:
            os.close(fd)
            return None
        return fd
    except (OSError, AttributeError):
        return None


class Waiter:
    """Sleeps between polls, waking early when a writer signals a commit.

    Args:
        pool: The open pool.
        notify: Use wake-ups (False: pure polling, as `--no-notify`).
    """

    def __init__(self, pool: PoolFile, notify: bool = True) -> None:
        self._pool = pool
        # Format 3: plasmite's named semaphore (its writers post it, so do ours); format 100: inotify.
        sem = pool.semaphore if notify else None
        self._sem = sem if sem is not None and sem.available else None
        legacy = notify and pool.writable and pool.semaphore is None
        self._fd = _inotify_fd(str(pool.path)) if legacy else None
        self._requested_at = 0

    @property
    def active(self) -> bool:
        """True when wake-ups are in use."""
        return self._fd is not None or self._sem is not None

    def arm(self) -> None:
        """Ask writers for wake-ups (refreshed about once a second); call before re-checking state."""
        if self._fd is None:
            return
        now = time.monotonic_ns()
        if now - self._requested_at > _REFRESH_NS:
            self._pool.request_wakeups(2.0)
            self._requested_at = now

    def wait(self, timeout: float) -> None:
        """Wait up to `timeout` seconds, returning early on a wake-up."""
        if timeout <= 0:
            return
        if self._sem is not None:
            self._sem.wait(timeout)
            return
        if self._fd is None:
            time.sleep(timeout)
            return
        ready, _, _ = select.select([self._fd], [], [], timeout)
        if ready:
            try:
                while os.read(self._fd, 4096):
                    pass
            except BlockingIOError:
                pass

    def close(self) -> None:
        """Release the inotify descriptor."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
