"""graveyar benchmark: graveyar_db's own workload and more, on LMDB and PostgreSQL, next to eventsourcing.

    python tools/bench/graveyar.py            # full run (~2-3 minutes)
    python tools/bench/graveyar.py --quick    # smaller counts
    python tools/bench/graveyar.py --backends lmdb --json results.json

Workloads (graveyar runs as a separate `graveyar serve` process; the driver is this process):
  w1  graveyar_db's stress test: 50 concurrent tasks x 1000 single-event AppendEvent calls
      (eventstore.EventStore, expected_version -1), one stream per task. graveyar_db: ~3,128 ev/s.
  w2  batched appends: graveyar.v1 Append of 100 events per call, 8 concurrent tasks.
  w3  $all read: graveyar.v1 Read of the whole global log (median of 3).
  w4  subscription lag: a $all subscriber and one writer appending single events; lag from
      the append call to delivery (median and p99).
  w5  fan-out: median latency of single-event appends with 0, N/2 and N live $all subscriptions
      open (graveyar.v1 Subscribe, in a child process so that its event loop is not the
      appender's); every subscription must receive every append. The ratio shows that appends
      do not slow down with the subscriber count (one shared tail reader, sliced hand-over).
      `--fanout-only` runs just this workload on LMDB.
  ceiling: w1 against a gRPC aio server whose handler does nothing, to show what Python gRPC
      unary calls cost on this machine (the limiter of w1).
Peers, in process (no network, so their numbers exclude RPC cost): the `eventsourcing` library's
SQLite and POPO (in-memory) application recorders on the same append/read workloads.
KurrentDB clients against graveyar (LMDB), same run: kurrentdbclient (the real KurrentDB Python
client, blocking) with w1 = single-event Append calls from 8 threads, w2 = BatchAppend of 100
events from 8 threads, w3 = read_all of the whole log, plus a catch-up subscription to $all
from the start until it has every event (ev/s), and a persistent subscription to one stream read
and acked event by event (ev/s); and eventsourcing's application recorder on
graveyar (PERSISTENCE_MODULE=toolkit_graveyar.eventsourcing) on the peers' workloads.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable


def _pg_helper() -> Any:
    spec = importlib.util.spec_from_file_location("pg_test_server", ROOT / "tools" / "pg_test_server.py")
    assert spec is not None
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


class Server:
    def __init__(self, args: list[str], log: Path) -> None:
        cmd = [PY, "-c", "from toolkit_graveyar.cli import main; main()", "serve", "--bind", "127.0.0.1:0", *args]
        self.log = log.open("w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        m = re.search(r"grpc://([\d.]+:\d+)", line)
        if not m:
            self.stop()
            raise RuntimeError(f"server did not start: {line!r}; see {log}")
        self.address = m.group(1)

    def cpu(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        if self.proc.stdout:
            self.proc.stdout.close()
        self.log.close()


ECHO = """
import asyncio, grpc, sys
async def main():
    server = grpc.aio.server()
    async def h(raw, ctx):
        return b"\\x08\\x01"
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "eventstore.EventStore", {"AppendEvent": grpc.unary_unary_rpc_method_handler(h)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"listening on grpc://127.0.0.1:{port}", flush=True)
    await server.wait_for_termination()
