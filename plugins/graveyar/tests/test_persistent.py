"""Persistent subscription groups (core): properties under random consumer behaviour, and restarts.

A group on a real LMDB store; consumers ack, skip, park, retry or leave at random. Whatever
they do: every event is finished (acked, skipped or parked) exactly once, parked events are in
the parked stream, retries come back with a higher retry count, and the checkpoint never passes
an unfinished event.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit_graveyar.core import persistent
from toolkit_graveyar.core.codec import decode_record
from toolkit_graveyar.core.errors import InvalidRequest, ServerBusy, WrongExpectedVersion
from toolkit_graveyar.core.model import Expected, ProposedEvent
from toolkit_graveyar.core.persistent import Consumer, Message, PersistentSubscriptions
from toolkit_graveyar.core.persistent_state import (
    GroupConfig,
    GroupExists,
    GroupNotFound,
    GroupSettings,
    MaxSubscribersReached,
    SourceFilter,
    SubscriptionDropped,
)
from toolkit_graveyar.core.service import EventStoreService
from toolkit_graveyar.storage.lmdb_store import LmdbStore

#: Generous: the machine is shared; a healthy group delivers in milliseconds.
WAIT = 60.0
ACTIONS = st.sampled_from(["ack", "skip", "park", "retry", "leave"])


async def _append(svc: EventStoreService, stream: str, n: int) -> None:
    events = [ProposedEvent(str(uuid.uuid4()), f"E{i}", b"{}") for i in range(n)]
    await svc.append(stream, events, Expected.any())


async def _next(consumer: Consumer) -> Message:
    msg = await asyncio.wait_for(consumer.next(), WAIT)
    assert msg is not None
    return msg


async def _drive(subs: PersistentSubscriptions, stream: str, n: int, actions: list[str], max_retry: int) -> None:
    settings_ = GroupSettings(max_retry_count=max_retry, min_checkpoint_count=1, consumer_strategy="RoundRobin")
    await subs.create(GroupConfig(stream, "g", 0, settings_))
    group = subs.groups[(stream, "g")]
    consumers = [await subs.connect(stream, "g", "", 3) for _ in range(2)]
    finished: dict[int, str] = {}
    last_retry: dict[int, int] = {}
    step = 0
    while len(finished) < n:
        # Whoever has a message takes the next action on it.
        ready = [c for c in consumers if not c.queue.empty()] or consumers
        consumer = ready[step % len(ready)]
        msg = await _next(consumer)
        version = decode_record(msg.event).version
        assert version not in finished, "a finished event came again"
        assert msg.retry_count >= last_retry.get(version, 0)
        last_retry[version] = msg.retry_count
        action = actions[step] if step < len(actions) else "ack"  # then ack the rest
        step += 1
        if action == "leave":
            consumer.close()
            consumers.remove(consumer)
            consumers.append(await subs.connect(stream, "g", "", 3))
        elif action == "retry":
            if msg.retry_count >= max_retry:  # read first: the nack raises the message's count
                finished[version] = "park"
            await consumer.nack([msg.ack_id], "retry")
        else:
            await (consumer.ack([msg.ack_id]) if action == "ack" else consumer.nack([msg.ack_id], action))
            finished[version] = action
        # The checkpoint never passes an unfinished event.
        assert group._checkpoint_key() < min((v for v in range(1, n + 1) if v not in finished), default=n + 1)
    parked = sorted(v for v, how in finished.items() if how == "park")
    info = await subs.info(stream, "g")
    assert info.parked == len(parked)
    assert info.outstanding == 0
    assert group._checkpoint_key() == n


@given(n=st.integers(1, 12), actions=st.lists(ACTIONS, max_size=12), max_retry=st.integers(0, 2))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_event_is_finished_once_whatever_consumers_do(n: int, actions: list[str], max_retry: int) -> None:
    async def run() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            store = await LmdbStore.open(Path(tmp))
            svc = EventStoreService(store, poll_interval=0.2)
            subs = PersistentSubscriptions(svc)
            try:
                await _append(svc, "s-1", n)
                await _drive(subs, "s-1", n, actions, max_retry)
            finally:
                svc.shutdown()
                await subs.close()
                await store.close()

    asyncio.run(run())


@pytest.mark.asyncio
async def test_definitions_checkpoints_and_parked_survive_a_restart(tmp_path: Path) -> None:
    store = await LmdbStore.open(tmp_path)
    svc = EventStoreService(store, poll_interval=0.2)
    subs = PersistentSubscriptions(svc)
    await _append(svc, "s-1", 3)
    await subs.create(GroupConfig("s-1", "g", 0, GroupSettings(min_checkpoint_count=1)))
    with pytest.raises(GroupExists):
        await subs.create(GroupConfig("s-1", "g"))
    c = await subs.connect("s-1", "g", "", 10)
    a, b, d = [await _next(c) for _ in range(3)]
    await c.ack([a.ack_id, d.ack_id])
    await c.nack([b.ack_id], "park")
    await subs.close()  # writes the checkpoint
    svc.shutdown()
    await store.close()

    store = await LmdbStore.open(tmp_path)
    svc = EventStoreService(store, poll_interval=0.2)
    subs = PersistentSubscriptions(svc)
    try:
        info = await subs.info("s-1", "g")
        assert (info.last_checkpoint, info.parked) == (3, 1)
        c = await subs.connect("s-1", "g", "", 10)
        await _append(svc, "s-1", 1)
        assert decode_record((await _next(c)).event).version == 4
        assert await subs.replay_parked("s-1", "g") == 1
        replayed = await _next(c)
        assert decode_record(replayed.event).version == 2
        assert replayed.link is not None
        assert (await subs.info("s-1", "g")).parked == 0
        await subs.delete("s-1", "g")
        with pytest.raises(GroupNotFound):
            await subs.info("s-1", "g")
    finally:
        await subs.close()
        svc.shutdown()
        await store.close()


@contextlib.asynccontextmanager
async def _opened(path: Path) -> AsyncIterator[tuple[EventStoreService, PersistentSubscriptions]]:
    """The groups of an LMDB store at `path`, closed (checkpoints written) on the way out."""
    store = await LmdbStore.open(path)
    svc = EventStoreService(store, poll_interval=0.2)
    subs = PersistentSubscriptions(svc)
    try:
        yield svc, subs
    finally:
        await subs.close()
        svc.shutdown()
        await store.close()


@pytest.mark.asyncio
async def test_a_follower_records_no_checkpoints(tmp_path: Path) -> None:
    """Groups are the leader's: a follower's copies read nothing and record no checkpoint, so
    they cannot move the group's checkpoint back (see GroupStore.leads)."""
    async with _opened(tmp_path) as (svc, subs):
        await _append(svc, "s-1", 3)
        await subs.create(GroupConfig("s-1", "g", 0, GroupSettings(min_checkpoint_count=1)))
        before = (await subs.info("s-1", "g")).last_checkpoint
        subs.store.leads = lambda: False
        info = await subs.info("s-1", "g")  # the group is described, its copy idle
        assert (info.config.group, info.last_known, subs.groups[("s-1", "g")].tasks) == ("g", None, [])
        c = await subs.connect("s-1", "g", "", 10)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(c.next(), 1.0)
    # Closing wrote no checkpoint (a leader's close writes 3: see the test above).
    async with _opened(tmp_path) as (svc, subs):
        assert (await subs.info("s-1", "g")).last_checkpoint == before != 3


