"""Start-up latency of the `toolkit` host and of every console script, beside `python -c pass`.

Run: .venv/bin/python tools/bench/host.py [--runs 10] [--json]

The issue's budget: `toolkit --help` within 50 ms of `python -c pass`, each console script's
`--help` within 40 ms. Every figure is the median of --runs wall-clock runs, taken in one
interleaved loop so machine load hits all commands alike; one warm-up run first (it writes the
entry-point index and byte-compiles). PYTHONDONTWRITEBYTECODE is dropped: with it every run
would compile every module again, which no installed copy does.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "toolkit --help": [str(BIN / "toolkit"), "--help"],
    "grite --help": [str(BIN / "grite"), "--help"],
    "plasmite --help": [str(BIN / "plasmite"), "--help"],
    "pom --help": [str(BIN / "pom"), "--help"],
    "graveyar --help": [str(BIN / "graveyar"), "--help"],
    "toolkit --version": [str(BIN / "toolkit"), "--version"],
}
BUDGET = {"toolkit --help": 50.0, "grite --help": 40.0, "plasmite --help": 40.0, "pom --help": 40.0,
          "graveyar --help": 40.0}  # fmt: skip


def _once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Return (wall, CPU) milliseconds of one run; CPU time is what a busy machine distorts least."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = (time.perf_counter() - start) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["TOOLKIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="tk-bench-cache-")
    for argv in COMMANDS.values():
        _once(argv, env)  # warm-up: writes the index, compiles, fills the page cache
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):
        for name, argv in COMMANDS.items():
            samples[name].append(_once(argv, env))
    wall = {name: statistics.median(w for w, _ in values) for name, values in samples.items()}
    cpu = {name: statistics.median(c for _, c in values) for name, values in samples.items()}
    rows = []
    for name in COMMANDS:
        over = wall[name] - wall["python -c pass"]
        budget = BUDGET.get(name)
        verdict = "" if budget is None else ("within budget" if over <= budget else f"OVER the {budget:.0f} ms budget")
        rows.append({"command": name, "median_ms": round(wall[name], 1), "over_python_ms": round(over, 1),
                     "cpu_ms": round(cpu[name], 1), "cpu_over_python_ms": round(cpu[name] - cpu["python -c pass"], 1),
                     "budget_ms": budget, "verdict": verdict})  # fmt: skip
    if args.json:
        print(json.dumps({"runs": args.runs, "load": os.getloadavg(), "rows": rows}, indent=2))
        return
    print(f"median of {args.runs} runs each (load average {os.getloadavg()[0]:.1f})")
    for row in rows:
        print(
            f"{row['command']:<20} wall {row['median_ms']:7.1f} ms (+{row['over_python_ms']:6.1f})"
            f"  cpu {row['cpu_ms']:6.1f} ms (+{row['cpu_over_python_ms']:6.1f})  {row['verdict']}"
        )


if __name__ == "__main__":
    main()
