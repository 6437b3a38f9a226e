"""The thin daemon client used by the `grite` console script: the kernel's `IpcClient`, no click, pygit2 or LMDB."""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing this module must stay free of typing
if TYPE_CHECKING:
    from typing import Any

__all__ = ["PASSED_ENV", "route", "spec_for"]

#: Environment variables the daemon applies while running a forwarded command.
PASSED_ENV = (
    "GRITE_ACTOR",
    "GRITE_HOME",
    "GRITE_QUIET",
    "GRITE_LOCK_TIMEOUT",
    "TOOLKIT_JSON",
    "TOOLKIT_DEBUG",
    "TOOLKIT_LOAD_PLUGINS",
    "TOOLKIT_DISABLE_PLUGINS",
)
#: Commands that always run locally. `sync` runs git with the caller's environment (SSH agent,
#: proxies, credential helpers), which a daemon started by someone else earlier does not have;
#: `tui` and `webui` own the terminal or a listening socket for as long as they run.
LOCAL_ONLY = {"daemon", "export", "sync", "tui", "webui"}
DEFAULT_IDLE = 300.0
#: Seconds a live daemon takes at most to greet a client (its event loop answers at once; a
#: frozen or stopped daemon never does; after that the command runs locally, nothing was sent),
#: and to answer a forwarded command (as grite 0.5.3: 10 s, rebuild 300 s). `GRITE_DAEMON_TIMEOUT`
#: overrides the short one.
CALL_TIMEOUT = 10.0
SLOW_CALL_TIMEOUT = 300.0
SLOW_COMMANDS = {"rebuild", "doctor", "snapshot", "db"}


def idle_timeout() -> float:
    """Idle timeout for auto-spawned daemons (`GRITE_DAEMON_IDLE`, default 300 s)."""
    try:
        return float(os.environ.get("GRITE_DAEMON_IDLE", DEFAULT_IDLE))
    except ValueError:
        return DEFAULT_IDLE


def spec_for(common_dir: str | os.PathLike[str], *, idle_timeout: float = DEFAULT_IDLE) -> Any:
    """The DaemonSpec of the daemon serving the repository whose shared git directory is `common_dir`."""
    from pathlib import Path

    from toolkit_kernel.ipc.daemon import DaemonSpec
    from toolkit_kernel.paths import socket_path

    common = os.fspath(common_dir)
    return DaemonSpec(
        name="grite",
        socket_path=socket_path("grite", common),
        lock_path=Path(common, "grite", "daemon.lock"),
        argv=(
            sys.executable,
            "-m",
            "toolkit_grite.daemon",
            "--git-dir",
            common,
            "--idle-timeout",
            str(idle_timeout),
        ),
        cwd=Path(common),
        ready_timeout=10.0,
    )


def _subcommand(argv: list[str]) -> str | None:
    takes_value = {"--actor", "--data-dir"}
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in takes_value:
            skip = True
            continue
        if arg.startswith("-"):
            continue
        return arg
    return None


def _connect_fast(common_dir: str) -> Any:
    """A client connected to the daemon at the kernel's socket path for `common_dir`, or None.

    Imports only `toolkit_kernel.ipc.client` and `toolkit_kernel.paths` (no asyncio, and not the
    daemon-lifecycle module with its subprocess/dataclasses/locks imports): when the daemon runs,
    this is all a forwarded command pays for on top of the interpreter's start-up.
    """
    from toolkit_kernel.errors import ToolkitError
    from toolkit_kernel.ipc.client import IpcClient
    from toolkit_kernel.paths import socket_path

    try:
        path = socket_path("grite", common_dir)
        if not owned_by_me(path):
            return None
        client = IpcClient(path, timeout=short_timeout(), retries=0)
        client.connect()
    except (ToolkitError, OSError):
        return None  # no socket, refused, stale, busy, or a bad runtime dir: the slow path decides
    return client


def owned_by_me(path: str | os.PathLike[str]) -> bool:
    """True when `path` (a socket) and its directory belong to this user and nobody else can write there.

    Another local user who can write `.git/grite/` could otherwise point the state file at a
    socket of hers and receive every forwarded command line and its environment.
    """
    uid = os.getuid()
    try:
        st = os.stat(path)
        parent = os.stat(os.path.dirname(os.fspath(path)) or ".")
    except OSError:
        return False
    return st.st_uid == uid and parent.st_uid == uid and not parent.st_mode & 0o022