asyncio.run(main())
"""


class EchoServer(Server):
    def __init__(self, log: Path) -> None:
        self.log = log.open("w")
        self.proc = subprocess.Popen([PY, "-c", ECHO], stdout=subprocess.PIPE, stderr=self.log, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        m = re.search(r"grpc://([\d.]+:\d+)", line)
        if not m:
            raise RuntimeError(f"echo server did not start: {line!r}")
        self.address = m.group(1)


# -- graveyar workloads ---------------------------------------------------------------------------
async def w1_graveyar_db(address: str, tasks: int, per_task: int, tag: str) -> float:
    import grpc

    from toolkit_graveyar._proto import eventstore_pb2 as es
    from toolkit_graveyar._proto import eventstore_pb2_grpc as es_grpc

    async with grpc.aio.insecure_channel(address) as ch:
        stub = es_grpc.EventStoreStub(ch)  # type: ignore[no-untyped-call]
        transition = es.Transition(name="bench.appended", from_state="a", to_state="b")

        async def task(i: int) -> None:
            stream = f"{tag}-{i}"
            for j in range(per_task):
                ev = es.Event(
                    id=str(uuid.uuid4()), event_type="BenchEvent", payload=b'{"n":%d}' % j, transition=transition
                )
                await stub.AppendEvent(es.AppendEventRequest(stream_id=stream, events=[ev], expected_version=-1))

        t0 = time.perf_counter()
        await asyncio.gather(*(task(i) for i in range(tasks)))
        return tasks * per_task / (time.perf_counter() - t0)


async def w2_batched(address: str, tasks: int, calls: int, batch: int, tag: str) -> float:
    import grpc

    from toolkit_graveyar._proto.graveyar.v1 import graveyar_pb2 as pb
    from toolkit_graveyar._proto.graveyar.v1 import graveyar_pb2_grpc as pb_grpc
    from toolkit_graveyar.client import new_event_id

    async with grpc.aio.insecure_channel(address) as ch:
        stub = pb_grpc.GraveyarStub(ch)  # type: ignore[no-untyped-call]

        async def task(i: int) -> None:
            for j in range(calls):
                # Built like toolkit_graveyar.client does (events filled in place, cheap uuid4s),
                # so the driver, which shares the CPUs with the server, costs as little as it can.
                req = pb.AppendRequest(stream=f"{tag}-{i}-{j % 10}")
                add = req.events.add
                for k in range(batch):
                    add(id=new_event_id(), event_type="BenchEvent", payload=b'{"n":%d}' % k)
                await stub.Append(req)

        t0 = time.perf_counter()
        await asyncio.gather(*(task(i) for i in range(tasks)))
        return tasks * calls * batch / (time.perf_counter() - t0)


def w3_read_all(address: str) -> tuple[int, float]:
    from toolkit_graveyar.client import GraveyarClient

    with GraveyarClient(address, timeout=120) as c:
        t0 = time.perf_counter()
        n = c.read_raw_count("$all")
        return n, n / (time.perf_counter() - t0)


async def w4_lag(address: str, count: int) -> tuple[float, float]:
    from toolkit_graveyar.client import AsyncGraveyarClient, new_event
    from toolkit_graveyar.core.model import Expected

    async with AsyncGraveyarClient(address) as c:
        head = 0
        tail = await c.read_all(backward=True, limit=1)
        if tail:
            head = tail[0].position
        lags: list[float] = []
        caught = asyncio.Event()

        async def follow() -> None:
            async for msg in c.subscribe("$all", head):
                if msg.kind == "caught_up":
                    caught.set()
                elif msg.event is not None and msg.event.event_type == "Lag":
                    lags.append(time.perf_counter() - float(msg.event.data))
                    if len(lags) >= count:
                        return

        task = asyncio.create_task(follow())
        await asyncio.wait_for(caught.wait(), 30)
        for _ in range(count):
            await c.append("lag", [new_event("Lag", repr(time.perf_counter()))], Expected.any())
            await asyncio.sleep(0.002)
        await asyncio.wait_for(task, 60)
    lags.sort()
    return statistics.median(lags) * 1000, lags[int(len(lags) * 0.99) - 1] * 1000


async def _append_latency_ms(c: Any, appends: int) -> float:
    from toolkit_graveyar.client import new_event
    from toolkit_graveyar.core.model import Expected

    out = []
    for _ in range(appends):
        t0 = time.perf_counter()
        await c.append("fan", [new_event("Fan", "{}")], Expected.any())
        out.append(time.perf_counter() - t0)
        await asyncio.sleep(0.005)
    return statistics.median(out) * 1000


class Subscribers:
    """N live $all subscriptions in a child process (its event loop is not the appender's).

    The child prints `ready` once every subscription caught up. `stop(n)` tells it how many
    events each subscription should get; it waits for them (up to 300 s: delivery lags behind
    the appends under load) and answers the number all subscriptions received.
    """

    def __init__(self, address: str, count: int) -> None:
        cmd = [PY, str(Path(__file__).resolve()), "--subscribers-child", address, str(count)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            self.proc.kill()
            raise RuntimeError(f"subscriber process failed: {line!r}")

    def stop(self, expected_each: int) -> int:
        out, _ = self.proc.communicate(f"{expected_each}\n", timeout=600)
        return int(out.strip() or 0)


async def _subscribers_child(address: str, count: int) -> None:
    from toolkit_graveyar.client import AsyncGraveyarClient

    # HTTP/2 caps concurrent streams per connection (100 by default): one channel per 100.
    channels = [AsyncGraveyarClient(address) for _ in range((count + 99) // 100)]
    caught = 0
    received = [0] * count
    all_caught = asyncio.Event()
    progress = asyncio.Event()

    async def follow(i: int, sub: Any, after: int | None) -> None:
        nonlocal caught
        async for msg in sub.subscribe("$all", after):
            if msg.kind == "caught_up":
                caught += 1
                if caught == count:
                    all_caught.set()
            elif msg.kind == "event":
                received[i] += 1
                progress.set()

    # Live subscriptions: from the current head (w5 measures fan-out, not N catch-ups of the history).
    last = await channels[0].read_all(backward=True, limit=1)
    head = last[0].position if last else None
    tasks = [asyncio.create_task(follow(i, channels[i // 100], head)) for i in range(count)]
    waiter = asyncio.create_task(all_caught.wait())
    await asyncio.wait([waiter, *tasks], timeout=300, return_when=asyncio.FIRST_COMPLETED)
    failed = [t for t in tasks if t.done()]
    if not all_caught.is_set() or failed:
        reason = failed[0].exception() if failed else f"only {caught} of {count} caught up"
        print(f"failed: {reason!r}", flush=True)
        os._exit(1)
    print("ready", flush=True)
    expected_each = int(await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline) or 0)
    deadline = time.monotonic() + 300
    while min(received) < expected_each and time.monotonic() < deadline:
        progress.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(progress.wait(), 1)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for ch in channels:
        await ch.close()
    print(sum(received), flush=True)


async def w5_fanout(address: str, subscribers: int, appends: int) -> dict[str, float]:
    """Median single-event append latency with 0, N/2 and N live subscriptions (in another process)."""
    from toolkit_graveyar.client import AsyncGraveyarClient

    out: dict[str, float] = {"subscribers": subscribers}
    async with AsyncGraveyarClient(address) as c:
        out["append_ms_alone"] = await _append_latency_ms(c, appends)
        for n, key in ((subscribers // 2, "append_ms_half"), (subscribers, "append_ms_crowded")):
            subs = await asyncio.to_thread(Subscribers, address, n)
            out[key] = await _append_latency_ms(c, appends)
            received = await asyncio.to_thread(subs.stop, appends)
            # Every subscription saw every append.
            out[f"{key}_delivered"] = received
            if received < n * appends:
                raise RuntimeError(f"{n} subscriptions received {received} events, expected >= {n * appends}")
    return out


# -- eventsourcing peers -----------------------------------------------------------------------------
def eventsourcing_runs(kind: str, tasks: int, per_task: int, batched_total: int, batch: int) -> dict[str, float]:
    from eventsourcing.persistence import StoredEvent

    tmp = Path(tempfile.mkdtemp(prefix="es-bench-"))
    try:
        if kind == "sqlite":
            from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

            rec: Any = SQLiteApplicationRecorder(SQLiteDatastore(str(tmp / "es.sqlite")))
            rec.create_table()
        else:
            from eventsourcing.popo import POPOApplicationRecorder

            rec = POPOApplicationRecorder()
        ids = [uuid.uuid4() for _ in range(tasks)]
        t0 = time.perf_counter()
        for j in range(per_task):  # interleaved like concurrent writers, one event per call
            for oid in ids:
                rec.insert_events([StoredEvent(oid, j + 1, "bench:Event", b'{"n":%d}' % j)])
        w1 = tasks * per_task / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for _ in range(batched_total // batch):
            oid = uuid.uuid4()
            rec.insert_events([StoredEvent(oid, k + 1, "bench:Event", b'{"n":%d}' % k) for k in range(batch)])
        w2 = (batched_total // batch) * batch / (time.perf_counter() - t0)
        reads = []
        for _ in range(3):
            t0 = time.perf_counter()
            n, start = 0, 1
            while True:
                page = rec.select_notifications(start, 1000)
                if not page:
                    break
                n += len(page)
                start = page[-1].id + 1
            reads.append(n / (time.perf_counter() - t0))
        return {"w1": w1, "w2": w2, "w3": statistics.median(reads)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def kurrent_runs(address: str, sizes: dict[str, int]) -> dict[str, float]:
    """kurrentdbclient against a graveyar server (see the module docstring)."""
    from concurrent.futures import ThreadPoolExecutor

    from kurrentdbclient import KurrentDBClient, NewEvent, StreamState

    client = KurrentDBClient(f"kurrentdb://{address}?Tls=false")
    try:
        threads, singles = 8, sizes["tasks"] * sizes["per_task"] // 8

        def single(t: int) -> None:
            stream = f"k1-{t}-{uuid.uuid4()}"
            for j in range(singles):
                client.append_to_stream(stream, current_version=StreamState.ANY, events=NewEvent("E", b'{"n":%d}' % j))

        t0 = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(single, range(threads)))
        k1 = threads * singles / (time.perf_counter() - t0)

        def batched(t: int) -> None:
            stream = f"k2-{t}-{uuid.uuid4()}"
            for _ in range(sizes["batched_calls"]):
                events = [NewEvent("E", b'{"n":%d}' % k) for k in range(100)]
                client.append_to_stream(stream, current_version=StreamState.ANY, events=events)

        t0 = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(batched, range(threads)))
        k2 = threads * sizes["batched_calls"] * 100 / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        total = sum(1 for _ in client.read_all(filter_exclude=()))
        k3 = total / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        seen = 0
        with client.subscribe_to_all(filter_exclude=()) as sub:
            for _ in sub:
                seen += 1
                if seen >= total:
                    break
        k4 = seen / (time.perf_counter() - t0)
        return {"w1": k1, "w2": k2, "w3": k3, "sub_catch_up": k4}
    finally:
        client.close()


def kurrent_persistent(address: str, total: int) -> dict[str, float]:
    """kurrentdbclient reading a persistent subscription to one stream of `total` events, acking each (ev/s)."""
    from kurrentdbclient import KurrentDBClient, NewEvent, StreamState

    client = KurrentDBClient(f"kurrentdb://{address}?Tls=false")
    try:
        stream = f"kp-{uuid.uuid4()}"
        for start in range(0, total, 500):
            events = [NewEvent("E", b'{"n":%d}' % k) for k in range(start, min(total, start + 500))]
            client.append_to_stream(stream, current_version=StreamState.ANY, events=events)
        client.create_subscription_to_stream("bench", stream, consumer_strategy="RoundRobin")
        t0 = time.perf_counter()
        seen = 0
        sub = client.read_subscription_to_stream("bench", stream, timeout=600)
        try:
            for ev in sub:
                sub.ack(ev)
                seen += 1
                if seen >= total:
                    break
        finally:
            sub.stop()
        return {"persistent": seen / (time.perf_counter() - t0)}
    finally:
        client.close()


def eventsourcing_on_graveyar(
    address: str, tasks: int, per_task: int, batched_total: int, batch: int
) -> dict[str, float]:
    """eventsourcing's application recorder on graveyar, on the peers' workloads."""
    from eventsourcing.persistence import StoredEvent

    from toolkit_graveyar.client import GraveyarClient
    from toolkit_graveyar.eventsourcing import GraveyarApplicationRecorder

    with GraveyarClient(address) as client:
        rec = GraveyarApplicationRecorder(client, f"bench-{uuid.uuid4().hex[:8]}")
        ids = [uuid.uuid4() for _ in range(tasks)]
        t0 = time.perf_counter()
        for j in range(per_task):
            for oid in ids:
                rec.insert_events([StoredEvent(oid, j + 1, "bench:Event", b'{"n":%d}' % j)])
        w1 = tasks * per_task / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for _ in range(batched_total // batch):
            oid = uuid.uuid4()
            rec.insert_events([StoredEvent(oid, k + 1, "bench:Event", b'{"n":%d}' % k) for k in range(batch)])
        w2 = (batched_total // batch) * batch / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        n, start = 0, 1
        while True:
            page = rec.select_notifications(start, 1000)
            if not page:
                break
            n += len(page)
            start = page[-1].id + 1
        return {"w1": w1, "w2": w2, "w3": n / (time.perf_counter() - t0)}


def graveyar_runs(args: list[str], sizes: dict[str, int], log: Path) -> dict[str, float]:
    srv = Server(args, log)
    try:
        cpu0 = srv.cpu()
        w1 = asyncio.run(w1_graveyar_db(srv.address, sizes["tasks"], sizes["per_task"], "w1"))
        w1_cpu = (srv.cpu() - cpu0) / (sizes["tasks"] * sizes["per_task"]) * 1e6
        cpu0 = srv.cpu()
        w2 = asyncio.run(w2_batched(srv.address, 8, sizes["batched_calls"], 100, "w2"))
        w2_cpu = (srv.cpu() - cpu0) / (8 * sizes["batched_calls"] * 100) * 1e6
        reads = [w3_read_all(srv.address) for _ in range(3)]
        lag_med, lag_p99 = asyncio.run(w4_lag(srv.address, sizes["lag"]))
        fan = asyncio.run(w5_fanout(srv.address, sizes["fanout"], 100))
        return {
            "w1": w1,
            "w1_server_cpu_us": w1_cpu,
            "w2": w2,
            "w2_server_cpu_us": w2_cpu,
            "w3": statistics.median(r for _, r in reads),
            "w3_events": reads[0][0],
            "lag_median_ms": lag_med,
            "lag_p99_ms": lag_p99,
            **fan,
        }
    finally:
        srv.stop()


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="graveyar benchmark")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--backends", default="lmdb,postgres")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--fanout", type=int, default=2000, help="live subscriptions in w5")
    parser.add_argument("--fanout-only", action="store_true", help="run only w5, on LMDB")
    parser.add_argument("--subscribers-child", nargs=2, metavar=("ADDRESS", "N"), help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> int:
    ns = _parse_args()
    if ns.subscribers_child:
        asyncio.run(_subscribers_child(ns.subscribers_child[0], int(ns.subscribers_child[1])))
        return 0
    if ns.fanout_only:
        return fanout_only(ns.fanout)
    sizes = {"tasks": 50, "per_task": 1000, "batched_calls": 250, "lag": 500, "fanout": ns.fanout}
    if ns.quick:
        sizes = {"tasks": 50, "per_task": 200, "batched_calls": 60, "lag": 200, "fanout": min(ns.fanout, 500)}
    out = Path(tempfile.mkdtemp(prefix="graveyar-bench-"))
    results: dict[str, dict[str, float]] = {}
    backends = [b for b in ns.backends.split(",") if b]
    print(f"cpus={os.cpu_count()} loadavg={os.getloadavg()[0]:.1f} sizes={sizes}", flush=True)
    echo = EchoServer(out / "echo.log")
    try:
        results["grpc-echo-ceiling"] = {
            "w1": asyncio.run(w1_graveyar_db(echo.address, sizes["tasks"], sizes["per_task"] // 2, "e"))
        }
    finally:
        echo.stop()
    print("ceiling done", flush=True)
    if "lmdb" in backends:
        results["graveyar-lmdb"] = graveyar_runs(["--data-dir", str(out / "lmdb")], sizes, out / "lmdb.log")
        print("lmdb done", flush=True)
        srv = Server(["--data-dir", str(out / "lmdb-kurrent")], out / "lmdb-kurrent.log")
        try:
            results["kurrentdbclient->graveyar-lmdb"] = kurrent_runs(srv.address, sizes)
            print("kurrentdbclient done", flush=True)
            results["kurrentdbclient-persistent->graveyar-lmdb"] = kurrent_persistent(
                srv.address, 100 * sizes["per_task"]
            )
            es_total = 8 * sizes["batched_calls"] * 100
            results["eventsourcing->graveyar-lmdb"] = eventsourcing_on_graveyar(
                srv.address, sizes["tasks"], sizes["per_task"] // 5, es_total // 5, 100
            )
            print("eventsourcing on graveyar done", flush=True)
        finally:
            srv.stop()
    if "postgres" in backends:
        helper = _pg_helper()
        helper.ensure_installed()
        pg = helper.start_server(fsync=True)
        try:
            results["graveyar-postgres"] = graveyar_runs(
                ["--backend", "postgres", "--dsn", pg.dsn], sizes, out / "pg.log"
            )
        finally:
            pg.stop()
        print("postgres done", flush=True)
    batched_total = 8 * sizes["batched_calls"] * 100
    for kind in ("sqlite", "popo"):
        results[f"eventsourcing-{kind}"] = eventsourcing_runs(
            kind, sizes["tasks"], sizes["per_task"], batched_total, 100
        )
        print(f"eventsourcing {kind} done", flush=True)
    print_table(results)
    print(f"loadavg at the end: {os.getloadavg()[0]:.1f} (other processes share these {os.cpu_count()} CPUs)")
    if ns.json:
        ns.json.write_text(json.dumps(results, indent=2, sort_keys=True))
    shutil.rmtree(out, ignore_errors=True)
    return 0


def fanout_only(subscribers: int) -> int:
    out = Path(tempfile.mkdtemp(prefix="graveyar-bench-"))
    srv = Server(["--data-dir", str(out / "lmdb")], out / "lmdb.log")
    try:
        r = asyncio.run(w5_fanout(srv.address, subscribers, 100))
    finally:
        srv.stop()
        shutil.rmtree(out, ignore_errors=True)
    print(f"loadavg={os.getloadavg()[0]:.1f}")
    print("w5 fan-out (LMDB): " + _fanout_line(r))
    return 0


def _fanout_line(r: dict[str, float]) -> str:
    n = int(r["subscribers"])
    return (
        f"median append {r['append_ms_alone']:.2f} ms with 0 live subscriptions, "
        f"{r['append_ms_half']:.2f} ms with {n // 2}, {r['append_ms_crowded']:.2f} ms with {n} "
        f"({r['append_ms_crowded'] / r['append_ms_alone']:.2f}x)"
    )


def print_table(results: dict[str, dict[str, float]]) -> None:
    ref = 3128.0
    print()
    print(
        "| system | w1 graveyar_db workload ev/s (vs 3,128) | w2 batched x100 ev/s | w3 $all read ev/s | "
        "w4 sub lag median / p99 ms |"
    )
    print("|---|---|---|---|---|")
    for name, r in results.items():
        w1 = f"{r['w1']:,.0f} ({r['w1'] / ref:.2f}x)" if "w1" in r else "-"
        if "w1_server_cpu_us" in r:
            w1 += f", server {r['w1_server_cpu_us']:.0f} us CPU/call"
        w2 = f"{r['w2']:,.0f}" if "w2" in r else "-"
        if "w2_server_cpu_us" in r:
            w2 += f", server {r['w2_server_cpu_us']:.1f} us CPU/event"
        w3 = f"{r['w3']:,.0f}" if "w3" in r else "-"
        w4 = f"{r['lag_median_ms']:.2f} / {r['lag_p99_ms']:.2f}" if "lag_median_ms" in r else "-"
        if "sub_catch_up" in r:
            w4 = f"catch-up {r['sub_catch_up']:,.0f} ev/s"
        if "persistent" in r:
            w4 = f"persistent subscription, ack each: {r['persistent']:,.0f} ev/s"
        print(f"| {name} | {w1} | {w2} | {w3} | {w4} |")
    g = results.get("graveyar-lmdb")
    for peer in ("eventsourcing-sqlite", "eventsourcing-popo"):
        p = results.get(peer)
        if g and p:
            print(
                f"graveyar-lmdb / {peer}: w1 {g['w1'] / p['w1']:.2f}x, w2 {g['w2'] / p['w2']:.2f}x, "
                f"w3 {g['w3'] / p['w3']:.2f}x"
            )
    ceiling = results.get("grpc-echo-ceiling")
    for name in ("graveyar-lmdb", "graveyar-postgres"):
        if ceiling and name in results:
            print(f"{name} w1 / do-nothing gRPC ceiling (same run): {results[name]['w1'] / ceiling['w1']:.2f}x")
    for name, r in results.items():
        if "append_ms_crowded" in r:
            print(f"{name} w5 fan-out: {_fanout_line(r)}")


if __name__ == "__main__":
    sys.exit(main())
