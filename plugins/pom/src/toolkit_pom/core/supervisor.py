"""The supervisor: owns instances, the log store, the pipe reader and the watchdog.

Core only (no CLI, HTTP or TUI): adapters call these methods, so every surface behaves
the same. Must be created inside a running event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from toolkit_pom import __version__
from toolkit_pom.core.config import ProcessSpec, ProjectConfig, check_graph
from toolkit_pom.core.ingest import ChangeNotifier, PipeReader
from toolkit_pom.core.instance import UP_STATES, Instance
from toolkit_pom.core.logstore import LogStore
from toolkit_pom.core.prestart import Early, Spawned
from toolkit_pom.core.proc import Watchdog, adopted_children, become_subreaper, kill_group, reap
from toolkit_pom.core.record import replace
from toolkit_pom.errors import UnknownProcess, UsageError

__all__ = ["Supervisor"]

MAX_REPLICAS = 64


def _idle_disabled(dep: Instance) -> bool:
    return dep.spec.disabled and dep.spawn_count == 0 and (dep.task is None or dep.task.done())


def _finished(dep: Instance) -> bool:
    """The dependency's actor is over (no restart pending) after it ran or was skipped."""
    return dep.task is not None and dep.task.done() and dep.state in ("exited", "crashed", "skipped")


def _condition(dep: Instance, cond: str) -> bool:
    if cond == "started":
        return dep.spawn_count > 0 or dep.state == "skipped"
    if cond in ("healthy", "log_ready"):
        return dep.health == "ready"
    if cond == "completed":
        return _finished(dep)
    return _finished(dep) and dep.state == "exited" and dep.exit_code in dep.spec.success_exit_codes


