"""The grite core context: repository, view, actor, the write path and catch-up.

Every adapter (CLI, daemon) goes through `Grite`; no click here.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import Any

from toolkit_grite.core import gitfs, wal
from toolkit_grite.core.model import Event, make_event
from toolkit_grite.core.refsfs import read_refs
from toolkit_grite.core.repo import ActorInfo, RepoPaths, discover, load_config, resolve_actor
from toolkit_grite.core.view import View
from toolkit_grite.errors import DbBusy, DbError
from toolkit_kernel.errors import LockTimeout

__all__ = ["Grite", "lock_timeout"]

#: Set by the daemon: keep one LMDB environment and one repository handle per path for the
#: life of the process instead of opening them for every command.
SHARED = False
_SHARED_VIEWS: dict[str, View] = {}
_SHARED_REPOS: dict[str, Any] = {}

#: Events between two `git gc --auto` checks.
GC_EVERY = 500

TRACKING_PREFIX = "refs/remotes/"
TRACKING_SUFFIX = "/grite/wal"


def lock_timeout(env: Mapping[str, str] | None = None) -> float:
    """Seconds a writer waits for the write lock (`GRITE_LOCK_TIMEOUT` of `env`, default os.environ; 30)."""
    try:
        return float((os.environ if env is None else env).get("GRITE_LOCK_TIMEOUT", "30"))
    except ValueError:
        return 30.0


class Grite:
    """One repository as seen by one command.

    Args:
        paths: Repository paths (discovered from the current directory when None).
        actor_flag: `--actor` value.
        data_dir: `--data-dir` value.
        env: The caller's environment (`GRITE_ACTOR`, `GRITE_LOCK_TIMEOUT`, `GRITE_AUTO_GC`); the
            daemon passes its client's, everyone else this process's (the default).
    """

    def __init__(
        self,
        paths: RepoPaths | None = None,
        *,
        actor_flag: str | None = None,
        data_dir: str | None = None,
        env: Mapping[str, str] | None = None,
    ):
        self.paths = paths or discover()
        self.actor_flag = actor_flag
        self.data_dir = data_dir
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.paths.grite_dir.mkdir(parents=True, exist_ok=True)
        self._caught_up = False
        self.warnings: list[str] = []
        #: What this command's reads refused to ingest (see `wal.Screen`).
        self.quarantined: list[wal.Problem] = []

    @cached_property
    def repo(self) -> Any:
        """The pygit2 repository."""
        if not SHARED:
            return wal.open_repo(self.paths)
        key = str(self.paths.git_dir)
        if key not in _SHARED_REPOS:
            _SHARED_REPOS[key] = wal.open_repo(self.paths)
        return _SHARED_REPOS[key]

    @cached_property
    def view(self) -> View:
        """The LMDB view (opened on first use)."""
        if not SHARED:
            return View(self.paths.view_dir)
        key = str(self.paths.view_dir)
        view = _SHARED_VIEWS.get(key)
        if view is None or not (self.paths.view_dir / "data.mdb").exists():
            if view is not None:
                view.close()
            view = _SHARED_VIEWS[key] = View(self.paths.view_dir)
        return view

    @cached_property
    def config(self) -> dict[str, Any]:
        """The validated repository configuration."""
        return load_config(self.paths)

    @cached_property
    def actor(self) -> ActorInfo:
        """The acting actor (auto-created on first use when none is configured)."""
        return resolve_actor(self.paths, flag=self.actor_flag, data_dir=self.data_dir, env=self.env)

    def close(self, *, force: bool = False) -> None:
        """Release the view environment (a shared one only with `force`)."""
        if "view" in self.__dict__:
            if not SHARED or force:
                _SHARED_VIEWS.pop(str(self.paths.view_dir), None)
                self.view.close()
            del self.__dict__["view"]

    # -- locking ------------------------------------------------------------------------------

    @contextmanager
    def write_lock(self, timeout: float | None = None) -> Iterator[None]:
        """Hold `.git/grite/write.lock`, waiting at most `timeout` seconds.

        Raises:
            DbBusy: the lock was not obtained in time.
        """
        from toolkit_kernel.locks import FileLock  # writers only: its lease module costs reads ~7 ms of imports

        lock = FileLock(self.paths.write_lock_path)
        try:
            lock.acquire(timeout=lock_timeout(self.env) if timeout is None else timeout)
        except LockTimeout:
            lock.close()
            raise DbBusy(
                "another grite writer holds the write lock",
                hint="retry, raise GRITE_LOCK_TIMEOUT, or use the daemon",
            ) from None
        try:
            yield
        finally:
            lock.release()
            lock.close()

    # -- reading ------------------------------------------------------------------------------

    def wal_head(self) -> str | None:
        """The local WAL head (read from the ref files when possible: no libgit2 import)."""
        common = str(self.paths.common_dir)
        if gitfs.usable(common):
            refs = read_refs(common, (wal.WAL_REF,))
            if refs is not None:
                return refs.get(wal.WAL_REF)
        return wal.ref_target(self.repo, wal.WAL_REF)

    def wal_heads(self) -> list[str]:
        """Heads of the local WAL and of every remote-tracking WAL (local first)."""
        refs = read_refs(str(self.paths.common_dir), (wal.WAL_REF, TRACKING_PREFIX))
        if refs is None:
            refs = {}
            for name in self.repo.references:
                if name == wal.WAL_REF or name.startswith(TRACKING_PREFIX):
                    target = wal.ref_target(self.repo, name)
                    if target:
                        refs[name] = target
        heads = []
        local = refs.get(wal.WAL_REF)
        if local:
            heads.append(local)
        for name, target in sorted(refs.items()):
            if name.startswith(TRACKING_PREFIX) and name.endswith(TRACKING_SUFFIX) and target not in heads:
                heads.append(target)
        return heads

    def catch_up(self, *, force: bool = False) -> int:
        """Ingest WAL commits the view has not seen; return the number of new events."""
        if self._caught_up and not force:
            return 0
        added = 0
        for head in self.wal_heads():
            if self.view.has_commit(head):
                continue
            added += self._ingest_from(head)
        self._caught_up = True
        return added

    def screen(self) -> wal.Screen:
        """The checks every ingested commit passes: event ids, and signatures under `verify_signatures`."""
        policy = self.config["verify_signatures"]
        keys: dict[bytes, bytes] = {}
        if policy != "off":
            from toolkit_grite.core.repo import list_actors

            keys = {
                bytes.fromhex(a["actor_id"]): bytes.fromhex(a["public_key"])
                for a in list_actors(self.paths)
                if a.get("public_key")
            }
        return wal.Screen(keys, policy)

    def _ingest_from(self, head: str) -> int:
        """Ingest the commits below `head` the view has not seen; record what the screen refused."""
        screen = self.screen()
        added = self.view.ingest(wal.walk(self.repo, head, stop=self.view.has_commit, screen=screen))
        self.record_quarantine(screen.problems)
        return added

    def record_quarantine(self, problems: list[wal.Problem]) -> None:
        """Remember refused commits/events (for `sync`, `doctor`, `db check`) in the view and on this object."""
        if problems:
            self.quarantined.extend(problems)
            self.view.add_quarantine(problems)

    def ready(self) -> View:
        """Return the view after catching up with the WAL."""
        self.catch_up()
        return self.view

    # -- writing ------------------------------------------------------------------------------

    def now_ms(self) -> int:
        """Current time in ms."""
        return int(time.time() * 1000)

    def new_event(self, issue_id: bytes, kind: int, payload: list[Any], *, after: int = 0) -> Event:
        """Build and sign an event by the acting actor at `max(now, after + 1)`."""
        ts = max(self.now_ms(), after + 1)
        return make_event(issue_id, self.actor.actor_id, ts, kind, payload, signing_key=self.actor.signing_key)

    def write(self, events: Sequence[Event]) -> str:
        """Append `events` as one WAL commit (the acknowledgement point), then update the view.

        Returns:
            The new WAL head.
        """
        if not events:
            raise DbError("nothing to write")
        with self.write_lock():
            common = str(self.paths.common_dir)
            if gitfs.usable(common):  # no libgit2 (its import is most of a short command's time)
                head = (read_refs(common, (wal.WAL_REF,)) or {}).get(wal.WAL_REF)
                oid = wal.append_files(common, events, self.actor.actor_id, head)
            else:
                head = wal.ref_target(self.repo, wal.WAL_REF)
                oid = wal.append_commit(self.repo, events, self.actor.actor_id, head)
            if head is None or self.view.has_commit(head):
                self.view.ingest([(oid, list(events))])
            else:
                self._ingest_from(oid)
        self._maybe_gc(len(events))
        return oid

    def _maybe_gc(self, written: int) -> None:
        """Every `GC_EVERY` events, let git pack loose objects (`git gc --auto`, as `git commit` does).

        Each append writes about eight small loose objects; git's own threshold decides whether any
        work is due, and `gc --auto` detaches itself, so this costs a few milliseconds at most.
        `GRITE_AUTO_GC=0` turns it off.
        """
        if self.env.get("GRITE_AUTO_GC", "1") in ("0", ""):
            return
        count = int(self.view.get_meta("event_count", 0))
        if count // GC_EVERY == (count - written) // GC_EVERY:
            return
        import subprocess

        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                ["git", f"--git-dir={self.paths.common_dir}", "gc", "--auto", "--quiet"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=60,
                check=False,
            )
