"""One process instance and its actor: spawn, probe, watch, stop, restart with backoff.

Each instance runs one asyncio task (its actor). Commands from the CLI, HTTP API and TUI
only set events the actor waits on, so all state transitions happen in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import signal
import time
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any

from toolkit_pom.core import probes
from toolkit_pom.core.config import Probe, ProcessSpec
from toolkit_pom.core.logstore import POM, STDERR, STDOUT, ProcessLog
from toolkit_pom.core.prestart import Spawned, environment, instance_token
from toolkit_pom.core.proc import group_alive, kill_group, spawn, spawn_off_loop, wait_exit
from toolkit_pom.core.record import replace
from toolkit_pom.core.regex import compile_pattern

if TYPE_CHECKING:
    import subprocess

    from toolkit_pom.core.supervisor import Supervisor

__all__ = ["UP_STATES", "Instance"]

UP_STATES = frozenset({"starting", "running", "ready"})
FINAL_STATES = frozenset({"stopped", "exited", "crashed", "disabled", "skipped"})
_EOF_GRACE = 2.0
#: After readiness passed, non-log readiness probes run at most this often (seconds).
READY_RECHECK_S = 5.0


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def _expand_target(probe: Probe, env: Mapping[str, str]) -> Probe:
    """Expand `$NAME`/`${NAME}` in an http/tcp/unix target with the instance's environment (per replica)."""
    if probe.kind not in ("http", "tcp", "unix") or "$" not in probe.target:
        return probe
    target = _VAR.sub(lambda m: env.get(m.group(1) or m.group(2), ""), probe.target)
    return replace(probe, target=target)


def exit_status(code: int) -> int:
    """Map a child's exit code (negative: killed by that signal) to a shell-style status 1..255."""
    if code < 0:
        return 128 + (-code)
    return code if 0 < code < 256 else 1


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


