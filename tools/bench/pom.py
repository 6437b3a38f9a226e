"""Benchmark pom against process-compose, honcho and supervisord, side by side in one run.

Each tool first starts its N writers, which wait for a go file; the clock starts when the file
appears, so start-up costs are excluded for every tool alike.

Measures, for N processes each writing M lines as fast as they can:
  * wall time until every line is stored (pom: in its log store; honcho: printed to its output
    file; supervisord: in its per-program log files), and lines/s;
  * CPU seconds used by the supervisor's own processes (workload excluded);
  * memory per stored line (pom: RSS growth / lines, and the store's own accounting);
plus `pom logs --lines 1000` latency (socket round trip and whole CLI process, against
`process-compose process logs -n 1000` over its REST API) and the time from `up` to all ready for
10 processes. process-compose v1.85.0 is the real binary from the peers cache (`tools/peers`).

    uv run python tools/bench/pom.py            # default (~2-3 minutes)
    uv run python tools/bench/pom.py --quick    # smaller workload, one repeat
    uv run python tools/bench/pom.py --ready-only --repeats 9   # only the time-to-10-ready lane
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
WRITER = HERE / "pom_writer.py"
BIN = Path(sys.executable).parent


def _tree_cpu(root: int, exclude: str) -> float:
    """CPU seconds of `root` and descendants whose command line does not contain `exclude`."""
    try:
        proc = psutil.Process(root)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            if exclude in " ".join(p.cmdline()):
                continue
            t = p.cpu_times()
            total += t.user + t.system
    return total


def _kill_tree(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(psutil.Error):
        parent = psutil.Process(proc.pid)
        kids = parent.children(recursive=True)
        for p in [*kids, parent]:
            with contextlib.suppress(psutil.Error):
                p.send_signal(signal.SIGKILL)
    proc.wait()


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise RuntimeError(f"timed out waiting for {what}")


def _writers_running(root: int, n: int) -> bool:
    """True once `n` workload writers run under `root` (they then wait for the go file)."""
    try:
        kids = psutil.Process(root).children(recursive=True)
    except psutil.Error:
        return False
    count = 0
    for kid in kids:
        with contextlib.suppress(psutil.Error):
            if str(WRITER) in " ".join(kid.cmdline()):
                count += 1
    return count >= n


class LineCounter:
    """Counts newlines in growing files without re-reading them."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self.offsets = dict.fromkeys(paths, 0)
        self.count = 0

    def update(self) -> int:
        for path in self.paths:
            with contextlib.suppress(FileNotFoundError), open(path, "rb") as fh:
                fh.seek(self.offsets[path])
                data = fh.read()
                self.offsets[path] += len(data)
                self.count += data.count(b"\n")
        return self.count


def _writer_cmd(m: int, ready: bool = False) -> str:
    return f"{sys.executable} {WRITER} {m}" + (" ready" if ready else "")


# ---------------------------------------------------------------- throughput


def run_pom(work: Path, n: int, m: int, quiet: bool) -> dict[str, float]:
    sys.path.insert(0, str(HERE.parents[1] / "plugins" / "pom" / "src"))
    from toolkit_pom.client import PomClient

    go = work / "go"
    procs = "\n".join(f'[processes.w{i}]\ncommand = "exec {_writer_cmd(m)}"\n' for i in range(n))
    (work / "pom.toml").write_text(f'[project]\nlog_max_bytes = "512MiB"\nenv = {{ POM_BENCH_GO = "{go}" }}\n{procs}')
    argv = [str(BIN / "pom"), "up", "--headless", "--no-http", "-f", str(work / "pom.toml")]
    if quiet:
        argv.append("--quiet")
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = PomClient(work)
    try:
        # Writers wait for the go file: measure pom's memory first, then time the burst alone.
        _wait(lambda: _answers(client), 30, "pom to answer")
        _wait(lambda: all(p["state"] == "running" for p in client.call("ps")["processes"]), 30, "writers up")
        time.sleep(0.5)
        rss0 = psutil.Process(proc.pid).memory_info().rss
        stored0 = sum(p["log"]["lines"] for p in client.call("ps")["processes"])
        start = time.perf_counter()
        go.touch()

        def done() -> bool:
            ps = client.call("ps")["processes"]
            return all(p["log"]["lines"] >= m + 1 for p in ps)

        _wait(done, 600, "pom to store every line")
        wall = time.perf_counter() - start
        cpu = _tree_cpu(proc.pid, str(WRITER))
        rss = psutil.Process(proc.pid).memory_info().rss
        ps = client.call("ps")["processes"]
        stored = sum(p["log"]["lines"] for p in ps)
        store_bytes = sum(p["log"]["bytes"] for p in ps)
        return {
            "wall": wall,
            "cpu": cpu,
            "bytes_per_line": (rss - rss0) / max(stored - stored0, 1),
            "store_per_line": store_bytes / stored,
        }
    finally:
        client.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            _kill_tree(proc)


