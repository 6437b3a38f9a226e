"""plasmite's follow wake-up: a POSIX named semaphore per pool file (format 3 pools).

Writers post `/plsm-<sha256(realpath)>` after each append; followers poll `sem_trywait`.
Best effort on both sides: a semaphore that cannot be opened means plain polling.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import hashlib
import os
import sys
import threading
import time

__all__ = ["PoolSemaphore", "semaphore_name"]

_O_CREAT = os.O_CREAT
_DRAIN_MAX = 4096
_libc: ctypes.CDLL | None = None
_libc_lock = threading.Lock()


def _lib() -> ctypes.CDLL | None:
    global _libc
    if _libc is not None or not sys.platform.startswith("linux"):
        return _libc
    with _libc_lock:
        if _libc is None:
            try:
                lib = ctypes.CDLL(None, use_errno=True)
                lib.sem_open.restype = ctypes.c_void_p
                lib.sem_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_uint, ctypes.c_uint]
                lib.sem_post.argtypes = [ctypes.c_void_p]
                lib.sem_trywait.argtypes = [ctypes.c_void_p]
                lib.sem_close.argtypes = [ctypes.c_void_p]
                _libc = lib
            except (OSError, AttributeError):
                return None
    return _libc


def semaphore_name(path: str) -> bytes:
    """The semaphore name plasmite derives from a pool path (hex SHA-256 of its realpath)."""
    try:
        canonical = os.path.realpath(path, strict=True)
    except OSError:
        canonical = path
    return b"/plsm-" + hashlib.sha256(os.fsencode(canonical)).hexdigest().encode("ascii")


class PoolSemaphore:
    """The named semaphore of one pool file (opened lazily, closed with the pool)."""

    def __init__(self, path: str) -> None:
        self._name = semaphore_name(path)
        self._handle: int | None = None
        self._failed = False

    def _open(self) -> int | None:
        if self._handle is not None or self._failed:
            return self._handle
        lib = _lib()
        if lib is None:
            self._failed = True
            return None
        handle = lib.sem_open(self._name, _O_CREAT, 0o600, 0)
        if not handle:
            self._failed = True
            return None
        self._handle = int(handle)
        return self._handle

    def post(self) -> None:
        """Wake one waiting follower (ignored if the semaphore is unavailable)."""
        handle = self._open()
        if handle is not None:
            _libc.sem_post(handle)  # type: ignore[union-attr]

    @property
    def available(self) -> bool:
        """True when the semaphore could be opened."""
        return self._open() is not None

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for a post (polled every 5 ms); True when woken."""
        handle = self._open()
        deadline = time.monotonic() + timeout
        if handle is None:
            time.sleep(max(0.0, timeout))
            return False
        lib = _libc
        assert lib is not None
        while True:
            if lib.sem_trywait(handle) == 0:
                # Posts pile up while nobody follows: drain them so the next wait really waits.
                for _ in range(_DRAIN_MAX):
                    if lib.sem_trywait(handle) != 0:
                        break
                return True
            if ctypes.get_errno() not in (errno.EAGAIN, errno.EINTR):
                time.sleep(max(0.0, deadline - time.monotonic()))
                return False
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(0.005, left))

    def close(self) -> None:
        """Close the handle (the name stays, as plasmite leaves it)."""
        if self._handle is not None and _libc is not None:
            _libc.sem_close(self._handle)
        self._handle = None
