"""Time to 10 ready: this pom against another pom source tree and process-compose, interleaved.

Each repeat runs the three lanes (order rotating, so load drifts hit all alike) with
`tools/bench/pom.py`'s own `ready_pom`/`ready_process_compose`; the other pom runs from
OTHER_SRC (a `plugins/pom/src` folder, e.g. from `git archive <commit> plugins/pom/src`)
through PYTHONPATH. Prints medians, ratios against process-compose, the median of per-repeat
ratios (each repeat's lanes ran within a second of each other) and the load average.

    git archive 2f9d5cf plugins/pom/src | tar -x -C /tmp/pom-before
    uv run python tools/bench/pom_ab.py /tmp/pom-before/plugins/pom/src --repeats 25
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _load_bench() -> Any:
    """tools/bench/pom.py, next to this file (not a package)."""
    spec = importlib.util.spec_from_file_location("pom_bench", Path(__file__).with_name("pom.py"))
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["pom_bench"] = module
    spec.loader.exec_module(module)
    return module


bench = _load_bench()


def run_interleaved(
    lanes: dict[str, Callable[[Path], float]],
    times: dict[str, list[float]],
    loads: list[float],
    repeats: int,
    tmp: Path,
) -> None:
    """Run every lane `repeats` times, rotating their order each repeat; append to `times` and `loads`."""
    order = list(lanes)
    for i in range(repeats):
        loads.append(os.getloadavg()[0])
        for name in order:
            times[name].append(lanes[name](bench._fresh(tmp, f"ab{i}-{order.index(name)}")))
        order = order[1:] + order[:1]


def print_ready_table(times: dict[str, list[float]], loads: list[float]) -> None:
    """Medians of the time-to-10-ready lanes, each against process-compose's (overall and per repeat)."""
    pc = times["process-compose 1.85"]
    print(f"up -> all 10 processes ready, median of {len(pc)} (load {min(loads):.1f}-{max(loads):.1f})")
    for name, runs in times.items():
        line = f"  {name:<22} {statistics.median(runs):.3f}s"
        if runs is not pc:
            paired = statistics.median(p / q for p, q in zip(pc, runs, strict=True))
            ratio = statistics.median(pc) / statistics.median(runs)
            line += f"  {ratio:.2f}x process-compose (per repeat {paired:.2f}x)"
        print(line)


def print_cpu_table(cpu: dict[str, list[float]], whose: str) -> None:
    """Each lane's CPU seconds when all were ready, as median and mean milliseconds."""
    print(f"{whose} (user+sys, 10 ms ticks) when all were ready: median, mean")
    for name, runs in cpu.items():
        print(f"  {name:<22} {statistics.median(runs) * 1000:.0f} ms, {statistics.fmean(runs) * 1000:.1f} ms")


def main() -> None:
    """Run the interleaved lanes and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other_src", type=Path, help="the other pom's plugins/pom/src folder")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    if not (args.other_src / "toolkit_pom" / "__init__.py").is_file():
        parser.error(f"{args.other_src} has no toolkit_pom package")

    cpu: dict[str, list[float]] = {"pom (this tree)": [], "pom (other)": []}

    def other(work: Path) -> float:
        os.environ["PYTHONPATH"] = str(args.other_src)
        try:
            return float(bench.ready_pom(work, 10, cpu["pom (other)"]))
        finally:
            os.environ.pop("PYTHONPATH", None)

    def warm_other(work: Path) -> None:
        """The other tree's console-script index (PYTHONPATH makes it another one) and cache entry."""
        env = {**os.environ, "PYTHONPATH": str(args.other_src)}
        subprocess.run([str(bench.BIN / "pom"), "--help"], stdout=subprocess.DEVNULL, env=env, check=False)
        other(work)

    lanes: dict[str, Callable[[Path], float]] = {
        "pom (this tree)": lambda work: float(bench.ready_pom(work, 10, cpu["pom (this tree)"])),
        "pom (other)": other,
        "process-compose 1.85": lambda work: float(bench.ready_process_compose(work, 10)),
    }
    times: dict[str, list[float]] = {name: [] for name in lanes}
    loads: list[float] = []
    with tempfile.TemporaryDirectory(prefix="pom-bench-ab-") as tmp_name:
        tmp = Path(tmp_name)
        bench._warm_ready(tmp)
        warm_other(bench._fresh(tmp, "warm-other"))
        for runs in cpu.values():
            runs.clear()
        run_interleaved(lanes, times, loads, args.repeats, tmp)
    print_ready_table(times, loads)
    print_cpu_table(cpu, "pom's own CPU")
    this, before = (statistics.fmean(cpu[name]) for name in cpu)
    print(f"  this tree uses {before / this:.2f}x less CPU than the other (means)")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