def _answers(client: Any) -> bool:
    try:
        client.call("ping")
    except Exception:
        return False
    return True


def run_honcho(work: Path, n: int, m: int) -> dict[str, float]:
    (work / "Procfile").write_text("".join(f"w{i}: exec {_writer_cmd(m)}\n" for i in range(n)))
    out = work / "honcho.out"
    go = work / "go"
    env = {**os.environ, "POM_BENCH_GO": str(go)}
    with open(out, "wb") as fh:
        proc = subprocess.Popen(
            [str(BIN / "honcho"), "-f", str(work / "Procfile"), "start"],
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=work,
            env=env,
        )
    counter = LineCounter([out])
    try:
        _wait(lambda: _writers_running(proc.pid, n), 30, "honcho's writers")
        start = time.perf_counter()
        go.touch()
        # honcho prints one "started with pid" line per process plus every output line.
        _wait(lambda: counter.update() >= n * m + n, 600, "honcho to print every line")
        wall = time.perf_counter() - start
        cpu = _tree_cpu(proc.pid, str(WRITER))
        return {"wall": wall, "cpu": cpu, "bytes_per_line": float("nan"), "store_per_line": float("nan")}
    finally:
        _kill_tree(proc)


def _pc_exe() -> str:
    from toolkit.testing_peers import require_peer

    return str(require_peer("process-compose").path)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pc_states(port: int) -> list[dict[str, Any]]:
    import json
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/processes", timeout=5) as answer:
        data: list[dict[str, Any]] = json.load(answer)["data"]
    return data


def _pc_start(work: Path, yaml: str, env: dict[str, str], out: Any) -> tuple[subprocess.Popen[bytes], int]:
    (work / "process-compose.yaml").write_text(yaml)
    port = _free_port()
    proc = subprocess.Popen(
        [_pc_exe(), "-f", str(work / "process-compose.yaml"), "-t=false", "--port", str(port)],
        stdout=out,
        stderr=subprocess.DEVNULL,
        cwd=work,
        env=env,
    )
    return proc, port


def run_process_compose(work: Path, n: int, m: int) -> dict[str, float]:
    """process-compose headless: every line printed (like `pom (prints lines)`), log buffer sized to keep all."""
    procs = "".join(f'  w{i}:\n    command: "exec {_writer_cmd(m)}"\n' for i in range(n))
    yaml = f"log_length: {m + 10}\nprocesses:\n{procs}"
    out = work / "pc.out"
    go = work / "go"
    env = {**os.environ, "POM_BENCH_GO": str(go)}
    with open(out, "wb") as fh:
        proc, _port = _pc_start(work, yaml, env, fh)
    counter = LineCounter([out])
    try:
        _wait(lambda: _writers_running(proc.pid, n), 30, "process-compose's writers")
        time.sleep(0.5)
        rss0 = psutil.Process(proc.pid).memory_info().rss
        start = time.perf_counter()
        go.touch()
        _wait(lambda: counter.update() >= n * m, 600, "process-compose to print every line")
        wall = time.perf_counter() - start
        cpu = _tree_cpu(proc.pid, str(WRITER))
        rss = psutil.Process(proc.pid).memory_info().rss
        return {"wall": wall, "cpu": cpu, "bytes_per_line": (rss - rss0) / (n * m), "store_per_line": float("nan")}
    finally:
        _kill_tree(proc)