async def _until_dropped(consumer: Consumer) -> None:
    """Take the consumer's messages until its read ends (raising why)."""
    while await asyncio.wait_for(consumer.next(), WAIT) is not None:
        pass


@pytest.mark.asyncio
async def test_every_server_on_a_store_runs_the_recorded_groups(tmp_path: Path) -> None:
    """Two managers on one store stand for two servers on one PostgreSQL database: what one
    creates, updates or deletes, the other runs, changes or drops; neither loses the other's change."""
    async with _opened(tmp_path) as (svc, a):
        b = PersistentSubscriptions(svc)
        try:
            await _append(svc, "s-1", 3)
            assert await b.list() == []  # b runs the (empty) set before a changes it
            await a.create(GroupConfig("s-1", "g", 0, GroupSettings(min_checkpoint_count=1)))
            assert [i.config.group for i in await b.list()] == ["g"]
            # b's set was stale when it created h: a's g is kept, and a sees h.
            await b.create(GroupConfig("s-1", "h"))
            assert [i.config.group for i in await a.list("s-1")] == ["g", "h"]
            with pytest.raises(GroupExists):
                await b.create(GroupConfig("s-1", "g"))
            reader = await b.connect("s-1", "g", "", 10)
            await _next(reader)
            await a.update("s-1", "g", GroupConfig("s-1", "g", 0, GroupSettings(max_retry_count=3)))
            assert (await b.info("s-1", "g")).config.settings.max_retry_count == 3
            with pytest.raises(SubscriptionDropped, match="updated"):
                await _until_dropped(reader)
            reader = await b.connect("s-1", "g", "", 10)
            await a.delete("s-1", "g")
            with pytest.raises(GroupNotFound):
                await b.info("s-1", "g")
            with pytest.raises(SubscriptionDropped, match="deleted"):
                await _until_dropped(reader)
            with pytest.raises(GroupNotFound):
                await b.delete("s-1", "g")
            assert [i.config.group for i in await b.list()] == ["h"]
        finally:
            await b.close()


