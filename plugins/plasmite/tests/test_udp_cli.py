"""`follow` and `duplex` of `udp://HOST:PORT/POOL` refs, end to end: our CLI against our `serve --udp-follow`."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from toolkit_plasmite import Client, UdpClient, UdpFollowOptions, UdpProgress, UdpStart
from toolkit_plasmite.udp.server import UdpServer


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def udp_url(serve: Callable[..., Any], pool_dir: Path) -> str:
    """`udp://127.0.0.1:PORT/chat` on a `serve --udp-follow` subprocess; the pool holds n = 1..5 (tag `t` on odd n)."""
    pool_dir.mkdir(parents=True, exist_ok=True)
    with Client(str(pool_dir)) as client, client.create_pool("chat", 1 << 20) as pool:
        for n in range(1, 6):
            pool.append({"n": n}, ["t"] if n % 2 else [])
    port = _free_udp_port()
    serve(f"--udp=127.0.0.1:{port}", "--udp-follow")
    return f"udp://127.0.0.1:{port}/chat"


def _run(argv: list[str], env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    # The timeout only guards against a hang (the failure this file exists for), it measures nothing.
    return subprocess.run([*argv, *args], input=stdin, capture_output=True, text=True, env=env, timeout=60, check=False)


def _seqs(stdout: str) -> list[int]:
    return [json.loads(line)["seq"] for line in stdout.splitlines()]


def test_follow_udp_history_selections(udp_url: str, plasmite_argv: list[str], sub_env: dict[str, str]) -> None:
    res = _run(plasmite_argv, sub_env, "follow", udp_url, "--no-follow", "--jsonl")
    assert (res.returncode, _seqs(res.stdout)) == (0, [1, 2, 3, 4, 5]), res.stderr
    res = _run(plasmite_argv, sub_env, "follow", udp_url, "--tail", "2", "--no-follow", "--jsonl")
    assert (res.returncode, _seqs(res.stdout)) == (0, [4, 5]), res.stderr
    # As plasmite: --tail counts retained messages before the filters.
    res = _run(plasmite_argv, sub_env, "follow", udp_url, "--tail", "3", "--tag", "t", "--no-follow", "--jsonl")
    assert (res.returncode, _seqs(res.stdout)) == (0, [3, 5]), res.stderr
    res = _run(plasmite_argv, sub_env, "follow", udp_url, "--no-follow", "--where", ".data.n > 3", "--data-only")
    assert [json.loads(line) for line in res.stdout.splitlines()] == [{"n": 4}, {"n": 5}]
    res = _run(plasmite_argv, sub_env, "follow", udp_url, "--since", "1h", "--no-follow", "--jsonl")
    assert _seqs(res.stdout) == [1, 2, 3, 4, 5]
    res = _run(plasmite_argv, sub_env, "follow", udp_url, "--since", "2999-01-01T00:00:00Z", "--no-follow")
    assert (res.returncode, res.stdout) == (0, "")


def test_follow_udp_live_one_and_timeout(udp_url: str, plasmite_argv: list[str], sub_env: dict[str, str]) -> None:
    endpoint, _, pool = udp_url.rpartition("/")
    proc = subprocess.Popen(
        [*plasmite_argv, "follow", udp_url, "--where", ".data.n == 42", "--one", "--jsonl", "--timeout", "20s"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=sub_env,
    )
    with UdpClient(endpoint) as client:
        sender = client.open_pool(pool)
        # Keep sending until the follower, subscribed at some point, has seen one (UDP: no receipt).
        stop = threading.Event()

        def send() -> None:
            while not stop.wait(0.05):
                sender.send_json({"n": 42})

        thread = threading.Thread(target=send)
        thread.start()
        try:
            out, err = proc.communicate(timeout=60)
        finally:
            stop.set()
            thread.join()
    assert proc.returncode == 0, err
    (line,) = out.splitlines()
    assert json.loads(line)["data"] == {"n": 42}
    res = _run(plasmite_argv, sub_env, "follow", udp_url, "--timeout", "300ms")
    assert (res.returncode, res.stdout) == (124, "")


def test_follow_udp_refuses_what_udp_cannot_do(udp_url: str, plasmite_argv: list[str], sub_env: dict[str, str]) -> None:
    for extra in (["--create"], ["--replay", "1", "--tail", "1"], ["--no-notify"], ["--token", "x"]):
        res = _run(plasmite_argv, sub_env, "follow", udp_url, *extra)
        assert res.returncode == 2, (extra, res.stderr)
        assert "Traceback" not in res.stderr
    res = _run(plasmite_argv, sub_env, "follow", udp_url.rpartition("/")[0] + "/missing", "--no-follow")
    assert res.returncode == 3, res.stderr
    assert json.loads(res.stderr.splitlines()[-1])["error"]["kind"] == "NotFound"
    res = _run(plasmite_argv, sub_env, "duplex", udp_url, "--create", stdin='{"a":1}\n')
    assert res.returncode == 2, res.stderr


def test_scripted_duplex_over_udp_ends_at_end_of_input(
    udp_url: str, plasmite_argv: list[str], sub_env: dict[str, str], pool_dir: Path
) -> None:
    records = "".join(json.dumps({"from": "bot", "i": i}) + "\n" for i in range(3))
    res = _run(plasmite_argv, sub_env, "duplex", udp_url, "--jsonl", stdin=records)
    assert res.returncode == 0, res.stderr
    # As the local and HTTP duplex: what was piped in is stored and printed before the exit.
    assert [json.loads(line)["data"]["i"] for line in res.stdout.splitlines()] == [0, 1, 2]
    assert _seqs(res.stdout) == [6, 7, 8]
    res = _run(plasmite_argv, sub_env, "duplex", udp_url, "--me", "bot", "--tail", "2", "--jsonl", stdin=records)
    assert res.returncode == 0, res.stderr
    assert _seqs(res.stdout) == []  # the history is the bot's own, hidden without --echo-self
    with Client(str(pool_dir)) as client, client.open_pool("chat") as pool:
        assert pool.last_seq == 11


def test_scripted_duplex_over_udp_prints_the_lite3_stream(
    udp_url: str, plasmite_argv: list[str], sub_env: dict[str, str], pool_dir: Path
) -> None:
    """`duplex udp://... --format lite3`: plasmite's framed stream of the tail and of what came back."""
    import struct

    res = subprocess.run(
        [*plasmite_argv, "duplex", udp_url, "--tail", "1", "--format", "lite3"],
        input=b'{"x":1}\n', capture_output=True, env=sub_env, timeout=120, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(b"PLS1")
    frames, pos = [], 4
    while pos < len(res.stdout):
        seq, _ts, size = struct.unpack_from(">QQI", res.stdout, pos)
        frames.append((seq, res.stdout[pos + 20 : pos + 20 + size]))
        pos += 20 + size
    assert [seq for seq, _ in frames] == [5, 6]
    with Client(str(pool_dir)) as client, client.open_pool("chat") as pool:
        assert [doc for _, doc in frames] == [pool.get_lite3(seq).payload for seq, _ in frames]


def test_a_timed_wait_on_a_quiet_stream_returns(pool_dir: Path) -> None:
    """`next_event(timeout_ms)` returns None on a quiet live stream (it used to block in recv)."""
    pool_dir.mkdir(parents=True, exist_ok=True)
    Client(str(pool_dir)).create_pool("quiet", 1 << 20).close()
    srv = UdpServer(pool_dir, "127.0.0.1", 0, follow=True)
    srv.start()
    try:
        with (
            UdpClient(f"udp://127.0.0.1:{srv.address[1]}") as client,
            client.open_pool("quiet").follow(UdpFollowOptions(UdpStart.new())) as follow,
        ):
            assert isinstance(follow.next_event(timeout_ms=0), UdpProgress)
            results: list[object] = []
            waiter = threading.Thread(target=lambda: results.append(follow.next_event(timeout_ms=100)))
            waiter.start()
            waiter.join(30)  # a liveness guard, not a speed check
            alive = waiter.is_alive()
            if alive:
                follow.cancel()
                waiter.join()
            assert not alive
            assert results == [None]
    finally:
        srv.close()
