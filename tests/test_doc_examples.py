"""Every Python example in docs/ runs, as written, against real servers where it needs one.

Each ```python block of every page under docs/ (not the example plugin's own files and not the
generated reference) runs in a fresh interpreter, in an empty temporary directory with its own
TOOLKIT_HOME and pool directory. A block that talks to a server says so in a comment line just
before it: `<!-- docs-test: server=graveyar -->` starts that plugin's service (from its
`toolkit_services` spec) on a free loopback port and points the block's documented default
address at it. A block can't opt out: an example that does not run is a bug in the docs.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from toolkit.testing import free_port

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
BLOCK = re.compile(r"(?:<!--\s*docs-test:\s*(?P<directive>[^>]*?)\s*-->\s*\n)?```python\n(?P<code>.*?)```", re.S)
SKIP_DIRS = ("plugins/example", "reference")


@dataclass(frozen=True)
class Example:
    page: Path
    line: int
    code: str
    server: str | None

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(DOCS)}:{self.line}"


def _examples() -> list[Example]:
    found = []
    for page in sorted(DOCS.rglob("*.md")):
        relative = page.relative_to(DOCS).as_posix()
        if relative.startswith(SKIP_DIRS):
            continue
        text = page.read_text()
        for match in BLOCK.finditer(text):
            directive = dict(item.split("=", 1) for item in (match.group("directive") or "").split() if "=" in item)
            line = text[: match.start("code")].count("\n")
            found.append(Example(page, line, match.group("code"), directive.get("server")))
    return found


EXAMPLES = _examples()


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"the server never listened on 127.0.0.1:{port}:\n{log.read_text()}")


@contextmanager
def _service(name: str, env: dict[str, str], workdir: Path) -> Iterator[tuple[str, str]]:
    """Run the plugin's service on a free port; yield (documented address, actual address)."""
    from toolkit.plugins import get_plugins

    specs = {spec.name: spec for spec in get_plugins().services()}
    spec = specs[name]
    port = free_port()
    toolkit = Path(sys.executable).with_name("toolkit")
    argv = [str(toolkit), *spec.argv[1:], "--bind", f"127.0.0.1:{port}"]
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, proc, log)
        documented = spec.default_address.removeprefix("http://").split("/")[0]
        yield documented, f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_docs_python_example_runs(example: Example, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TOOLKIT_HOME": str(tmp_path / "home"),
        "TOOLKIT_PLASMITE_DIR": str(tmp_path / "pools"),
        "TOOLKIT_RUNTIME_DIR": os.environ.get("TOOLKIT_RUNTIME_DIR", str(tmp_path / "run")),
    }
    workdir = tmp_path / "work"
    workdir.mkdir()
    code = example.code
    with _service(example.server, env, workdir) if example.server else _nothing() as addresses:
        if addresses is not None:
            documented, actual = addresses
            assert documented in code, f"{example.id} does not use {documented}, the documented address"
            code = code.replace(documented, actual)
        proc = subprocess.run(
            [sys.executable, "-c", code], cwd=workdir, env=env, capture_output=True, text=True, timeout=120, check=False
        )
    assert proc.returncode == 0, f"{example.id} failed:\n{proc.stdout}\n{proc.stderr}"


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def test_docs_have_python_examples() -> None:
    assert len(EXAMPLES) >= 10
