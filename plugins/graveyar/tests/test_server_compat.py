"""graveyar_db's eventstore.EventStore over real gRPC: its semantics, without its defects."""

from __future__ import annotations

import json
import uuid
from typing import Any

import grpc
import pytest

from toolkit_graveyar._proto import eventstore_pb2 as es
from toolkit_graveyar._proto import eventstore_pb2_grpc as es_grpc


@pytest.fixture
def stub(server: Any) -> Any:
    channel = grpc.insecure_channel(server.address)
    yield es_grpc.EventStoreStub(channel)  # type: ignore[no-untyped-call]
    channel.close()


def event(**kw: Any) -> es.Event:
    base: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "event_type": "UserActivated",
        "payload": b'{"a": 1}',
        "transition": es.Transition(name="user.activated", from_state="pending", to_state="active"),
    }
    base.update(kw)
    return es.Event(**base)


def append(stub: Any, stream: str, events: list[es.Event], expected: int = -1) -> Any:
    return stub.AppendEvent(es.AppendEventRequest(stream_id=stream, events=events, expected_version=expected))


def test_append_and_get_events(stub: Any) -> None:
    assert append(stub, "user-1", [event()], 0).success
    assert append(stub, "user-1", [event(timestamp=42, metadata={"k": "v"})], 1).success
    assert append(stub, "user-1", [event()], -1).success
    got = list(stub.GetEvents(es.GetEventsRequest(stream_id="user-1")))
    assert len(got) == 3
    assert got[0].timestamp > 1_700_000_000_000  # stamped by the server
    assert got[1].timestamp == 42
    assert dict(got[1].metadata) == {"k": "v"}
    assert got[0].transition.to_state == "active"
    assert list(stub.GetEvents(es.GetEventsRequest(stream_id="nobody"))) == []


def test_conflict_is_aborted_with_details(stub: Any) -> None:
    append(stub, "s", [event()])
    with pytest.raises(grpc.RpcError) as exc:
        append(stub, "s", [event()], 0)
    err = exc.value
    assert err.code() == grpc.StatusCode.ABORTED
    assert "expected version 0 does not match current version 1" in err.details()
    trailers = dict(err.trailing_metadata())
    assert trailers["exception"] == "wrong-expected-version"
    assert (trailers["expected-version"], trailers["actual-version"], trailers["stream-name"]) == ("0", "1", "s")


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([], -1),
        (["ok", {"id": ""}], -1),
        (["ok", {"transition": None}], -1),
        (["ok"], -2),
        ([{"id": "not-a-uuid"}], -1),
        ([{"id": ""}], -1),
        ([{"transition": None}], -1),
        ([{"transition": es.Transition(name="x", from_state="a", to_state="a")}], -1),
        ([{"transition": es.Transition(name=" ", from_state="a", to_state="b")}], -1),
    ],
)
def test_invalid_appends(stub: Any, events: list[Any], expected: int) -> None:
    built: list[es.Event] = []
    for spec in events:
        if spec == "two":
            built += [event(), event()]
        elif spec == "ok":
            built.append(event())
        else:
            kw = dict(spec)
            if kw.get("transition", 1) is None:
                kw.pop("transition")
                e = event()
                e.ClearField("transition")
                built.append(e)
                continue
            built.append(event(**kw))
    with pytest.raises(grpc.RpcError) as exc:
        append(stub, "s", built, expected)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert list(stub.GetEvents(es.GetEventsRequest(stream_id="s"))) == []


def test_several_events_append_atomically(stub: Any) -> None:
    assert append(stub, "batch", [event(), event(), event()], 0).success
    assert len(list(stub.GetEvents(es.GetEventsRequest(stream_id="batch")))) == 3
    with pytest.raises(grpc.RpcError) as exc:
        append(stub, "batch", [event(), event()], 2)  # a conflict writes none of them
    assert exc.value.code() == grpc.StatusCode.ABORTED
    assert len(list(stub.GetEvents(es.GetEventsRequest(stream_id="batch")))) == 3


