"""pom's tools for agents (`toolkit mcp`): each asks the running pom of a project (`PomClient`).

`config` is the project's config file (pom.toml, Procfile, process-compose.yaml); without it
the config is discovered from the server's working directory, as `pom` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from toolkit.tools import McpTool

__all__ = ["tools"]


@contextmanager
def _pom(config: str | None) -> Iterator[Any]:
    from toolkit_pom.client import PomClient

    client = PomClient.for_config(config)
    try:
        yield client
    finally:
        client.close()


def pom_ps(config: str | None = None) -> dict[str, Any]:
    """List the project's processes with their state, pid, restarts and readiness."""
    with _pom(config) as client:
        return dict(client.call("ps"))


def pom_logs(
    names: list[str] | None = None, lines: int = 100, grep: str | None = None, config: str | None = None
) -> dict[str, Any]:
    """Return the last `lines` stored log lines of the named processes (default: all), optionally filtered."""
    with _pom(config) as client:
        return dict(client.call("logs", names=names or ["all"], limit=lines, grep=grep, stream=None, regex=None))


def pom_errors(names: list[str] | None = None, limit: int = 20, config: str | None = None) -> dict[str, Any]:
    """Return recent error lines (tracebacks, panics, `error:` lines) with the context around them."""
    with _pom(config) as client:
        return dict(client.call("errors", names=names or None, limit=limit))


def pom_summary(config: str | None = None) -> dict[str, Any]:
    """Summarise the stack for an agent: what runs, what failed, what to look at first."""
    with _pom(config) as client:
        return dict(client.call("summary"))


def pom_restart(names: list[str], config: str | None = None) -> dict[str, Any]:
    """Restart the named processes (`all` for every one)."""
    with _pom(config) as client:
        return dict(client.call("restart", names=names))


def tools() -> list[McpTool]:
    """Return pom's tools."""
    return [
        McpTool("pom_ps", pom_ps, read_only=True),
        McpTool("pom_logs", pom_logs, read_only=True),
        McpTool("pom_errors", pom_errors, read_only=True),
        McpTool("pom_summary", pom_summary, read_only=True),
        McpTool("pom_restart", pom_restart),
    ]
