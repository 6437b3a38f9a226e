"""Plain data the core passes around: proposed and recorded events, expected state, results.

Versions are 1-based: a stream's version is the number of events ever appended to it
(0 = none). Global positions are 1-based, gap-free and in commit order.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AppendResult",
    "Expected",
    "ExpectedKind",
    "ProposedEvent",
    "RecordedEvent",
    "Snapshot",
    "StreamInfo",
    "StreamMetadata",
    "Transition",
]


@dataclass(frozen=True, slots=True)
class Transition:
    """The state movement an event represents (graveyar_db's `Transition`)."""

    name: str
    from_state: str
    to_state: str

    def to_dict(self) -> dict[str, str]:
        """Return the JSON form."""
        return {"name": self.name, "from_state": self.from_state, "to_state": self.to_state}


@dataclass(frozen=True, slots=True)
class ProposedEvent:
    """An event a client asks to append.

    Attributes:
        event_id: Canonical lowercase UUID string (the idempotency key).
        event_type: Type name; schemas are registered under it.
        data: Opaque payload.
        metadata: String key/value context.
        timestamp: Unix milliseconds; 0 means "stamp on append".
        transition: Optional state movement.
    """

    event_id: str
    event_type: str
    data: bytes = b""
    metadata: dict[str, str] = field(default_factory=dict)
    timestamp: int = 0
    transition: Transition | None = None


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event as stored: a proposed event plus its stream, version and global position."""

    stream: str
    version: int
    position: int
    event_id: str
    event_type: str
    data: bytes
    metadata: dict[str, str]
    timestamp: int
    transition: Transition | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (data as UTF-8 text when it decodes, else under `data_b64`)."""
        import base64

        out: dict[str, Any] = {
            "stream": self.stream,
            "version": self.version,
            "position": self.position,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "metadata": dict(self.metadata),
            "timestamp": self.timestamp,
            "transition": self.transition.to_dict() if self.transition else None,
        }
        try:
            out["data"] = self.data.decode("utf-8")
        except UnicodeDecodeError:
            out["data_b64"] = base64.b64encode(self.data).decode("ascii")
        return out


class ExpectedKind(enum.Enum):
    """What an append or delete expects of the stream before it runs."""

    ANY = "any"
    NO_STREAM = "no_stream"
    STREAM_EXISTS = "stream_exists"
    EXACT = "exact"


@dataclass(frozen=True, slots=True)
class Expected:
    """An expected stream state; `version` is only meaningful for EXACT."""

    kind: ExpectedKind = ExpectedKind.ANY
    version: int = 0

    @classmethod
    def any(cls) -> Expected:
        """No check."""
        return cls(ExpectedKind.ANY)

    @classmethod
    def no_stream(cls) -> Expected:
        """The stream must have no visible events."""
        return cls(ExpectedKind.NO_STREAM)

    @classmethod
    def stream_exists(cls) -> Expected:
        """The stream must have at least one visible event."""
        return cls(ExpectedKind.STREAM_EXISTS)

    @classmethod
    def exact(cls, version: int) -> Expected:
        """The stream's version must equal `version` (0 = no events yet)."""
        return cls(ExpectedKind.EXACT, version)

    @classmethod
    def parse(cls, text: str) -> Expected:
        """`any` (or graveyar_db's `-1`), `no_stream`, `stream_exists` or a version number, as users type them."""
        from toolkit_graveyar.core.errors import InvalidRequest

        v = text.strip().lower().replace("-", "_")
        if v in ("any", "_1"):
            return cls.any()
        if v == "no_stream":
            return cls.no_stream()
        if v == "stream_exists":
            return cls.stream_exists()
        if v.isdigit():
            return cls.exact(int(v))
        raise InvalidRequest(
            f"bad expected state {text!r}", hint="use any (or -1), no_stream, stream_exists or a version number"
        )

    def describe(self) -> str:
        """Return the wire form used in errors: the number for EXACT, else the kind name."""
        return str(self.version) if self.kind is ExpectedKind.EXACT else self.kind.value


@dataclass(frozen=True, slots=True)
class AppendResult:
    """Outcome of an append: the stream's new version and the global positions used."""

    stream: str
    first_version: int
    version: int
    first_position: int
    position: int
    duplicate: bool = False
    #: The append revived a soft-deleted stream (KurrentDB then rewrites its `$tb`); not in the JSON form.
    revived: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "stream": self.stream,
            "first_version": self.first_version,
            "version": self.version,
            "first_position": self.first_position,
            "position": self.position,
            "duplicate": self.duplicate,
        }


@dataclass(frozen=True, slots=True)
class StreamMetadata:
    """Read-time retention rules of one stream."""

    max_count: int | None = None
    max_age: int | None = None  # seconds
    #: Hide versions below this one; only ever raised (KurrentDB's `$tb`, as a 1-based version).
    truncate_before: int | None = None

    def to_dict(self) -> dict[str, int | None]:
        """Return the JSON form."""
        return {"max_count": self.max_count, "max_age": self.max_age}


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What the store knows about one stream.

    Attributes:
        stream: Name.
        version: Number of events ever appended (versions continue after a delete).
        position: Global position of the last event (0 = none).
        deleted: Soft-deleted and not revived since.
        truncate_before: Versions below this are hidden (set by delete).
        metadata: Retention rules.
    """

    stream: str
    version: int
    position: int = 0
    deleted: bool = False
    truncate_before: int = 0
    metadata: StreamMetadata = field(default_factory=StreamMetadata)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "stream": self.stream,
            "version": self.version,
            "position": self.position,
            "deleted": self.deleted,
            "truncate_before": self.truncate_before,
            "metadata": self.metadata.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The latest snapshot of a stream (only one is kept)."""

    stream: str
    version: int
    payload: bytes
    timestamp: int

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (payload as text when UTF-8, else base64 under `payload_b64`)."""
        import base64

        out: dict[str, Any] = {"stream": self.stream, "version": self.version, "timestamp": self.timestamp}
        try:
            out["payload"] = self.payload.decode("utf-8")
        except UnicodeDecodeError:
            out["payload_b64"] = base64.b64encode(self.payload).decode("ascii")
        return out
