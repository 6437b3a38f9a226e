"""The thin daemon client used by the `grite` console script (no click, pygit2 or LMDB here)."""

from __future__ import annotations

import os
import struct
import sys

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: this module must not import typing (startup cost)
if TYPE_CHECKING:
    from typing import Any

    from toolkit_grite.repo import RepoPaths

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
#: Commands that always run locally.
LOCAL_ONLY = {"daemon", "export"}
DEFAULT_IDLE = 300.0


def idle_timeout() -> float:
    """Idle timeout for auto-spawned daemons (`GRITE_DAEMON_IDLE`, default 300 s)."""
    try:
        return float(os.environ.get("GRITE_DAEMON_IDLE", DEFAULT_IDLE))
    except ValueError:
        return DEFAULT_IDLE


def spec_for(paths: RepoPaths, *, idle_timeout: float = DEFAULT_IDLE) -> Any:
    """The DaemonSpec of the daemon serving `paths`' repository."""
    from toolkit_kernel.ipc.daemon import DaemonSpec
    from toolkit_kernel.paths import socket_path

    return DaemonSpec(
        name="grite",
        socket_path=socket_path("grite", str(paths.common_dir)),
        lock_path=paths.grite_dir / "daemon.lock",
        argv=(
            sys.executable,
            "-m",
            "toolkit_grite.daemon",
            "--git-dir",
            str(paths.common_dir),
            "--idle-timeout",
            str(idle_timeout),
        ),
        cwd=paths.common_dir,
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


class _Unavailable(Exception):
    """Nobody answered on the socket: start the daemon or run locally."""


def _recv_exact(sock: Any, size: int) -> bytes:
    buf = bytearray()
    while len(buf) < size:
        chunk = sock.recv(size - len(buf))
        if not chunk:
            raise ConnectionResetError("connection closed")
        buf += chunk
    return bytes(buf)


def _recv_frame(sock: Any) -> Any:
    from toolkit_grite import minicbor

    (length,) = struct.unpack(">I", _recv_exact(sock, 4))
    if not 0 < length <= 16 * 1024 * 1024:
        raise ConnectionResetError("bad frame length")
    return minicbor.loads(_recv_exact(sock, length))


def fast_call(path: str, request: dict[str, Any], timeout: float = 300.0) -> Any:
    """Speak the kernel IPC protocol (specs/kernel/ipc.md) with the C socket module and `minicbor`.

    The kernel's `toolkit_kernel.ipc` package imports asyncio eagerly (and `socket`/`cbor2` pull in
    enum, selectors, typing and re), which costs more than the whole request on this path; this
    function is the minimal blocking client for one call.

    Raises:
        _Unavailable: nobody answered the connection (safe to start a daemon or run locally).
        ConnectionError: the connection broke after the request was sent.
        RuntimeError: the daemon answered with an error envelope.
    """
    import _socket

    from toolkit_grite import minicbor

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(path)
            hello = _recv_frame(sock)
        except (OSError, ValueError) as exc:
            raise _Unavailable(str(exc)) from None
        if (
            not isinstance(hello, dict)
            or not isinstance(hello.get("hello"), dict)
            or hello["hello"].get("protocol") != 1
        ):
            raise _Unavailable("no hello")
        payload = minicbor.dumps(request)
        sock.sendall(struct.pack(">I", len(payload)) + payload)
        frame = _recv_frame(sock)
    finally:
        sock.close()
    if isinstance(frame, dict) and frame.get("ok") is True and "result" in frame:
        return frame["result"]
    raise RuntimeError(str((frame or {}).get("error")))


#: The kernel's `DaemonSpec.state_path` for `spec_for(...)` (checked by a test).
STATE_FILE = ("grite", "daemon.lock.json")


def _socket_from_state(common_dir: str) -> str:
    """The running daemon's socket, read from its state file without importing json or pathlib.

    Raises:
        _Unavailable: no state file or no socket in it (the slow path then finds or starts the daemon).
    """
    try:
        with open(os.path.join(common_dir, *STATE_FILE), encoding="utf-8") as fh:
            text = fh.read()
    except OSError:
        raise _Unavailable("no daemon state") from None
    key = '"socket": "'
    start = text.find(key)
    end = text.find('"', start + len(key)) if start >= 0 else -1
    if start < 0 or end < 0 or "\\" in text[start:end]:
        raise _Unavailable("no socket in the daemon state")
    return text[start + len(key) : end]


def route(argv: list[str]) -> int | None:
    """Run `argv` through the daemon; return its exit code, or None to run locally."""
    if os.environ.get("GRITE_NO_DAEMON", "") not in ("", "0") or "--no-daemon" in argv:
        return None
    if any(a in ("--help", "-h", "--version") for a in argv) or _subcommand(argv) in (None, *LOCAL_ONLY):
        return None
    from toolkit_grite.locate import find_git_dirs

    found = find_git_dirs(os.getcwd())
    if found is None or not os.path.isdir(os.path.join(found[2], "grite")):
        return None
    common_dir = found[2]
    request = {
        "op": "run",
        "argv": argv,
        "cwd": os.getcwd(),
        "env": {k: os.environ[k] for k in PASSED_ENV if k in os.environ},
    }
    try:
        result = fast_call(_socket_from_state(common_dir), request)
    except _Unavailable:
        from toolkit_grite.repo import discover
        from toolkit_kernel.errors import ToolkitError
        from toolkit_kernel.ipc.daemon import connect_or_spawn

        try:
            spec = spec_for(discover(), idle_timeout=idle_timeout())
            client = connect_or_spawn(spec, client_timeout=300.0)
        except ToolkitError:
            return None  # daemon unavailable: run locally (writers wait on the write lock)
        try:
            with client:
                result = client.call(request)
        except ToolkitError as exc:
            return _ipc_failure(exc.message)
    except (OSError, RuntimeError, ValueError) as exc:
        return _ipc_failure(str(exc))
    sys.stdout.write(result["stdout"])
    sys.stdout.flush()
    sys.stderr.write(result["stderr"])
    return int(result["code"])


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
