"""The storage contract: every backend must pass every test here (parametrized lmdb/postgres)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import pytest

from toolkit_graveyar.core.codec import decode_record
from toolkit_graveyar.core.errors import (
    DuplicateEventId,
    InvalidRequest,
    SchemaViolation,
    SnapshotRejected,
    StreamNotFound,
    WrongExpectedVersion,
)
from toolkit_graveyar.core.model import Expected, ProposedEvent, Snapshot, StreamMetadata, Transition
from toolkit_graveyar.core.service import EventStoreService

pytestmark = pytest.mark.asyncio


def ev(event_type: str = "T", data: bytes = b"{}", **kw: Any) -> ProposedEvent:
    return ProposedEvent(kw.pop("event_id", str(uuid.uuid4())), event_type, data, **kw)


async def read(
    service: EventStoreService, stream: str, start: int | None = None, backward: bool = False, limit: int = 0
) -> list[Any]:
    return [decode_record(r) for r in await service.read(stream, start, backward, limit)]


async def test_append_assigns_versions_and_positions(service: EventStoreService) -> None:
    r1 = await service.append("order-1", [ev(), ev()], Expected.no_stream())
    assert (r1.first_version, r1.version, r1.first_position, r1.position) == (1, 2, 1, 2)
    r2 = await service.append("order-2", [ev()], Expected.any())
    assert (r2.version, r2.position) == (1, 3)
    r3 = await service.append("order-1", [ev()], Expected.exact(2))
    assert (r3.first_version, r3.version, r3.position) == (3, 3, 4)
    events = await read(service, "order-1")
    assert [(e.version, e.position) for e in events] == [(1, 1), (2, 2), (3, 4)]
    assert await service.store.head() == 4


async def test_expected_states(service: EventStoreService) -> None:
    with pytest.raises(WrongExpectedVersion) as exc:
        await service.append("s", [ev()], Expected.stream_exists())
    assert exc.value.details == {"stream": "s", "expected": "stream_exists", "actual": 0}
    await service.append("s", [ev()], Expected.exact(0))
    with pytest.raises(WrongExpectedVersion):
        await service.append("s", [ev()], Expected.no_stream())
    with pytest.raises(WrongExpectedVersion) as exc:
        await service.append("s", [ev()], Expected.exact(5))
    assert exc.value.details["expected"] == "5"
    assert exc.value.details["actual"] == 1
    await service.append("s", [ev()], Expected.stream_exists())
    assert (await service.stream_info("s")).version == 2


async def test_batch_is_atomic_on_conflict(service: EventStoreService) -> None:
    await service.append("s", [ev()], Expected.any())
    with pytest.raises(WrongExpectedVersion):
        await service.append("s", [ev(), ev(), ev()], Expected.exact(0))
    assert len(await read(service, "s")) == 1
    assert await service.store.head() == 1


async def test_prefix_distinct_streams_never_mix(service: EventStoreService) -> None:
    await service.append("a", [ev(data=b"1")], Expected.any())
    await service.append("a:b", [ev(data=b"2")], Expected.any())
    await service.append("ab", [ev(data=b"3")], Expected.any())
    await service.append("a%", [ev(data=b"4")], Expected.any())
    await service.append("a\\b é", [ev(data=b"5")], Expected.any())  # a backslash and non-ASCII
    assert [(e.stream, e.data) for e in await read(service, "a\\b é")] == [("a\\b é", b"5")]
    assert [e.data for e in await read(service, "a")] == [b"1"]
    assert [e.data for e in await read(service, "a:b")] == [b"2"]
    assert [s.stream for s in await service.list_streams("a")] == sorted(["a", "a%", "a:b", "ab", "a\\b é"])
    assert [s.stream for s in await service.list_streams("a:")] == ["a:b"]
    assert [s.stream for s in await service.list_streams("a", after="a:b")] == ["a\\b é", "ab"]


async def test_idempotent_retry(service: EventStoreService) -> None:
    batch = [ev(data=b"x"), ev(data=b"y")]
    first = await service.append("s", batch, Expected.no_stream())
    again = await service.append("s", batch, Expected.no_stream())
    assert again.duplicate
    assert (again.first_version, again.version, again.first_position, again.position) == (1, 2, 1, 2)
    assert not first.duplicate
    assert len(await read(service, "s")) == 2
    # same id, different content: refused
    with pytest.raises(DuplicateEventId):
        await service.append("s", [ProposedEvent(batch[0].event_id, "T", b"other")], Expected.any())
    # same id in another stream: refused
    with pytest.raises(DuplicateEventId):
        await service.append("other", [batch[0]], Expected.any())
    # partial overlap: refused, nothing written
    with pytest.raises(DuplicateEventId):
        await service.append("s", [batch[1], ev()], Expected.any())
    assert await service.store.head() == 2


async def test_retry_wins_over_a_stale_expected_version(service: EventStoreService) -> None:
    batch = [ev(), ev()]
    first = await service.append("s", batch, Expected.exact(0))
    await service.append("s", [ev()], Expected.exact(2))
    again = await service.append("s", batch, Expected.exact(0))  # the stream moved on since
    assert again.duplicate
    assert (again.first_version, again.version, again.position) == (1, 2, first.position)
    # a conflict without recorded ids is still a conflict, and writes nothing
    with pytest.raises(WrongExpectedVersion):
        await service.append("s", [ev()], Expected.exact(0))
    assert await service.store.head() == 3


async def test_refused_append_records_none_of_its_ids(service: EventStoreService) -> None:
    old, new = ev(), ev()
    await service.append("s", [old], Expected.any())
    with pytest.raises(DuplicateEventId):
        await service.append("s", [new, old], Expected.any())
    with pytest.raises(DuplicateEventId):
        await service.append("fresh", [new, old], Expected.any())
    with pytest.raises(StreamNotFound):
        await service.stream_info("fresh")
    r = await service.append("s", [new], Expected.exact(1))
    assert (r.version, r.position, r.duplicate) == (2, 2, False)
    r = await service.append("fresh", [ev()], Expected.no_stream())
    assert (r.version, r.position, r.duplicate) == (1, 3, False)


async def test_concurrent_identical_appends_write_once(service: EventStoreService) -> None:
    batch = [ev(), ev(), ev()]
    results = await asyncio.gather(*(service.append("s", batch, Expected.any()) for _ in range(4)))
    assert sorted(r.duplicate for r in results) == [False, True, True, True]
    assert {(r.first_position, r.position) for r in results} == {(1, 3)}
    assert len(await read(service, "s")) == 3
    assert await service.store.head() == 3


async def test_duplicate_ids_inside_one_append_are_invalid(service: EventStoreService) -> None:
    e = ev()
    with pytest.raises(InvalidRequest):
        await service.append("s", [e, e], Expected.any())


async def test_read_forward_backward_limits(service: EventStoreService) -> None:
    await service.append("s", [ev(data=str(i).encode()) for i in range(1, 11)], Expected.any())
    assert [e.version for e in await read(service, "s", 4, False, 3)] == [4, 5, 6]
    assert [e.version for e in await read(service, "s", None, True, 3)] == [10, 9, 8]
    assert [e.version for e in await read(service, "s", 2, True, 0)] == [2, 1]
    assert await read(service, "s", 11) == []
    assert [e.position for e in await read(service, "$all", 9)] == [9, 10]
    assert [e.position for e in await read(service, "$all", 3, True, 2)] == [3, 2]
    assert [e.position for e in await read(service, "$all", None, True, 1)] == [10]
    with pytest.raises(StreamNotFound):
        await read(service, "missing")


async def test_read_pages_cover_everything(service: EventStoreService) -> None:
    service.limits = type(service.limits)(max_read_page=7)
    await service.append("s", [ev() for _ in range(30)], Expected.any())
    pages = [p async for p in service.read_pages("s", None, False, 0)]
    assert [len(p) for p in pages] == [7, 7, 7, 7, 2]
    back = [decode_record(r).version for p in [p async for p in service.read_pages("$all", None, True, 10)] for r in p]
    assert back == list(range(30, 20, -1))


async def test_soft_delete_and_revive(service: EventStoreService) -> None:
    await service.append("s", [ev(), ev()], Expected.any())
    with pytest.raises(WrongExpectedVersion):
        await service.delete_stream("s", Expected.exact(1))
    assert await service.delete_stream("s", Expected.exact(2)) == 2
    with pytest.raises(StreamNotFound):
        await read(service, "s")
    with pytest.raises(StreamNotFound):
        await service.delete_stream("s", Expected.any())
    r = await service.append("s", [ev()], Expected.no_stream())
    assert r.version == 3
    assert [e.version for e in await read(service, "s")] == [3]
    # the global log keeps everything
    assert len(await read(service, "$all")) == 3


async def test_max_count_and_max_age(service: EventStoreService) -> None:
    info = await service.set_stream_metadata("s", StreamMetadata(max_count=2))
    assert info.metadata.max_count == 2
    await service.append("s", [ev() for _ in range(5)], Expected.any())
    assert [e.version for e in await read(service, "s")] == [4, 5]
    assert [e.version for e in await read(service, "s", None, True)] == [5, 4]
    old = int(time.time() * 1000) - 3_600_000
    await service.append("t", [ev(timestamp=old), ev(timestamp=old), ev()], Expected.any())
    await service.set_stream_metadata("t", StreamMetadata(max_age=60))
    assert [e.version for e in await read(service, "t")] == [3]
    await service.set_stream_metadata("t", StreamMetadata())
    assert len(await read(service, "t")) == 3


async def test_ids_are_canonicalised(service: EventStoreService) -> None:
    u = uuid.uuid4()
    await service.append("s", [ProposedEvent(str(u).upper(), "T")], Expected.any())
    await service.append("s", [ProposedEvent("", "T")], Expected.any())
    events = await read(service, "s")
    assert events[0].event_id == str(u)
    assert uuid.UUID(events[1].event_id).version == 4  # a missing id is chosen by the server
    again = await service.append("s", [ProposedEvent(u.hex, "T")], Expected.any())
    assert again.duplicate


async def test_timestamps_stamped_when_absent(service: EventStoreService) -> None:
    before = int(time.time() * 1000)
    await service.append("s", [ev(), ev(timestamp=1234)], Expected.any())
    events = await read(service, "s")
    assert events[0].timestamp >= before
    assert events[1].timestamp == 1234


async def test_transitions_and_metadata_round_trip(service: EventStoreService) -> None:
    t = Transition("user.activated", "pending", "active")
    await service.append("s", [ev(metadata={"trace": "1"}, transition=t)], Expected.any())
    (e,) = await read(service, "s")
    assert e.transition == t
    assert e.metadata == {"trace": "1"}
    with pytest.raises(InvalidRequest):
        await service.append("s", [ev(transition=Transition("x", "a", "a"))], Expected.any())
    with pytest.raises(InvalidRequest):
        await service.append("s", [ev()], Expected.any(), require_transition=True)


async def test_snapshots(service: EventStoreService) -> None:
    await service.append("s", [ev(), ev(), ev()], Expected.any())
    assert await service.get_snapshot("s") is None
    await service.save_snapshot(Snapshot("s", 2, b"state2", 0))
    snap = await service.get_snapshot("s")
    assert snap is not None
    assert (snap.version, snap.payload) == (2, b"state2")
    assert snap.timestamp > 0
    with pytest.raises(SnapshotRejected):
        await service.save_snapshot(Snapshot("s", 1, b"older", 0))
    with pytest.raises(SnapshotRejected):
        await service.save_snapshot(Snapshot("s", 4, b"future", 0))
    with pytest.raises(SnapshotRejected):
        await service.save_snapshot(Snapshot("s", 2, b"not current", 0), exact=True)
    await service.save_snapshot(Snapshot("s", 3, b"state3", 7), exact=True)
    snap = await service.get_snapshot("s")
    assert snap is not None
    assert (snap.version, snap.payload, snap.timestamp) == (3, b"state3", 7)
    # A delete takes the snapshot with it: the revived stream starts over from its new events.
    await service.delete_stream("s", Expected.exact(3))
    assert await service.get_snapshot("s") is None
    await service.append("s", [ev()], Expected.no_stream())
    assert await service.get_snapshot("s") is None


SCHEMA = {
    "name": "UserCreated",
    "fields": {
        "age": {"field_type": {"primitive": "NUMBER"}, "constraints": {"required": True, "min_value": 0}},
        "name": {"field_type": {"primitive": "STRING"}, "constraints": {"regex": "^[A-Z]"}},
    },
}


async def test_schema_registry_soft_and_hard(service: EventStoreService) -> None:
    assert await service.upsert_schema(SCHEMA) == "UserCreated"
    assert await service.schema("UserCreated") == SCHEMA
    bad = ev("UserCreated", json.dumps({"age": -1}).encode())
    await service.append("u", [bad], Expected.any())  # soft: logged and accepted
    assert service.soft_violations == 1
    service.schema_hard_fail = True
    with pytest.raises(SchemaViolation):
        await service.append("u", [ev("UserCreated", b'{"name": "bob"}')], Expected.any())
    await service.append("u", [ev("UserCreated", b'{"age": 3, "name": "Bob"}')], Expected.any())
    with pytest.raises(InvalidRequest):
        await service.upsert_schema({"name": "", "fields": {}})
    # another store instance sees it after the cache expires
    fresh = EventStoreService(service.store)
    assert await fresh.schema("UserCreated") == SCHEMA
    # graveyar_db keeps the history of a schema in the stream $schema:<name>
    history = await read(service, "$schema:UserCreated")
    assert [e.event_type for e in history] == ["SchemaUpserted"]
    assert json.loads(history[0].data) == SCHEMA


async def test_concurrent_writers_one_winner_per_version(service: EventStoreService) -> None:
    wins: list[tuple[int, int]] = []

    async def writer(w: int) -> None:
        for _ in range(15):
            while True:
                info = await service.store.stream_info("hot")
                version = info.version if info else 0
                try:
                    await service.append("hot", [ev(data=f"{w}".encode())], Expected.exact(version))
                except WrongExpectedVersion:
                    await asyncio.sleep(0)
                    continue
                wins.append((version + 1, w))
                break

    await asyncio.gather(*(writer(w) for w in range(8)))
    events = await read(service, "hot")
    assert [e.version for e in events] == list(range(1, 121))
    assert sorted(v for v, _ in wins) == list(range(1, 121))
    assert [e.position for e in await read(service, "$all")] == list(range(1, 121))


async def test_many_streams_global_log_gap_free(service: EventStoreService) -> None:
    async def writer(i: int) -> None:
        for j in range(20):
            await service.append(f"w{i}", [ev(), ev()], Expected.exact(2 * j))

    await asyncio.gather(*(writer(i) for i in range(10)))
    positions = [e.position for e in await read(service, "$all")]
    assert positions == list(range(1, 401))
    for i in range(10):
        assert [e.version for e in await read(service, f"w{i}")] == list(range(1, 41))


async def test_subscription_history_caught_up_live(service: EventStoreService) -> None:
    await service.append("a-1", [ev("A"), ev("B")], Expected.any())
    got: list[Any] = []
    caught = asyncio.Event()

    async def consume() -> None:
        async for item in service.subscribe("$all", None):
            if item.kind == "events":
                got.extend(decode_record(r).position for r in item.records)
            elif item.kind == "caught_up":
                assert item.at == 2
                caught.set()
            if len(got) >= 12:
                return

    task = asyncio.create_task(consume())
    await asyncio.wait_for(caught.wait(), 10)
    for i in range(10):
        await service.append(f"b-{i % 3}", [ev()], Expected.any())
    await asyncio.wait_for(task, 20)
    assert got == list(range(1, 13))


async def test_subscription_filters_resume_and_stream(service: EventStoreService) -> None:
    await service.append("order-1", [ev("Placed"), ev("Paid")], Expected.any())
    await service.append("user-1", [ev("Created")], Expected.any())
    await service.append("order-2", [ev("Placed")], Expected.any())
    await service.append("user-2", [ev("Created")], Expected.any())
    items = []
    async for item in service.subscribe("$all", 1, stream_prefixes=["order-"], event_types=["Placed"]):
        items.append(item)
        if item.kind == "caught_up":
            break
    events = [decode_record(r) for i in items if i.kind == "events" for r in i.records]
    assert [(e.stream, e.position) for e in events] == [("order-2", 4)]
    assert [i.at for i in items if i.kind == "checkpoint"] == [5]
    assert items[-1].at == 5
    stream_items = []
    async for item in service.subscribe("order-1", 1):
        stream_items.append(item)
        if item.kind == "caught_up":
            break
    assert [decode_record(r).version for i in stream_items if i.kind == "events" for r in i.records] == [2]
    assert stream_items[-1].at == 2
    with pytest.raises(InvalidRequest):
        async for _ in service.subscribe("order-1", None, stream_prefixes=["x"]):
            pass


async def test_stream_subscription_waits_for_new_stream(service: EventStoreService) -> None:
    seen: list[int] = []

    async def consume() -> None:
        async for item in service.subscribe("later", None):
            if item.kind == "events":
                seen.extend(decode_record(r).version for r in item.records)
                if len(seen) >= 3:
                    return

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.1)
    await service.append("later", [ev()], Expected.any())
    await service.append("other", [ev()], Expected.any())
    await service.append("later", [ev(), ev()], Expected.any())
    await asyncio.wait_for(task, 20)
    assert seen == [1, 2, 3]


async def test_invalid_names_and_sizes(service: EventStoreService) -> None:
    for name in ("", "$all", "$system", "x" * 300, "a\nb"):
        with pytest.raises(InvalidRequest):
            await service.append(name, [ev()], Expected.any())
    with pytest.raises(InvalidRequest):
        await service.append("s", [], Expected.any())
    with pytest.raises(InvalidRequest):
        await service.append("s", [ProposedEvent("not-a-uuid", "T")], Expected.any())
    with pytest.raises(InvalidRequest):
        await service.append("s", [ev("")], Expected.any())
    with pytest.raises(InvalidRequest):  # 128 characters, but 256 UTF-8 bytes
        await service.append("s", [ev("é" * 128)], Expected.any())
    service.limits = type(service.limits)(max_event_size=10, max_append_size=15)
    with pytest.raises(InvalidRequest):
        await service.append("s", [ev(data=b"x" * 11)], Expected.any())
    with pytest.raises(InvalidRequest):
        await service.append("s", [ev(data=b"x" * 8), ev(data=b"x" * 8)], Expected.any())
    assert await service.store.head() == 0


async def test_reopen_keeps_everything(store_opener: Any) -> None:
    store = await store_opener()
    svc = EventStoreService(store)
    batch = [ev(), ev()]
    await svc.append("s", batch, Expected.any())
    await svc.set_stream_metadata("s", StreamMetadata(max_count=10))
    await svc.save_snapshot(Snapshot("s", 2, b"snap", 0))
    await svc.upsert_schema(SCHEMA)
    await store.close()
    store = await store_opener()
    try:
        svc = EventStoreService(store)
        assert await store.head() == 3  # two events and the schema's history event
        again = await svc.append("s", batch, Expected.any())
        assert again.duplicate
        info = await svc.stream_info("s")
        assert (info.version, info.metadata.max_count) == (2, 10)
        snap = await svc.get_snapshot("s")
        assert snap is not None
        assert snap.payload == b"snap"
        assert await svc.schema("UserCreated") == SCHEMA
        r = await svc.append("t", [ev()], Expected.any())
        assert r.position == 4
    finally:
        await store.close()


async def test_multi_stream_append_is_all_or_nothing(service: EventStoreService) -> None:
    await service.append("b", [ev()], Expected.any())
    r = await service.append_multi(
        [("a", [ev("A1"), ev("A2")], Expected.no_stream()), ("b", [ev("B2")], Expected.exact(1))]
    )
    assert [(x.stream, x.first_version, x.version, x.first_position, x.position) for x in r] == [
        ("a", 1, 2, 2, 3),
        ("b", 2, 2, 4, 4),
    ]
    head = await service.store.head()
    # The second item's conflict takes the first item's events back.
    with pytest.raises(WrongExpectedVersion):
        await service.append_multi([("c", [ev()], Expected.any()), ("b", [ev()], Expected.exact(1))])
    assert await service.store.head() == head
    assert await service.store.stream_info("c") is None
    # A whole retry is acknowledged again without writing; a partial one writes nothing.
    first, second = [ev("X")], [ev("Y")]
    done = await service.append_multi([("d", first, Expected.any()), ("e", second, Expected.any())])
    again = await service.append_multi([("d", first, Expected.any()), ("e", second, Expected.any())])
    assert [x.duplicate for x in again] == [True, True]
    assert [x.position for x in again] == [x.position for x in done]
    with pytest.raises(DuplicateEventId):
        await service.append_multi([("d", first, Expected.any()), ("f", [ev()], Expected.any())])
    assert await service.store.stream_info("f") is None
    for bad in ([], [("g", [ev()], Expected.any()), ("g", [ev()], Expected.any())]):
        with pytest.raises(InvalidRequest):
            await service.append_multi(bad)
    shared = ev()
    with pytest.raises(InvalidRequest):
        await service.append_multi([("h", [shared], Expected.any()), ("i", [shared], Expected.any())])
    assert [decode_record(r).position for r in await service.read("$all", None, False, 0)] == list(range(1, 7))


async def test_concurrent_multi_appends_keep_positions_contiguous(service: EventStoreService) -> None:
    async def writer(n: int) -> list[Any]:
        return await service.append_multi(
            [(f"log-{n}", [ev(), ev()], Expected.any()), ("shared-log", [ev()], Expected.any())]
        )

    results = await asyncio.gather(*(writer(n) for n in range(20)))
    for own, shared in results:
        assert own.first_position + 2 == shared.position  # one commit, consecutive positions
    assert sorted(shared.version for _, shared in results) == list(range(1, 21))


async def test_tombstone_is_permanent(service: EventStoreService) -> None:
    from toolkit_graveyar.core.errors import StreamDeleted

    await service.append("t", [ev()], Expected.any())
    await service.delete_stream("t", Expected.exact(1), tombstone=True)
    with pytest.raises(StreamDeleted):
        await service.read("t", None, False, 0)
    with pytest.raises(StreamDeleted):
        await service.append("t", [ev()], Expected.any())
    with pytest.raises(StreamDeleted):
        await service.delete_stream("t", Expected.any())
    with pytest.raises(StreamDeleted):
        await service.delete_stream("t", Expected.any(), tombstone=True)
    await service.delete_stream("never", Expected.no_stream(), tombstone=True)
    with pytest.raises(StreamDeleted):
        await service.append("never", [ev()], Expected.no_stream())
    with pytest.raises(WrongExpectedVersion):
        await service.delete_stream("other", Expected.stream_exists(), tombstone=True)
