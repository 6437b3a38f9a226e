"""graveyar's error classes: one per wire condition, all rooted in `ToolkitError`.

The server maps them to gRPC status codes and trailers (`exception=<code>` plus facts);
the client maps them back, so a CLI user sees the same kind and exit code either way.
Each class carries `code`, its stable wire name; `code_of(err)` reads it for any error.
"""

from __future__ import annotations

from typing import Any, ClassVar

from toolkit_kernel.errors import Busy, Conflict, Internal, NotFound, ToolkitError, UsageError

__all__ = [
    "AccessDenied",
    "DuplicateEventId",
    "InvalidRequest",
    "NotLeader",
    "SchemaViolation",
    "ServerBusy",
    "SettingsRefused",
    "SnapshotRejected",
    "StorageFailure",
    "StreamDeleted",
    "StreamNotFound",
    "Unauthenticated",
    "Unavailable",
    "UserExists",
    "WrongExpectedVersion",
    "code_of",
]


class InvalidRequest(UsageError):
    """A malformed or oversized request (gRPC INVALID_ARGUMENT)."""

    code: ClassVar[str] = "invalid-argument"


class SettingsRefused(InvalidRequest):
    """Persistent-subscription settings out of range (gRPC INVALID_ARGUMENT; INTERNAL on KurrentDB's API)."""

    code: ClassVar[str] = "settings-refused"


class StreamNotFound(NotFound):
    """The stream has no visible events, or was deleted (gRPC NOT_FOUND)."""

    code: ClassVar[str] = "stream-not-found"


class StreamDeleted(ToolkitError):
    """The stream was tombstoned: it can never be read, written or deleted again (gRPC FAILED_PRECONDITION)."""

    kind = "conflict"
    code: ClassVar[str] = "stream-deleted"

    def __init__(self, stream: str) -> None:
        super().__init__(
            f"stream {stream!r} is deleted (tombstoned)",
            hint="a tombstoned stream name cannot be used again; pick another name",
            details={"stream": stream},
        )


class WrongExpectedVersion(Conflict):
    """The stream's state did not match the expected state (gRPC ABORTED).

    `details` carries `stream`, `expected` (a version or `any`/`no_stream`/`stream_exists`) and `actual`.
    """

    code: ClassVar[str] = "wrong-expected-version"

    def __init__(self, stream: str, expected: str, actual: int, **extra: Any) -> None:
        super().__init__(
            f"expected version {expected} does not match current version {actual} of stream {stream!r}",
            hint="re-read the stream and retry with its current version",
            details={"stream": stream, "expected": expected, "actual": actual, **extra},
        )


class DuplicateEventId(Conflict):
    """An event id is already recorded with other content or elsewhere (gRPC ALREADY_EXISTS)."""

    code: ClassVar[str] = "duplicate-event-id"


class SchemaViolation(ToolkitError):
    """A payload failed hard schema validation (gRPC FAILED_PRECONDITION)."""

    kind = "usage"
    code: ClassVar[str] = "schema-violation"


class SnapshotRejected(UsageError):
    """A snapshot version is out of range (gRPC FAILED_PRECONDITION on v1, INVALID_ARGUMENT on compat)."""

    code: ClassVar[str] = "snapshot-rejected"


class ServerBusy(Busy):
    """Too much in-flight work (gRPC RESOURCE_EXHAUSTED)."""

    code: ClassVar[str] = "busy"


class Unavailable(ToolkitError):
    """The server could not be reached or is shutting down (gRPC UNAVAILABLE)."""

    kind = "ipc"
    code: ClassVar[str] = "unavailable"


class NotLeader(ToolkitError):
    """A follower refuses what needs the leader, naming it (KurrentDB: NOT_FOUND, `exception=not-leader`)."""

    kind = "ipc"
    code: ClassVar[str] = "not-leader"

    def __init__(self, host: str, port: int) -> None:
        # KurrentDB's exact message: kurrentdbclient recognises the redirect by it.
        super().__init__("Leader info available", details={"host": host, "port": port})
        self.host, self.port = host, port


class Unauthenticated(ToolkitError):
    """Missing or wrong bearer token (gRPC UNAUTHENTICATED)."""

    kind = "usage"
    code: ClassVar[str] = "unauthenticated"


class AccessDenied(ToolkitError):
    """An authenticated user may not do this (gRPC PERMISSION_DENIED)."""

    kind = "usage"
    code: ClassVar[str] = "access-denied"


class UserExists(Conflict):
    """A user with this login exists already (gRPC ALREADY_EXISTS)."""

    code: ClassVar[str] = "user-exists"


class StorageFailure(Internal):
    """The backend failed (gRPC INTERNAL)."""

    code: ClassVar[str] = "storage"


def code_of(err: ToolkitError) -> str:
    """Return the wire code of `err` (`internal` for errors without one)."""
    return str(getattr(err, "code", "internal"))