def test_prefix_streams_do_not_mix(stub: Any) -> None:
    append(stub, "a", [event()])
    append(stub, "a:b", [event()])
    assert len(list(stub.GetEvents(es.GetEventsRequest(stream_id="a")))) == 1


def test_duplicate_id_is_idempotent(stub: Any) -> None:
    e = event()
    append(stub, "s", [e], 0)
    assert append(stub, "s", [e], 0).success  # retry of an acknowledged append
    assert len(list(stub.GetEvents(es.GetEventsRequest(stream_id="s")))) == 1


def test_schema_soft_and_lookup(stub: Any) -> None:
    schema = es.Schema(
        name="UserActivated",
        fields={
            "a": es.Field(
                field_type=es.FieldType(primitive=es.FieldType.NUMBER),
                constraints=es.FieldConstraints(required=True, max_value=10),
            )
        },
    )
    resp = stub.UpsertSchema(es.UpsertSchemaRequest(schema=schema))
    assert resp.success
    got = stub.GetSchema(es.GetSchemaRequest(name="UserActivated"))
    assert got.found
    assert got.schema == schema
    assert not stub.GetSchema(es.GetSchemaRequest(name="nope")).found
    # soft mode: a violating payload is accepted
    assert append(stub, "s", [event(payload=json.dumps({"a": 99}).encode())]).success


def test_schema_hard_fail(make_server: Any) -> None:
    srv = make_server(schema_hard_fail=True)
    with grpc.insecure_channel(srv.address) as ch:
        stub = es_grpc.EventStoreStub(ch)  # type: ignore[no-untyped-call]
        schema = es.Schema(
            name="UserActivated",
            fields={"a": es.Field(field_type=es.FieldType(primitive=es.FieldType.STRING))},
        )
        stub.UpsertSchema(es.UpsertSchemaRequest(schema=schema))
        with pytest.raises(grpc.RpcError) as exc:
            append(stub, "s", [event(payload=b'{"a": 1}')])
        assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        with pytest.raises(grpc.RpcError) as exc:
            append(stub, "s", [event(payload=b"[1]")])
        assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert append(stub, "s", [event(payload=b'{"a": "x"}')]).success


def test_snapshots(stub: Any) -> None:
    append(stub, "s", [event()])
    append(stub, "s", [event()])
    assert not stub.GetSnapshot(es.GetSnapshotRequest(stream_id="s")).found
    with pytest.raises(grpc.RpcError) as exc:
        stub.SaveSnapshot(es.SaveSnapshotRequest(snapshot=es.Snapshot(stream_id="s", version=1, payload=b"x")))
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    ok = stub.SaveSnapshot(es.SaveSnapshotRequest(snapshot=es.Snapshot(stream_id="s", version=2, payload=b"st")))
    assert ok.success
    got = stub.GetSnapshot(es.GetSnapshotRequest(stream_id="s"))
    assert got.found
    assert (got.snapshot.version, got.snapshot.payload) == (2, b"st")
    assert got.snapshot.timestamp > 0


def test_is_forwarded_is_ignored(stub: Any) -> None:
    req = es.AppendEventRequest(stream_id="s", events=[event()], expected_version=-1, is_forwarded=True)
    assert stub.AppendEvent(req).success


def test_get_events_streams_long_streams_page_by_page(server: Any, stub: Any) -> None:
    from toolkit_graveyar.client import GraveyarClient, new_event

    with GraveyarClient(server.address) as c:
        c.append("long", [new_event("T", str(i)) for i in range(1200)])
        c.append("long:x", [new_event("T", "other")])
    got = list(stub.GetEvents(es.GetEventsRequest(stream_id="long")))
    assert [e.payload for e in got] == [str(i).encode() for i in range(1200)]
    assert all(e.timestamp > 0 for e in got)
