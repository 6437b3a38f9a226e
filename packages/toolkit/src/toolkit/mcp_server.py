"""`toolkit mcp`: one Model Context Protocol server (stdio) with the tools of every installed plugin.

Built on the official `mcp` SDK (`toolkit-host[mcp]`). Each plugin's `toolkit_mcp_tools` hook
returns plain functions calling its core; here each becomes an SDK tool whose schema comes
from the function's signature. Calls run in a worker thread (plugin cores block on git, LMDB,
sockets), and a `ToolkitError` becomes a tool error with the message and hint, so an agent can
correct itself; anything else is reported as an internal error without leaking internals.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from toolkit.tools import McpTool
from toolkit_kernel import __version__
from toolkit_kernel.errors import ToolkitError, UsageError

__all__ = ["build_server", "serve_stdio"]

INSTRUCTIONS = (
    "Tools of the toolkit systems installed here (grite issues in git, plasmite message pools, "
    "pom process supervision, graveyar event store), named <system>_<action>. Errors carry a hint "
    "saying what to do next."
)


def _as_async(tool: McpTool) -> Callable[..., Any]:
    """Wrap the plugin's function: same signature for the schema, run in a thread, errors made readable."""
    import anyio
    from mcp.server.mcpserver.exceptions import ToolError

    function = tool.function

    @functools.wraps(function)
    async def call(**kwargs: Any) -> Any:
        try:
            return await anyio.to_thread.run_sync(functools.partial(function, **kwargs))
        except ToolkitError as err:
            text = f"{err.kind}: {err.message}" + (f" (hint: {err.hint})" if err.hint else "")
            raise ToolError(text) from err

    return call


def build_server(tools: Sequence[McpTool], *, name: str = "toolkit", instructions: str = INSTRUCTIONS) -> Any:
    """Return an `mcp.server.mcpserver.MCPServer` offering `tools`.

    A plugin that serves its own tools (`plasmite mcp`) passes its name and instructions, so a
    client's server list shows what it is talking to.
    """
    try:
        from mcp.server.mcpserver import MCPServer
        from mcp.types import ToolAnnotations
    except ImportError as exc:
        raise UsageError(
            "`toolkit mcp` needs the MCP SDK, which is not installed",
            hint='install it with: pip install "toolkit-host[mcp]" (or "toolkit-suite[all]")',
        ) from exc
    server: Any = MCPServer(name, version=__version__, instructions=instructions)
    for tool in tools:
        annotations = ToolAnnotations(read_only_hint=tool.read_only, destructive_hint=tool.destructive)
        server.add_tool(_as_async(tool), name=tool.name, description=tool.description, annotations=annotations)
    return server


def serve_stdio(tools: Sequence[McpTool], *, name: str = "toolkit", instructions: str = INSTRUCTIONS) -> None:
    """Serve `tools` over stdin/stdout until the client closes the connection."""
    import anyio

    server = build_server(tools, name=name, instructions=instructions)
    anyio.run(server.run_stdio_async)
