"""Daemon lifecycle: one daemon per lock file, auto-spawned on demand, recovered after kill -9.

The rules (normative text in `specs/kernel/ipc.md`):

- The daemon holds an exclusive `flock` on `spec.lock_path` for its whole life. The flock
  *is* the liveness proof: the kernel drops it when the process dies, even by `kill -9`,
  so a lock nobody holds means no daemon, whatever files are left around.
- Facts about the running daemon (`pid`, `started_at`, `heartbeat_at`, `nonce`, `socket`)
  live in `spec.state_path` (`<lock>.json`), replaced atomically. They cannot live in the
  lock file itself: replacing that file would swap the locked inode for an unlocked one.
- Clients that race to start the daemon serialise on `<lock>.spawn`, so at most one of
  them spawns; the others find it answering.

This module is the client side; the daemon side is `toolkit_kernel.ipc.runtime`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit_kernel.errors import Busy, IoFailure, IpcError, LockTimeout, ToolkitError
from toolkit_kernel.ipc.client import IpcClient
from toolkit_kernel.locks import FileLock

__all__ = [
    "DaemonSpec",
    "DaemonStatus",
    "connect_or_spawn",
    "daemon_status",
    "lock_file_is_held",
    "lock_is_held",
    "read_state",
    "stop_daemon",
]

_LOG_ROTATE_BYTES = 1024 * 1024


def now_ms() -> int:
    """Unix time in milliseconds."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class DaemonSpec:
    """How to find, start and identify one daemon.

    Args:
        name: Human name ("grite", "pom"), used in messages and the hello frame.
        socket_path: Where the daemon listens (use `toolkit_kernel.paths.socket_path`).
        lock_path: The daemon's lock file; `<lock>.json`, `<lock>.spawn` and `<stem>.log` sit next to it.
        argv: Command that starts the daemon in the foreground (it must run `DaemonRuntime`).
        cwd: Working directory for the daemon; None keeps the caller's.
        env: Variables added to the caller's environment for the daemon.
        ready_timeout: Seconds `connect_or_spawn` waits for the daemon to answer.
    """

    name: str
    socket_path: Path
    lock_path: Path
    argv: Sequence[str]
    cwd: Path | None = None
    env: Mapping[str, str] | None = None
    ready_timeout: float = 10.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "socket_path", Path(self.socket_path))
        object.__setattr__(self, "lock_path", Path(self.lock_path))
        object.__setattr__(self, "argv", tuple(self.argv))
        if self.cwd is not None:
            object.__setattr__(self, "cwd", Path(self.cwd))

    @property
    def state_path(self) -> Path:
        """JSON facts written by the running daemon."""
        return self.lock_path.with_name(self.lock_path.name + ".json")

    @property
    def spawn_lock_path(self) -> Path:
        """Lock that serialises clients racing to spawn the daemon."""
        return self.lock_path.with_name(self.lock_path.name + ".spawn")

    @property
    def log_path(self) -> Path:
        """The daemon's stdout and stderr when auto-spawned."""
        return self.lock_path.with_suffix(".log")


@dataclass
class DaemonStatus:
    """What `daemon_status` found.

    `state` is "running" (lock held, answers ping), "unresponsive" (lock held, no answer:
    starting up or stuck) or "stopped" (nobody holds the lock). `stale` is True when a
    stopped daemon left its socket or state file behind (harmless: the next start cleans up).
    """

    name: str
    state: str
    pid: int | None = None
    started_at: int | None = None
    heartbeat_at: int | None = None
    socket: str = ""
    stale: bool = False
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        """True when the daemon answers."""
        return self.state == "running"

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-safe form."""
        return {
            "name": self.name,
            "state": self.state,
            "running": self.running,
            "pid": self.pid,
            "started_at": self.started_at,
            "heartbeat_at": self.heartbeat_at,
            "socket": self.socket,
            "stale": self.stale,
        }


def prepare_dirs(spec: DaemonSpec) -> None:
    """Create the lock and socket directories (0700) if missing."""
    spec.lock_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    spec.socket_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)


def lock_file_is_held(path: str | os.PathLike[str]) -> bool:
    """True while a live process holds an exclusive `flock` on `path`.

    Probes with a momentary shared lock on a read-only descriptor, so probes never exclude each
    other (two exclusive probes at once would each see the other as a holder), and nothing is
    created: a missing file or directory means nobody holds the lock.

    Raises:
        IoFailure: `path` exists but cannot be opened (e.g. no permission).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as exc:
        raise IoFailure(
            f"cannot open lock file {os.fspath(path)}: {exc.strerror}",
            hint="check the file's permissions",
            details={"path": os.fspath(path), "errno": exc.errno},
        ) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return True
        raise IoFailure(f"cannot probe lock file {os.fspath(path)}: {exc.strerror}") from exc
    finally:
        os.close(fd)  # closing drops the probe's shared lock
    return False


