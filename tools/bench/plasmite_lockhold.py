"""How long one append holds the pool's writer lock (the part 4 concurrent writers cannot share).

Run: `.venv/bin/python tools/bench/plasmite_lockhold.py [--messages 16000] [--baseline-src DIR]`

One process appends 1 KB messages through the public API into a fresh 256 MiB format-3
pool (as `plasmite_goals.py` does) and reports the mean time between taking and releasing
the lock, next to the whole append. Under load, a writer preempted inside the lock makes
every other writer wait, so this number, not the noisy multi-process rate, is what a change
to the critical section moves. `--baseline-src` runs the same with toolkit_plasmite from
another source tree (see plasmite_goals.py), interleaved. The real plasmite takes its lock inside
Rust, out of reach of this probe: its column is in plasmite_goals.py only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import sys, tempfile, time
import toolkit_plasmite as plasmite
from toolkit_plasmite.core import lock

held, taken = [0, 0], [0]
acquire, release = lock.WriterLock.acquire, lock.WriterLock.release

def timed_acquire(self):
    acquire(self)
    taken[0] = time.perf_counter_ns()

def timed_release(self):
    held[0] += time.perf_counter_ns() - taken[0]
    held[1] += 1
    release(self)

lock.WriterLock.acquire, lock.WriterLock.release = timed_acquire, timed_release
n = int(sys.argv[1])
with tempfile.TemporaryDirectory() as d:
    client = plasmite.Client(d)
    client.create_pool("w", 256 * 1024 * 1024).close()
    pool = client.open_pool("w")
    data = {"kind": "bench", "body": "x" * 1000}
    start = time.perf_counter_ns()
    for _ in range(n):
        pool.append(data, ["t"])
    total = time.perf_counter_ns() - start
    pool.close()
print(held[0] / held[1] / 1000, total / n / 1000)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--messages", type=int, default=16000)
    parser.add_argument("--baseline-src", type=Path, help="a toolkit_plasmite source tree to compare with")
    args = parser.parse_args()
    envs = {"ours": dict(os.environ)}
    if args.baseline_src is not None:
        envs["base"] = {**os.environ, "PYTHONPATH": str(args.baseline_src.resolve())}
    held: dict[str, list[float]] = {who: [] for who in envs}
    whole: dict[str, list[float]] = {who: [] for who in envs}
    for _ in range(args.runs):
        for who, env in envs.items():
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(args.messages)], env=env, capture_output=True, text=True, check=True
            )
            h, w = (float(x) for x in out.stdout.split())
            held[who].append(h)
            whole[who].append(w)
    print(f"{'':<6}{'lock held us/append':>22}{'whole append us':>18}")
    for who in envs:
        print(f"{who:<6}{statistics.median(held[who]):>22.2f}{statistics.median(whole[who]):>18.2f}")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"medians of {args.runs} runs; load average {load}")


if __name__ == "__main__":
    main()
