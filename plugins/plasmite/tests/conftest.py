from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest


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
