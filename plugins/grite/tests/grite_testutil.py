from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

GRITE = [sys.executable, "-m", "toolkit_grite"]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", ".")
    git(path, "config", "user.email", "t@example.com")
    git(path, "config", "user.name", "t")
    return path


class Run:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.proc = proc
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    @property
    def data(self) -> dict:
        doc = json.loads(self.out)
        assert doc["schema_version"] == 1, doc
        assert doc["ok"] is True, doc
        return doc["data"]

    @property
    def error(self) -> dict:
        doc = json.loads(self.err.strip().splitlines()[-1])
        assert doc["schema_version"] == 1, doc
        assert doc["ok"] is False, doc
        return doc["error"]


def grite(cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Run:
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(
        [*GRITE, *args], cwd=cwd, capture_output=True, text=True, env=full_env, timeout=timeout, check=False
    )
    return Run(proc)


def write_tree(repo: Any, files: dict[str, bytes]) -> Any:
    """Write nested trees holding `files` ({path: content}) with pygit2; return the root tree oid."""
    import pygit2

    tb = repo.TreeBuilder()
    subdirs: dict[str, dict[str, bytes]] = {}
    for path, data in files.items():
        head, _sep, rest = path.partition("/")
        if rest:
            subdirs.setdefault(head, {})[rest] = data
        else:
            tb.insert(head, repo.create_blob(data), pygit2.enums.FileMode.BLOB)
    for name, sub in subdirs.items():
        tb.insert(name, write_tree(repo, sub), pygit2.enums.FileMode.TREE)
    return tb.write()


def two_replicas(tmp_path: Path) -> tuple[Path, Path]:
    """Two initialised repositories (alice, bob) sharing the bare remote `origin`."""
    hub = tmp_path / "hub.git"
    hub.mkdir()
    git(hub, "init", "-q", "--bare", ".")
    alice, bob = make_repo(tmp_path / "alice"), make_repo(tmp_path / "bob")
    for repo in (alice, bob):
        git(repo, "remote", "add", "origin", str(hub))
        assert grite(repo, "init", "--no-agents-md").code == 0
    return alice, bob