@pytest.mark.asyncio
async def test_a_change_recorded_meanwhile_elsewhere_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between b reading the set and recording its change, a records another: neither is lost."""
    async with _opened(tmp_path) as (svc, a):
        b = PersistentSubscriptions(svc)
        try:
            await b.load()
            record = b.store.save_configs
            attempts: list[int] = []

            async def raced(configs: list[GroupConfig], version: int) -> int:
                if not attempts:
                    await a.create(GroupConfig("s-1", "meanwhile"))
                attempts.append(version)
                return await record(configs, version)

            monkeypatch.setattr(b.store, "save_configs", raced)
            await b.create(GroupConfig("s-1", "late"))
            assert attempts[1] == attempts[0] + 1  # refused once, applied again to the newer set
            for subs in (a, b):
                assert [i.config.group for i in await subs.list()] == ["late", "meanwhile"]
        finally:
            await b.close()


@pytest.mark.asyncio
async def test_concurrent_changes_on_several_servers_are_all_recorded(tmp_path: Path) -> None:
    """Four managers (four servers on one store) create groups at once: each retries past the
    others' records, and every group ends up recorded and run everywhere."""
    async with _opened(tmp_path) as (svc, a):
        others = [PersistentSubscriptions(svc) for _ in range(3)]
        managers = [a, *others]
        refused = 0

        def counting(record: Any) -> Any:
            async def save(configs: list[GroupConfig], version: int) -> int:
                nonlocal refused
                try:
                    return int(await record(configs, version))
                except WrongExpectedVersion:
                    refused += 1
                    raise

            return save

        for m in managers:
            m.store.save_configs = counting(m.store.save_configs)  # type: ignore[method-assign]
        try:
            await asyncio.gather(
                *(m.create(GroupConfig("s-1", f"g{i}-{j}")) for i, m in enumerate(managers) for j in range(5))
            )
            assert refused > 0  # they did race
            expected = sorted(f"g{i}-{j}" for i in range(4) for j in range(5))
            for m in managers:
                assert sorted(i.config.group for i in await m.list()) == expected
        finally:
            for m in others:
                await m.close()


@pytest.mark.asyncio
async def test_a_change_outrun_every_time_fails_busy_and_records_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another server records a new set between every read and write of b's: b gives up after
    RECORD_ATTEMPTS tries with a clear error instead of retrying forever, and records nothing."""
    monkeypatch.setattr(persistent, "RECORD_BACKOFF_MAX", 0.001)
    async with _opened(tmp_path) as (svc, a):
        b = PersistentSubscriptions(svc)
        try:
            await b.load()
            record = b.store.save_configs
            attempts: list[int] = []

            async def outrun(configs: list[GroupConfig], version: int) -> int:
                await a.create(GroupConfig("s-1", f"other-{len(attempts)}"))
                attempts.append(version)
                return await record(configs, version)

            monkeypatch.setattr(b.store, "save_configs", outrun)
            with pytest.raises(ServerBusy, match="changed 10 times") as caught:
                await b.create(GroupConfig("s-1", "late"))
            assert caught.value.details == {"attempts": persistent.RECORD_ATTEMPTS}
            assert len(attempts) == persistent.RECORD_ATTEMPTS
            others = [f"other-{i}" for i in range(persistent.RECORD_ATTEMPTS)]
            for subs in (a, b):  # b runs the recorded set, without its own change
                assert sorted(i.config.group for i in await subs.list()) == sorted(others)
        finally:
            await b.close()


@pytest.mark.asyncio
async def test_the_new_leader_serves_from_the_old_leaders_checkpoint(tmp_path: Path) -> None:
    """A follower's groups started with the follower; once it leads they restart from the stored checkpoint."""
    async with _opened(tmp_path) as (svc, leader):
        follower = PersistentSubscriptions(svc)
        follower.store.leads = lambda: False
        try:
            await _append(svc, "s-1", 4)
            await follower.load()  # running before the group exists, as a follower
            await leader.create(GroupConfig("s-1", "g", 0, GroupSettings(min_checkpoint_count=1)))
            assert [i.config.group for i in await follower.list()] == ["g"]
            c = await leader.connect("s-1", "g", "", 10)
            await c.ack([(await _next(c)).ack_id for _ in range(2)])
            await leader.close()  # the leader goes away, writing its checkpoint (2)
            follower.store.leads = lambda: True
            c = await follower.connect("s-1", "g", "", 10)
            assert [decode_record((await _next(c)).event).version for _ in range(2)] == [3, 4]
            assert (await follower.info("s-1", "g")).last_checkpoint == 2
        finally:
            await follower.close()


