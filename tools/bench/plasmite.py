"""plasmite benchmark: pool files side by side with SQLite (WAL), a JSONL file and Redis Streams.

Run: `.venv/bin/python tools/bench/plasmite.py [--quick] [--json]`

Workloads (each system does the same thing in one run):
- append: 256 B and 1 KiB payloads, 1 and 4 writer processes, fast and flush durability
- read: sequential read of every message (checksums verified for plasmite)
- get: random indexed lookups by sequence number
- follow: latency from append in one process to delivery in another (median and p95)
- cli feed: `plasmite feed` lines per second from a pipe

Redis: installs `redis-server` with apt-get when missing and starts a private server on a
loopback port (no persistence for `fast`, `appendfsync always` for `flush`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from plasmite_peers import (  # type: ignore[import-not-found]  # noqa: E402 - the helper module sits next to this file
    FOLLOWER,
    WRITER,
    jsonl_append,
    jsonl_get_all,
    redis_append,
    run_released,
    sqlite_append,
    sqlite_open,
)

from toolkit_plasmite.core.codec import decode_payload, encode_payload  # noqa: E402
from toolkit_plasmite.core.pool import Gap, PoolFile, create_pool_file  # noqa: E402

PY = sys.executable


def payload_data(size: int) -> dict[str, Any]:
    """A data object whose JSON is about `size` bytes."""
    return {"kind": "bench", "body": "x" * max(0, size - 30)}


# ----------------------------------------------------------------------------- redis
class RedisServer:
    """A private redis-server on a loopback port, in a temp dir."""

    def __init__(self, workdir: Path) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.workdir = workdir
        self.error: str | None = None

    def start(self) -> bool:
        exe = shutil.which("redis-server")
        if exe is None:
            print("redis-server missing: apt-get install -y redis-server", file=sys.stderr)
            subprocess.run(["apt-get", "install", "-y", "redis-server"], capture_output=True, check=False)
            exe = shutil.which("redis-server")
        if exe is None:
            self.error = "redis-server not installable"
            return False
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc = subprocess.Popen(
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=self.port).ping()
                return True
            except redis.ConnectionError:
                time.sleep(0.05)
        self.error = "redis-server did not start"
        return False

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)


# ----------------------------------------------------------------------------- append
def run_writers(system: str, target: str, size: int, durability: str, total: int, writers: int, extra: str) -> float:
    """Run `writers` processes appending `total` messages together; return messages per second.

    Every writer starts its interpreter, opens its target and reports ready; then all are
    released at once, so interpreter start-up is not measured.
    """
    argv = [PY, "-c", WRITER, system, target, str(size), durability, str(total // writers), "0", extra]
    return (total // writers * writers) / float(run_released([argv] * writers))


def bench_append_inprocess(path: Path, size: int, n: int) -> tuple[float, float]:
    """In-process appends: (pre-encoded core, encode + append) messages per second."""
    create_pool_file(path, 256 * 1024 * 1024)
    pool = PoolFile(path)
    data = payload_data(size)
    payload = encode_payload(data)
    t = time.perf_counter()
    for _ in range(n):
        pool.append(payload)
    core = n / (time.perf_counter() - t)
    t = time.perf_counter()
    for _ in range(n):
        pool.append(encode_payload(data))
    e2e = n / (time.perf_counter() - t)
    pool.close()
    return core, e2e


# ----------------------------------------------------------------------------- reads
def _time_reads(pool: PoolFile, decode: bool) -> float:
    t = time.perf_counter()
    cursor = pool.cursor(1)
    count = 0
    while True:
        items = cursor.poll(4096)
        if not items:
            break
        if decode:
            for item in items:
                if not isinstance(item, Gap):
                    decode_payload(item[2])
        count += len(items)
    return count / (time.perf_counter() - t)


def reads_plasmite(tmp: Path, n: int, data: dict[str, Any], seqs: list[int]) -> dict[str, float]:
    path = tmp / "read.plasmite"
    path.unlink(missing_ok=True)
    create_pool_file(path, max(64 * 1024 * 1024, n * (len(json.dumps(data)) + 200)))
    with PoolFile(path) as pool:
        pool.append_many([encode_payload(data)] * n)
        raw = _time_reads(pool, decode=False)
        decoded = _time_reads(pool, decode=True)
        t = time.perf_counter()
        for s in seqs:
            pool.get(s)
        get = len(seqs) / (time.perf_counter() - t)
    return {"read": raw, "read_decoded": decoded, "get": get}


def reads_sqlite(tmp: Path, n: int, data: dict[str, Any], seqs: list[int]) -> dict[str, float]:
    for leftover in tmp.glob("read.db*"):
        leftover.unlink()
    db = sqlite_open(tmp / "read.db", "fast")
    sqlite_append(db, data, n, batch=True)
    t = time.perf_counter()
    count = sum(1 for row in db.execute("SELECT id, body FROM q ORDER BY id") if json.loads(row[1]))
    read = count / (time.perf_counter() - t)
    t = time.perf_counter()
    for s in seqs:
        db.execute("SELECT body FROM q WHERE id=?", (s,)).fetchone()
    get = len(seqs) / (time.perf_counter() - t)
    db.close()
    return {"read": read, "read_decoded": read, "get": get}


def reads_jsonl(tmp: Path, n: int, data: dict[str, Any]) -> dict[str, float]:
    path = tmp / "read.jsonl"
    path.unlink(missing_ok=True)
    jsonl_append(path, data, n, "fast")
    t = time.perf_counter()
    count = jsonl_get_all(path)
    read = count / (time.perf_counter() - t)
    return {"read": read, "read_decoded": read, "get": float("nan")}


def reads_redis(port: int, n: int, data: dict[str, Any]) -> dict[str, float]:
    import redis

    r: Any = redis.Redis(port=port)
    r.delete("read")
    redis_append(r, "read", data, n, pipeline=True)
    t = time.perf_counter()
    count, last = 0, "-"
    while True:
        batch = r.xrange("read", min=last if last == "-" else f"({last}", count=4096)
        if not batch:
            break
        for _id, fields in batch:
            json.loads(fields[b"d"])
        count += len(batch)
        last = batch[-1][0].decode()
    read = count / (time.perf_counter() - t)
    ids = [i for i, _ in r.xrange("read")]
    sample = [random.choice(ids) for _ in range(min(n, 20_000))]
    t = time.perf_counter()
    for i in sample:
        r.xrange("read", min=i, max=i)
    get = len(sample) / (time.perf_counter() - t)
    r.close()
    return {"read": read, "read_decoded": read, "get": get}


def _median_dicts(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def bench_reads(tmp: Path, n: int, size: int, redis_port: int | None, repeats: int) -> dict[str, dict[str, float]]:
    """Sequential reads and random gets for every system over the same `n` messages (median of `repeats`)."""
    data = payload_data(size)
    seqs = [random.randint(1, n) for _ in range(n)]
    out = {
        "plasmite": _median_dicts([reads_plasmite(tmp, n, data, seqs) for _ in range(repeats)]),
        "sqlite": _median_dicts([reads_sqlite(tmp, n, data, seqs) for _ in range(repeats)]),
        "jsonl": _median_dicts([reads_jsonl(tmp, n, data) for _ in range(repeats)]),
    }
    if redis_port:
        out["redis"] = _median_dicts([reads_redis(redis_port, n, data) for _ in range(repeats)])
    return out


# ----------------------------------------------------------------------------- follow latency
def bench_follow(system: str, target: str, count: int, extra: str) -> tuple[float, float]:
    """Median and p95 latency (ms) from append in this process to delivery in a follower process."""
    proc = subprocess.Popen([PY, "-c", FOLLOWER, system, target, str(count), extra], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    writer = _follow_writer(system, target, extra)
    for _ in range(count):
        writer(time.time_ns())
        time.sleep(0.004)
    out, _ = proc.communicate(timeout=120)
    lat = sorted(json.loads(out))
    return statistics.median(lat), lat[int(len(lat) * 0.95) - 1]


def _follow_writer(system: str, target: str, extra: str) -> Callable[[int], None]:
    if system == "plasmite":
        pool = PoolFile(target)

        def write_pool(ts: int) -> None:
            pool.append(encode_payload({"t": ts}))

        return write_pool
    if system == "sqlite":
        db = sqlite_open(Path(target), "fast")

        def write_db(ts: int) -> None:
            db.execute("INSERT INTO q(body) VALUES (?)", (json.dumps({"t": ts}),))

        return write_db
    if system == "jsonl":
        fh = open(target, "a")  # noqa: SIM115 - lives for the benchmark

        def write_file(ts: int) -> None:
            fh.write(json.dumps({"t": ts}) + "\n")
            fh.flush()

        return write_file
    import redis

    r: Any = redis.Redis(port=int(extra))

    def write_stream(ts: int) -> None:
        r.xadd("follow", {"d": json.dumps({"t": ts})})

    return write_stream


# ----------------------------------------------------------------------------- cli feed
def bench_cli_feed(tmp: Path, n: int) -> float:
    env = dict(os.environ, TOOLKIT_PLASMITE_DIR=str(tmp / "cli"))
    argv = [PY, "-c", "from toolkit_plasmite.cli import main; main()"]
    subprocess.run([*argv, "pool", "create", "feed", "--size", "256M"], env=env, check=True, capture_output=True)
    lines = "".join(json.dumps({"i": i, "body": "y" * 200}) + "\n" for i in range(n)).encode()
    t = time.perf_counter()
    subprocess.run([*argv, "feed", "feed"], input=lines, env=env, check=True, stdout=subprocess.DEVNULL)
    return n / (time.perf_counter() - t)


def bench_appends(
    tmp: Path, n_fast: int, n_flush: int, redis_port: int | None, repeats: int
) -> list[tuple[str, dict[str, float]]]:
    """Every append configuration for every system (median of `repeats` runs, fresh files each run)."""
    rows = []
    for size in (256, 1024):
        for writers in (1, 4):
            for durability in ("fast", "flush"):
                n = n_fast if durability == "fast" else n_flush
                label = f"append {size}B x{writers} {durability} (msg/s)"
                runs: dict[str, list[float]] = {}
                for rep in range(repeats):
                    key = f"{size}-{writers}-{durability}-{rep}"
                    ppath = tmp / f"a-{key}.plasmite"
                    create_pool_file(ppath, 256 * 1024 * 1024)
                    runs.setdefault("plasmite", []).append(
                        run_writers("plasmite", str(ppath), size, durability, n, writers, "")
                    )
                    spath = tmp / f"a-{key}.db"
                    sqlite_open(spath, durability).close()
                    runs.setdefault("sqlite", []).append(
                        run_writers("sqlite", str(spath), size, durability, n, writers, "")
                    )
                    jpath = str(tmp / f"a-{key}.jsonl")
                    runs.setdefault("jsonl", []).append(run_writers("jsonl", jpath, size, durability, n, writers, ""))
                    if redis_port:
                        runs.setdefault("redis", []).append(
                            run_writers("redis", f"a-{key}", size, durability, n, writers, str(redis_port))
                        )
                    for path in tmp.glob(f"a-{key}*"):
                        path.unlink()
                row = {system: statistics.median(values) for system, values in runs.items()}
                rows.append((label, row))
                print(f"  {label}: " + ", ".join(f"{k}={fmt(v)}" for k, v in row.items()), file=sys.stderr)
    return rows


def bench_follows(tmp: Path, count: int, redis_port: int | None) -> list[tuple[str, dict[str, float]]]:
    """Follow latency for every system."""
    lat: dict[str, float] = {}
    p95: dict[str, float] = {}
    fpath = tmp / "follow.plasmite"
    create_pool_file(fpath, 16 * 1024 * 1024)
    lat["plasmite"], p95["plasmite"] = bench_follow("plasmite", str(fpath), count, "")
    sdb = tmp / "follow.db"
    sqlite_open(sdb, "fast").close()
    lat["sqlite"], p95["sqlite"] = bench_follow("sqlite", str(sdb), count, "")
    jpath = tmp / "follow.jsonl"
    jpath.touch()
    lat["jsonl"], p95["jsonl"] = bench_follow("jsonl", str(jpath), count, "")
    if redis_port:
        lat["redis"], p95["redis"] = bench_follow("redis", "follow", count, str(redis_port))
    return [("follow latency median (ms, lower is better)", lat), ("follow latency p95 (ms, lower is better)", p95)]


# ----------------------------------------------------------------------------- main
def fmt(v: float) -> str:
    if math.isnan(v):
        return "n/a"
    if v >= 1000:
        return f"{v / 1000:,.1f}k"
    return f"{v:,.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer messages, one run per cell (about 5x faster)")
    parser.add_argument("--json", action="store_true", help="print results as JSON too")
    parser.add_argument("--no-redis", action="store_true")
    args = parser.parse_args()
    scale = 0.3 if args.quick else 1.0
    repeats = 1 if args.quick else 3
    n_fast = int(15_000 * scale)
    n_flush = int(1_500 * scale)
    tmp = Path(tempfile.mkdtemp(prefix="plasmite-bench-"))
    redis_srv = RedisServer(tmp)
    have_redis = not args.no_redis and redis_srv.start()
    rows: list[tuple[str, dict[str, float]]] = []
    try:
        inproc = [bench_append_inprocess(tmp / f"inproc-{i}.plasmite", 1024, n_fast) for i in range(repeats)]
        core = statistics.median(c for c, _ in inproc)
        e2e = statistics.median(e for _, e in inproc)
        rows.append(("append 1KB in-process, pre-encoded (msg/s)", {"plasmite": core}))
        rows.append(("append 1KB in-process, encode+append (msg/s)", {"plasmite": e2e}))
        rows.extend(bench_appends(tmp, n_fast, n_flush, redis_srv.port if have_redis else None, repeats))
        reads = bench_reads(tmp, n_fast, 1024, redis_srv.port if have_redis else None, repeats)
        for metric, label in (
            ("read", "sequential read 1KB (msg/s)"),
            ("read_decoded", "sequential read + decode (msg/s)"),
            ("get", "random get by seq (msg/s)"),
        ):
            rows.append((label, {sys_: vals[metric] for sys_, vals in reads.items()}))
        (tmp / "small").mkdir()
        reads_small = {
            "plasmite": _median_dicts(
                [reads_plasmite(tmp / "small", n_fast, payload_data(256), [1]) for _ in range(repeats)]
            )
        }
        rows.append(("sequential read 256B (msg/s)", {"plasmite": reads_small["plasmite"]["read"]}))
        rows.extend(bench_follows(tmp, int(300 * max(scale, 0.5)), redis_srv.port if have_redis else None))
        rows.append(("CLI feed from a pipe (lines/s)", {"plasmite": bench_cli_feed(tmp, int(50_000 * scale))}))
        from plasmite_real import bench_real_plasmite  # type: ignore[import-not-found]

        rows.extend(bench_real_plasmite(tmp, int(10_000 * scale), int(50_000 * scale)))
    finally:
        redis_srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print_table(rows, have_redis, redis_srv.error)
    if args.json:
        print(json.dumps([{"workload": w, **r} for w, r in rows], indent=2))


def print_table(rows: list[tuple[str, dict[str, float]]], have_redis: bool, redis_error: str | None) -> None:
    systems = ["plasmite", "real", "sqlite", "jsonl"] + (["redis"] if have_redis else [])
    head = f"{'workload':<48}" + "".join(f"{s:>11}" for s in systems) + "   ratios (plasmite / peer)"
    print(head)
    print("-" * len(head))
    for label, row in rows:
        cells = "".join(f"{fmt(row[s]) if s in row else '-':>11}" for s in systems)
        lower_better = "lower is better" in label
        ratios = []
        for s in systems[1:]:
            if s in row and row[s] == row[s] and row[s] > 0 and row.get("plasmite"):
                r = row[s] / row["plasmite"] if lower_better else row["plasmite"] / row[s]
                ratios.append(f"{s} {r:.2f}x")
        print(f"{label:<48}{cells}   {'  '.join(ratios)}")
    print("\nratios > 1 mean plasmite (ours) is better (faster, or lower latency); `real` is plasmite 1.2.1 itself.")
    if not have_redis:
        print(f"redis skipped: {redis_error or 'disabled'}")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load average {load}; payload JSON sizes as labelled"
    )


if __name__ == "__main__":
    main()
