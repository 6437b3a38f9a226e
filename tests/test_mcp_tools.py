"""`toolkit mcp` with every system installed: each plugin's tools, called by the SDK's own client over stdio.

Real components throughout: a git repository for grite, a pool directory for plasmite, a running
graveyar server, and a running pom (detached `pom up -d`) whose process prints an error.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from toolkit.testing import free_port

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def _payload(result: Any) -> Any:
    assert not result.is_error, result.content[0].text
    return result.structured_content if result.structured_content is not None else json.loads(result.content[0].text)


@pytest.fixture
def world(tmp_path: Path) -> Any:
    """A grite repository, a pom project running detached and a graveyar server; all stopped afterwards."""
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {**os.environ, "TOOLKIT_PLASMITE_DIR": str(tmp_path / "pools"), "GIT_CONFIG_GLOBAL": "/dev/null"}
    subprocess.run(["git", "init", "-q", str(repo)], check=True, timeout=60)
    subprocess.run([str(BIN / "grite"), "init", "--no-agents-md", "-q"], cwd=repo, env=env, check=True, timeout=60)
    (repo / "pom.toml").write_text(
        "[processes.worker]\ncommand = \"echo starting; echo 'error: database is down' >&2; sleep 300\"\n"
    )
    up = subprocess.run(
        [str(BIN / "pom"), "up", "-d", "--no-http", "-f", str(repo / "pom.toml"), "--json"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert up.returncode == 0, up.stderr
    port = free_port()
    graveyar = subprocess.Popen(
        [str(BIN / "graveyar"), "serve", "--data-dir", str(tmp_path / "gy"), "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "graveyar did not start"
            time.sleep(0.1)
    env["GRAVEYAR_SERVER"] = f"127.0.0.1:{port}"
    try:
        yield repo, env
    finally:
        graveyar.terminate()
        graveyar.wait(30)
        subprocess.run([str(BIN / "pom"), "down", "-f", str(repo / "pom.toml")], env=env, timeout=60, check=False)


@pytest.mark.asyncio
async def test_one_server_serves_every_systems_tools(world):
    repo, env = world
    params = StdioServerParameters(command=str(BIN / "toolkit"), args=["mcp"], env=env, cwd=str(repo))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        names = {tool.name for tool in (await session.list_tools()).tools}
        assert {
            "grite_create", "grite_list", "grite_show", "grite_comment", "grite_update", "grite_close",
            "pom_ps", "pom_logs", "pom_errors", "pom_summary", "pom_restart",
            "plasmite_pool_list", "plasmite_feed", "plasmite_fetch", "plasmite_read", "plasmite_wait",
            "graveyar_append", "graveyar_read", "graveyar_streams",
        } <= names  # fmt: skip

        # grite: the issue lands in the repository's refs, visible to the grite CLI
        created = _payload(await session.call_tool("grite_create", {"title": "Crash on start", "labels": ["bug"]}))
        issue = created["issue_id"]
        _payload(await session.call_tool("grite_comment", {"issue_id": issue[:8], "body": "seen on linux"}))
        _payload(await session.call_tool("grite_update", {"issue_id": issue, "title": "Crash at start"}))
        shown = _payload(await session.call_tool("grite_show", {"issue_id": issue}))
        assert shown["issue"]["title"] == "Crash at start"
        _payload(await session.call_tool("grite_close", {"issue_id": issue}))
        listed = _payload(await session.call_tool("grite_list", {"state": "closed"}))
        assert [i["issue_id"] for i in listed["issues"]] == [issue]
        cli = subprocess.run(
            [str(BIN / "grite"), "issue", "list", "--state", "closed", "--json"], cwd=repo, env=env,
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        assert json.loads(cli.stdout)["data"]["issues"][0]["title"] == "Crash at start"
        missing = await session.call_tool("grite_show", {"issue_id": "ffffffff"})
        assert missing.is_error

        # plasmite: the same tools as `plasmite mcp`, over $TOOLKIT_PLASMITE_DIR
        args = {"pool": "events", "data": {"n": 1}, "tags": ["t"], "create": True}
        fed = _payload(await session.call_tool("plasmite_feed", args))
        assert fed["message"]["seq"] == 1
        _payload(await session.call_tool("plasmite_feed", {"pool": "events", "data": {"n": 2}}))
        fetched = _payload(await session.call_tool("plasmite_fetch", {"pool": "events", "seq": 1}))
        assert fetched["message"]["data"] == {"n": 1}
        newest = _payload(await session.call_tool("plasmite_read", {"pool": "events", "count": 5}))
        assert [m["data"]["n"] for m in newest["messages"]] == [1, 2]
        pools = _payload(await session.call_tool("plasmite_pool_list", {}))
        assert [p["name"] for p in pools["pools"]] == ["events"]

        # graveyar
        appended = _payload(
            await session.call_tool("graveyar_append", {"stream": "order-1", "event_type": "Placed", "data": {"t": 3}})
        )
        assert appended["stream"] == "order-1"
        read_back = _payload(await session.call_tool("graveyar_read", {"stream": "order-1"}))
        assert [e["event_type"] for e in read_back["events"]] == ["Placed"]
        streams = _payload(await session.call_tool("graveyar_streams", {"prefix": "order-"}))
        assert [s["stream"] for s in streams["streams"]] == ["order-1"]
        conflict = await session.call_tool(
            "graveyar_append", {"stream": "order-1", "event_type": "Paid", "expected": "no_stream"}
        )
        assert conflict.is_error

        # pom
        ps = _payload(await session.call_tool("pom_ps", {}))
        assert [p["name"] for p in ps["processes"]] == ["worker"]
        deadline = time.monotonic() + 30
        while True:
            errors = _payload(await session.call_tool("pom_errors", {}))
            if errors["errors"] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert "database is down" in json.dumps(errors)
        logs = _payload(await session.call_tool("pom_logs", {"names": ["worker"], "lines": 10}))
        assert "starting" in json.dumps(logs)
        assert _payload(await session.call_tool("pom_summary", {}))
        restarted = _payload(await session.call_tool("pom_restart", {"names": ["worker"]}))
        assert [r["name"] for r in restarted["results"]] == ["worker"]
