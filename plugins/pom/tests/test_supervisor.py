# ruff: noqa: E501 - TOML fixtures hold long shell commands verbatim
from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from toolkit_pom.core.config import load_config
from toolkit_pom.core.supervisor import Supervisor
from toolkit_pom.testing import pid_alive, until, write_project

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def supervise(tmp_path: Path) -> AsyncIterator[Callable[..., Supervisor]]:
    sups: list[Supervisor] = []

    def make(toml: str, files: dict[str, str] | None = None) -> Supervisor:
        sup = Supervisor(load_config(write_project(tmp_path, toml, files)))
        sups.append(sup)
        return sup

    yield make
    for sup in sups:
        await sup.close()


def pom_lines(sup: Supervisor, name: str) -> list[Any]:
    return [line for line in sup.store.log(name).snapshot().query(after_id=0).lines if line.stream == "pom"]


async def test_crash_loop_backs_off_and_stops_at_max_restarts(supervise: Callable[..., Supervisor]) -> None:
    sup = supervise(
        """
        [processes.crash]
        command = "echo oops >&2; exit 3"
        restart = "on_failure"
        max_restarts = 3
        backoff_initial = 0.2
        backoff_factor = 2.0
        """
    )
    sup.begin()
    inst = sup.instances["crash"]
    await until(lambda: inst.state == "crashed", 30, "crashed")
    assert inst.restarts == 3
    assert inst.exit_code == 3
    starts = [line.ts for line in pom_lines(sup, "crash") if line.text.startswith("started")]
    assert len(starts) == 4
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    for gap, delay in zip(gaps, (0.2, 0.4, 0.8), strict=True):
        assert gap >= delay * 0.9, gaps
    announced = [line.text for line in pom_lines(sup, "crash") if line.text.startswith("restart ")]
    assert announced == ["restart 1 in 0.20s", "restart 2 in 0.40s", "restart 3 in 0.80s"]
    assert "gave up after 3 restarts" in (inst.message or "")
    errs = sup.store.log("crash").snapshot().query(stream="stderr").lines
    assert [line.text for line in errs] == ["oops"] * 4


async def test_always_restarts_successful_exits_and_manual_stop_wins(supervise: Callable[..., Supervisor]) -> None:
    sup = supervise(
        '[processes.tick]\ncommand = "sleep 0.1"\nrestart = "always"\nbackoff_initial = 0.05\nbackoff_max = 0.05\n'
    )
    sup.begin()
    inst = sup.instances["tick"]
    await until(lambda: inst.restarts >= 3, 20, "restarts")
    await inst.stop()
    assert inst.state == "stopped"
    count = inst.restarts
    await asyncio.sleep(0.5)
    assert inst.restarts == count


async def test_dependencies_wait_for_readiness(supervise: Callable[..., Supervisor]) -> None:
    sup = supervise(
        """
        [processes.db]
        command = "sleep 0.5; echo 'accepting connections'; sleep 60"
        readiness = { log = "accepting connections" }

        [processes.migrate]
        command = "echo migrated"
        depends_on = { db = "healthy" }

        [processes.web]
        command = "echo web; sleep 60"
        depends_on = { migrate = "completed_successfully", db = "log_ready" }
        """
    )
    sup.begin()
    web = sup.instances["web"]
    await until(lambda: sup.instances["migrate"].state == "pending", 5, "migrate pending")
    assert sup.instances["migrate"].blocked_by == ["db"]
    await until(lambda: web.state == "running", 20, "web running")
    ready_ts = next(line.ts for line in pom_lines(sup, "db") if line.text == "ready")
    migrate_start = pom_lines(sup, "migrate")[0].ts
    migrate_end = next(line.ts for line in pom_lines(sup, "migrate") if "exited" in line.text)
    web_start = pom_lines(sup, "web")[0].ts
    assert ready_ts <= migrate_start <= migrate_end <= web_start
    assert sup.instances["migrate"].state == "exited"


async def test_always_with_max_restarts_and_clean_exits_ends_exited(supervise: Callable[..., Supervisor]) -> None:
    sup = supervise(
        """
        [processes.job]
        command = "echo run"
        restart = "always"
        max_restarts = 2
        backoff_initial = 0.05
        [processes.after]
        command = "echo after"
        depends_on = { job = "completed_successfully" }
        """
    )
    sup.begin()
    after = sup.instances["after"]
    await until(lambda: after.state == "exited", 20, "dependent ran")
    job = sup.instances["job"]
    assert job.state == "exited"
    assert job.restarts == 2
    assert job.exit_code == 0


