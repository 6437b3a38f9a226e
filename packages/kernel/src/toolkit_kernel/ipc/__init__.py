"""Length-prefixed canonical-CBOR frames over Unix sockets, and daemon lifecycle.

- `frames`: the wire format (u32 big-endian length + one CBOR map, at most 16 MiB).
- `client`: `IpcClient`, blocking, with connect retries and per-call timeouts.
- `server`: `IpcServer`, asyncio, bounded connections, unary and streamed answers.
- `daemon`: `DaemonSpec`, `connect_or_spawn`, `daemon_status`, `stop_daemon` (client side).
- `runtime`: `DaemonRuntime`, run inside the daemon process.

The protocol and lifecycle are specified in `specs/kernel/ipc.md`.
"""

from __future__ import annotations

from toolkit_kernel.ipc.client import IpcClient
from toolkit_kernel.ipc.daemon import (
    DaemonSpec,
    DaemonStatus,
    connect_or_spawn,
    daemon_status,
    lock_is_held,
    read_state,
    stop_daemon,
)
from toolkit_kernel.ipc.frames import MAX_FRAME, PROTOCOL, encode_frame
from toolkit_kernel.ipc.runtime import DaemonRuntime
from toolkit_kernel.ipc.server import Handler, IpcServer

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
    "lock_is_held",
    "read_state",
    "stop_daemon",
]
