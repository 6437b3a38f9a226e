"""`plasmite mcp` (stdio) and `/mcp` on `plasmite serve`, driven by the official MCP SDK's client."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

pytestmark = pytest.mark.slow

PLASMITE = [sys.executable, "-c", "from toolkit_plasmite.cli import main; main()"]
READERS = {"plasmite_pool_list", "plasmite_pool_info", "plasmite_fetch", "plasmite_read", "plasmite_wait"}
WRITERS = {"plasmite_pool_create", "plasmite_feed", "plasmite_pool_delete"}


def _payload(result: Any) -> Any:
    assert not result.is_error, result.content[0].text
    return result.structured_content if result.structured_content is not None else json.loads(result.content[0].text)


def _error_text(result: Any) -> str:
    assert result.is_error
    return str(result.content[0].text)


@pytest.mark.asyncio
async def test_stdio_server_offers_plasmites_tools_over_the_dir(tmp_path: Path, sub_env: dict[str, str]) -> None:
    pools = tmp_path / "mcp-pools"
    params = StdioServerParameters(
        command=sys.executable,
        args=[*PLASMITE[1:], "mcp", "--dir", str(pools)],
        env=sub_env,
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        hello = await session.initialize()
        assert hello.server_info.name == "plasmite"  # the client's server list says what it talks to
        assert {t.name for t in (await session.list_tools()).tools} == READERS | WRITERS
        assert _payload(await session.call_tool("plasmite_pool_list", {}))["pools"] == []
        created = _payload(await session.call_tool("plasmite_pool_create", {"name": "events", "size": 65536}))
        assert created["pool"]["name"] == "events"
        assert created["pool"]["path"] == str(pools / "events.plasmite")
        assert "AlreadyExists" in _error_text(await session.call_tool("plasmite_pool_create", {"name": "events"}))
        for n in range(1, 6):
            args = {"pool": "events", "data": {"n": n}, "tags": ["odd"] * (n % 2)}
            fed = _payload(await session.call_tool("plasmite_feed", args))
            assert fed["message"]["seq"] == n
            assert fed["message"]["meta"]["tags"] == ["odd"] * (n % 2)
        assert "NotFound" in _error_text(await session.call_tool("plasmite_feed", {"pool": "nope", "data": {}}))
        fed = _payload(await session.call_tool("plasmite_feed", {"pool": "made", "data": {"v": 1}, "create": True}))
        assert fed["message"]["data"] == {"v": 1}

        newest = _payload(await session.call_tool("plasmite_read", {"pool": "events", "count": 2}))
        assert [m["data"]["n"] for m in newest["messages"]] == [4, 5]
        assert (newest["next_after_seq"], newest["last_returned_seq"]) == (5, 5)
        assert (newest["oldest_available_seq"], newest["newest_available_seq"], newest["fell_behind"]) == (1, 5, False)
        page = _payload(await session.call_tool("plasmite_read", {"pool": "events", "count": 2, "after_seq": 1}))
        assert [m["seq"] for m in page["messages"]] == [2, 3]
        assert page["next_after_seq"] == 3
        odd = _payload(await session.call_tool("plasmite_read", {"pool": "events", "tags": ["odd"]}))
        assert [m["seq"] for m in odd["messages"]] == [1, 3, 5]
        assert "count must be between 1 and 200" in _error_text(
            await session.call_tool("plasmite_read", {"pool": "events", "count": 0})
        )
        fetched = _payload(await session.call_tool("plasmite_fetch", {"pool": "events", "seq": 3}))
        assert fetched["message"]["data"] == {"n": 3}
        assert "NotFound" in _error_text(await session.call_tool("plasmite_fetch", {"pool": "events", "seq": 99}))

        idle = _payload(await session.call_tool("plasmite_wait", {"pool": "events", "timeout_ms": 50}))
        assert (idle["messages"], idle["timed_out"], idle["next_after_seq"]) == ([], True, 5)
        backlog = _payload(await session.call_tool("plasmite_wait", {"pool": "events", "after_seq": 3, "count": 5}))
        assert ([m["seq"] for m in backlog["messages"]], backlog["timed_out"]) == ([4, 5], False)

        # A wait for future messages wakes when another process appends.
        waiting = asyncio.ensure_future(
            session.call_tool("plasmite_wait", {"pool": "events", "after_seq": 5, "timeout_ms": 60000})
        )
        await asyncio.to_thread(
            subprocess.run,
            [*PLASMITE, "--dir", str(pools), "feed", "events", '{"n": 6}'],
            env=sub_env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        woke = _payload(await waiting)
        assert ([m["data"] for m in woke["messages"]], woke["timed_out"]) == ([{"n": 6}], False)

        assert _payload(await session.call_tool("plasmite_pool_delete", {"pool": "made"})) == {
            "deleted": {"pool": "made"}
        }
        assert not (pools / "made.plasmite").exists()


@pytest.mark.asyncio
async def test_serve_offers_mcp_by_access_mode_and_token(serve: Any, tmp_path: Path) -> None:
    srv = serve("--access", "read-only")
    async with (
        streamable_http_client(srv.base_url + "/mcp") as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        assert {t.name for t in (await session.list_tools()).tools} == READERS
        assert _payload(await session.call_tool("plasmite_pool_list", {}))["pools"] == []

    token_file = tmp_path / "token"
    token_file.write_text("s3cret\n")
    guarded = serve("--token-file", str(token_file))
    hello = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    headers = {"Accept": "application/json, text/event-stream"}
    refused = httpx.post(guarded.base_url + "/mcp", json=hello, headers=headers, timeout=30)
    assert refused.status_code == 401
    assert refused.json()["error"]["kind"] == "Permission"


async def _tool_list(params: StdioServerParameters) -> list[dict[str, Any]]:
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        listed = (await session.list_tools()).tools
        return sorted((t.model_dump(exclude_none=True) for t in listed), key=lambda t: str(t["name"]))


@pytest.mark.asyncio
async def test_toolkit_mcp_offers_the_same_tools_as_plasmite_mcp(pool_dir: Path, sub_env: dict[str, str]) -> None:
    toolkit = StdioServerParameters(command=str(Path(sys.executable).parent / "toolkit"), args=["mcp"], env=sub_env)
    own = StdioServerParameters(command=sys.executable, args=[*PLASMITE[1:], "mcp"], env=sub_env)
    offered = [t for t in await _tool_list(toolkit) if str(t["name"]).startswith("plasmite_")]
    assert offered == await _tool_list(own)  # names, descriptions, schemas and hints alike
    assert {t["name"] for t in offered} == READERS | WRITERS

    async with stdio_client(toolkit) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        fed = _payload(await session.call_tool("plasmite_feed", {"pool": "jobs", "data": {"n": 1}, "create": True}))
        assert fed["message"]["seq"] == 1
        assert "NotFound" in _error_text(await session.call_tool("plasmite_fetch", {"pool": "jobs", "seq": 9}))
    # The pool is in the default directory ($TOOLKIT_PLASMITE_DIR), where the CLI finds it.
    fetched = subprocess.run(
        [*PLASMITE, "fetch", "jobs", "1"], env=sub_env, capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(fetched.stdout)["data"] == {"n": 1}
    assert (pool_dir / "jobs.plasmite").exists()


@pytest.mark.asyncio
async def test_serve_mcp_offers_pool_resources(serve: Any, sub_env: dict[str, str]) -> None:
    srv = serve("--access", "read-only")
    async with (
        streamable_http_client(srv.base_url + "/mcp") as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        assert (await session.list_resources()).resources == []
        await asyncio.to_thread(
            subprocess.run, [*PLASMITE, "pool", "create", "chat"], env=sub_env, check=True, capture_output=True
        )
        listed = (await session.list_resources()).resources
        assert [(str(r.uri), r.name, r.mime_type) for r in listed] == [
            ("plasmite:///pools/chat", "chat", "application/json")
        ]
        contents = (await session.read_resource("plasmite:///pools/chat")).contents
        assert json.loads(getattr(contents[0], "text", "")) == {
            "fell_behind": False, "last_returned_seq": None, "messages": [], "newest_available_seq": None,
            "next_after_seq": None, "oldest_available_seq": None,
        }  # fmt: skip
