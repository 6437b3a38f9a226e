"""pytest fixtures for plugin authors; opt in with `-p toolkit.testing` (or `pytest_plugins`).

The plugin is not registered through a `pytest11` entry point: installing toolkit-host must not
change anybody else's test sessions. A project opts in from its pytest configuration,
`addopts = ["-p", "toolkit.testing"]`, or its top-level conftest.py,
`pytest_plugins = ["toolkit.testing"]`.

- `toolkit_home` (autouse): a private `TOOLKIT_HOME` under `tmp_path` and a short private
  `TOOLKIT_RUNTIME_DIR` under /tmp (Unix socket paths must stay short), plus a fresh
  plugin manager for every test.
- `cli`: run the `toolkit` command in-process: `cli("hello", "greet", "--json")`.
- `plugin_manager`: build plugins from explicit modules, without reading entry points.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner

from toolkit.plugins import ToolkitPlugins, reset_plugins

__all__ = ["CliResult", "cli", "free_port", "plugin_manager", "stop_process", "toolkit_home"]


@dataclass
class CliResult:
    """The outcome of one in-process `toolkit` run."""

    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    @property
    def output(self) -> str:
        """Stdout (what scripts read)."""
        return self.stdout

    def json(self) -> Any:
        """Parse stdout as one JSON document."""
        return json.loads(self.stdout)

    def assert_success(self) -> CliResult:
        """Fail the test with the full output unless the command exited 0."""
        if self.exit_code != 0:
            raise AssertionError(
                f"exit code {self.exit_code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}\n"
                f"--- exception\n{self.exception!r}"
            )
        return self


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago, for a test server (never a fixed port)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(proc: subprocess.Popen[Any], timeout: float = 15) -> None:
    """Stop a test's server: SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(autouse=True)
def toolkit_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Give every test its own TOOLKIT_HOME, runtime dir, cache dir and plugin manager."""
    home = tmp_path / "toolkit-home"
    home.mkdir()
    runtime = Path(tempfile.mkdtemp(prefix="tk-", dir="/tmp"))  # short: sun_path is 108 bytes
    runtime.chmod(0o700)
    monkeypatch.setenv("TOOLKIT_HOME", str(home))
    monkeypatch.setenv("TOOLKIT_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("TOOLKIT_CACHE_DIR", str(tmp_path / "toolkit-cache"))  # a fresh entry-point index
    for var in ("TOOLKIT_JSON", "TOOLKIT_DEBUG", "TOOLKIT_DISABLE_PLUGINS", "TOOLKIT_LOAD_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    reset_plugins()
    yield home
    reset_plugins()
    shutil.rmtree(runtime, ignore_errors=True)


@pytest.fixture
def cli() -> Callable[..., CliResult]:
    """Return a function that runs `toolkit ARGS...` in-process and returns a `CliResult`."""
    from toolkit.cli import cli as root

    def run(*args: str, input: str | bytes | None = None, env: Mapping[str, str] | None = None) -> CliResult:
        runner = CliRunner()
        result = runner.invoke(root, list(args), input=input, env=dict(env or {}), catch_exceptions=True)
        exception = result.exception if not isinstance(result.exception, SystemExit) else None
        return CliResult(result.exit_code, result.stdout, result.stderr, exception)

    return run


@pytest.fixture
def plugin_manager() -> Iterator[Callable[..., ToolkitPlugins]]:
    """Return a factory: `plugin_manager(my_plugin_module)` registers only those modules.

    The result also becomes the process-wide plugins, so `cli` sees exactly them.
    """

    def build(*modules: ModuleType) -> ToolkitPlugins:
        plugins = ToolkitPlugins(modules, load_entry_points=False)
        reset_plugins(plugins)
        return plugins

    yield build
    reset_plugins()
