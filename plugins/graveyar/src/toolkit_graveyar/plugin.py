"""graveyar's toolkit plugin: the `graveyar` command group and the `graveyar` service (imports nothing heavy)."""

from __future__ import annotations

from typing import Any

from toolkit import Readiness, ServiceSpec, hookimpl


@hookimpl
def toolkit_commands() -> list[Any]:
    """Return the `graveyar` group."""
    from toolkit_graveyar.cli import graveyar

    return [graveyar]


@hookimpl
def toolkit_services() -> list[ServiceSpec]:
    """Graveyar's gRPC server, on loopback port 50051 by default."""
    return [
        ServiceSpec(
            name="graveyar",
            argv=("toolkit", "graveyar", "serve"),
            description="gRPC event store (graveyar_db-compatible EventStore + graveyar.v1)",
            default_address="127.0.0.1:50051",
            readiness=Readiness(kind="tcp", target="127.0.0.1:50051"),
        )
    ]


@hookimpl
def toolkit_mcp_tools() -> list[Any]:
    """Return graveyar's MCP tools (append, read, streams)."""
    from toolkit_graveyar.mcp import tools

    return tools()
