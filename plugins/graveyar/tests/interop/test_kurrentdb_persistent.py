"""kurrentdbclient's persistent subscriptions against `graveyar serve`, on both backends.

The real client creates, reads (acks and every nack action), inspects, lists, replays parked
messages of and deletes groups on one stream and on `$all`; a restarted server resumes from the
stored checkpoint and keeps parked messages.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from kurrentdbclient import KurrentDBClient, NewEvent, StreamState
from kurrentdbclient.common import AbstractPersistentSubscription
from kurrentdbclient.exceptions import AlreadyExistsError, InternalError, KurrentDBClientError, NotFoundError

pytestmark = pytest.mark.interop

#: Generous: the machine is shared and loaded; a healthy server answers in milliseconds.
DEADLINE = 60.0


def _append(client: KurrentDBClient, stream: str, *types: str) -> int:
    events = [NewEvent(type=t, data=f'{{"t": "{t}"}}'.encode()) for t in types]
    return client.append_to_stream(stream, current_version=StreamState.ANY, events=events)


def _until(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _take(sub: AbstractPersistentSubscription, n: int) -> list[Any]:
    return [next(sub) for _ in range(n)]


def test_stream_group_delivers_acks_retries_parks_and_replays(client: KurrentDBClient) -> None:
    s = f"order-{uuid.uuid4()}"
    _append(client, s, "A", "B", "C")
    client.create_subscription_to_stream("workers", s, min_checkpoint_count=1, checkpoint_after=0.1)
    with pytest.raises(AlreadyExistsError):
        client.create_subscription_to_stream("workers", s)
    sub = client.read_subscription_to_stream("workers", s, timeout=DEADLINE)
    try:
        a, b, c = _take(sub, 3)
        assert [e.type for e in (a, b, c)] == ["A", "B", "C"]
        assert [e.stream_position for e in (a, b, c)] == [0, 1, 2]
        assert a.retry_count == 0
        sub.ack(a)
        sub.nack(b, "retry")
        sub.nack(c, "park")
        again = next(sub)
        assert (again.type, again.retry_count) == ("B", 1)
        sub.ack(again)
        info = _until(
            lambda: (i := client.get_subscription_info("workers", s)).last_checkpointed_event_position == "2" and i,
            "the checkpoint after every message is done",
        )
        assert info.parked_message_count == 1
        assert info.event_source == s
        assert info.consumer_strategy == "DispatchToSingle"
        assert len(info.connections) == 1
        parked = client.get_stream(f"$persistentsubscription-{s}::workers-parked")
        assert [e.type for e in parked] == ["$>"]
        assert parked[0].data == f"2@{s}".encode()
        client.replay_parked_events("workers", s)
        replayed = next(sub)
        assert (replayed.type, replayed.stream_name, replayed.stream_position) == ("C", s, 2)
        assert replayed.link is not None
        sub.ack(replayed)
        _until(lambda: client.get_subscription_info("workers", s).parked_message_count == 0, "replayed parked")
        _append(client, s, "D")
        live = next(sub)
        assert (live.type, live.stream_position) == ("D", 3)
        sub.ack(live)
    finally:
        sub.stop()
    assert [i.group_name for i in client.list_subscriptions_to_stream(s)] == ["workers"]
    client.delete_subscription("workers", s)
    with pytest.raises(NotFoundError):
        client.get_subscription_info("workers", s)
    assert client.list_subscriptions_to_stream(s) == []
    with pytest.raises(NotFoundError):
        client.read_subscription_to_stream("workers", s, timeout=DEADLINE)


def test_messages_past_max_retry_count_are_parked(client: KurrentDBClient) -> None:
    s = f"flaky-{uuid.uuid4()}"
    _append(client, s, "X")
    client.create_subscription_to_stream("g", s, max_retry_count=2)
    sub = client.read_subscription_to_stream("g", s, timeout=DEADLINE)
    try:
        counts = []
        for _ in range(3):
            ev = next(sub)
            counts.append(ev.retry_count)
            sub.nack(ev, "retry")
        assert counts == [0, 1, 2]
        _until(lambda: client.get_subscription_info("g", s).parked_message_count == 1, "the message parked")
        _append(client, s, "Y")
        assert next(sub).type == "Y"  # the parked message is not delivered again
    finally:
        sub.stop()


def test_skip_and_unacked_messages_after_a_reconnect(client: KurrentDBClient) -> None:
    s = f"skip-{uuid.uuid4()}"
    _append(client, s, "A", "B")
    client.create_subscription_to_stream("g", s)
    sub = client.read_subscription_to_stream("g", s, timeout=DEADLINE)
    a, _b = _take(sub, 2)
    sub.nack(a, "skip")
    sub.stop()  # B was never acked: the next reader gets it
    sub = client.read_subscription_to_stream("g", s, timeout=DEADLINE)
    try:
        ev = next(sub)
        assert ev.type == "B"
        sub.ack(ev)
    finally:
        sub.stop()


def test_round_robin_spreads_and_dispatch_to_single_fills_the_first(client: KurrentDBClient) -> None:
    for strategy in ("RoundRobin", "DispatchToSingle"):
        s = f"spread-{strategy}-{uuid.uuid4()}"
        client.create_subscription_to_stream("g", s, consumer_strategy=strategy)
        first = client.read_subscription_to_stream("g", s, timeout=DEADLINE)
        second = client.read_subscription_to_stream("g", s, timeout=DEADLINE)
        try:
            _until(lambda: len(client.get_subscription_info("g", s).connections) == 2, "two consumers")  # noqa: B023
            _append(client, s, "E1", "E2", "E3", "E4")
            if strategy == "RoundRobin":
                got = [e.type for e in _take(first, 2) + _take(second, 2)]
                assert sorted(got) == ["E1", "E2", "E3", "E4"]
            else:
                assert [e.type for e in _take(first, 4)] == ["E1", "E2", "E3", "E4"]
            info = client.get_subscription_info("g", s)
            assert info.consumer_strategy == strategy
        finally:
            first.stop()
            second.stop()


def test_pinned_sends_each_stream_to_one_consumer(client: KurrentDBClient) -> None:
    tag = uuid.uuid4().hex
    streams = [f"pin{tag}-{i}" for i in range(4)]
    client.create_subscription_to_all(
        "pinned", filter_include=[f"pin{tag}-.*"], filter_by_stream_name=True, consumer_strategy="Pinned"
    )
    subs = [client.read_subscription_to_all("pinned", timeout=DEADLINE) for _ in range(2)]
    try:
        _until(lambda: len(client.get_subscription_info("pinned").connections) == 2, "two consumers")
        for stream in streams:
            _append(client, stream, "P1", "P2")
        owners: dict[str, set[int]] = {}
        info = _until(lambda: (i := client.get_subscription_info("pinned")).total_items == 8 and i, "8 deliveries")
        per_consumer = [c.total_items for c in info.connections]
        for idx, sub in enumerate(subs):
            for ev in _take(sub, per_consumer[idx]):
                owners.setdefault(ev.stream_name, set()).add(idx)
                sub.ack(ev)
        assert sorted(owners) == sorted(streams)
        assert all(len(who) == 1 for who in owners.values())
    finally:
        for sub in subs:
            sub.stop()


def test_all_group_filters_resolves_and_lists(client: KurrentDBClient) -> None:
    tag = uuid.uuid4().hex
    _append(client, f"acct{tag}-1", "Opened")
    _append(client, f"other{tag}", "Noise")
    position = _append(client, f"acct{tag}-2", "Opened", "Closed")
    client.create_subscription_to_all("audit", filter_include=[f"acct{tag}-.*"], filter_by_stream_name=True)
    client.create_subscription_to_all("late", commit_position=position)
    with pytest.raises(AlreadyExistsError):
        client.create_subscription_to_all("audit")
    sub = client.read_subscription_to_all("audit", timeout=DEADLINE)
    try:
        got = _take(sub, 3)
        assert [(e.stream_name, e.type) for e in got] == [
            (f"acct{tag}-1", "Opened"),
            (f"acct{tag}-2", "Opened"),
            (f"acct{tag}-2", "Closed"),
        ]
        for ev in got:
            sub.ack(ev)
        assert got[2].commit_position == position
    finally:
        sub.stop()
    late = client.read_subscription_to_all("late", timeout=DEADLINE)
    try:
        assert next(late).commit_position == position  # a start position is included
    finally:
        late.stop()
    groups = {(i.event_source, i.group_name) for i in client.list_subscriptions()}
    assert {("$all", "audit"), ("$all", "late")} <= groups
    info = client.get_subscription_info("late")
    assert info.start_from == f"C:{position}/P:{position}"
    client.delete_subscription("audit")
    client.delete_subscription("late")
    assert not {g for g in {(i.event_source, i.group_name) for i in client.list_subscriptions()} if g[0] == "$all"}


def test_update_changes_settings_and_keeps_the_checkpoint(client: KurrentDBClient) -> None:
    s = f"upd-{uuid.uuid4()}"
    _append(client, s, "A", "B")
    client.create_subscription_to_stream("g", s, min_checkpoint_count=1, checkpoint_after=0.1)
    sub = client.read_subscription_to_stream("g", s, timeout=DEADLINE)
    for ev in _take(sub, 2):
        sub.ack(ev)
    _until(lambda: client.get_subscription_info("g", s).last_checkpointed_event_position == "1", "checkpoint")
    client.update_subscription_to_stream("g", s, consumer_strategy="RoundRobin", max_retry_count=3)
    with pytest.raises(KurrentDBClientError):
        next(sub)  # the update dropped the reader
    info = client.get_subscription_info("g", s)
    assert (info.consumer_strategy, info.max_retry_count) == ("RoundRobin", 3)
    _append(client, s, "C")
    sub = client.read_subscription_to_stream("g", s, timeout=DEADLINE)
    try:
        assert next(sub).type == "C"
    finally:
        sub.stop()


def test_settings_kurrentdb_refuses_answer_internal_and_change_nothing(client: KurrentDBClient) -> None:
    # kurrentdbclient's defaults read batches of 200: a history buffer of 100 cannot hold one.
    with pytest.raises(InternalError, match="history_buffer_size"):
        client.create_subscription_to_all("g", history_buffer_size=100)
    with pytest.raises(InternalError, match="consumer strategy"):
        client.create_subscription_to_all("g", consumer_strategy="InvalidStrategy")  # type: ignore[call-overload]
    assert client.list_subscriptions() == []
    client.create_subscription_to_all("g")
    with pytest.raises(InternalError, match="history_buffer_size"):
        client.update_subscription_to_all("g", history_buffer_size=100)  # keeps its read batch of 200
    assert client.get_subscription_info("g").history_buffer_size == 500
    client.update_subscription_to_all("g", read_batch_size=20, history_buffer_size=100)
    assert client.get_subscription_info("g").history_buffer_size == 100


def test_max_subscriber_count_refuses_one_more(client: KurrentDBClient) -> None:
    s = f"max-{uuid.uuid4()}"
    client.create_subscription_to_stream("g", s, max_subscriber_count=1)
    sub = client.read_subscription_to_stream("g", s, timeout=DEADLINE)
    try:
        with pytest.raises(KurrentDBClientError):
            client.read_subscription_to_stream("g", s, timeout=DEADLINE)
    finally:
        sub.stop()


def test_restart_resumes_from_the_checkpoint_and_keeps_parked(proc_server: Any, store_args: list[str]) -> None:
    store = store_args
    srv = proc_server(*store, "--bind", "127.0.0.1:0")
    client = KurrentDBClient(f"kurrentdb://{srv.address}?Tls=false")
    s = f"restart-{uuid.uuid4()}"
    _append(client, s, "A", "B", "C")
    client.create_subscription_to_stream("g", s, min_checkpoint_count=1, checkpoint_after=0.1)
    sub = client.read_subscription_to_stream("g", s, timeout=DEADLINE)
    a, b, c = _take(sub, 3)
    sub.ack(a)
    sub.nack(b, "park")
    sub.ack(c)
    _until(lambda: client.get_subscription_info("g", s).last_checkpointed_event_position == "2", "checkpoint")
    sub.stop()
    client.close()
    assert srv.terminate() == 0
    srv = proc_server(*store, "--bind", "127.0.0.1:0")
    client = KurrentDBClient(f"kurrentdb://{srv.address}?Tls=false")
    try:
        info = client.get_subscription_info("g", s)
        assert (info.last_checkpointed_event_position, info.parked_message_count) == ("2", 1)
        _append(client, s, "D")
        sub = client.read_subscription_to_stream("g", s, timeout=DEADLINE)
        assert next(sub).type == "D"
        client.replay_parked_events("g", s)
        assert next(sub).type == "B"
        sub.stop()
    finally:
        client.close()
