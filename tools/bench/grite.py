"""Benchmark grite (toolkit) against the real grite 0.5.3 and git-bug (same run), 0.5.3's published numbers and raw git.

Run: .venv/bin/python tools/bench/grite.py [--quick] [--issues N] [--json]
(or --create [--quick]: create and show, ours and the real grite interleaved, with and without daemons;
 or --rebuild [--issues N] [--baseline-src DIR]: rebuild of a one-commit-per-event WAL, ours and the real
   grite (and an earlier commit's source tree, whose view must be byte-identical) interleaved;
 or --startup: where a command's start goes, in layers of imports, each a process, interleaved)

Measures in one run:
- `issue create` latency through the CLI, without and with the daemon; raw git (blob+tree+commit+update-ref
  per event with the git CLI) as the floor;
- 10 parallel `issue create` processes (successes), without and with the daemon;
- `issue list --json` over N issues (CLI, without and with the daemon);
- rebuild throughput (events/s) on the one-commit-per-event WAL and on a chunked WAL;
- sync of N new events (push to a bare hub, then pull into a fresh replica);
- git bytes per event after `git gc`, for grite and for the raw-git baseline.
- the real grite 0.5.3 and git-bug v0.10.1 (installed by `python tools/peers install grite git-bug`):
  create (no daemon; grite's daemon), list and show, and grite's rebuild over our WAL (second table).
The first table's "peer" column quotes the third-party measurement in reference/grite.md (section 6).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BIN = Path(sys.executable).with_name("grite")
GRITE = [str(BIN)] if BIN.exists() else [sys.executable, "-m", "toolkit_grite"]
G053 = {"create_ms": 78.0, "bytes_per_event": 32 * 1024, "parallel_ok": 3}


def sh(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, inp: bytes | None = None) -> str:
    res = subprocess.run(cmd, cwd=cwd, env=env, input=inp, capture_output=True, check=True)
    return res.stdout.decode()


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, check=True)
    return (time.perf_counter() - start) * 1000


def env_for(daemon: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed command has its bytecode; see compile_bytecode
    env["GRITE_NO_DAEMON"] = "" if daemon else "1"
    env.setdefault("TOOLKIT_LOAD_PLUGINS", "grite")
    return env


def init_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    sh(["git", "init", "-q", "."], path)
    sh([*GRITE, "init", "--no-agents-md", "-q"], path, env_for(False))
    return path


def create_latency(repo: Path, runs: int, daemon: bool) -> list[float]:
    env = env_for(daemon)
    for _ in range(2):  # warm-up (and daemon spawn)
        timed([*GRITE, "issue", "create", "--title", "warm", "-q"], repo, env)
    return [timed([*GRITE, "issue", "create", "--title", f"t{i}", "-q"], repo, env) for i in range(runs)]


def raw_git_latency(repo: Path, runs: int) -> list[float]:
    out = []
    parent = None
    for i in range(runs):
        start = time.perf_counter()
        blob = sh(["git", "hash-object", "-w", "--stdin"], repo, inp=f"event {i}".encode()).strip()
        tree = sh(["git", "mktree"], repo, inp=f"100644 blob {blob}\tevent.bin\n".encode()).strip()
        args = ["git", "commit-tree", tree, "-m", f"event {i}"] + (["-p", parent] if parent else [])
        parent = sh(args, repo).strip()
        sh(["git", "update-ref", "refs/raw/wal", parent], repo)
        out.append((time.perf_counter() - start) * 1000)
    return out


def parallel(repo: Path, daemon: bool) -> int:
    env = env_for(daemon)

    def one(i: int) -> int:
        cmd = [*GRITE, "issue", "create", "--title", f"par{i}", "-q"]
        return subprocess.run(cmd, cwd=repo, env=env, capture_output=True, check=False).returncode

    with ThreadPoolExecutor(10) as pool:
        return sum(1 for code in pool.map(one, range(10)) if code == 0)


def populate(repo: Path, n: int) -> float:
    code = (
        "import sys,time\nfrom toolkit_grite.core import ops\nfrom toolkit_grite.core.grite import Grite\n"
        "g=Grite()\nt=time.perf_counter()\n"
        f"for i in range({n}): ops.create_issue(g, f'issue {{i}}', 'body text', ['bench', 'l%d' % (i % 7)])\n"
        "print(time.perf_counter()-t)\n"
    )
    return float(sh([sys.executable, "-c", code], repo, env_for(False)).strip())


def chunked(repo: Path, issues: int, per_commit: int) -> None:
    """A WAL as bulk writers leave it: 1000-event chunks, five events per issue."""
    code = (
        "from toolkit_grite.core.grite import Grite\nfrom toolkit_grite.core.model import new_id\n"
        "g=Grite()\nbatch=[]\n"
        f"for i in range({issues}):\n"
        "    iid = new_id()\n"
        "    batch.append(g.new_event(iid, 1, [f'issue {i}', 'body', ['bench']]))\n"
        "    batch.append(g.new_event(iid, 3, [f'comment on {i}']))\n"
        "    batch.append(g.new_event(iid, 4, ['triaged']))\n"
        "    batch.append(g.new_event(iid, 8, ['alice']))\n"
        "    batch.append(g.new_event(iid, 6, ['closed']))\n"
        f"    if len(batch) >= {per_commit}:\n        g.write(batch); batch=[]\n"
        "if batch: g.write(batch)\n"
    )
    sh([sys.executable, "-c", code], repo, env_for(False))


def rebuild_rate(repo: Path, *extra: str) -> tuple[float, int]:
    out = json.loads(sh([*GRITE, "rebuild", *extra, "--json", "--no-daemon"], repo, env_for(False)))["data"]
    return out["event_count"] / (out["elapsed_ms"] / 1000), out["event_count"]


def pack_bytes(repo: Path) -> int:
    # `git fetch/push` may have started a background `gc --auto` (grite's WAL is many loose objects):
    # wait for it instead of failing with "gc is already running".
    deadline = time.monotonic() + 300
    while True:
        res = subprocess.run(["git", "gc", "--prune=now", "-q"], cwd=repo, capture_output=True, text=True, check=False)
        if res.returncode == 0:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"git gc failed: {res.stderr}")
        time.sleep(1)
    stats = dict(line.split(": ") for line in sh(["git", "count-objects", "-v"], repo).splitlines())
    return (int(stats["size-pack"]) + int(stats["size"])) * 1024


def disk_bytes(repo: Path) -> int:
    """Loose plus packed object bytes as the writes left them (grite runs `git gc --auto` itself)."""
    time.sleep(2)  # let a detached `gc --auto` finish
    stats = dict(line.split(": ") for line in sh(["git", "count-objects", "-v"], repo).splitlines())
    return (int(stats["size"]) + int(stats["size-pack"])) * 1024


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def bench_latency(tmp: Path, runs: int, r: dict[str, float]) -> Path:
    """Create latency (local, daemon, raw git) and parallel creates; return the raw-git repo."""
    lat = init_repo(tmp / "latency")
    r["create_local_ms"] = med(create_latency(lat, runs, daemon=False))
    r["create_daemon_ms"] = med(create_latency(lat, runs * 2, daemon=True))
    sh([*GRITE, "daemon", "stop", "-q"], lat, env_for(False))
    raw = tmp / "raw"
    raw.mkdir()
    sh(["git", "init", "-q", "."], raw)
    r["create_rawgit_ms"] = med(raw_git_latency(raw, runs))
    par = init_repo(tmp / "parallel")
    r["parallel_local_ok"] = parallel(par, daemon=False)
    r["parallel_daemon_ok"] = parallel(par, daemon=True)
    sh([*GRITE, "daemon", "stop", "-q"], par, env_for(False))
    return raw


def bench_scale(tmp: Path, n: int, r: dict[str, float]) -> None:
    """List, rebuild, sync and storage size over `n` issues created one commit each."""
    big = init_repo(tmp / "big")
    r["populate_creates_per_s"] = n / populate(big, n)
    r["disk_bytes_per_event"] = disk_bytes(big) / n
    list_cmd = [*GRITE, "issue", "list", "--json"]
    r["list_local_ms"] = med([timed(list_cmd, big, env_for(False)) for _ in range(5)])
    timed(list_cmd, big, env_for(True))
    r["list_daemon_ms"] = med([timed(list_cmd, big, env_for(True)) for _ in range(5)])
    sh([*GRITE, "daemon", "stop", "-q"], big, env_for(False))
    r["rebuild_per_commit_loose_eps"], _ = rebuild_rate(big)

    hub = tmp / "hub.git"
    sh(["git", "init", "-q", "--bare", str(hub)], tmp)
    sh(["git", "remote", "add", "origin", str(hub)], big)
    start = time.perf_counter()
    sh([*GRITE, "sync", "-q"], big, env_for(False))
    r["sync_push_s"] = time.perf_counter() - start
    clone = init_repo(tmp / "clone")
    sh(["git", "remote", "add", "origin", str(hub)], clone)
    start = time.perf_counter()
    sh([*GRITE, "sync", "--pull", "-q"], clone, env_for(False))
    r["sync_pull_s"] = time.perf_counter() - start
    listed = json.loads(sh(list_cmd, clone, env_for(False)))["data"]["total"]
    assert listed == n, f"clone sees {listed} of {n} issues"
    r["bytes_per_event"] = pack_bytes(big) / n
    r["rebuild_per_commit_packed_eps"], _ = rebuild_rate(big)
    sh([*GRITE, "snapshot", "create", "-q"], big, env_for(False))
    r["rebuild_snapshot_eps"], _ = rebuild_rate(big, "--from-snapshot")

    chunk_repo = init_repo(tmp / "chunked")
    chunked(chunk_repo, n, 1000)
    r["rebuild_chunked_eps"], r["rebuild_chunked_events"] = rebuild_rate(chunk_repo)


def _peer(name: str) -> Path | None:
    """The real anchor `name` installed by tools/peers, or None (its columns then say "-")."""
    try:
        from toolkit.testing_peers import find_peer
    except ImportError:
        return None
    found = find_peer(name)
    return found.path if found is not None else None


def bench_peers(tmp: Path, runs: int, big: Path, n: int, r: dict[str, float]) -> None:
    """The same operations with the real grite 0.5.3 and git-bug v0.10.1, in this run.

    The real grite lists and rebuilds the `big` repository our populate wrote: its own
    `snapshot create` + `rebuild --from-snapshot` load our WAL into its store (its only path
    from a WAL to its view), so both tools answer over the same n issues.
    """
    real, gitbug = _peer("grite"), _peer("git-bug")
    env = dict(env_for(False), XDG_RUNTIME_DIR=tempfile.mkdtemp(prefix="gx-", dir="/tmp"))
    ours_show = [*GRITE, "issue", "show"]
    first = json.loads(sh([*GRITE, "issue", "list", "--json", "--limit", "1"], big, env_for(False)))
    iid = first["data"]["issues"][0]["issue_id"]
    r["show_ours_ms"] = med([timed([*ours_show, iid, "--json"], big, env_for(False)) for _ in range(5)])
    timed([*ours_show, iid, "--json"], big, env_for(True))  # starts the daemon
    r["show_daemon_ms"] = med([timed([*ours_show, iid, "--json"], big, env_for(True)) for _ in range(5)])
    sh([*GRITE, "daemon", "stop", "-q"], big, env_for(False))
    r["python_floor_ms"] = med([timed([sys.executable, "-c", "pass"], big, env_for(False)) for _ in range(runs)])
    if real is not None:
        g = str(real)
        rg = tmp / "real-grite"
        rg.mkdir()
        sh(["git", "init", "-q", "."], rg)
        sh([g, "--no-daemon", "init", "--no-agents-md"], rg, env)
        r["create_real_ms"] = med(
            [timed([g, "--no-daemon", "issue", "create", "--title", f"t{i}"], rg, env) for i in range(runs)]
        )
        timed([g, "issue", "create", "--title", "warm"], rg, env)  # spawns its daemon
        r["create_real_daemon_ms"] = med(
            [timed([g, "issue", "create", "--title", f"d{i}"], rg, env) for i in range(runs)]
        )
        subprocess.run([g, "daemon", "stop"], cwd=rg, env=env, capture_output=True, check=False)
        sh([g, "--no-daemon", "snapshot", "create"], big, env)
        start = time.perf_counter()
        sh([g, "--no-daemon", "rebuild", "--from-snapshot"], big, env)
        r["rebuild_real_eps"] = n / (time.perf_counter() - start)
        r["list_real_ms"] = med([timed([g, "--no-daemon", "--json", "issue", "list"], big, env) for _ in range(5)])
        r["show_real_ms"] = med([timed([g, "--no-daemon", "--json", "issue", "show", iid], big, env) for _ in range(5)])
    if gitbug is not None:
        gb = str(gitbug)
        repo = tmp / "git-bug"
        repo.mkdir()
        sh(["git", "init", "-q", "."], repo)
        sh([gb, "user", "new", "--name", "bench", "--email", "b@x", "--non-interactive"], repo, env)
        new = [gb, "bug", "new", "--message", "body", "--non-interactive", "--title"]
        r["create_gitbug_ms"] = med([timed([*new, f"t{i}"], repo, env) for i in range(runs)])
        r["gitbug_issues"] = runs
        r["list_gitbug_ms"] = med([timed([gb, "bug", "--format", "json"], repo, env) for _ in range(5)])
        bug_id = sh([gb, "bug", "--format", "id"], repo, env).split()[0]
        r["show_gitbug_ms"] = med([timed([gb, "bug", "show", bug_id, "--format", "json"], repo, env) for _ in range(5)])


def peer_report(r: dict[str, float], n: int) -> None:
    """The table with the real anchors' columns (same machine, same run)."""

    def cell(key: str, fmt: str = "{:.1f}") -> str:
        return fmt.format(r[key]) if key in r else "-"

    gb_n = int(r.get("gitbug_issues", 0))
    rows = [
        (
            "issue create, no daemon (median ms)",
            cell("create_local_ms"),
            cell("create_real_ms"),
            cell("create_gitbug_ms"),
        ),
        ("issue create, daemon (median ms)", cell("create_daemon_ms"), cell("create_real_daemon_ms"), "-"),
        (
            f"list --json (ms; ours/grite over {n} issues, git-bug over {gb_n})",
            cell("list_local_ms", "{:.0f}"),
            cell("list_real_ms", "{:.0f}"),
            cell("list_gitbug_ms", "{:.0f}"),
        ),
        (
            f"list --json, ours through its daemon (ms; over {n} / {gb_n})",
            cell("list_daemon_ms", "{:.0f}"),
            cell("list_real_ms", "{:.0f}"),
            cell("list_gitbug_ms", "{:.0f}"),
        ),
        ("show one issue --json (ms)", cell("show_ours_ms"), cell("show_real_ms"), cell("show_gitbug_ms")),
        (
            "show one issue --json, ours through its daemon (ms)",
            cell("show_daemon_ms"),
            cell("show_real_ms"),
            cell("show_gitbug_ms"),
        ),
        ("`python -c pass`, the interpreter's floor (median ms)", cell("python_floor_ms"), "-", "-"),
        (
            f"rebuild of {n} one-commit-per-event issues (events/s)",
            cell("rebuild_per_commit_packed_eps", "{:,.0f}"),
            cell("rebuild_real_eps", "{:,.0f}") + " (from snapshot)",
            "-",
        ),
    ]
    head = ("same run, same machine", "toolkit grite", "grite 0.5.3", "git-bug 0.10.1")
    widths = [max(len(str(row[i])) for row in [head, *rows]) for i in range(4)]
    print()
    for row in [head, tuple("-" * w for w in widths), *rows]:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


