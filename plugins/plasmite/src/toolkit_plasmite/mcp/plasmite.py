"""plasmite's own agent tool set, as `plasmite mcp` (stdio) and `plasmite serve` (`/mcp`) offer it.

Names, arguments and result shapes follow plasmite 1.2.1's MCP server: `plasmite_pool_list`,
`plasmite_pool_create`, `plasmite_pool_info`, `plasmite_pool_delete`, `plasmite_feed`,
`plasmite_fetch`, `plasmite_read`, `plasmite_wait`. The pool directory is fixed by the command
(`--dir`), never an argument; the access mode hides the tools it forbids.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from toolkit.tools import McpResources, McpTool
from toolkit_kernel.errors import ToolkitError
from toolkit_plasmite.core.client import LocalClient
from toolkit_plasmite.core.codec import dumps_compact, envelope
from toolkit_plasmite.core.format import DEFAULT_POOL_SIZE
from toolkit_plasmite.core.reading import DEFAULT_COUNT, DEFAULT_WAIT_MS, read_batch, wait_batch
from toolkit_plasmite.core.values import parse_since
from toolkit_plasmite.errors import NotFoundError, PlasmiteError

__all__ = ["INSTRUCTIONS", "RESOURCE_PREFIX", "plasmite_resources", "plasmite_tools"]

INSTRUCTIONS = (
    "plasmite stores JSON messages in named, persistent, fixed-size pools (ring buffers: the oldest "
    "messages are overwritten as capacity fills). Start with plasmite_pool_list when the pool is unknown. "
    "plasmite_read returns recent messages or a resumable range (after_seq, next_after_seq, fell_behind); "
    "plasmite_wait waits for new ones (prefer it over polling with plasmite_read); plasmite_fetch looks up "
    "one seq. Tag filters require all tags. plasmite_feed is not idempotent."
)


def plasmite_tools(pool_dir: Path | str | None = None, access: str = "read-write") -> list[McpTool]:
    """Return the tools over the pools in `pool_dir`, without those `access` forbids."""
    client = LocalClient(pool_dir)

    def plasmite_pool_list() -> dict[str, Any]:
        """List the pools: name, path, size and retained seq bounds. Start here when the pool is unknown."""
        return {"pools": [_named(info) for info in client.list_pools()]}

    def plasmite_pool_create(name: str, size: int = DEFAULT_POOL_SIZE) -> dict[str, Any]:
        """Create a pool of `size` bytes (default 1 MiB); an existing pool is an AlreadyExists error."""
        return {"pool": _named(client.create_pool(name, size))}

    def plasmite_pool_info(pool: str) -> dict[str, Any]:
        """Return a pool's size, bounds and metrics."""
        return {"pool": _named(client.pool_info(pool))}

    def plasmite_pool_delete(pool: str) -> dict[str, Any]:
        """Delete a pool file and every message in it."""
        client.delete_pool(pool)
        return {"deleted": {"pool": pool}}

    def plasmite_feed(pool: str, data: Any, tags: list[str] | None = None, create: bool = False) -> dict[str, Any]:
        """Append one JSON message (with `create`, a missing pool is created first). Not idempotent."""
        try:
            opened = client.open_pool(pool)
        except NotFoundError:
            if not create:
                raise NotFoundError("pool not found", hint="pass create: true, or call plasmite_pool_create") from None
            try:
                client.create_pool(pool)
            except PlasmiteError as exc:
                if exc.kind != exc.kind.ALREADY_EXISTS:
                    raise
            opened = client.open_pool(pool)
        with opened:
            tag_list = list(tags or [])
            seq, ts = opened.append(opened.encode_payload(data, tag_list))
        return {"message": envelope(seq, ts, data, tag_list)}

    def plasmite_fetch(pool: str, seq: int) -> dict[str, Any]:
        """Return the retained message `seq` exactly."""
        from toolkit_plasmite.core.codec import decode_payload

        with client.open_pool(pool, writable=False) as opened:
            frame = opened.get(seq)
            data, mtags = decode_payload(frame[2], seq=seq, path=str(opened.path))
        return {"message": envelope(seq, frame[1], data, mtags)}

    def plasmite_read(
        pool: str,
        count: int = DEFAULT_COUNT,
        after_seq: int | None = None,
        since: str | None = None,
        tags: list[str] | None = None,
    ) -> dict[str, Any]:
        """Read recent messages (the newest `count`), a time window (`since`: 5m, RFC 3339) or after `after_seq`."""
        since_ns = parse_since(since) if since is not None else None
        with client.open_pool(pool, writable=False) as opened:
            return read_batch(opened, count, after_seq, since_ns, tags or [])

    def plasmite_wait(
        pool: str,
        after_seq: int | None = None,
        count: int = DEFAULT_COUNT,
        timeout_ms: int = DEFAULT_WAIT_MS,
        tags: list[str] | None = None,
    ) -> dict[str, Any]:
        """Wait up to `timeout_ms` (max 60000) for messages after `after_seq` (default: only future ones)."""
        with client.open_pool(pool) as opened:
            return wait_batch(opened, after_seq, count, timeout_ms, tags or [])

    readers = [
        McpTool(f.__name__, _kind_named(f), read_only=True)
        for f in (plasmite_pool_list, plasmite_pool_info, plasmite_fetch, plasmite_read, plasmite_wait)
    ]
    writers = [
        McpTool("plasmite_pool_create", _kind_named(plasmite_pool_create)),
        McpTool("plasmite_feed", _kind_named(plasmite_feed)),
        McpTool("plasmite_pool_delete", _kind_named(plasmite_pool_delete), destructive=True),
    ]
    if access == "read-only":
        return readers
    if access == "write-only":
        return writers
    return readers + writers


