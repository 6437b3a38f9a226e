"""`toolkit --help` must not load any heavy library: it is the command every agent runs first."""

from __future__ import annotations

import json
import subprocess
import sys

# asyncio is stdlib but costs ~30 ms: only commands that serve or follow may load it.
HEAVY = ("pygit2", "lmdb", "nacl", "fastapi", "uvicorn", "textual", "grpc", "psycopg", "starlette", "jq", "asyncio")

PROBE = """
import json, sys
from toolkit.cli import cli
try:
    cli.main(args=sys.argv[1:], prog_name="toolkit", standalone_mode=False)
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _modules_after(*args: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120, check=True,
        env={"TOOLKIT_STRICT_PLUGINS": "1", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    return set(json.loads(out.stderr.strip().splitlines()[-1]))


def test_help_imports_no_heavy_library():
    loaded = _modules_after("--help")
    assert "toolkit.plugins" in loaded  # plugins really were consulted for the command list
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    assert heavy == []


def test_each_system_help_imports_no_heavy_library():
    for system in ("grite", "plasmite", "pom", "graveyar"):
        loaded = _modules_after(system, "--help")
        heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
        assert heavy == [], f"`toolkit {system} --help` imported {heavy}"