def pc_latency(work: Path, runs: int) -> float:
    """Whole `process-compose process logs w0 -n 1000` command against a running process-compose."""
    yaml = f'log_length: 30000\nprocesses:\n  w0:\n    command: "exec {_writer_cmd(20_000)}"\n'
    proc, port = _pc_start(work, yaml, dict(os.environ), subprocess.DEVNULL)
    try:
        _wait(lambda: _pc_answers(port), 30, "process-compose to answer")
        time.sleep(2.0)  # 20,000 lines are written in well under a second
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            got = subprocess.run(
                [_pc_exe(), "process", "logs", "w0", "-n", "1000", "-p", str(port)],
                capture_output=True,
                check=True,
            )
            times.append(time.perf_counter() - t)
            assert got.stdout.count(b"\n") >= 1000
        return statistics.median(times)
    finally:
        _kill_tree(proc)


def _pc_answers(port: int) -> bool:
    try:
        _pc_states(port)
    except OSError:
        return False
    return True


def ready_process_compose(work: Path, n: int) -> float:
    procs = "".join(
        f'  r{i}:\n    command: "exec {_writer_cmd(0, ready=True)}"\n    ready_log_line: ready\n' for i in range(n)
    )
    start = time.perf_counter()
    proc, port = _pc_start(work, f"processes:\n{procs}", dict(os.environ), subprocess.DEVNULL)

    def ready() -> bool:
        try:
            return all(s["is_ready"] == "Ready" for s in _pc_states(port))
        except OSError:
            return False

    try:
        _wait(ready, 60, "process-compose all ready")
        return time.perf_counter() - start
    finally:
        _kill_tree(proc)


