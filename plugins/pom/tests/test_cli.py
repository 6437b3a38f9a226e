# ruff: noqa: E501 - TOML fixtures hold long shell commands verbatim
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket as socketlib
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from toolkit_kernel.errors import ToolkitError
from toolkit_pom.testing import pid_alive, wait_for, write_project

STACK = """
[processes.db]
command = "echo 'db: booting'; sleep 0.3; echo 'db: ready to accept connections'; echo 'WARNING: slow disk' >&2; exec sleep 300"
readiness = { log = "ready to accept" }

[processes.web]
command = "echo web $POM_PROCESS_NAME; echo 'ERROR: cannot reach cache' >&2; exec sleep 300"
depends_on = { db = "healthy" }
replicas = 2

[processes.job]
command = "for i in $(seq 1 2000); do echo job line $i; done"

[processes.tree]
command = "sleep 300 & echo $! > tree.pid; sleep 300"
"""

PROCESS_KEYS = {
    "name", "group", "replica", "state", "health", "pid", "exit_code", "restarts", "uptime_s", "started_at",
    "cpu_percent", "memory_rss", "command", "namespace", "disabled", "service", "depends_on", "blocked_by", "message", "log",
}  # fmt: skip


def test_cli_against_running_pom(tmp_path: Path, start_pom: Any, cli: Any) -> None:
    config = write_project(tmp_path, STACK)
    pom = start_pom(config)
    f = ("-f", str(config))
    pom.wait_state("web.1", "running")
    pom.wait_state("job", "exited")

    ps = cli("pom", "ps", *f, "--json").assert_success().json()
    states = {p["name"]: p for p in ps["processes"]}
    assert set(states) == {"db", "web.1", "web.2", "job", "tree"}
    assert states["db"]["state"] == "ready"
    assert states["db"]["health"] == "ready"
    assert states["job"]["exit_code"] == 0
    # The documented shapes (specs/pom/control-protocol.md), exactly.
    assert set(states["db"]) == PROCESS_KEYS
    assert set(states["db"]["log"]) == {"first_id", "last_id", "lines", "bytes", "evicted_lines"}
    assert set(ps["project"]) == {"name", "dir", "config", "pid", "started_at", "http_url", "pc_api_url", "version"}
    human = cli("pom", "ps", *f).assert_success().output
    assert "NAME" in human
    assert "web.2" in human

    result = cli("pom", "logs", "job", *f, "--lines", "1000", "--stdout", "--json").assert_success().json()
    assert len(result["lines"]) == 1000
    assert set(result) == {"lines", "gaps", "cursors"}
    assert set(result["lines"][0]) == {"process", "id", "ts", "stream", "text"}
    assert result["lines"][-1]["text"] == "job line 2000"
    assert result["lines"][0]["text"] == "job line 1001"
    cursor = result["lines"][-1]["id"]
    after = cli("pom", "logs", "job", *f, "--after-id", str(cursor - 3), "--json").assert_success().json()
    assert [line["id"] for line in after["lines"]][:3] == [cursor - 2, cursor - 1, cursor]
    grep = cli("pom", "logs", "job", *f, "--grep", "line 1999", "--json").assert_success().json()
    assert [line["text"] for line in grep["lines"]] == ["job line 1999"]
    regex = cli("pom", "logs", "job", *f, "--regex", r"line 20\d\d$", "--json").assert_success().json()
    assert [line["text"] for line in regex["lines"]] == ["job line 2000"]
    stderr = cli("pom", "logs", "web", *f, "--stderr").assert_success().output
    assert stderr.count("ERROR: cannot reach cache") == 2
    assert "web.1 | " in stderr
    bad = cli("pom", "logs", "job", *f, "--regex", "(")
    assert bad.exit_code == 2
    assert "regular expression" in bad.stderr

    status = cli("pom", "status", "db", *f, "--json")
    assert status.exit_code == 0
    assert status.json()["state"] == "ready"
    assert cli("pom", "status", "job", *f).exit_code == 1
    missing = cli("pom", "status", "nope", *f, "--json")
    assert missing.exit_code == 3
    assert json.loads(missing.stderr)["error"]["kind"] == "not_found"

    errors = cli("pom", "errors", *f, "--json").assert_success().json()["errors"]
    assert {(e["process"], e["severity"]) for e in errors} >= {("web.1", "error"), ("db", "warning")}
    summary = cli("pom", "summary", *f, "--json").assert_success().json()
    assert summary["counts"]["exited"] == 1
    assert any(p["error_count"] for p in summary["processes"])

    graph = cli("pom", "graph", *f, "--json").assert_success().json()
    assert graph["roots"] == ["web", "job", "tree"]
    web = next(g for g in graph["groups"] if g["name"] == "web")
    assert web == {
        "name": "web",
        "namespace": "default",
        "depends_on": {"db": "healthy"},
        "dependents": [],
        "instances": {"web.1": "running", "web.2": "running"},
    }
    tree = cli("pom", "graph", *f).assert_success().output.splitlines()
    assert tree[:2] == ["web [running]", "└─ db [ready] (healthy)"]
    assert tree[2:] == ["job [exited]", "tree [running]"]

    last_id = cli("pom", "status", "job", *f, "--json").json()["log"]["last_id"]
    truncated = cli("pom", "truncate", "job", *f, "--json").assert_success().json()
    assert truncated["results"][0]["dropped"] >= 2000
    assert cli("pom", "logs", "job", *f, "--json").assert_success().json()["lines"] == []
    assert cli("pom", "truncate", "job", "nope", *f).exit_code == 3
    log = cli("pom", "status", "job", *f, "--json").json()["log"]
    assert (log["lines"], log["last_id"]) == (0, last_id)  # ids go on from where they were

    stopped = cli("pom", "stop", "web", *f, "--json").assert_success().json()
    assert {r["name"]: r["state"] for r in stopped["results"]} == {"web.1": "stopped", "web.2": "stopped"}
    cli("pom", "start", "web.2", *f).assert_success()
    pom.wait_state("web.2", "running")
    old_pid = pom.ps()["db"]["pid"]
    cli("pom", "restart", "db", *f).assert_success()
    new = pom.wait_state("db", "ready")
    assert new["pid"] != old_pid
    assert not pid_alive(old_pid)
    sig = cli("pom", "signal", "TERM", "web.2", *f, "--json").assert_success().json()
    assert sig["results"][0]["ok"]
    pom.wait_state("web.2", "exited", "crashed")
    scaled = cli("pom", "scale", "web", "3", *f, "--json").assert_success().json()
    assert [r["name"] for r in scaled["results"]] == ["web.1", "web.2", "web.3"]
    pom.wait_state("web.3", "running")
    assert cli("pom", "stop", "nope", *f).exit_code == 3
    assert cli("pom", "signal", "NOPE", "db", *f).exit_code == 2

    tree_pid = int((tmp_path / "tree.pid").read_text())
    pids = [p["pid"] for p in pom.ps().values() if p["pid"]] + [tree_pid]
    down = cli("pom", "down", *f, "--json").assert_success().json()
    assert down["ok"]
    assert pom.proc.wait(30) == 0
    wait_for(lambda: not any(pid_alive(p) for p in pids), 10, what="no orphans after down")
    gone = cli("pom", "ps", *f, "--json")
    assert gone.exit_code == 6
    assert json.loads(gone.stderr)["error"]["kind"] == "not_running"


