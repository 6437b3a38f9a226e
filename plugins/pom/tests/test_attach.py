"""Interactive processes run on a pseudo-terminal; `pom attach` (itself on a real pty) types into them."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from toolkit_pom.testing import wait_for, write_project

REPL = """
[processes.repl]
command = "if [ -t 0 ]; then echo tty:yes; fi; while read -r l; do echo got:$l; done; echo bye"
interactive = true

[processes.plain]
command = "exec sleep 300"
"""


def _read_until(fd: int, needle: bytes, seen: bytearray, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {needle!r} within {timeout}s; got {bytes(seen)!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the other side closed
                chunk = b""
            if not chunk:
                raise AssertionError(f"terminal closed before {needle!r}; got {bytes(seen)!r}")
            seen += chunk


def _wait_or_kill(pid: int, timeout: float) -> int:
    """Reap the child; a failed step must not leave `pom attach` blocking the test for good."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.05)
    os.kill(pid, 9)
    return os.waitpid(pid, 0)[1]


def _texts(pom: Any, name: str) -> list[str]:
    return [line["text"] for line in pom.call("logs", names=[name], limit=100)["lines"] if line["stream"] != "pom"]


def test_attach_types_into_an_interactive_process_and_detaches(tmp_path: Path, start_pom: Any) -> None:
    config = write_project(tmp_path, REPL)
    pom = start_pom(config)
    pom.wait_state("repl", "running")
    wait_for(lambda: "tty:yes" in _texts(pom, "repl"), what="the process sees a terminal")

    pid, fd = pty.fork()
    if pid == 0:  # the child: `pom attach` with this pty as its terminal
        os.execv(sys.executable, [sys.executable, "-m", "toolkit_pom", "attach", "repl", "-f", str(config)])
    seen = bytearray()
    try:
        _read_until(fd, b"Ctrl-] detaches", seen)
        assert b"tty:yes" in seen  # recent output first
        os.write(fd, b"hello world\r")  # Enter in raw mode is CR; the process's terminal maps it
        _read_until(fd, b"got:hello world", seen)
        os.write(fd, b"second\r")
        _read_until(fd, b"got:second", seen)
        os.write(fd, b"\x1d")  # Ctrl-]
        _read_until(fd, b"detached (repl)", seen)
    finally:
        status = _wait_or_kill(pid, 10.0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    # Detaching leaves the process running, and what it printed is in its log like any output.
    assert pom.ps()["repl"]["state"] == "running"
    assert {"got:hello world", "got:second"} <= set(_texts(pom, "repl"))

    # Input through the control protocol: Ctrl-D at the start of a line ends `read`.
    assert pom.call("input", name="repl", data="last\n\x04")["ok"]
    pom.wait_state("repl", "exited")
    assert _texts(pom, "repl")[-2:] == ["got:last", "bye"]

    for name, error in (("plain", "plain is not interactive"), ("repl", "repl is not running")):
        refused = subprocess.run(
            [sys.executable, "-m", "toolkit_pom", "attach", name, "-f", str(config)],
            capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert refused.returncode == 2
        assert error in refused.stderr
