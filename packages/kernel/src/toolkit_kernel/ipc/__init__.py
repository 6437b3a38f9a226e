"""Length-prefixed canonical-CBOR frames over Unix sockets, and daemon lifecycle.

- `frames`: the wire format (u32 big-endian length + one CBOR map, at most 16 MiB).
- `client`: `IpcClient`, blocking, with connect retries and per-call timeouts.
- `server`: `IpcServer`, asyncio, bounded connections, unary and streamed answers.
- `daemon`: `DaemonSpec`, `connect_or_spawn`, `daemon_status`, `stop_daemon`, `lock_is_held`
  and its path-level form `lock_file_is_held` (client side).
- `runtime`: `DaemonRuntime`, run inside the daemon process.

The protocol and lifecycle are specified in `specs/kernel/ipc.md`.
"""

from __future__ import annotations

from importlib import import_module

TYPE_CHECKING = False  # the real types for checkers; at run time names resolve lazily below
if TYPE_CHECKING:
    from typing import Any

    from toolkit_kernel.ipc.client import IpcClient
    from toolkit_kernel.ipc.daemon import (
        DaemonSpec,
        DaemonStatus,
        connect_or_spawn,
        daemon_status,
        lock_file_is_held,
        lock_is_held,
        read_state,
        stop_daemon,
    )
    from toolkit_kernel.ipc.frames import MAX_FRAME, PROTOCOL, encode_frame
    from toolkit_kernel.ipc.runtime import DaemonRuntime
    from toolkit_kernel.ipc.server import Handler, IpcServer

# Names resolve on first use: a CLI that only needs `IpcClient` must not pay for the
# asyncio server and daemon modules (pom's `logs` latency depends on it).
_EXPORTS = {
    "IpcClient": "client",
    "DaemonRuntime": "runtime",
    "DaemonSpec": "daemon",
    "DaemonStatus": "daemon",
    "connect_or_spawn": "daemon",
    "daemon_status": "daemon",
    "lock_file_is_held": "daemon",
    "lock_is_held": "daemon",
    "read_state": "daemon",
    "stop_daemon": "daemon",
    "MAX_FRAME": "frames",
    "PROTOCOL": "frames",
    "encode_frame": "frames",
    "Handler": "server",
    "IpcServer": "server",
}

__all__ = [
    "MAX_FRAME",
    "PROTOCOL",
    "DaemonRuntime",
    "DaemonSpec",
    "DaemonStatus",
    "Handler",
    "IpcClient",
    "IpcServer",
    "connect_or_spawn",
    "daemon_status",
    "encode_frame",
    "lock_file_is_held",
    "lock_is_held",
    "read_state",
    "stop_daemon",
]


def __getattr__(name: str) -> Any:
    """Import the module that defines `name` on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """List the lazily resolved names."""
    return __all__
