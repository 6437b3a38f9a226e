"""The grite event model: kinds, payload validation, ids, JSON rendering, signatures.

An `Event` is immutable and carries its payload in the exact array form that is hashed
and stored in chunks, so a round trip through a chunk never changes a byte.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import Any, NamedTuple

from cbor2 import CBOREncoder
from cbor2 import dumps as _cbor_dumps

from toolkit_grite.errors import DbError, InvalidArgs
from toolkit_kernel.hashing import GRITE_SCHEMA_VERSION, blake2b_256, grite_event_id

__all__ = [
    "DEP_TYPES",
    "KIND_NAMES",
    "KIND_TAGS",
    "Event",
    "check_payload",
    "content_id",
    "id_encoder",
    "make_event",
    "new_id",
    "order_key",
]

KIND_NAMES: dict[int, str] = {
    1: "IssueCreated",
    2: "IssueUpdated",
    3: "CommentAdded",
    4: "LabelAdded",
    5: "LabelRemoved",
    6: "StateChanged",
    7: "LinkAdded",
    8: "AssigneeAdded",
    9: "AssigneeRemoved",
    10: "AttachmentAdded",
    11: "DependencyAdded",
    12: "DependencyRemoved",
    13: "ContextUpdated",
    14: "ProjectContextUpdated",
}
KIND_TAGS: dict[str, int] = {name: tag for tag, name in KIND_NAMES.items()}
_new_tuple = tuple.__new__
DEP_TYPES = ("blocks", "depends_on", "related_to")
STATES = ("open", "closed")


def new_id() -> bytes:
    """Return 16 random bytes: a fresh actor or issue id."""
    return os.urandom(16)


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _opt_str(v: Any) -> bool:
    return v is None or isinstance(v, str)


def _bytes_n(n: int) -> Any:
    return lambda v: isinstance(v, bytes) and len(v) == n


def _symbols(v: Any) -> bool:
    return isinstance(v, list) and all(
        isinstance(s, list)
        and len(s) == 4
        and isinstance(s[0], str)
        and isinstance(s[1], str)
        and all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in s[2:])
        for s in v
    )


def _labels(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


_SHAPES: dict[int, tuple[Any, ...]] = {
    1: (_is_str, _is_str, _labels),
    2: (_opt_str, _opt_str),
    3: (_is_str,),
    4: (_is_str,),
    5: (_is_str,),
    6: (lambda v: v in STATES,),
    7: (_is_str, _opt_str),
    8: (_is_str,),
    9: (_is_str,),
    10: (_is_str, _bytes_n(32), _is_str),
    11: (_bytes_n(16), lambda v: v in DEP_TYPES),
    12: (_bytes_n(16), lambda v: v in DEP_TYPES),
    13: (_is_str, _is_str, _symbols, _is_str, _bytes_n(32)),
    14: (_is_str, _is_str),
}


def check_payload(kind_tag: int, payload: Any) -> bool:
    """Return True when `payload` has the exact shape grite 0.5.3 writes for `kind_tag`."""
    if type(payload) is not list:
        return False
    n = len(payload)
    if kind_tag == 1:  # the hot path of every rebuild
        return (
            n == 3
            and type(payload[0]) is str
            and type(payload[1]) is str
            and type(payload[2]) is list
            and all(type(x) is str for x in payload[2])
        )
    if kind_tag in (3, 4, 5, 8, 9, 14) or kind_tag == 7:
        if kind_tag == 7:
            return n == 2 and type(payload[0]) is str and (payload[1] is None or type(payload[1]) is str)
        return n == (2 if kind_tag == 14 else 1) and all(type(x) is str for x in payload)
    shape = _SHAPES.get(kind_tag)
    if shape is None or n != len(shape):
        return False
    return all(check(v) for check, v in zip(shape, payload, strict=True))


class Event(NamedTuple):
    """One grite event in its stored form (an immutable tuple: cheap to build in bulk).

    Attributes:
        event_id: 32-byte BLAKE2b-256 id over the preimage.
        issue_id: 16-byte issue id.
        actor: 16-byte actor id.
        ts: Milliseconds since the epoch (UTC).
        parent: Optional 32-byte parent event id.
        kind: Kind tag (1..14).
        payload: The kind's payload array, exactly as hashed.
        sig: Optional 64-byte Ed25519 signature over `event_id`.
    """

    event_id: bytes
    issue_id: bytes
    actor: bytes
    ts: int
    parent: bytes | None
    kind: int
    payload: tuple[Any, ...]
    sig: bytes | None = None

    def to_wire(self) -> list[Any]:
        """Return the chunk form `[event_id, issue_id, actor, ts, parent, kind, payload, sig]`."""
        return [self.event_id, self.issue_id, self.actor, self.ts, self.parent, self.kind, list(self.payload), self.sig]

    @classmethod
    def from_wire(cls, item: Any) -> Event:
        """Build an event from its chunk form, checking sizes, tag and payload shape.

        Raises:
            DbError: the item is malformed.
        """
        if type(item) is not list or len(item) != 8:
            raise DbError("chunk event is not an 8-item array")
        eid, iid, actor, ts, parent, kind, payload, sig = item
        if not (
            type(eid) is bytes
            and len(eid) == 32
            and type(iid) is bytes
            and len(iid) == 16
            and type(actor) is bytes
            and len(actor) == 16
            and type(ts) is int
            and 0 <= ts < 1 << 64  # 0.5.3's u64; a bignum would break every reader's order key
            and (parent is None or (type(parent) is bytes and len(parent) == 32))
            and type(kind) is int
            and (sig is None or (type(sig) is bytes and len(sig) == 64))
        ):
            raise DbError("chunk event has a field of the wrong type or size")
        if not check_payload(kind, payload):
            raise DbError(f"chunk event has an unknown kind {kind!r} or a malformed payload")
        # every field is given: the tuple is built directly (a third of the generated `__new__`'s cost)
        return _new_tuple(cls, (eid, iid, actor, ts, parent, kind, tuple(payload), sig))

    def computed_id(self) -> bytes:
        """Recompute the event id from the other fields."""
        return grite_event_id(self.issue_id, self.actor, self.ts, self.parent, self.kind, list(self.payload))

    @property
    def key(self) -> tuple[int, bytes, bytes]:
        """The order key `(ts, actor, event_id)` every merge rule uses."""
        return (self.ts, self.actor, self.event_id)

    def kind_json(self) -> dict[str, Any]:
        """Return the externally tagged kind, e.g. `{"StateChanged": {"state": "closed"}}`."""
        p = self.payload
        name = KIND_NAMES[self.kind]
        body: dict[str, Any]
        if self.kind == 1:
            body = {"title": p[0], "body": p[1], "labels": list(p[2])}
        elif self.kind == 2:
            body = {"title": p[0], "body": p[1]}
        elif self.kind == 3:
            body = {"body": p[0]}
        elif self.kind in (4, 5):
            body = {"label": p[0]}
        elif self.kind == 6:
            body = {"state": p[0]}
        elif self.kind == 7:
            body = {"url": p[0], "note": p[1]}
        elif self.kind in (8, 9):
            body = {"user": p[0]}
        elif self.kind == 10:
            body = {"name": p[0], "sha256": p[1].hex(), "mime": p[2]}
        elif self.kind in (11, 12):
            body = {"target": p[0].hex(), "dep_type": p[1]}
        elif self.kind == 13:
            body = {
                "path": p[0],
                "language": p[1],
                "symbol_count": len(p[2]),
                "summary": p[3],
                "content_hash": p[4].hex(),
            }
        else:
            body = {"key": p[0], "value": p[1]}
        return {name: body}

    def to_json(self) -> dict[str, Any]:
        """Return the event JSON every surface prints (ids and bytes as hex)."""
        return {
            "event_id": self.event_id.hex(),
            "issue_id": self.issue_id.hex(),
            "actor": self.actor.hex(),
            "ts_unix_ms": self.ts,
            "parent": self.parent.hex() if self.parent else None,
            "kind": self.kind_json(),
            "sig": self.sig.hex() if self.sig else None,
        }


def content_id(ev: Event, dumps: Callable[[Any], bytes] = _cbor_dumps) -> bytes:
    """The id `ev`'s content hashes to, as `Event.computed_id` without its size checks.

    For an event whose field sizes are valid (every event `Event.from_wire` or `make_event`
    built) it is exactly `computed_id()`. WAL readers compare it with `ev.event_id` for every
    event they ingest, with `dumps` from `id_encoder` (the same bytes as `cbor2.dumps`).
    """
    preimage = dumps((GRITE_SCHEMA_VERSION, ev[1], ev[2], ev[3], ev[4], ev[5], ev[6]))
    return blake2b_256(preimage)


def id_encoder() -> Callable[[Any], bytes]:
    """A `cbor2.dumps` that reuses one encoder: a third cheaper per event (for one thread only).

    `cbor2.dumps` builds an encoder and a buffer on every call, which costs more than encoding
    an event's preimage; a rebuild hashes every event of the WAL.
    """
    buffer = io.BytesIO()
    encode = CBOREncoder(buffer).encode

    def dumps(value: Any) -> bytes:
        buffer.seek(0)
        buffer.truncate()
        encode(value)
        return buffer.getvalue()

    return dumps


def order_key(event: Event) -> tuple[bytes, int, bytes, bytes]:
    """Sort key `(issue_id, ts, actor, event_id)` used by export and snapshots."""
    return (event.issue_id, event.ts, event.actor, event.event_id)


def make_event(
    issue_id: bytes,
    actor: bytes,
    ts: int,
    kind: int,
    payload: list[Any],
    *,
    signing_key: bytes | None = None,
) -> Event:
    """Create a new event: normalise the payload, compute its id and sign it when a key is given.

    Args:
        issue_id: 16-byte issue id.
        actor: 16-byte actor id.
        ts: Milliseconds since the epoch.
        kind: Kind tag.
        payload: The kind's payload array.
        signing_key: Optional 32-byte Ed25519 seed.

    Raises:
        InvalidArgs: the payload does not fit the kind.
    """
    if kind == 1:
        payload = [payload[0], payload[1], sorted(set(payload[2]))]
    if not check_payload(kind, payload):
        raise InvalidArgs(f"invalid payload for {KIND_NAMES.get(kind, kind)}")
    eid = grite_event_id(issue_id, actor, ts, None, kind, payload)
    sig = sign(signing_key, eid) if signing_key else None
    return Event(eid, issue_id, actor, ts, None, kind, tuple(payload), sig)


def sign(seed: bytes, event_id: bytes) -> bytes:
    """Return the Ed25519 signature (64 bytes) of `event_id` under the key with `seed`."""
    from nacl.signing import SigningKey

    signed = SigningKey(seed).sign(event_id)
    return bytes(signed.signature)


def verify(public_key: bytes, event_id: bytes, sig: bytes) -> bool:
    """Return True when `sig` is a valid Ed25519 signature of `event_id` by `public_key`."""
    from nacl.exceptions import BadSignatureError
    from nacl.signing import VerifyKey

    try:
        VerifyKey(public_key).verify(event_id, sig)
    except (BadSignatureError, ValueError):
        return False
    return True
