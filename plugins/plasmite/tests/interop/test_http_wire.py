"""The HTTP wire both ways: the real `plasmite` CLI against our `serve`, and our RemoteClient and
remote refs against the real `plasmite serve`, each on free loopback ports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from toolkit.testing import free_port, stop_process
from toolkit.testing_peers import require_peer
from toolkit_plasmite import NotFoundError, RemoteClient, RemotePool

pytestmark = pytest.mark.interop

OURS = [sys.executable, "-c", "from toolkit_plasmite.cli import main; main()"]


def _wait_healthy(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{base} never became healthy")


def _stop(proc: subprocess.Popen[str]) -> None:
    stop_process(proc, timeout=10)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["HOME"] = str(tmp_path / "home")  # the real CLI keeps keys and state under HOME
    env["TOOLKIT_PLASMITE_DIR"] = str(tmp_path / "pools")
    env.pop("TOOLKIT_JSON", None)
    return env


@pytest.fixture
def our_server(tmp_path: Path) -> Iterator[str]:
    proc = subprocess.Popen(
        [*OURS, "serve", "--bind", "127.0.0.1:0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path),
    )
    try:
        assert proc.stderr is not None
        banner = json.loads(proc.stderr.readline())["notice"]
        base = str(banner["details"]["base_url"])
        _wait_healthy(base)
        yield base
    finally:
        _stop(proc)


@pytest.fixture
def real_server(tmp_path: Path) -> Iterator[str]:
    plasmite = require_peer("plasmite")
    port, remote_port = free_port(), free_port()
    (tmp_path / "home").mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [
            str(plasmite.path),
            "--dir",
            str(tmp_path / "pools"),
            "serve",
            "--bind",
            f"127.0.0.1:{port}",
            "--remote-bind",
            f"127.0.0.1:{remote_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_env(tmp_path),
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base)
        yield base
    finally:
        _stop(proc)


def _real(tmp_path: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    plasmite = require_peer("plasmite")
    done = subprocess.run(
        [str(plasmite.path), "--dir", str(tmp_path / "elsewhere"), *args],
        check=False,
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=60,
    )
    assert not check or done.returncode == 0, done.stderr
    return done


def _ours(tmp_path: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = _env(tmp_path)
    env["TOOLKIT_PLASMITE_DIR"] = str(tmp_path / "elsewhere")
    done = subprocess.run([*OURS, *args], check=False, capture_output=True, text=True, env=env, timeout=60)
    assert not check or done.returncode == 0, done.stderr
    return done


def _remote_pool(base: str, name: str, create: bool = False) -> RemotePool:
    client = RemoteClient(base)
    pool = client.create_pool(name, 1024 * 1024) if create else client.open_pool(name)
    _clients.append(client)
    return pool


_clients: list[RemoteClient] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _clients:
        _clients.pop().close()


def _lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_real_cli_feeds_fetches_follows_and_lists_through_our_server(our_server: str, tmp_path: Path) -> None:
    _remote_pool(our_server, "wire", create=True)
    fed = json.loads(_real(tmp_path, "feed", f"{our_server}/wire", '{"from": "real"}', "--tag", "t1").stdout)
    assert fed["seq"] == 1
    assert fed["meta"]["tags"] == ["t1"]
    _remote_pool(our_server, "wire").append({"from": "ours"}, ["t2"])
    fetched = json.loads(_real(tmp_path, "fetch", f"{our_server}/wire", "2").stdout)
    assert fetched["data"] == {"from": "ours"}
    assert fetched["meta"]["tags"] == ["t2"]
    history = _lines(_real(tmp_path, "follow", f"{our_server}/wire", "--tail", "2", "--no-follow").stdout)
    assert [m["data"] for m in history] == [{"from": "real"}, {"from": "ours"}]
    listed = json.loads(_real(tmp_path, "pool", "list", our_server).stdout)
    assert [p["name"] for p in listed["pools"]] == ["wire"]
    missing = _real(tmp_path, "fetch", f"{our_server}/wire", "99", check=False)
    assert missing.returncode != 0
    assert "not found" in missing.stderr.lower()


def test_real_follower_wakes_on_our_server_when_we_append(our_server: str, tmp_path: Path) -> None:
    plasmite = require_peer("plasmite")
    _remote_pool(our_server, "live", create=True)
    follower = subprocess.Popen(
        [str(plasmite.path), "follow", f"{our_server}/live", "--timeout", "20s", "-n", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path),
    )
    try:
        time.sleep(1.0)
        _remote_pool(our_server, "live").append({"n": 1}, [])
        assert follower.stdout is not None
        line = follower.stdout.readline()
        assert json.loads(line)["data"] == {"n": 1}
    finally:
        _stop(follower)


def test_our_client_appends_gets_tails_and_lists_against_real_serve(real_server: str, tmp_path: Path) -> None:
    client = RemoteClient(real_server)
    _clients.append(client)
    pool = client.create_pool("wire", 1024 * 1024)
    first = pool.append({"from": "ours"}, ["a"])
    assert first.seq == 1
    assert pool.get(1).data == {"from": "ours"}
    assert list(pool.get(1).tags) == ["a"]
    _real(tmp_path, "feed", f"{real_server}/wire", '{"from": "real"}')
    assert pool.get(2).data == {"from": "real"}
    with pytest.raises(NotFoundError):
        pool.get(99)
    seen = [m.data for m in pool.tail(since_seq=1, max_messages=2, timeout_ms=5000)]
    assert seen == [{"from": "ours"}, {"from": "real"}]
    assert [p["name"] for p in client.list_pools()] == ["wire"]


def test_our_cli_remote_refs_against_real_serve(real_server: str, tmp_path: Path) -> None:
    _remote_pool(real_server, "refs", create=True)
    fed = json.loads(_ours(tmp_path, "feed", f"{real_server}/refs", '{"k": 1}', "--tag", "x").stdout)
    assert fed["seq"] == 1
    fetched = json.loads(_ours(tmp_path, "fetch", f"{real_server}/refs", "1").stdout)
    assert fetched["data"] == {"k": 1}
    assert fetched["meta"]["tags"] == ["x"]
    history = _lines(_ours(tmp_path, "follow", f"{real_server}/refs", "--no-follow", "--jsonl").stdout)
    assert [m["data"] for m in history] == [{"k": 1}]
    # What we wrote over the wire is what the real CLI reads back over the wire.
    again = json.loads(_real(tmp_path, "fetch", f"{real_server}/refs", "1").stdout)
    assert again["data"] == {"k": 1}
    listed = json.loads(_ours(tmp_path, "pool", "list", real_server, "--json").stdout)
    assert [p["name"] for p in listed["pools"]] == ["refs"]
    missing = _ours(tmp_path, "fetch", f"{real_server}/refs", "99", check=False)
    assert missing.returncode == 3
    assert json.loads(missing.stderr)["error"]["kind"] == "NotFound"


def test_our_follow_tail_against_real_serve_reads_only_the_last_n(real_server: str, tmp_path: Path) -> None:
    """`follow URL --tail N` asks the real server for N messages (since_seq, max) and prints what the real CLI does."""
    pool = _remote_pool(real_server, "long", create=True)
    for i in range(40):
        pool.append({"i": i}, ["odd"] if i % 2 else [])
    ref = f"{real_server}/long"
    ours = _lines(_ours(tmp_path, "follow", ref, "--tail", "3", "--no-follow", "--jsonl").stdout)
    assert [m["seq"] for m in ours] == [38, 39, 40]
    real = _real(tmp_path, "follow", ref, "--tail", "3", "--format", "json", "--timeout", "300ms", check=False)
    assert real.returncode == 124
    assert _lines(real.stdout) == ours
    tagged = _lines(_ours(tmp_path, "follow", ref, "--tail", "3", "--tag", "odd", "--no-follow", "--jsonl").stdout)
    assert [m["seq"] for m in tagged] == [38, 40]  # the last 3, then filtered (as plasmite)


def test_real_cli_lite3_document_round_trips_through_our_server(our_server: str, tmp_path: Path) -> None:
    _remote_pool(our_server, "docs", create=True)
    nested = {"a": [1, 2.5, None, True, "x"], "b": {"c": {"d": "e"}}}
    _real(tmp_path, "feed", f"{our_server}/docs", json.dumps(nested), "--tag", "n")
    raw = httpx.get(f"{our_server}/v0/pools/docs/messages/1/lite3", timeout=10)
    assert raw.headers["content-type"] == "application/x-plasmite-lite3"
    assert raw.headers["plasmite-seq"] == "1"
    # The stored document is what the real CLI sent, byte for byte; we read it back as JSON.
    assert _remote_pool(our_server, "docs").get(1).data == nested
    bad = httpx.post(f"{our_server}/v0/pools/docs/append_lite3", content=b"not lite3", timeout=10)
    assert bad.status_code == 500
    assert bad.json()["error"]["kind"] == "Corrupt"
    assert _remote_pool(our_server, "docs").info()["bounds"] == {"oldest": 1, "newest": 1}


def _sse_events(body: str) -> list[tuple[str, object]]:
    events = []
    for block in body.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in fields:
            events.append((fields.get("event", "message"), json.loads(fields["data"])))
    return events


def test_lite3_tail_and_ui_events_match_real_serve_on_one_pool_file(
    our_server: str, real_server: str, tmp_path: Path
) -> None:
    pool = _remote_pool(real_server, "streams", create=True)  # both servers serve tmp_path/pools
    for n in range(3):
        pool.append({"n": n, "nested": {"list": [n, None, True]}}, [f"t{n}"])
    query = {"since_seq": 1, "max": 3, "timeout_ms": 2000}
    real = httpx.get(f"{real_server}/v0/pools/streams/tail_lite3", params=query, timeout=60)
    ours = httpx.get(f"{our_server}/v0/pools/streams/tail_lite3", params=query, timeout=60)
    assert (ours.status_code, ours.headers["content-type"]) == (200, real.headers["content-type"])
    assert ours.content == real.content  # the same frames around the same stored Lite3 documents
    assert len(ours.content) > 3 * 20
    for base in (real_server, our_server):
        refused = httpx.get(f"{base}/v0/pools/streams/tail_lite3", params={"gap_policy": "error"}, timeout=60)
        assert (refused.status_code, refused.json()["error"]["kind"]) == (400, "Usage")
    real = httpx.get(f"{real_server}/v0/ui/pools/streams/events", params=query, timeout=60)
    ours = httpx.get(f"{our_server}/v0/ui/pools/streams/events", params=query, timeout=60)
    assert ours.headers["content-type"].split(";")[0] == real.headers["content-type"].split(";")[0]
    assert _sse_events(ours.text) == _sse_events(real.text)
    assert [event[1]["data"]["n"] for event in _sse_events(ours.text)] == [0, 1, 2]  # type: ignore[index]


@pytest.mark.parametrize("server", ["real_server", "our_server"])
def test_remote_follow_format_lite3_prints_what_the_real_cli_prints(
    server: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """`follow http://.../pool --format lite3`, ours and the real CLI, either server: the same PLS1 stream."""
    base = request.getfixturevalue(server)
    pool = _remote_pool(base, "l3", create=True)
    for i in range(1, 5):
        pool.append({"i": i, "s": "é"}, ["odd"] if i % 2 else [])
    plasmite = require_peer("plasmite")
    for sel in (["--no-follow"], ["--tail", "3", "--tag", "odd", "--no-follow"], ["--tail", "2", "--one"]):
        seen = [
            subprocess.run([*argv, "follow", f"{base}/l3", "--format", "lite3", *sel], capture_output=True,
                           env=_env(tmp_path), timeout=60, check=False)
            for argv in (OURS, [str(plasmite.path)])
        ]  # fmt: skip
        assert seen[0].returncode == seen[1].returncode == 0, (seen[0].stderr, seen[1].stderr)
        assert seen[0].stdout == seen[1].stdout, sel
        assert seen[0].stdout.startswith(b"PLS1")
    docs = httpx.get(f"{base}/v0/pools/l3/messages/3/lite3", timeout=10).content
    assert seen[0].stdout.endswith(docs)  # --tail 2 --one: seq 3, its stored document
