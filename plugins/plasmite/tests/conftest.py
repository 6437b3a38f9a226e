from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from toolkit.testing import stop_process


@pytest.fixture(autouse=True)
def pool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own default pool directory (never ~/.plasmite)."""
    d = tmp_path / "pools"
    monkeypatch.setenv("TOOLKIT_PLASMITE_DIR", str(d))
    monkeypatch.delenv("TOOLKIT_PLASMITE_COLOR", raising=False)
    return d


@pytest.fixture
def plasmite_argv() -> list[str]:
    """argv prefix running the console script in a subprocess."""
    return [sys.executable, "-c", "from toolkit_plasmite.cli import main; main()"]


@pytest.fixture
def sub_env(pool_dir: Path) -> dict[str, str]:
    """Environment for subprocesses: the test's pool directory."""
    env = dict(os.environ)
    env["TOOLKIT_PLASMITE_DIR"] = str(pool_dir)
    env.pop("TOOLKIT_JSON", None)
    return env


class Server:
    def __init__(self, proc: subprocess.Popen[str], base_url: str, banner: dict[str, Any]) -> None:
        self.proc = proc
        self.base_url = base_url
        self.banner = banner


@pytest.fixture
def serve(plasmite_argv: list[str], sub_env: dict[str, str]) -> Iterator[Callable[..., Server]]:
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str) -> Server:
        proc = subprocess.Popen(
            [*plasmite_argv, "serve", "--bind", "127.0.0.1:0", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=sub_env,
        )
        procs.append(proc)
        assert proc.stderr is not None
        line = proc.stderr.readline()
        banner = json.loads(line)["notice"]
        assert banner["kind"] == "serve_ready", line
        base = banner["details"]["base_url"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(base + "/healthz", verify=False, timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        return Server(proc, base, banner)

    yield start
    for proc in procs:
        stop_process(proc, timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()
