"""honcho's command shape on pom (specs/pom/honcho.md): export formats, global options, start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def pom(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "toolkit_pom", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def app(tmp_path: Path) -> Path:
    (tmp_path / "Procfile").write_text("web: python -m http.server $PORT\nworker: echo working\n")
    (tmp_path / ".env").write_text("GREETING='hello world'\n")
    return tmp_path


def test_export_systemd_and_runit(app: Path) -> None:
    assert pom(app, "export", "-c", "web=2", "-a", "shop", "systemd", "out").returncode == 0
    units = sorted(p.name for p in (app / "out").iterdir())
    assert units == [
        "shop-web-1.service", "shop-web-2.service", "shop-web.target", "shop-worker-1.service",
        "shop-worker.target", "shop.target",
    ]  # fmt: skip
    web2 = (app / "out" / "shop-web-2.service").read_text()
    assert 'Environment="PORT=5001"' in web2
    assert 'Environment="GREETING=hello world"' in web2
    assert pom(app, "export", "-a", "shop", "runit", "rout").returncode == 0
    run = app / "rout" / "shop-worker-1" / "run"
    assert os.access(run, os.X_OK)
    assert (app / "rout" / "shop-worker-1" / "env" / "PORT").read_text() == "5100\n"


def test_bad_export_format_is_a_usage_error(app: Path) -> None:
    result = pom(app, "export", "launchd", "out")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_global_options_pick_root_procfile_and_env(tmp_path: Path) -> None:
    root = tmp_path / "app"
    root.mkdir()
    (root / "Procfile.dev").write_text("only: echo $ANIMAL; exit 3\n")
    (root / "vars.env").write_text("ANIMAL=okapi\n")
    result = pom(tmp_path, "-d", "app", "-f", "Procfile.dev", "-e", "vars.env", "--no-prefix", "start")
    assert result.returncode == 3
    assert "okapi\n" in result.stdout.splitlines(keepends=True)
    run = pom(tmp_path, "-d", "app", "-e", "vars.env", "run", "--", "sh", "-c", "echo $ANIMAL")
    assert run.stdout == "okapi\n"
