"""Scavenging removes the bytes of invisible events, on both backends, and reads stay correct.

Storage and service tests run against LMDB and PostgreSQL (the `store`/`service` fixtures are
parametrized); the end-to-end tests drive `graveyar serve` through the CLI and KurrentDB's
Operations API.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import pytest

from toolkit_graveyar.core.codec import decode_record
from toolkit_graveyar.core.errors import StreamDeleted, StreamNotFound
from toolkit_graveyar.core.model import Expected, ProposedEvent, StreamMetadata
from toolkit_graveyar.core.scavenge import COMPLETED_TYPE, STARTED_TYPE, scavenge_stream_name
from toolkit_graveyar.core.service import EventStoreService

pytestmark = pytest.mark.asyncio

NEEDLE = b"scavenge-me-" + uuid.uuid4().hex.encode()


def ev(data: bytes = b"{}", timestamp: int = 0) -> ProposedEvent:
    return ProposedEvent(str(uuid.uuid4()), "T", data, {}, timestamp, None)


async def stored_events(service: EventStoreService, stream: str) -> int:
    """Events of `stream` physically in the store (PostgreSQL rows / LMDB version index entries)."""
    store: Any = service.store
    if hasattr(store, "_fetch"):
        rows = await store._fetch("SELECT count(*) FROM graveyar_events WHERE stream = %s", (stream,))
        return int(rows[0][0])
    state = await store.stream_state(stream)
    if state is None:
        return 0
    with store._env.begin() as txn:
        cur = txn.cursor(db=store._versions)
        prefix = state.key.to_bytes(8, "big")
        if not cur.set_range(prefix):
            return 0
        return sum(1 for k in cur.iternext(values=False) if k.startswith(prefix))


async def versions(service: EventStoreService, stream: str, **kw: Any) -> list[int]:
    return [
        decode_record(r).version
        for r in await service.read(stream, kw.get("start"), kw.get("backward", False), kw.get("limit", 0))
    ]


async def all_positions(service: EventStoreService) -> list[int]:
    return [decode_record(r).position for r in await service.read("$all", None, False, 0)]


async def test_soft_deleted_events_are_removed_and_a_revived_stream_reads_on(service: EventStoreService) -> None:
    await service.append("gone", [ev(NEEDLE) for _ in range(5)], Expected.no_stream())
    await service.append("kept", [ev()], Expected.any())
    await service.delete_stream("gone", Expected.any())
    counts = getattr(service.store, "entry_counts", None)  # LMDB: entries per database
    before = counts() if counts else None
    purged = await service.store.scavenge_stream("gone")
    assert purged.events == 5
    if counts and before is not None:
        # The records, their version index entries and their event ids are all gone.
        assert counts() == {name: n - 5 for name, n in before.items()}
    assert purged.bytes > 5 * len(NEEDLE)
    assert await stored_events(service, "gone") == 0
    assert await stored_events(service, "kept") == 1
    with pytest.raises(StreamNotFound):
        await service.read("gone", None, False, 0)
    assert await all_positions(service) == [6]
    await service.append("gone", [ev()], Expected.any())
    assert await versions(service, "gone") == [6]
    assert await versions(service, "gone", backward=True) == [6]


async def test_tombstoned_stream_keeps_its_tombstone_and_loses_its_events(service: EventStoreService) -> None:
    await service.append("t", [ev(NEEDLE) for _ in range(3)], Expected.any())
    await service.delete_stream("t", Expected.any(), tombstone=True)
    assert (await service.store.scavenge_stream("t")).events == 3
    assert await stored_events(service, "t") == 0
    with pytest.raises(StreamDeleted):
        await service.read("t", None, False, 0)
    assert await all_positions(service) == []


async def test_max_count_truncation_keeps_the_newest_and_reads_both_ways(service: EventStoreService) -> None:
    await service.append("a", [ev() for _ in range(10)], Expected.any())
    await service.append("b", [ev() for _ in range(4)], Expected.any())
    await service.set_stream_metadata("a", StreamMetadata(max_count=3))
    assert (await service.store.scavenge_stream("a")).events == 7
    assert await stored_events(service, "a") == 3
    assert await versions(service, "a") == [8, 9, 10]
    assert await versions(service, "a", backward=True) == [10, 9, 8]
    assert await versions(service, "a", start=9, backward=True, limit=5) == [9, 8]
    # A second scavenge finds nothing more; the neighbour stream is untouched.
    assert (await service.store.scavenge_stream("a")).events == 0
    assert await versions(service, "b") == [1, 2, 3, 4]


async def test_truncate_before_removes_what_it_hides(service: EventStoreService) -> None:
    await service.append("tb", [ev() for _ in range(6)], Expected.any())
    await service.set_stream_metadata("tb", StreamMetadata(truncate_before=5))
    assert (await service.store.scavenge_stream("tb")).events == 4
    assert await versions(service, "tb") == [5, 6]


async def test_expired_events_leave_gaps_that_reads_step_over(service: EventStoreService) -> None:
    old = int(time.time() * 1000) - 3_600_000
    now = int(time.time() * 1000)
    # Old and fresh events interleaved: the scavenge leaves holes inside the visible range.
    await service.append("age", [ev(timestamp=old if i % 2 == 0 else now) for i in range(10)], Expected.any())
    await service.append("next", [ev() for _ in range(3)], Expected.any())
    await service.set_stream_metadata("age", StreamMetadata(max_age=600))
    assert (await service.store.scavenge_stream("age")).events == 5
    assert await stored_events(service, "age") == 5
    assert await versions(service, "age") == [2, 4, 6, 8, 10]
    assert await versions(service, "age", backward=True) == [10, 8, 6, 4, 2]
    assert await versions(service, "age", start=3, limit=2) == [4, 6]
    assert await versions(service, "age", start=7, backward=True, limit=10) == [6, 4, 2]
    # Reads of one stream never run into the next one's events.
    assert await versions(service, "next") == [1, 2, 3]


async def test_a_relaxed_rule_is_honoured_by_the_transaction_that_deletes(service: EventStoreService) -> None:
    await service.append("r", [ev() for _ in range(5)], Expected.any())
    await service.set_stream_metadata("r", StreamMetadata(max_count=1))
    store: Any = service.store
    # The rule is lifted before the purge runs: nothing may go.
    await service.set_stream_metadata("r", StreamMetadata())
    assert (await store._purge("r", 1, 5)).events == 0
    assert await versions(service, "r") == [1, 2, 3, 4, 5]


async def test_a_scavenge_reports_in_its_stream(service: EventStoreService) -> None:
    await service.append("x", [ev() for _ in range(4)], Expected.any())
    await service.delete_stream("x", Expected.any())
    run, started = service.scavenger.start()
    again, started_again = service.scavenger.start()
    assert started
    assert not started_again
    assert again is run
    await asyncio.wait_for(run.done.wait(), 60)
    events = [decode_record(r) for r in await service.read(scavenge_stream_name(run.scavenge_id), None, False, 0)]
    assert [e.event_type for e in events] == [STARTED_TYPE, COMPLETED_TYPE]
    report = json.loads(events[1].data)
    assert report["result"] == "Success"
    assert report["eventsRemoved"] == 4
    assert report["streamsScanned"] >= 1
    assert await stored_events(service, "x") == 0


async def test_a_stopped_scavenge_says_so_and_an_unknown_id_is_not_found(service: EventStoreService) -> None:
    with pytest.raises(StreamNotFound):
        service.scavenger.stop("no-such-scavenge")
    await service.append("y", [ev()], Expected.any())
    run, _ = service.scavenger.start()
    service.scavenger.stop(run.scavenge_id)  # before it ran a single chunk
    await asyncio.wait_for(run.done.wait(), 60)
    assert run.result == "Stopped"
    with pytest.raises(StreamNotFound):
        service.scavenger.stop(run.scavenge_id)  # no longer running