async def test_failed_dependency_skips_dependent(supervise: Callable[..., Supervisor]) -> None:
    sup = supervise(
        """
        [processes.migrate]
        command = "exit 4"
        [processes.web]
        command = "sleep 60"
        depends_on = { migrate = "completed_successfully" }
        """
    )
    sup.begin()
    web = sup.instances["web"]
    await until(lambda: web.state == "skipped", 10, "web skipped")
    assert sup.instances["migrate"].state == "crashed"
    assert web.blocked_by == ["migrate"]
    assert web.spawn_count == 0
    assert "migrate did not complete successfully" in (web.message or "")


@contextlib.contextmanager
def reserved_port() -> Iterator[int]:
    """A loopback port nobody else can take while the block runs: held bound (not listening) with
    SO_REUSEPORT, so only a process of ours that also sets SO_REUSEPORT can bind and listen on it.
    (Picking a free port and closing it races with every other process on the machine.)"""
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind(("127.0.0.1", 0))
        yield int(holder.getsockname()[1])


#: An HTTP server for `reserved_port`: it binds with SO_REUSEPORT too.
REUSEPORT_SERVER = """
import http.server, socket, sys

class Server(http.server.ThreadingHTTPServer):
    def server_bind(self):
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()

Server(("127.0.0.1", int(sys.argv[1])), http.server.SimpleHTTPRequestHandler).serve_forever()
"""


async def test_http_and_tcp_probes(supervise: Callable[..., Supervisor]) -> None:
    # Liveness probes from the start (as process-compose's do): the threshold covers a Python
    # server that takes seconds to listen on a loaded machine (3 failures killed it there).
    with reserved_port() as port:
        sup = supervise(
            f"""
            [processes.web]
            argv = ["{sys.executable}", "server.py", "{port}"]
            readiness = {{ http = "http://127.0.0.1:{port}/", period = 0.1 }}
            liveness = {{ tcp = "127.0.0.1:{port}", period = 0.2, failure_threshold = 150 }}
            [processes.client]
            command = "echo client"
            depends_on = {{ web = "healthy" }}
            """,
            {"server.py": REUSEPORT_SERVER},
        )
        sup.begin()
        await until(lambda: sup.instances["client"].state == "exited", 30, "client ran")
        assert sup.instances["web"].state == "ready"
        assert sup.instances["web"].health == "ready"


async def test_liveness_failure_restarts(supervise: Callable[..., Supervisor], tmp_path: Path) -> None:
    sup = supervise(
        """
        [processes.svc]
        command = "sleep 60"
        liveness = { exec = "test -f alive", period = 0.1, failure_threshold = 2 }
        restart = "on_failure"
        backoff_initial = 0.1
        max_restarts = 1
        """
    )
    sup.begin()
    inst = sup.instances["svc"]
    await until(lambda: inst.restarts == 1, 20, "liveness restart")
    assert any("liveness probe failed" in line.text for line in pom_lines(sup, "svc"))
    await until(lambda: inst.state == "crashed", 20, "gives up")


async def test_exit_on_failure_requests_shutdown(supervise: Callable[..., Supervisor]) -> None:
    sup = supervise(
        '[processes.bad]\ncommand = "exit 2"\nrestart = "exit_on_failure"\n[processes.ok]\ncommand = "sleep 60"\n'
    )
    sup.begin()
    await asyncio.wait_for(sup.shutdown_event.wait(), 20)
    assert sup.exit_code == 2
    assert "bad" in (sup.shutdown_reason or "")


async def test_stop_kills_the_whole_tree_even_when_term_is_ignored(
    supervise: Callable[..., Supervisor], tmp_path: Path
) -> None:
    sup = supervise(
        """
        [processes.tree]
        command = "sh -c 'trap \\"\\" TERM; sleep 300 & echo $! > gc1.pid; wait' & sleep 300 & echo $! > gc2.pid; wait"
        shutdown_timeout = 1.0
        """
    )
    sup.begin()
    inst = sup.instances["tree"]
    await until(lambda: (tmp_path / "gc1.pid").exists() and (tmp_path / "gc2.pid").exists(), 10, "grandchildren")
    await asyncio.sleep(0.2)
    pids = [int((tmp_path / f).read_text()) for f in ("gc1.pid", "gc2.pid")]
    leader = inst.pid
    assert leader
    assert all(pid_alive(p) for p in pids)
    started = time.monotonic()
    await inst.stop()
    assert time.monotonic() - started < 8
    assert inst.state == "stopped"
    assert not pid_alive(leader)
    await until(lambda: not any(pid_alive(p) for p in pids), 5, "grandchildren gone")


