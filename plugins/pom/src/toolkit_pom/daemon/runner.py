"""`pom up`: run a supervisor with its control socket, HTTP API and a front end (TUI or headless).

This is the adapter that wires the core (Supervisor, Control) to the kernel IPC server,
the HTTP server and the terminal. It is imported only when `pom up` runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from toolkit_kernel.errors import ToolkitError
from toolkit_kernel.ipc import IpcServer
from toolkit_pom.core.config import ProjectConfig
from toolkit_pom.core.control import Control, LogQuery, Merged, merge_logs
from toolkit_pom.core.prestart import Early
from toolkit_pom.core.record import Record
from toolkit_pom.core.startburst import end_start_burst
from toolkit_pom.core.supervisor import Supervisor
from toolkit_pom.daemon.listeners import AlreadyRunning, Held, acquire, lock_path_for
from toolkit_pom.errors import ProcessFailed, ReadyTimeout

__all__ = ["AlreadyRunning", "UpOptions", "lock_path_for", "run_up"]


class UpOptions(Record):
    """What `pom up` was asked to do."""

    names: Sequence[str] = ()
    http: str | None = None
    token: str | None = None
    tui: bool = False
    quiet: bool = False
    exit_when_ready: bool = False
    timeout: float = 60.0
    settle: float = 1.0
    #: process-compose's REST API on its own loopback listener (`--pc-api HOST:PORT`).
    pc_api: str | None = None
    #: Headless output: the `HH:MM:SS name | ` prefix (honcho's --no-prefix turns it off).
    prefix: bool = True
    #: Headless output: processes whose lines are not printed (honcho's -q).
    silenced: frozenset[str] | set[str] = frozenset()
    #: Loads the project's files again with the same options (`pom reload`), or the files given
    #: instead (process-compose's project update); None: reload refused.
    reload: Callable[..., ProjectConfig] | None = None
    #: Reload whenever one of the config files changes (`pom up --watch`).
    watch: bool = False


#: How often `--watch` looks at the config files' modification times.
WATCH_INTERVAL_S = 0.3


def _url(sock: socket.socket) -> str:
    if sock.family == socket.AF_UNIX:
        return f"unix:{sock.getsockname()}"
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"


class Printer:
    """Headless output: `HH:MM:SS name | line`, written off-loop so a slow terminal stalls nothing."""

    def __init__(
        self, sup: Supervisor, quiet: bool, prefix: bool = True, silenced: frozenset[str] | set[str] = frozenset()
    ) -> None:
        self.sup = sup
        self.prefix = prefix
        self.silenced = silenced
        self.query = LogQuery(stream="pom" if quiet else None, after_id=0, limit=5000)
        self.cursors: dict[str, int] = {}

    async def flush(self) -> bool:
        """Print what is new; return True if anything was printed."""
        instances = list(self.sup.instances.values())
        for inst in instances:
            self.cursors.setdefault(inst.name, 0)
        # Up to `limit` lines of each process per round, merged by time (not cut to `limit` in
        # all, which would read the others' lines again next round).
        merged, gaps, cursors = merge_logs(instances, self.query, self.cursors)
        self.cursors.update(cursors)
        if not merged and not gaps:
            return False
        await asyncio.to_thread(_write, sys.stdout, self._render(merged, gaps))
        return True

    def _render(self, merged: Merged, gaps: list[dict[str, Any]]) -> str:
        width = max((len(n) for n in self.sup.instances), default=4)
        chunks = []
        for gap in gaps:
            now = time.strftime("%H:%M:%S")
            chunks.append(f"{now} {gap['process']:<{width}} | [pom] {gap['missed']} lines not shown (evicted)\n")
        heads: dict[str, str | None] = {}
        second, stamp = -1, ""
        for ts, name, _id, line in merged:
            head = heads.get(name, "")
            if head == "":
                silenced = name in self.silenced or name.split(".")[0] in self.silenced
                head = heads[name] = None if silenced else (f"{name:<{width}} | " if self.prefix else "")
            if head is None:
                continue
            if int(ts) != second:  # one strftime per second of output, not per line
                second = int(ts)
                stamp = time.strftime("%H:%M:%S ", time.localtime(second))
            mark = "[pom] " if line.stream == "pom" else ""
            chunks.append(f"{stamp if self.prefix else ''}{head}{mark}{line.text}\n")
        return "".join(chunks)

    async def run(self) -> None:
        """Print forever (cancelled by the runner)."""
        while True:
            if not await self.flush():
                await self.sup.logs_changed.wait(1.0)


def _write(out: Any, text: str) -> None:
    with contextlib.suppress(BrokenPipeError, ValueError):
        out.write(text)
        out.flush()


async def _watch_ready(sup: Supervisor, names: list[str], timeout: float, settle: float) -> None:
    start = sup.started_mono
    while True:
        done, failed = sup.all_up(names, settle)
        if failed:
            desc = ", ".join(f"{i.name} ({i.message or i.state})" for i in failed)
            sup.request_shutdown(1, f"failed before the stack was ready: {desc}")
            return
        if done:
            took = time.monotonic() - start
            sup.request_shutdown(0, f"all {len(names)} processes ready in {took:.2f}s")
            return
        if time.monotonic() - start > timeout:
            waiting = [n for n in names if sup.instances[n].state not in ("ready", "running", "exited")]
            sup.request_shutdown(124, f"not ready within {timeout:g}s: {', '.join(waiting)}")
            return
        await sup.state_changed.wait(0.1)


async def _watch_end(sup: Supervisor, names: list[str]) -> None:
    """process-compose files: the project ends once every started process has ended for good."""
    while True:
        instances = [sup.instances[n] for n in names if n in sup.instances]
        if all(i.task is not None and i.task.done() for i in instances):
            sup.request_shutdown(sup.exit_code, "all processes ended")
            return
        await sup.state_changed.wait(1.0)


async def _serve_http(sup: Supervisor, sock: socket.socket, token: str | None, *, pc_api: bool = False) -> Any:
    # Import the web stack on a thread: the loop keeps reading output and checking readiness meanwhile.
    import importlib

    await asyncio.to_thread(importlib.import_module, "toolkit_pom.http.pc_api" if pc_api else "toolkit_pom.http.server")
    import uvicorn

    from toolkit_kernel.exposure import ExposurePolicy, guard_asgi, uvicorn_options
    from toolkit_pom.http.server import exposed_app

    class _Server(uvicorn.Server):
        def capture_signals(self) -> Any:  # pom owns signal handling
            return contextlib.nullcontext()

    extra: tuple[str, ...]
    if sock.family == socket.AF_UNIX:
        # process-compose's client over its Unix socket sends `Host: unix`; file permissions guard it.
        host, port, extra = "127.0.0.1", 0, ("unix", "localhost")
    else:
        host, port = sock.getsockname()[:2]
        # process-compose's client, given only --port, dials ":PORT" and sends that as its Host.
        extra = (f":{port}",) if pc_api else ()
    policy = ExposurePolicy.for_bind(host, port, token=token, extra_hosts=extra)
    if pc_api:
        from toolkit_pom.http.pc_api import create_pc_app

        app = guard_asgi(create_pc_app(sup), policy, public_paths=("/live",))
    else:
        app = exposed_app(sup, policy)
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False, **uvicorn_options(policy))
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="pom:http")
    return server, task


async def _serve_http_sockets(
    sup: Supervisor, options: UpOptions, http_sock: socket.socket | None, pc_sock: socket.socket | None
) -> list[Any]:
    """Serve pom's HTTP API and process-compose's API on their bound sockets: (server, task) each."""
    servers = []
    if http_sock is not None:
        servers.append(await _serve_http(sup, http_sock, options.token))
    if pc_sock is not None:
        servers.append(await _serve_http(sup, pc_sock, None, pc_api=True))
    return servers


async def run_up(
    config: ProjectConfig, options: UpOptions, held: Held | None = None, early: Early | None = None
) -> tuple[int, str | None, dict[str, Any]]:
    """Run the supervisor until shutdown; return (exit code, reason, final ps).

    `held` is the lock and listeners when the caller took them already (`listeners.acquire`),
    `early` the processes it started already (`core.prestart`); both are released here.

    Raises:
        AlreadyRunning: a pom already runs for this project.
        UsageError: a non-loopback HTTP address without a token.
    """
    if held is None:
        held = acquire(config, options.http, options.pc_api, options.token)
    try:
        return await _supervise(config, options, held.sock_path, held.http_sock, held.pc_sock, early)
    finally:
        held.release()


def _on_signal(sup: Supervisor, sig: int) -> None:
    """First signal: graceful shutdown. A second one while stopping: SIGKILL everything now."""
    if sup.shutdown_event.is_set():
        sup.kill_all()
        return
    sup.request_shutdown(0, f"received {signal.Signals(sig).name}")


def _start_frontends(sup: Supervisor, options: UpOptions, tasks: list[asyncio.Task[Any]]) -> tuple[Printer | None, Any]:
    """Start the headless printer or the TUI; their tasks are appended to `tasks` (printer first)."""
    if not options.tui:
        printer = Printer(sup, options.quiet, options.prefix, options.silenced)
        tasks.append(asyncio.create_task(printer.run(), name="pom:printer"))
        return printer, None
    from toolkit_pom.tui.app import PomApp

    app = PomApp(sup)
    tui_task = asyncio.create_task(app.run_async(), name="pom:tui")
    tui_task.add_done_callback(lambda _t: sup.request_shutdown(0, "quit from the TUI"))
    tasks.append(tui_task)
    return None, app


def _start_watchers(sup: Supervisor, options: UpOptions, names: list[str], tasks: list[asyncio.Task[Any]]) -> None:
    """`--exit-when-ready`, or (process-compose files, headless) the end of every process, stops pom."""
    if options.exit_when_ready:
        tasks.append(asyncio.create_task(_watch_ready(sup, names, options.timeout, options.settle)))
    elif sup.config.kind == "compose" and not options.tui:
        tasks.append(asyncio.create_task(_watch_end(sup, names)))
    if options.watch:
        tasks.append(asyncio.create_task(_watch_files(sup)))


def _stamp(paths: Sequence[Path]) -> list[tuple[int, int] | None]:
    stamps: list[tuple[int, int] | None] = []
    for path in paths:
        try:
            st = path.stat()
            stamps.append((st.st_mtime_ns, st.st_size))
        except OSError:
            stamps.append(None)
    return stamps


async def _settled_stamp(paths: Sequence[Path], interval: float) -> list[tuple[int, int] | None]:
    await asyncio.sleep(interval)
    return _stamp(paths)


async def _watch_files(sup: Supervisor, interval: float = WATCH_INTERVAL_S) -> None:
    """Reload when a config file's mtime or size changes (polling: portable, no extra dependency)."""
    seen = _stamp(sup.config.inputs)
    while True:
        await asyncio.sleep(interval)
        now = _stamp(sup.config.inputs)
        if now == seen:
            continue
        # Wait until the files stop changing: an editor's truncate-then-write must not be read half way.
        while (later := await _settled_stamp(sup.config.inputs, interval)) != now:
            now = later
        seen = now
        try:
            result = await sup.reload()
        except ToolkitError as exc:
            print(f"pom: reload refused, the running config stays: {exc.message}", file=sys.stderr, flush=True)
            continue
        seen = _stamp(sup.config.inputs)  # a reload may change which files are read
        summary = "; ".join(
            f"{kind} {', '.join(names)}" for kind, names in result.items() if names and kind != "unchanged"
        )
        print(f"pom: config reloaded ({summary or 'no changes'})", file=sys.stderr, flush=True)


