"""Smoke test of pom's anchor: the real process-compose runs a one-process file here."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from toolkit.testing_peers import require_peer

pytestmark = pytest.mark.interop


def test_process_compose_runs_a_one_process_file(tmp_path: Path) -> None:
    process_compose = require_peer("process-compose")
    config = tmp_path / "process-compose.yaml"
    config.write_text(
        'version: "0.5"\nprocesses:\n  hello:\n    command: "echo hello-from-process-compose"\n'
        "    availability:\n      exit_on_end: true\n"
    )
    env = {**os.environ, "HOME": str(tmp_path), "PC_LOG_FILE": str(tmp_path / "pc.log")}
    proc = subprocess.run(
        [str(process_compose.path), "up", "-f", str(config), "--tui=false", "--no-server"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "hello-from-process-compose" in proc.stdout
