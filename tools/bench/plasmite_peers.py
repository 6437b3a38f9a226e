"""Helpers for tools/bench/plasmite.py: peer systems and the writer/follower child programs."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

HERE = str(Path(__file__).resolve().parent)


def run_released(argvs: list[list[str]], env: dict[str, str] | None = None) -> float:
    """Start every child, wait until each printed `ready`, release them at once; seconds until the last ends.

    Children print `ready`, wait for one byte on stdin, work, then print their end `time.time()`,
    so interpreter start-up is not measured.
    """
    procs = [
        subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env) for argv in argvs
    ]
    for proc in procs:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"{proc.args!r} did not start")
    started = time.time()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("g")
        proc.stdin.close()
        proc.stdin = None  # closed: communicate() must not flush it
    ends = []
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        if proc.returncode != 0:
            raise RuntimeError("a benchmark child failed")
        ends.append(float(out.strip()))
    return max(ends) - started


def sqlite_open(path: Path, durability: str) -> sqlite3.Connection:
    """A WAL-mode SQLite queue table; `flush` = synchronous FULL, `fast` = NORMAL."""
    db = sqlite3.connect(str(path), isolation_level=None, timeout=60)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={'FULL' if durability == 'flush' else 'NORMAL'}")
    db.execute("CREATE TABLE IF NOT EXISTS q (id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER, body TEXT NOT NULL)")
    return db


def sqlite_append(db: sqlite3.Connection, data: dict[str, Any], n: int, batch: bool = False) -> None:
    """Append n rows, one transaction each (or one for all when `batch`)."""
    body = json.dumps(data)
    if batch:
        db.execute("BEGIN")
        db.executemany("INSERT INTO q(body) VALUES (?)", ((body,) for _ in range(n)))
        db.execute("COMMIT")
        return
    for _ in range(n):
        db.execute("INSERT INTO q(body) VALUES (?)", (body,))


def jsonl_append(path: Path, data: dict[str, Any], n: int, durability: str) -> None:
    """Append n JSON lines with O_APPEND writes (fsync each for `flush`)."""
    import os

    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        for _ in range(n):
            os.write(fd, (json.dumps(data) + "\n").encode())
            if durability == "flush":
                os.fdatasync(fd)
    finally:
        os.close(fd)


def jsonl_get_all(path: Path) -> int:
    """Read and parse every line; return the count."""
    count = 0
    with open(path, "rb") as fh:
        for line in fh:
            json.loads(line)
            count += 1
    return count


def redis_append(r: Any, key: str, data: dict[str, Any], n: int, pipeline: bool = False) -> None:
    """XADD n entries (pipelined when `pipeline`)."""
    body = json.dumps(data)
    if pipeline:
        p = r.pipeline(transaction=False)
        for i in range(n):
            p.xadd(key, {"d": body})
            if i % 1000 == 999:
                p.execute()
        p.execute()
        return
    for _ in range(n):
        r.xadd(key, {"d": body})


WRITER = f"""
import sys, time, json
sys.path.insert(0, {HERE!r})
system, target, size, durability, n, start_at, extra = sys.argv[1:8]
size, n, start_at = int(size), int(n), float(start_at)
data = {{"kind": "bench", "body": "x" * max(0, size - 30)}}
if system == "plasmite":
    from toolkit_plasmite.core.pool import PoolFile
    from toolkit_plasmite.core.codec import encode_payload
    pool = PoolFile(target)
    flush = durability == "flush"
    def run():
        for _ in range(n):
            pool.append(encode_payload(data), flush)
elif system == "sqlite":
    from plasmite_peers import sqlite_open, sqlite_append
    from pathlib import Path
    db = sqlite_open(Path(target), durability)
    def run():
        sqlite_append(db, data, n)
elif system == "jsonl":
    from plasmite_peers import jsonl_append
    from pathlib import Path
    def run():
        jsonl_append(Path(target), data, n, durability)
else:
    import redis
    from plasmite_peers import redis_append
    r = redis.Redis(port=int(extra))
    if durability == "flush":
        r.config_set("appendonly", "yes")
        r.config_set("appendfsync", "always")
    else:
        r.config_set("appendonly", "no")
    def run():
        redis_append(r, target, data, n)
print("ready", flush=True)
sys.stdin.read(1)  # the parent releases every writer at once
run()
print(time.time(), flush=True)
"""

FOLLOWER = f"""
import sys, time, json
sys.path.insert(0, {HERE!r})
system, target, count, extra = sys.argv[1:5]
count = int(count)
lat = []
if system == "plasmite":
    from toolkit_plasmite.core.pool import PoolFile
    from toolkit_plasmite.core.tail import follow
    pool = PoolFile(target)
    stream = follow(pool, live=True, max_messages=count, timeout=30)
    print("ready", flush=True)
    for seq, ts, data, tags in stream:
        lat.append((time.time_ns() - data["t"]) / 1e6)
elif system == "sqlite":
    from plasmite_peers import sqlite_open
    from pathlib import Path
    db = sqlite_open(Path(target), "fast")
    last = db.execute("SELECT coalesce(max(id), 0) FROM q").fetchone()[0]
    print("ready", flush=True)
    interval = 0.001
    while len(lat) < count:
        rows = db.execute("SELECT id, body FROM q WHERE id > ? ORDER BY id", (last,)).fetchall()
        now = time.time_ns()
        for rid, body in rows:
            lat.append((now - json.loads(body)["t"]) / 1e6)
            last = rid
        if rows:
            interval = 0.001
        else:
            time.sleep(interval)
            interval = min(interval * 2, 0.05)
elif system == "jsonl":
    fh = open(target, "r")
    fh.seek(0, 2)
    print("ready", flush=True)
    interval = 0.001
    buf = ""
    while len(lat) < count:
        chunk = fh.read()
        now = time.time_ns()
        if chunk:
            buf += chunk
            *lines, buf = buf.split("\\n")
            for line in lines:
                lat.append((now - json.loads(line)["t"]) / 1e6)
            interval = 0.001
        else:
            time.sleep(interval)
            interval = min(interval * 2, 0.05)
else:
    import redis
    r = redis.Redis(port=int(extra), socket_timeout=None)
    newest = r.xrevrange("follow", count=1)
    last = newest[0][0] if newest else "0-0"
    print("ready", flush=True)
    while len(lat) < count:
        res = r.xread({{"follow": last}}, block=30000, count=100)
        now = time.time_ns()
        for _key, entries in res:
            for eid, fields in entries:
                lat.append((now - json.loads(fields[b"d"])["t"]) / 1e6)
                last = eid
print(json.dumps(lat[:count]))
"""
