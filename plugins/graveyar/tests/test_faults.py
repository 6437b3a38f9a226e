"""Crash and concurrency over the real network API: SIGKILL under load, racing writers, two PG servers."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from toolkit_graveyar.client import GraveyarClient, new_event
from toolkit_graveyar.core.errors import WrongExpectedVersion
from toolkit_graveyar.core.model import Expected
from toolkit_kernel.errors import ToolkitError


def _load(address: str, stop: threading.Event, acked: list[Any], pending: list[Any], w: int) -> None:
    with GraveyarClient(address, retries=0, timeout=5) as c:
        n = 0
        while not stop.is_set():
            batch = [new_event("T", f"{w}-{n}-{k}") for k in range(1 + n % 3)]
            try:
                r = c.append(f"load-{w}", batch, Expected.exact(r_version(acked, w)))
            except ToolkitError:
                pending.append((f"load-{w}", batch))
                return
            acked.append((w, r.version, [e.event_id for e in batch], r))
            n += 1


def r_version(acked: list[Any], w: int) -> int:
    mine = [v for ww, v, _, _ in acked if ww == w]
    return mine[-1] if mine else 0


def _kill_under_load(proc_server: Any, args: list[str], graceful: bool = False) -> None:
    srv = proc_server(*args)
    stop = threading.Event()
    acked: list[Any] = []
    pending: list[Any] = []
    threads = [threading.Thread(target=_load, args=(srv.address, stop, acked, pending, w)) for w in range(6)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acked) < 300 and time.monotonic() < deadline:
        time.sleep(0.01)
    if graceful:
        assert srv.terminate() == 0  # SIGTERM: in-flight appends finish, then a clean exit
    else:
        srv.kill()  # SIGKILL while appends are in flight
    stop.set()
    for t in threads:
        t.join(30)
    assert len(acked) >= 300
    again = proc_server(*args)
    with GraveyarClient(again.address) as c:
        everything = c.read_all()
        assert [e.position for e in everything] == list(range(1, len(everything) + 1))
        ids = Counter(e.event_id for e in everything)
        assert max(ids.values()) == 1
        by_id = {e.event_id: e for e in everything}
        for w, version, event_ids, _ in acked:
            got = [by_id[i] for i in event_ids]  # every acknowledged event survived
            assert got[-1].version == version
            assert {e.stream for e in got} == {f"load-{w}"}
        # retrying the appends that were in flight at the kill is safe: exactly once either way
        for stream, batch in pending:
            c.append(stream, batch)
            c.append(stream, batch)
        after = c.read_all()
        assert max(Counter(e.event_id for e in after).values()) == 1
        assert len(after) == len(everything) + sum(len(b) for _, b in pending if b[0].event_id not in by_id)


@pytest.mark.slow
def test_sigkill_under_load_lmdb(proc_server: Any, tmp_path: Path) -> None:
    _kill_under_load(proc_server, ["--data-dir", str(tmp_path / "data"), "--bind", "127.0.0.1:0"])


@pytest.mark.slow
def test_sigterm_under_load_finishes_acknowledged_work(proc_server: Any, tmp_path: Path) -> None:
    _kill_under_load(proc_server, ["--data-dir", str(tmp_path / "data"), "--bind", "127.0.0.1:0"], graceful=True)


@pytest.mark.slow
@pytest.mark.postgres
def test_sigkill_under_load_postgres(proc_server: Any, pg_dsn: str) -> None:
    _kill_under_load(proc_server, ["--backend", "postgres", "--dsn", pg_dsn, "--bind", "127.0.0.1:0"])


def _race(addresses: list[str], stream: str, writers: int, per_writer: int) -> list[int]:
    wins: list[int] = []
    lock = threading.Lock()

    def writer(k: int) -> None:
        with GraveyarClient(addresses[k % len(addresses)]) as c:
            done = 0
            while done < per_writer:
                version = c.stream_info(stream).version
                try:
                    r = c.append(stream, [new_event("T", str(k))], Expected.exact(version))
                except WrongExpectedVersion as exc:
                    actual = exc.details["actual"]
                    if actual <= version:
                        raise AssertionError(f"conflict without progress: {actual} <= {version}") from exc
                    continue
                with lock:
                    wins.append(r.version)
                done += 1

    with GraveyarClient(addresses[0]) as c:
        if c.list_streams(stream) == []:
            c.append(stream, [new_event("Init")], Expected.no_stream())
    threads = [threading.Thread(target=writer, args=(k,)) for k in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return wins


def test_racing_writers_one_winner_per_version(server: Any) -> None:
    wins = _race([server.address], "hot", writers=8, per_writer=25)
    assert sorted(wins) == list(range(2, 202))
    with GraveyarClient(server.address) as c:
        events = c.read("hot")
        assert [e.version for e in events] == list(range(1, 202))
        assert len({e.event_id for e in events}) == 201


@pytest.mark.postgres
def test_two_postgres_servers_share_one_database(make_server: Any, pg_dsn: str) -> None:
    from toolkit_graveyar.storage.pg_store import PgStore

    a = make_server(lambda: PgStore.open(pg_dsn, poll_interval=5.0))
    b = make_server(lambda: PgStore.open(pg_dsn, poll_interval=5.0))
    received: list[int] = []
    caught = threading.Event()

    def follow() -> None:
        with GraveyarClient(b.address) as c:
            for msg in c.subscribe():
                if msg.kind == "caught_up":
                    caught.set()
                elif msg.event is not None:
                    received.append(msg.event.position)
                    if len(received) >= 161:
                        return

    t = threading.Thread(target=follow, daemon=True)
    t.start()
    assert caught.wait(20)
    # NOTIFY, not the 5 s poll, wakes server b for a commit made through server a
    with GraveyarClient(a.address) as c:
        c.append("shared", [new_event("Init")], Expected.no_stream())
    deadline = time.monotonic() + 3.5
    while not received and time.monotonic() < deadline:
        time.sleep(0.01)
    assert received == [1], "LISTEN/NOTIFY did not wake the other server's subscription"
    wins = _race([a.address, b.address], "shared", writers=8, per_writer=20)
    assert sorted(wins) == list(range(2, 162))
    t.join(30)
    # LISTEN/NOTIFY woke server b for server a's commits: everything arrived, once, in order
    assert received == list(range(1, 162))
    with GraveyarClient(a.address) as c:
        assert [e.position for e in c.read_all()] == list(range(1, 162))


@pytest.mark.parametrize("use_cli", [False, True], ids=["client", "cli"])
def test_subscription_resumes_across_a_restart_delivering_each_event_once(
    proc_server: Any, tmp_path: Path, use_cli: bool
) -> None:
    import json
    import subprocess
    import sys

    data = str(tmp_path / "d")
    first = proc_server("--data-dir", data, "--bind", "127.0.0.1:0")
    address = first.address
    with GraveyarClient(address) as c:
        c.append("r", [new_event("T", str(i)) for i in range(3)])
    got: list[str] = []
    if use_cli:
        cmd = [sys.executable, "-c", "from toolkit_graveyar.cli import main; main()"]
        sub = subprocess.Popen(
            [*cmd, "--server", address, "--json", "subscribe", "r", "--count", "6"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    else:
        client = GraveyarClient(address)

        def follow() -> None:
            for msg in client.subscribe("r"):
                if msg.event is not None:
                    got.append(msg.event.data.decode())
                    if len(got) == 6:
                        return

        reader = threading.Thread(target=follow, daemon=True)
        reader.start()
    time.sleep(1.0)
    first.terminate()
    time.sleep(3.0)  # twice as long as the old client held on
    second = proc_server("--data-dir", data, "--bind", address)
    with GraveyarClient(second.address) as c:
        c.append("r", [new_event("T", str(i)) for i in range(3, 6)])
    if use_cli:
        out, err = sub.communicate(timeout=60)
        assert sub.returncode == 0, err
        got = [json.loads(line)["event"]["data"] for line in out.splitlines() if '"event"' in line]
    else:
        reader.join(60)
        client.close()
    assert got == [str(i) for i in range(6)]


def test_postgres_outage_is_unavailable_then_recovers(proc_server: Any, pg_helper: Any) -> None:
    """PostgreSQL down: appends answer UNAVAILABLE, health says NOT_SERVING; back up: every append works."""
    import grpc
    import psycopg
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from toolkit_graveyar.core.errors import Unavailable

    pg = pg_helper.start_server(fsync=False)
    try:
        with psycopg.connect(pg.dsn, autocommit=True) as conn:
            conn.execute("CREATE DATABASE outage")
        srv = proc_server("--backend", "postgres", "--dsn", pg.dsn_for("outage"), "--bind", "127.0.0.1:0")
        channel = grpc.insecure_channel(srv.address)
        health = health_pb2_grpc.HealthStub(channel)

        def status() -> int:
            return int(health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status)

        def wait_for(expected: int) -> None:
            deadline = time.monotonic() + 20
            while status() != expected:
                assert time.monotonic() < deadline, f"health never became {expected}"
                time.sleep(0.2)

        with GraveyarClient(srv.address, retries=0, timeout=10) as c:
            c.append("o", [new_event("Before")])
            assert status() == health_pb2.HealthCheckResponse.SERVING
            pg.pause()
            with pytest.raises(Unavailable):
                c.append("o", [new_event("During")])
            wait_for(health_pb2.HealthCheckResponse.NOT_SERVING)
            pg.resume()
            wait_for(health_pb2.HealthCheckResponse.SERVING)
            for i in range(8):  # every append after the outage succeeds (no retries allowed)
                c.append("o", [new_event("After", str(i))])
            assert [e.event_type for e in c.read("o")] == ["Before"] + ["After"] * 8
        channel.close()
    finally:
        pg.stop()
