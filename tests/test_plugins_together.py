"""All four systems installed together: they load strictly, without clashes, in both entry points."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SYSTEMS = ("grite", "plasmite", "pom", "graveyar")


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=120, check=False, env={"TOOLKIT_STRICT_PLUGINS": "1"}
    )


def test_every_system_loads_strictly():
    out = _run(sys.executable, "-m", "toolkit", "plugins", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["broken"] == []
    by_name = {p["name"]: p for p in data["plugins"]}
    assert set(SYSTEMS) <= set(by_name)
    for system in SYSTEMS:
        assert by_name[system]["commands"] == [system]
        assert by_name[system]["distribution"] == f"toolkit-{system}"


@pytest.mark.parametrize("system", SYSTEMS)
def test_console_script_matches_toolkit_subcommand(system):
    script = Path(sys.executable).parent / system
    assert script.exists() or shutil.which(system), f"console script {system} is not installed"
    via_toolkit = _run(sys.executable, "-m", "toolkit", system, "--help")
    direct = _run(str(script), "--help")
    assert via_toolkit.returncode == direct.returncode == 0
    # Same group, same commands: only the usage line's program name differs.
    assert via_toolkit.stdout.splitlines()[1:] == direct.stdout.splitlines()[1:]


def test_services_are_listed():
    out = _run(sys.executable, "-m", "toolkit", "services", "--json")
    assert out.returncode == 0, out.stderr
    services = json.loads(out.stdout)["services"]
    assert len({s["name"] for s in services}) == len(services)
