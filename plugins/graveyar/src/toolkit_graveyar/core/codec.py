"""The storage record: a protobuf-encoded `graveyar.v1.RecordedEvent`, shared by both backends.

Fields 1-6 of a record are numbered exactly like graveyar_db's `eventstore.Event`, which is
also the event message of both append RPCs. So an incoming event's serialized bytes are the
record's tail as they are; the writer appends only what it decides: stream (7), version (8)
and position (9), always in that order, position last. Fix-ups (a server-chosen or
canonicalised id, a server timestamp) are appended as a second occurrence of the field: for
singular fields protobuf parsers keep the last one. Reads send stored bytes to the wire
unchanged: a page of events is the records framed as repeated field 1.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from typing import Any

from toolkit_graveyar.core.model import ProposedEvent, RecordedEvent, Transition

__all__ = [
    "content_hash",
    "decode_record",
    "event_to_pb",
    "finish_record",
    "frame_repeated",
    "from_pb",
    "record_position",
    "simple_content_hash",
    "stream_field",
    "varint",
]

_POSITION_TAG = 0x48  # field 9, varint
# The keyed state of the content hash, copied per event: cheaper than a fresh blake2b(person=...).
_HASH_BASE = hashlib.blake2b(digest_size=16, person=b"graveyar.event")


def varint(value: int) -> bytes:
    """Encode an unsigned int as a protobuf base-128 varint."""
    # Unrolled up to four bytes (values below 2**28: every version and position in practice);
    # this runs for each stored event, and the loop below is about twice as slow.
    if value < 0x80:
        return bytes((value,))
    if value < 0x4000:
        return bytes((value & 0x7F | 0x80, value >> 7))
    if value < 0x200000:
        return bytes((value & 0x7F | 0x80, value >> 7 & 0x7F | 0x80, value >> 14))
    if value < 0x10000000:
        return bytes((value & 0x7F | 0x80, value >> 7 & 0x7F | 0x80, value >> 14 & 0x7F | 0x80, value >> 21))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def string_field(number: int, value: str) -> bytes:
    """A length-delimited string field."""
    raw = value.encode("utf-8")
    return bytes(((number << 3) | 2,)) + varint(len(raw)) + raw


def stream_field(stream: str) -> bytes:
    """Field 7 (`stream`) of a RecordedEvent, ready to append to a tail."""
    return string_field(7, stream)


def finish_record(tail: bytes, stream_bytes: bytes, version: int, position: int) -> bytes:
    """Complete a record: the event's bytes, then stream (7), version (8) and position (9)."""
    return tail + stream_bytes + b"\x40" + varint(version) + b"\x48" + varint(position)


def event_to_pb(event: ProposedEvent) -> Any:
    """The `eventstore.Event` message of a ProposedEvent."""
    from toolkit_graveyar._proto import eventstore_pb2 as es

    msg = es.Event(
        id=event.event_id,
        event_type=event.event_type,
        payload=event.data,
        metadata=event.metadata,
        timestamp=event.timestamp,
    )
    if event.transition is not None:
        t = event.transition
        msg.transition.CopyFrom(es.Transition(name=t.name, from_state=t.from_state, to_state=t.to_state))
    return msg


def content_hash(msg: Any) -> bytes:
    """The 16-byte BLAKE2b digest idempotent retries are compared by.

    BLAKE2b-128 (person `graveyar.event`) of the deterministic serialisation of the
    `eventstore.Event` without `id`, `timestamp` and unknown fields: it covers type, payload,
    metadata and transition. Deterministic serialisation sorts the metadata map, so the digest
    does not depend on the sender's language. Events without metadata and transition (the
    common case) take `simple_content_hash`, which produces the same bytes by hand.
    """
    if not msg.metadata and not msg.HasField("transition"):
        return simple_content_hash(msg.event_type, msg.payload)
    copy = type(msg)()  # an eventstore.Event, or a graveyar.v1.RecordedEvent from a KurrentDB append
    copy.CopyFrom(msg)
    copy.ClearField("id")
    copy.ClearField("timestamp")
    copy.DiscardUnknownFields()
    h = _HASH_BASE.copy()
    h.update(copy.SerializeToString(deterministic=True))
    return h.digest()


def simple_content_hash(event_type: str, payload: bytes) -> bytes:
    """`content_hash` of an event that has no metadata and no transition, from its two fields."""
    h = _HASH_BASE.copy()
    h.update(_type_field(event_type))
    if payload:
        h.update(b"\x1a" + varint(len(payload)) + payload)
    return h.digest()


@functools.lru_cache(maxsize=1024)
def _type_field(event_type: str) -> bytes:
    # Field 2 (`event_type`) as serialised; cached because a batch repeats a handful of types.
    et = event_type.encode("utf-8")
    return b"\x12" + varint(len(et)) + et if et else b""


def decode_record(record: bytes) -> RecordedEvent:
    """Decode a stored record into a `RecordedEvent`."""
    from toolkit_graveyar._proto.graveyar.v1 import graveyar_pb2

    return from_pb(graveyar_pb2.RecordedEvent.FromString(record))


def from_pb(m: Any) -> RecordedEvent:
    """Convert a `graveyar.v1.RecordedEvent` message into the core dataclass."""
    transition = None
    if m.HasField("transition"):
        t = m.transition
        transition = Transition(t.name, t.from_state, t.to_state)
    return RecordedEvent(
        stream=m.stream,
        version=m.version,
        position=m.position,
        event_id=m.id,
        event_type=m.event_type,
        data=m.payload,
        metadata=dict(m.metadata),
        timestamp=m.timestamp,
        transition=transition,
    )


def record_position(record: bytes) -> int:
    """The position of a record written by `finish_record`, read from its end without a decode."""
    # A varint's last byte has the high bit clear and every earlier byte has it set, so the
    # position varint is the final run of bytes after the last byte that has the high bit clear.
    end = len(record) - 1
    i = end - 1
    while i >= 0 and record[i] & 0x80:
        i -= 1
    if i < 0 or record[i] != _POSITION_TAG:
        return decode_record(record).position
    value = 0
    for b in reversed(record[i + 1 : end + 1]):
        value = (value << 7) | (b & 0x7F)
    return value


def frame_repeated(records: Iterable[bytes], field: int = 1) -> bytes:
    """Frame records as a repeated length-delimited field (a ReadResponse / EventBatch body)."""
    tag = bytes(((field << 3) | 2,))
    parts: list[bytes] = []
    for rec in records:
        parts.append(tag)
        parts.append(varint(len(rec)))
        parts.append(rec)
    return b"".join(parts)
