"""Fan-out never blocks writers: one shared tail reader feeds every live subscription.

Runs against both backends (the `service` fixture is parametrized lmdb/postgres).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import pytest

from toolkit_graveyar.core.codec import decode_record
from toolkit_graveyar.core.fanout import LiveTail
from toolkit_graveyar.core.model import Expected, ProposedEvent
from toolkit_graveyar.core.service import EventStoreService

pytestmark = pytest.mark.asyncio

SUBSCRIBERS = 1_200
APPENDS = 10
#: Generous: the old per-subscriber re-read took seconds per append at this subscriber count.
APPEND_BOUND_SECONDS = 1.0


def ev(event_type: str = "T") -> ProposedEvent:
    return ProposedEvent(str(uuid.uuid4()), event_type, b"{}")


async def test_append_latency_is_bounded_with_many_live_subscriptions(service: EventStoreService) -> None:
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
    latencies = []
    for _ in range(APPENDS):
        started = time.perf_counter()
        await service.append("hot", [ev()], Expected.any())
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.01)
    await asyncio.wait_for(asyncio.gather(*tasks), 120)
    assert max(latencies) < APPEND_BOUND_SECONDS, latencies
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
        started = time.perf_counter()
        await service.append(f"s-{i % 4}", [ev()], Expected.any())
        assert time.perf_counter() - started < APPEND_BOUND_SECONDS
    await asyncio.sleep(0.5)
    assert service.tail.listeners == 0  # dropped: it fell more than 3 records behind
    release.set()
    await asyncio.wait_for(task, 20)
    assert got == list(range(1, 41))


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
