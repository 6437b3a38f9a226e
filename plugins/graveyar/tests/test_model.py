"""Hypothesis: random appends, retries and deletes against a plain in-memory model (LMDB backend)."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit_graveyar.core.codec import decode_record
from toolkit_graveyar.core.errors import DuplicateEventId, StreamNotFound, WrongExpectedVersion
from toolkit_graveyar.core.model import Expected, ExpectedKind, ProposedEvent
from toolkit_graveyar.core.service import EventStoreService
from toolkit_graveyar.storage.lmdb_store import LmdbStore

streams = st.sampled_from(["a", "a:b", "ab", "b"])
expected = st.one_of(
    st.just(Expected.any()),
    st.just(Expected.no_stream()),
    st.just(Expected.stream_exists()),
    st.integers(0, 6).map(Expected.exact),
)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("append"), streams, st.integers(1, 3), expected),
        st.tuples(st.just("retry"), st.integers(0, 50)),
        st.tuples(st.just("delete"), streams, expected),
    ),
    max_size=25,
)


class Model:
    def __init__(self) -> None:
        self.version: dict[str, int] = {}
        self.deleted: dict[str, bool] = {}
        self.floor: dict[str, int] = {}
        self.log: list[tuple[str, int, str]] = []  # (stream, version, id)

    def ok(self, stream: str, exp: Expected) -> bool:
        v = self.version.get(stream, 0)
        exists = v > 0 and not self.deleted.get(stream, False)
        return {
            ExpectedKind.ANY: True,
            ExpectedKind.NO_STREAM: not exists,
            ExpectedKind.STREAM_EXISTS: exists,
            ExpectedKind.EXACT: v == exp.version,
        }[exp.kind]


async def _append(svc: EventStoreService, model: Model, done: list[Any], stream: str, n: int, exp: Expected) -> None:
    batch = [ProposedEvent(str(uuid.uuid4()), "T", b"%d" % i) for i in range(n)]
    if not model.ok(stream, exp):
        with pytest.raises(WrongExpectedVersion) as exc:
            await svc.append(stream, batch, exp)
        assert exc.value.details["actual"] == model.version.get(stream, 0)
        return
    r = await svc.append(stream, batch, exp)
    v0 = model.version.get(stream, 0)
    assert (r.first_version, r.version) == (v0 + 1, v0 + n)
    assert r.first_position == len(model.log) + 1
    for i, ev in enumerate(batch):
        model.log.append((stream, v0 + 1 + i, ev.event_id))
    model.version[stream] = v0 + n
    model.deleted[stream] = False
    done.append((stream, batch, r))


async def _retry(svc: EventStoreService, done: list[Any], pick: int) -> None:
    stream, batch, first = done[pick % len(done)]
    again = await svc.append(stream, batch, Expected.exact(999))
    assert again.duplicate
    assert (again.first_position, again.position) == (first.first_position, first.position)
    with pytest.raises(DuplicateEventId):
        await svc.append("b" if stream != "b" else "a", batch[:1], Expected.any())


async def _delete(svc: EventStoreService, model: Model, stream: str, exp: Expected) -> None:
    v = model.version.get(stream, 0)
    if v == 0 or model.deleted.get(stream):
        with pytest.raises(StreamNotFound):
            await svc.delete_stream(stream, exp)
    elif model.ok(stream, exp):
        assert await svc.delete_stream(stream, exp) == v
        model.deleted[stream] = True
        model.floor[stream] = v + 1
    else:
        with pytest.raises(WrongExpectedVersion):
            await svc.delete_stream(stream, exp)


async def _verify(svc: EventStoreService, model: Model) -> None:
    everything = [decode_record(r) for r in await svc.read("$all", None, False, 0)]
    assert [(e.stream, e.version, e.event_id) for e in everything] == model.log
    assert [e.position for e in everything] == list(range(1, len(model.log) + 1))
    for stream, v in model.version.items():
        if model.deleted.get(stream) or v == 0:
            continue
        got = [decode_record(r) for r in await svc.read(stream, None, False, 0)]
        assert [e.version for e in got] == list(range(model.floor.get(stream, 1), v + 1))
        assert all(e.stream == stream for e in got)


async def run(seq: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = await LmdbStore.open(Path(tmp))
        svc = EventStoreService(store)
        model = Model()
        done: list[Any] = []
        try:
            for op in seq:
                if op[0] == "append":
                    await _append(svc, model, done, op[1], op[2], op[3])
                elif op[0] == "retry" and done:
                    await _retry(svc, done, op[1])
                elif op[0] == "delete":
                    await _delete(svc, model, op[1], op[2])
            await _verify(svc, model)
        finally:
            await store.close()


@given(ops)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_store_matches_model(seq: list[Any]) -> None:
    asyncio.run(run(seq))
