"""graveyar's tools for agents (`toolkit mcp`): each calls a running server through `GraveyarClient`.

`server` defaults to `$GRAVEYAR_SERVER`, else 127.0.0.1:50051; the token comes from
`$GRAVEYAR_TOKEN` (the same environment the CLI reads).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from toolkit.tools import McpTool

__all__ = ["tools"]


@contextmanager
def _client(server: str | None) -> Iterator[Any]:
    from toolkit_graveyar.client import DEFAULT_ADDRESS, GraveyarClient

    address = server or os.environ.get("GRAVEYAR_SERVER") or DEFAULT_ADDRESS
    with GraveyarClient(address, token=os.environ.get("GRAVEYAR_TOKEN") or None) as client:
        yield client


def graveyar_append(
    stream: str,
    event_type: str,
    data: dict[str, Any] | str = "",
    metadata: dict[str, str] | None = None,
    expected: str = "any",
    server: str | None = None,
) -> dict[str, Any]:
    """Append one event to a stream; `expected` is any, no_stream, stream_exists or a version number."""
    from toolkit_graveyar.client import new_event
    from toolkit_graveyar.core.model import Expected

    with _client(server) as client:
        result = client.append(stream, [new_event(event_type, data, metadata=metadata)], Expected.parse(expected))
        return dict(result.to_dict())


def graveyar_read(
    stream: str, start: int | None = None, backward: bool = False, limit: int = 100, server: str | None = None
) -> dict[str, Any]:
    """Read events of a stream (or `$all`) from version/position `start`, at most `limit` (0: all)."""
    with _client(server) as client:
        return {"events": [event.to_dict() for event in client.read(stream, start, backward=backward, limit=limit)]}


def graveyar_streams(prefix: str = "", limit: int = 100, server: str | None = None) -> dict[str, Any]:
    """List streams whose name starts with `prefix`, with their versions."""
    with _client(server) as client:
        return {"streams": [info.to_dict() for info in client.list_streams(prefix, limit=limit)]}


def tools() -> list[McpTool]:
    """Return graveyar's tools."""
    return [
        McpTool("graveyar_append", graveyar_append),
        McpTool("graveyar_read", graveyar_read, read_only=True),
        McpTool("graveyar_streams", graveyar_streams, read_only=True),
    ]
