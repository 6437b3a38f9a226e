"""The pipe reader thread: drains every child's stdout/stderr into the log store.

One thread serves all children through epoll, so a busy event loop (TUI rendering, a big
HTTP response) can never leave a pipe full and freeze a child. The thread never waits on
a consumer; it only tells the event loop, at most once per wake-up, that logs changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import select
import threading
import time
from collections.abc import Callable

from toolkit_pom.core.logstore import ProcessLog, split_chunk
from toolkit_pom.core.record import Record, field

__all__ = ["ChangeNotifier", "PipeReader"]

_READ_SIZE = 256 * 1024
_F_SETPIPE_SZ = 1031
_PIPE_SIZE = 1 << 20


class ChangeNotifier:
    """Wakes asyncio waiters when logs change; safe to poke from any thread, coalesced."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._event = asyncio.Event()
        self._pending = False
        self._lock = threading.Lock()

    def notify_threadsafe(self) -> None:
        """Schedule one wake-up of all current waiters (no-op when one is already scheduled)."""
        with self._lock:
            if self._pending:
                return
            self._pending = True
        with contextlib.suppress(RuntimeError):  # loop closed during shutdown
            self.loop.call_soon_threadsafe(self._fire)

    def notify(self) -> None:
        """Wake all current waiters now (call from the loop thread)."""
        self._fire()

    def _fire(self) -> None:
        with self._lock:
            self._pending = False
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait for the next change; return False on timeout."""
        event = self._event
        # asyncio.wait, not wait_for: on 3.11 wait_for can swallow a cancellation that races
        # with the event firing, which would leave a cancelled probe task running forever.
        waiter = asyncio.ensure_future(event.wait())
        try:
            done, _ = await asyncio.wait({waiter}, timeout=timeout)
        finally:
            if not waiter.done():
                waiter.cancel()
        return bool(done)


class _Pipe(Record):
    fd: int
    log: ProcessLog
    stream: int
    on_eof: Callable[[], None]
    carry: bytes = field(default=b"")


class PipeReader(threading.Thread):
    """Reads registered pipe fds until EOF and appends their lines to process logs.

    Args:
        notifier: Told (coalesced) after each batch of reads.
    """

    def __init__(self, notifier: ChangeNotifier) -> None:
        super().__init__(name="pom-pipe-reader", daemon=True)
        self.notifier = notifier
        self._epoll = select.epoll()
        self._pipes: dict[int, _Pipe] = {}
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._epoll.register(self._wake_r, select.EPOLLIN)
        self._stopping = False
        self.bytes_read = 0

    def add(self, fd: int, log: ProcessLog, stream: int, on_eof: Callable[[], None]) -> None:
        """Start reading `fd` (the reader owns and closes it); `on_eof` runs in the loop thread at EOF."""
        with contextlib.suppress(OSError):  # may exceed pipe-max-size; the default size still works
            fcntl.fcntl(fd, _F_SETPIPE_SZ, _PIPE_SIZE)
        os.set_blocking(fd, False)
        self._pipes[fd] = _Pipe(fd, log, stream, on_eof)
        self._epoll.register(fd, select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR)

    def stop(self) -> None:
        """Ask the thread to finish (pending pipes are closed) and wait for it."""
        self._stopping = True
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        if self.is_alive():
            self.join(timeout=5)
        for fd in list(self._pipes):
            self._close(fd)
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._epoll.close()

    def _close(self, fd: int) -> _Pipe | None:
        pipe = self._pipes.pop(fd, None)
        with contextlib.suppress(OSError, ValueError):
            self._epoll.unregister(fd)
        with contextlib.suppress(OSError):
            os.close(fd)
        return pipe

    def _drain(self, pipe: _Pipe) -> bool:
        """Read what is available; return False at EOF."""
        now = time.time()
        for _ in range(8):  # bounded so one chatty child cannot starve the others
            try:
                data = os.read(pipe.fd, _READ_SIZE)
            except BlockingIOError:
                return True
            except OSError:
                data = b""
            if not data:
                if pipe.carry:
                    lines, rest = split_chunk(pipe.carry, b"\n")
                    pipe.carry = rest
                    pipe.log.append(pipe.stream, lines, now)
                return False
            self.bytes_read += len(data)
            lines, pipe.carry = split_chunk(pipe.carry, data)
            if lines:
                pipe.log.append(pipe.stream, lines, now)
            if len(data) < _READ_SIZE:
                return True
        return True

    def run(self) -> None:
        """Poll and drain until stopped."""
        while not self._stopping:
            try:
                events = self._epoll.poll(1.0)
            except OSError:
                if self._stopping:
                    return
                raise
            changed = False
            for fd, _mask in events:
                if fd == self._wake_r:
                    with contextlib.suppress(OSError):
                        os.read(self._wake_r, 4096)
                    continue
                pipe = self._pipes.get(fd)
                if pipe is None:
                    continue
                changed = True
                if not self._drain(pipe):
                    self._close(fd)
                    with contextlib.suppress(RuntimeError):
                        self.notifier.loop.call_soon_threadsafe(pipe.on_eof)
            if changed:
                self.notifier.notify_threadsafe()
