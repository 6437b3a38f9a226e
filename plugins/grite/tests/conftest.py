from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from toolkit_grite.testing import make_repo


@pytest.fixture(autouse=True)
def _no_daemon(toolkit_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRITE_NO_DAEMON", "1")
    monkeypatch.setenv("TOOLKIT_LOAD_PLUGINS", "grite")
    for var in ("GRITE_ACTOR", "GRITE_HOME", "GRITE_QUIET", "TOOLKIT_JSON"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = make_repo(tmp_path / "repo")
    monkeypatch.chdir(path)
    return path


@pytest.fixture
def g(cli):
    """In-process `grite ... --json` returning data (asserting success)."""

    def run(*args: str) -> dict[str, Any]:
        res = cli("grite", *args, "--json")
        assert res.exit_code == 0, (res.output, res.stderr)
        doc = json.loads(res.output)
        assert doc["ok"] is True
        data: dict[str, Any] = doc["data"]
        return data

    return run
