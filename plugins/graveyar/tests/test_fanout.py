"""Fan-out never blocks writers: one shared tail reader feeds every live subscription, a slice at a time.

Runs against both backends (the `service` fixture is parametrized lmdb/postgres). Append latency
itself is measured by tools/bench/graveyar.py (w5), not asserted here.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from toolkit_graveyar.core.codec import decode_record
from toolkit_graveyar.core.fanout import LiveTail
from toolkit_graveyar.core.model import Expected, ProposedEvent
from toolkit_graveyar.core.service import EventStoreService

pytestmark = pytest.mark.asyncio

SUBSCRIBERS = 1_200
APPENDS = 10


def ev(event_type: str = "T") -> ProposedEvent:
    return ProposedEvent(str(uuid.uuid4()), event_type, b"{}")


async def test_many_live_subscriptions_each_get_every_event_once_in_order(service: EventStoreService) -> None:
    await service.append("seed", [ev()], Expected.any())
    got: list[list[int]] = [[] for _ in range(SUBSCRIBERS)]
    caught = [asyncio.Event() for _ in range(SUBSCRIBERS)]

    async def consume(i: int) -> None:
        # Half follow $all (positions), half follow one stream (versions).
        stream = "$all" if i % 2 == 0 else "hot"
        # aclosing: the subscription unregisters when it is closed, which a consumer that stops early
        # must do itself (CPython 3.12+ no longer finalizes an abandoned async generator at once).
        async with contextlib.aclosing(service.subscribe(stream, None)) as items:
            async for item in items:
                if item.kind == "events":
                    for r in item.records:
                        e = decode_record(r)
                        got[i].append(e.position if stream == "$all" else e.version)
                elif item.kind == "caught_up":
                    caught[i].set()
                want = APPENDS + 1 if stream == "$all" else APPENDS
                if len(got[i]) >= want:
                    return

    tasks = [asyncio.create_task(consume(i)) for i in range(SUBSCRIBERS)]
    await asyncio.wait_for(asyncio.gather(*(c.wait() for c in caught)), 120)
    assert service.tail.listeners == SUBSCRIBERS
    for _ in range(APPENDS):
        await service.append("hot", [ev()], Expected.any())
    await asyncio.wait_for(asyncio.gather(*tasks), 120)
    for i, seen in enumerate(got):
        # Every event exactly once, in order.
        assert seen == (list(range(1, APPENDS + 2)) if i % 2 == 0 else list(range(1, APPENDS + 1))), (i, seen)
    await asyncio.sleep(0)
    assert service.tail.listeners == 0


async def test_a_slow_subscriber_is_dropped_to_its_own_reads_and_misses_nothing(service: EventStoreService) -> None:
    # A tiny buffer: the subscriber overflows it and must catch up from the store by itself.
    service.tail = LiveTail(service.store, page=service.limits.max_read_page, poll_interval=0.2, capacity=3)
    got: list[int] = []
    caught = asyncio.Event()
    release = asyncio.Event()

    async def consume() -> None:
        async for item in service.subscribe("$all", None):
            if item.kind == "caught_up":
                caught.set()
                await release.wait()  # stall while the writer runs ahead
            for r in item.records:
                got.append(decode_record(r).position)
            if len(got) >= 40:
                return

    task = asyncio.create_task(consume())
    await asyncio.wait_for(caught.wait(), 10)
    for i in range(40):
        await service.append(f"s-{i % 4}", [ev()], Expected.any())
    # Dropped: it fell more than 3 records behind (the tail drops it while fanning out).
    await _eventually(lambda: service.tail.listeners == 0)
    release.set()
    await asyncio.wait_for(task, 20)
    assert got == list(range(1, 41))


async def _eventually(condition: Callable[[], bool], deadline: float = 60.0) -> None:
    """Wait (generously: the machine is shared) until `condition` holds."""
    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, "condition not reached"
        await asyncio.sleep(0.01)


async def test_the_tail_hands_a_batch_to_one_slice_of_subscriptions_at_a_time(service: EventStoreService) -> None:
    # Small slices, many subscriptions: a writer never waits behind more than one slice of deliveries.
    service.tail = LiveTail(service.store, page=service.limits.max_read_page, poll_interval=0.2, slice_size=4)
    subscribers = 40
    got = [0] * subscribers
    caught = [asyncio.Event() for _ in range(subscribers)]

    async def consume(i: int) -> None:
        async with contextlib.aclosing(service.subscribe("$all", None)) as items:
            async for item in items:
                if item.kind == "caught_up":
                    caught[i].set()
                got[i] += len(item.records)
                if got[i] >= 3:
                    return

    tasks = [asyncio.create_task(consume(i)) for i in range(subscribers)]
    await asyncio.wait_for(asyncio.gather(*(c.wait() for c in caught)), 60)
    most = 0
    for n in range(3):
        await service.append(f"w-{n}", [ev()], Expected.any())
        while any(g < n + 1 for g in got):
            most = max(most, service.tail.delivering)
            await asyncio.sleep(0)
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    assert most <= 4
    assert got == [3] * subscribers


async def _held_append(service: EventStoreService, stream: str, release: asyncio.Event) -> asyncio.Task[Any]:
    """Start an append to `stream` that stays in flight (in the store call) until `release` is set."""
    real = service.store.append

    async def held(s: str, events: Any, expected: Expected) -> Any:
        if s == stream:
            await release.wait()
        return await real(s, events, expected)

    service.store.append = held  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(service.append(stream, [ev()], Expected.any()))
    await _eventually(lambda: service.writing == 1)
    return task


async def _live_subscribers(service: EventStoreService, n: int, got: list[list[int]]) -> list[asyncio.Task[None]]:
    caught = [asyncio.Event() for _ in range(n)]

    async def consume(i: int) -> None:
        async with contextlib.aclosing(service.subscribe("$all", None)) as items:
            async for item in items:
                if item.kind == "caught_up":
                    caught[i].set()
                got[i].extend(decode_record(r).position for r in item.records)

    tasks = [asyncio.create_task(consume(i)) for i in range(n)]
    await asyncio.wait_for(asyncio.gather(*(c.wait() for c in caught)), 60)
    return tasks


class HeldWriter:
    """Three live `$all` subscribers, an append held in flight, and one record written past the service."""

    def __init__(self, service: EventStoreService) -> None:
        self.service = service
        self.got: list[list[int]] = [[] for _ in range(3)]
        self.release = asyncio.Event()
        self.position = 0  # of the record written past the service

    async def __aenter__(self) -> HeldWriter:
        self.tasks = await _live_subscribers(self.service, 3, self.got)
        self.held = await _held_append(self.service, "held", self.release)
        # No writer of its own in flight: the tail reads it while the held append is in flight.
        r = await self.service.store.append("other", await self.service.prepare([ev()]), Expected.any())
        self.position = r.position
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(self.held, *self.tasks, return_exceptions=True)


async def test_no_slice_is_fed_while_an_append_is_in_flight(service: EventStoreService) -> None:
    # Writers first: deliveries wait for in-flight appends, so an append's own event-loop steps
    # never queue up behind thousands of subscription steps.
    service.writers_first_wait = 600.0
    async with HeldWriter(service) as w:
        await _eventually(lambda: service.tail.read_up_to >= w.position)
        for _ in range(50):
            await asyncio.sleep(0)
        assert w.got == [[], [], []]
        w.release.set()
        done = await asyncio.wait_for(w.held, 30)
        await _eventually(lambda: all(g == [w.position, done.position] for g in w.got))


async def test_appends_in_flight_delay_deliveries_only_for_a_bounded_time(service: EventStoreService) -> None:
    # An append that never finishes (or a steady stream of them) cannot starve subscriptions.
    service.writers_first_wait = 0.05
    async with HeldWriter(service) as w:
        await _eventually(lambda: all(g == [w.position] for g in w.got))
        assert service.writing == 1  # still in flight


async def test_shutdown_ends_live_subscriptions_fed_by_the_tail(service: EventStoreService) -> None:
    from toolkit_graveyar.core.errors import Unavailable

    caught = asyncio.Event()

    async def consume() -> None:
        async for item in service.subscribe("$all", None):
            if item.kind == "caught_up":
                caught.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(caught.wait(), 10)
    service.shutdown()
    with pytest.raises(Unavailable):
        await asyncio.wait_for(task, 10)


async def test_a_burst_of_subscriptions_beyond_grpc_pending_call_queue_all_start(proc_server: Any) -> None:
    # gRPC core queues at most 1,000 calls the server has not picked up yet by default and
    # cancels the rest: a burst of reconnecting subscribers lost hundreds before the server raised it.
    from toolkit_graveyar.client import AsyncGraveyarClient

    srv = proc_server("--bind", "127.0.0.1:0", "--data-dir", str(Path(tempfile.mkdtemp(prefix="gy-burst-")) / "data"))
    burst = 1_500
    clients = [AsyncGraveyarClient(srv.address) for _ in range(burst // 100)]
    caught = 0

    async def follow(i: int) -> None:
        nonlocal caught
        async with contextlib.aclosing(clients[i // 100].subscribe("$all", None, resume=False)) as items:
            async for msg in items:
                if msg.kind == "caught_up":
                    caught += 1
                    return

    try:
        # Connections first: the burst is of calls, and a loaded machine once did not set up a
        # connection within gRPC's connect timeout while 1,500 calls were already queued on it.
        await asyncio.wait_for(asyncio.gather(*(c.list_streams() for c in clients)), 120)
        await asyncio.wait_for(asyncio.gather(*(follow(i) for i in range(burst))), 240)
    finally:
        for c in clients:
            await c.close()
    assert caught == burst
