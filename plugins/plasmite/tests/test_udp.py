"""UDP transport (plasmite 1.2's spec/udp): our `UdpClient` against our listener, loopback only."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from toolkit_plasmite import (
    Client,
    CorruptError,
    NotFoundError,
    PermissionDeniedError,
    PlasmiteError,
    UdpClient,
    UdpFollow,
    UdpFollowOptions,
    UdpFrame,
    UdpGap,
    UdpProgress,
    UdpStart,
    UsageError,
)
from toolkit_plasmite.udp import wire
from toolkit_plasmite.udp.server import UdpServer


@pytest.fixture
def server(pool_dir: Path) -> Iterator[UdpServer]:
    pool_dir.mkdir(parents=True, exist_ok=True)
    srv = UdpServer(pool_dir, "127.0.0.1", 0, follow=True, max_followers=4)
    srv.start()
    yield srv
    srv.close()


@pytest.fixture
def local(pool_dir: Path) -> Iterator[Client]:
    with Client(str(pool_dir)) as client:
        yield client


def _endpoint(srv: UdpServer) -> str:
    return f"udp://127.0.0.1:{srv.address[1]}"


def _frames(follow: UdpFollow, count: int) -> list[UdpFrame]:
    out: list[UdpFrame] = []
    for _ in range(200):
        event = follow.next_event(timeout_ms=50)
        if isinstance(event, UdpFrame):
            out.append(event)
            if len(out) == count:
                return out
    raise AssertionError(f"got {len(out)} of {count} frames")


def _wait_stored(client: Client, name: str, count: int) -> None:
    with client.open_pool(name) as pool:
        for _ in range(200):
            if pool.last_seq >= count:
                return
            threading.Event().wait(0.01)
    raise AssertionError(f"{name} never reached {count} messages")


def test_send_and_live_follow_deliver_stored_messages(server: UdpServer, local: Client) -> None:
    pool = local.create_pool("sensors", 1 << 20)
    seed = pool.append({"origin": "local"}, ["source"])
    doc = pool.get_lite3(seed.seq).payload
    with (
        UdpClient(_endpoint(server)) as client,
        client.open_pool("sensors") as udp_pool,
        udp_pool.follow(UdpFollowOptions(start=UdpStart.sequence(seed.seq + 1))) as follow,
    ):
        udp_pool.send_json({"value": 8}, ["sensor"])  # returns None: no receipt
        udp_pool.send_lite3(doc)
        first, second = _frames(follow, 2)
    assert first.message().data == {"value": 8}
    assert first.message().tags == ["sensor"]
    assert first.timestamp_ns == pool.get_lite3(first.seq).timestamp_ns
    assert second.payload == doc  # Lite3 bytes travel and are stored unchanged
    assert pool.get(second.seq).data == {"origin": "local"}
    pool.close()


def test_finite_follow_ends_with_terminal_progress(server: UdpServer, local: Client) -> None:
    with local.create_pool("hist", 1 << 20) as pool:
        for n in range(5):
            pool.append({"n": n}, [])
    with UdpClient(_endpoint(server)) as client:
        follow = client.open_pool("hist").follow(UdpFollowOptions(UdpStart.last(2), live=False))
        events = list(follow)
    frames = [e for e in events if isinstance(e, UdpFrame)]
    assert [f.message().data["n"] for f in frames] == [3, 4]
    assert isinstance(events[-1], UdpProgress)
    assert events[-1].terminal
    assert events[-1].start_seq == 4
    assert events[-1].end_seq == 5
    assert follow.next_event(timeout_ms=0) is None


def test_since_start_skips_older_messages(server: UdpServer, local: Client) -> None:
    with local.create_pool("since", 1 << 20) as pool:
        pool.append({"n": 0}, [])
        cut = pool.append({"n": 1}, [])
        pool.append({"n": 2}, [])
        since = pool.get_lite3(cut.seq).timestamp_ns
    with UdpClient(_endpoint(server)) as client:
        events = list(client.open_pool("since").follow(UdpFollowOptions(UdpStart.since_ns(since), live=False)))
    assert [e.message().data["n"] for e in events if isinstance(e, UdpFrame)] == [1, 2]


def test_evicted_messages_arrive_as_a_retention_gap(server: UdpServer, local: Client) -> None:
    with local.create_pool("small", 64 * 1024) as pool:
        for n in range(200):
            pool.append({"n": n, "pad": "x" * 1000}, [])
        oldest = pool.info()["bounds"]["oldest"]
    with UdpClient(_endpoint(server)) as client:
        events = list(client.open_pool("small").follow(UdpFollowOptions(UdpStart.sequence(1), live=False)))
    gap = events[0] if isinstance(events[0], UdpGap) else events[1]
    assert isinstance(gap, UdpGap)
    assert gap.first == 1
    assert gap.reason == "retention"
    frames = [e for e in events if isinstance(e, UdpFrame)]
    assert frames[0].seq == gap.last + 1 == oldest
    assert frames[-1].seq == 200


def test_follow_errors_arrive_as_their_kinds(pool_dir: Path, server: UdpServer) -> None:
    with UdpClient(_endpoint(server)) as client, pytest.raises(NotFoundError):
        client.open_pool("missing").follow()
    pool_dir.mkdir(parents=True, exist_ok=True)
    Client(str(pool_dir)).create_pool("p", 1 << 20).close()
    input_only = UdpServer(pool_dir, "127.0.0.1", 0, follow=False)
    input_only.start()
    try:
        with UdpClient(f"udp://127.0.0.1:{input_only.address[1]}") as client, pytest.raises(PermissionDeniedError):
            client.open_pool("p").follow()
    finally:
        input_only.close()


def test_followers_beyond_the_budget_are_busy(server: UdpServer, local: Client) -> None:
    local.create_pool("busy", 1 << 20).close()
    with UdpClient(_endpoint(server)) as client:
        pool = client.open_pool("busy")
        held = [pool.follow() for _ in range(4)]
        with pytest.raises(PlasmiteError) as raised:
            pool.follow()
        assert raised.value.kind.label == "Busy"
        for follow in held:
            follow.close()


def test_close_from_another_thread_ends_a_blocked_wait(server: UdpServer, local: Client) -> None:
    local.create_pool("quiet", 1 << 20).close()
    with UdpClient(_endpoint(server)) as client:
        follow = client.open_pool("quiet").follow()
        assert isinstance(follow.next_event(timeout_ms=0), UdpProgress)
        got: list[object] = []
        waiter = threading.Thread(target=lambda: got.append(follow.next_event()))
        waiter.start()
        threading.Event().wait(0.05)
        follow.close()
        waiter.join(timeout=2)
    assert not waiter.is_alive()
    assert got == [None]


def test_invalid_datagrams_store_nothing(server: UdpServer, local: Client) -> None:
    local.create_pool("strict", 1 << 20).close()
    bad = [
        b"strict\0",  # empty body
        b"strict\0{not json",
        b'strict\0{"data":{"a":1},"extra":1}',  # unknown field
        b'strict\0{"data":{"a":1},"data":{"a":2}}',  # duplicate field
        b'strict\0{"data":[1]}',  # data must be an object
        b'strict\0{"data":{},"tags":[1]}',
        b"strict\0\x06garbage",  # 0x06 selects Lite3; never retried as JSON
        b'missing\0{"data":{}}',
        b'../strict\0{"data":{}}',
        b'{"data":{}}',  # no delimiter
    ]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
        for packet in bad:
            raw.sendto(packet, server.address)
        raw.sendto(b'strict\0{"data":{"ok":true},"tags":["t"]}', server.address)
    _wait_stored(local, "strict", 1)
    with local.open_pool("strict") as pool:
        assert pool.last_seq == 1
        assert pool.get(1).data == {"ok": True}
        assert pool.get(1).tags == ["t"]


def test_unproven_subscribe_gets_only_a_small_challenge(server: UdpServer, local: Client) -> None:
    local.create_pool("c", 1 << 20).close()
    sub_id = bytes(range(16))
    selection = {"selection": {"pool": "c", "start": {"kind": "new"}, "live": True}}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
        raw.settimeout(2)
        request = wire.control(wire.SUBSCRIBE, sub_id, selection, pad_to=wire.MIN_SUBSCRIBE)
        raw.sendto(request, server.address)
        reply, _ = raw.recvfrom(65536)
        op, got_id, body = wire.parse(reply) or (0, b"", b"")
        assert op == wire.CHALLENGE
        assert got_id == sub_id
        assert len(reply) <= len(request)
        forged = {
            **selection,
            "cookie": {"expires_ms": wire.decode_control(body, "challenge")["cookie"]["expires_ms"], "mac": "AAAA"},
        }
        raw.sendto(wire.control(wire.SUBSCRIBE, sub_id, forged, pad_to=wire.MIN_SUBSCRIBE), server.address)
        op2, _, _ = wire.parse(raw.recvfrom(65536)[0]) or (0, b"", b"")
        assert op2 == wire.CHALLENGE  # a bad cookie opens nothing: a fresh challenge instead


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:1",
        "udp://127.0.0.1",
        "udp://127.0.0.1:0",
        "udp://u@127.0.0.1:9",
        "udp://127.0.0.1:9/pool",
        "udp://127.0.0.1:9?x=1",
        "udp://224.0.0.1:9",
    ],
)
def test_bad_endpoints_are_usage_errors(endpoint: str) -> None:
    with pytest.raises(UsageError):
        UdpClient(endpoint)


def test_client_side_validation(server: UdpServer) -> None:
    client = UdpClient(_endpoint(server))
    with pytest.raises(UsageError):
        client.open_pool("a/b")
    with pytest.raises(UsageError):
        client.open_pool("udp://127.0.0.2:9/x")  # another server
    assert client.open_pool(f"{_endpoint(server)}/x%2Dy").name == "x-y"
    pool = client.open_pool("p")
    with pytest.raises(UsageError):
        pool.send_lite3(b"\x06nope")
    with pytest.raises(UsageError):
        pool.send_json([1], [])
    with pytest.raises(UsageError, match="65507"):
        pool.send_json({"blob": "x" * 70_000}, [])
    with pytest.raises(ValueError, match="payload is required"):
        pool.send_lite3(b"")
    with pytest.raises(ValueError, match="seq must fit"):
        UdpStart.sequence(-1)
    client.close()
    with pytest.raises(UsageError):
        pool.send_json({}, [])


def test_control_objects_are_strict() -> None:
    with pytest.raises(CorruptError):
        wire.decode_control(b'{"cookie":{"expires_ms":1,"mac":"x"},"cookie":{"expires_ms":1,"mac":"x"}}', "challenge")
    with pytest.raises(CorruptError):
        wire.decode_control(b'{"first":1,"last":2,"reason":"oversized","more":1}', "skip")
    with pytest.raises(CorruptError):
        wire.decode_control(b'{"selection":{"pool":"p","start":{"kind":"last"},"live":true}}', "subscribe")
    assert wire.decode_control(b'{"selection":{"pool":"p","start":{"kind":"new"},"live":true}}', "subscribe")
    assert wire.parse(b"\0PUDP\x01\x01\x01" + bytes(16)) is None  # nonzero padding


def test_serve_udp_options(plasmite_argv: list[str], sub_env: dict[str, str]) -> None:
    def check(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*plasmite_argv, "serve", *args, "check", "--json"],
            capture_output=True,
            text=True,
            env=sub_env,
            check=False,
        )

    res = check("--udp-follow")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["check"]["udp"] == {"listen": "127.0.0.1:9701", "follow": True}
    res = check("--udp=127.0.0.1:9999")
    assert json.loads(res.stdout)["check"]["udp"] == {"listen": "127.0.0.1:9999", "follow": False}
    assert "udp" not in json.loads(check().stdout)["check"]
    for bad in ("--udp=localhost:9", "--udp=224.0.0.1:9", "--udp=10.1.2.3:9", "--udp=127.0.0.1:x"):
        res = check(bad)
        assert res.returncode == 2, (bad, res.stdout)
        assert "Traceback" not in res.stderr


def test_serve_udp_end_to_end(serve, pool_dir: Path) -> None:
    pool_dir.mkdir(parents=True, exist_ok=True)
    Client(str(pool_dir)).create_pool("e2e", 1 << 20).close()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    srv = serve(f"--udp=127.0.0.1:{port}", "--udp-follow")
    assert srv.banner["details"]["udp"] == {"listen": f"127.0.0.1:{port}", "follow": True}
    with UdpClient(f"udp://127.0.0.1:{port}") as client:
        pool = client.open_pool("e2e")
        with pool.follow(UdpFollowOptions(UdpStart.sequence(1))) as follow:
            pool.send_json({"hello": "udp"}, ["t"])
            (frame,) = _frames(follow, 1)
    assert frame.seq == 1
    assert frame.message().data == {"hello": "udp"}


def test_cli_feed_sends_datagrams_without_receipts(
    server: UdpServer, local: Client, plasmite_argv: list[str], sub_env: dict[str, str]
) -> None:
    local.create_pool("fed", 1 << 20).close()
    url = f"{_endpoint(server)}/fed"
    lines = "".join(json.dumps({"n": n}) + "\n" for n in range(3))
    res = subprocess.run(
        [*plasmite_argv, "feed", url, "--tag", "cli"],
        input=lines,
        capture_output=True,
        text=True,
        env=sub_env,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""
    notice = json.loads(res.stderr.splitlines()[0])["notice"]
    assert notice["kind"] == "udp-send"
    assert "65507" in notice["message"]
    _wait_stored(local, "fed", 3)
    with local.open_pool("fed") as pool:
        assert sorted(pool.get(seq).data["n"] for seq in (1, 2, 3)) == [0, 1, 2]
        assert pool.get(1).tags == ["cli"]
    for extra in (["--create"], ["--retry", "2"], ["--durability", "flush"], ["--token", "x"]):
        res = subprocess.run(
            [*plasmite_argv, "feed", url, '{"a":1}', *extra], capture_output=True, text=True, env=sub_env, check=False
        )
        assert res.returncode == 2, (extra, res.stderr)
        assert "Traceback" not in res.stderr
    res = subprocess.run([*plasmite_argv, "fetch", url, "1"], capture_output=True, text=True, env=sub_env, check=False)
    assert res.returncode == 2  # only feed speaks UDP


def test_a_deleted_pool_ends_its_followers_with_not_found(server: UdpServer, local: Client, pool_dir: Path) -> None:
    local.create_pool("gone", 1 << 20).close()
    with UdpClient(_endpoint(server)) as client:
        follow = client.open_pool("gone").follow()
        assert isinstance(follow.next_event(timeout_ms=0), UdpProgress)
        local.delete_pool("gone")
        local.create_pool("gone", 1 << 20).close()  # same name, sequences start over
        with pytest.raises(NotFoundError):
            _drain(follow)
        follow.close()


def _drain(follow: UdpFollow) -> None:
    """Read events for up to 5 s (the server checks an idle follower's file about once a second)."""
    for _ in range(50):
        follow.next_event(timeout_ms=100)
