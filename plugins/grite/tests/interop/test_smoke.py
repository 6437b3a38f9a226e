"""Smoke tests of the grite anchors: the real grite 0.5.3 and git-bug run here and share a repo with us."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.testing_peers import require_peer
from toolkit_grite.testing import make_repo

pytestmark = pytest.mark.interop


def _run(argv: list[str], cwd: Path, **env: str) -> str:
    full_env = {**os.environ, "HOME": str(cwd.parent), **env}
    proc = subprocess.run(argv, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"{argv} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_real_grite_creates_an_issue_and_ours_lists_it(tmp_path: Path) -> None:
    grite = require_peer("grite")
    repo = make_repo(tmp_path / "repo")
    _run([str(grite.path), "--no-daemon", "init"], repo)
    _run([str(grite.path), "--no-daemon", "issue", "create", "--title", "made by the real grite", "--body", "b"], repo)
    listed = json.loads(_run([sys.executable, "-m", "toolkit_grite", "issue", "list", "--json"], repo))
    assert listed["ok"] is True
    titles = [issue["title"] for issue in listed["data"]["issues"]]
    assert titles == ["made by the real grite"]


def test_git_bug_creates_a_bug(tmp_path: Path) -> None:
    git_bug = require_peer("git-bug")
    repo = make_repo(tmp_path / "repo")
    exe = str(git_bug.path)
    _run([exe, "user", "new", "--name", "Ada", "--email", "ada@example.com", "--non-interactive"], repo)
    _run([exe, "bug", "new", "--title", "made by git-bug", "--message", "m", "--non-interactive"], repo)
    bugs = json.loads(_run([exe, "bug", "--format", "json"], repo))
    assert [bug["title"] for bug in bugs] == ["made by git-bug"]