class Instance:
    """A running (or runnable) instance of a configured process.

    Args:
        sup: The owning supervisor.
        spec: The process configuration.
        name: Instance name (`web` or `web.2`).
        replica: 1-based replica number.
    """

    def __init__(self, sup: Supervisor, spec: ProcessSpec, name: str, replica: int) -> None:
        self.sup = sup
        self.spec = spec
        self.name = name
        self.replica = replica
        #: Inherited by every descendant as POM_INSTANCE: finds the ones that escape the group.
        self.token = instance_token(name)
        self.log: ProcessLog = sup.store.log(name, spec.log_max_bytes)
        self.state = "disabled" if spec.disabled else "stopped"
        self.health: str | None = None
        self.pid: int | None = None
        self.exit_code: int | None = None
        self.restarts = 0
        self.spawn_count = 0
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.message: str | None = None
        self.blocked_by: list[str] = []
        self.cpu_percent: float | None = None
        self.memory_rss: int | None = None
        self.task: asyncio.Task[None] | None = None
        self._streak = 0
        self._started_mono = 0.0
        self._stop = asyncio.Event()
        self._kill = asyncio.Event()
        self._kill_reason: str | None = None
        self._run_token = 0
        self._spawn_cursor = 0
        #: The master side of an interactive process's terminal (for input), while it runs.
        self._tty: int | None = None
        self._daemon_group: int | None = None

    # ------------------------------------------------------------ public surface

    @property
    def up(self) -> bool:
        """True while the process is spawned and not being stopped."""
        return self.state in UP_STATES

    @property
    def uptime(self) -> float | None:
        """Seconds since the current run started, or None when not running."""
        if self.pid is None:
            return None
        return time.monotonic() - self._started_mono

    def note(self, text: str) -> None:
        """Append one of pom's own event lines to this instance's log."""
        self.log.append_text(POM, text, time.time())
        self.sup.logs_changed.notify()

    def start(self) -> bool:
        """Start the actor unless it is already active; return True if it was started."""
        if self.task is not None and not self.task.done():
            return False
        self._stop = asyncio.Event()
        self._kill = asyncio.Event()
        self._streak = 0
        self.message = None
        self.task = asyncio.create_task(self._run(), name=f"pom:{self.name}")
        # Dependents decide on "finished" dependencies, which needs the task to be done.
        self.task.add_done_callback(lambda _t: self.sup.state_changed.notify())
        return True

    async def stop(self) -> None:
        """Stop the process (whole group, signal then SIGKILL) and wait until it is down."""
        task = self.task
        if task is None or task.done():
            if self.state not in ("disabled", "crashed", "skipped"):
                self._set("stopped")
            return
        self._stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(task)

    def write_input(self, data: bytes) -> bool:
        """Type `data` into an interactive process's terminal; False when it has none (not running)."""
        if self._tty is None or self.pid is None:
            return False
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self._tty, view) :]
            except BlockingIOError:
                return False  # the terminal's input buffer is full: the process is not reading
            except OSError:
                return False
        return True

    def send_signal(self, sig: int) -> bool:
        """Send `sig` to the process group; return False when it is not running."""
        if self.pid is None:
            return False
        self.note(f"sending {signal.Signals(sig).name} to process group {self.pid}")
        return kill_group(self.pid, sig)

    def to_dict(self) -> dict[str, Any]:
        """Return the `Process` JSON shape (specs/pom/control-protocol.md)."""
        uptime = self.uptime
        return {
            "name": self.name,
            "group": self.spec.name,
            "replica": self.replica,
            "state": self.state,
            "health": self.health,
            "pid": self.pid,
            "exit_code": self.exit_code,
            "restarts": self.restarts,
            "uptime_s": None if uptime is None else round(uptime, 3),
            "started_at": self.started_at,
            "cpu_percent": self.cpu_percent,
            "memory_rss": self.memory_rss,
            "command": self.spec.command,
            "namespace": self.spec.namespace,
            "disabled": self.spec.disabled,
            "service": self.spec.service,
            "depends_on": dict(self.spec.depends_on),
            "blocked_by": list(self.blocked_by),
            "message": self.message,
            "log": self.log.stats(),
        }

    # ------------------------------------------------------------ actor

    def _set(self, state: str, message: str | None = None) -> None:
        self.state = state
        if message is not None:
            self.message = message
        self.sup.state_changed.notify()

    async def _first(self, *aws: Awaitable[Any]) -> None:
        """Wait until the first of `aws` completes; cancel the rest."""
        tasks = [asyncio.ensure_future(a) for a in aws]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                if not t.done():
                    t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t

    async def _run(self) -> None:
        try:
            outcome = await self._wait_dependencies()
            if outcome != "go":
                if outcome == "skipped":
                    self._skip()
                else:
                    self._set("stopped")
                return
            while True:
                code = await self._run_once()
                if self._stop.is_set():
                    self._set("stopped", "stopped by request")
                    return
                if self.spec.is_daemon and code == 0:
                    await self._daemon_running()
                    return
                if not await self._after_exit(code):
                    if self.spec.exit_on_end and not self.sup.shutdown_event.is_set():
                        self.sup.request_shutdown(
                            code and exit_status(code), f"{self.name} ended and exit_on_end is set"
                        )
                    return
        except asyncio.CancelledError:
            self._set("stopped")
            raise
        except Exception as exc:  # an actor must never die silently
            self.note(f"pom internal error: {type(exc).__name__}: {exc}")
            self._set("crashed", f"internal error: {exc}")

    async def _wait_dependencies(self) -> str:
        """Return "go", "skipped" (a condition can never hold) or "stopped"."""
        if not self.spec.depends_on:
            return "go"
        self._set("pending")
        for dep in self.sup.disabled_dependencies(self):
            self.note(f"dependency {dep} is disabled; not waiting for it")
        while not self._stop.is_set():
            doomed = self.sup.doomed(self)
            if doomed:
                self.blocked_by = [name for name, _ in doomed]
                self.message = "; ".join(reason for _, reason in doomed)
                return "skipped"
            blocked = self.sup.unsatisfied(self)
            self.blocked_by = blocked
            if not blocked:
                self.sup.state_changed.notify()
                return "go"
            self.message = "waiting for " + ", ".join(blocked)
            await self._first(self.sup.state_changed.wait(1.0), self._stop.wait())
        return "stopped"

    def _skip(self) -> None:
        self.note(f"skipped: {self.message}")
        self._set("skipped")
        if self.spec.exit_on_skipped:
            self.sup.request_shutdown(1, f"{self.name} was skipped and exit_on_skipped is set")

    async def _daemon_running(self) -> None:
        """A daemon's launcher exited 0: it counts as running until stopped (then its shutdown command)."""
        self.note("daemon launched; running until stopped")
        self._set("running")
        await self._stop.wait()
        self._set("stopping")
        if self.spec.shutdown_command:
            await self._run_shutdown_command(self._environment())
        elif self._daemon_group is not None:
            kill_group(self._daemon_group, self.spec.shutdown_signal)
        if self._daemon_group is not None:
            deadline = time.monotonic() + self.spec.shutdown_timeout
            while group_alive(self._daemon_group) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await self._reap_group(self._daemon_group)
            self._daemon_group = None
        await self.sup.sweep_orphans(self)
        self._set("stopped", "stopped by request")

    def _environment(self) -> dict[str, str]:
        return environment(self.spec, self.name, self.replica, self.sup.config.dir)

    async def _run_once(self) -> int:
        env = self._environment()
        self._kill = asyncio.Event()
        self._kill_reason = None
        early = self.sup.take_early(self.name) if self.spawn_count == 0 else None
        if early is not None:
            proc, out_r, err_r = early.proc, early.out_r, early.err_r
        else:
            try:
                proc, out_r, err_r = await spawn_off_loop(
                    self.spec.argv, cwd=self.spec.cwd, env=env, tty=self.spec.interactive
                )
            except OSError as exc:
                self.note(f"failed to start {self.spec.command!r}: {exc.strerror or exc}")
                self.exit_code = 127
                self.ended_at = time.time()
                return 127
        eofs = self._launched(proc, out_r, err_r, early)
        helpers = self._start_probes(env)
        exit_task = asyncio.create_task(wait_exit(proc))
        try:
            await self._first(asyncio.shield(exit_task), self._stop.wait(), self._kill.wait())
            if not exit_task.done():
                self._set("stopping")
                await self._terminate(proc, exit_task)
            code = await exit_task
        finally:
            self._run_token += 1  # helpers of this run see it and stop even if a cancel is lost
            for h in helpers:
                h.cancel()
            if helpers:
                await asyncio.wait(helpers, timeout=2.0)
        if self.spec.is_daemon and code == 0 and not self._stop.is_set():
            self._daemon_group = proc.pid  # the daemon it forked lives on in this group
        else:
            await self._reap_group(proc.pid)
            await self.sup.sweep_orphans(self)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*eofs), _EOF_GRACE)
        self._ended(proc.pid, code)
        return code

    def _launched(
        self, proc: subprocess.Popen[bytes], out_r: int, err_r: int, early: Spawned | None = None
    ) -> list[asyncio.Future[None]]:
        """Record a fresh spawn (or one `prestart` made) and hand its pipes to the reader; return the EOF futures."""
        loop = asyncio.get_running_loop()
        self.sup.watchdog.register(proc.pid)
        self.note(f"started pid {proc.pid}: {self.spec.command}")
        # Before the reader thread sees the pipes: a child that prints its ready line at once
        # must land after this cursor, or a log readiness probe would never see it.
        self._spawn_cursor = self.log.next_id - 1
        pipes = [(out_r, STDOUT), (err_r, STDERR)] if err_r >= 0 else [(out_r, STDOUT)]
        eofs: list[asyncio.Future[None]] = [loop.create_future() for _ in pipes]
        if self._tty is not None:
            os.close(self._tty)
        # A terminal's master side is both the output (owned by the reader) and the input.
        self._tty = os.dup(out_r) if err_r < 0 else None
        for (fd, stream), fut in zip(pipes, eofs, strict=True):
            self.sup.reader.add(fd, self.log, stream, functools.partial(_resolve, fut))
        self.pid = proc.pid
        self.exit_code = None
        self.spawn_count += 1
        self.started_at = early.started_at if early is not None else time.time()
        # Uptime counts from now even for an early run: `--exit-when-ready`'s settle time must be
        # time this supervisor watched the process (it may have exited before it was adopted).
        self._started_mono = time.monotonic()
        self.health = "not_ready" if self.spec.readiness or self.spec.liveness else None
        self.blocked_by = []
        self.message = None
        self._set("starting" if self.spec.readiness else "running")
        return eofs

    def _start_probes(self, env: dict[str, str]) -> list[asyncio.Task[None]]:
        helpers = []
        if self.spec.readiness is not None:
            probe = _expand_target(self.spec.readiness, env)
            helpers.append(asyncio.create_task(self._readiness(probe, self._spawn_cursor, env)))
        if self.spec.liveness is not None:
            helpers.append(asyncio.create_task(self._liveness(_expand_target(self.spec.liveness, env), env)))
        return helpers

    def _ended(self, pgid: int, code: int) -> None:
        self.sup.watchdog.unregister(pgid)
        self.pid = None
        if self._tty is not None:
            os.close(self._tty)
            self._tty = None
        self.exit_code = code
        self.ended_at = time.time()
        self.cpu_percent = None
        self.memory_rss = None
        if self.health is not None:
            clean = code in self.spec.success_exit_codes and self._kill_reason is None and not self._stop.is_set()
            self.health = "completed" if clean else "not_ready"
        prefix = "stopped: " if self._stop.is_set() else ""
        self.note(prefix + _describe_exit(code) + (f" ({self._kill_reason})" if self._kill_reason else ""))

    async def _run_shutdown_command(self, env: dict[str, str]) -> None:
        """Run `shutdown_command` through the shell with the process environment (bounded by the timeout)."""
        command = self.spec.shutdown_command or ""
        self.note(f"running shutdown command: {command}")
        try:
            helper, out_r, err_r = spawn(("/bin/sh", "-c", command), cwd=self.spec.cwd, env=env)
        except OSError as exc:
            self.note(f"shutdown command failed to start: {exc.strerror or exc}")
            return
        for fd, stream in ((out_r, STDOUT), (err_r, STDERR)):
            self.sup.reader.add(fd, self.log, stream, lambda: None)
        try:
            await asyncio.wait_for(wait_exit(helper), self.spec.shutdown_timeout)
        except TimeoutError:
            kill_group(helper.pid, signal.SIGKILL)
            await wait_exit(helper)

    async def _terminate(self, proc: subprocess.Popen[bytes], exit_task: asyncio.Task[int]) -> None:
        sig = self.spec.shutdown_signal
        timeout = self.spec.shutdown_timeout
        deadline = time.monotonic() + timeout
        if self.spec.shutdown_command:
            await self._run_shutdown_command(self._environment())
        elif self.spec.shutdown_parent_only:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, sig)
        else:
            kill_group(proc.pid, sig)
        try:
            await asyncio.wait_for(asyncio.shield(exit_task), timeout)
        except TimeoutError:
            self.note(f"still running {timeout:g}s after {signal.Signals(sig).name}; sending SIGKILL to the group")
            kill_group(proc.pid, signal.SIGKILL)
            return
        # The leader is gone; give the rest of its group what is left of the timeout.
        while group_alive(proc.pid) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def _reap_group(self, pgid: int) -> None:
        """Kill whatever is left in the group once the leader has exited (no orphans)."""
        if not group_alive(pgid):
            return
        kill_group(pgid, signal.SIGKILL)
        deadline = time.monotonic() + 5.0
        while group_alive(pgid) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    async def _after_exit(self, code: int) -> bool:
        """Apply the restart policy; return True to run again."""
        spec = self.spec
        success = code in spec.success_exit_codes and self._kill_reason is None
        uptime = (self.ended_at or time.time()) - (self.started_at or time.time())
        if spec.restart == "exit_on_failure" and not success:
            self._set("crashed", _describe_exit(code))
            reason = f"{self.name} failed ({_describe_exit(code)}) and restart = exit_on_failure"
            self.sup.request_shutdown(exit_status(code), reason)
            return False
        again = spec.restart == "always" or (spec.restart == "on_failure" and not success)
        if not again:
            self._set("exited" if success else "crashed", _describe_exit(code))
            return False
        if uptime >= spec.stable_after:
            self._streak = 0
        if spec.max_restarts and self._streak >= spec.max_restarts:
            # The last run's own outcome decides: restart=always with a clean exit ends `exited`.
            text = f"gave up after {self._streak} restarts ({_describe_exit(code)})"
            self.note(text)
            self._set("exited" if success else "crashed", text)
            return False
        self._streak += 1
        self.restarts += 1
        delay = min(spec.backoff_max, spec.backoff_initial * spec.backoff_factor ** (self._streak - 1))
        self.note(f"restart {self._streak} in {delay:.2f}s")
        self._set("restarting", f"restart {self._streak} in {delay:.2f}s")
        await self._first(asyncio.sleep(delay), self._stop.wait())
        if self._stop.is_set():
            self._set("stopped", "stopped by request")
            return False
        return True

    def _mark_ready(self, ready: bool) -> None:
        if ready and self.health != "ready":
            self.health = "ready"
            self.note("ready")
            if self.state in ("starting", "running"):
                self._set("ready")
        elif not ready and self.health == "ready":
            self.health = "not_ready"
            self.note("readiness probe failing")
            if self.state == "ready":
                self._set("running")

    async def _readiness(self, probe: Probe, cursor: int, env: dict[str, str]) -> None:
        token = self._run_token
        if probe.initial_delay:
            await asyncio.sleep(probe.initial_delay)
        if probe.kind == "log":
            pattern = compile_pattern(probe.target)
            while token == self._run_token:
                result = self.log.snapshot().query(after_id=cursor, regex=pattern)
                if any(line.stream != "pom" for line in result.lines):
                    self._mark_ready(True)
                    return
                cursor = result.next_after_id
                await self.sup.logs_changed.wait(probe.period)
        ok_streak = bad_streak = 0
        while token == self._run_token:
            ok = await probes.check(probe, cwd=self.spec.cwd, env=env)
            ok_streak, bad_streak = (ok_streak + 1, 0) if ok else (0, bad_streak + 1)
            if ok_streak >= probe.success_threshold:
                self._mark_ready(True)
            elif bad_streak >= probe.failure_threshold:
                self._mark_ready(False)
            # Once ready, a fast startup poll would only burn CPU: re-check at a calmer pace.
            await asyncio.sleep(max(probe.period, READY_RECHECK_S) if self.health == "ready" else probe.period)

    async def _liveness(self, probe: Probe, env: dict[str, str]) -> None:
        token = self._run_token
        if probe.initial_delay:
            await asyncio.sleep(probe.initial_delay)
        failures = 0
        while token == self._run_token:
            ok = await probes.check(probe, cwd=self.spec.cwd, env=env)
            failures = 0 if ok else failures + 1
            if failures >= probe.failure_threshold:
                self.note(f"liveness probe failed {failures} times; stopping the process")
                self._kill_reason = "liveness probe failed"
                self._kill.set()
                return
            await asyncio.sleep(probe.period)
