"""tools/bench/plasmite.py lane: the real plasmite (its CLI and its own Python binding) in the same run.

The same program runs twice: once under plasmite's binding venv (`import plasmite`, the Rust
library through ctypes) and once under ours (`import toolkit_plasmite as plasmite`), so
the ratios compare like for like: 1 KB appends, gets and a tail in-process, and the follow
latency: a writer process appends 1 KB messages stamped with the monotonic clock (shared by
every process on Linux), a follower process tails the pool live and records each message's
delay; both processes use the same library.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PROGRAM = r"""
import json, sys, time
if sys.argv[1] == "ours":
    import toolkit_plasmite as plasmite
else:
    import plasmite
n = int(sys.argv[3])
data = {"body": "x" * 1000}
client = plasmite.Client(sys.argv[2])
pool = client.create_pool("bench", 256 * 1024 * 1024)
t = time.perf_counter()
for _ in range(n):
    pool.append(data, ["t"])
append = n / (time.perf_counter() - t)
t = time.perf_counter()
for seq in range(1, n + 1):
    pool.get(seq)
get = n / (time.perf_counter() - t)
t = time.perf_counter()
count = sum(1 for _ in pool.tail(since_seq=1, max_messages=n, timeout_ms=1000))
tail = count / (time.perf_counter() - t)
print(json.dumps({"append": append, "get": get, "tail": tail}))
"""

FOLLOW = r"""
import json, sys, time
if sys.argv[1] == "ours":
    import toolkit_plasmite as plasmite
else:
    import plasmite
role, n = sys.argv[3], int(sys.argv[4])
pool = plasmite.Client(sys.argv[2]).open_pool("lat")
if role == "follow":
    print("ready", flush=True)
    delays = []
    for message in pool.tail(since_seq=1, max_messages=n, timeout_ms=30000):
        delays.append((time.monotonic_ns() - message.data["t"]) / 1e6)
    print(json.dumps(delays))
else:
    for _ in range(n):
        pool.append({"t": time.monotonic_ns(), "body": "x" * 1000}, ["t"])
        time.sleep(0.002)
"""
FOLLOW_MESSAGES = 500


def _follow_latency(python: str, who: str, pools: Path, env: dict[str, str]) -> tuple[float, float]:
    """Median and p95 delay (ms) from append in one process to delivery in another."""
    subprocess.run(
        [python, "-c", "import sys; m = __import__(sys.argv[1]); m.Client(sys.argv[2]).create_pool('lat', 64 << 20)",
         "toolkit_plasmite" if who == "ours" else "plasmite", str(pools)],
        env=env, check=True,
    )  # fmt: skip
    args = [python, "-c", FOLLOW, who, str(pools)]
    follower = subprocess.Popen([*args, "follow", str(FOLLOW_MESSAGES)], env=env, stdout=subprocess.PIPE, text=True)
    assert follower.stdout is not None
    follower.stdout.readline()  # "ready": the follower is tailing before the first append
    subprocess.run([*args, "write", str(FOLLOW_MESSAGES)], env=env, check=True)
    delays = sorted(json.loads(follower.stdout.read()))
    follower.wait()
    return delays[len(delays) // 2], delays[int(len(delays) * 0.95)]


def _peer(name: str) -> dict[str, Any] | None:
    base = Path(os.environ.get("TOOLKIT_PEERS_DIR", Path.home() / ".cache" / "toolkit-peers"))
    current = base / name / "current.json"
    return json.loads(current.read_text()) if current.exists() else None


def bench_real_plasmite(tmp: Path, n: int, feed_lines: int) -> list[tuple[str, dict[str, float]]]:
    """Rows with a `real` column next to `plasmite` (ours); empty when the peers are not installed."""
    real_cli, binding = _peer("plasmite"), _peer("plasmite-python")
    rows: list[tuple[str, dict[str, float]]] = []
    if binding is not None:
        env = {**os.environ, **binding.get("extra", {}).get("env", {})}
        runs = {}
        for who, python in (("plasmite", sys.executable), ("real", binding["path"])):
            out = subprocess.run(
                [python, "-c", PROGRAM, "ours" if who == "plasmite" else "real", str(tmp / f"api-{who}"), str(n)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            runs[who] = json.loads(out)
        for metric, label in (("append", "API append 1KB"), ("get", "API get 1KB"), ("tail", "API tail 1KB")):
            rows.append((f"{label} (msg/s), vs plasmite's binding", {w: runs[w][metric] for w in runs}))
        latency = {
            who: _follow_latency(python, "ours" if who == "plasmite" else "real", tmp / f"follow-{who}", env)
            for who, python in (("plasmite", sys.executable), ("real", binding["path"]))
        }
        for index, label in ((0, "median"), (1, "p95")):
            row = f"API follow latency {label} (ms, lower is better), vs plasmite's binding"
            rows.append((row, {w: latency[w][index] for w in latency}))
    if real_cli is not None:
        lines = "".join(json.dumps({"i": i, "body": "y" * 200}) + "\n" for i in range(feed_lines)).encode()
        rates = {}
        ours = [sys.executable, "-c", "from toolkit_plasmite.cli import main; main()"]
        for who, argv in (("plasmite", ours), ("real", [real_cli["path"]])):
            pools = tmp / f"feed-{who}"
            subprocess.run(
                [*argv, "--dir", str(pools), "pool", "create", "f", "--size", "256M"], check=True, capture_output=True
            )
            t = time.perf_counter()
            subprocess.run(
                [*argv, "--dir", str(pools), "feed", "f"], input=lines, check=True, stdout=subprocess.DEVNULL
            )
            rates[who] = feed_lines / (time.perf_counter() - t)
        rows.append(("CLI feed from a pipe (lines/s), vs the real CLI", rates))
    return rows
