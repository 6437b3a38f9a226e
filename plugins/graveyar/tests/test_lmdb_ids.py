"""LMDB's event-id index: new ids are journaled, then merged into `ids` in sorted passes.

Idempotency must not depend on where an id currently lives (the in-memory journal of the batch,
the committed journal, or the merged index), across merges and restarts.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import lmdb
import pytest

from toolkit_graveyar.core.errors import DuplicateEventId
from toolkit_graveyar.core.model import Expected, ProposedEvent
from toolkit_graveyar.core.service import EventStoreService
from toolkit_graveyar.storage.lmdb_store import LmdbStore

pytestmark = pytest.mark.asyncio


def ev(data: bytes = b"{}") -> ProposedEvent:
    return ProposedEvent(str(uuid.uuid4()), "T", data)


def journaled(path: Path) -> int:
    env = lmdb.open(str(path / "lmdb"), max_dbs=8, readonly=True, lock=False)
    try:
        with env.begin() as txn:
            return int(txn.stat(env.open_db(b"ids_journal", txn=txn, create=False))["entries"])
    finally:
        env.close()


async def test_ids_stay_idempotent_across_merges_and_restarts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = await LmdbStore.open(data, ids_merge_at=5)
    svc = EventStoreService(store)
    batches = [[ev(), ev()] for _ in range(4)]  # 8 ids: merged once at 6, 2 left in the journal
    for i, batch in enumerate(batches):
        await svc.append(f"s-{i}", batch, Expected.no_stream())
    assert store.entry_counts()["ids"] == 8
    await store.close()
    assert journaled(data) == 2
    store = await LmdbStore.open(data, ids_merge_at=5)
    svc = EventStoreService(store)
    try:
        for i, batch in enumerate(batches):
            again = await svc.append(f"s-{i}", batch, Expected.no_stream())
            assert again.duplicate, i
            assert (again.first_version, again.version) == (1, 2)
            with pytest.raises(DuplicateEventId):  # the same id in another stream
                await svc.append("elsewhere", [batch[0]], Expected.any())
            with pytest.raises(DuplicateEventId):  # the same id with other content
                await svc.append(f"s-{i}", [ProposedEvent(batch[0].event_id, "T", b"other")], Expected.any())
        assert await store.head() == 8
    finally:
        await store.close()


async def test_a_multi_append_that_fails_journals_none_of_its_ids(tmp_path: Path) -> None:
    store = await LmdbStore.open(tmp_path / "data")
    svc = EventStoreService(store)
    try:
        await svc.append("b", [ev()], Expected.any())
        first = [ev(), ev()]
        with pytest.raises(Exception, match="expected"):
            await svc.append_multi([("a", first, Expected.no_stream()), ("b", [ev()], Expected.no_stream())])
        r = await svc.append("a", first, Expected.no_stream())  # its ids were never recorded
        assert (r.duplicate, r.version) == (False, 2)
        assert store.entry_counts()["ids"] == 3
    finally:
        await store.close()


async def test_a_format_1_directory_is_upgraded_in_place(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = await LmdbStore.open(data)
    old = ev()
    await EventStoreService(store).append("s", [old], Expected.any())
    await store._submit(lambda txn: txn.put(b"format", b"graveyar-lmdb-1", db=store._meta))
    await store.close()
    store = await LmdbStore.open(data)
    try:
        assert (await EventStoreService(store).append("s", [old], Expected.any())).duplicate
        with store._env.begin() as txn:
            assert txn.get(b"format", db=store._meta) == b"graveyar-lmdb-2"
    finally:
        await store.close()
