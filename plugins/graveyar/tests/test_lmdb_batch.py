"""LMDB group commit: appends submitted together are written in one transaction with one putmulti per database.

Whatever path a batch takes (the batched one for plain appends, the per-operation one when an
id is recorded already or repeated across appends), every append gets the outcome it would get
alone, in submission order, and a refused append writes nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from toolkit_graveyar.core.codec import decode_record
from toolkit_graveyar.core.errors import DuplicateEventId, StreamDeleted, WrongExpectedVersion
from toolkit_graveyar.core.model import AppendResult, Expected, ProposedEvent
from toolkit_graveyar.core.service import EventStoreService
from toolkit_graveyar.storage.lmdb_store import LmdbStore

pytestmark = pytest.mark.asyncio


def ev(data: bytes = b"{}") -> ProposedEvent:
    return ProposedEvent(str(uuid.uuid4()), "T", data)


async def _together(svc: EventStoreService, *appends: tuple[str, list[ProposedEvent], Expected]) -> list[object]:
    """Submit every append in one event-loop iteration (so they share one batch); outcomes in order."""
    return await asyncio.gather(*(svc.append(s, evs, exp) for s, evs, exp in appends), return_exceptions=True)


async def test_one_batch_of_appends_gets_each_outcome_and_writes_only_the_accepted(tmp_path: Path) -> None:
    store = await LmdbStore.open(tmp_path / "data")
    svc = EventStoreService(store)
    try:
        await svc.append("old", [ev(), ev()], Expected.any())
        await svc.append("gone", [ev()], Expected.any())
        await svc.delete_stream("gone", Expected.any(), tombstone=True)
        commits, refused = store.commits, ev()
        out = await _together(
            svc,
            ("a", [ev(), ev()], Expected.no_stream()),
            ("old", [ev()], Expected.exact(2)),
            ("a", [ev()], Expected.exact(2)),  # sees the first append of this very batch
            ("old", [refused], Expected.exact(2)),  # stale now: refused, nothing written
            ("gone", [ev()], Expected.any()),
            ("b", [ev()], Expected.stream_exists()),
            ("old", [ev()], Expected.any()),
        )
        assert store.commits == commits + 1  # one batch, one commit
        assert out[0] == AppendResult("a", 1, 2, 4, 5)
        assert out[1] == AppendResult("old", 3, 3, 6, 6)
        assert out[2] == AppendResult("a", 3, 3, 7, 7)
        assert isinstance(out[3], WrongExpectedVersion)
        assert isinstance(out[4], StreamDeleted)
        assert isinstance(out[5], WrongExpectedVersion)
        assert out[6] == AppendResult("old", 4, 4, 8, 8)
        records = [decode_record(r) for r in await store.read_all(None, False, 0)]
        assert [(e.stream, e.version, e.position) for e in records[3:]] == [
            ("a", 1, 4),
            ("a", 2, 5),
            ("old", 3, 6),
            ("a", 3, 7),
            ("old", 4, 8),
        ]
        assert refused.event_id not in {e.event_id for e in records}
        assert await store.head() == 8
        assert (await store.stream_state("b")) is None
        # The refused append's id was never recorded: it can be appended now.
        again = await svc.append("old", [refused], Expected.exact(4))
        assert (again.duplicate, again.version) == (False, 5)
    finally:
        await store.close()


async def test_a_batch_with_a_retry_or_a_shared_id_keeps_the_idempotency_rules(tmp_path: Path) -> None:
    store = await LmdbStore.open(tmp_path / "data")
    svc = EventStoreService(store)
    try:
        first = [ev(), ev()]
        original = await svc.append("s", first, Expected.no_stream())
        shared = ev()
        out = await _together(
            svc,
            ("s", first, Expected.no_stream()),  # a retry: the original result, nothing written
            ("t", [ev()], Expected.any()),
            ("u", [shared], Expected.any()),
            ("v", [shared], Expected.any()),  # the same id in another stream of this batch
        )
        assert (original.version, original.position) == (2, 2)
        assert out[0] == AppendResult("s", 1, 2, 1, 2, duplicate=True)
        assert out[1] == AppendResult("t", 1, 1, 3, 3)
        assert out[2] == AppendResult("u", 1, 1, 4, 4)
        assert isinstance(out[3], DuplicateEventId)
        assert await store.head() == 4
        # Plain appends after it take the batched path again, and see what the others wrote.
        out = await _together(svc, ("t", [ev()], Expected.exact(1)), ("w", [ev()], Expected.no_stream()))
        assert out == [AppendResult("t", 2, 2, 5, 5), AppendResult("w", 1, 1, 6, 6)]
    finally:
        await store.close()


async def test_batched_appends_survive_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = await LmdbStore.open(data)
    svc = EventStoreService(store)
    batch = [(f"s-{i % 5}", [ev(), ev()], Expected.any()) for i in range(20)]
    out = await _together(svc, *batch)
    assert all(isinstance(r, AppendResult) for r in out)
    await store.close()
    store = await LmdbStore.open(data)
    svc = EventStoreService(store)
    try:
        assert await store.head() == 40
        for i in range(5):
            state = await store.stream_state(f"s-{i}")
            assert state is not None
            assert state.version == 8
        retried = await _together(svc, *batch)  # every append is recorded: all are retries
        assert [r.duplicate for r in retried if isinstance(r, AppendResult)] == [True] * 20
        assert await store.head() == 40
    finally:
        await store.close()
