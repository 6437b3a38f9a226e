"""One shared tail reader per server that feeds every live subscription.

Before this, each live subscription re-read the store whenever the head moved, so an append
cost one store read per open subscription (inline on the event loop for LMDB) and 2,000
subscribers made one append take seconds. Now a single task reads each new batch of the global
log once, decodes it once and hands it to every joined listener's bounded buffer: an append's
cost no longer depends on how many subscriptions are open.

A listener that falls more than `capacity` records behind is dropped (`dropped` set); its
subscription drains what it was given and goes back to reading the store at its own pace, then
joins again. A failed tail read drops every listener the same way, so each subscription meets the
error on its own read and reports it to its client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import TYPE_CHECKING

from toolkit_graveyar.core.codec import decode_record
from toolkit_graveyar.core.model import RecordedEvent

if TYPE_CHECKING:
    from toolkit_graveyar.storage.base import Store

__all__ = ["DEFAULT_LISTENER_CAPACITY", "LiveTail", "TailEntry", "TailListener"]

log = logging.getLogger("graveyar")

#: Records a listener may hold before it is dropped back to reading the store itself.
DEFAULT_LISTENER_CAPACITY = 10_000

#: One record of the global log: its decoded form (for filters) and its stored bytes.
TailEntry = tuple[RecordedEvent, bytes]


class TailListener:
    """The buffer between the tail reader and one subscription."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: deque[TailEntry] = deque()
        self._wake = asyncio.Event()
        self.dropped = False

    def offer(self, batch: list[TailEntry]) -> bool:
        """Queue `batch`; False (and `dropped`) when it would exceed the capacity."""
        if len(self._items) + len(batch) > self._capacity:
            self.drop()
            return False
        self._items.extend(batch)
        self._wake.set()
        return True

    def drop(self) -> None:
        """Stop feeding this listener; its subscription falls back to reading the store."""
        self.dropped = True
        self._wake.set()

    def wake(self) -> None:
        """Wake the subscription without new records (shutdown)."""
        self._wake.set()

    async def take(self, timeout: float) -> list[TailEntry]:
        """Everything queued, waiting up to `timeout` seconds when nothing is."""
        if not self._items and not self.dropped:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()
        out = list(self._items)
        self._items.clear()
        return out


class LiveTail:
    """Reads the global log once per batch and fans each batch out to the joined listeners.

    Args:
        store: The backend; its `notifier` says when the head moved.
        page: Records per tail read.
        poll_interval: Seconds to wait for a notification before reading anyway.
        capacity: Records a listener may hold before it is dropped.
    """

    def __init__(
        self, store: Store, *, page: int, poll_interval: float, capacity: int = DEFAULT_LISTENER_CAPACITY
    ) -> None:
        self._store = store
        self._page = page
        self._poll = poll_interval
        self._capacity = capacity
        self._listeners: set[TailListener] = set()
        self._cursor = 0
        self._task: asyncio.Task[None] | None = None
        self._starting: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def listeners(self) -> int:
        """How many subscriptions are currently fed by the tail."""
        return len(self._listeners)

    async def join(self) -> TailListener:
        """A new listener fed with every record committed after this call returns.

        The caller reads the store once more after joining, so records committed between its
        last read and the join are not lost (duplicates are dropped by position/version).
        """
        if self._task is None:
            if self._starting is None:
                self._starting = asyncio.create_task(self._start())
            await asyncio.shield(self._starting)
        listener = TailListener(self._capacity)
        if self._closed:
            listener.drop()
            return listener
        self._listeners.add(listener)
        return listener

    def leave(self, listener: TailListener) -> None:
        """Stop feeding `listener` (its subscription ended or fell back to the store)."""
        self._listeners.discard(listener)

    def close(self) -> None:
        """Stop the reader and wake every listener (the server is shutting down)."""
        self._closed = True
        for listener in self._listeners:
            listener.wake()
        if self._task is not None:
            self._task.cancel()

    async def _start(self) -> None:
        # Every record up to the current head is visible to a store read made after this point.
        self._cursor = await self._store.head()
        self._task = asyncio.create_task(self._run(), name="graveyar-live-tail")

    async def _run(self) -> None:
        notifier = self._store.notifier
        while not self._closed:
            await notifier.wait_beyond(self._cursor, self._poll)
            if self._closed:
                return
            if not self._listeners:
                # Nobody to feed: keep the cursor at the head without reading records.
                self._cursor = max(self._cursor, notifier.head)
                continue
            try:
                while True:
                    records = await self._store.read_all(self._cursor + 1, False, self._page)
                    if not records:
                        break
                    batch = [(decode_record(r), r) for r in records]
                    self._cursor = batch[-1][0].position
                    for listener in list(self._listeners):
                        if not listener.offer(batch):
                            self._listeners.discard(listener)
                    if len(records) < self._page:
                        break
                    await asyncio.sleep(0)
            except Exception as exc:
                log.warning("live tail read failed (%s); subscriptions fall back to their own reads", exc)
                for listener in self._listeners:
                    listener.drop()
                self._listeners.clear()
                await asyncio.sleep(self._poll)
