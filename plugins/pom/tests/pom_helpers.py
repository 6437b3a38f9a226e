from __future__ import annotations

import os
import subprocess
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from toolkit_pom.client import PomClient


def wait_for(
    predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05, what: str = "condition"
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rpartition(b")")[2].split()[0] != b"Z"
    except OSError:
        return False


def write_project(directory: Path, toml: str, files: dict[str, str] | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "pom.toml"
    path.write_text(textwrap.dedent(toml))
    for name, body in (files or {}).items():
        (directory / name).write_text(textwrap.dedent(body))
    return path


class RunningPom:
    def __init__(self, config: Path, proc: subprocess.Popen[bytes], out: Path) -> None:
        self.config = config
        self.dir = config.parent
        self.proc = proc
        self.out = out
        self.client = PomClient(self.dir, timeout=30)

    def call(self, op: str, **args: Any) -> Any:
        return self.client.call(op, **args)

    def ps(self) -> dict[str, dict[str, Any]]:
        return {p["name"]: p for p in self.call("ps")["processes"]}

    def wait_state(self, name: str, *states: str, timeout: float = 20.0) -> dict[str, Any]:
        found: dict[str, Any] = wait_for(
            lambda: (p := self.ps()[name])["state"] in states and p, timeout, what=f"{name} in {states}"
        )
        return found

    def output(self) -> str:
        return self.out.read_text(errors="replace")
