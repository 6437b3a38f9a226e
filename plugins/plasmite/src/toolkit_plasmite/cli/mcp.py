"""`plasmite mcp`: plasmite's agent tools as an MCP server on stdin/stdout (JSON-RPC until EOF)."""

from __future__ import annotations

from pathlib import Path

import click

from toolkit_plasmite.cli.ui import get_settings

__all__ = ["mcp_command"]


@click.command("mcp")
@click.option(
    "--dir",
    "pool_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Pool directory for this server (overrides the global --dir).",
)
def mcp_command(pool_dir: Path | None) -> None:
    """Serve MCP tools on stdio (stdout carries only JSON-RPC)."""
    from toolkit.mcp_server import serve_stdio
    from toolkit_plasmite.mcp.plasmite import INSTRUCTIONS, plasmite_resources, plasmite_tools

    where = pool_dir or get_settings().pool_dir
    serve_stdio(plasmite_tools(where), name="plasmite", instructions=INSTRUCTIONS, resources=plasmite_resources(where))
