"""plasmite's two throughput goals, ours and the real plasmite 1.2.1 in the same run.

Run: `.venv/bin/python tools/bench/plasmite_goals.py [--runs 5] [--messages 8000] [--lines 30000]`

- writers: 1 and 4 processes appending 1 KB messages through the public Python API
  (`Client(...).pool(...).append(data, tags)`) into one format-3 pool; ours and plasmite's own
  binding (`import plasmite`, its Rust library) each run the same program. Goal: ours with 4
  writers at least as fast as ours with 1.
- feed: `plasmite feed POOL` from a pipe of JSON lines, our CLI and the real Rust CLI.
  Goal: ours >= 0.5x the real CLI.

Medians of `--runs` runs; the load average is printed with the table (2-core machine shared
with other work: read the ratios, not the absolute numbers).
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plasmite_peers import run_released  # type: ignore[import-not-found]  # the helper module sits next to this file

WRITER = r"""
import sys, time
if sys.argv[1] != "real":
    import toolkit_plasmite as plasmite
else:
    import plasmite
pool_dir, n = sys.argv[2], int(sys.argv[3])
client = plasmite.Client(pool_dir)
pool = client.open_pool("w")
data = {"kind": "bench", "body": "x" * 1000}
print("ready", flush=True)
sys.stdin.read(1)  # released together with the other writers
for _ in range(n):
    pool.append(data, ["t"])
print(time.time(), flush=True)
"""

CREATE = r"""
import sys
if sys.argv[1] != "real":
    import toolkit_plasmite as plasmite
else:
    import plasmite
plasmite.Client(sys.argv[2]).create_pool("w", 256 * 1024 * 1024).close()
"""


def _peer(name: str) -> dict[str, Any]:
    base = Path(os.environ.get("TOOLKIT_PEERS_DIR", Path.home() / ".cache" / "toolkit-peers"))
    current = base / name / "current.json"
    if not current.exists():
        sys.exit(f"{name} is not installed: python3 tools/peers install")
    return dict(json.loads(current.read_text()))


def run_writers(python: str, who: str, pool_dir: Path, total: int, writers: int, env: dict[str, str]) -> float:
    """`writers` processes append `total` messages together; messages per second from release to last finish."""
    subprocess.run([python, "-c", CREATE, who, str(pool_dir)], env=env, check=True)
    argv = [python, "-c", WRITER, who, str(pool_dir), str(total // writers)]
    return (total // writers * writers) / float(run_released([argv] * writers, env))


def run_feed(argv: list[str], pool_dir: Path, lines: bytes, count: int) -> float:
    """Lines per second of `feed` from a pipe, process start included (as a user runs it)."""
    subprocess.run(
        [*argv, "--dir", str(pool_dir), "pool", "create", "f", "--size", "256M"], check=True, capture_output=True
    )
    t = time.perf_counter()
    subprocess.run([*argv, "--dir", str(pool_dir), "feed", "f"], input=lines, check=True, stdout=subprocess.DEVNULL)
    return count / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--messages", type=int, default=8000, help="messages per writer configuration")
    parser.add_argument("--lines", type=int, default=30000, help="lines fed through each CLI")
    parser.add_argument("--only", choices=["writers", "feed"], help="run one goal only")
    parser.add_argument(
        "--baseline-src",
        type=Path,
        help="also run the writers with toolkit_plasmite from this source directory (a `base` column, "
        "interleaved: e.g. `git archive COMMIT plugins/plasmite/src | tar -x -C DIR`, then DIR/plugins/plasmite/src)",
    )
    args = parser.parse_args()
    real_cli, binding = _peer("plasmite"), _peer("plasmite-python")
    env = {**os.environ, **binding.get("extra", {}).get("env", {})}
    pythons = {"ours": sys.executable, "real": binding["path"]}
    envs = {"ours": env, "real": env}
    if args.baseline_src is not None:
        pythons["base"] = sys.executable
        envs["base"] = {**env, "PYTHONPATH": str(args.baseline_src.resolve())}
    ours_cli = [sys.executable, "-c", "from toolkit_plasmite.cli import main; main()"]
    clis = {"ours": ours_cli, "real": [real_cli["path"]]}
    lines = "".join(json.dumps({"i": i, "body": "y" * 200}) + "\n" for i in range(args.lines)).encode()
    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="plasmite-goals-") as tmp:
        root = Path(tmp)
        for run in range(args.runs):  # interleaved, so drifting load hits every cell alike
            for who, python in pythons.items():
                if args.only in (None, "writers"):
                    for writers in (1, 4):
                        d = root / f"w-{who}-{writers}-{run}"
                        rate = run_writers(python, who, d, args.messages, writers, envs[who])
                        results.setdefault(f"append 1KB x{writers} (msg/s)", {}).setdefault(who, []).append(rate)
                if args.only in (None, "feed") and who in clis:
                    rate = run_feed(clis[who], root / f"f-{who}-{run}", lines, args.lines)
                    results.setdefault("CLI feed from a pipe (lines/s)", {}).setdefault(who, []).append(rate)
    base = "base" in pythons
    print(f"{'workload':<34}{'ours':>10}{'real':>10}{'ours/real':>11}" + (f"{'base':>10}" if base else ""))
    medians = {label: {who: statistics.median(v) for who, v in row.items()} for label, row in results.items()}
    for label, row in medians.items():
        extra = f"{row['base']:>10,.0f}" if "base" in row else ""
        print(f"{label:<34}{row['ours']:>10,.0f}{row['real']:>10,.0f}{row['ours'] / row['real']:>10.2f}x{extra}")
    one, four = medians.get("append 1KB x1 (msg/s)"), medians.get("append 1KB x4 (msg/s)")
    if one and four:
        ratios = ", ".join(f"{who} {four[who] / one[who]:.2f}x" for who in pythons)
        print(f"4 writers / 1 writer: {ratios}")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"medians of {args.runs} runs; {os.cpu_count()} cpus; load average {load}; python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
