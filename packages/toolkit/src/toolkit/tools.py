"""What a plugin tells the host about a tool it offers to agents (`toolkit mcp`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["McpResources", "McpTool"]

#: MCP tool names: letters, digits, `_` and `-`, at most 64 characters.
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class McpTool:
    """One tool: a plain, fully annotated Python function calling the plugin's core.

    The host turns the signature into the tool's JSON Schema and the docstring (or
    `description`) into its description, runs the function in a worker thread, and reports a
    `ToolkitError` it raises as a tool error carrying the message and the hint. Plugins need no
    MCP dependency of their own.

    Attributes:
        name: Unique across all plugins; by convention `<system>_<verb>` (`grite_create`).
        function: Keyword arguments only, JSON-friendly types, returns JSON-friendly data.
        description: Overrides the function's docstring.
        read_only: The tool changes nothing (a hint clients show to users).
        destructive: The tool may delete or overwrite data.
    """

    name: str
    function: Callable[..., Any]
    description: str | None = None
    read_only: bool = False
    destructive: bool = False

    def __post_init__(self) -> None:
        if not TOOL_NAME.match(self.name):
            raise ValueError(f"MCP tool name {self.name!r} must match {TOOL_NAME.pattern}")


@dataclass(frozen=True)
class McpResources:
    """Resources a server offers whose set changes at run time (plasmite: one per pool).

    Attributes:
        listing: Returns the current resources, each `{"uri", "name", "description", "mime_type"}`.
        read: Returns the text of the resource at a URI; a `ToolkitError` it raises becomes a
            JSON-RPC error (code -32000) whose data carries `error_kind` (and `path` when known).
    """

    listing: Callable[[], list[dict[str, str]]]
    read: Callable[[str], str]