#: A pool's resource URI is this prefix and its name (as plasmite 1.2.1).
RESOURCE_PREFIX = "plasmite:///pools/"


def plasmite_resources(pool_dir: Path | str | None = None) -> McpResources:
    """One resource per pool in `pool_dir`: reading it returns the newest messages (a `plasmite_read` batch)."""
    client = LocalClient(pool_dir)

    def listing() -> list[dict[str, str]]:
        found = []
        for info in client.list_pools():
            name = _named(info)["name"]
            found.append(
                {
                    "uri": RESOURCE_PREFIX + name,
                    "name": name,
                    "description": f"Latest messages from pool {name}; reading returns up to {DEFAULT_COUNT} "
                    f"messages ({info['file_size']} bytes fixed capacity; oldest messages are overwritten when full)",
                    "mime_type": "application/json",
                }
            )
        return sorted(found, key=lambda r: r["uri"])

    def read(uri: str) -> str:
        if not uri.startswith(RESOURCE_PREFIX) or "/" in uri.removeprefix(RESOURCE_PREFIX):
            raise NotFoundError(f"unknown resource URI {uri}", hint=f"pool resources are {RESOURCE_PREFIX}NAME")
        name = uri.removeprefix(RESOURCE_PREFIX)
        try:
            opened = client.open_pool(name, writable=False)
        except NotFoundError as exc:
            raise NotFoundError("not found", path=exc.path) from None
        with opened:
            return dumps_compact(read_batch(opened, DEFAULT_COUNT, None, None, []))

    return McpResources(listing=listing, read=_kind_named(read))


_KIND_ERRORS: dict[str, type[ToolkitError]] = {}


def _kind_named(function: Callable[..., Any]) -> Callable[..., Any]:
    """Report a PlasmiteError under its kind's name (`AlreadyExists: ...`), as plasmite's tools do.

    The host prints `<kind>: <message>`; a PlasmiteError's kind is the binding's IntEnum (its
    text is the exit code, kept for drop-in compatibility), so it is re-raised as a ToolkitError
    whose kind is the name.
    """

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except PlasmiteError as exc:
            label = exc.kind.label
            cls = _KIND_ERRORS.setdefault(label, type(f"{label}ToolError", (ToolkitError,), {"kind": label}))
            converted = cls(exc.message, hint=exc.hint)
            converted.path = exc.path  # type: ignore[attr-defined]  # resources report it, as plasmite
            raise converted from exc

    return call


def _named(info: dict[str, Any]) -> dict[str, Any]:
    """PoolInfo with the pool's `name` (plasmite's tools always carry it)."""
    if "name" not in info:
        info = {"name": Path(str(info["path"])).name.removesuffix(".plasmite"), **info}
    return info
