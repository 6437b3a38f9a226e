"""Time to 10 ready: pom and process-compose beside the floor of any Python supervisor.

The floor lanes run `pom_floor_sup.py`: a Python process that only spawns the ten processes,
reads their output and answers a Unix socket with how many printed `ready` (with asyncio, and
with a plain selector loop). Every lane starts the same ten `pom_writer.py ... ready` processes
and is polled every 10 ms (`tools/bench/pom.py`'s `_wait`), in rotating order. Prints medians,
ratios against process-compose, each supervisor's own CPU when all were ready, and the load.

    uv run python tools/bench/pom_floor.py --repeats 15
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil
from pom_ab import bench, print_cpu_table, print_ready_table, run_interleaved

SUPERVISOR = Path(__file__).with_name("pom_floor_sup.py")
N = 10


def _count(path: Path) -> int:
    """The floor supervisor's ready count, or -1 while it does not answer."""
    try:
        with socket.socket(socket.AF_UNIX) as conn:
            conn.connect(str(path))
            return int(conn.recv(64))
    except (OSError, ValueError):
        return -1


def ready_floor(work: Path, mode: str, cpu: list[float]) -> float:
    """Seconds from starting the floor supervisor (`mode`) to all N ready; its CPU goes to `cpu`."""
    path = work / "floor.sock"
    command = f"exec {bench._writer_cmd(0, ready=True)}"
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(SUPERVISOR), mode, str(path), str(N), command])
    try:
        bench._wait(lambda: _count(path) == N, 60, f"floor ({mode}) all ready")
        elapsed = time.perf_counter() - start
        times = psutil.Process(proc.pid).cpu_times()
        cpu.append(times.user + times.system)
        return elapsed
    finally:
        bench._kill_tree(proc)


def main() -> None:
    """Run the interleaved lanes and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # from bytecode, as users run
    cpu: dict[str, list[float]] = {"pom": [], "floor: asyncio": [], "floor: selectors": []}
    lanes: dict[str, Callable[[Path], float]] = {
        "pom": lambda work: float(bench.ready_pom(work, N, cpu["pom"])),
        "process-compose 1.85": lambda work: float(bench.ready_process_compose(work, N)),
        "floor: asyncio": lambda work: ready_floor(work, "asyncio", cpu["floor: asyncio"]),
        "floor: selectors": lambda work: ready_floor(work, "selectors", cpu["floor: selectors"]),
    }
    times: dict[str, list[float]] = {name: [] for name in lanes}
    loads: list[float] = []
    with tempfile.TemporaryDirectory(prefix="pom-bench-floor-") as tmp_name:
        tmp = Path(tmp_name)
        bench._warm_ready(tmp)
        for name, lane in lanes.items():
            lane(bench._fresh(tmp, f"warm-{len(name)}-{name[-4:]}"))
        for runs in cpu.values():
            runs.clear()
        run_interleaved(lanes, times, loads, args.repeats, tmp)
    print_ready_table(times, loads)
    print_cpu_table(cpu, "the supervisor's own CPU")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