async def test_leftovers_are_killed_when_the_leader_exits(supervise: Callable[..., Supervisor], tmp_path: Path) -> None:
    sup = supervise('[processes.fork]\ncommand = "sleep 300 & echo $! > bg.pid; exit 0"\n')
    sup.begin()
    inst = sup.instances["fork"]
    await until(lambda: inst.state == "exited", 10, "exited")
    bg = int((tmp_path / "bg.pid").read_text())
    await until(lambda: not pid_alive(bg), 5, "background child reaped")


async def test_scale_signal_disabled_and_env(supervise: Callable[..., Supervisor], tmp_path: Path) -> None:
    sup = supervise(
        """
        [processes.w]
        command = "echo $POM_PROCESS_NAME $POM_REPLICA $GREETING; trap 'echo got-hup' HUP; while true; do sleep 0.05; done"
        env = { GREETING = "hi" }
        [processes.off]
        command = "echo should-not-run"
        disabled = true
        """
    )
    sup.begin()
    w = sup.instances["w"]
    assert sup.instances["off"].state == "disabled"
    await until(lambda: w.state == "running", 10, "w running")
    await until(lambda: sup.store.log("w").snapshot().query(stream="stdout").lines, 5, "output")
    assert sup.store.log("w").snapshot().query(stream="stdout").lines[0].text == "w 1 hi"
    added = await sup.scale("w", 3)
    assert [i.name for i in added] == ["w", "w.2", "w.3"]
    await until(lambda: all(sup.instances[n].state == "running" for n in ("w.2", "w.3")), 10, "scaled")
    await until(lambda: sup.store.log("w.3").snapshot().query(stream="stdout").lines, 5, "w.3 output")
    assert sup.store.log("w.3").snapshot().query(stream="stdout").lines[0].text == "w.3 3 hi"
    w.send_signal(1)
    await until(lambda: sup.store.log("w").snapshot().query(contains="got-hup").lines, 10, "HUP trapped")
    pid3 = sup.instances["w.3"].pid
    await sup.scale("w", 1)
    assert list(sup.groups["w"]) == ["w"]
    assert "w.3" not in sup.instances
    assert pid3 is not None
    assert not pid_alive(pid3)
    assert sup.instances["off"].start()
    await until(lambda: sup.instances["off"].state == "exited", 10, "disabled started by hand")


async def test_spawn_failure_is_reported(supervise: Callable[..., Supervisor]) -> None:
    sup = supervise('[processes.nope]\nargv = ["/definitely/not/here"]\n')
    sup.begin()
    inst = sup.instances["nope"]
    await until(lambda: inst.state == "crashed", 10, "crashed")
    assert inst.exit_code == 127
    assert "failed to start" in pom_lines(sup, "nope")[0].text


async def test_million_line_burst_is_stored_without_loss(supervise: Callable[..., Supervisor]) -> None:
    n = 1_000_000
    script = (
        "import sys\n"
        "w = sys.stdout.buffer.write\n"
        f"for k in range(0, {n}, 10000):\n"
        "    w(b''.join(b'%d\\n' % i for i in range(k, k + 10000)))\n"
    )
    sup = supervise(
        f"""
        [project]
        log_max_bytes = "64MiB"
        [processes.burst]
        argv = ["{sys.executable}", "-c", {script!r}]
        [processes.small]
        argv = ["{sys.executable}", "-c", {script!r}]
        log_max_bytes = "1MiB"
        """.replace("'", '"""', 0)
    )
    started = time.monotonic()
    sup.begin()
    await until(
        lambda: sup.instances["burst"].state == "exited" and sup.instances["small"].state == "exited", 60, "bursts done"
    )
    elapsed = time.monotonic() - started
    snap = sup.store.log("burst").snapshot()
    values: list[int] = []
    after = 0
    while True:
        page = snap.query(stream="stdout", after_id=after, limit=100_000)
        if not page.lines:
            break
        values.extend(int(line.text) for line in page.lines)
        after = page.next_after_id
    assert values == list(range(n)), f"lost {n - len(values)} lines"
    small = sup.store.log("small")
    ssnap = small.snapshot()
    res = ssnap.query(after_id=0, stream="stdout", limit=100_000)
    assert res.gap is not None
    assert res.gap["missed"] == ssnap.first_id - 1 > 0
    assert small.bytes <= 1024 * 1024
    kept = [int(line.text) for line in res.lines]
    assert kept == list(range(kept[0], n))
    assert small.evicted_lines == res.gap["missed"]
    assert elapsed < 60
    os.environ.get("CI")  # elapsed is printed by -s runs for a rough feel
    print(f"1M lines stored in {elapsed:.2f}s")


