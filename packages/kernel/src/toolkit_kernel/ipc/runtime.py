"""The daemon side of the lifecycle in `toolkit_kernel.ipc.daemon`: lock, serve, heartbeat, stop."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import secrets
import signal
import sys
import time
from typing import Any

from toolkit_kernel.errors import Busy
from toolkit_kernel.ipc.daemon import DaemonSpec, now_ms, prepare_dirs, read_state
from toolkit_kernel.ipc.server import Handler, IpcServer
from toolkit_kernel.locks import FileLock
from toolkit_kernel.snapshot import atomic_write_text

__all__ = ["DaemonRuntime"]

_LOCK_GRACE_S = 2.0  # a client's liveness probe may hold a shared lock for a moment while we start


class DaemonRuntime:
    """Run inside the daemon process: own the lock, serve, heartbeat, stop when idle or told to.

    Built-in ops (answered before `handler` sees the request): `{"op": "ping"}`,
    `{"op": "status"}` and `{"op": "shutdown"}`.

    Args:
        spec: The same spec clients use.
        handler: See `toolkit_kernel.ipc.Handler`.
        idle_timeout: Stop after this many seconds with no request and no open connection; None never.
        heartbeat_interval: Seconds between rewrites of the state file's `heartbeat_at`.
        max_connections: Passed to `IpcServer`.

    Example:
        >>> sys.exit(DaemonRuntime(spec, handle, idle_timeout=300).main())  # doctest: +SKIP
    """

    def __init__(
        self,
        spec: DaemonSpec,
        handler: Handler,
        *,
        idle_timeout: float | None = None,
        heartbeat_interval: float = 10.0,
        max_connections: int = 64,
    ) -> None:
        self.spec = spec
        self.idle_timeout = idle_timeout
        self.heartbeat_interval = heartbeat_interval
        self.max_connections = max_connections
        self._handler = handler
        self._stop = asyncio.Event()
        self._server: IpcServer | None = None
        self.nonce = secrets.token_hex(16)
        self.started_at = 0
        self.heartbeat_at = 0
        self.stop_reason = ""

    def stop(self, reason: str = "requested") -> None:
        """Ask `run()` to finish (safe from signal handlers and handlers)."""
        if not self._stop.is_set():
            self.stop_reason = reason
            self._stop.set()

    def _write_state(self) -> None:
        self.heartbeat_at = now_ms()
        state = {
            "pid": os.getpid(),
            "started_at": self.started_at,
            "heartbeat_at": self.heartbeat_at,
            "nonce": self.nonce,
            "name": self.spec.name,
            "socket": str(self.spec.socket_path),
        }
        atomic_write_text(self.spec.state_path, json.dumps(state, sort_keys=True) + "\n", mode=0o600)

    def status(self) -> dict[str, Any]:
        """The answer to the built-in `status` op."""
        server = self._server
        return {
            "name": self.spec.name,
            "pid": os.getpid(),
            "nonce": self.nonce,
            "started_at": self.started_at,
            "heartbeat_at": self.heartbeat_at,
            "socket": str(self.spec.socket_path),
            "connections": server.connection_count if server else 0,
            "requests": server.requests_served if server else 0,
            "idle_timeout": self.idle_timeout,
        }

    async def _dispatch(self, request: dict[str, Any]) -> Any:
        op = request.get("op")
        if op == "ping":
            return {"pong": True, "pid": os.getpid(), "name": self.spec.name, "nonce": self.nonce}
        if op == "status":
            return self.status()
        if op == "shutdown":
            asyncio.get_running_loop().call_soon(self.stop, "shutdown op")
            return {"stopping": True, "pid": os.getpid()}
        out = self._handler(request)
        if inspect.isawaitable(out):
            out = await out
        return out

    def _take_lock(self) -> FileLock:
        lock = FileLock(self.spec.lock_path)
        deadline = time.monotonic() + _LOCK_GRACE_S
        while not lock.acquire(blocking=False):
            if time.monotonic() >= deadline:
                lock.close()
                pid = (read_state(self.spec) or {}).get("pid")
                raise Busy(
                    f"daemon {self.spec.name} is already running (pid {pid})",
                    hint="use the running daemon, or stop it first",
                    details={"pid": pid, "lock": str(self.spec.lock_path)},
                )
            time.sleep(0.01)
        return lock

    async def run(self) -> None:
        """Serve until shutdown, SIGTERM/SIGINT or idle timeout; then clean up socket and state file.

        Raises:
            Busy: another daemon holds the lock.
        """
        prepare_dirs(self.spec)
        lock = self._take_lock()
        loop = asyncio.get_running_loop()
        signals: list[signal.Signals] = []
        try:
            self.started_at = now_ms()
            self._write_state()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.spec.socket_path)  # we hold the lock, so any socket file is stale
            self._server = IpcServer(
                self.spec.socket_path, self._dispatch, max_connections=self.max_connections, name=self.spec.name
            )
            await self._server.start()
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(sig, self.stop, sig.name)
                    signals.append(sig)
            await self._supervise()
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)
            if self._server is not None:
                await self._server.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.spec.state_path)
            lock.close()

    def main(self) -> int:
        """Run `run()` in a new event loop: the body of a daemon's `main()`.

        Returns:
            0 after a clean stop; 3 when another daemon already holds the lock (for example
            after losing a spawn race), with one line on stderr saying so.
        """
        try:
            asyncio.run(self.run())
        except Busy as exc:
            print(f"{self.spec.name} daemon: {exc.message}", file=sys.stderr)
            return 3
        print(f"{self.spec.name} daemon: stopped ({self.stop_reason})", file=sys.stderr)
        return 0

    async def _supervise(self) -> None:
        server = self._server
        assert server is not None
        tick = self.heartbeat_interval
        if self.idle_timeout is not None:
            tick = min(tick, max(self.idle_timeout / 4, 0.05))
        next_beat = time.monotonic() + self.heartbeat_interval
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), tick)
            now = time.monotonic()
            if now >= next_beat:
                self._write_state()
                next_beat = now + self.heartbeat_interval
            if (
                self.idle_timeout is not None
                and server.connection_count == 0
                and now - server.last_activity >= self.idle_timeout
            ):
                self.stop("idle")
