"""MCP resources: `plasmite mcp` (ours) lists and reads pools exactly as the real plasmite 1.2.1's does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError

from toolkit.testing_peers import require_peer

pytestmark = pytest.mark.interop

OURS = [sys.executable, "-c", "from toolkit_plasmite.cli import main; main()"]


async def _resources(argv: list[str]) -> dict[str, Any]:
    params = StdioServerParameters(command=argv[0], args=argv[1:])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        hello = await session.initialize()
        listed = [r.model_dump(exclude_none=True, by_alias=True) for r in (await session.list_resources()).resources]
        contents = [
            [c.model_dump(exclude_none=True, by_alias=True) for c in (await session.read_resource(r["uri"])).contents]
            for r in listed
        ]
        with pytest.raises(MCPError) as missing:
            await session.read_resource("plasmite:///pools/nope")
        error = (missing.value.error.code, missing.value.error.message, missing.value.error.data)
        return {"capability": hello.capabilities.resources, "listed": listed, "contents": contents, "error": error}


@pytest.mark.asyncio
async def test_pool_resources_match_plasmite(tmp_path: Path) -> None:
    real = str(require_peer("plasmite").path)
    pools = tmp_path / "pools"
    for name in ("empty", "chat"):
        subprocess.run([real, "--dir", str(pools), "pool", "create", name, "--size", "64K"], check=True, timeout=120)
    for n in range(25):
        subprocess.run(
            [real, "--dir", str(pools), "feed", "chat", f'{{"n":{n}}}', "--tag", "t"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    theirs = await _resources([real, "--dir", str(pools), "mcp"])
    ours = await _resources([*OURS, "--dir", str(pools), "mcp"])
    assert ours == theirs
    assert [r["uri"] for r in ours["listed"]] == ["plasmite:///pools/chat", "plasmite:///pools/empty"]
    assert ours["contents"][0][0]["text"].count('"seq"') == 20  # the newest 20 messages