def lock_is_held(spec: DaemonSpec) -> bool:
    """True when a live process holds the daemon's lock (`lock_file_is_held` on `spec.lock_path`)."""
    return lock_file_is_held(spec.lock_path)


def read_state(spec: DaemonSpec) -> dict[str, Any] | None:
    """Return the daemon's state file contents, or None when missing or unreadable."""
    try:
        data = json.loads(spec.state_path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _try_connect(spec: DaemonSpec, timeout: float) -> IpcClient | None:
    """Connect once; None when nobody answers.

    A live daemon at its connection limit raises `Busy` (after the client's usual retries),
    since spawning another one would not help.
    """
    client = IpcClient(spec.socket_path, timeout=timeout, retries=0)
    try:
        client.connect()
    except Busy:
        client = IpcClient(spec.socket_path, timeout=timeout)
        client.connect()
    except IpcError:
        client.close()
        return None
    return client


def daemon_status(spec: DaemonSpec, *, timeout: float = 2.0) -> DaemonStatus:
    """Report whether the daemon is running, without starting it."""
    state = read_state(spec) or {}
    held = lock_is_held(spec)
    status = DaemonStatus(name=spec.name, state="stopped", socket=str(spec.socket_path))
    if not held:
        status.stale = spec.socket_path.exists() or spec.state_path.exists()
        return status
    status.pid = state.get("pid")
    status.started_at = state.get("started_at")
    status.heartbeat_at = state.get("heartbeat_at")
    try:
        client = _try_connect(spec, timeout)
    except Busy:
        status.state = "running"  # alive, just at its connection limit
        return status
    if client is None:
        status.state = "unresponsive"
        return status
    with client:
        try:
            status.info = client.call({"op": "status"}, timeout=timeout)
        except ToolkitError:
            status.state = "unresponsive"
            return status
    status.state = "running"
    status.pid = status.info.get("pid", status.pid)
    status.heartbeat_at = status.info.get("heartbeat_at", status.heartbeat_at)
    return status


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # an unreaped zombie still answers kill(pid, 0)
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _log_tail(spec: DaemonSpec, size: int = 2000) -> str:
    try:
        with open(spec.log_path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - size))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _spawn(spec: DaemonSpec) -> int:
    """Start `spec.argv` detached (new session, not our child); return its pid."""
    if not spec.argv:
        raise IpcError(f"daemon {spec.name} is not running and has no command to start it")
    with contextlib.suppress(OSError):
        if spec.log_path.stat().st_size > _LOG_ROTATE_BYTES:
            os.replace(spec.log_path, spec.log_path.with_name(spec.log_path.name + ".1"))
    env = None if spec.env is None else {**os.environ, **spec.env}
    # sh starts the daemon in the background and exits at once, so the daemon is re-parented
    # to init (no zombie for us to reap) and sh tells us its pid.
    script = '"$@" </dev/null >>"$0" 2>&1 & echo $!'
    with open(spec.log_path, "ab") as log:
        try:
            proc = subprocess.run(
                ["/bin/sh", "-c", script, str(spec.log_path), *spec.argv],
                cwd=spec.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
                check=True,
                timeout=30,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise IpcError(f"cannot start daemon {spec.name}: {exc}", details={"argv": list(spec.argv)}) from exc
    return int(proc.stdout.strip() or 0)


def _wait_ready(spec: DaemonSpec, pid: int | None, deadline: float, client_timeout: float) -> IpcClient:
    delay = 0.01
    while True:
        client = _try_connect(spec, client_timeout)
        if client is not None:
            return client
        if pid and not _pid_alive(pid) and not lock_is_held(spec):
            raise IpcError(
                f"daemon {spec.name} exited during startup",
                hint=f"see its log: {spec.log_path}",
                details={"pid": pid, "log_tail": _log_tail(spec), "argv": list(spec.argv)},
            )
        if time.monotonic() >= deadline:
            break
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 0.2)
    if lock_is_held(spec):
        raise Busy(
            f"daemon {spec.name} holds its lock but does not answer on {spec.socket_path}",
            hint=f"it may be stuck; see {spec.log_path}, or stop it and retry",
            details={"pid": (read_state(spec) or {}).get("pid"), "socket": str(spec.socket_path)},
        )
    raise IpcError(
        f"daemon {spec.name} did not become ready within {spec.ready_timeout:g}s",
        hint=f"see its log: {spec.log_path}",
        details={"log_tail": _log_tail(spec), "argv": list(spec.argv)},
    )


