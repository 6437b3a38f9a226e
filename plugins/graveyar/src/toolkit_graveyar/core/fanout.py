"""One shared tail reader per server that feeds every live subscription.

Before this, each live subscription re-read the store whenever the head moved, so an append
cost one store read per open subscription (inline on the event loop for LMDB) and 2,000
subscribers made one append take seconds. Now a single task reads each new batch of the global
log once, decodes it once and hands it to every joined listener's bounded buffer: an append's
cost no longer depends on how many subscriptions are open. The hand-over itself is sliced
(`DEFAULT_SLICE` listeners at a time, the next slice once the previous one has delivered), so
thousands of subscription deliveries never queue up ahead of a writer on the one event loop they
share.

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
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from toolkit_graveyar.core.codec import decode_record
from toolkit_graveyar.core.model import RecordedEvent

if TYPE_CHECKING:
    from toolkit_graveyar.storage.base import Store

__all__ = [
    "DEFAULT_HANDOVER_WAIT",
    "DEFAULT_LISTENER_CAPACITY",
    "DEFAULT_SLICE",
    "LiveTail",
    "TailEntry",
    "TailListener",
]

log = logging.getLogger("graveyar")

#: Records a listener may hold before it is dropped back to reading the store itself.
DEFAULT_LISTENER_CAPACITY = 10_000

#: Listeners woken per event-loop step: a writer waits behind at most this many subscription steps.
DEFAULT_SLICE = 16

#: Seconds one slice may take to deliver before the next slice is fed anyway.
DEFAULT_HANDOVER_WAIT = 0.05

#: One record of the global log: its decoded form (for filters) and its stored bytes.
TailEntry = tuple[RecordedEvent, bytes]


class TailListener:
    """The buffer between the tail reader and one subscription."""

    def __init__(self, capacity: int, on_ready: Callable[[TailListener], None] | None = None) -> None:
        self._capacity = capacity
        self._items: deque[TailEntry] = deque()
        self._wake = asyncio.Event()
        self._on_ready = on_ready
        self.dropped = False

    def offer(self, batch: list[TailEntry]) -> bool:
        """Queue `batch`; False (and `dropped`) when it would exceed the capacity."""
        if len(self._items) + len(batch) > self._capacity:
            self.drop()
            return False
        self._items.extend(batch)
        self._wake.set()
        return True

    @property
    def holding(self) -> bool:
        """Records wait in this buffer for the subscription to take them."""
        return bool(self._items)

    def drop(self) -> None:
        """Stop feeding this listener; its subscription falls back to reading the store."""
        self.dropped = True
        self._wake.set()

    def wake(self) -> None:
        """Wake the subscription without new records (shutdown)."""
        self._wake.set()

    async def take(self) -> list[TailEntry]:
        """Everything queued, waiting until something is (or the listener is dropped or woken).

        No timeout: every reason to look again (records, a drop, shutdown) sets the wake event.
        A timed wait would cost every idle subscription a task and a timer per interval.
        """
        if self._on_ready is not None:
            # Back for more: whatever this subscription was handed is on its way to the client.
            self._on_ready(self)
        if not self._items and not self.dropped:
            await self._wake.wait()
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
        slice_size: Listeners fed at once (see `_fan_out`).
        handover_wait: Seconds a slice may take to deliver before the next slice starts anyway.
        writers_first: Awaited before each slice: returns once no append is in flight (or after
            a bounded wait), so deliveries yield the event loop to writers (see `_fan_out`).
    """

    def __init__(
        self,
        store: Store,
        *,
        page: int,
        poll_interval: float,
        capacity: int = DEFAULT_LISTENER_CAPACITY,
        slice_size: int = DEFAULT_SLICE,
        handover_wait: float = DEFAULT_HANDOVER_WAIT,
        writers_first: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._writers_first = writers_first
        self.slice_size = max(1, slice_size)
        self._page = page
        self._poll = poll_interval
        self._capacity = capacity
        self._listeners: set[TailListener] = set()
        #: Listeners of the current slice still busy delivering; the next slice waits for them.
        self._busy: set[TailListener] = set()
        self._slice_done = asyncio.Event()
        self.handover_wait = handover_wait
        self._cursor = 0
        self._task: asyncio.Task[None] | None = None
        self._starting: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def listeners(self) -> int:
        """How many subscriptions are currently fed by the tail."""
        return len(self._listeners)

    @property
    def read_up_to(self) -> int:
        """The last position the tail has read (its listeners are being, or have been, handed it)."""
        return self._cursor

    @property
    def delivering(self) -> int:
        """How many subscriptions were handed records they have not taken yet (at most one slice)."""
        return sum(1 for listener in self._listeners if listener.holding)

    async def join(self) -> TailListener:
        """A new listener fed with every record committed after this call returns.

        The caller reads the store once more after joining, so records committed between its
        last read and the join are not lost (duplicates are dropped by position/version).
        """
        if self._task is None:
            if self._starting is None:
                self._starting = asyncio.create_task(self._start())
            await asyncio.shield(self._starting)
        listener = TailListener(self._capacity, self._ready)
        if self._closed:
            listener.drop()
            return listener
        self._listeners.add(listener)
        return listener

    def leave(self, listener: TailListener) -> None:
        """Stop feeding `listener` (its subscription ended or fell back to the store)."""
        self._listeners.discard(listener)
        self._ready(listener)

    def _ready(self, listener: TailListener) -> None:
        """`listener` is waiting for records again (or gone): its part of the slice is done."""
        if listener in self._busy:
            self._busy.discard(listener)
            if not self._busy:
                self._slice_done.set()

    def close(self) -> None:
        """Stop the reader and wake every listener (the server is shutting down)."""
        self._closed = True
        for listener in self._listeners:
            listener.wake()
        if self._task is not None:
            self._task.cancel()

    async def _fan_out(self, batch: list[TailEntry]) -> None:
        """Hand `batch` to every listener, one slice of `slice_size` listeners at a time.

        Each offer wakes a subscription task that frames the batch and writes it to its client.
        Waking them all at once would queue thousands of those steps ahead of every step of a
        concurrent append (its commit, its response) on the one event loop they share, so an
        append's latency would grow with the subscriber count. The next slice starts when the
        previous one has handed its batch on (each of its subscriptions is back waiting) or after
        `handover_wait` seconds (a subscriber blocked by its client's flow control keeps its
        buffer and does not hold up the others), so at most one slice of deliveries competes
        with a writer at any time. And no slice starts while an append is in flight
        (`writers_first`, bounded): the few event-loop steps of an append (its hand-over to the
        store, its resolution, its response) then never queue up behind deliveries.
        """
        listeners = list(self._listeners)
        for start in range(0, len(listeners), self.slice_size):
            if self._writers_first is not None:
                await self._writers_first()
            self._slice_done.clear()
            for listener in listeners[start : start + self.slice_size]:
                # A listener that left (or was dropped) while earlier slices ran is skipped.
                if listener not in self._listeners:
                    continue
                if listener.offer(batch):
                    self._busy.add(listener)
                else:
                    self._listeners.discard(listener)
            if self._busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._slice_done.wait(), self.handover_wait)
                self._busy.clear()
            else:
                await asyncio.sleep(0)

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
                    await self._fan_out(batch)
                    if len(records) < self._page:
                        break
            except Exception as exc:
                log.warning("live tail read failed (%s); subscriptions fall back to their own reads", exc)
                for listener in self._listeners:
                    listener.drop()
                self._listeners.clear()
                await asyncio.sleep(self._poll)
