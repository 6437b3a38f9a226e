"""`toolkit mcp` end to end: a real plugin distribution, the server over stdio, the SDK's own client."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import TextContent

TOOLS = '''
from __future__ import annotations
from toolkit import McpTool, hookimpl
from toolkit_kernel.errors import NotFound

NOTES: dict[str, str] = {}

def notes_put(key: str, text: str) -> dict[str, str]:
    """Store a note under a key."""
    NOTES[key] = text
    return {"key": key, "stored": text}

def notes_get(key: str) -> dict[str, str]:
    """Read the note stored under a key."""
    if key not in NOTES:
        raise NotFound(f"no note {key!r}", hint="store one with notes_put")
    return {"key": key, "text": NOTES[key]}

def notes_crash() -> dict[str, str]:
    """Fail the way a bug does."""
    raise RuntimeError("secret internal detail")

@hookimpl
def toolkit_mcp_tools():
    return [McpTool("notes_put", notes_put), McpTool("notes_get", notes_get, read_only=True),
            McpTool("notes_crash", notes_crash)]
'''


@pytest.fixture
def server(tmp_path: Path) -> StdioServerParameters:
    site = tmp_path / "site"
    site.mkdir()
    (site / "tk_notes.py").write_text(textwrap.dedent(TOOLS))
    info = site / "tk_notes-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tk-notes\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[toolkit]\nnotes = tk_notes\n")
    env = {**os.environ, "PYTHONPATH": str(site), "TOOLKIT_LOAD_PLUGINS": "notes", "TOOLKIT_STRICT_PLUGINS": "1"}
    return StdioServerParameters(command=sys.executable, args=["-m", "toolkit", "mcp"], env=env)


def _text(result: Any) -> str:
    """The first content block's text (tool results and errors are text blocks)."""
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


def _payload(result: Any) -> Any:
    return result.structured_content if result.structured_content is not None else json.loads(result.content[0].text)


@pytest.mark.asyncio
async def test_tools_of_a_plugin_are_served_and_called_over_stdio(server):
    async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
        init = await session.initialize()
        assert init.server_info.name == "toolkit"
        listed = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert set(listed) == {"notes_put", "notes_get", "notes_crash"}
        assert listed["notes_put"].description == "Store a note under a key."
        schema = listed["notes_put"].input_schema
        assert set(schema["properties"]) == {"key", "text"}
        assert set(schema["required"]) == {"key", "text"}
        annotations = listed["notes_get"].annotations
        assert annotations is not None
        assert annotations.read_only_hint is True

        put = await session.call_tool("notes_put", {"key": "a", "text": "hello"})
        assert not put.is_error
        assert _payload(put) == {"key": "a", "stored": "hello"}
        got = await session.call_tool("notes_get", {"key": "a"})
        assert _payload(got) == {"key": "a", "text": "hello"}  # one server process keeps state between calls

        missing = await session.call_tool("notes_get", {"key": "zz"})
        assert missing.is_error
        text = _text(missing)
        assert "not_found: no note 'zz'" in text
        assert "hint: store one with notes_put" in text
        bad = await session.call_tool("notes_put", {"key": "a"})  # `text` missing: refused by the schema
        assert bad.is_error
        crash = await session.call_tool("notes_crash", {})
        assert crash.is_error
        assert "secret internal detail" not in _text(crash)


def test_mcp_list_prints_the_tools(cli, plugin_manager):
    import types

    from toolkit import McpTool, hookimpl

    module = types.ModuleType("fake_tools.plugin")

    def tools_echo(text: str) -> dict[str, str]:
        """Echo the text back."""
        return {"text": text}

    module.toolkit_mcp_tools = hookimpl(lambda: [McpTool("tools_echo", tools_echo, read_only=True)])  # type: ignore[attr-defined]
    plugin_manager(module)
    data = cli("mcp", "--list", "--json").assert_success().json()
    assert data == {"tools": [{"name": "tools_echo", "description": "Echo the text back.", "read_only": True}]}


def test_duplicate_tool_names_are_refused(cli, plugin_manager):
    import types

    from toolkit import McpTool, hookimpl

    def make(name: str) -> types.ModuleType:
        module = types.ModuleType(f"fake_{name}.plugin")
        module.toolkit_mcp_tools = hookimpl(lambda: [McpTool("same_tool", dict)])  # type: ignore[attr-defined]
        return module

    plugin_manager(make("one"), make("two"))
    result = cli("mcp", "--list")
    assert result.exit_code == 4
    assert "both offer the MCP tool 'same_tool'" in result.stderr


def test_tool_names_are_checked():
    from toolkit import McpTool

    with pytest.raises(ValueError, match="must match"):
        McpTool("has space", lambda: None)
