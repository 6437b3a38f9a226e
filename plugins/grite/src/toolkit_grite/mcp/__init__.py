"""grite's tools for agents (`toolkit mcp`): each opens the repository and calls `toolkit_grite.core.ops`.

Every tool takes `repo`, a path inside the git repository (default: the server's working
directory), and returns the same data `grite ... --json` puts under `data`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from toolkit.tools import McpTool

__all__ = ["tools"]


@contextmanager
def _grite(repo: str) -> Iterator[Any]:
    from toolkit_grite.core.grite import Grite
    from toolkit_grite.core.repo import discover

    g = Grite(discover(Path(repo)))
    try:
        yield g
    finally:
        g.close()


def grite_create(title: str, body: str = "", labels: list[str] | None = None, repo: str = ".") -> dict[str, Any]:
    """Create an issue in the git repository at `repo`; returns its issue_id and event_id."""
    from toolkit_grite.core import ops

    with _grite(repo) as g:
        return ops.create_issue(g, title, body, labels or [])


def grite_list(
    state: str = "open", labels: list[str] | None = None, search: str | None = None, limit: int = 50, repo: str = "."
) -> dict[str, Any]:
    """List issues (state: open, closed or all), optionally by label or text; newest first."""
    from toolkit_grite.core import ops

    with _grite(repo) as g:
        return dict(ops.list_issues(g, state=state, labels=labels or [], search=search, desc=True, limit=limit))


def grite_show(issue_id: str, repo: str = ".") -> dict[str, Any]:
    """Show one issue (any unique prefix of its id of at least 4 hex digits) with its events."""
    from toolkit_grite.core import ops

    with _grite(repo) as g:
        return ops.show_issue(g, issue_id)


def grite_comment(issue_id: str, body: str, repo: str = ".") -> dict[str, Any]:
    """Add a comment to an issue."""
    from toolkit_grite.core import ops

    with _grite(repo) as g:
        return ops.comment(g, issue_id, body)


def grite_update(issue_id: str, title: str | None = None, body: str | None = None, repo: str = ".") -> dict[str, Any]:
    """Change an issue's title and/or body."""
    from toolkit_grite.core import ops

    with _grite(repo) as g:
        return ops.update_issue(g, issue_id, title, body)


def grite_close(issue_id: str, repo: str = ".") -> dict[str, Any]:
    """Close an issue."""
    from toolkit_grite.core import ops

    with _grite(repo) as g:
        return ops.set_state(g, issue_id, "closed")


def tools() -> list[McpTool]:
    """Return grite's tools."""
    read_only: tuple[Callable[..., Any], ...] = (grite_list, grite_show)
    writes: tuple[Callable[..., Any], ...] = (grite_create, grite_comment, grite_update, grite_close)
    return [McpTool(f.__name__, f, read_only=True) for f in read_only] + [McpTool(f.__name__, f) for f in writes]
