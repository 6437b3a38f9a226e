"""Scavenging end to end: `graveyar scavenge` and KurrentDB's Operations API against `graveyar serve`."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import grpc
import pytest

NEEDLE = b"scavenge-me-" + uuid.uuid4().hex.encode()


@pytest.fixture
def srv(proc_server: Any, tmp_path: Path) -> Any:
    return proc_server("--data-dir", str(tmp_path / "data"), "--bind", "127.0.0.1:0")


def test_cli_scavenge_waits_for_the_outcome(cli: Any, srv: Any, tmp_path: Path) -> None:
    from toolkit_graveyar.client import GraveyarClient, new_event

    with GraveyarClient(srv.address) as c:
        c.append("doomed", [new_event("T", NEEDLE) for _ in range(20)])
        c.append("kept", [new_event("T", "{}")])
        c.delete_stream("doomed")
    r = cli("graveyar", "--server", srv.address, "--json", "scavenge", "--wait")
    report = r.assert_success().json()
    assert report["result"] == "Success"
    assert report["eventsRemoved"] == 20
    assert report["bytesRemoved"] > 20 * len(NEEDLE)
    with GraveyarClient(srv.address) as c:
        # The deleted stream's events are gone from $all; the scavenge's own report follows.
        report_stream = f"$scavenges-{report['scavengeId']}"
        assert [e.stream for e in c.read_all()] == ["kept", report_stream, report_stream]
    r = cli("graveyar", "--server", srv.address, "--json", "scavenge", "--stop", "nope")
    assert r.exit_code == 3  # not found
    assert "nope" in r.stderr


def test_operations_api_starts_and_refuses_what_it_does_not_serve(srv: Any) -> None:
    from toolkit_graveyar._proto.kurrentdb.v1 import operations_pb2 as ops
    from toolkit_graveyar._proto.kurrentdb.v1 import operations_pb2_grpc as ops_grpc
    from toolkit_graveyar._proto.kurrentdb.v1 import shared_pb2

    with grpc.insecure_channel(srv.address) as channel:
        stub = ops_grpc.OperationsStub(channel)  # type: ignore[no-untyped-call]
        resp = stub.StartScavenge(ops.StartScavengeReq(), timeout=30)
        assert str(uuid.UUID(resp.scavenge_id)) == resp.scavenge_id
        assert resp.scavenge_result in (ops.ScavengeResp.Started, ops.ScavengeResp.InProgress)
        with pytest.raises(grpc.RpcError) as err:
            stub.StopScavenge(ops.StopScavengeReq(options=ops.StopScavengeReq.Options(scavenge_id="x")), timeout=30)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.RpcError) as err:
            stub.StopScavenge(ops.StopScavengeReq(), timeout=30)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        shutdown = channel.unary_unary(
            "/event_store.client.operations.Operations/Shutdown",
            request_serializer=shared_pb2.Empty.SerializeToString,
            response_deserializer=shared_pb2.Empty.FromString,
        )
        with pytest.raises(grpc.RpcError) as err:
            shutdown(shared_pb2.Empty(), timeout=30)
        assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_compaction_takes_scavenged_bytes_off_the_disk(cli: Any, proc_server: Any, tmp_path: Path) -> None:
    from toolkit_graveyar.client import GraveyarClient, new_event

    data = tmp_path / "data"
    srv = proc_server("--data-dir", str(data), "--bind", "127.0.0.1:0")
    with GraveyarClient(srv.address) as c:
        c.append("secret", [new_event("T", NEEDLE * 50) for _ in range(200)])
        c.append("kept", [new_event("T", "{}")])
        c.delete_stream("secret")
    assert (
        cli("graveyar", "--server", srv.address, "--json", "scavenge", "--wait")
        .assert_success()
        .json()["eventsRemoved"]
        == 200
    )
    busy = cli("graveyar", "compact", "--data-dir", str(data))
    assert busy.exit_code != 0  # the server holds the directory
    assert "in use" in busy.stderr
    assert srv.terminate() == 0
    mdb = data / "lmdb" / "data.mdb"
    assert NEEDLE in mdb.read_bytes()  # freed pages still hold the old bytes
    out = cli("graveyar", "--json", "compact", "--data-dir", str(data)).assert_success().json()
    assert out["bytes_after"] < out["bytes_before"]
    assert NEEDLE not in mdb.read_bytes()
    again = proc_server("--data-dir", str(data), "--bind", "127.0.0.1:0")
    with GraveyarClient(again.address) as c:
        assert [e.stream for e in c.read("kept")] == ["kept"]
        assert c.append("kept", [new_event("T")]).version == 2