def connect_or_spawn(spec: DaemonSpec, *, client_timeout: float = 10.0) -> IpcClient:
    """Return a connected client for the daemon, starting it first if nobody answers.

    Safe to call from many processes at once: exactly one daemon ends up running. A daemon
    killed with `kill -9` leaves a socket file and no lock holder; it is simply started again.

    Raises:
        IpcError: the daemon could not be started or exited during startup (details carry its log tail).
        Busy: the daemon holds its lock but never answered within `spec.ready_timeout`.
    """
    client = _try_connect(spec, client_timeout)
    if client is not None:
        return client
    prepare_dirs(spec)
    deadline = time.monotonic() + spec.ready_timeout
    spawn_lock = FileLock(spec.spawn_lock_path)
    try:
        try:
            spawn_lock.acquire(timeout=spec.ready_timeout)
        except LockTimeout:
            client = _try_connect(spec, client_timeout)
            if client is not None:
                return client
            raise Busy(
                f"another process is starting daemon {spec.name} and it is not ready after {spec.ready_timeout:g}s",
                hint=f"see {spec.log_path}",
            ) from None
        client = _try_connect(spec, client_timeout)
        if client is not None:
            return client
        pid = None if lock_is_held(spec) else _spawn(spec)
        return _wait_ready(spec, pid, max(deadline, time.monotonic() + 1.0), client_timeout)
    finally:
        spawn_lock.close()


def stop_daemon(spec: DaemonSpec, *, timeout: float = 10.0) -> bool:
    """Ask the daemon to shut down and wait until its lock is free.

    Falls back to SIGTERM when it does not answer. Returns False when it was not running.

    Raises:
        Busy: the daemon still holds its lock after `timeout` seconds.
    """
    if not lock_is_held(spec):
        return False
    deadline = time.monotonic() + timeout
    asked = False
    try:
        client = _try_connect(spec, min(timeout, 5.0))
    except Busy:
        client = None
    if client is not None:
        with client, contextlib.suppress(ToolkitError):
            client.call({"op": "shutdown"})
            asked = True
    termed = False
    while lock_is_held(spec):
        now = time.monotonic()
        if now >= deadline:
            pid = (read_state(spec) or {}).get("pid")
            raise Busy(
                f"daemon {spec.name} did not stop within {timeout:g}s",
                hint=f"kill it: kill -9 {pid}" if pid else "find and kill its process",
                details={"pid": pid},
            )
        if not termed and (not asked or now >= deadline - timeout / 2):
            pid = (read_state(spec) or {}).get("pid")
            if isinstance(pid, int) and pid > 0:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGTERM)
            termed = True
        time.sleep(0.02)
    return True