async def test_a_blocked_event_loop_never_freezes_a_chatty_child(supervise: Callable[..., Supervisor]) -> None:
    script = "import sys\nw = sys.stdout.buffer.write\nfor k in range(200):\n    w(b'x' * 99 + b'\\n' * 1 + (b'y' * 99 + b'\\n') * 999)\n"
    sup = supervise(f'[processes.chatty]\nargv = ["{sys.executable}", "-c", {script!r}]\nlog_max_bytes = "4MiB"\n')
    sup.begin()
    inst = sup.instances["chatty"]
    await until(lambda: inst.pid, 10, "spawned")
    pid = inst.pid
    assert pid is not None
    # Block the event loop (as a slow TUI render or a huge HTTP response would). The pipe reader
    # thread keeps draining, so the child writes its 20 MB and exits while the loop is stuck.
    deadline = time.monotonic() + 30
    finished = False
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                state = fh.read().rpartition(b")")[2].split()[0]
        except FileNotFoundError:  # exited and already reaped (the child watcher runs in a thread)
            state = b"Z"
        if state == b"Z":
            finished = True
            break
        time.sleep(0.05)  # deliberately blocking
    assert finished, "child froze while the event loop was blocked"
    await until(lambda: inst.state == "exited", 20, "exit noticed")
    log = sup.store.log("chatty")
    assert log.next_id - 1 >= 200_000  # every line was read; old ones were evicted, and counted
    assert log.evicted_lines > 0
    assert log.bytes <= 4 * 1024 * 1024
    res = log.snapshot().query(after_id=0, limit=1)
    assert res.gap is not None
    assert res.gap["missed"] == log.evicted_lines


async def test_stable_uptime_resets_the_restart_streak(supervise: Callable[..., Supervisor]) -> None:
    sup = supervise(
        """
        [processes.flaky]
        command = "sleep 0.4; exit 1"
        restart = "on_failure"
        max_restarts = 1
        backoff_initial = 0.05
        stable_after = 0.2
        """
    )
    sup.begin()
    inst = sup.instances["flaky"]
    # Each run lasts longer than stable_after, so the streak resets and max_restarts never trips.
    await until(lambda: inst.restarts >= 3, 20, "three restarts")
    assert inst.state != "crashed"
    delays = [line.text for line in pom_lines(sup, "flaky") if line.text.startswith("restart")]
    assert all(text.startswith("restart 1 in 0.05") for text in delays)


async def test_replicas_probe_their_own_expanded_targets(supervise: Callable[..., Supervisor]) -> None:
    sup = supervise(
        """
        [processes.srv]
        command = "exec python3 -c \\"import os,socket,time; s=socket.socket(socket.AF_UNIX); s.bind(os.environ['POM_PROJECT_DIR']+'/r'+os.environ['POM_REPLICA']+'.sock'); s.listen(); time.sleep(60)\\""
        replicas = 2
        readiness = { unix = "${POM_PROJECT_DIR}/r${POM_REPLICA}.sock", period = 0.1 }
        [processes.oneshot]
        command = "echo done"
        readiness = { log = "done" }
        """
    )
    sup.begin()
    await until(lambda: all(sup.instances[n].state == "ready" for n in ("srv.1", "srv.2")), 20, "both replicas ready")
    oneshot = sup.instances["oneshot"]
    await until(lambda: oneshot.state == "exited", 10, "one-shot done")
    assert oneshot.health == "completed"


