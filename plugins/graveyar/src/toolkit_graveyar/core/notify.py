"""Wake subscriptions when the global head moves."""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["PositionNotifier"]


class PositionNotifier:
    """Tracks the highest committed global position and wakes waiters when it grows.

    Lives on one event loop; other threads publish through `loop.call_soon_threadsafe`.
    """

    def __init__(self, head: int = 0) -> None:
        self._head = head
        self._event = asyncio.Event()

    @property
    def head(self) -> int:
        """The highest position published so far."""
        return self._head

    def publish(self, head: int) -> None:
        """Record a new head; wakes every waiter if it grew."""
        if head > self._head:
            self._head = head
            event, self._event = self._event, asyncio.Event()
            event.set()

    def kick(self) -> None:
        """Wake every waiter without a new head (used on shutdown)."""
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait_beyond(self, position: int, timeout: float) -> int:
        """Wait until the head passes `position` or `timeout` seconds elapse; return the head."""
        if self._head > position:
            return self._head
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
        return self._head
