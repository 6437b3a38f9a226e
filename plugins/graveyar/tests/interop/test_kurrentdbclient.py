"""kurrentdbclient (the real KurrentDB Python client) against `graveyar serve`, on both backends.

Every test drives a real `graveyar serve` subprocess over loopback gRPC with the unmodified
client, the way a user who switches from KurrentDB would.

kurrentdbclient's own test suite is not run here: peers' test material comes from the package
registry only, and PyPI's kurrentdbclient 1.3.5 (sdist and wheel) ships no tests (the sdist holds
LICENSE, README.md, pyproject.toml, PKG-INFO and the package). These tests cover what its suite
found failing against graveyar (follower redirects, `$tb` after soft delete, stopped reads).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from kurrentdbclient import KurrentDBClient, NewEvent, StreamState
from kurrentdbclient.exceptions import NotFoundError, StreamIsDeletedError, WrongCurrentVersionError

pytestmark = pytest.mark.interop


def _events(*types: str) -> list[NewEvent]:
    return [NewEvent(type=t, data=f'{{"t": "{t}"}}'.encode(), metadata=b'{"m": 1}') for t in types]


def test_append_and_read_with_every_expected_state(client: KurrentDBClient) -> None:
    s = str(uuid.uuid4())
    with pytest.raises(NotFoundError):
        client.get_stream(s)
    p1 = client.append_to_stream(s, current_version=StreamState.NO_STREAM, events=_events("A", "B"))
    p2 = client.append_to_stream(s, current_version=1, events=NewEvent(type="C", data=b"\x00\x01"))
    p3 = client.append_to_stream(s, current_version=StreamState.EXISTS, events=_events("D"))
    p4 = client.append_to_stream(s, current_version=StreamState.ANY, events=_events("E"))
    assert p1 < p2 < p3 < p4
    assert client.get_current_version(s) == 4
    events = client.get_stream(s)
    assert [e.type for e in events] == ["A", "B", "C", "D", "E"]
    assert [e.stream_position for e in events] == [0, 1, 2, 3, 4]
    assert events[0].metadata == b'{"m": 1}'
    assert events[0].content_type == "application/json"
    assert events[2].data == b"\x00\x01"
    assert events[1].commit_position == p1
    assert [e.type for e in client.get_stream(s, stream_position=3)] == ["D", "E"]
    assert [e.type for e in client.get_stream(s, backwards=True, limit=2)] == ["E", "D"]
    assert [e.type for e in client.get_stream(s, stream_position=1, backwards=True)] == ["B", "A"]
    for wrong in (0, 7, StreamState.NO_STREAM):
        with pytest.raises(WrongCurrentVersionError):
            client.append_to_stream(s, current_version=wrong, events=_events("X"))
        with pytest.raises(WrongCurrentVersionError):
            client.append_to_stream(s, current_version=wrong, events=NewEvent(type="X", data=b"{}"))
    with pytest.raises(WrongCurrentVersionError):
        client.append_to_stream(str(uuid.uuid4()), current_version=StreamState.EXISTS, events=_events("X"))
    assert client.get_current_version(s) == 4


def test_retried_append_is_idempotent(client: KurrentDBClient) -> None:
    s = str(uuid.uuid4())
    batch = _events("A", "B")
    first = client.append_to_stream(s, current_version=StreamState.NO_STREAM, events=batch)
    again = client.append_to_stream(s, current_version=StreamState.NO_STREAM, events=batch)
    assert first == again
    assert len(client.get_stream(s)) == 2
    # Partly recorded (a retry plus a new event) is a wrong expected version, and writes nothing.
    with pytest.raises(WrongCurrentVersionError):
        client.append_to_stream(s, current_version=StreamState.NO_STREAM, events=[*batch, *_events("C")])
    assert len(client.get_stream(s)) == 2


def test_read_all_forwards_backwards_and_filtered(client: KurrentDBClient) -> None:
    a, b = f"order-{uuid.uuid4()}", f"invoice-{uuid.uuid4()}"
    pa = client.append_to_stream(a, current_version=StreamState.NO_STREAM, events=_events("OrderCreated", "Shipped"))
    pb = client.append_to_stream(b, current_version=StreamState.NO_STREAM, events=_events("InvoiceIssued"))
    ours = {a, b}
    forward = [e for e in client.read_all() if e.stream_name in ours]
    assert [e.type for e in forward] == ["OrderCreated", "Shipped", "InvoiceIssued"]
    assert [e.commit_position for e in forward] == sorted(e.commit_position for e in forward)
    backward = [e for e in client.read_all(backwards=True) if e.stream_name in ours]
    assert [e.type for e in backward] == ["InvoiceIssued", "Shipped", "OrderCreated"]
    # Backwards from a position excludes it; forwards includes it.
    assert [e.type for e in client.read_all(commit_position=pb, backwards=True, limit=1)] == ["Shipped"]
    assert [e.type for e in client.read_all(commit_position=pa, limit=2)] == ["Shipped", "InvoiceIssued"]
    assert client.get_commit_position() == pb
    by_type = list(client.read_all(filter_include=["Invoice.*"]))
    assert [e.type for e in by_type] == ["InvoiceIssued"]
    by_stream = list(client.read_all(filter_include=["order-.*"], filter_by_stream_name=True))
    assert {e.stream_name for e in by_stream} == {a}
    excluded = [e for e in client.read_all(filter_exclude=["Shipped"]) if e.stream_name in ours]
    assert [e.type for e in excluded] == ["OrderCreated", "InvoiceIssued"]


def _take(sub: Any, n: int, timeout: float = 20.0) -> list[Any]:
    got: list[Any] = []
    done = threading.Event()

    def run() -> None:
        for item in sub:
            got.append(item)
            if len(got) >= n:
                break
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(timeout), f"only {len(got)} of {n} items arrived"
    return got


def test_catch_up_subscriptions_deliver_history_then_live(client: KurrentDBClient) -> None:
    s = f"sub-{uuid.uuid4()}"
    client.append_to_stream(s, current_version=StreamState.NO_STREAM, events=_events("A", "B"))
    sub = client.subscribe_to_stream(s, stream_position=0)
    got = _take(sub, 1)
    assert [e.type for e in got] == ["B"]  # the position is exclusive
    client.append_to_stream(s, current_version=1, events=_events("C"))
    assert [e.type for e in _take(sub, 1)] == ["C"]
    sub.stop()
    start = client.get_commit_position()
    all_sub = client.subscribe_to_all(commit_position=start, filter_include=[s], filter_by_stream_name=True)
    client.append_to_stream(s, current_version=2, events=_events("D", "E"))
    assert [e.type for e in _take(all_sub, 2)] == ["D", "E"]
    all_sub.stop()


def test_unfiltered_all_subscription_delivers_metadata_events_as_read_all(client: KurrentDBClient) -> None:
    s = f"meta-{uuid.uuid4()}"
    client.set_stream_metadata(s, metadata={"$maxCount": 5})
    client.append_to_stream(s, current_version=StreamState.ANY, events=_events("A"))
    everything = [(e.stream_name, e.type) for e in client.read_all(filter_exclude=[])]
    assert everything == [(f"$${s}", "$metadata"), (s, "A")]
    sub = client.subscribe_to_all(filter_exclude=[])
    assert [(e.stream_name, e.type) for e in _take(sub, 2)] == everything
    sub.stop()
    default = client.subscribe_to_all()  # kurrentdbclient excludes system events by default
    assert [(e.stream_name, e.type) for e in _take(default, 1)] == [(s, "A")]
    default.stop()


def test_filtered_subscription_sends_checkpoints(client: KurrentDBClient) -> None:
    noise = str(uuid.uuid4())
    client.append_to_stream(noise, current_version=StreamState.NO_STREAM, events=_events(*["Noise"] * 40))
    sub = client.subscribe_to_all(filter_include=["Wanted"], include_checkpoints=True, window_size=5)
    items = _take(sub, 2)
    assert all(type(i).__name__ == "Checkpoint" for i in items)
    assert items[0].commit_position < items[1].commit_position
    sub.stop()


def test_delete_revives_and_tombstone_is_permanent(client: KurrentDBClient) -> None:
    s = str(uuid.uuid4())
    with pytest.raises(NotFoundError):
        client.delete_stream(s, current_version=StreamState.NO_STREAM)
    client.append_to_stream(s, current_version=StreamState.NO_STREAM, events=_events("A", "B"))
    with pytest.raises(WrongCurrentVersionError):
        client.delete_stream(s, current_version=0)
    client.delete_stream(s, current_version=1)
    with pytest.raises(NotFoundError):
        client.get_stream(s)
    # Deleting again passes unless the expected state contradicts it.
    client.delete_stream(s, current_version=1)
    client.delete_stream(s, current_version=StreamState.ANY)
    with pytest.raises(WrongCurrentVersionError):
        client.delete_stream(s, current_version=0)
    with pytest.raises(StreamIsDeletedError):
        client.delete_stream(s, current_version=StreamState.EXISTS)
    client.append_to_stream(s, current_version=StreamState.NO_STREAM, events=_events("C"))
    assert [(e.type, e.stream_position) for e in client.get_stream(s)] == [("C", 2)]
    client.tombstone_stream(s, current_version=StreamState.ANY)
    with pytest.raises(StreamIsDeletedError):
        client.get_stream(s)
    with pytest.raises(StreamIsDeletedError):
        client.append_to_stream(s, current_version=StreamState.ANY, events=_events("D"))
    with pytest.raises(StreamIsDeletedError):
        client.tombstone_stream(s, current_version=StreamState.ANY)
    never = str(uuid.uuid4())
    with pytest.raises(NotFoundError):
        client.tombstone_stream(never, current_version=StreamState.EXISTS)
    client.tombstone_stream(never, current_version=StreamState.ANY)
    with pytest.raises(StreamIsDeletedError):
        client.append_to_stream(never, current_version=StreamState.NO_STREAM, events=_events("X"))


MAX_LONG = 2**63 - 1


def test_soft_delete_is_recorded_as_tb_in_the_metadata(client: KurrentDBClient) -> None:
    """KurrentDB keeps the other keys and sets `$tb` to long.MaxValue; the append that revives the
    stream sets it to the revision of its first event. The client reads both back."""
    s = str(uuid.uuid4())
    client.append_to_stream(s, current_version=StreamState.NO_STREAM, events=_events("A", "B"))
    client.set_stream_metadata(s, metadata={"owner": "me"})
    client.delete_stream(s, current_version=1)
    assert client.get_stream_metadata(s)[0] == {"owner": "me", "$tb": MAX_LONG}
    client.delete_stream(s, current_version=StreamState.ANY)  # deleting again records nothing new
    assert client.get_stream_metadata(s)[1] == 1
    # Writing the metadata back (mark included) keeps the stream deleted and its events hidden.
    metadata, version = client.get_stream_metadata(s)
    client.set_stream_metadata(s, metadata={**metadata, "foo": "bar"}, current_version=version)
    assert client.get_stream_metadata(s)[0] == {"owner": "me", "$tb": MAX_LONG, "foo": "bar"}
    with pytest.raises(NotFoundError):
        client.get_stream(s)
    client.append_to_stream(s, current_version=StreamState.ANY, events=_events("C"))
    assert [(e.type, e.stream_position) for e in client.get_stream(s)] == [("C", 2)]
    assert client.get_stream_metadata(s)[0] == {"owner": "me", "$tb": 2, "foo": "bar"}


def test_stream_metadata_and_gossip(client: KurrentDBClient) -> None:
    s = str(uuid.uuid4())
    client.set_stream_metadata(s, metadata={"owner": "me"})
    assert client.get_stream_metadata(s) == ({"owner": "me"}, 0)
    members = client.read_gossip()
    assert len(members) == 1
    assert members[0].state == "NODE_STATE_LEADER"
    assert f"{members[0].address}:{members[0].port}" == client.connection_target


def test_a_stopped_read_yields_nothing_and_the_server_keeps_serving(client: KurrentDBClient) -> None:
    """kurrentdbclient's `stop()` cancels the call: iterating then yields nothing, and the
    cancelled reads leave nothing behind that fails the calls after them."""
    for _ in range(3):
        client.append_to_stream(str(uuid.uuid4()), current_version=StreamState.NO_STREAM, events=_events(*"ABCDE"))
    assert len(list(client.read_all())) >= 15
    for n in range(10):
        reads: list[Callable[[], Any]] = [
            client.read_all,
            client.subscribe_to_all,
            lambda: client.read_all(backwards=True),
        ]
        for read in reads:
            response = read()
            if n % 2:
                next(iter(response))  # stopped mid-stream as well as before the first event
            response.stop()
            assert list(response) == []
        s = str(uuid.uuid4())
        client.append_to_stream(s, current_version=StreamState.NO_STREAM, events=_events("A", "B"))
        assert [e.type for e in client.get_stream(s)] == ["A", "B"]