def run_supervisord(work: Path, n: int, m: int) -> dict[str, float]:
    programs = "".join(
        f"[program:w{i}]\ncommand={_writer_cmd(m)}\nstdout_logfile={work}/w{i}.log\nstdout_logfile_maxbytes=0\n"
        "redirect_stderr=true\nautorestart=false\nstartsecs=0\n"
        for i in range(n)
    )
    conf = work / "supervisord.conf"
    conf.write_text(
        f"[supervisord]\nnodaemon=true\nlogfile={work}/supervisord.log\npidfile={work}/supervisord.pid\n"
        f"childlogdir={work}\n{programs}"
    )
    go = work / "go"
    env = {**os.environ, "POM_BENCH_GO": str(go)}
    proc = subprocess.Popen(
        [str(BIN / "supervisord"), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    counter = LineCounter([work / f"w{i}.log" for i in range(n)])
    try:
        _wait(lambda: _writers_running(proc.pid, n), 30, "supervisord's writers")
        start = time.perf_counter()
        go.touch()
        _wait(lambda: counter.update() >= n * m, 600, "supervisord to log every line")
        wall = time.perf_counter() - start
        cpu = _tree_cpu(proc.pid, str(WRITER))
        return {"wall": wall, "cpu": cpu, "bytes_per_line": float("nan"), "store_per_line": float("nan")}
    finally:
        _kill_tree(proc)


# ---------------------------------------------------------------- latency and readiness


def pom_latency(work: Path, runs: int) -> dict[str, float]:
    from toolkit_pom.client import PomClient

    _warm_index()  # without the index every `pom` command would read the installed metadata
    (work / "pom.toml").write_text(f'[processes.w0]\ncommand = "exec {_writer_cmd(20_000)}"\n')
    proc = subprocess.Popen(
        [str(BIN / "pom"), "up", "--headless", "--quiet", "--no-http", "-f", str(work / "pom.toml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = PomClient(work)
    try:
        _wait(lambda: _answers(client), 30, "pom to answer")
        _wait(lambda: client.call("ps")["processes"][0]["log"]["lines"] >= 20_001, 60, "lines")
        rtt = []
        for _ in range(runs * 5):
            t = time.perf_counter()
            data = client.call("logs", names=["w0"], limit=1000)
            rtt.append(time.perf_counter() - t)
            assert len(data["lines"]) == 1000
        cli = []
        for _ in range(runs):
            t = time.perf_counter()
            subprocess.run(
                [str(BIN / "pom"), "logs", "w0", "--lines", "1000", "-f", str(work / "pom.toml")],
                stdout=subprocess.DEVNULL,
                check=True,
            )
            cli.append(time.perf_counter() - t)
        return {"rtt": statistics.median(rtt), "cli": statistics.median(cli)}
    finally:
        client.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def ready_pom(work: Path, n: int, cpu: list[float] | None = None) -> float:
    """Seconds from `pom up` to all `n` processes ready; appends pom's own CPU seconds then to `cpu`."""
    from toolkit_pom.client import PomClient

    procs = "".join(
        f'[processes.r{i}]\ncommand = "exec {_writer_cmd(0, ready=True)}"\nreadiness = {{ log = "^ready$" }}\n'
        for i in range(n)
    )
    (work / "pom.toml").write_text(procs)
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(BIN / "pom"), "up", "--headless", "--quiet", "--no-http", "-f", str(work / "pom.toml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = PomClient(work)
    try:
        _wait(lambda: _answers(client), 30, "pom to answer")
        _wait(lambda: all(p["state"] == "ready" for p in client.call("ps")["processes"]), 60, "all ready")
        elapsed = time.perf_counter() - start
        if cpu is not None:  # user+sys of pom itself, every thread (its children are not included)
            times = psutil.Process(proc.pid).cpu_times()
            cpu.append(times.user + times.system)
        return elapsed
    finally:
        client.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def ready_honcho(work: Path, n: int) -> float:
    (work / "Procfile").write_text("".join(f"r{i}: exec {_writer_cmd(0, ready=True)}\n" for i in range(n)))
    out = work / "ready.out"
    start = time.perf_counter()
    with open(out, "wb") as fh:
        proc = subprocess.Popen([str(BIN / "honcho"), "-f", str(work / "Procfile"), "start"], stdout=fh, cwd=work)
    try:
        _wait(lambda: out.read_bytes().count(b"| ready") >= n, 60, "honcho ready lines")
        return time.perf_counter() - start
    finally:
        _kill_tree(proc)


def ready_supervisord(work: Path, n: int) -> float:
    programs = "".join(
        f"[program:r{i}]\ncommand={_writer_cmd(0, ready=True)}\nstdout_logfile={work}/r{i}.log\n"
        "stdout_logfile_maxbytes=0\nstartsecs=0\n"
        for i in range(n)
    )
    conf = work / "supervisord.conf"
    conf.write_text(
        f"[supervisord]\nnodaemon=true\nlogfile={work}/sd.log\npidfile={work}/sd.pid\nchildlogdir={work}\n{programs}"
    )
    start = time.perf_counter()
    proc = subprocess.Popen([str(BIN / "supervisord"), "-c", str(conf)], stdout=subprocess.DEVNULL)

    def ready() -> bool:
        total = 0
        for i in range(n):
            with contextlib.suppress(FileNotFoundError):
                total += (work / f"r{i}.log").read_bytes().count(b"ready")
        return total >= n

    try:
        _wait(ready, 60, "supervisord ready lines")
        return time.perf_counter() - start
    finally:
        _kill_tree(proc)


def store_overhead(lines: int) -> tuple[float, float]:
    """In-process: bytes per line held by the block store beyond the text itself (median of 3)."""
    from toolkit_pom.core.logstore import STDOUT, ProcessLog

    results = []
    chunk = [b"line %d of the benchmark workload" % i for i in range(10_000)]
    for _ in range(3):
        log = ProcessLog("bench", 1 << 34)
        start = time.perf_counter()
        for _ in range(lines // len(chunk)):
            log.append(STDOUT, chunk, time.time())
        elapsed = time.perf_counter() - start
        text = sum(map(len, chunk)) * (lines // len(chunk))
        results.append(((log.memory() - text) / (lines // len(chunk) * len(chunk)), elapsed))
    overhead = statistics.median(r[0] for r in results)
    rate = lines / statistics.median(r[1] for r in results)
    return overhead, rate


# ---------------------------------------------------------------- main


def _fresh(tmp: Path, name: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=name + "-", dir=tmp))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small workload, one repeat")
    parser.add_argument("-n", "--processes", type=int, default=None)
    parser.add_argument("-m", "--lines", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument(
        "--ready-only", action="store_true", help="only the 'up -> 10 processes ready' lane (pom and process-compose)"
    )
    args = parser.parse_args()
    n = args.processes or (2 if args.quick else 4)
    m = args.lines or (50_000 if args.quick else 150_000)
    repeats = args.repeats or (1 if args.quick else 3)
    os.environ.setdefault("TOOLKIT_RUNTIME_DIR", tempfile.mkdtemp(prefix="pomb-", dir="/tmp"))
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # every lane runs from bytecode, as users do (_warm_ready)
    sys.path.insert(0, str(HERE.parents[1] / "plugins" / "pom" / "src"))
    if args.ready_only:
        ready_lane(args.repeats or 5)
        return

    tools: dict[str, Callable[[Path], dict[str, float]]] = {
        "pom (--quiet)": lambda w: run_pom(w, n, m, quiet=True),
        "pom (prints lines)": lambda w: run_pom(w, n, m, quiet=False),
        "process-compose 1.85": lambda w: run_process_compose(w, n, m),
        "honcho 2.0": lambda w: run_honcho(w, n, m),
        "supervisord 4.3": lambda w: run_supervisord(w, n, m),
    }
    results: dict[str, list[dict[str, float]]] = {k: [] for k in tools}
    with tempfile.TemporaryDirectory(prefix="pom-bench-") as tmp_name:
        tmp = Path(tmp_name)
        for r in range(repeats):
            for name, fn in tools.items():
                res = fn(_fresh(tmp, name.split()[0]))
                results[name].append(res)
                print(
                    f"  run {r + 1}/{repeats} {name}: {res['wall']:.2f}s wall, {res['cpu']:.2f}s cpu", file=sys.stderr
                )
        overhead, append_rate = store_overhead(1_000_000)
        latency = pom_latency(_fresh(tmp, "lat"), 10 if args.quick else 20)
        pc_logs = pc_latency(_fresh(tmp, "pclat"), 10 if args.quick else 20)
        _warm_ready(tmp)
        ready = {
            "pom": statistics.median(ready_pom(_fresh(tmp, "rp"), 10) for _ in range(repeats)),
            "process-compose 1.85": statistics.median(
                ready_process_compose(_fresh(tmp, "rpc"), 10) for _ in range(repeats)
            ),
            "honcho 2.0": statistics.median(ready_honcho(_fresh(tmp, "rh"), 10) for _ in range(repeats)),
            "supervisord 4.3": statistics.median(ready_supervisord(_fresh(tmp, "rs"), 10) for _ in range(repeats)),
        }

    total = n * m
    honcho_rate = total / statistics.median(r["wall"] for r in results["honcho 2.0"])
    pc = results["process-compose 1.85"]
    pc_rate = total / statistics.median(r["wall"] for r in pc)
    print(f"\npom benchmark: {n} processes x {m:,} lines ({total:,} lines), median of {repeats}")
    header = ("tool", "wall s", "lines/s", "vs honcho", "vs p-c", "cpu s", "cpu vs p-c", "RSS B/line", "store B/line")
    print(f"{header[0]:<22} " + " ".join(f"{h:>12}" for h in header[1:]))
    print("(vs p-c: lines/s relative to process-compose; cpu vs p-c: process-compose's CPU / this tool's, >1 is less)")
    for name, runs in results.items():
        wall = statistics.median(r["wall"] for r in runs)
        rate = total / wall
        cells = [
            f"{wall:.2f}",
            f"{rate:,.0f}",
            f"{rate / honcho_rate:.2f}x",
            f"{rate / pc_rate:.2f}x",
            f"{statistics.median(r['cpu'] for r in runs):.2f}",
            f"{statistics.median(r['cpu'] for r in pc) / max(statistics.median(r['cpu'] for r in runs), 1e-9):.2f}x",
            _num(statistics.median(r["bytes_per_line"] for r in runs)),
            _num(statistics.median(r["store_per_line"] for r in runs)),
        ]
        print(f"{name:<22} " + " ".join(f"{c:>12}" for c in cells))
    text = len(b"line 123456 of the benchmark workload")
    print(f"(RSS B/line: growth of pom's RSS per stored line; store B/line: {text} text bytes + 13 metadata)")
    print(f"block store, in process: {overhead:.1f} B/line beyond the text, appends at {append_rate:,.0f} lines/s")
    rtt, cli = latency["rtt"] * 1000, latency["cli"] * 1000
    print(f"\npom logs --lines 1000: socket round trip {rtt:.1f} ms, whole CLI process {cli:.1f} ms (median)")
    print(
        f"process-compose process logs -n 1000 (whole command, REST API): {pc_logs * 1000:.1f} ms;"
        f" pom is {pc_logs / latency['cli']:.2f}x as fast"
    )
    print(
        "\nup -> all 10 processes ready (honcho/supervisord: all 10 'ready' lines seen; they have no readiness checks)"
    )
    for name, secs in ready.items():
        print(f"  {name:<16} {secs:.2f}s")


def _warm_index() -> None:
    """Bytecode on and pom's console-script index written, as for a user's second command."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([str(BIN / "pom"), "--help"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def _warm_ready(tmp: Path) -> None:
    """One unmeasured start of each, as a user's second start: the page cache warm for both, pom's
    console-script index and its validation-cache entry written (a first start after installing
    or editing pom pays for them once; `--help` writes the index, as any `toolkit` command does).
    Bytecode too: a user's pom runs from `.pyc` files, so PYTHONDONTWRITEBYTECODE (set in some
    sandboxes; every start would then compile pom from source) is dropped for what follows."""
    _warm_index()
    ready_pom(_fresh(tmp, "warm-pom"), 10)
    ready_process_compose(_fresh(tmp, "warm-pc"), 10)


def ready_lane(repeats: int) -> None:
    """pom and process-compose alternately (so load drifts hit both alike); medians and the ratio."""
    times: dict[str, list[float]] = {"pom": [], "process-compose 1.85": []}
    cpu: list[float] = []
    with tempfile.TemporaryDirectory(prefix="pom-bench-") as tmp_name:
        tmp = Path(tmp_name)
        _warm_ready(tmp)
        for _ in range(repeats):
            times["pom"].append(ready_pom(_fresh(tmp, "rp"), 10, cpu))
            times["process-compose 1.85"].append(ready_process_compose(_fresh(tmp, "rpc"), 10))
    print(f"up -> all 10 processes ready, median of {repeats} (load {os.getloadavg()[0]:.2f})")
    for name, runs in times.items():
        print(f"  {name:<22} {statistics.median(runs):.3f}s  runs: {' '.join(f'{t:.3f}' for t in runs)}")
    ratio = statistics.median(times["process-compose 1.85"]) / statistics.median(times["pom"])
    print(f"  pom is {ratio:.2f}x as fast as process-compose (goal >= 1.0x)")
    print(f"  pom's own CPU until all were ready: median {statistics.median(cpu) * 1000:.0f} ms (10 ms ticks)")


def _num(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}"


if __name__ == "__main__":
    main()
