"""Where 4 concurrent writers lose time: the writer-lock waits, bucketed by length, and the CPU they got.

Run: `.venv/bin/python tools/bench/plasmite_contention.py [--runs 5] [--messages 24000]
[--acquire block,spin,yield] [--baseline-src DIR]`

1 and 4 processes append 1 KB messages through the public API into a fresh format-3 pool
(as `plasmite_goals.py`), each with a probe around the writer lock. Per configuration
(medians of `--runs` interleaved runs): the aggregate rate, the CPU the writers got per
message and in CPUs, the time all writers spent waiting for the lock per message, split into
short waits (< 10 us: the holder was running), medium (10 us - 1 ms: a sleeping waiter's
wake-up) and long ones (>= 1 ms: the holder was preempted while holding the lock), and how
often a hold lasted over 100 us. `queued` and `asleep` (from /proc/self/schedstat) say where
the rest of the writers' wall time went: runnable but waiting for a CPU, or blocked (the lock,
I/O). If the lock were what 4 writers lose, the lock waits and `asleep` would grow with
4 writers; on a busy machine they stay small and `queued` takes the time.

`--acquire` compares ways of taking the same `flock` (the lock protocol is unchanged):
`block` (LOCK_EX at once, the plugin before 2026-12-06), `spin` (8 LOCK_NB attempts, then
block: what core/lock.py does),
`yield` (LOCK_NB attempts with `sched_yield` between, then block). `--own-sessions` starts
each writer in a session of its own (with `kernel.sched_autogroup_enabled=1`, printed, the
scheduler shares CPU between sessions first), as independent services would run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHILD = r"""
import bisect, fcntl, json, os, resource, sys, time
import toolkit_plasmite as plasmite
from toolkit_plasmite.core import lock

how, pool_dir, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
EDGES = (10_000, 1_000_000)
waits, counts, held = [0, 0, 0], [0, 0, 0], {"long": 0, "taken": 0}
T, flock, yield_ = time.perf_counter_ns, fcntl.flock, os.sched_yield
NB, EX = fcntl.LOCK_EX | fcntl.LOCK_NB, fcntl.LOCK_EX
release = lock.WriterLock.release

def acquire(self):
    start = T()
    self._thread.acquire()
    for _ in range(0 if how == "block" else 8):
        try:
            flock(self._fd, NB)
            break
        except BlockingIOError:
            if how == "yield":
                yield_()
    else:
        flock(self._fd, EX)
    now = T()
    i = bisect.bisect(EDGES, now - start)
    waits[i] += now - start
    counts[i] += 1
    held["taken"] = now

def timed_release(self):
    if T() - held["taken"] > 100_000:
        held["long"] += 1
    release(self)

lock.WriterLock.acquire, lock.WriterLock.release = acquire, timed_release
pool = plasmite.Client(pool_dir).open_pool("w")
data = {"kind": "bench", "body": "x" * 1000}
print("ready", flush=True)
sys.stdin.read(1)
def sched():
    try:
        with open("/proc/self/schedstat") as f:
            return [int(x) for x in f.read().split()[:2]]
    except OSError:
        return [0, 0]

r0, s0, t0 = resource.getrusage(resource.RUSAGE_SELF), sched(), T()
for _ in range(n):
    pool.append(data, ["t"])
r1, s1, t1 = resource.getrusage(resource.RUSAGE_SELF), sched(), T()
queued = s1[1] - s0[1]  # runnable, waiting for a CPU
asleep = (t1 - t0) - (s1[0] - s0[0]) - queued  # blocked: the lock, page faults waiting for I/O, ...
cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
print(json.dumps({"end": time.time(), "cpu": cpu, "waits": waits, "counts": counts, "long_holds": held["long"],
                  "queued": queued, "asleep": asleep}))
