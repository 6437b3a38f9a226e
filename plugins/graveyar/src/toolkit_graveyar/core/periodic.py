"""A background task that repeats an action on the event loop until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

__all__ = ["Periodic"]

log = logging.getLogger("graveyar")


class Periodic:
    """Runs `action` every `interval` seconds; a failure is logged and the next run comes anyway.

    Args:
        name: The task's name, also used in log lines.
    """

    def __init__(self, name: str, interval: float, action: Callable[[], Awaitable[None]]) -> None:
        self.name = name
        self.interval = interval
        self.action = action
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start repeating (the first run comes after one interval)."""
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Stop repeating and wait for the task to end."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.action()
            except Exception as exc:  # e.g. the backend is away: the next run tries again
                log.warning("%s failed: %s", self.name, exc)
