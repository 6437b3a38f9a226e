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
from typing import Any, TypedDict, Unpack

from toolkit.tools import McpResources, McpTool
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


def build_server(
    tools: Sequence[McpTool],
    *,
    name: str = "toolkit",
    instructions: str = INSTRUCTIONS,
    resources: McpResources | None = None,
) -> Any:
    """Return an `mcp.server.mcpserver.MCPServer` offering `tools` (and `resources`, when given).

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
    server: Any = (
        MCPServer(name, version=__version__, instructions=instructions)
        if resources is None
        else _with_resources(MCPServer, resources)(name, version=__version__, instructions=instructions)
    )
    for tool in tools:
        annotations = ToolAnnotations(read_only_hint=tool.read_only, destructive_hint=tool.destructive)
        server.add_tool(_as_async(tool), name=tool.name, description=tool.description, annotations=annotations)
    return server


def _with_resources(base: type[Any], resources: McpResources) -> type[Any]:
    """`base` (the SDK's MCPServer) listing and reading `resources` at call time, in a worker thread."""
    import anyio
    from mcp.server.lowlevel.helper_types import ReadResourceContents
    from mcp.shared.exceptions import MCPError
    from mcp_types import Resource

    class ResourceServer(base):  # type: ignore[misc]
        async def list_resources(self) -> list[Any]:
            listed = await anyio.to_thread.run_sync(resources.listing)
            return [
                Resource(uri=r["uri"], name=r["name"], description=r["description"], mime_type=r["mime_type"])
                for r in listed
            ]

        async def read_resource(self, uri: Any, context: Any = None) -> list[Any]:
            try:
                text = await anyio.to_thread.run_sync(resources.read, str(uri))
            except ToolkitError as err:
                path = getattr(err, "path", None)
                data = {"error_kind": err.kind, **({"path": path} if path else {})}
                raise MCPError(code=-32000, message=err.message, data=data) from err
            return [ReadResourceContents(content=text, mime_type="application/json")]

    return ResourceServer


class ServerOptions(TypedDict, total=False):
    """`build_server`'s keyword options, passed through by `serve_stdio`."""

    name: str
    instructions: str
    resources: McpResources | None


def serve_stdio(tools: Sequence[McpTool], **options: Unpack[ServerOptions]) -> None:
    """Serve `tools` (and `resources`) over stdin/stdout until the client closes the connection."""
    import anyio

    server = build_server(tools, **options)
    anyio.run(server.run_stdio_async)
