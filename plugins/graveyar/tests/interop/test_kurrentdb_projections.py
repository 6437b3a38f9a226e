"""kurrentdbclient's projections API and link streams against `graveyar serve`, on both backends.

The system projections `$by_category`, `$by_event_type` and `$streams` start disabled (KurrentDB's
default); enabled through the real client they write `$ce-`, `$et-` and `$streams` links that the
client reads with resolve_links, and they resume from their checkpoint after a restart.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from kurrentdbclient import KurrentDBClient, NewEvent, StreamState
from kurrentdbclient.exceptions import KurrentDBClientError, NotFoundError

pytestmark = pytest.mark.interop

DEADLINE = 60.0


def _until(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        try:
            value = check()
        except NotFoundError:
            value = None
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _append(client: KurrentDBClient, stream: str, *types: str) -> None:
    events = [NewEvent(type=t, data=f'{{"t": "{t}"}}'.encode()) for t in types]
    client.append_to_stream(stream, current_version=StreamState.ANY, events=events)


def test_system_projections_link_by_category_type_and_stream(client: KurrentDBClient) -> None:
    tag = uuid.uuid4().hex[:12]
    stats = {s.name: s for s in client.list_all_projection_statistics()}
    assert {"$by_category", "$by_event_type", "$streams"} <= set(stats)
    assert stats["$by_category"].status == "Stopped"
    _append(client, f"acct{tag}-1", f"Opened{tag}", f"Credited{tag}")
    for name in ("$by_category", "$by_event_type", "$streams"):
        client.enable_projection(name)
    _append(client, f"acct{tag}-2", f"Opened{tag}")
    category = _until(
        lambda: len(evs := client.get_stream(f"$ce-acct{tag}", resolve_links=True)) == 3 and evs, "$ce- links"
    )
    assert [(e.stream_name, e.stream_position, e.type) for e in category] == [
        (f"acct{tag}-1", 0, f"Opened{tag}"),
        (f"acct{tag}-1", 1, f"Credited{tag}"),
        (f"acct{tag}-2", 0, f"Opened{tag}"),
    ]
    assert category[0].link is not None
    assert category[0].link.stream_name == f"$ce-acct{tag}"
    assert category[0].data == f'{{"t": "Opened{tag}"}}'.encode()
    raw = client.get_stream(f"$ce-acct{tag}")
    assert [e.type for e in raw] == ["$>"] * 3
    assert raw[0].data == f"0@acct{tag}-1".encode()
    opened = _until(
        lambda: len(evs := client.get_stream(f"$et-Opened{tag}", resolve_links=True)) == 2 and evs, "$et- links"
    )
    assert [e.stream_name for e in opened] == [f"acct{tag}-1", f"acct{tag}-2"]
    streams = _until(
        lambda: (
            {e.stream_name for e in client.get_stream("$streams", resolve_links=True)}
            >= {f"acct{tag}-1", f"acct{tag}-2"}
        ),
        "$streams links",
    )
    assert streams
    _until(lambda: client.get_projection_statistics("$streams").progress == 100.0, "caught up")
    head = client.get_commit_position(filter_exclude=())
    time.sleep(1.0)  # idle projections write nothing (no checkpoint feeding on checkpoints); checked once
    assert client.get_commit_position(filter_exclude=()) == head
    stat = client.get_projection_statistics("$by_category")
    assert (stat.status, stat.mode, stat.name) == ("Running", "Continuous", "$by_category")
    assert client.get_projection_state("$by_category").value == {}
    with pytest.raises(NotFoundError):
        client.get_projection_statistics("no-such-projection")


def test_catch_up_subscription_to_a_category_resolves_links(client: KurrentDBClient) -> None:
    tag = uuid.uuid4().hex[:12]
    client.enable_projection("$by_category")
    _append(client, f"shop{tag}-1", "Ordered")
    with client.subscribe_to_stream(f"$ce-shop{tag}", resolve_links=True, timeout=DEADLINE) as sub:
        first = next(iter(sub))
        assert (first.stream_name, first.type) == (f"shop{tag}-1", "Ordered")
        _append(client, f"shop{tag}-2", "Paid")
        second = next(iter(sub))
        assert (second.stream_name, second.type) == (f"shop{tag}-2", "Paid")


def test_persistent_subscription_to_a_category_with_resolve_links(client: KurrentDBClient) -> None:
    tag = uuid.uuid4().hex[:12]
    client.enable_projection("$by_category")
    _append(client, f"inv{tag}-1", "Issued")
    _append(client, f"inv{tag}-2", "Issued")
    client.create_subscription_to_stream("billing", f"$ce-inv{tag}", resolve_links=True)
    sub = client.read_subscription_to_stream("billing", f"$ce-inv{tag}", timeout=DEADLINE)
    try:
        got = [next(sub), next(sub)]
        assert [e.stream_name for e in got] == [f"inv{tag}-1", f"inv{tag}-2"]
        assert all(e.link is not None and e.link.stream_name == f"$ce-inv{tag}" for e in got)
        for ev in got:
            sub.ack(ev)  # the link's id, which the group tracks
        _until(lambda: client.get_subscription_info("billing", f"$ce-inv{tag}").total_in_flight_messages == 0, "acks")
    finally:
        sub.stop()


def test_disable_reset_and_unsupported_calls(client: KurrentDBClient) -> None:
    tag = uuid.uuid4().hex[:12]
    client.enable_projection("$by_event_type")
    _append(client, f"x{tag}", f"T{tag}")
    _until(lambda: client.get_stream(f"$et-T{tag}"), "the first link")
    client.disable_projection("$by_event_type")
    assert client.get_projection_statistics("$by_event_type").status == "Stopped"
    _append(client, f"x{tag}", f"T{tag}")
    time.sleep(0.5)  # a disabled projection writes nothing (checked once, not a synchronisation)
    assert len(client.get_stream(f"$et-T{tag}")) == 1
    client.enable_projection("$by_event_type")  # resumes from its checkpoint
    _until(lambda: len(client.get_stream(f"$et-T{tag}")) == 2, "the second link")
    client.reset_projection("$by_event_type")  # projects again; links are not written twice
    _until(lambda: client.get_projection_statistics("$by_event_type").progress == 100.0, "the reset caught up")
    assert len(client.get_stream(f"$et-T{tag}")) == 2
    with pytest.raises(NotFoundError):
        client.enable_projection("$nope")
    with pytest.raises(KurrentDBClientError, match="Method not found"):  # UNIMPLEMENTED: no JS engine
        client.create_projection(query="fromAll()", name="user-defined")


def test_projections_resume_after_a_restart(proc_server: Any, store_args: list[str]) -> None:
    store = store_args
    srv = proc_server(*store, "--bind", "127.0.0.1:0")
    client = KurrentDBClient(f"kurrentdb://{srv.address}?Tls=false")
    tag = uuid.uuid4().hex[:12]
    client.enable_projection("$by_category")
    _append(client, f"r{tag}-1", "A")
    _until(lambda: client.get_stream(f"$ce-r{tag}"), "the first link")
    client.close()
    assert srv.terminate() == 0
    srv = proc_server(*store, "--bind", "127.0.0.1:0")
    client = KurrentDBClient(f"kurrentdb://{srv.address}?Tls=false")
    try:
        assert client.get_projection_statistics("$by_category").status == "Running"
        _append(client, f"r{tag}-2", "B")
        links = _until(lambda: len(evs := client.get_stream(f"$ce-r{tag}", resolve_links=True)) == 2 and evs, "links")
        assert [e.stream_name for e in links] == [f"r{tag}-1", f"r{tag}-2"]
    finally:
        client.close()


@pytest.mark.parametrize("how", ["flag", "env"])
def test_start_standard_projections_enables_them_at_start(proc_server: Any, store_args: list[str], how: str) -> None:
    """KurrentDB's `--start-standard-projections`: a client reads `$et-`/`$ce-` without enabling anything."""
    if how == "flag":
        srv = proc_server(*store_args, "--bind", "127.0.0.1:0", "--start-standard-projections")
    else:
        env = {"KURRENTDB_START_STANDARD_PROJECTIONS": "true"}
        srv = proc_server(*store_args, "--bind", "127.0.0.1:0", env=env)
    client = KurrentDBClient(f"kurrentdb://{srv.address}?Tls=false")
    try:
        stats = {s.name: s.status for s in client.list_all_projection_statistics()}
        assert {stats[name] for name in ("$by_category", "$by_event_type", "$streams")} == {"Running"}
        tag = uuid.uuid4().hex[:12]
        _append(client, f"s{tag}-1", f"Made{tag}")
        by_type = _until(lambda: client.get_stream(f"$et-Made{tag}", resolve_links=True), "$et- link")
        assert [(e.stream_name, e.type) for e in by_type] == [(f"s{tag}-1", f"Made{tag}")]
        assert _until(lambda: client.get_stream(f"$ce-s{tag}", resolve_links=True), "$ce- link")
    finally:
        client.close()
