"""IpcServer in this process (asyncio) with the blocking IpcClient in a worker thread."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import stat
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit_kernel import paths
from toolkit_kernel.errors import Busy, Conflict, Internal, IoFailure, IpcError, ToolkitError, error_from_dict
from toolkit_kernel.hashing import canonical_cbor
from toolkit_kernel.ipc import IpcClient, IpcServer, encode_frame
from toolkit_kernel.ipc.frames import decode_payload


async def _items(request):
    for i in range(int(request["n"])):
        yield i


async def _unary(request):
    if request.get("op") == "conflict":
        raise Conflict("taken", hint="pick another", details={"holder": "bob"})
    if request.get("op") == "unencodable":
        return {"path": Path("/x")}
    return {"got": request}


@pytest.mark.asyncio
async def test_async_generator_handler_streams(rundir):
    server = IpcServer(rundir / "g.sock", _items)
    await server.start()
    try:

        def work():
            with IpcClient(server.path) as client:
                return list(client.stream({"n": 5})), list(client.stream({"n": 0}))

        assert await asyncio.to_thread(work) == ([0, 1, 2, 3, 4], [])
    finally:
        await server.close()
    assert not server.path.exists()


@pytest.mark.asyncio
async def test_coroutine_handler_errors_and_unencodable_results(rundir):
    server = IpcServer(rundir / "u.sock", _unary, name="unit")
    await server.start()
    try:

        def work():
            with IpcClient(server.path) as client:
                assert client.connect()["name"] == "unit"
                assert client.call({"a": 1}) == {"got": {"a": 1}}
                with pytest.raises(Conflict) as info:
                    client.call({"op": "conflict"})
                assert info.value.to_dict() == {
                    "kind": "conflict",
                    "message": "taken",
                    "hint": "pick another",
                    "details": {"holder": "bob"},
                }
                with pytest.raises(Internal, match="cannot be encoded"):
                    client.call({"op": "unencodable"})
                with pytest.raises(ToolkitError, match="must be a dict"):
                    client.call([1, 2])  # type: ignore[arg-type]
                return client.call({"b": 2})

        assert await asyncio.to_thread(work) == {"got": {"b": 2}}
        assert server.requests_served == 4
    finally:
        await server.close()


@pytest.mark.asyncio
async def test_stale_socket_replaced_and_live_one_refused(rundir):
    path = rundir / "s.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()  # file left behind, nobody listening
    server = IpcServer(path, _unary)
    await server.start()
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with pytest.raises(Busy, match="another server is listening"):
            await IpcServer(path, _unary).start()
    finally:
        await server.close()
    path.write_text("not a socket")
    with pytest.raises(IoFailure, match="not a socket"):
        await IpcServer(path, _unary).start()


@pytest.mark.asyncio
async def test_close_lets_in_flight_request_finish(rundir):
    started = asyncio.Event()

    async def slow(request):
        started.set()
        await asyncio.sleep(0.3)
        return "done"

    server = IpcServer(rundir / "c.sock", slow)
    await server.start()

    def work():
        with IpcClient(server.path) as client:
            return client.call({})

    task = asyncio.ensure_future(asyncio.to_thread(work))
    await asyncio.wait_for(started.wait(), 10)
    await server.close()
    assert await task == "done"


@pytest.mark.asyncio
async def test_client_gone_mid_stream_does_not_hurt_server(rundir, caplog):
    async def endless(request):
        i = 0
        while True:
            yield b"x" * 65536
            i += 1

    server = IpcServer(rundir / "e.sock", endless)
    await server.start()
    try:

        def work():
            client = IpcClient(server.path)
            it = client.stream({})
            for _ in range(3):
                next(it)
            it.close()
            client.close()
            with IpcClient(server.path) as again:
                return len(next(iter(again.stream({}))))

        assert await asyncio.to_thread(work) == 65536
    finally:
        await server.close()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # a vanished client is not a bug


def test_runtime_dir_and_socket_path_are_private(rundir):
    path = paths.socket_path("grite", "/some/very/long/project/path/" * 20)
    assert path.parent == rundir / "run"
    assert len(os.fsencode(path)) <= 100
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert paths.socket_path("grite", "a") != paths.socket_path("grite", "b")
    assert paths.socket_path("grite", "a") == paths.socket_path("grite", "a")


def test_frame_codec_rejects_bad_payloads():
    frame = encode_frame({"op": "x", "n": 1})
    (n,) = struct.unpack(">I", frame[:4])
    assert n == len(frame) - 4
    assert decode_payload(frame[4:]) == {"op": "x", "n": 1}
    assert frame[4:] == canonical_cbor({"n": 1, "op": "x"})
    for bad in (b"\xff", canonical_cbor([1]), b"\xa2\x61\x61\x01\x61\x61\x02"):
        with pytest.raises(IpcError, match="malformed frame"):
            decode_payload(bad)
    with pytest.raises(IpcError, match="cannot be encoded"):
        encode_frame({"x": object()})


json_like = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text() | st.binary() | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=json_like)
def test_frames_round_trip(value):
    frame = encode_frame({"v": value})
    assert decode_payload(frame[4:]) == {"v": value}


def test_error_from_dict_picks_class_by_kind():
    assert type(error_from_dict({"kind": "busy", "message": "m"})) is Busy
    assert type(error_from_dict({"kind": "lock_timeout", "message": "m"})).__name__ == "LockTimeout"
    assert type(error_from_dict({"kind": "snapshot_corrupt", "message": "m"})).__name__ == "SnapshotCorrupt"
    err = error_from_dict({"kind": "db_busy", "message": "sled locked", "hint": "h", "details": {"a": 1}})
    assert type(err) is ToolkitError
    assert err.kind == "db_busy"
    assert err.to_dict() == {"kind": "db_busy", "message": "sled locked", "hint": "h", "details": {"a": 1}}
    assert ToolkitError.kind == "internal"  # the class attribute is untouched
    weird = error_from_dict({"message": 3, "hint": 4, "details": "x"})
    assert (weird.kind, weird.message, weird.hint, weird.details) == ("internal", "3", None, {})

    class PluginBusy(Busy):
        kind = "plugin_busy"

    assert type(error_from_dict({"kind": "plugin_busy", "message": "m"})) is PluginBusy

    class Odd(ToolkitError):
        kind = "odd_kind"

        def __init__(self, code: int) -> None:
            super().__init__(f"odd {code}")

    odd = error_from_dict({"kind": "odd_kind", "message": "m"})
    assert (type(odd), odd.kind) == (ToolkitError, "odd_kind")
