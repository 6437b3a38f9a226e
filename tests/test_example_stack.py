"""The README's main job: the example dev stack under pom, with graveyar and plasmite as toolkit services."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


def test_example_stack_runs_every_system_and_records_an_event(root, tmp_path):
    stack = tmp_path / "dev-stack"
    shutil.copytree(root / "examples" / "dev-stack", stack, ignore=shutil.ignore_patterns(".data"))
    # As the README runs it: pom from the venv, the venv's bin not on PATH.
    env = {"PATH": "/usr/bin:/bin", "TOOLKIT_HOME": str(tmp_path / "home")}
    out = subprocess.run(
        [str(BIN / "pom"), "up", "-f", str(stack / "pom.toml"), "--exit-when-ready", "--no-http", "--timeout", "90"],
        capture_output=True, text=True, check=False, timeout=180, env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "all 10 processes ready" in out.stderr
    assert "stopped cleanly" in out.stderr
    assert "migrate: schema at version 3" in out.stdout
    assert "db: shutting down" in out.stdout  # SIGINT reached the db: a graceful stop
    # plasmite: `announce` fed the pool locally, `listen` read it back over the HTTP API.
    assert '{"data":{"stack":"dev-stack","status":"up"}' in out.stdout

    # The audit process appended to graveyar, whose data outlived the stack: read it back.
    port = _free_port()
    data = stack / ".data" / "graveyar"
    server = subprocess.Popen(
        [str(BIN / "graveyar"), "serve", "--data-dir", str(data), "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    try:
        _wait_for_port(port)
        read = subprocess.run(
            [str(BIN / "graveyar"), "--server", f"127.0.0.1:{port}", "--json", "read", "stack"],
            capture_output=True, text=True, check=False, timeout=60, env=env,
        )  # fmt: skip
        assert read.returncode == 0, read.stderr
        events = json.loads(read.stdout)
        assert [(e["event_type"], e["data"]) for e in events] == [("StackStarted", "dev-stack is up")]
    finally:
        server.terminate()
        server.wait(timeout=30)