def test_no_pom_running_is_a_clear_error(tmp_path: Path) -> None:
    config = write_project(tmp_path, '[processes.a]\ncommand = "true"\n')
    env = {**os.environ}
    out = subprocess.run(
        [sys.executable, "-m", "toolkit_pom", "ps", "-f", str(config)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert out.returncode == 6
    assert "no pom is running" in out.stderr
    assert "pom up" in out.stderr
    assert "Traceback" not in out.stderr


def test_second_up_is_refused(tmp_path: Path, start_pom: Any) -> None:
    config = write_project(tmp_path, '[processes.a]\ncommand = "sleep 300"\n')
    start_pom(config)
    out = subprocess.run(
        [sys.executable, "-m", "toolkit_pom", "up", "--headless", "--no-http", "-f", str(config)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert out.returncode == 4
    assert "already running" in out.stderr


def test_detached_up_is_refused_while_a_pom_runs(tmp_path: Path, start_pom: Any) -> None:
    """`up -d` probes the project's lock (the kernel's `lock_file_is_held`) before detaching."""
    config = write_project(tmp_path, '[processes.a]\ncommand = "sleep 300"\n')
    start_pom(config)
    out = subprocess.run(
        [sys.executable, "-m", "toolkit_pom", "up", "-d", "--no-http", "-f", str(config)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert out.returncode == 4, out.stderr
    assert "already running" in out.stderr
    assert "Traceback" not in out.stderr


def test_sigkill_of_pom_leaves_no_orphans(tmp_path: Path, start_pom: Any) -> None:
    config = write_project(
        tmp_path,
        """
        [processes.a]
        command = "sleep 300 & echo $! > a.pid; sleep 300"
        [processes.b]
        command = "sh -c 'trap \\"\\" TERM; sleep 300 & echo $! > b.pid; wait' ; sleep 300"
        """,
    )
    pom = start_pom(config)
    wait_for(lambda: (tmp_path / "a.pid").exists() and (tmp_path / "b.pid").exists(), 10, what="grandchildren")
    pids = [p["pid"] for p in pom.ps().values()] + [int((tmp_path / n).read_text()) for n in ("a.pid", "b.pid")]
    assert all(pid_alive(p) for p in pids)
    pom.proc.send_signal(signal.SIGKILL)
    pom.proc.wait(10)
    wait_for(lambda: not any(pid_alive(p) for p in pids), 15, what="children and grandchildren to die")


#: The pid files appear whole (mv): a test that saw one exist read it empty once.
SETSID_STACK = """
[processes.a]
command = "setsid sleep 300 & echo $! > gc.tmp && mv gc.tmp gc.pid; exec sleep 300"
[processes.b]
command = "setsid sh -c 'sleep 300' & echo $! > orphan.tmp && mv orphan.tmp orphan.pid; exit 0"
"""


def test_setsid_descendants_do_not_survive_stop(tmp_path: Path, start_pom: Any) -> None:
    """A grandchild that left the process group (setsid) is still found and stopped (child subreaper)."""
    pom = start_pom(write_project(tmp_path, SETSID_STACK))
    wait_for(lambda: (tmp_path / "gc.pid").exists() and (tmp_path / "orphan.pid").exists(), 10, what="grandchildren")
    gc = int((tmp_path / "gc.pid").read_text())
    orphan = int((tmp_path / "orphan.pid").read_text())
    assert os.getsid(gc) == gc
    # b's leader exited: its setsid'ed child is an orphan of b, stopped because b is no longer up.
    wait_for(lambda: not pid_alive(orphan), 15, what="the orphan of an exited process to be stopped")
    assert pid_alive(gc)
    pom.call("stop", names=["a"])
    wait_for(lambda: not pid_alive(gc), 15, what="the setsid grandchild to stop with its process")


def test_sigkill_of_pom_stops_setsid_descendants(tmp_path: Path, start_pom: Any) -> None:
    pom = start_pom(write_project(tmp_path, SETSID_STACK.split("[processes.b]", maxsplit=1)[0]))
    wait_for((tmp_path / "gc.pid").exists, 10, what="grandchild")
    gc = int((tmp_path / "gc.pid").read_text())
    # At once: before pom's once-a-second scan registered the escaped group, only the watchdog's
    # POM_INSTANCE marker sweep can find the grandchild.
    pom.proc.send_signal(signal.SIGKILL)
    pom.proc.wait(10)
    wait_for(lambda: not pid_alive(gc), 15, what="the setsid grandchild to die with pom")


def test_sigterm_of_pom_stops_cleanly(tmp_path: Path, start_pom: Any) -> None:
    config = write_project(tmp_path, '[processes.a]\ncommand = "sleep 300 & echo $! > a.pid; sleep 300"\n')
    pom = start_pom(config)
    wait_for((tmp_path / "a.pid").exists, 10, what="grandchild")
    pids = [pom.ps()["a"]["pid"], int((tmp_path / "a.pid").read_text())]
    pom.proc.send_signal(signal.SIGTERM)
    assert pom.proc.wait(30) == 0
    assert not any(pid_alive(p) for p in pids)
    assert "received SIGTERM" in pom.output()


def test_exit_when_ready_runs_the_stack_and_exits(tmp_path: Path) -> None:
    config = write_project(
        tmp_path,
        """
        [processes.db]
        command = "sleep 0.2; echo ready; exec sleep 300"
        readiness = { log = "^ready$" }
        [processes.web]
        command = "exec sleep 300"
        depends_on = { db = "healthy" }
        """,
    )
    out = subprocess.run(
        [sys.executable, "-m", "toolkit_pom", "up", "--exit-when-ready", "--no-http", "-f", str(config)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "all 2 processes ready" in out.stderr
    assert "stopped cleanly" in out.stderr
    assert "db  | ready" in out.stdout


def test_exit_when_ready_fails_and_times_out(tmp_path: Path) -> None:
    bad = write_project(tmp_path / "bad", '[processes.x]\ncommand = "echo nope >&2; exit 3"\n')
    out = subprocess.run(
        [sys.executable, "-m", "toolkit_pom", "up", "--exit-when-ready", "--no-http", "-f", str(bad)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert out.returncode == 1
    assert "x (exited with code 3)" in out.stderr
    slow = write_project(tmp_path / "slow", '[processes.x]\ncommand = "sleep 300"\nreadiness = { log = "never" }\n')
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "toolkit_pom",
            "up",
            "--exit-when-ready",
            "--timeout",
            "1",
            "--no-http",
            "-f",
            str(slow),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert out.returncode == 124
    assert json.loads(out.stdout.strip().splitlines()[-1])["exit_code"] == 124


def test_detached_up_and_follow(tmp_path: Path) -> None:
    config = write_project(
        tmp_path, '[processes.talk]\ncommand = "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.05; done"\n'
    )
    run = subprocess.run(
        [sys.executable, "-m", "toolkit", "pom", "up", "-d", "--no-http", "-f", str(config), "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    info = json.loads(run.stdout)
    try:
        follow = subprocess.Popen(
            [sys.executable, "-m", "toolkit_pom", "logs", "talk", "-F", "--json", "--lines", "0", "-f", str(config)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert follow.stdout is not None
        seen: list[int] = []
        while len(seen) < 10:
            frame = json.loads(follow.stdout.readline())
            seen += [line["id"] for line in frame["lines"] if line["stream"] == "stdout"]
        assert seen == sorted(seen)
        assert len(set(seen)) == len(seen)
        subprocess.run([sys.executable, "-m", "toolkit_pom", "down", "-f", str(config)], check=True, timeout=60)
        assert follow.wait(30) == 0
        follow.stdout.close()
    finally:
        if pid_alive(info["pid"]):
            os.kill(info["pid"], signal.SIGKILL)


def test_malformed_requests_get_errors_and_the_server_survives(tmp_path: Path, start_pom: Any) -> None:
    pom = start_pom(write_project(tmp_path, '[processes.a]\ncommand = "sleep 300"\n'))
    bad_requests: list[dict[str, Any]] = [
        {"op": "nope"},
        {"op": "__init__"},
        {},
        {"op": "logs"},
        {"op": "logs", "names": []},
        {"op": "logs", "names": ["a"], "limit": -1},
        {"op": "logs", "names": ["a"], "after_id": "x"},
        {"op": "logs", "names": ["a"], "stream": "stdin"},
        {"op": "status"},
        {"op": "scale", "name": "a", "replicas": "3"},
        {"op": "scale", "name": "a", "replicas": 1000},
        {"op": "signal", "names": ["a"], "signal": "SIGNOPE"},
        {"op": "errors", "limit": 0},
        {"op": "reload", "files": ["relative.yaml"]},
        {"op": "reload", "files": "/abs.yaml"},
        {"op": "truncate"},
    ]
    for request in bad_requests:
        with pytest.raises(ToolkitError) as info:
            pom.client._client.call(request)
        assert info.value.kind in ("usage", "not_found"), request
    with pytest.raises(ToolkitError) as info:
        pom.call("stop", names=["a", "zzz"])
    assert info.value.kind == "not_found"
    assert pom.ps()["a"]["state"] == "running"  # nothing was done
    # Garbage bytes on a fresh connection: that connection is dropped, the server keeps serving.
    with socketlib.socket(socketlib.AF_UNIX) as raw:
        raw.connect(str(pom.client.path))
        raw.sendall(b"\xff\xff\xff\xffgarbage")
        raw.settimeout(5)
        with contextlib.suppress(OSError):
            while raw.recv(4096):
                pass
    assert pom.call("ping") == {"ok": True}


def test_procfile_project_end_to_end(tmp_path: Path, start_pom: Any, cli: Any) -> None:
    (tmp_path / "Procfile").write_text(
        "web: echo port=$PORT name=$POM_PROCESS_NAME foo=$FOO; exec sleep 300\nworker: echo w $PORT; exec sleep 300\n"
    )
    (tmp_path / ".env").write_text("FOO=from-dotenv\n")
    procfile = tmp_path / "Procfile"
    pom = start_pom(procfile, "-m", "web=2", "-p", "7000")
    pom.wait_state("web.2", "running")
    pom.wait_state("worker", "running")

    def lines() -> list[str]:
        data = cli("pom", "logs", "web", "worker", "-f", str(procfile), "--stdout", "--json").assert_success().json()
        return sorted(f"{line['process']}: {line['text']}" for line in data["lines"])

    wait_for(lambda: len(lines()) == 3, 10, what="three output lines")
    assert lines() == [
        "web.1: port=7000 name=web.1 foo=from-dotenv",
        "web.2: port=7001 name=web.2 foo=from-dotenv",
        "worker: w 7100",
    ]


def test_a_killed_watchdog_is_replaced(tmp_path: Path, start_pom: Any) -> None:
    import psutil

    config = write_project(tmp_path, '[processes.a]\ncommand = "sleep 300 & echo $! > a.pid; sleep 300"\n')
    pom = start_pom(config)
    wait_for((tmp_path / "a.pid").exists, 10, what="grandchild")

    def watchdogs() -> list[int]:
        found = []
        for kid in psutil.Process(pom.proc.pid).children():
            with contextlib.suppress(psutil.Error):  # the killed one is a zombie until pom reaps it
                if any("_watchdog.py" in part for part in kid.cmdline()):
                    found.append(kid.pid)
        return found

    first = wait_for(watchdogs, 10, what="watchdog")[0]
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: (w := watchdogs()) and w[0] != first, 15, what="a new watchdog")
    pids = [pom.ps()["a"]["pid"], int((tmp_path / "a.pid").read_text())]
    pom.proc.send_signal(signal.SIGKILL)
    pom.proc.wait(10)
    wait_for(lambda: not any(pid_alive(p) for p in pids), 15, what="children to die with the new watchdog")


def test_second_interrupt_kills_without_waiting(tmp_path: Path, start_pom: Any) -> None:

    config = write_project(
        tmp_path,
        """
        [processes.stubborn]
        command = "trap '' TERM INT; echo $$ > s.pid; while true; do sleep 0.1; done"
        shutdown_timeout = 60
        """,
    )
    pom = start_pom(config)
    wait_for((tmp_path / "s.pid").exists, 10, what="pid file")
    pid = int((tmp_path / "s.pid").read_text())
    pom.proc.send_signal(signal.SIGINT)
    wait_for(lambda: "stopping" in pom.output() or pom.ps()["stubborn"]["state"] == "stopping", 10, what="stopping")
    started = time.monotonic()
    pom.proc.send_signal(signal.SIGINT)
    assert pom.proc.wait(20) == 0
    assert time.monotonic() - started < 15
    assert not pid_alive(pid)
    assert "killed by a second interrupt" in pom.output()
