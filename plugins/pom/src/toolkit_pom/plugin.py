"""pom's hook implementations (the only hookimpl module; imports nothing heavy)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from toolkit import hookimpl

if TYPE_CHECKING:
    import click

    from toolkit.tools import McpTool


@hookimpl
def toolkit_commands() -> Sequence[click.Command]:
    """Return the `pom` group."""
    from toolkit_pom.cli.main import pom

    return [pom]


@hookimpl
def toolkit_mcp_tools() -> Sequence[McpTool]:
    """Return pom's MCP tools (ps, logs, errors, summary, restart)."""
    from toolkit_pom.mcp import tools

    return tools()