async def test_spawns_run_off_the_loop_and_a_cancelled_spawn_leaves_no_child(tmp_path: Path) -> None:
    # Ten spawns at once: all start, none is mistaken for an adopted orphan meanwhile.
    import psutil

    from toolkit_pom.core.proc import adopted_children, spawn_off_loop

    argv = ("sleep", "299.25")  # a duration no other test uses, to find our children by

    def ours() -> list[int]:
        return [p.pid for p in psutil.Process().children(recursive=True) if "299.25" in " ".join(p.cmdline())]

    started = await asyncio.gather(*(spawn_off_loop(argv, cwd=tmp_path, env=dict(os.environ)) for _ in range(10)))
    pids = sorted(proc.pid for proc, _, _ in started)
    assert not set(adopted_children()) & set(pids)
    # vfork lets the parent go on while exec is still setting up the child's memory: its
    # /proc/PID/cmdline may be empty for a moment after spawn returns.
    await until(lambda: sorted(ours()) == pids, 10, "every child's command line")
    for proc, out_r, err_r in started:
        proc.kill()
        proc.wait()
        os.close(out_r)
        os.close(err_r)

    task = asyncio.create_task(spawn_off_loop(argv, cwd=tmp_path, env=dict(os.environ)))
    await asyncio.sleep(0)  # the spawner thread has the request; cancel before it answers
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert ours() == []


async def test_headless_printer_prints_each_line_once_in_time_order(
    supervise: Callable[..., Supervisor], capsys: pytest.CaptureFixture[str]
) -> None:
    from toolkit_pom.core.logstore import STDOUT
    from toolkit_pom.daemon.runner import Printer

    sup = supervise(
        "".join(f'[processes.p{i}]\ncommand = "true"\n' for i in range(3)) + '[processes.mute]\ncommand = "true"\n'
    )
    base = time.mktime((2026, 6, 1, 10, 0, 0, 0, 0, -1))  # local 10:00: stamps sort as text
    for k in range(0, 7000, 100):  # more than one round's 5000 per process
        for name in ("p0", "p1", "p2", "mute"):
            sup.store.log(name).append(STDOUT, [b"%s %d" % (name.encode(), j) for j in range(k, k + 100)], base + k)
    printer = Printer(sup, quiet=False, silenced={"mute"})
    while await printer.flush():
        pass
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 * 7000
    assert [line.split(" | ")[1] for line in out if line.split()[1] == "p1"] == [f"p1 {j}" for j in range(7000)]
    stamps = [line.split()[0] for line in out]
    assert stamps == sorted(stamps)
    assert out[0] == "10:00:00 p0   | p0 0"


async def test_an_interactive_process_leads_a_session_with_its_terminal_as_controlling_tty(
    supervise: Callable[..., Supervisor],
) -> None:
    # Opening /dev/tty only works with a controlling terminal; the terminal's foreground group is the process's.
    check = "import os; os.close(os.open('/dev/tty', os.O_RDWR)); print('ctty', os.getsid(0) == os.getpid() == os.getpgrp() == os.tcgetpgrp(0), os.getpid(), flush=True); input()"
    sup = supervise(
        f'[processes.repl]\nargv = ["{sys.executable}", "-c", "{check}"]\ninteractive = true\n'
        '[processes.missing]\nargv = ["no-such-program-anywhere"]\ninteractive = true\n'
    )
    sup.begin()
    inst = sup.instances["repl"]

    def line() -> str | None:
        texts = [ln.text for ln in sup.store.log("repl").snapshot().query(after_id=0).lines if ln.stream != "pom"]
        return next((t for t in texts if t.startswith("ctty")), None)

    seen = await until(line, 20, "the process to report its terminal")
    assert seen == f"ctty True {inst.pid}"
    missing = sup.instances["missing"]
    await until(lambda: missing.state == "crashed", 10, "the missing program to be reported")
    assert missing.exit_code == 127
    assert "failed to start" in pom_lines(sup, "missing")[0].text


async def test_the_watchdog_kills_marked_processes_it_was_never_told_about(tmp_path: Path) -> None:
    # The window between spawning a child and registering its group: only the POM_INSTANCE marker finds it.
    import subprocess

    from toolkit_pom.core.proc import Watchdog, instance_marker

    env = dict(os.environ, POM_INSTANCE=instance_marker().partition("=")[2] + "unregistered")
    child = subprocess.Popen(
        ["sh", "-c", "sleep 300 & echo $!; exec setsid sleep 300"], env=env, stdout=subprocess.PIPE
    )
    assert child.stdout is not None
    grandchild = int(child.stdout.readline())
    unmarked = subprocess.Popen(["sleep", "300"])
    watchdog = Watchdog()
    try:
        assert watchdog.proc.stdin is not None
        watchdog.proc.stdin.close()  # as when pom dies: the pipe closes without the clean-shutdown note
        assert watchdog.proc.wait(15) == 0
        assert child.wait(15) < 0
        await until(lambda: not pid_alive(grandchild), 15, "the grandchild to die")
        assert unmarked.poll() is None
    finally:
        child.stdout.close()
        unmarked.kill()
        unmarked.wait()