class Supervisor:
    """Runs one project's processes.

    Args:
        config: The validated project.
        early: What `prestart` set up: its watchdog, and first runs the instances adopt.
    """

    def __init__(self, config: ProjectConfig, early: Early | None = None) -> None:
        loop = asyncio.get_running_loop()
        self.config = config
        self.store = LogStore()
        self.logs_changed = ChangeNotifier(loop)
        self.state_changed = ChangeNotifier(loop)
        self.reader = PipeReader(self.logs_changed)
        self.watchdog: Watchdog = early.watchdog if early is not None else Watchdog()
        self._early = early
        if early is not None:
            early.adopted = True
        self.instances: dict[str, Instance] = {}
        self.groups: dict[str, list[str]] = {}
        for spec in config.processes.values():
            self.groups[spec.name] = []
            self._add_instances(spec, spec.replicas)
        self.started_at = time.time()
        #: `time.monotonic()` when this pom began starting processes (`prestart` may have, before this).
        self.started_mono = early.began if early is not None else time.monotonic()
        self.http_url: str | None = None
        #: process-compose's REST API, when `pom up --pc-api` serves it.
        self.pc_api_url: str | None = None
        self.shutdown_event = asyncio.Event()
        #: Set once every process is down and the last log lines are stored.
        self.closed = asyncio.Event()
        self.exit_code = 0
        self.shutdown_reason: str | None = None
        self.selected: list[str] = []
        self._metrics_task: asyncio.Task[None] | None = None
        #: Reads the project's files again (`reload`), or the paths it is given instead; set by `pom up`.
        self.reloader: Callable[..., ProjectConfig] | None = None
        self._psutil_cache: dict[int, Any] = {}
        self._closed = False
        self._escaped: set[int] = set()  # process groups outside every instance's group, told to the watchdog
        self._warned_orphans: set[int] = set()
        self.subreaper = early.subreaper if early is not None else become_subreaper()
        self.reader.start()

    def _add_instances(self, spec: ProcessSpec, count: int) -> list[Instance]:
        """Grow the group of `spec` to `count` instances; return the added ones.

        Instances that exist keep their names (scaling `db` up keeps `db`); new ones take the
        first names of the numbering scheme not in use, and the next replica numbers.
        """
        group = self.groups[spec.name]
        names = [n for n in spec.instance_names(count) if n not in self.instances][: max(0, count - len(group))]
        added = []
        for name in names:
            replica = len(group) + 1
            inst = Instance(self, spec.for_replica(replica), name, replica)
            self.instances[name] = inst
            group.append(name)
            added.append(inst)
        return added

    # ------------------------------------------------------------ lookup

    def resolve(self, names: Iterable[str]) -> list[Instance]:
        """Map names (instances, groups or `all`) to instances, in configuration order.

        Raises:
            UnknownProcess: a name matches nothing (nothing is done).
        """
        wanted: set[str] = set()
        for name in names:
            if name == "all":
                wanted.update(self.instances)
            elif name in self.instances:
                wanted.add(name)
            elif name in self.groups:
                wanted.update(self.groups[name])
            else:
                raise UnknownProcess(
                    f"no process named {name!r}",
                    hint="processes: " + ", ".join(self.instances) + " (or a group name, or all)",
                    details={"name": name},
                )
        return [inst for n, inst in self.instances.items() if n in wanted]

    def get(self, name: str) -> Instance:
        """Return one instance by exact name.

        Raises:
            UnknownProcess: no such instance.
        """
        inst = self.instances.get(name)
        if inst is None:
            if name in self.groups and len(self.groups[name]) == 1:
                return self.instances[self.groups[name][0]]
            raise UnknownProcess(
                f"no process named {name!r}", hint="processes: " + ", ".join(self.instances), details={"name": name}
            )
        return inst

    def _dependencies(self, inst: Instance) -> list[tuple[Instance, str]]:
        """(dependency instance, condition) pairs, leaving out disabled ones never started."""
        return [
            (dep, cond)
            for group, cond in inst.spec.depends_on.items()
            for dep in (self.instances[n] for n in self.groups.get(group, []))
            if not _idle_disabled(dep)
        ]

    def disabled_dependencies(self, inst: Instance) -> list[str]:
        """Dependencies of `inst` that are disabled and were never started (not waited for)."""
        return [
            dep_name
            for group in inst.spec.depends_on
            for dep_name in self.groups.get(group, [])
            if _idle_disabled(self.instances[dep_name])
        ]

    def unsatisfied(self, inst: Instance) -> list[str]:
        """Return the dependencies of `inst` whose condition does not hold yet."""
        return [dep.name for dep, cond in self._dependencies(inst) if not _condition(dep, cond)]

    def doomed(self, inst: Instance) -> list[tuple[str, str]]:
        """Return (dependency, reason) for conditions that can no longer hold (the dependent is skipped)."""
        out = []
        for dep, cond in self._dependencies(inst):
            if _condition(dep, cond) or not _finished(dep):
                continue
            if cond == "completed_successfully":
                out.append((dep.name, f"{dep.name} did not complete successfully ({dep.state})"))
            elif cond in ("healthy", "log_ready"):
                out.append((dep.name, f"{dep.name} ended without becoming ready ({dep.state})"))
        return out

    def closure(self, names: Iterable[str]) -> list[Instance]:
        """Return the named instances plus, transitively, their (non-disabled) dependencies."""
        todo = list(self.resolve(names))
        seen: dict[str, Instance] = {}
        while todo:
            inst = todo.pop()
            if inst.name in seen:
                continue
            seen[inst.name] = inst
            for group in inst.spec.depends_on:
                todo.extend(
                    self.instances[n] for n in self.groups.get(group, []) if not self.instances[n].spec.disabled
                )
        return [inst for n, inst in self.instances.items() if n in seen]

    # ------------------------------------------------------------ lifecycle

    def begin(self, names: Iterable[str] = ()) -> list[Instance]:
        """Start the selection (all enabled processes when empty) and the metrics sampler."""
        names = list(names)
        chosen = self.closure(names) if names else [i for i in self.instances.values() if not i.spec.disabled]
        self.selected = [i.name for i in chosen]
        for inst in chosen:
            inst.start()
        if self._metrics_task is None:
            self._metrics_task = asyncio.create_task(self._metrics_loop(), name="pom:metrics")
        return chosen

    def take_early(self, name: str) -> Spawned | None:
        """Instance `name`'s first run if `prestart` started it (handed over once)."""
        return self._early.take(name) if self._early is not None else None

    def kill_all(self) -> None:
        """SIGKILL every running process group at once (a second Ctrl-C: stop waiting)."""
        for inst in self.instances.values():
            if inst.pid is not None:
                inst.note("killed by a second interrupt")
                kill_group(inst.pid, signal.SIGKILL)

    def request_shutdown(self, exit_code: int = 0, reason: str | None = None) -> None:
        """Ask `pom up` to stop everything and exit (idempotent; the first reason wins)."""
        if not self.shutdown_event.is_set():
            self.exit_code = exit_code
            self.shutdown_reason = reason
            self.shutdown_event.set()

    def _depth(self, group: str, memo: dict[str, int]) -> int:
        if group not in memo:
            deps = self.config.processes[group].depends_on if group in self.config.processes else {}
            memo[group] = 1 + max((self._depth(d, memo) for d in deps), default=0)
        return memo[group]

    async def stop_many(self, instances: list[Instance]) -> None:
        """Stop instances, dependents before their dependencies, each level concurrently."""
        memo: dict[str, int] = {}
        levels: dict[int, list[Instance]] = {}
        for inst in instances:
            levels.setdefault(self._depth(inst.spec.name, memo), []).append(inst)
        for depth in sorted(levels, reverse=True):
            await asyncio.gather(*(inst.stop() for inst in levels[depth]))

    async def restart(self, instances: list[Instance]) -> None:
        """Stop then start each instance (a manual restart resets its backoff)."""
        await self.stop_many(instances)
        for inst in instances:
            inst.start()

    async def scale(self, group: str, replicas: int) -> list[Instance]:
        """Set the number of replicas of `group`; return the instances now in it.

        Raises:
            UnknownProcess: no such group.
            UsageError: count out of range.
        """
        if group not in self.groups:
            raise UnknownProcess(f"no process group named {group!r}", hint="groups: " + ", ".join(self.groups))
        if not 0 <= replicas <= MAX_REPLICAS:
            raise UsageError(f"replicas must be between 0 and {MAX_REPLICAS}", hint="pom scale NAME N")
        spec = self.config.processes[group]
        current = list(self.groups[group])
        if replicas > len(current):
            for inst in self._add_instances(spec, replicas):
                inst.start()
        elif replicas < len(current):
            surplus = [self.instances[n] for n in current[replicas:]]
            await asyncio.gather(*(inst.stop() for inst in surplus))
            for inst in surplus:
                self.groups[group].remove(inst.name)
                del self.instances[inst.name]
        self.state_changed.notify()
        return [self.instances[n] for n in self.groups[group]]

    async def reload(self, files: Sequence[str] = ()) -> dict[str, list[str]]:
        """Load the files again (or `files` instead) and apply the difference; invalid files change nothing.

        Changed processes are stopped and started with the new definition (replicas included),
        removed ones stopped and dropped, added ones started unless disabled; the others are not
        touched. Returns the group names of each kind.

        Raises:
            PomConfigError: the files are invalid now (nothing changed).
            UsageError: this pom cannot reload (started without files to read again).
        """
        if self.reloader is None:
            raise UsageError("this pom cannot reload its configuration", hint="restart it with `pom up`")
        new = self.reloader(files) if files else self.reloader()
        old = self.config.processes
        removed = [g for g in old if g not in new.processes]
        added = [g for g in new.processes if g not in old]
        changed = [g for g in new.processes if g in old and new.processes[g] != old[g]]
        unchanged = [g for g in new.processes if g in old and g not in changed]
        await self._replace_groups(new, [*removed, *changed, *added])
        return {"added": added, "changed": changed, "removed": removed, "unchanged": unchanged}

    async def redefine(self, spec: ProcessSpec) -> None:
        """Give group `spec.name` a new definition: its instances are removed and added again.

        They start unless disabled; `spec.replicas` is their number (process-compose's
        `POST /process`).

        Raises:
            PomConfigError: the new dependencies name no process or make a cycle (nothing changed).
        """
        processes = {**self.config.processes, spec.name: spec}
        check_graph(self.config.file, processes)
        await self._replace_groups(replace(self.config, processes=processes), [spec.name])

    async def _replace_groups(self, config: ProjectConfig, groups: Sequence[str]) -> None:
        """Stop and drop the instances of `groups`, switch to `config`, and add back what it defines."""
        going = [self.instances[n] for g in groups for n in self.groups.get(g, ())]
        await asyncio.gather(*(inst.stop() for inst in going))
        for inst in going:
            del self.instances[inst.name]
        self.config = config
        for group in groups:
            spec = config.processes.get(group)
            if spec is None:
                del self.groups[group]
                continue
            self.groups[group] = []
            for inst in self._add_instances(spec, spec.replicas):
                if not spec.disabled:
                    inst.start()
        self.state_changed.notify()

    async def close(self) -> None:
        """Stop every process and release the reader thread and the watchdog."""
        if self._closed:
            return
        self._closed = True
        await self.stop_many(list(self.instances.values()))
        if self._early is not None:
            await asyncio.to_thread(self._early.discard)  # started early, never adopted (stopped at once)
        await self.sweep_orphans(None)
        if self._metrics_task is not None:
            self._metrics_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._metrics_task
        self.reader.stop()
        await asyncio.to_thread(self.watchdog.close)
        self.closed.set()
        self.logs_changed.notify()

    # ------------------------------------------------------------ views

    def info(self) -> dict[str, Any]:
        """Return the `Info` shape."""
        return {
            "name": self.config.name,
            "dir": str(self.config.dir),
            "config": str(self.config.file),
            "pid": os.getpid(),
            "started_at": self.started_at,
            "http_url": self.http_url,
            "pc_api_url": self.pc_api_url,
            "version": __version__,
        }

    def processes(self) -> list[dict[str, Any]]:
        """Return every instance's `Process` shape in configuration order."""
        return [inst.to_dict() for inst in self.instances.values()]

    def all_up(self, names: Iterable[str], settle: float) -> tuple[bool, list[Instance]]:
        """Return (all settled up, failed instances) for `up --exit-when-ready`."""
        present = [self.instances[n] for n in names if n in self.instances]
        failed = [inst for inst in present if inst.state == "crashed"]
        done = all(self._settled(inst, settle) for inst in present)
        return done and not failed, failed

    @staticmethod
    def _settled(inst: Instance, settle: float) -> bool:
        if inst.state in ("exited", "ready"):
            return True
        # Without a readiness probe, "up for `settle` seconds" is the best evidence there is.
        return inst.state == "running" and inst.spec.readiness is None and (inst.uptime or 0) >= settle

    async def _metrics_loop(self) -> None:
        psutil: Any = None
        while True:
            self._check_watchdog()
            self._adopt_sweep()
            if psutil is not None:
                self._sample(psutil)
            await asyncio.sleep(1.0)
            if psutil is None:
                # Imported after the first round, not at start: psutil's import (~40 ms of CPU,
                # several times that without bytecode caches) would hold up the start burst.
                import psutil as module

                psutil = module

    def _sample(self, psutil: Any) -> None:
        """CPU and RSS of every running instance's process tree; new descendants go to the watchdog."""
        seen: set[int] = set()
        for inst in list(self.instances.values()):
            if inst.pid is None or inst.state not in UP_STATES | {"stopping"}:
                continue
            try:
                root = self._psutil_proc(psutil, inst.pid)
                procs = [root]
                for child in root.children(recursive=True):
                    procs.append(self._psutil_proc(psutil, child.pid))
                    self._watch_escaped(child.pid)
                cpu = 0.0
                rss = 0
                for p in procs:
                    seen.add(p.pid)
                    with contextlib.suppress(psutil.Error):
                        cpu += p.cpu_percent(None)
                        rss += p.memory_info().rss
                inst.cpu_percent = round(cpu, 1)
                inst.memory_rss = rss
            except psutil.Error:
                continue
        for pid in list(self._psutil_cache):
            if pid not in seen:
                del self._psutil_cache[pid]

    def _owner_of(self, pid: int) -> Instance | None:
        """The instance whose environment an adopted orphan carries (`POM_INSTANCE`), if any."""
        try:
            with open(f"/proc/{pid}/environ", "rb") as fh:
                env = fh.read().split(b"\0")
        except OSError:
            return None
        for item in env:
            if item.startswith(b"POM_INSTANCE="):
                token = item.partition(b"=")[2].decode(errors="replace")
                return next((i for i in self.instances.values() if i.token == token), None)
        return None

    def _watch_escaped(self, pid: int) -> None:
        """Tell the watchdog about a descendant's own process group (it survives pom's SIGKILL otherwise)."""
        with contextlib.suppress(OSError):
            pgid = os.getpgid(pid)
            if pgid not in self._escaped and pgid > 1 and pgid != os.getpgid(0):
                self._escaped.add(pgid)
                self.watchdog.register(pgid)

    async def sweep_orphans(self, owner: Instance | None) -> None:
        """Stop adopted orphans (every one, or those `owner` started): SIGTERM, SIGKILL after 2 s, reap."""
        targets = [p for p in adopted_children() if not reap(p) and (owner is None or self._owner_of(p) is owner)]
        if not targets:
            return
        if owner is not None:
            owner.note(f"stopping {len(targets)} escaped descendant(s): {', '.join(map(str, targets))}")
        for sig, grace in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
            for pid in targets:
                with contextlib.suppress(OSError):
                    os.killpg(os.getpgid(pid), sig)
                with contextlib.suppress(OSError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + grace
            while targets and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
                targets = [p for p in targets if not reap(p)]
            if not targets:
                return

    def _adopt_sweep(self) -> None:
        """Reap adopted zombies; orphans of an instance that is not up get SIGTERM, then SIGKILL."""
        for pid in adopted_children():
            if reap(pid):
                continue
            owner = self._owner_of(pid)
            self._watch_escaped(pid)
            if owner is not None and (owner.pid is not None or owner.spec.is_daemon):
                continue
            sig = signal.SIGKILL if pid in self._warned_orphans else signal.SIGTERM
            self._warned_orphans.add(pid)
            with contextlib.suppress(OSError):
                os.killpg(os.getpgid(pid), sig)

    def _check_watchdog(self) -> None:
        """Replace a watchdog that died (someone killed it) and re-register every live group."""
        if self.watchdog.proc.poll() is None:
            return
        self.watchdog.close()
        self.watchdog = Watchdog()
        for inst in self.instances.values():
            if inst.pid is not None:
                self.watchdog.register(inst.pid)

    def _psutil_proc(self, psutil: Any, pid: int) -> Any:
        proc = self._psutil_cache.get(pid)
        if proc is None:
            proc = psutil.Process(pid)
            proc.cpu_percent(None)
            self._psutil_cache[pid] = proc
        return proc