async def _supervise(
    config: ProjectConfig,
    options: UpOptions,
    sock_path: Path,
    http_sock: socket.socket | None,
    pc_sock: socket.socket | None = None,
    early: Early | None = None,
) -> tuple[int, str | None, dict[str, Any]]:
    loop = asyncio.get_running_loop()
    sup = Supervisor(config, early)
    sup.reloader = options.reload
    control = Control(sup)
    server = IpcServer(sock_path, control.handle, name="pom")
    servers: list[Any] = []
    tasks: list[asyncio.Task[Any]] = []
    try:
        await server.start()
        if http_sock is not None:
            sup.http_url = _url(http_sock)
        if pc_sock is not None:
            sup.pc_api_url = _url(pc_sock)
        if not options.tui:
            api = f"HTTP API on {sup.http_url}" if sup.http_url else "HTTP API off"
            print(f"pom: {config.name} (pid {os.getpid()}); {api}; `pom ps` for status", file=sys.stderr, flush=True)
        chosen = sup.begin(options.names)
        handled = (signal.SIGTERM, signal.SIGHUP) if options.tui else (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        for sig in handled:
            loop.add_signal_handler(sig, _on_signal, sup, sig)
        printer, app = _start_frontends(sup, options, tasks)
        _start_watchers(sup, options, [i.name for i in chosen], tasks)
        end_start_burst()
        # The HTTP servers come up after the processes have been started: importing the web stack
        # takes ~0.3 s of CPU, which would otherwise delay every process. Their sockets already
        # listen, so an early client waits in the backlog instead of being refused.
        servers.extend(await _serve_http_sockets(sup, options, http_sock, pc_sock))
        await sup.shutdown_event.wait()
        final = {"project": sup.info(), "processes": sup.processes()}
        if app is not None:
            app.exit()
        await sup.close()
        if printer is not None:
            tasks[0].cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await tasks[0]
            while await printer.flush():
                pass
        return sup.exit_code, sup.shutdown_reason, final
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for server_task in servers:
            server_task[0].should_exit = True
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(server_task[1], 5)
        await server.close(grace=1.0)
        await sup.close()


def readiness_error(code: int, reason: str | None) -> Exception | None:
    """Map an `--exit-when-ready` outcome to the error to raise (None on success)."""
    if code == 124:
        return ReadyTimeout(reason or "timed out", hint="raise --timeout, or check `pom logs` output above")
    if code != 0:
        return ProcessFailed(reason or "a process failed", hint="see the process output above")
    return None
