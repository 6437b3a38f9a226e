"""Test support for grite: run our `grite` and the real grite 0.5.3 as processes, make repositories.

Shipped with the plugin (like `toolkit.testing`) so grite's tests, interop tests and anyone
testing against grite import it by name; nothing in the plugin imports it. `Real` needs the
real binary installed by `tools/peers` (`toolkit.testing_peers`).
"""

from __future__ import annotations

import hashlib
import json
import os
import selectors
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cbor2

from toolkit_kernel.hashing import grite_event_id

__all__ = [
    "GRITE",
    "Ours",
    "Real",
    "Run",
    "event_ids",
    "git",
    "grite",
    "kind_names",
    "make_repo",
    "read_like_grite_053",
    "summaries",
    "two_replicas",
    "webui",
    "write_tree",
]

#: Our `grite` command, run with this interpreter.
GRITE = [sys.executable, "-m", "toolkit_grite"]


def git(cwd: Path, *args: str) -> str:
    """Run git in `cwd` (failing on error); return its stdout."""
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def make_repo(path: Path) -> Path:
    """A fresh git repository at `path` with a committer identity."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", ".")
    git(path, "config", "user.email", "t@example.com")
    git(path, "config", "user.name", "t")
    return path


class Run:
    """A finished `grite` process: exit code, stdout, stderr, and the JSON envelope's data or error."""

    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.proc = proc
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    @property
    def data(self) -> dict[str, Any]:
        """The success envelope's `data` (asserting success)."""
        doc = json.loads(self.out)
        assert doc["schema_version"] == 1, doc
        assert doc["ok"] is True, doc
        data: dict[str, Any] = doc["data"]
        return data

    @property
    def error(self) -> dict[str, Any]:
        """The error envelope's `error`, from the last stderr line (asserting failure)."""
        doc = json.loads(self.err.strip().splitlines()[-1])
        assert doc["schema_version"] == 1, doc
        assert doc["ok"] is False, doc
        error: dict[str, Any] = doc["error"]
        return error


def grite(cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Run:
    """Run our `grite` in `cwd` with `env` added to this environment."""
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


def read_like_grite_053(repo: Path) -> list[list[Any]]:
    """Independent reader (git CLI + cbor2): follow meta.prev_wal, decode every .bin, check hashes and layout."""
    out: list[list[Any]] = []
    oid = git(repo, "rev-parse", "refs/grite/wal").strip()
    while oid:
        meta = json.loads(git(repo, "show", f"{oid}:meta.json"))
        assert set(meta) == {"schema_version", "actor_id", "chunk_hash", "prev_wal"}
        assert meta["schema_version"] == 1
        raw = git(repo, "cat-file", "-p", oid)
        assert "author grite <grit@local>" in raw
        assert "committer grite <grit@local>" in raw
        msg = raw.split("\n\n", 1)[1].strip()
        files = git(repo, "ls-tree", "-r", "--name-only", oid).split()
        assert sorted(files)[-1] == "meta.json"
        assert len(files) == 2
        path = files[0]
        assert path.startswith("events/")
        assert path.endswith(f"/{meta['chunk_hash']}.bin")
        data = subprocess.run(["git", "show", f"{oid}:{path}"], cwd=repo, capture_output=True, check=True).stdout
        assert hashlib.blake2b(data, digest_size=32).hexdigest() == meta["chunk_hash"]
        assert data[:8] == b"GRITECNK"
        assert struct.unpack("<H", data[8:10])[0] == 1
        assert data[10] == 7
        assert data[11:18] == b"cbor-v1"
        events = cbor2.loads(data[18:])
        assert msg == f"WAL: {len(events)} events from {meta['actor_id'][:8]}"
        for ev in events:
            assert len(ev) == 8
            eid, iid, actor, ts, parent, kind, payload, _sig = ev
            assert grite_event_id(iid, actor, ts, parent, kind, payload) == eid
            day = time.strftime("%Y/%m/%d", time.gmtime(events[0][3] / 1000))
            assert path == f"events/{day}/{meta['chunk_hash']}.bin"
        out = events + out
        oid = meta["prev_wal"]
    return out


# -- the real grite 0.5.3 beside ours --------------------------------------------------------------


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None, timeout: float) -> Run:
    full = dict(os.environ)
    full.update(env or {})
    return Run(subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=full, timeout=timeout, check=False))


class Real:
    """The real `grite` 0.5.3 binary, always `--no-daemon` unless told otherwise."""

    def __init__(self) -> None:
        from toolkit.testing_peers import require_peer

        peer = require_peer("grite")
        self.path = peer.path
        self.daemon_path = peer.exe("grite-daemon")

    def run(self, cwd: Path, *args: str, daemon: bool = False, env: dict[str, str] | None = None) -> Run:
        """Run it in `cwd` (with `--no-daemon` unless `daemon`)."""
        flags = [] if daemon else ["--no-daemon"]
        return _run([str(self.path), *flags, *args], cwd, env, 120)

    def __call__(self, cwd: Path, *args: str) -> Any:
        """Run it with `--json` and return the data (asserting success)."""
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
        """Run it in `cwd`."""
        return _run([*GRITE, *args], cwd, {"GRITE_NO_DAEMON": "1", **(env or {})}, 120)

    def __call__(self, cwd: Path, *args: str) -> Any:
        """Run it with `--json` and return the data (asserting success)."""
        res = self.run(cwd, "--json", *args)
        assert res.code == 0, (args, res.out, res.err)
        return res.data


def summaries(issues: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """0.5.3's summary fields of each issue, keyed by id."""
    keys = ("title", "state", "labels", "assignees", "created_ts", "updated_ts", "comment_count")
    return {i["issue_id"]: {k: i[k] for k in keys} for i in issues}


def event_ids(show: dict[str, Any]) -> set[str]:
    """The event ids of an `issue show` result."""
    return {e["event_id"] for e in show["events"]}


def kind_names(show: dict[str, Any]) -> list[str]:
    """The sorted event kind names of an `issue show` result (0.5.3's `{"KindName": ...}` form)."""
    return sorted(next(iter(e["kind"])) for e in show["events"])


@contextmanager
def webui(repo: Path, *args: str, startup_timeout: float = 120.0) -> Iterator[str]:
    """Run `grite webui --json ARGS` in `repo`; yield its base URL; stop it (SIGTERM) afterwards.

    The deadline for the URL is generous: tests run on loaded, shared machines.
    """
    from toolkit.testing import stop_process  # here: it imports pytest, which benches need not load

    with subprocess.Popen(
        [*GRITE, "webui", "--json", *args], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            with selectors.DefaultSelector() as sel:
                sel.register(proc.stdout, selectors.EVENT_READ)
                deadline = time.monotonic() + startup_timeout
                while not sel.select(timeout=1.0):
                    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                    assert time.monotonic() < deadline, "grite webui printed no URL"
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else ""
            yield str(json.loads(line)["data"]["url"])
        finally:
            stop_process(proc, timeout=60)