"""

CREATE = "import sys, toolkit_plasmite as p; p.Client(sys.argv[1]).create_pool('w', 256 * 1024 * 1024).close()"


def run_once(env: dict[str, str], how: str, writers: int, total: int, sessions: bool = False) -> dict[str, Any]:
    """`writers` children append `total` messages together, released at once; their summed probes.

    With `sessions`, each writer starts in a session of its own (so in its own autogroup).
    """
    with tempfile.TemporaryDirectory(prefix="plasmite-contention-") as pool_dir:
        subprocess.run([sys.executable, "-c", CREATE, pool_dir], env=env, check=True)
        argv = [sys.executable, "-c", CHILD, how, pool_dir, str(total // writers)]
        procs = [
            subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, start_new_session=sessions
            )
            for _ in range(writers)
        ]
        for proc in procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("a writer did not start")
        started = time.time()
        for proc in procs:  # release every writer before waiting for any (they must run together)
            assert proc.stdin is not None
            proc.stdin.write("g")
            proc.stdin.close()
            proc.stdin = None
        outs = [proc.communicate(timeout=600)[0] for proc in procs]
    rows = [json.loads(out) for out in outs]
    elapsed = max(r["end"] for r in rows) - started
    n = total // writers * writers
    return {
        "rate": n / elapsed,
        "cpu_us": 1e6 * sum(r["cpu"] for r in rows) / n,
        "cpus": sum(r["cpu"] for r in rows) / elapsed,
        "wait_us": [sum(r["waits"][i] for r in rows) / 1000 / n for i in range(3)],
        "long_holds": 10_000 * sum(r["long_holds"] for r in rows) / n,
        "queued_us": sum(r["queued"] for r in rows) / 1000 / n,
        "asleep_us": sum(r["asleep"] for r in rows) / 1000 / n,
    }


def _autogroup() -> str:
    try:
        enabled = Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip()
    except OSError:
        return "autogroup unknown"
    return f"sched_autogroup_enabled={enabled}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--messages", type=int, default=24000, help="messages per configuration and run")
    parser.add_argument("--acquire", default="block", help="comma-separated: block, spin, yield")
    parser.add_argument(
        "--own-sessions", action="store_true", help="start every writer in its own session (own autogroup)"
    )
    parser.add_argument("--baseline-src", type=Path, help="also run toolkit_plasmite from this source tree (`base`)")
    args = parser.parse_args()
    envs = {"ours": dict(os.environ)}
    if args.baseline_src is not None:
        envs["base"] = {**os.environ, "PYTHONPATH": str(args.baseline_src.resolve())}
    cells = [(who, how) for who in envs for how in args.acquire.split(",")]
    results: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for _ in range(args.runs):  # interleaved, so drifting load hits every cell alike
        for who, how in cells:
            for writers in (1, 4):
                results.setdefault((who, how, writers), []).append(
                    run_once(envs[who], how, writers, args.messages, args.own_sessions)
                )
    print(
        f"{'code':<6}{'acquire':<8}{'writers':>8}{'msg/s':>9}{'cpu us/msg':>11}{'cpus':>6}"
        f"{'wait us/msg: <10us':>20}{'<1ms':>7}{'>=1ms':>7}{'holds>100us/10k':>17}{'queued':>8}{'asleep':>8}"
    )
    for (who, how, writers), runs in results.items():

        def med(key: str, i: int | None = None, runs: list[dict[str, Any]] = runs) -> float:
            return float(statistics.median(r[key] if i is None else r[key][i] for r in runs))

        print(
            f"{who:<6}{how:<8}{writers:>8}{med('rate'):>9,.0f}{med('cpu_us'):>11.1f}{med('cpus'):>6.2f}"
            f"{med('wait_us', 0):>20.1f}{med('wait_us', 1):>7.1f}{med('wait_us', 2):>7.1f}{med('long_holds'):>17.1f}"
            f"{med('queued_us'):>8.1f}{med('asleep_us'):>8.1f}"
        )
    for who, how in cells:
        ratios = [b["rate"] / a["rate"] for a, b in zip(results[(who, how, 1)], results[(who, how, 4)], strict=True)]
        low, high = min(ratios), max(ratios)
        print(f"{who} {how}: 4 writers / 1 writer median {statistics.median(ratios):.2f} ({low:.2f}-{high:.2f})")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"medians of {args.runs} runs; {os.cpu_count()} cpus; load average {load}; {_autogroup()}")


if __name__ == "__main__":
    main()
