"""Property tests: stored records, framing and hashing agree with the protobuf library."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit_graveyar._proto.graveyar.v1 import graveyar_pb2 as pb
from toolkit_graveyar.core.codec import (
    content_hash,
    decode_record,
    event_to_pb,
    finish_record,
    frame_repeated,
    record_position,
    stream_field,
    varint,
)
from toolkit_graveyar.core.model import ProposedEvent, Transition
from toolkit_graveyar.core.schema import check_schema, validate_payload

text = st.text(min_size=1, max_size=20)
u64 = st.integers(min_value=0, max_value=2**63)
events = st.builds(
    ProposedEvent,
    event_id=st.uuids().map(str),
    event_type=text,
    data=st.binary(max_size=200),
    metadata=st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=4),
    timestamp=u64,
    transition=st.none() | st.builds(Transition, text, text, text),
)


@given(events, text, u64, u64)
@settings(max_examples=200)
def test_record_round_trip(ev: ProposedEvent, stream: str, version: int, position: int) -> None:
    rec = finish_record(event_to_pb(ev).SerializeToString(), stream_field(stream), version, position)
    got = decode_record(rec)
    assert (got.stream, got.version, got.position) == (stream, version, position)
    assert (got.event_id, got.event_type, got.data, got.metadata, got.timestamp, got.transition) == (
        ev.event_id,
        ev.event_type,
        ev.data,
        ev.metadata,
        ev.timestamp,
        ev.transition,
    )
    assert record_position(rec) == position


@given(st.lists(st.tuples(events, text, u64, u64), max_size=5))
def test_framing_is_a_read_response(items: list[tuple[ProposedEvent, str, int, int]]) -> None:
    recs = [finish_record(event_to_pb(e).SerializeToString(), stream_field(s), v, p) for e, s, v, p in items]
    resp = pb.ReadResponse.FromString(frame_repeated(recs))
    assert [e.position for e in resp.events] == [p for *_, p in items]


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_varint_matches_protobuf(n: int) -> None:
    msg = pb.CaughtUp(at=n)
    assert msg.SerializeToString() == (b"\x08" + varint(n) if n else b"")


@given(events)
def test_content_hash_ignores_id_and_timestamp(ev: ProposedEvent) -> None:
    other = ProposedEvent(str(uuid.uuid4()), ev.event_type, ev.data, dict(ev.metadata), ev.timestamp + 1, ev.transition)
    assert content_hash(event_to_pb(other)) == content_hash(event_to_pb(ev))
    changed = ProposedEvent(ev.event_id, ev.event_type, ev.data + b"!", ev.metadata, ev.timestamp, ev.transition)
    assert content_hash(event_to_pb(changed)) != content_hash(event_to_pb(ev))


@given(events, text, u64, u64)
def test_record_is_a_graveyar_db_event(ev: ProposedEvent, stream: str, version: int, position: int) -> None:
    from toolkit_graveyar._proto import eventstore_pb2 as es

    rec = finish_record(event_to_pb(ev).SerializeToString(), stream_field(stream), version, position)
    assert es.Event.FromString(rec) == event_to_pb(ev) or es.Event.FromString(rec).id == ev.event_id


SCHEMA = {
    "name": "Order",
    "fields": {
        "total": {"field_type": {"primitive": "NUMBER"}, "constraints": {"required": True, "min_value": 0}},
        "status": {"field_type": {"enum_def": {"variants": ["open", "paid"]}}},
        "tags": {
            "field_type": {"array_def": {"element_type": {"primitive": "STRING"}}},
            "constraints": {"max_length": 2},
        },
        "customer": {
            "field_type": {
                "sub_schema": {
                    "name": "C",
                    "fields": {
                        "email": {
                            "field_type": {"primitive": "STRING"},
                            "constraints": {"regex": "@", "required": True},
                        }
                    },
                }
            },
            "nullable": True,
        },
        "paid": {"field_type": {"primitive": "BOOLEAN"}},
    },
}


def test_schema_validation_rules() -> None:
    assert check_schema(SCHEMA) == "Order"
    ok = {"total": 3, "status": "open", "tags": ["a"], "customer": {"email": "a@b"}, "paid": False}
    assert validate_payload(SCHEMA, json.dumps(ok).encode()) == []
    assert validate_payload(SCHEMA, json.dumps({"total": 1, "customer": None}).encode()) == []
    bad = {"total": -1, "status": "x", "tags": ["a", "b", "c"], "customer": {"email": "nope"}, "paid": 1}
    problems = validate_payload(SCHEMA, json.dumps(bad).encode())
    assert len(problems) == 5, problems
    assert validate_payload(SCHEMA, b"{}") == ["$.total: required field is missing"]
    assert validate_payload(SCHEMA, b"[]") == ["payload is not a JSON object"]
    assert validate_payload(SCHEMA, b"\xff")[0].startswith("payload is not JSON")
    assert validate_payload(SCHEMA, b'{"total": true}') == ["$.total: expected a number"]


@given(events)
def test_content_hash_fast_path_matches_the_definition(ev: ProposedEvent) -> None:
    import hashlib

    from toolkit_graveyar._proto import eventstore_pb2 as es

    msg = event_to_pb(ev)
    copy = es.Event()
    copy.CopyFrom(msg)
    copy.ClearField("id")
    copy.ClearField("timestamp")
    expected = hashlib.blake2b(copy.SerializeToString(deterministic=True), digest_size=16, person=b"graveyar.event")
    assert content_hash(msg) == expected.digest()


@given(st.uuids())
def test_uuid_forms(u: uuid.UUID) -> None:
    from toolkit_graveyar.core.validation import uuid_of

    for form in (str(u), str(u).upper(), u.hex, "{" + str(u) + "}", f"urn:uuid:{u}"):
        assert uuid_of(form) == (str(u), u.bytes)


def test_new_event_ids_are_random_canonical_uuid4s() -> None:
    from toolkit_graveyar.client import new_event_id

    ids = [new_event_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for value in ids:
        u = uuid.UUID(value)
        assert str(u) == value
        assert (u.version, u.variant) == (4, uuid.RFC_4122)
    # every variant digit (8, 9, a, b) shows up: the two random bits are really used
    assert {value[19] for value in ids} == set("89ab")


def _one_field(field: dict[str, object]) -> dict[str, object]:
    return {"name": "S", "fields": {"f": field}}


NUMBER: dict[str, object] = {"primitive": "NUMBER"}
STRING: dict[str, object] = {"primitive": "STRING"}


@pytest.mark.parametrize(
    ("schema", "why"),
    [
        ({"name": "S", "fields": {}}, "at least one field"),
        (_one_field({"field_type": STRING, "nullable": True, "constraints": {"required": True}}), "required and null"),
        (_one_field({"field_type": STRING, "overrides_on_null": True}), "needs nullable"),
        (_one_field({"field_type": STRING, "constraints": {"min_value": 1}}), "NUMBER fields only"),
        (_one_field({"field_type": NUMBER, "constraints": {"regex": "x"}}), "STRING fields only"),
        (_one_field({"field_type": STRING, "constraints": {"min_length": -1}}), "negative"),
        (_one_field({"field_type": {"enum_def": {"variants": ["a", "a"]}}}), "repeat"),
        (_one_field({"field_type": STRING, "constraints": {"regex": "(?=a)b"}}), "lookaround"),
        (_one_field({"field_type": STRING, "constraints": {"regex": r"(a)\1"}}), "backreference"),
        (_one_field({"field_type": STRING, "constraints": {"regex": "a++"}}), "possessive"),
        (_one_field({"field_type": {"sub_schema": {"name": "In", "fields": {}}}}), "at least one field"),
    ],
)
def test_schemas_graveyar_db_rejects_are_rejected(schema: dict[str, object], why: str) -> None:
    from toolkit_graveyar.core.errors import InvalidRequest

    with pytest.raises(InvalidRequest, match=why):
        check_schema(schema)


def test_schemas_graveyar_db_accepts_still_pass() -> None:
    nullable_override = {"field_type": STRING, "nullable": True, "overrides_on_null": True}
    ranged = {"field_type": NUMBER, "constraints": {"min_value": 0, "max_value": 9, "required": True}}
    pattern = {"field_type": STRING, "constraints": {"regex": r"^[a-z]+\d{2,3}$", "min_length": 0}}
    schema = {"name": "S", "fields": {"a": nullable_override, "b": ranged, "c": pattern}}
    assert check_schema(schema) == "S"
