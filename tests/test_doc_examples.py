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
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from toolkit.testing_docs import running_service

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
    with running_service(example.server, env, workdir) if example.server else _nothing() as service:
        if service is not None:
            assert service.documented in code, f"{example.id} does not use {service.documented}, the documented address"
            code = service.replace(code)
        proc = subprocess.run(
            [sys.executable, "-c", code], cwd=workdir, env=env, capture_output=True, text=True, timeout=120, check=False
        )
    assert proc.returncode == 0, f"{example.id} failed:\n{proc.stdout}\n{proc.stderr}"


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def test_docs_have_python_examples() -> None:
    assert len(EXAMPLES) >= 10