@pytest.mark.asyncio
async def test_bad_definitions_are_refused_and_change_nothing(tmp_path: Path) -> None:
    store = await LmdbStore.open(tmp_path)
    svc = EventStoreService(store, poll_interval=0.2)
    subs = PersistentSubscriptions(svc)
    try:
        bad = [
            GroupConfig("s-1", "g", 0, GroupSettings(consumer_strategy="Random")),
            GroupConfig("s-1", "g", 0, GroupSettings(min_checkpoint_count=5, max_checkpoint_count=1)),
            GroupConfig("s-1", "g", 0, GroupSettings(live_buffer_size=0)),
            GroupConfig("s-1", "", 0),
            GroupConfig("s-1", "g", -2),
            GroupConfig("s-1", "g", 0, filter=SourceFilter(True, "x")),
        ]
        for cfg in bad:
            with pytest.raises(InvalidRequest):
                await subs.create(cfg)
        with pytest.raises(InvalidRequest):
            SourceFilter(True, "(")
        assert await subs.list() == []
        await subs.create(GroupConfig("s-1", "g", 0, GroupSettings(max_subscriber_count=1)))
        await subs.connect("s-1", "g", "", 1)
        with pytest.raises(MaxSubscribersReached):
            await subs.connect("s-1", "g", "", 1)
        with pytest.raises(GroupNotFound):
            await subs.connect("s-1", "other", "", 1)
    finally:
        await subs.close()
        svc.shutdown()
        await store.close()


def test_wire_features_and_refusals(server: Any) -> None:
    """ServerFeatures announces both services; bad requests get clear codes and change nothing."""
    from toolkit_graveyar._proto.kurrentdb.v1 import persistent_pb2 as pp
    from toolkit_graveyar._proto.kurrentdb.v1 import serverfeatures_pb2, shared_pb2

    with grpc.insecure_channel(server.address) as channel:
        features = channel.unary_unary(
            "/event_store.client.server_features.ServerFeatures/GetSupportedMethods",
            response_deserializer=serverfeatures_pb2.SupportedMethods.FromString,
        )(shared_pb2.Empty().SerializeToString())
        served = {(m.service_name, m.method_name): list(m.features) for m in features.methods}
        persistent = "event_store.client.persistent_subscriptions.persistentsubscriptions"
        assert served[(persistent, "create")] == ["stream", "all"]
        assert ("event_store.client.projections.projections", "statistics") in served
        create = channel.unary_unary("/event_store.client.persistent_subscriptions.PersistentSubscriptions/Create")
        with pytest.raises(grpc.RpcError) as bad:
            create(b"\xff\xff")  # undecodable
        assert bad.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        req = pp.CreateReq()
        req.options.group_name = "g"
        req.options.stream.stream_identifier.stream_name = b"s-1"
        req.options.settings.consumer_strategy = "Random"
        with pytest.raises(grpc.RpcError) as bad:
            create(req.SerializeToString())
        # KurrentDB answers settings it refuses with INTERNAL (its clients' InternalError).
        assert bad.value.code() is grpc.StatusCode.INTERNAL
        assert ("exception", "settings-refused") in (bad.value.trailing_metadata() or ())
        listing = channel.unary_unary(
            "/event_store.client.persistent_subscriptions.PersistentSubscriptions/List",
            response_deserializer=pp.ListResp.FromString,
        )
        everything = pp.ListReq()
        everything.options.list_all_subscriptions.SetInParent()
        assert list(listing(everything.SerializeToString()).subscriptions) == []


@pytest.mark.asyncio
async def test_stored_definitions_from_newer_or_broken_writers(tmp_path: Path) -> None:
    import json

    from toolkit_graveyar.core.errors import StorageFailure
    from toolkit_graveyar.core.persistent_state import CONFIG_STREAM

    store = await LmdbStore.open(tmp_path)
    svc = EventStoreService(store, poll_interval=0.2)
    try:
        entry: dict[str, Any] = {**GroupConfig("s-1", "g").to_dict(), "future": 1}
        entry["settings"] = {**entry["settings"], "future_setting": True}
        doc = json.dumps({"version": 3, "entries": [entry]}).encode()
        prepared = await svc.prepare([ProposedEvent(str(uuid.uuid4()), "$PersistentConfig", doc)])
        await store.append(CONFIG_STREAM, prepared, Expected.any())
        subs = PersistentSubscriptions(svc)
        assert [i.config.group for i in await subs.list()] == ["g"]
        await subs.close()
        broken = await svc.prepare([ProposedEvent(str(uuid.uuid4()), "$PersistentConfig", b"{not json")])
        await store.append(CONFIG_STREAM, broken, Expected.any())
        with pytest.raises(StorageFailure):
            await PersistentSubscriptions(svc).load()
    finally:
        svc.shutdown()
        await store.close()