def _connect_slow(common_dir: str) -> Any:
    """Find the daemon through its state file or start it; None when it cannot be had (run locally)."""
    from toolkit_kernel.errors import ToolkitError
    from toolkit_kernel.ipc.client import IpcClient
    from toolkit_kernel.ipc.daemon import connect_or_spawn, read_state

    try:
        spec = spec_for(common_dir, idle_timeout=idle_timeout())
        # A daemon started under another TOOLKIT_RUNTIME_DIR/XDG_RUNTIME_DIR listens elsewhere;
        # its state file says where, so it is reused rather than waited for.
        recorded = (read_state(spec) or {}).get("socket")
        if (
            isinstance(recorded, str)
            and recorded
            and recorded != str(spec.socket_path)
            and owned_by_me(spec.state_path)
            and owned_by_me(recorded)
        ):
            client = IpcClient(recorded, timeout=short_timeout(), retries=0)
            try:
                client.connect()
                return client
            except (ToolkitError, OSError):
                client.close()
        client = connect_or_spawn(spec, client_timeout=short_timeout())
        if not owned_by_me(client.path):
            client.close()
            return None
        return client
    except (ToolkitError, OSError):
        return None  # daemon unavailable: run locally (writers wait on the write lock)


def route(argv: list[str]) -> int | None:
    """Run `argv` through the daemon; return its exit code, or None to run locally."""
    if os.environ.get("GRITE_NO_DAEMON", "") not in ("", "0") or "--no-daemon" in argv:
        return None
    if any(a in ("--help", "-h", "--version") for a in argv) or _subcommand(argv) in (None, *LOCAL_ONLY):
        return None
    if "--body-file=-" in argv or any(argv[i : i + 2] == ["--body-file", "-"] for i in range(len(argv))):
        return None  # the body comes from our standard input, which the daemon cannot read
    from toolkit_grite.core.locate import find_git_dirs

    found = find_git_dirs(os.getcwd())
    if found is None or not os.path.isdir(os.path.join(found[2], "grite")):
        return None
    common_dir = found[2]
    started = time.monotonic()
    client = _connect_fast(common_dir)
    if client is None and time.monotonic() - started >= short_timeout() * 0.9:
        return None  # a frozen daemon holds the socket: do not wait for it (or spawn next to it) again
    client = client or _connect_slow(common_dir)
    if client is None:
        return None
    from toolkit_kernel.errors import ToolkitError

    request = {
        "op": "run",
        "argv": argv,
        "cwd": os.getcwd(),
        "env": {k: os.environ[k] for k in PASSED_ENV if k in os.environ},
    }
    try:
        with client:
            result = client.call(request, timeout=call_timeout(argv))
    except ToolkitError as exc:  # sent: the daemon failed, or the connection broke, mid-request
        return _ipc_failure(exc.message)
    if result.get("stale"):
        return None  # the daemon served a deleted repository at this path; it exits, we run locally
    sys.stdout.write(result["stdout"])
    sys.stdout.flush()
    sys.stderr.write(result["stderr"])
    return int(result["code"])


def short_timeout() -> float:
    """The liveness and ordinary-call timeout: `GRITE_DAEMON_TIMEOUT` seconds, default 10."""
    try:
        return float(os.environ.get("GRITE_DAEMON_TIMEOUT", CALL_TIMEOUT))
    except ValueError:
        return CALL_TIMEOUT


def call_timeout(argv: list[str]) -> float:
    """Seconds to wait for the daemon's answer to `argv` (see CALL_TIMEOUT)."""
    return SLOW_CALL_TIMEOUT if _subcommand(argv) in SLOW_COMMANDS else short_timeout()


def _ipc_failure(message: str) -> int:
    """Report a daemon failure after the request was sent (it may or may not have been applied)."""
    import json

    text = f"grite daemon failed during the request: {message}"
    hint = "the command may or may not have been applied; check, then retry with --no-daemon"
    if os.environ.get("TOOLKIT_JSON") or "--json" in sys.argv:
        error = {"code": "ipc_error", "message": text, "details": {"suggestions": [hint]}}
        sys.stderr.write(json.dumps({"error": error, "ok": False, "schema_version": 1}, sort_keys=True) + "\n")
    else:
        sys.stderr.write(f"error: {text}\nhint: {hint}\n")
    return 6