def compile_bytecode() -> None:
    """Compile every module the `grite` command may import, as `pip install` does for an installed package.

    uv's editable workspace installs skip it, and with PYTHONDONTWRITEBYTECODE set (as in CI and
    our agents' shells) each run compiled ~70 modules from source: ~150 ms of every command
    measured before, which no installed `grite` pays.
    """
    import compileall
    import importlib.util

    for name in ("toolkit_grite", "toolkit", "toolkit_kernel", "click", "pygit2", "lmdb", "nacl", "cbor2", "pluggy"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            for where in spec.submodule_search_locations:
                compileall.compile_dir(where, quiet=2)


def build_entry_point_index() -> None:
    """Have the host write its entry-point index, as the first plain `grite --help` after an install does.

    Without it (a fresh `uv sync` changes the key; `TOOLKIT_LOAD_PLUGINS`, which the runs below
    set, keeps `--help` from writing it) the `grite` launcher looks its target up in the installed
    metadata on every call: `importlib.metadata`, 20-45 ms per command measured.
    """
    plugin_filters = ("TOOLKIT_LOAD_PLUGINS", "TOOLKIT_DISABLE_PLUGINS", "TOOLKIT_STRICT_PLUGINS")
    env = {k: v for k, v in env_for(False).items() if k not in plugin_filters}
    subprocess.run([*GRITE, "--help"], env=env, capture_output=True, check=True)


def _issue_id(out: str) -> str:
    return str(json.loads(out)["data"]["issue_id"])


def create_lane(runs: int) -> None:
    """`issue create` and `issue show`, ours and the real grite 0.5.3 interleaved (fair under shared load).

    Each round runs every variant once, in the same order, then `python -c pass`: first without
    daemons (ours in-process, the real `--no-daemon`), then through each side's own daemon.
    """
    real = _peer("grite")
    if real is None:
        raise SystemExit("the real grite is not installed: python tools/peers install grite")
    tmp = Path(tempfile.mkdtemp(prefix="grite-create-"))
    local, daemon = env_for(False), env_for(True)
    daemon["TOOLKIT_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="gc-", dir="/tmp")  # short socket paths
    real_env = dict(local, XDG_RUNTIME_DIR=tempfile.mkdtemp(prefix="gx-", dir="/tmp"))
    g = str(real)
    ours_repo, real_repo = init_repo(tmp / "ours"), tmp / "real"
    try:
        compile_bytecode()
        build_entry_point_index()
        real_repo.mkdir()
        sh(["git", "init", "-q", "."], real_repo)
        sh([g, "--no-daemon", "init", "--no-agents-md"], real_repo, real_env)
        ours_id = _issue_id(sh([*GRITE, "issue", "create", "--json", "--title", "shown"], ours_repo, local))
        real_id = _issue_id(
            sh([g, "--no-daemon", "--json", "issue", "create", "--title", "shown"], real_repo, real_env)
        )
        Lane = dict[str, tuple[Callable[[int], float], Callable[[int], float]]]
        # Two phases: the real grite's daemon holds its store, so its `--no-daemon` runs fail while it lives.
        without: Lane = {
            "create": (
                lambda i: timed([*GRITE, "issue", "create", "-q", "--title", f"t{i}"], ours_repo, local),
                lambda i: timed([g, "--no-daemon", "issue", "create", "--title", f"t{i}"], real_repo, real_env),
            ),
            "show": (
                lambda i: timed([*GRITE, "issue", "show", ours_id, "--json"], ours_repo, local),
                lambda i: timed([g, "--no-daemon", "--json", "issue", "show", real_id], real_repo, real_env),
            ),
        }
        through: Lane = {
            "create, daemons": (
                lambda i: timed([*GRITE, "issue", "create", "-q", "--title", f"d{i}"], ours_repo, daemon),
                lambda i: timed([g, "issue", "create", "--title", f"d{i}"], real_repo, real_env),
            ),
            "show, daemons": (
                lambda i: timed([*GRITE, "issue", "show", ours_id, "--json"], ours_repo, daemon),
                lambda i: timed([g, "--json", "issue", "show", real_id], real_repo, real_env),
            ),
        }
        load_start = os.getloadavg()[0]
        times: dict[str, tuple[list[float], list[float]]] = {}
        floor_ms: list[float] = []
        bare_ms: list[float] = []  # without `site` (no .pth files, no site-packages)
        for lanes in (without, through):
            for i in range(3):  # warm the page cache for both (and start both daemons)
                for ours_run, real_run in lanes.values():
                    ours_run(-i - 1)
                    real_run(-i - 1)
            for i in range(runs):
                for name, (ours_run, real_run) in lanes.items():
                    ours_ms, real_ms = times.setdefault(name, ([], []))
                    ours_ms.append(ours_run(i))
                    real_ms.append(real_run(i))
                floor_ms.append(timed([sys.executable, "-c", "pass"], ours_repo, local))
                bare_ms.append(timed([sys.executable, "-S", "-c", "pass"], ours_repo, local))
    finally:
        subprocess.run([*GRITE, "daemon", "stop", "-q"], cwd=ours_repo, env=daemon, capture_output=True, check=False)
        subprocess.run([g, "daemon", "stop"], cwd=real_repo, env=real_env, capture_output=True, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"median of {runs} interleaved rounds (ms): toolkit grite | real grite 0.5.3 | ratio")
    for name, (ours_ms, real_ms) in times.items():
        print(f"  issue {name:16} {med(ours_ms):7.1f} | {med(real_ms):7.1f} | {med(ours_ms) / med(real_ms):.2f}x")
    print(f"  python -c pass         {med(floor_ms):7.1f}")
    print(f"  python -S -c pass      {med(bare_ms):7.1f}")
    print(f"load average (1 min) at start {load_start:.2f}, at end {os.getloadavg()[0]:.2f}")


def _run_usage(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """`(wall ms, CPU ms of the process and the git processes it ran, stdout)` of one command."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = (time.perf_counter() - start) * 1000
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} exited {proc.returncode}")
    return wall, (usage.ru_utime + usage.ru_stime) * 1000, out


_DUMP_VIEW = """
import hashlib, lmdb, sys
env = lmdb.open(sys.argv[1], max_dbs=8, readonly=True, lock=False)
digest = hashlib.sha256()
with env.begin() as txn:
    for name in (b"events", b"issue_events", b"issues", b"commits", b"meta", b"summaries"):
        for key, value in txn.cursor(db=env.open_db(name, txn=txn, create=False)):
            if name != b"meta" or key != b"last_rebuild_ts":  # the rebuild's clock reading
                digest.update(b"%s %d %s %d %s" % (name, len(key), key, len(value), value))
print(digest.hexdigest())
"""


def _view_digest(repo: Path) -> str:
    """SHA-256 over every record of the view's databases (byte for byte, in key order)."""
    return sh([sys.executable, "-c", _DUMP_VIEW, str(repo / ".git" / "grite" / "view")], repo).strip()


def _baseline_env(env: dict[str, str], root: Path) -> dict[str, str]:
    """`env` running toolkit_grite and the kernel from `root` (e.g. `git archive <commit> | tar -x -C root`)."""
    src = [root / "plugins" / "grite" / "src", root / "packages" / "kernel" / "src"]
    lane_env = dict(env, PYTHONPATH=os.pathsep.join(str(p.resolve()) for p in src))
    for path in src:  # an installed baseline has its bytecode too
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(path)], env=lane_env, check=True)
    return lane_env


def rebuild_lane(n: int, runs: int, baseline: Path | None = None) -> None:
    """`rebuild` of a WAL of `n` creates, one commit each (packed by `git gc`), ours and the real grite interleaved.

    Ours: `grite rebuild` (the whole WAL, each event id re-checked). The real grite 0.5.3 has no
    path from a WAL to its store but `snapshot create` + `rebuild --from-snapshot`, timed the same way.
    CPU is the command's and its git processes' (`wait4`). With `baseline` (a source tree of an
    earlier commit), its `grite rebuild` runs in the same rounds, and the view it writes must be
    byte-identical to ours.
    """
    real = _peer("grite")
    tmp = Path(tempfile.mkdtemp(prefix="grite-rebuild-"))
    digests: dict[str, str] = {}
    try:
        compile_bytecode()
        build_entry_point_index()
        repo = init_repo(tmp / "big")
        populate(repo, n)
        pack_bytes(repo)
        env = dict(env_for(False), XDG_RUNTIME_DIR=tempfile.mkdtemp(prefix="gx-", dir="/tmp"))
        ours_cmd = [*GRITE, "rebuild", "--json", "--no-daemon"]
        lanes: dict[str, tuple[list[str], dict[str, str]]] = {"toolkit grite": (ours_cmd, env)}
        if baseline is not None:
            lanes["baseline"] = (ours_cmd, _baseline_env(env, baseline))
        real_cmd = [str(real), "--no-daemon", "rebuild", "--from-snapshot"] if real else None
        if real is not None:
            sh([str(real), "--no-daemon", "snapshot", "create"], repo, env)
        for _ in range(2):  # page cache, bytecode
            for cmd, lane_env in lanes.values():
                _run_usage(cmd, repo, lane_env)
            if real_cmd:
                _run_usage(real_cmd, repo, env)
        load_start = os.getloadavg()[0]
        ours: dict[str, list[tuple[float, float, float]]] = {name: [] for name in lanes}
        theirs: list[tuple[float, float]] = []
        for i in range(runs):
            order = list(lanes.items()) if i % 2 == 0 else list(lanes.items())[::-1]
            for name, (cmd, lane_env) in order:
                wall, cpu, out = _run_usage(cmd, repo, lane_env)
                data = json.loads(out)["data"]
                assert data["event_count"] == n, data
                ours[name].append((wall, cpu, data["elapsed_ms"]))
            if real_cmd:
                theirs.append(_run_usage(real_cmd, repo, env)[:2])
        for name, (cmd, lane_env) in lanes.items():
            _run_usage(cmd, repo, lane_env)
            digests[name] = _view_digest(repo)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _print_rebuild(n, runs, ours, theirs, digests, load_start)


def _print_rebuild(
    n: int,
    runs: int,
    ours: dict[str, list[tuple[float, float, float]]],
    theirs: list[tuple[float, float]],
    digests: dict[str, str],
    load_start: float,
) -> None:
    print(f"rebuild of {n} events, one WAL commit each, packed; median of {runs} interleaved rounds")
    for name, rows in ours.items():
        inner = med([o[2] for o in rows])
        print(f"  {name} `rebuild`: {n / inner * 1000:,.0f} events/s by its elapsed_ms ({inner:.0f} ms);", end="")
        print(f" command {med([o[0] for o in rows]):.0f} ms wall, {med([o[1] for o in rows]):.0f} ms CPU with git")
    if "baseline" in ours:
        base, new = ours["baseline"], ours["toolkit grite"]
        ratios = [med([o[k] for o in new]) / med([o[k] for o in base]) for k in (2, 0, 1)]
        print("  ratio to the baseline: elapsed_ms {:.3f}, command wall {:.3f}, CPU with git {:.3f}".format(*ratios))
        same = digests["baseline"] == digests["toolkit grite"]
        verdict = "yes" if same else "NO"
        print(f"  view after rebuild byte-identical to the baseline's: {verdict} (sha256 {digests['baseline'][:16]})")
        if not same:
            raise SystemExit("the rebuilt view differs from the baseline's")
    if theirs:
        wall = med([t[0] for t in theirs])
        print(f"  grite 0.5.3 `rebuild --from-snapshot`: {n / wall * 1000:,.0f} events/s ({wall:.0f} ms wall,", end="")
        ratio = med([o[0] for o in ours["toolkit grite"]]) / wall
        print(f" {med([t[1] for t in theirs]):.0f} ms CPU); ratio of command wall times {ratio:.2f}x")
    print(f"load average (1 min) at start {load_start:.2f}, at end {os.getloadavg()[0]:.2f}")


def startup_lane(runs: int) -> None:
    """Where `issue create` / `issue show` without a daemon spend their time: each layer of imports
    as its own process (the interpreter, `typing`, the kernel's modules, everything the local path
    imports), then the commands, interleaved round by round; medians."""
    tmp = Path(tempfile.mkdtemp(prefix="grite-startup-"))
    try:
        compile_bytecode()
        build_entry_point_index()
        repo = init_repo(tmp / "repo")
        env = env_for(False)
        iid = _issue_id(sh([*GRITE, "issue", "create", "--json", "--title", "shown"], repo, env))
        py = [sys.executable, "-c"]
        local = (
            "import toolkit.scripts, toolkit_grite.cli.fast, toolkit_grite.core.calls, toolkit_grite.core.view, lmdb"
        )
        layers = {
            "python -S -c pass": [sys.executable, "-S", "-c", "pass"],
            "python -c pass": [*py, "pass"],
            "+ import typing": [*py, "import typing"],
            "+ kernel errors, locks": [*py, "import toolkit_kernel.errors, toolkit_kernel.locks"],
            "+ all the local path imports": [*py, local],
            "issue create, no daemon": [*GRITE, "issue", "create", "-q", "--title", "t"],
            "issue show --json, no daemon": [*GRITE, "issue", "show", iid, "--json"],
        }
        for cmd in layers.values():  # warm-up
            timed(cmd, repo, env)
        load_start = os.getloadavg()[0]
        times: dict[str, list[float]] = {name: [] for name in layers}
        for _ in range(runs):
            for name, cmd in layers.items():
                times[name].append(timed(cmd, repo, env))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"median of {runs} interleaved rounds (ms), each line its own process:")
    for name, ms in times.items():
        print(f"  {name:30} {med(ms):6.1f}")
    print(f"load average (1 min) at start {load_start:.2f}, at end {os.getloadavg()[0]:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes (about 45 s)")
    ap.add_argument("--create", action="store_true", help="only create and show, ours and the real grite interleaved")
    ap.add_argument("--rebuild", action="store_true", help="only rebuild, ours and the real grite interleaved")
    ap.add_argument("--startup", action="store_true", help="only the layers of a command's start, interleaved")
    ap.add_argument("--issues", type=int, help="issues for list/rebuild/sync (default 10000, quick 1000)")
    ap.add_argument(
        "--baseline-src",
        type=Path,
        help="with --rebuild: also time this source tree's rebuild (`git archive <commit> | tar -x -C DIR`) "
        "and check its view is byte-identical to ours",
    )
    ap.add_argument("--json", action="store_true", help="print the raw results as JSON too")
    args = ap.parse_args()
    n = args.issues or (1000 if args.quick else 10000)
    runs = 10 if args.quick else 25
    if args.create:
        create_lane(runs)
        return
    if args.rebuild:
        rebuild_lane(n, 5 if args.quick else 11, args.baseline_src)
        return
    if args.startup:
        startup_lane(runs)
        return
    tmp = Path(tempfile.mkdtemp(prefix="grite-bench-"))
    os.environ.setdefault("TOOLKIT_RUNTIME_DIR", tempfile.mkdtemp(prefix="gb-", dir="/tmp"))
    r: dict[str, float] = {}
    compile_bytecode()
    build_entry_point_index()
    r["load_average_start"] = os.getloadavg()[0]
    try:
        raw = bench_latency(tmp, runs, r)
        bench_scale(tmp, n, r)
        r["rawgit_bytes_per_event"] = pack_bytes(raw) / runs
        bench_peers(tmp, runs, tmp / "big", n, r)
    finally:
        for repo in ("latency", "parallel", "big"):
            if (tmp / repo).exists():
                subprocess.run([*GRITE, "daemon", "stop", "-q"], cwd=tmp / repo, env=env_for(False), check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    r["load_average_end"] = os.getloadavg()[0]
    report(r, n)
    peer_report(r, n)
    print(f"load average (1 min) at start {r['load_average_start']:.2f}, at end {r['load_average_end']:.2f}")
    if args.json:
        print(json.dumps(r, indent=2, sort_keys=True))


def _speed(peer_ms: float, ours_ms: float) -> str:
    """Say how a latency compares with the peer's, in the direction that is true."""
    if ours_ms <= peer_ms:
        return f"{peer_ms / ours_ms:.2f}x faster"
    return f"{ours_ms / peer_ms:.2f}x slower"


def report(r: dict[str, float], n: int) -> None:
    rows = [
        (
            "issue create, CLI, no daemon (median ms)",
            f"{r['create_local_ms']:.1f}",
            f"{G053['create_ms']:.0f} (0.5.3)",
            _speed(G053["create_ms"], r["create_local_ms"]),
            "-",
        ),
        (
            "issue create, CLI, daemon (median ms)",
            f"{r['create_daemon_ms']:.1f}",
            f"{G053['create_ms']:.0f} (0.5.3)",
            _speed(G053["create_ms"], r["create_daemon_ms"]),
            "< 60",
        ),
        ("raw git blob+tree+commit+update-ref (median ms)", f"{r['create_rawgit_ms']:.1f}", "floor", "-", "-"),
        (
            "10 parallel creates OK, no daemon",
            f"{r['parallel_local_ok']:.0f}/10",
            f"{G053['parallel_ok']}/10 (0.5.3)",
            "-",
            "10/10",
        ),
        (
            "10 parallel creates OK, daemon",
            f"{r['parallel_daemon_ok']:.0f}/10",
            f"{G053['parallel_ok']}/10 (0.5.3)",
            "-",
            "10/10",
        ),
        (f"issue list --json over {n} issues, no daemon (ms)", f"{r['list_local_ms']:.0f}", "-", "-", "< 200"),
        (f"issue list --json over {n} issues, daemon (ms)", f"{r['list_daemon_ms']:.0f}", "-", "-", "< 200"),
        (
            "rebuild, WAL of one commit per create, loose objects (events/s)",
            f"{r['rebuild_per_commit_loose_eps']:,.0f}",
            "-",
            "-",
            "> 50k",
        ),
        ("rebuild, same WAL after git gc (events/s)", f"{r['rebuild_per_commit_packed_eps']:,.0f}", "-", "-", "> 50k"),
        ("rebuild --from-snapshot, same repo (events/s)", f"{r['rebuild_snapshot_eps']:,.0f}", "-", "-", "> 50k"),
        (
            f"rebuild, 1000-event chunks, {r['rebuild_chunked_events']:.0f} events, 5 per issue (events/s)",
            f"{r['rebuild_chunked_eps']:,.0f}",
            "-",
            "-",
            "> 50k",
        ),
        (f"sync push of {n} new events (s)", f"{r['sync_push_s']:.2f}", "-", "-", "-"),
        (f"sync pull of {n} events into a fresh replica (s)", f"{r['sync_pull_s']:.2f}", "-", "-", "-"),
        (
            "git bytes per event on disk, no manual gc",
            f"{r['disk_bytes_per_event']:,.0f}",
            f"{G053['bytes_per_event']:,} loose (0.5.3)",
            f"{G053['bytes_per_event'] / r['disk_bytes_per_event']:.0f}x smaller",
            "-",
        ),
        (
            "git bytes per event after git gc",
            f"{r['bytes_per_event']:,.0f}",
            f"{r['rawgit_bytes_per_event']:,.0f} (raw git)",
            f"{r['bytes_per_event'] / r['rawgit_bytes_per_event']:.1f}x raw git",
            "< 2048",
        ),
        ("in-process creates per second (populate)", f"{r['populate_creates_per_s']:,.0f}", "-", "-", "-"),
    ]
    head = ("metric", "toolkit grite", "peer", "ratio", "target")
    widths = [max(len(str(row[i])) for row in [head, *rows]) for i in range(5)]
    for row in [head, tuple("-" * w for w in widths), *rows]:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


if __name__ == "__main__":
    main()
