"""Several `graveyar serve` on one PostgreSQL database are one cluster to KurrentDB clients.

Gossip lists every live server, all agree on one leader (the longest-running), and
kurrentdbclient given several addresses discovers the cluster and works through it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from kurrentdbclient import KurrentDBClient, NewEvent, StreamState

pytestmark = pytest.mark.interop

LEADER = "NODE_STATE_LEADER"
FOLLOWER = "NODE_STATE_FOLLOWER"


def _gossip(address: str) -> list[tuple[str, str]]:
    c = KurrentDBClient(f"kurrentdb://{address}?Tls=false")
    try:
        return sorted((f"{m.address}:{m.port}", m.state) for m in c.read_gossip())
    finally:
        c.close()


def _eventually(condition: Callable[[], bool], deadline: float = 60.0) -> None:
    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.2)


def test_servers_on_one_database_are_one_cluster(proc_server: Any, pg_dsn: str) -> None:
    first = proc_server("--backend", "postgres", "--dsn", pg_dsn, "--bind", "127.0.0.1:0")
    second = proc_server("--backend", "postgres", "--dsn", pg_dsn, "--bind", "127.0.0.1:0")
    expected = sorted([(first.address, LEADER), (second.address, FOLLOWER)])
    # Both servers tell the same story: both alive, the first started is the leader.
    _eventually(lambda: _gossip(first.address) == expected and _gossip(second.address) == expected)

    client = KurrentDBClient(f"kurrentdb://{first.address},{second.address}?Tls=false")
    try:
        s = str(uuid.uuid4())
        client.append_to_stream(s, current_version=StreamState.NO_STREAM, events=[NewEvent(type="A", data=b"{}")])
        assert sorted((f"{m.address}:{m.port}", m.state) for m in client.read_gossip()) == expected
    finally:
        client.close()
    # Written through the cluster, readable from each member.
    for srv in (first, second):
        direct = KurrentDBClient(f"kurrentdb://{srv.address}?Tls=false")
        try:
            assert [e.type for e in direct.get_stream(s)] == ["A"]
        finally:
            direct.close()
    follower = KurrentDBClient(f"kurrentdb://{second.address},{first.address}?Tls=false&NodePreference=follower")
    try:
        assert len(follower.get_stream(s)) == 1
    finally:
        follower.close()

    # The leader goes away: the other server is the whole cluster, and its leader.
    assert first.terminate() == 0
    _eventually(lambda: _gossip(second.address) == [(second.address, LEADER)])


def test_an_lmdb_server_is_a_cluster_of_one(proc_server: Any, tmp_path: Any) -> None:
    srv = proc_server("--data-dir", str(tmp_path / "data"), "--bind", "127.0.0.1:0")
    assert _gossip(srv.address) == [(srv.address, LEADER)]


def test_gossip_names_the_advertised_host_and_clients_connect_through_it(
    proc_server: Any, tmp_path: Any, cli: Any
) -> None:
    srv = proc_server("--data-dir", str(tmp_path / "data"), "--bind", "127.0.0.1:0", "--advertise-host", "localhost")
    port = srv.address.rsplit(":", 1)[1]
    assert _gossip(srv.address) == [(f"localhost:{port}", LEADER)]
    # The advertised name reaches the server (it is bound on 127.0.0.1, which localhost names).
    client = KurrentDBClient(f"kurrentdb://localhost:{port}?Tls=false")
    try:
        client.append_to_stream("adv", current_version=StreamState.NO_STREAM, events=[NewEvent(type="T", data=b"{}")])
        assert [e.type for e in client.get_stream("adv")] == ["T"]
    finally:
        client.close()
    refused = cli(
        "graveyar", "serve", "--data-dir", str(tmp_path / "d2"), "--bind", "127.0.0.1:0", "--advertise-host", " "
    )
    assert refused.exit_code == 2
    assert "--advertise-host is empty" in refused.stderr
