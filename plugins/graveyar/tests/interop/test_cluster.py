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
from kurrentdbclient.exceptions import NodeIsNotLeaderError, NotFoundError

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
    # Written through the cluster, readable from each member by a read that does not require the leader.
    for srv in (first, second):
        direct = KurrentDBClient(f"kurrentdb://{srv.address}?Tls=false&NodePreference=follower")
        try:
            assert [e.type for e in direct.get_stream(s)] == ["A"]
        finally:
            direct.close()
    follower = KurrentDBClient(f"kurrentdb://{second.address},{first.address}?Tls=false&NodePreference=follower")
    try:
        assert len(follower.get_stream(s)) == 1
    finally:
        follower.close()

    # The leader goes away: the other server is the whole cluster, and its leader, and serves what
    # requires the leader (it refused it as a follower until its next heartbeat saw the change).
    assert first.terminate() == 0
    _eventually(lambda: _gossip(second.address) == [(second.address, LEADER)])
    now_leader = KurrentDBClient(f"kurrentdb://{second.address}?Tls=false")
    try:
        _eventually(
            lambda: (
                _refused_by_follower(
                    lambda: now_leader.append_to_stream(
                        s, current_version=StreamState.ANY, events=NewEvent(type="B", data=b"{}")
                    )
                )
                is None
            )
        )
        assert [e.type for e in now_leader.get_stream(s)] == ["A", "B"]
    finally:
        now_leader.close()


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


def _two_servers(proc_server: Any, pg_dsn: str) -> tuple[Any, Any]:
    """A leader and a follower on one database, once both agree who leads."""
    leader = proc_server("--backend", "postgres", "--dsn", pg_dsn, "--bind", "127.0.0.1:0")
    follower = proc_server("--backend", "postgres", "--dsn", pg_dsn, "--bind", "127.0.0.1:0")
    expected = sorted([(leader.address, LEADER), (follower.address, FOLLOWER)])
    _eventually(lambda: _gossip(leader.address) == expected and _gossip(follower.address) == expected)
    return leader, follower


def _refused_by_follower(call: Callable[[], object]) -> NodeIsNotLeaderError | None:
    try:
        call()
    except NodeIsNotLeaderError as exc:
        return exc
    return None


def test_a_follower_refuses_what_needs_the_leader_and_names_it(proc_server: Any, pg_dsn: str) -> None:
    leader, follower = _two_servers(proc_server, pg_dsn)
    host, port = leader.address.rsplit(":", 1)
    direct = KurrentDBClient(f"kurrentdb://{follower.address}?Tls=false")  # one target: no redirect
    s = str(uuid.uuid4())
    event = NewEvent(type="A", data=b"{}")
    try:
        # The follower learns the leader from its heartbeat (every second): wait for the first refusal.
        first: list[NodeIsNotLeaderError] = []

        def refused() -> bool:
            exc = _refused_by_follower(
                lambda: direct.append_to_stream(s, current_version=StreamState.ANY, events=[event])
            )
            first.extend([exc] if exc is not None else [])
            return exc is not None

        _eventually(refused)
        assert (first[0].host, first[0].port) == (host, int(port))
        # Refused, so nothing was written: the leader has no such stream.
        on_leader = KurrentDBClient(f"kurrentdb://{leader.address}?Tls=false")
        try:
            with pytest.raises(NotFoundError):
                on_leader.get_stream(s)
            on_leader.append_to_stream(s, current_version=StreamState.NO_STREAM, events=[event])
            on_leader.create_subscription_to_stream("g", s)
        finally:
            on_leader.close()
        # Everything that requires the leader is refused with its address (KurrentDB's follower rules).
        refusals: list[Callable[[], object]] = [
            lambda: direct.append_to_stream(s, current_version=StreamState.ANY, events=event),  # Append
            lambda: direct.append_to_stream(s, current_version=StreamState.ANY, events=[event]),  # BatchAppend
            lambda: direct.delete_stream(s, current_version=0),
            lambda: direct.tombstone_stream(s, current_version=0),
            lambda: direct.get_stream(s),  # NodePreference=leader sends requires-leader on reads too
            lambda: list(direct.read_all(limit=1)),
            lambda: direct.create_subscription_to_stream("g2", s),
            lambda: direct.update_subscription_to_stream("g", s),
            lambda: direct.delete_subscription("g", stream_name=s),
            lambda: direct.replay_parked_events("g", stream_name=s),
            lambda: direct.get_subscription_info("g", stream_name=s),  # "Server Is Not Ready"
            direct.list_subscriptions,
        ]
        for n, call in enumerate(refusals):
            assert _refused_by_follower(call) is not None, f"refusal {n} was served"
    finally:
        direct.close()
    # Without requires-leader (NodePreference=follower) the follower serves reads.
    reader = KurrentDBClient(f"kurrentdb://{follower.address}?Tls=false&NodePreference=follower")
    try:
        assert [e.type for e in reader.get_stream(s)] == ["A"]
    finally:
        reader.close()


def test_the_client_is_redirected_from_a_follower_to_the_leader(proc_server: Any, pg_dsn: str) -> None:
    leader, follower = _two_servers(proc_server, pg_dsn)
    client = KurrentDBClient(f"kurrentdb://{leader.address},{follower.address}?Tls=false")
    try:
        assert client.connection_target == leader.address
        # A stale connection (as after a change of leader): the client is on the follower.
        _eventually(lambda: _refused_by_follower(lambda: client.reconnect(follower.address)) is not None)
        assert client.connection_target == follower.address
        s = str(uuid.uuid4())
        # The follower answers NotLeader with the leader's endpoint; the client reconnects there and retries.
        client.append_to_stream(s, current_version=StreamState.NO_STREAM, events=[NewEvent(type="A", data=b"{}")])
        assert client.connection_target == leader.address
        assert [e.type for e in client.get_stream(s)] == ["A"]
    finally:
        client.close()


