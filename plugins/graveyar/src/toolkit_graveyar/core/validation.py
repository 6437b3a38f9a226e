"""Request checks shared by both gRPC services: names, ids, transitions and sizes.

Every failure is an `InvalidRequest` (gRPC INVALID_ARGUMENT) naming the offending field.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from toolkit_graveyar.core.errors import InvalidRequest

__all__ = ["ALL_STREAM", "Limits", "check_event", "check_stream_name", "check_transition", "uuid_of"]

ALL_STREAM = "$all"
MAX_STREAM_NAME = 255
MAX_EVENT_TYPE = 255


@dataclass(frozen=True, slots=True)
class Limits:
    """Size limits; anything above them is INVALID_ARGUMENT (the gRPC transport limit is higher).

    Attributes:
        max_event_size: Bytes of one event's data plus metadata.
        max_append_size: Bytes of all events of one append.
        max_append_events: Events in one append.
        max_read_page: Events per response message of a read or subscription.
    """

    max_event_size: int = 4 * 1024 * 1024
    max_append_size: int = 16 * 1024 * 1024
    max_append_events: int = 10_000
    max_read_page: int = 512


def check_stream_name(stream: str, *, allow_all: bool = False, writable: bool = True) -> str:
    """Validate a stream name: 1..255 UTF-8 bytes, no NUL or control characters, no `$` prefix when writing."""
    if not stream:
        raise InvalidRequest("stream name is empty", hint="pass a stream name such as 'order-42'")
    if stream == ALL_STREAM:
        if allow_all:
            return stream
        raise InvalidRequest("'$all' is the global log, not a stream", hint="use a stream name")
    if len(stream.encode("utf-8")) > MAX_STREAM_NAME:
        raise InvalidRequest(f"stream name is longer than {MAX_STREAM_NAME} bytes")
    if any(ord(c) < 0x20 for c in stream):
        raise InvalidRequest("stream name contains control characters")
    if writable and stream.startswith("$"):
        raise InvalidRequest(f"stream names starting with '$' are reserved: {stream!r}")
    return stream


def uuid_of(value: str, *, field: str = "id") -> tuple[str, bytes]:
    """Parse a UUID string (any form `uuid.UUID` accepts): (canonical form, 16 bytes), or raise InvalidRequest."""
    if len(value) == 36 and value[8] == value[13] == value[18] == value[23] == "-" and value == value.lower():
        # fast path for the canonical form (what every SDK sends)
        try:
            raw = bytes.fromhex(value.replace("-", ""))
        except ValueError:
            raw = b""
        if len(raw) == 16:
            return value, raw
    try:
        u = uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        raise InvalidRequest(f"{field} {value!r} is not a UUID", hint="use a UUID such as uuid4()") from None
    return str(u), u.bytes


def check_transition(name: str, from_state: str, to_state: str, *, where: str) -> None:
    """graveyar_db's rule: non-blank name, from_state and to_state, and from != to."""
    for label, value in (("name", name), ("from_state", from_state), ("to_state", to_state)):
        if not value.strip():
            raise InvalidRequest(f"{where}: transition {label} is blank")
    if from_state == to_state:
        raise InvalidRequest(f"{where}: transition from_state equals to_state ({from_state!r})")


def check_event(i: int, event_type: str, transition: Any, require_transition: bool) -> None:
    """Per-event checks of event `i`: its type, and its `eventstore.Transition` (None when unset)."""
    if not event_type:
        raise InvalidRequest(f"event {i}: event_type is empty")
    # A UTF-8 character is at most 4 bytes, so only a type longer than 63 characters needs encoding.
    if len(event_type) > MAX_EVENT_TYPE // 4 and len(event_type.encode("utf-8")) > MAX_EVENT_TYPE:
        raise InvalidRequest(f"event {i}: event_type is longer than {MAX_EVENT_TYPE} bytes")
    if transition is not None:
        check_transition(transition.name, transition.from_state, transition.to_state, where=f"event {i}")
    elif require_transition:
        raise InvalidRequest(f"event {i}: transition is required", hint="set name, from_state and to_state")
