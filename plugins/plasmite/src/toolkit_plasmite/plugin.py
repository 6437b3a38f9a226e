"""toolkit hooks for plasmite: the `plasmite` command group and the `serve` service."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from toolkit import Readiness, ServiceSpec, hookimpl

if TYPE_CHECKING:
    import click

    from toolkit.tools import McpTool


@hookimpl
def toolkit_commands() -> Sequence[click.Command]:
    """Return the `plasmite` group."""
    from toolkit_plasmite.cli import plasmite

    return [plasmite]


@hookimpl
def toolkit_services() -> Sequence[ServiceSpec]:
    """Return the plasmite HTTP server."""
    return [
        ServiceSpec(
            name="plasmite",
            argv=("toolkit", "plasmite", "serve"),
            description="plasmite HTTP API over local pools (/v0, JSONL tails)",
            default_address="127.0.0.1:9700",
            readiness=Readiness(kind="http", target="http://127.0.0.1:9700/healthz"),
        )
    ]


@hookimpl
def toolkit_mcp_tools() -> Sequence[McpTool]:
    """Return the tools `plasmite mcp` offers, over the default pool directory."""
    from toolkit_plasmite.mcp import plasmite_tools

    return plasmite_tools()
