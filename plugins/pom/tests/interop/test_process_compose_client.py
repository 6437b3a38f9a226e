"""The real process-compose v1.85.0 client drives a running pom through `pom up --pc-api`."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from toolkit.testing_peers import require_peer
from toolkit_pom.testing import wait_for

pytestmark = pytest.mark.interop

STACK = """
processes:
  web:
    command: "for i in 1 2 3; do echo web line $$i; done; exec sleep 300"
    namespace: front
  worker:
    command: "echo worker up; exec sleep 300"
"""


def client(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    exe = str(require_peer("process-compose").path)
    return subprocess.run([exe, *args, "-p", str(port)], capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def port(tmp_path: Path, start_pom: Any) -> int:
    config = tmp_path / "process-compose.yaml"
    config.write_text(textwrap.dedent(STACK))
    pom = start_pom(config, "--pc-api", "127.0.0.1:0")
    url = pom.call("info")["pc_api_url"]
    wait_for(lambda: all(p["state"] == "running" for p in pom.ps().values()), 20, what="both running")
    return int(url.rsplit(":", 1)[1])


def test_process_list_get_and_logs(port: int) -> None:
    listed = client(port, "process", "list")
    assert listed.returncode == 0
    assert listed.stdout.split() == ["web", "worker"]
    states = json.loads(client(port, "process", "list", "-o", "json").stdout)
    web = next(s for s in states if s["name"] == "web")
    assert (web["namespace"], web["status"], web["is_running"]) == ("front", "Running", True)
    assert web["pid"] > 0
    wide = client(port, "process", "get", "worker")
    assert "Running" in wide.stdout
    logs = wait_for(lambda: (r := client(port, "process", "logs", "web", "-n", "2")).stdout and r, 10)
    assert logs.stdout.splitlines() == ["web line 2", "web line 3"]


def test_process_stop_start_restart(port: int) -> None:
    stopped = client(port, "process", "stop", "worker")
    assert stopped.returncode == 0
    assert "Successfully stopped: 'worker'" in stopped.stdout + stopped.stderr
    states = {s["name"]: s for s in json.loads(client(port, "process", "list", "-o", "json").stdout)}
    assert states["worker"]["status"] == "Completed"
    assert not states["worker"]["is_running"]
    assert "Process worker started" in client(port, "process", "start", "worker").stdout
    old_pid = states["web"]["pid"]
    assert "Process web restarted" in client(port, "process", "restart", "web").stdout
    states = {s["name"]: s for s in json.loads(client(port, "process", "list", "-o", "json").stdout)}
    assert states["worker"]["is_running"]
    assert states["web"]["pid"] not in (0, old_pid)
    missing = client(port, "process", "stop", "nope")
    assert "no such process: nope" in missing.stdout + missing.stderr


def test_logs_truncate(port: int) -> None:
    wait_for(lambda: client(port, "process", "logs", "web", "-n", "3").stdout, 10)
    truncated = client(port, "process", "logs", "truncate", "web")
    assert truncated.returncode == 0
    assert "Process web logs truncated" in truncated.stdout
    assert client(port, "process", "logs", "web", "-n", "3").stdout == ""
    assert client(port, "process", "logs", "truncate", "nope").returncode != 0


def test_project_reload_answers_what_the_client_decodes(tmp_path: Path, port: int) -> None:
    import httpx

    config = tmp_path / "process-compose.yaml"
    config.write_text(
        textwrap.dedent(STACK).replace("worker up", "worker up again") + '  extra:\n    command: "exec sleep 300"\n'
    )
    # process-compose's TUI reload (ctrl+L) posts here and decodes a map of name to status.
    answer = httpx.post(f"http://127.0.0.1:{port}/project/configuration", timeout=30)
    assert answer.status_code == 200
    assert answer.json() == {"worker": "updated", "extra": "added"}
    wait_for(lambda: "extra" in client(port, "process", "list").stdout.split(), 20, what="extra listed")
    config.write_text("processes: [")
    bad = httpx.post(f"http://127.0.0.1:{port}/project/configuration", timeout=30)
    assert bad.status_code == 400
    assert "not valid YAML" in bad.json()["error"]
    assert "extra" in client(port, "process", "list").stdout.split()


def test_project_update_from_another_file(tmp_path: Path, port: int) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(
        textwrap.dedent(STACK).replace("worker up", "worker v2") + '  extra:\n    command: "exec sleep 300"\n'
    )
    updated = client(port, "project", "update", "-f", str(other), "-v")
    assert updated.returncode == 0, updated.stderr
    # `-v` prints "ICON NAME STATUS" rows under a header.
    rows = [line.split()[-2:] for line in updated.stdout.splitlines()[1:] if line.strip()]
    assert {name: status for name, status in rows} == {"worker": "updated", "extra": "added"}
    wait_for(lambda: "extra" in client(port, "process", "list").stdout.split(), 20, what="extra listed")
    logs = wait_for(lambda: (r := client(port, "process", "logs", "worker", "-n", "1")).stdout and r, 20)
    assert logs.stdout.strip() == "worker v2"
    # A file that does not load: process-compose's own loader refuses it before sending anything.
    assert client(port, "project", "update", "-f", str(tmp_path / "missing.yaml")).returncode != 0


def test_unix_socket_mode(tmp_path: Path, start_pom: Any) -> None:
    config = tmp_path / "process-compose.yaml"
    config.write_text(textwrap.dedent(STACK))
    sock = tmp_path / "pc.sock"
    pom = start_pom(config, "--pc-api", f"unix:{sock}")
    assert pom.call("info")["pc_api_url"] == f"unix:{sock}"
    assert sock.stat().st_mode & 0o077 == 0
    exe = str(require_peer("process-compose").path)

    def over_socket(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [exe, *args, "-U", "-u", str(sock)]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)

    assert over_socket("process", "list").stdout.split() == ["web", "worker"]
    assert "Process worker restarted" in over_socket("process", "restart", "worker").stdout


def test_project_state_ports_and_attach_tui(port: int) -> None:
    state = client(port, "project", "state")
    assert state.returncode == 0
    assert "Running Processes" in state.stdout
    ports = client(port, "process", "ports", "web")
    assert "Process web TCP ports" in ports.stdout + ports.stderr
    # The real TUI, attached to pom through a pseudo-terminal for a few seconds.
    exe = str(require_peer("process-compose").path)
    screen = subprocess.run(
        ["timeout", "6", "script", "-qfc", f"{exe} attach -p {port}", "/dev/null"],
        capture_output=True,
        timeout=60,
        check=False,
    ).stdout.decode(errors="replace")
    assert "Project" in screen
    assert screen.count("worker") >= 1
    assert screen.count("Running") >= 2


def test_tui_edit_posts_process_update(tmp_path: Path, port: int) -> None:
    # process-compose's TUI edit (ctrl+e): GET /process/info, YAML in $EDITOR, POST /process.
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nsed -i "s/web line/web edited line/" "$1"\n')
    editor.chmod(0o755)
    exe = str(require_peer("process-compose").path)
    tui = subprocess.Popen(
        ["script", "-qfc", f"{exe} attach -p {port}", "/dev/null"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "EDITOR": str(editor), "TMPDIR": str(tmp_path)},
    )
    try:
        assert tui.stdin is not None

        def edited() -> bool:
            # Down and up select the first row (web), ctrl+e edits it: one key at a time, as
            # tcell reads them (keys sent together, or before the TUI has drawn, are lost).
            for key in (b"\x1b[B", b"\x1b[A", b"\x05"):
                assert tui.stdin is not None
                tui.stdin.write(key)
                tui.stdin.flush()
                time.sleep(1.0)
            logs = client(port, "process", "logs", "web", "-n", "1").stdout
            return logs.strip() == "web edited line 3"

        time.sleep(2.0)
        wait_for(edited, 40, interval=0.1, what="the edited command's output")
    finally:
        tui.kill()
        tui.wait()
        if tui.stdin is not None:
            tui.stdin.close()
    info = json.loads(client(port, "process", "list", "-o", "json").stdout)
    assert {s["name"]: s["status"] for s in info} == {"web": "Running", "worker": "Running"}
