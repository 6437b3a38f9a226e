from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from toolkit_kernel.ipc import DaemonSpec, read_state, stop_daemon

DAEMON_APP = Path(__file__).with_name("daemon_app.py")


def wait_until(predicate: Callable[[], object], timeout: float = 15.0, what: str = "condition") -> None:
    """Poll `predicate` until true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


@pytest.fixture(name="wait_until")
def wait_until_fixture() -> Callable[..., None]:
    return wait_until


@pytest.fixture(name="pid_alive")
def pid_alive_fixture() -> Callable[[int], bool]:
    return pid_alive


@pytest.fixture
def rundir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A short private directory under /tmp (socket paths must stay under 108 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="tk", dir="/tmp"))
    monkeypatch.setenv("TOOLKIT_RUNTIME_DIR", str(path / "run"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def make_spec(rundir: Path) -> Iterator[Callable[..., DaemonSpec]]:
    """Build specs for tests/daemon_app.py; every daemon started is stopped (or killed) afterwards."""
    specs: list[DaemonSpec] = []

    def make(
        *extra: str,
        name: str = "d",
        argv: list[str] | None = None,
        ready_timeout: float = 15.0,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> DaemonSpec:
        sock = rundir / f"{name}.sock"
        lock = rundir / f"{name}.lock"
        if argv is None:
            argv = [sys.executable, str(DAEMON_APP), str(sock), str(lock), *extra]
        spec = DaemonSpec(
            name=name, socket_path=sock, lock_path=lock, argv=argv, ready_timeout=ready_timeout, cwd=cwd, env=env
        )
        specs.append(spec)
        return spec

    yield make
    for spec in specs:
        pid = (read_state(spec) or {}).get("pid")
        with contextlib.suppress(Exception):
            stop_daemon(spec, timeout=5)
        if isinstance(pid, int) and pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
