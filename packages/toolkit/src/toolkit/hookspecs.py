"""The hooks a toolkit plugin implements.

A plugin is a module named by an entry point in the `toolkit` group. It marks its
implementations with `toolkit.hookimpl`; the host collects them through pluggy.
Keep this set small: every hook here is a promise to every plugin author.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from toolkit.services import ServiceSpec
    from toolkit.tools import McpTool

PROJECT = "toolkit"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def toolkit_commands() -> Sequence[click.Command]:  # type: ignore[empty-body]
    """Return the plugin's top-level command: one click group named after the plugin.

    The host adds it under `toolkit <name>` and refuses a name another plugin or the
    host already uses. Import your CLI module inside the hook so that merely loading
    the plugin stays cheap.

    Example:
        ```python
        from toolkit import hookimpl

        @hookimpl
        def toolkit_commands():
            from toolkit_hello.cli import hello
            return [hello]
        ```
    """


@hookspec
def toolkit_services() -> Sequence[ServiceSpec]:  # type: ignore[empty-body]
    """Return the long-running servers this plugin offers.

    `toolkit services` lists them, and a supervisor such as pom can run one by name
    (`service = "hello"` in `pom.toml`), using `argv` to start it and `readiness` to
    know when it serves.

    Example:
        ```python
        from toolkit import Readiness, ServiceSpec, hookimpl

        @hookimpl
        def toolkit_services():
            return [ServiceSpec(
                name="hello",
                argv=("toolkit", "hello", "serve", "--port", "8765"),
                description="says hello over HTTP",
                default_address="127.0.0.1:8765",
                readiness=Readiness(kind="http", target="http://127.0.0.1:8765/healthz"),
            )]
        ```
    """


@hookspec
def toolkit_mcp_tools() -> Sequence[McpTool]:  # type: ignore[empty-body]
    """Return the tools this plugin offers to agents through `toolkit mcp` (one MCP server for all).

    Each tool is a fully annotated function calling the plugin's core (never its CLI); the
    host derives the JSON Schema from the signature, runs it off the event loop, and turns a
    `ToolkitError` into a tool error with its message and hint. Names are unique across plugins.

    Example:
        ```python
        from toolkit import McpTool, hookimpl

        def hello_greet(name: str) -> dict[str, str]:
            '''Greet someone by name.'''
            return {"greeting": f"hello, {name}"}

        @hookimpl
        def toolkit_mcp_tools():
            return [McpTool("hello_greet", hello_greet, read_only=True)]
        ```
    """
