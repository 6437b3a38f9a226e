"""UDP both ways with the real plasmite 1.2.1: its CLI against our `serve --udp-follow`, our client against its."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from toolkit.testing import stop_process
from toolkit.testing_peers import require_peer
from toolkit_plasmite import Client, UdpClient, UdpFollowOptions, UdpFrame, UdpProgress, UdpStart

pytestmark = pytest.mark.interop

OURS = [sys.executable, "-c", "from toolkit_plasmite.cli import main; main()"]


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def pools(tmp_path: Path) -> Path:
    d = tmp_path / "pools"
    d.mkdir()
    with Client(str(d)) as client:
        client.create_pool("shared", 1 << 20).close()
    return d


@pytest.fixture
def our_server(pools: Path) -> Iterator[int]:
    port = _free_udp_port()
    proc = subprocess.Popen(
        [*OURS, "--dir", str(pools), "serve", "--bind", "127.0.0.1:0", f"--udp=127.0.0.1:{port}", "--udp-follow"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    banner = json.loads(proc.stderr.readline())["notice"]
    assert banner["kind"] == "serve_ready"
    yield port
    stop_process(proc, timeout=10)
    proc.stderr.close()


@pytest.fixture
def real_server(pools: Path, tmp_path: Path) -> Iterator[int]:
    real = require_peer("plasmite")
    port = _free_udp_port()
    ready = tmp_path / "ready"
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "PLASMITE_ACCESS_HOME": str(home), "PLASMITE_SERVE_READY_FILE": str(ready)}
    proc = subprocess.Popen(
        [
            str(real.path),
            "--dir",
            str(pools),
            "serve",
            "--bind",
            "127.0.0.1:0",
            f"--udp=127.0.0.1:{port}",
            "--udp-follow",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    deadline = time.monotonic() + 20
    while not ready.exists():
        assert proc.poll() is None, "real plasmite serve exited"
        assert time.monotonic() < deadline, "real plasmite serve did not get ready"
        time.sleep(0.02)
    yield port
    stop_process(proc, timeout=10)


def test_real_cli_feeds_and_follows_through_our_server(our_server: int, pools: Path) -> None:
    real = require_peer("plasmite")
    url = f"udp://127.0.0.1:{our_server}/shared"
    for n in range(3):
        res = subprocess.run(
            [str(real.path), "feed", url, "--data", json.dumps({"n": n})],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert res.returncode == 0, res.stderr
        assert res.stdout == ""  # UDP sends never print a receipt
    with Client(str(pools)) as client, client.open_pool("shared") as pool:
        deadline = time.monotonic() + 5
        while pool.last_seq < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sorted(pool.get(seq).data["n"] for seq in (1, 2, 3)) == [0, 1, 2]
    res = subprocess.run(
        [str(real.path), "follow", url, "--tail", "2", "--no-follow"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert [line["seq"] for line in lines] == [2, 3]


def test_our_client_sends_and_follows_through_real_server(real_server: int, pools: Path) -> None:
    with Client(str(pools)) as local, local.open_pool("shared") as pool:
        seed = pool.append({"seed": True}, ["s"])
        with UdpClient(f"udp://127.0.0.1:{real_server}") as client:
            udp_pool = client.open_pool("shared")
            with udp_pool.follow(UdpFollowOptions(UdpStart.sequence(seed.seq + 1))) as follow:
                udp_pool.send_json({"from": "toolkit"}, ["x"])
                udp_pool.send_lite3(pool.get_lite3(seed.seq).payload)
                frames: list[UdpFrame] = []
                deadline = time.monotonic() + 5
                while len(frames) < 2 and time.monotonic() < deadline:
                    event = follow.next_event(timeout_ms=100)
                    if isinstance(event, UdpFrame):
                        frames.append(event)
            finite = list(udp_pool.follow(UdpFollowOptions(UdpStart.last(10), live=False)))
        assert [f.message().data for f in frames] == [{"from": "toolkit"}, {"seed": True}]
        assert pool.get(frames[0].seq).tags == ["x"]
        assert [e.seq for e in finite if isinstance(e, UdpFrame)] == [1, 2, 3]
        assert isinstance(finite[-1], UdpProgress)
        assert finite[-1].terminal


def test_our_cli_feeds_the_real_server(real_server: int, pools: Path) -> None:
    url = f"udp://127.0.0.1:{real_server}/shared"
    res = subprocess.run(
        [*OURS, "feed", url, '{"from":"our cli"}'], capture_output=True, text=True, timeout=60, check=False
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""
    with Client(str(pools)) as client, client.open_pool("shared") as pool:
        deadline = time.monotonic() + 5
        while pool.last_seq < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pool.get(1).data == {"from": "our cli"}


def _seqs(stdout: str) -> list[int]:
    return [json.loads(line)["seq"] for line in stdout.splitlines()]


def _seed(pools: Path, count: int) -> None:
    with Client(str(pools)) as client, client.open_pool("shared") as pool:
        for n in range(1, count + 1):
            pool.append({"n": n}, ["odd"] if n % 2 else [])


def test_our_cli_follows_and_duplexes_through_real_server(real_server: int, pools: Path) -> None:
    _seed(pools, 4)
    url = f"udp://127.0.0.1:{real_server}/shared"

    def ours(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*OURS, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
        )  # the timeout guards against a hang only

    res = ours("follow", url, "--tail", "2", "--no-follow", "--jsonl")
    assert (res.returncode, _seqs(res.stdout)) == (0, [3, 4]), res.stderr
    res = ours("follow", url, "--no-follow", "--tag", "odd", "--jsonl")
    assert (res.returncode, _seqs(res.stdout)) == (0, [1, 3]), res.stderr
    res = ours("follow", url, "--tail", "1", "--timeout", "300ms", "--jsonl")
    assert (res.returncode, _seqs(res.stdout)) == (124, [4]), res.stderr
    # Scripted duplex over the real server: sends, prints its records back, ends at end of input.
    res = ours("duplex", url, "--jsonl", stdin='{"from":"ours","i":1}\n{"from":"ours","i":2}\n')
    assert res.returncode == 0, res.stderr
    assert [json.loads(line)["data"]["i"] for line in res.stdout.splitlines()] == [1, 2]
    with Client(str(pools)) as client, client.open_pool("shared") as pool:
        assert pool.last_seq == 6
    res = ours("follow", url.rpartition("/")[0] + "/missing", "--no-follow")
    assert res.returncode == 3, res.stderr


def test_real_cli_follows_live_and_duplexes_through_our_server(our_server: int, pools: Path) -> None:
    real = require_peer("plasmite")
    _seed(pools, 3)
    url = f"udp://127.0.0.1:{our_server}/shared"
    proc = subprocess.Popen(
        [str(real.path), "follow", url, "--tail", "1", "--where", ".data.n == 42", "--one", "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with UdpClient(f"udp://127.0.0.1:{our_server}") as udp:
        sender = udp.open_pool("shared")
        # Until the real follower, subscribed at some point, printed one (UDP sends carry no receipt).
        while proc.poll() is None:
            sender.send_json({"n": 42})
            time.sleep(0.05)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert json.loads(out)["data"] == {"n": 42}
    res = subprocess.run(
        [str(real.path), "duplex", url],
        input='{"from":"real"}\n',
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    with Client(str(pools)) as client, client.open_pool("shared") as pool:
        deadline = time.monotonic() + 5
        while pool.get(pool.last_seq).data != {"from": "real"} and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pool.get(pool.last_seq).data == {"from": "real"}


@pytest.mark.parametrize("server", ["real_server", "our_server"])
def test_follow_format_lite3_over_udp_prints_what_the_real_cli_prints(
    server: str, pools: Path, request: pytest.FixtureRequest
) -> None:
    """`follow udp://... --format lite3`, ours and the real CLI, either server: one PLS1 stream of the stored bytes."""
    port = request.getfixturevalue(server)
    _seed(pools, 4)
    url = f"udp://127.0.0.1:{port}/shared"
    real = require_peer("plasmite")
    for sel in (["--no-follow"], ["--tail", "3", "--tag", "odd", "--no-follow"]):
        seen = [
            subprocess.run([*argv, "follow", url, "--format", "lite3", *sel], capture_output=True, timeout=60,
                           check=False)
            for argv in (OURS, [str(real.path)])
        ]  # fmt: skip
        assert seen[0].returncode == seen[1].returncode == 0, (seen[0].stderr, seen[1].stderr)
        assert seen[0].stdout == seen[1].stdout, sel
        assert seen[0].stdout.startswith(b"PLS1")
    with Client(str(pools)) as client, client.open_pool("shared") as pool:
        stored = [pool.get_lite3(seq) for seq in (1, 2, 3, 4)]
    third = stored[2]  # --tail 3 takes seqs 2..4; of those only 3 is odd
    frame = b"".join(n.to_bytes(size, "big") for n, size in ((3, 8), (third.timestamp_ns, 8), (len(third.payload), 4)))
    assert seen[0].stdout == b"PLS1" + frame + third.payload
