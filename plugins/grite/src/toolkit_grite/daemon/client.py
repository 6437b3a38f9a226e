"""How a `grite` process reaches its repository's daemon and has it run one core call.

The request names a core call (`toolkit_grite.core.calls`) with its JSON arguments, the caller's
working directory, actor options and `GRITE_*` settings; the answer is the call's JSON data and
warnings, or its error. Connecting uses `toolkit_grite.daemon.wire` (no click, pygit2, LMDB,
typing or the kernel's client); only starting a daemon loads the kernel's daemon lifecycle.
"""

from __future__ import annotations

import os
import sys
import time

from toolkit_grite.daemon.wire import Connection, Lost, ProtocolError, RemoteError, socket_path

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing this module must stay free of typing
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "CALLER_ENV",
    "FAILURE_HINT",
    "Lost",
    "RemoteError",
    "failure_message",
    "forward",
    "owned_by_me",
    "spec_for",
]

#: The caller's settings a daemon applies to the call (it never reads its own environment for them).
CALLER_ENV = ("GRITE_ACTOR", "GRITE_LOCK_TIMEOUT", "GRITE_AUTO_GC")
DEFAULT_IDLE = 300.0
#: Seconds a live daemon takes at most to greet a client (its event loop answers at once; a
#: frozen or stopped daemon never does; after that the command runs locally, nothing was sent),
#: and to answer an ordinary call (as grite 0.5.3: 10 s; the slow calls below 300 s).
#: `GRITE_DAEMON_TIMEOUT` overrides the short one.
CALL_TIMEOUT = 10.0
SLOW_CALL_TIMEOUT = 300.0
SLOW_CALLS = frozenset({"rebuild", "doctor", "db.stats", "db.check", "db.verify", "snapshot.create", "snapshot.gc"})
FAILURE_HINT = "the command may or may not have been applied; check, then retry with --no-daemon"


def idle_timeout() -> float:
    """Idle timeout for auto-spawned daemons (`GRITE_DAEMON_IDLE`, default 300 s)."""
    try:
        return float(os.environ.get("GRITE_DAEMON_IDLE", DEFAULT_IDLE))
    except ValueError:
        return DEFAULT_IDLE


def short_timeout() -> float:
    """The liveness and ordinary-call timeout: `GRITE_DAEMON_TIMEOUT` seconds, default 10."""
    try:
        return float(os.environ.get("GRITE_DAEMON_TIMEOUT", CALL_TIMEOUT))
    except ValueError:
        return CALL_TIMEOUT


def spec_for(common_dir: str | os.PathLike[str], *, idle_timeout: float = DEFAULT_IDLE) -> Any:
    """The DaemonSpec of the daemon serving the repository whose shared git directory is `common_dir`."""
    from pathlib import Path

    from toolkit_kernel.ipc.daemon import DaemonSpec
    from toolkit_kernel.paths import socket_path as kernel_socket_path

    common = os.fspath(common_dir)
    return DaemonSpec(
        name="grite",
        socket_path=kernel_socket_path("grite", common),
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


def owned_by_me(path: str | os.PathLike[str]) -> bool:
    """True when `path` (a socket) and its directory belong to this user and nobody else can write there.

    Another local user who can write `.git/grite/` could otherwise point the state file at a
    socket of hers and receive every forwarded call and its arguments.
    """
    uid = os.getuid()
    try:
        st = os.stat(path)
        parent = os.stat(os.path.dirname(os.fspath(path)) or ".")
    except OSError:
        return False
    return st.st_uid == uid and parent.st_uid == uid and not parent.st_mode & 0o022


def _open(path: str) -> Connection | None:
    if not owned_by_me(path):
        return None
    try:
        return Connection(path, short_timeout())
    except (OSError, ProtocolError):
        return None  # no socket, refused, stale, frozen or not a toolkit daemon


def _spawned(common_dir: str) -> Connection | None:
    """Find the daemon through its state file or start it; None when it cannot be had (run locally)."""
    from toolkit_kernel.errors import ToolkitError
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
        ):
            conn = _open(recorded)
            if conn is not None:
                return conn
        connect_or_spawn(spec, client_timeout=short_timeout()).close()
        return _open(str(spec.socket_path))
    except (ToolkitError, OSError):
        return None  # daemon unavailable: run locally (writers wait on the write lock)


def _connect(common_dir: str) -> Connection | None:
    started = time.monotonic()
    try:
        conn = _open(socket_path("grite", common_dir))
    except ValueError:  # a runtime dir path with a NUL byte: the kernel refuses it too
        return None
    if conn is None and time.monotonic() - started >= short_timeout() * 0.9:
        return None  # a frozen daemon holds the socket: do not wait for it (or spawn next to it) again
    return conn or _spawned(common_dir)


def _common_dir() -> str | None:
    """The shared git directory of the repository here, when grite was set up in it."""
    from toolkit_grite.core.locate import find_git_dirs

    found = find_git_dirs(os.getcwd())
    if found is None or not os.path.isdir(os.path.join(found[2], "grite")):
        return None
    return found[2]


def forward(call: str, args: dict[str, Any], *, actor: str | None, data_dir: str | None) -> dict[str, Any] | None:
    """Have the daemon run core call `call`; None when none can serve it (then run it locally).

    The answer is `{json, warnings}`: `json` is the call's data as compact sorted-key JSON text
    (what `--json` prints inside the envelope).

    Raises:
        RemoteError: the call failed in the daemon (its error kind, message, hint, details).
        Lost: the daemon went away or timed out after the request was sent.
    """
    if os.environ.get("GRITE_NO_DAEMON", "") not in ("", "0"):
        return None
    common_dir = _common_dir()
    if common_dir is None:
        return None
    conn = _connect(common_dir)
    if conn is None:
        return None
    request = {
        "op": "call",
        "call": call,
        "args": args,
        "cwd": os.getcwd(),
        "actor": actor,
        "data_dir": os.path.abspath(data_dir) if data_dir else None,  # the daemon runs elsewhere
        "env": {k: os.environ[k] for k in CALLER_ENV if k in os.environ},
    }
    result = conn.call(request, SLOW_CALL_TIMEOUT if call in SLOW_CALLS else short_timeout())
    if not isinstance(result, dict):
        raise Lost(f"unexpected answer from the daemon: {result!r:.200}")
    if result.get("stale"):
        return None  # the daemon served a deleted repository at this path; it exits, we run locally
    return result


def failure_message(reason: str) -> str:
    """The message of a daemon failure after the request was sent."""
    return f"grite daemon failed during the request: {reason}"
