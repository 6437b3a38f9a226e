"""IPC against a real daemon process (tests/daemon_app.py) over a real Unix socket."""

from __future__ import annotations

import os
import signal
import socket
import stat
import struct
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from toolkit_kernel.errors import Busy, Internal, IpcError, NotFound
from toolkit_kernel.hashing import canonical_cbor, decode_cbor
from toolkit_kernel.ipc import (
    MAX_FRAME,
    IpcClient,
    connect_or_spawn,
    daemon_status,
    lock_is_held,
    read_state,
    stop_daemon,
)

pytestmark = pytest.mark.slow


def _raw(sock_path, payload: bytes) -> list[dict[str, Any]]:
    """Send raw bytes after the hello, return every frame the server sends until it closes."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(sock_path))
        s.sendall(payload)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    frames = []
    while data:
        (n,) = struct.unpack(">I", data[:4])
        frames.append(decode_cbor(data[4 : 4 + n]))
        data = data[4 + n :]
    return frames


def test_round_trip_stream_and_errors(make_spec):
    spec = make_spec()
    with connect_or_spawn(spec) as client:
        assert client.server_info["protocol"] == 1
        request = {"op": "echo", "b": b"\x00\xff", "n": [1, -2, 2**40, None, 1.5], "s": "héllo", "m": {"k": True}}
        assert client.call(request) == request
        assert list(client.stream({"op": "stream", "n": 50})) == [{"i": i} for i in range(50)]
        assert list(client.stream({"op": "stream", "n": 0})) == []

        with pytest.raises(NotFound) as info:
            client.call({"op": "fail", "name": "x"})
        assert info.value.message == "no such thing"
        assert info.value.hint == "create it first"
        assert info.value.details == {"name": "x"}

        with pytest.raises(Internal, match="ZeroDivisionError"):
            client.call({"op": "crash"})

        got: list[dict[str, Any]] = []
        with pytest.raises(NotFound, match="item vanished") as info:
            got.extend(client.stream({"op": "stream_fail", "n": 5, "fail_after": 2}))
        assert got == [{"i": 0}, {"i": 1}]
        assert info.value.details == {"at": 2}

        # a stream op through call(), and a unary op through stream(), are refused clearly
        with pytest.raises(IpcError, match="answered with a stream") as refused:
            client.call({"op": "stream", "n": 2})
        assert "stream()" in str(refused.value.hint)
        with pytest.raises(IpcError, match="answered with a single result") as refused:
            list(client.stream({"op": "echo"}))
        assert "call()" in str(refused.value.hint)

        # abandoning a stream half-way leaves the client usable
        it = client.stream({"op": "stream", "n": 1000})
        assert next(it) == {"i": 0}
        it.close()
        assert client.call({"op": "ping"})["pong"] is True

        big = client.call({"op": "big", "n": 4 * 1024 * 1024})
        assert len(big) == 4 * 1024 * 1024


def test_socket_is_private_and_state_has_heartbeat(make_spec, wait_until):
    spec = make_spec()
    with connect_or_spawn(spec) as client:
        client.call({"op": "ping"})
    assert stat.S_IMODE(os.stat(spec.socket_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(spec.state_path).st_mode) == 0o600
    state = read_state(spec)
    assert state is not None
    assert set(state) >= {"pid", "started_at", "heartbeat_at", "nonce"}
    # daemon_app beats every 0.2 s; the state file is replaced atomically, so reads never fail
    wait_until(lambda: (read_state(spec) or {}).get("heartbeat_at", 0) > state["heartbeat_at"], what="a heartbeat")
    assert (read_state(spec) or {}).get("nonce") == state["nonce"]


def test_oversized_and_garbage_frames_do_not_crash_the_server(make_spec):
    spec = make_spec()
    with connect_or_spawn(spec) as client:
        pid = client.call({"op": "pid"})
    cases = [
        struct.pack(">I", MAX_FRAME + 1),  # oversize length
        struct.pack(">I", 3) + b"\xff\xff\xff",  # not CBOR
        struct.pack(">I", 2) + canonical_cbor([1]),  # CBOR, not a map
        struct.pack(">I", 0),  # empty frame
        b"\xa2\x61\x61\x01\x61\x61\x02",  # no length prefix at all
        struct.pack(">I", 7) + b"\xa2\x61\x61\x01\x61\x61\x02",  # duplicate keys
    ]
    for payload in cases:
        frames = _raw(spec.socket_path, payload)
        assert "hello" in frames[0]
        assert frames[-1]["ok"] is False, payload
        assert frames[-1]["error"]["kind"] == "ipc", payload
    # a frame cut short by the peer closing
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(spec.socket_path))
        s.sendall(struct.pack(">I", 100) + b"\xa1")
    with IpcClient(spec.socket_path) as client:
        assert client.call({"op": "pid"}) == pid
        assert client.call({"op": "echo", "x": 1})["x"] == 1


def test_client_refuses_oversized_request_without_sending(make_spec):
    spec = make_spec()
    with connect_or_spawn(spec) as client:
        with pytest.raises(IpcError, match="frame limit"):
            client.call({"op": "echo", "blob": b"x" * (MAX_FRAME + 1)})
        assert client.call({"op": "echo", "x": 2})["x"] == 2


def test_max_connections_bound(make_spec):
    spec = make_spec("--max-conn", "2")
    first = connect_or_spawn(spec)
    second = IpcClient(spec.socket_path)
    second.connect()
    third = IpcClient(spec.socket_path, retries=1)
    with pytest.raises(Busy, match="limit of 2 connections"):
        third.connect()
    assert first.call({"op": "ping"})["pong"]
    second.close()
    # the server notices the close asynchronously; connection retries absorb that
    third = IpcClient(spec.socket_path, retries=8)
    assert third.call({"op": "ping"})["pong"]
    first.close()
    third.close()


def test_client_timeout_on_slow_op(make_spec):
    spec = make_spec()
    with connect_or_spawn(spec) as client:
        started = time.monotonic()
        with pytest.raises(IpcError, match="no answer") as info:
            client.call({"op": "sleep", "seconds": 5}, timeout=0.3)
        assert time.monotonic() - started < 3
        assert info.value.details["timeout_s"] == 0.3
        # the client reconnects for the next request; the daemon is still fine
        assert client.call({"op": "echo", "x": 3})["x"] == 3


def test_request_in_flight_is_not_resent_when_the_daemon_dies(make_spec, rundir, wait_until, pid_alive):
    spec = make_spec()
    client = connect_or_spawn(spec)
    pid = client.call({"op": "pid"})
    marker = rundir / "sleeping"

    def kill_when_in_flight():
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_when_in_flight)
    killer.start()
    with pytest.raises(IpcError, match="lost while waiting for the answer") as info:
        client.call({"op": "sleep", "seconds": 30, "marker": str(marker)})
    killer.join()
    assert "may or may not have been applied" in str(info.value.hint)
    client.close()
    wait_until(lambda: not pid_alive(pid), what="killed daemon to exit")


def test_idle_shutdown_and_open_connection_keeps_it_alive(make_spec, wait_until):
    spec = make_spec("--idle", "0.5")
    client = connect_or_spawn(spec)
    client.call({"op": "ping"})
    time.sleep(1.5)  # an open connection counts as activity
    assert client.call({"op": "ping"})["pong"]
    client.close()
    wait_until(lambda: not lock_is_held(spec), what="idle shutdown")
    assert not spec.socket_path.exists()
    assert not spec.state_path.exists()
    assert "stopped (idle)" in spec.log_path.read_text()


def test_kill9_then_connect_or_spawn_recovers(make_spec, wait_until, pid_alive):
    spec = make_spec()
    with connect_or_spawn(spec) as client:
        old_pid = client.call({"op": "pid"})
    os.kill(old_pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(old_pid), what="daemon to die")
    assert spec.socket_path.exists()  # stale socket left behind
    status = daemon_status(spec)
    assert status.state == "stopped"
    assert status.stale
    with connect_or_spawn(spec) as client:
        new_pid = client.call({"op": "pid"})
        assert new_pid != old_pid
        assert client.call({"op": "ping"})["pid"] == new_pid
    assert daemon_status(spec).running


def test_concurrent_connect_or_spawn_starts_exactly_one_daemon(make_spec, rundir):
    spec = make_spec("--start-delay", "0.3")
    code = (
        "import sys\n"
        "from toolkit_kernel.ipc import DaemonSpec, connect_or_spawn\n"
        "spec = DaemonSpec(name='d', socket_path=sys.argv[1], lock_path=sys.argv[2], argv=sys.argv[3:],"
        " ready_timeout=30)\n"
        "with connect_or_spawn(spec) as c:\n"
        "    print(c.call({'op': 'pid'}))\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(spec.socket_path), str(spec.lock_path), *spec.argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    pids = set()
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        pids.add(int(out))
    assert len(pids) == 1
    assert (read_state(spec) or {}).get("pid") in pids


def test_second_daemon_refuses_to_start(make_spec):
    spec = make_spec()
    with connect_or_spawn(spec) as client:
        pid = client.call({"op": "pid"})
    proc = subprocess.run(list(spec.argv), capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 3
    assert "already running" in proc.stderr
    assert daemon_status(spec).pid == pid


def test_status_and_stop(make_spec, wait_until):
    spec = make_spec()
    status = daemon_status(spec)
    assert (status.state, status.stale, status.running) == ("stopped", False, False)
    assert stop_daemon(spec) is False
    with connect_or_spawn(spec) as client:
        pid = client.call({"op": "pid"})
    status = daemon_status(spec)
    assert status.running
    assert status.pid == pid
    assert status.info["requests"] >= 1
    assert status.to_dict()["state"] == "running"
    assert stop_daemon(spec) is True
    assert not lock_is_held(spec)
    assert not spec.socket_path.exists()
    assert daemon_status(spec).state == "stopped"


def test_sigterm_stops_gracefully(make_spec, wait_until):
    spec = make_spec()
    with connect_or_spawn(spec) as client:
        pid = client.call({"op": "pid"})
    os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not lock_is_held(spec), what="SIGTERM stop")
    assert not spec.socket_path.exists()
    assert "stopped (SIGTERM)" in spec.log_path.read_text()


def test_daemon_that_exits_at_startup_gives_a_clear_error(make_spec):
    spec = make_spec(argv=[sys.executable, "-c", "import sys; print('bad config here', file=sys.stderr); sys.exit(3)"])
    started = time.monotonic()
    with pytest.raises(IpcError, match="exited during startup") as info:
        connect_or_spawn(spec)
    assert time.monotonic() - started < 10
    assert "bad config here" in info.value.details["log_tail"]
    assert str(spec.log_path) in str(info.value.hint)


def test_daemon_holding_lock_but_silent_gives_busy(make_spec, rundir, wait_until):
    spec = make_spec(name="sq", ready_timeout=1.0)
    ready = rundir / "squatter.ready"
    code = (
        "import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "open(sys.argv[2], 'w').write('x')\n"
        "time.sleep(60)\n"
    )
    squatter = subprocess.Popen([sys.executable, "-c", code, str(spec.lock_path), str(ready)])
    try:
        wait_until(ready.exists, what="squatter to hold the lock")
        started = time.monotonic()
        with pytest.raises(Busy, match="does not answer") as info:
            connect_or_spawn(spec)
        assert time.monotonic() - started < 10
        assert str(spec.log_path) in str(info.value.hint)
        assert daemon_status(spec).state == "unresponsive"
        assert not spec.log_path.exists()  # nothing was spawned: the lock holder counts as the daemon
    finally:
        squatter.kill()
        squatter.wait()


def test_spawn_uses_cwd_and_env_and_logs(make_spec, rundir):
    workdir = rundir / "work"
    workdir.mkdir()
    spec = make_spec(cwd=workdir, env={"TK_TEST_VAR": "42"})
    with connect_or_spawn(spec) as client:
        assert client.call({"op": "env"}) == {"cwd": str(workdir), "var": "42"}
        with pytest.raises(Internal):
            client.call({"op": "crash"})
    assert stop_daemon(spec)
    log = spec.log_path.read_text()
    assert "ZeroDivisionError: boom" in log  # handler tracebacks land in the daemon log
    assert "stopped (shutdown op)" in log
