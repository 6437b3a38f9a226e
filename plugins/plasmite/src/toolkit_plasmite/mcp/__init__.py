"""plasmite's tools for agents (`toolkit mcp`): each calls the Python API (`toolkit_plasmite.Client`).

`pool_dir` defaults to the same directory the CLI uses (`$TOOLKIT_PLASMITE_DIR`, else
~/.plasmite/pools); a pool reference with a `/` in it is a path.
"""

from __future__ import annotations

from typing import Any

from toolkit.tools import McpTool

__all__ = ["tools"]


def _message(message: Any) -> dict[str, Any]:
    return {"seq": message.seq, "time": message.time_rfc3339, "data": message.data, "tags": list(message.tags)}


def plasmite_pools(pool_dir: str | None = None) -> dict[str, Any]:
    """List the pools in the pool directory with their sizes and sequence bounds."""
    from toolkit_plasmite import Client

    with Client(pool_dir) as client:
        return {"pools": client.list_pools()}


def plasmite_feed(
    pool: str, data: dict[str, Any], tags: list[str] | None = None, create: bool = True, pool_dir: str | None = None
) -> dict[str, Any]:
    """Append one JSON object to a pool (created with the default size if missing and `create`)."""
    from toolkit_plasmite import Client

    with Client(pool_dir) as client, client.pool(pool) if create else client.open_pool(pool) as opened:
        return _message(opened.append(data, tags or []))


def plasmite_fetch(pool: str, seq: int, pool_dir: str | None = None) -> dict[str, Any]:
    """Return message `seq` of a pool."""
    from toolkit_plasmite import Client

    with Client(pool_dir) as client, client.open_pool(pool) as opened:
        return _message(opened.get(seq))


def plasmite_tail(
    pool: str, last: int = 10, tags: list[str] | None = None, wait_ms: int = 0, pool_dir: str | None = None
) -> dict[str, Any]:
    """Return the newest `last` messages of a pool (only those with all `tags`), waiting up to `wait_ms` for more."""
    from toolkit_plasmite import Client

    if last < 1:
        from toolkit_plasmite.errors import UsageError

        raise UsageError("last must be at least 1")
    with Client(pool_dir) as client, client.open_pool(pool) as opened:
        since = max(1, opened.last_seq - last + 1)
        found = [_message(m) for m in opened.tail(since_seq=since, max_messages=last, timeout_ms=wait_ms, tags=tags)]
        return {"messages": found, "last_seq": opened.last_seq}


def tools() -> list[McpTool]:
    """Return plasmite's tools."""
    return [
        McpTool("plasmite_pools", plasmite_pools, read_only=True),
        McpTool("plasmite_feed", plasmite_feed),
        McpTool("plasmite_fetch", plasmite_fetch, read_only=True),
        McpTool("plasmite_tail", plasmite_tail, read_only=True),
    ]
