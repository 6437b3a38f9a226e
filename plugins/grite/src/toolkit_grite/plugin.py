"""grite's toolkit plugin: contributes the `grite` command group (imports nothing heavy)."""

from __future__ import annotations

from typing import Any

from toolkit import hookimpl


@hookimpl
def toolkit_commands() -> list[Any]:
    """Return the `grite` group."""
    from toolkit_grite.cli import grite

    return [grite]


@hookimpl
def toolkit_mcp_tools() -> list[Any]:
    """Return grite's MCP tools (create, list, show, comment, update, close)."""
    from toolkit_grite.mcp import tools

    return tools()
