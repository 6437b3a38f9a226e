"""Run the real grite 0.5.3 (peer `grite`) and ours side by side on the same repositories.

The real binary never ingests WAL events into its sled store on its own (not `sync`, not
`rebuild`): its only path from the WAL to its view is `snapshot create` (which reads the whole
WAL) followed by `rebuild --from-snapshot`. `Real.refresh` does exactly that, so "the real grite
reads what ours wrote" means: its own commands, on its own store, after its own documented steps.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from grite_testutil import GRITE, Run, git

from toolkit.testing_peers import require_peer


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None, timeout: float) -> Run:
    full = dict(os.environ)
    full.update(env or {})
    return Run(subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=full, timeout=timeout, check=False))


class Real:
    """The real `grite` 0.5.3 binary, always `--no-daemon` unless told otherwise."""

    def __init__(self) -> None:
        peer = require_peer("grite")
        self.path = peer.path
        self.daemon_path = peer.exe("grite-daemon")

    def run(self, cwd: Path, *args: str, daemon: bool = False, env: dict[str, str] | None = None) -> Run:
        flags = [] if daemon else ["--no-daemon"]
        return _run([str(self.path), *flags, *args], cwd, env, 120)

    def __call__(self, cwd: Path, *args: str) -> Any:
        res = self.run(cwd, "--json", *args)
        assert res.code == 0, (args, res.out, res.err)
        return res.data

    def refresh(self, cwd: Path) -> int:
        """Let the real grite's sled store see every WAL event (its snapshot route); return the count."""
        made = self.run(cwd, "--json", "snapshot", "create")
        if made.code == 3 and "No WAL commits" in made.err:
            return 0  # an empty WAL: nothing to see
        assert made.code == 0, (made.out, made.err)
        self(cwd, "rebuild", "--from-snapshot")
        return int(made.data["event_count"])


class Ours:
    """Our `grite` console entry point, run as a separate process (local, no daemon)."""

    def run(self, cwd: Path, *args: str, env: dict[str, str] | None = None) -> Run:
        return _run([*GRITE, *args], cwd, {"GRITE_NO_DAEMON": "1", **(env or {})}, 120)

    def __call__(self, cwd: Path, *args: str) -> Any:
        res = self.run(cwd, "--json", *args)
        assert res.code == 0, (args, res.out, res.err)
        return res.data


def new_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", ".")
    git(path, "config", "user.email", "t@example.com")
    git(path, "config", "user.name", "t")
    return path


def summaries(issues: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """0.5.3's summary fields of each issue, keyed by id."""
    keys = ("title", "state", "labels", "assignees", "created_ts", "updated_ts", "comment_count")
    return {i["issue_id"]: {k: i[k] for k in keys} for i in issues}


def event_ids(show: dict[str, Any]) -> set[str]:
    return {e["event_id"] for e in show["events"]}


def kind_names(show: dict[str, Any]) -> list[str]:
    return sorted(next(iter(e["kind"])) for e in show["events"])
