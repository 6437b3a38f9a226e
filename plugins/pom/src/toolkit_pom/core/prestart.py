"""Starting the processes that wait for nothing before pom has imported its event loop.

A plain headless `pom up` (`toolkit_pom.cli.fast_up`) spends most of its own start-up importing
asyncio and the supervisor. The processes that can start at once -- enabled, no `depends_on`, not
interactive -- are spawned as soon as the project is loaded and pom holds its lock, so they boot
while pom imports the rest; the supervisor then adopts them (`Supervisor(config, early=...)`) as
their first run, exactly as if it had spawned them itself. The subreaper flag and the watchdog
come first, so no child is unguarded. Only the standard library, `proc` and `config` are imported.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from toolkit_pom.core.config import ProcessSpec, ProjectConfig
from toolkit_pom.core.proc import Watchdog, become_subreaper, kill_group, spawn
from toolkit_pom.core.record import Record, field

__all__ = ["Early", "Spawned", "environment", "instance_token", "prestart", "startable"]


def instance_token(name: str) -> str:
    """Instance `name`'s `POM_INSTANCE` value: inherited by every descendant, the watchdog's marker."""
    return f"{os.getpid()}/{name}"  # `proc.instance_marker` is its prefix


def environment(spec: ProcessSpec, name: str, replica: int, project_dir: Path) -> dict[str, str]:
    """The environment instance `name` (replica `replica`) of `spec` runs with (specs/pom/config.md)."""
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(spec.env)
    env["POM_PROCESS_NAME"] = name
    env["POM_REPLICA"] = str(replica)
    env["POM_PROJECT_DIR"] = str(project_dir)
    env["POM_INSTANCE"] = instance_token(name)
    if spec.port is not None:
        env["PORT"] = str(spec.port + replica - 1)
    return env


class Spawned(Record):
    """A first run started early: the process, its pipes' read ends and when it started (`time.time()`)."""

    proc: subprocess.Popen[bytes]
    out_r: int
    err_r: int
    started_at: float


class Early(Record):
    """What `prestart` set up, for the supervisor to adopt (or `abort` when pom does not get there)."""

    watchdog: Watchdog
    subreaper: bool
    spawned: dict[str, Spawned] = field(default_factory=dict)
    #: When `prestart` began (`time.monotonic()`): the supervisor's start.
    began: float = field(default_factory=time.monotonic)
    #: Set by the supervisor that adopted this (it then owns the watchdog).
    adopted: bool = False
    #: The thread that spawns (each spawn waits for its child's exec with the GIL released).
    spawner: threading.Thread | None = None

    def join(self) -> None:
        """Wait until every early spawn has returned."""
        if self.spawner is not None:
            self.spawner.join()
            self.spawner = None

    def take(self, name: str) -> Spawned | None:
        """Hand over instance `name`'s early run (once)."""
        self.join()
        return self.spawned.pop(name, None)

    def discard(self) -> None:
        """Kill what was started and not handed over (whole group, SIGKILL) and reap it."""
        self.join()
        while self.spawned:
            _name, run = self.spawned.popitem()
            kill_group(run.proc.pid, signal.SIGKILL)
            for fd in (run.out_r, run.err_r):
                with contextlib.suppress(OSError):
                    os.close(fd)
            run.proc.wait()
            self.watchdog.unregister(run.proc.pid)

    def abort(self) -> None:
        """Stop before any supervisor adopted this: discard every early run, close the watchdog."""
        if not self.adopted:
            self.discard()
            self.watchdog.close()


def startable(spec: ProcessSpec) -> bool:
    """True for processes `pom up` starts at once: enabled, waiting for nothing, no terminal."""
    return not spec.disabled and not spec.depends_on and not spec.interactive


def prestart(config: ProjectConfig) -> Early:
    """Become a subreaper, start the watchdog, then spawn every `startable` instance of `config`.

    The spawns run on a thread (`Early.join` waits for it): a spawn waits until its child has
    exec'd, which on a busy machine is mostly a wait for the scheduler (~10 ms each at load 10,
    CPython releases the GIL meanwhile), and pom goes on importing the rest of itself. One
    thread: starting a thread also waits for the scheduler, and the start path pays for each.
    """
    early = Early(watchdog=Watchdog(), subreaper=become_subreaper())
    plan = []
    for spec in config.processes.values():
        if startable(spec):
            for replica, name in enumerate(spec.instance_names(spec.replicas), start=1):
                run_spec = spec.for_replica(replica)
                plan.append((name, run_spec, environment(run_spec, name, replica, config.dir)))

    def spawn_all() -> None:
        for name, run_spec, env in plan:
            try:
                proc, out_r, err_r = spawn(run_spec.argv, cwd=run_spec.cwd, env=env)
            except OSError:
                continue  # the supervisor's own spawn tries again and reports the error
            early.watchdog.register(proc.pid)
            early.spawned[name] = Spawned(proc, out_r, err_r, time.time())

    early.spawner = threading.Thread(target=spawn_all, name="pom-prestart", daemon=True)
    early.spawner.start()
    return early