async def test_many_spawns_while_reader_threads_run_never_hang(tmp_path: Path) -> None:
    # The old spawn hang's shape: fork while other threads run and hold locks (here: 8 threads
    # reading pipes and allocating). Spawning must never block on them.
    import threading

    from toolkit_pom.core.proc import spawn_off_loop

    stop = threading.Event()
    feeders = [os.pipe() for _ in range(8)]

    def read(fd: int) -> None:
        chunks = []
        while not stop.is_set():
            chunks.append(os.read(fd, 65536))
            del chunks[:-4]

    def write(fd: int) -> None:
        with contextlib.suppress(OSError):
            while not stop.is_set():
                os.write(fd, b"x" * 65536)

    threads = [threading.Thread(target=read, args=(r,), daemon=True) for r, _ in feeders]
    threads += [threading.Thread(target=write, args=(w,), daemon=True) for _, w in feeders]
    for t in threads:
        t.start()
    try:
        for _ in range(5):
            started = await asyncio.wait_for(
                asyncio.gather(*(spawn_off_loop(("true",), cwd=tmp_path, env=dict(os.environ)) for _ in range(40))), 60
            )
            for proc, out_r, err_r in started:
                assert proc.wait(30) == 0
                os.close(out_r)
                os.close(err_r)
    finally:
        stop.set()
        for _, w in feeders:
            os.close(w)
        for t in threads:
            t.join(5)
        for r, _ in feeders:
            os.close(r)


EARLY_STACK = """
[processes.now]
command = "echo now up; exec sleep 300"
readiness = { log = "now up" }
[processes.twice]
command = "exec sleep 300"
replicas = 2
[processes.later]
command = "exec sleep 300"
depends_on = { now = "healthy" }
[processes.off]
command = "exec sleep 300"
disabled = true
"""


async def test_processes_started_before_the_supervisor_are_adopted_as_their_first_run(tmp_path: Path) -> None:
    from toolkit_pom.core.prestart import prestart

    config = load_config(write_project(tmp_path, EARLY_STACK))
    early = prestart(config)
    early.join()
    started = {name: run.proc.pid for name, run in early.spawned.items()}
    assert sorted(started) == ["now", "twice.1", "twice.2"]  # not the dependent or the disabled one
    sup = Supervisor(config, early)
    try:
        assert sup.watchdog is early.watchdog
        sup.begin()
        now = sup.instances["now"]
        await until(lambda: now.state == "ready", 20, "the early process to be ready")
        await until(lambda: sup.instances["later"].state == "running", 20, "its dependent to start")
        for name, pid in started.items():
            inst = sup.instances[name]
            assert inst.pid == pid
            assert inst.spawn_count == 1
            starts = [ln.text for ln in pom_lines(sup, name) if ln.text.startswith("started")]
            assert starts == [f"started pid {pid}: {inst.spec.command}"]
            with open(f"/proc/{pid}/environ", "rb") as fh:
                assert f"POM_INSTANCE={inst.token}".encode() in fh.read().split(b"\0")
        assert sup.instances["off"].pid is None
        await sup.stop_many([now])
        assert not pid_alive(started["now"])
    finally:
        await sup.close()
    assert not any(pid_alive(pid) for pid in started.values())


async def test_early_processes_nobody_adopts_are_killed(tmp_path: Path) -> None:
    from toolkit_pom.core.prestart import prestart

    config = load_config(write_project(tmp_path, EARLY_STACK))
    # The supervisor adopts the early runs but starts only `later`'s closure: `twice` is discarded at close.
    early = prestart(config)
    early.join()
    twice = [early.spawned[n].proc.pid for n in ("twice.1", "twice.2")]
    sup = Supervisor(config, early)
    try:
        sup.begin(["later"])
        await until(lambda: sup.instances["later"].state == "running", 20, "the selection to start")
        assert all(pid_alive(pid) for pid in twice)  # not yet adopted, not yet discarded
    finally:
        await sup.close()
    assert not any(pid_alive(pid) for pid in twice)
    # pom stopping before any supervisor adopted them (a failed start-up): abort kills all and the watchdog.
    early = prestart(config)
    early.join()
    pids = [run.proc.pid for run in early.spawned.values()]
    assert all(pid_alive(pid) for pid in pids)
    early.abort()
    assert not any(pid_alive(pid) for pid in pids)
    assert early.watchdog.proc.poll() is not None
