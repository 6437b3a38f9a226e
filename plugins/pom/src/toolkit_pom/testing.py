"""Helpers pom's own tests share: wait for a condition, write a project, drive a `pom up` child.

Imported by tests only (like `toolkit.testing`); shipped so the tests type-check against it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from toolkit_pom.client import PomClient

__all__ = ["RunningPom", "pid_alive", "until", "wait_for", "write_project"]


def wait_for(
    predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05, what: str = "condition"
) -> Any:
    """Poll `predicate` until it returns something truthy (returned); fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def until(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """`wait_for` inside an event loop: polls without blocking the loop the processes run on."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
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
    """Write a dedented `pom.toml` (and `files`) into `directory`; return the pom.toml path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "pom.toml"
    path.write_text(textwrap.dedent(toml))
    for name, body in (files or {}).items():
        (directory / name).write_text(textwrap.dedent(body))
    return path


class RunningPom:
    """A `pom up` child process and a control client to it."""

    def __init__(self, config: Path, proc: subprocess.Popen[bytes], out: Path) -> None:
        self.config = config
        self.dir = config.parent
        self.proc = proc
        self.out = out
        self.client = PomClient(self.dir, timeout=30)

    def call(self, op: str, **args: Any) -> Any:
        """Send one control request."""
        return self.client.call(op, **args)

    def ps(self) -> dict[str, dict[str, Any]]:
        """Every `Process` by name."""
        return {p["name"]: p for p in self.call("ps")["processes"]}

    def wait_state(self, name: str, *states: str, timeout: float = 20.0) -> dict[str, Any]:
        """Wait until `name` is in one of `states`; return its `Process`."""
        found: dict[str, Any] = wait_for(
            lambda: (p := self.ps()[name])["state"] in states and p, timeout, what=f"{name} in {states}"
        )
        return found

    def output(self) -> str:
        """What pom printed so far."""
        return self.out.read_text(errors="replace")