def test_groups_changed_on_the_leader_are_served_by_the_next_leader(proc_server: Any, pg_dsn: str) -> None:
    """Groups created, updated and deleted on one server are the ones the next leader serves,
    from the old leader's last checkpoint, though it started before any of them existed."""
    leader, follower = _two_servers(proc_server, pg_dsn)
    s = str(uuid.uuid4())
    on_leader = KurrentDBClient(f"kurrentdb://{leader.address}?Tls=false")
    try:
        on_leader.append_to_stream(
            s, current_version=StreamState.NO_STREAM, events=[NewEvent(type=t, data=b"{}") for t in "ABCD"]
        )
        on_leader.create_subscription_to_stream("g", s, min_checkpoint_count=1, checkpoint_after=0.1)
        on_leader.create_subscription_to_stream("gone", s)
        on_leader.update_subscription_to_stream("g", s, max_retry_count=3)
        on_leader.delete_subscription("gone", stream_name=s)
        sub = on_leader.read_subscription_to_stream("g", s, timeout=60)
        try:
            for _ in range(2):
                sub.ack(next(sub))

            def checkpointed() -> bool:
                return on_leader.get_subscription_info("g", s).last_checkpointed_event_position == "1"

            _eventually(checkpointed)
        finally:
            sub.stop()
    finally:
        on_leader.close()
    direct = KurrentDBClient(f"kurrentdb://{follower.address}?Tls=false")
    try:
        # As a follower it refuses group operations (it names the leader).
        assert _refused_by_follower(lambda: direct.get_subscription_info("g", s)) is not None
        assert leader.terminate() == 0
        _eventually(lambda: _gossip(follower.address) == [(follower.address, LEADER)])
        _eventually(lambda: _refused_by_follower(direct.list_subscriptions) is None)
        assert [(i.group_name, i.event_source) for i in direct.list_subscriptions()] == [("g", s)]
        info = direct.get_subscription_info("g", s)
        assert (info.max_retry_count, info.last_checkpointed_event_position) == (3, "1")
        with pytest.raises(NotFoundError):
            direct.get_subscription_info("gone", s)
        sub = direct.read_subscription_to_stream("g", s, timeout=60)
        try:
            rest = [next(sub), next(sub)]
            assert [(e.type, e.stream_position) for e in rest] == [("C", 2), ("D", 3)]
            for e in rest:
                sub.ack(e)
        finally:
            sub.stop()
        direct.delete_subscription("g", stream_name=s)
        assert direct.list_subscriptions() == []
    finally:
        direct.close()


def test_projections_run_on_the_leader_only(proc_server: Any, pg_dsn: str) -> None:
    """A follower refuses the Projections service and runs none; the next leader runs the enabled
    ones from the old leader's checkpoint, linking each event once."""
    leader, follower = _two_servers(proc_server, pg_dsn)
    direct = KurrentDBClient(f"kurrentdb://{follower.address}?Tls=false")  # one target: no redirect
    both = KurrentDBClient(f"kurrentdb://{leader.address},{follower.address}?Tls=false")
    category = f"c{uuid.uuid4().hex}"
    try:
        _eventually(lambda: _refused_by_follower(lambda: direct.get_projection_statistics("$by_category")) is not None)
        refusals: list[Callable[[], object]] = [
            lambda: direct.enable_projection("$by_category"),
            lambda: direct.disable_projection("$by_category"),
            lambda: direct.reset_projection("$by_category"),
            lambda: direct.get_projection_state("$by_category"),
            direct.list_all_projection_statistics,
            direct.restart_projections_subsystem,
        ]
        for n, call in enumerate(refusals):
            assert _refused_by_follower(call) is not None, f"refusal {n} was served"
        # A client that has the leader's address too is redirected there.
        _eventually(lambda: _refused_by_follower(lambda: both.reconnect(follower.address)) is not None)
        both.enable_projection("$by_category")
        assert both.connection_target == leader.address
        assert both.get_projection_statistics("$by_category").status == "Running"
        for n in range(3):
            both.append_to_stream(
                f"{category}-{n}", current_version=StreamState.NO_STREAM, events=[NewEvent(type="A", data=b"{}")]
            )
        _eventually(lambda: _links(both, category) == [f"0@{category}-{n}" for n in range(3)])
    finally:
        both.close()
    assert leader.terminate() == 0
    _eventually(lambda: _refused_by_follower(lambda: direct.get_projection_statistics("$by_category")) is None)
    try:
        assert direct.get_projection_statistics("$by_category").status == "Running"
        direct.append_to_stream(
            f"{category}-3", current_version=StreamState.NO_STREAM, events=[NewEvent(type="A", data=b"{}")]
        )
        # The new leader projects what came after the old leader's checkpoint, and nothing twice.
        _eventually(lambda: _links(direct, category) == [f"0@{category}-{n}" for n in range(4)])
    finally:
        direct.close()


def _links(client: KurrentDBClient, category: str) -> list[str]:
    try:
        return [e.data.decode() for e in client.get_stream(f"$ce-{category}", resolve_links=False)]
    except NotFoundError:
        return []
