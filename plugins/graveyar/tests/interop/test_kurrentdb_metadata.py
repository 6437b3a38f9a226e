"""Stream metadata KurrentDB documents ($maxCount, $maxAge, $tb) through kurrentdbclient's
set_stream_metadata/get_stream_metadata, against `graveyar serve` on both backends."""

from __future__ import annotations

import time
import uuid

import pytest
from kurrentdbclient import KurrentDBClient, NewEvent, StreamState
from kurrentdbclient.exceptions import GrpcError, NotFoundError

pytestmark = pytest.mark.interop


def _fill(client: KurrentDBClient, n: int) -> str:
    s = str(uuid.uuid4())
    client.append_to_stream(
        s, current_version=StreamState.NO_STREAM, events=[NewEvent(type=f"E{i}", data=b"{}") for i in range(n)]
    )
    return s


def _revisions(client: KurrentDBClient, s: str) -> list[int]:
    try:
        return [e.stream_position for e in client.get_stream(s)]
    except NotFoundError:
        return []


def test_max_count_keeps_only_the_newest_events(client: KurrentDBClient) -> None:
    s = _fill(client, 5)
    client.set_stream_metadata(s, metadata={"$maxCount": 2})
    assert client.get_stream_metadata(s) == ({"$maxCount": 2}, 0)
    assert _revisions(client, s) == [3, 4]
    client.append_to_stream(s, current_version=4, events=[NewEvent(type="E5", data=b"{}")])
    assert _revisions(client, s) == [4, 5]
    # Replacing the metadata without $maxCount lifts the rule.
    client.set_stream_metadata(s, metadata={"owner": "me"}, current_version=0)
    assert _revisions(client, s) == [0, 1, 2, 3, 4, 5]


def test_truncate_before_hides_earlier_revisions_and_appends_continue(client: KurrentDBClient) -> None:
    s = _fill(client, 4)
    client.set_stream_metadata(s, metadata={"$tb": 3})
    assert _revisions(client, s) == [3]
    client.append_to_stream(s, current_version=3, events=[NewEvent(type="E4", data=b"{}")])
    assert _revisions(client, s) == [3, 4]


def test_max_age_hides_events_older_than_the_limit(client: KurrentDBClient) -> None:
    s = _fill(client, 2)
    client.set_stream_metadata(s, metadata={"$maxAge": 1})
    time.sleep(2.2)
    client.append_to_stream(s, current_version=1, events=[NewEvent(type="E2", data=b"{}")])
    assert _revisions(client, s) == [2]


def test_invalid_rules_are_rejected_and_change_nothing(client: KurrentDBClient) -> None:
    s = _fill(client, 3)
    for bad in ({"$maxCount": 0}, {"$maxCount": "two"}, {"$tb": -1}, {"$maxAge": 1.5}):
        with pytest.raises(GrpcError):
            client.set_stream_metadata(s, metadata=bad)
    assert _revisions(client, s) == [0, 1, 2]
    assert client.get_stream_metadata(s) == ({}, StreamState.NO_STREAM)
