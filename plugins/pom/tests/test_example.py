from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "dev-stack" / "pom.toml"


def test_example_stack_comes_up_and_shuts_down_cleanly() -> None:
    assert EXAMPLE.is_file()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "toolkit_pom",
            "up",
            "-f",
            str(EXAMPLE),
            "--exit-when-ready",
            "--no-http",
            "--timeout",
            "60",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "all 5 processes ready" in out.stderr
    assert "stopped cleanly" in out.stderr
    assert "migrate: schema at version 3" in out.stdout
    assert "api says {'schema_version': '3'}" in out.stdout or "worker ready" in out.stdout
    assert "db: shutting down" in out.stdout  # SIGINT reached the db: a graceful stop
