"""graveyar.v1 over real gRPC through the Python client, plus errors, limits, auth, health, reflection."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import grpc
import pytest

from toolkit_graveyar._proto import eventstore_pb2 as es
from toolkit_graveyar._proto.graveyar.v1 import graveyar_pb2 as pb
from toolkit_graveyar.client import AsyncGraveyarClient, GraveyarClient, new_event
from toolkit_graveyar.core.errors import (
    DuplicateEventId,
    InvalidRequest,
    SnapshotRejected,
    StreamNotFound,
    Unauthenticated,
    Unavailable,
    WrongExpectedVersion,
)
from toolkit_graveyar.core.model import Expected, StreamMetadata
from toolkit_graveyar.core.validation import Limits


@pytest.fixture
def client(server: Any) -> Any:
    with GraveyarClient(server.address) as c:
        yield c


def test_append_read_roundtrip(client: GraveyarClient) -> None:
    r = client.append("order-1", [new_event("Placed", {"n": i}) for i in range(3)], Expected.no_stream())
    assert (r.first_version, r.version, r.first_position, r.position, r.duplicate) == (1, 3, 1, 3, False)
    events = client.read("order-1")
    assert [e.version for e in events] == [1, 2, 3]
    assert events[0].data == b'{"n":0}'
    assert [e.version for e in client.read("order-1", 3, backward=True, limit=2)] == [3, 2]
    assert [e.position for e in client.read_all(2)] == [2, 3]
    info = client.stream_info("order-1")
    assert (info.version, info.position) == (3, 3)


def test_wrong_expected_version_details(client: GraveyarClient) -> None:
    client.append("s", [new_event("T")])
    with pytest.raises(WrongExpectedVersion) as exc:
        client.append("s", [new_event("T")], Expected.exact(7))
    assert exc.value.details == {"stream": "s", "expected": "7", "actual": 1}
    with pytest.raises(WrongExpectedVersion) as exc:
        client.append("s", [new_event("T")], Expected.no_stream())
    assert exc.value.details["expected"] == "no_stream"


def test_idempotent_retry_and_duplicate(client: GraveyarClient) -> None:
    batch = [new_event("T", "a"), new_event("T", "b")]
    first = client.append("s", batch, Expected.exact(0))
    again = client.append("s", batch, Expected.exact(0))
    assert again.duplicate
    assert again.position == first.position
    with pytest.raises(DuplicateEventId):
        client.append("s", [new_event("T", "other", event_id=batch[0].event_id)])
    assert len(client.read("s")) == 2


def test_not_found_and_delete(client: GraveyarClient) -> None:
    with pytest.raises(StreamNotFound):
        client.read("missing")
    with pytest.raises(StreamNotFound):
        client.stream_info("missing")
    client.append("s", [new_event("T"), new_event("T")])
    assert client.delete_stream("s", Expected.exact(2)) == 2
    with pytest.raises(StreamNotFound):
        client.read("s")
    assert client.append("s", [new_event("T")], Expected.no_stream()).version == 3
    assert client.stream_info("s").truncate_before == 3


def test_metadata_streams_snapshots_schemas(client: GraveyarClient) -> None:
    info = client.set_stream_metadata("s", StreamMetadata(max_count=1))
    assert info.metadata == StreamMetadata(1, None)
    client.append("s", [new_event("T"), new_event("T")])
    assert [e.version for e in client.read("s")] == [2]
    client.append("t", [new_event("T")])
    assert [i.stream for i in client.list_streams()] == ["s", "t"]
    assert [i.stream for i in client.list_streams(after="s")] == ["t"]
    assert client.save_snapshot("s", 2, b"state") == 2
    snap = client.get_snapshot("s")
    assert (snap.version, snap.payload) == (2, b"state")
    with pytest.raises(SnapshotRejected):
        client.save_snapshot("s", 1, b"older")
    with pytest.raises(StreamNotFound):
        client.get_snapshot("t")
    schema = {"name": "T", "fields": {"x": {"field_type": {"primitive": "BOOLEAN"}, "nullable": True}}}
    assert client.upsert_schema(schema) == "T"
    assert client.get_schema("T") == schema
    with pytest.raises(StreamNotFound):
        client.get_schema("nope")
    with pytest.raises(InvalidRequest):
        client.upsert_schema({"name": "bad", "fields": {"x": {}}})


def test_subscription_history_then_live_exactly_once(server: Any, client: GraveyarClient) -> None:
    for i in range(5):
        client.append(f"s-{i % 2}", [new_event("T", str(i))])
    received: list[int] = []
    kinds: list[str] = []
    done = threading.Event()

    def consume() -> None:
        with GraveyarClient(server.address) as c:
            for msg in c.subscribe():
                kinds.append(msg.kind)
                if msg.event is not None:
                    received.append(msg.event.position)
                if len(received) >= 305:
                    done.set()
                    return

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while "caught_up" not in kinds and time.monotonic() < deadline:
        time.sleep(0.01)
    # live writes race with the switch from history to live: each must arrive once, in order
    writers = [
        threading.Thread(target=lambda k=k: [client.append(f"w-{k}", [new_event("T")]) for _ in range(100)])
        for k in range(3)
    ]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    assert done.wait(30), f"received {len(received)}"
    assert received == list(range(1, 306))
    assert kinds.count("caught_up") == 1
    assert kinds.index("caught_up") == 5


def test_subscription_resumes_after_server_restart(make_server: Any, tmp_path: Path) -> None:
    from toolkit_graveyar.storage.lmdb_store import LmdbStore

    data = tmp_path / "shared"
    first = make_server(lambda: LmdbStore.open(data))
    port = first.running.port
    with GraveyarClient(first.address) as c:
        for _ in range(3):
            c.append("s", [new_event("T")])
    received: list[int] = []
    kinds: list[str] = []
    errors: list[BaseException] = []

    def consume() -> None:
        try:
            with GraveyarClient(first.address, retries=6) as c:
                for msg in c.subscribe("s"):
                    kinds.append(msg.kind)
                    if msg.event is not None:
                        received.append(msg.event.version)
                    if len(received) >= 6:
                        return
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while "caught_up" not in kinds and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    first.stop(grace=20.0)  # live subscriptions end at once with UNAVAILABLE instead of waiting out the grace
    assert time.monotonic() - started < 10.0
    second = make_server(lambda: LmdbStore.open(data), bind=f"127.0.0.1:{port}")
    with GraveyarClient(second.address) as c:
        for _ in range(3):
            c.append("s", [new_event("T")])
    t.join(30)
    assert not errors, errors
    assert received == [1, 2, 3, 4, 5, 6]


def test_malformed_and_oversized_requests(make_server: Any) -> None:
    srv = make_server(limits=Limits(max_event_size=1000, max_append_size=1500))
    with grpc.insecure_channel(srv.address) as ch:
        raw = ch.unary_unary("/graveyar.v1.Graveyar/Append")
        with pytest.raises(grpc.RpcError) as exc:
            raw(b"\xff\xff\xff\xff garbage", timeout=5)
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        raw_compat = ch.unary_unary("/eventstore.EventStore/AppendEvent")
        with pytest.raises(grpc.RpcError) as exc:
            raw_compat(b"\x0a\xff", timeout=5)
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        bad_enum = pb.AppendRequest(stream="s", expected_state=9, events=[es.Event(event_type="T")])  # type: ignore[arg-type]
        with pytest.raises(grpc.RpcError) as exc:
            raw(bad_enum.SerializeToString(), timeout=5)
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with GraveyarClient(srv.address) as c:
        with pytest.raises(InvalidRequest) as err:
            c.append("s", [new_event("T", b"x" * 1001)])
        assert err.value.details["limit"] == 1000
        with pytest.raises(InvalidRequest):
            c.append("s", [new_event("T", b"x" * 800), new_event("T", b"x" * 800)])
        with pytest.raises(InvalidRequest):
            c.append("$all", [new_event("T")])
        with pytest.raises(InvalidRequest):
            c.read("")
        # still serving
        assert c.append("s", [new_event("T", b"fine")]).version == 1


def test_bearer_token(make_server: Any) -> None:
    srv = make_server(token="s3cret")
    with GraveyarClient(srv.address) as anon:
        with pytest.raises(Unauthenticated):
            anon.append("s", [new_event("T")])
        with pytest.raises(Unauthenticated):
            anon.read("s")
    with GraveyarClient(srv.address, token="wrong") as bad, pytest.raises(Unauthenticated):
        bad.list_streams()
    with GraveyarClient(srv.address, token="s3cret") as ok:
        assert ok.append("s", [new_event("T")]).version == 1
    # The KurrentDB services follow the same token rule (toolkit_kernel.exposure).
    import grpc

    from toolkit_graveyar._proto.kurrentdb.v1 import gossip_pb2, shared_pb2

    with grpc.insecure_channel(srv.address) as channel:
        read = channel.unary_unary(
            "/event_store.client.gossip.Gossip/Read",
            request_serializer=shared_pb2.Empty.SerializeToString,
            response_deserializer=gossip_pb2.ClusterInfo.FromString,
        )
        with pytest.raises(grpc.RpcError) as exc:
            read(shared_pb2.Empty(), timeout=5)
        assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED
        info = read(shared_pb2.Empty(), timeout=5, metadata=(("authorization", "Bearer s3cret"),))
        assert len(info.members) == 1


def test_exposure_rule_refuses_unusable_tokens() -> None:
    from toolkit_graveyar.grpc.server import check_bind
    from toolkit_kernel.errors import UsageError

    for bad in ("", "two words"):
        with pytest.raises(UsageError):
            check_bind("0.0.0.0:1", bad)
    with pytest.raises(UsageError):
        check_bind("0.0.0.0:1", None, tls=True)  # TLS does not replace the token


def test_health_and_reflection(server: Any) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    with grpc.insecure_channel(server.address) as ch:
        health = health_pb2_grpc.HealthStub(ch)
        for name in ("", "eventstore.EventStore", "graveyar.v1.Graveyar"):
            resp = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
            assert resp.status == health_pb2.HealthCheckResponse.SERVING
        refl = reflection_pb2_grpc.ServerReflectionStub(ch)
        responses = refl.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = {s.name for r in responses for s in r.list_services_response.service}
        assert {"eventstore.EventStore", "graveyar.v1.Graveyar", "grpc.health.v1.Health"} <= names


def test_unreachable_server_is_unavailable() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with GraveyarClient(f"127.0.0.1:{port}", retries=1, timeout=2) as c, pytest.raises(Unavailable) as exc:
        c.list_streams()
    assert exc.value.kind == "ipc"


def test_refuses_public_bind_without_token() -> None:
    from toolkit_graveyar.grpc.server import check_bind
    from toolkit_kernel.errors import UsageError

    with pytest.raises(UsageError):
        check_bind("0.0.0.0:50051", None)
    assert check_bind("0.0.0.0:50051", "t") == ("0.0.0.0", 50051)
    assert check_bind("[::1]:1", None) == ("::1", 1)
    for bad in ("127.0.0.1:99999", "127.0.0.1:65536", "127.0.0.1:", "127.0.0.1"):
        with pytest.raises(UsageError):
            check_bind(bad, None)
    assert check_bind("127.0.0.1:65535", None) == ("127.0.0.1", 65535)


@pytest.mark.asyncio
async def test_async_client(server: Any) -> None:
    async with AsyncGraveyarClient(server.address) as c:
        r = await c.append("s", [new_event("T", "1"), new_event("T", "2")], Expected.no_stream())
        assert r.version == 2
        assert [e.data for e in await c.read("s")] == [b"1", b"2"]
        assert len(await c.read_all()) == 2
        seen = []
        async for msg in c.subscribe("s"):
            seen.append(msg.kind)
            if msg.kind == "caught_up":
                break
        assert seen == ["event", "event", "caught_up"]
        with pytest.raises(WrongExpectedVersion):
            await c.append("s", [new_event("T")], Expected.exact(0))
        assert (await c.stream_info("s")).version == 2
        await c.save_snapshot("s", 2, b"x")
        assert (await c.get_snapshot("s")).payload == b"x"


def test_tls(make_server: Any, tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    srv = make_server(tls_cert=cert, tls_key=key)
    with GraveyarClient(srv.address, tls_ca=cert) as c:
        assert c.append("s", [new_event("T")]).version == 1
    with GraveyarClient(srv.address, retries=0, timeout=3) as plain, pytest.raises(Unavailable):
        plain.list_streams()
    _ = uuid


def test_bounded_inflight_calls(make_server: Any) -> None:
    srv = make_server(max_inflight=2)
    with GraveyarClient(srv.address) as c:
        c.append("s", [new_event("T")])
        subs = [c.subscribe("s") for _ in range(2)]
        for sub in subs:  # two long-lived calls hold both slots
            assert next(sub).kind == "event"
        from toolkit_graveyar.core.errors import ServerBusy

        with pytest.raises(ServerBusy):
            c.list_streams()
        for sub in subs:
            sub.close()
        deadline = time.monotonic() + 10
        while True:
            try:
                assert c.list_streams()[0].stream == "s"
                break
            except ServerBusy:
                assert time.monotonic() < deadline
                time.sleep(0.05)


def test_conflict_trailers_survive_unicode_stream_names(client: GraveyarClient) -> None:
    client.append("bestellung-ü", [new_event("T")])
    with pytest.raises(WrongExpectedVersion) as exc:
        client.append("bestellung-ü", [new_event("T")], Expected.no_stream())
    assert exc.value.details["stream"] == "bestellung-ü"
    assert exc.value.details["actual"] == 1


def test_plugin_hooks() -> None:
    from toolkit_graveyar import plugin

    (group,) = plugin.toolkit_commands()
    assert group.name == "graveyar"
    (spec,) = plugin.toolkit_services()
    assert spec.default_address == "127.0.0.1:50051"
    assert spec.argv == ("toolkit", "graveyar", "serve")


def test_large_events_are_split_across_response_messages(client: GraveyarClient) -> None:
    from toolkit_graveyar.grpc.guard import MAX_FRAME, chunk_by_size

    big = b"x" * (3 * 1024 * 1024)
    for _ in range(4):  # 12 MiB in one read: more than one 8 MiB frame
        client.append("big", [new_event("Blob", big)])
    events = client.read("big")
    assert [e.version for e in events] == [1, 2, 3, 4]
    assert all(e.data == big for e in events)
    assert [len(c) for c in chunk_by_size([b"a" * MAX_FRAME, b"b", b"c" * MAX_FRAME])] == [1, 1, 1]
    assert [len(c) for c in chunk_by_size([b"a", b"b"])] == [2]
