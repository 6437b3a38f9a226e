"""Plasmite's error kinds, exit codes and JSON error envelope.

Every class subclasses both `PlasmiteError` (the binding-compatible root, with
`kind`, `path`, `seq`, `offset`) and the matching `toolkit_kernel.errors` class, so
toolkit code that catches `NotFound` or `Corrupt` keeps working.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Any, ClassVar

from toolkit_kernel import errors as kerr

__all__ = [
    "AlreadyExistsError",
    "BusyError",
    "CorruptError",
    "ErrorKind",
    "InternalError",
    "IoError",
    "NotFoundError",
    "PermissionDeniedError",
    "PlasmiteError",
    "RetentionGapError",
    "UsageError",
    "error_for_kind",
    "from_os_error",
]


class ErrorKind(IntEnum):
    """Stable error kinds; the value is also the CLI exit code."""

    INTERNAL = 1
    USAGE = 2
    NOT_FOUND = 3
    ALREADY_EXISTS = 4
    BUSY = 5
    PERMISSION = 6
    CORRUPT = 7
    IO = 8
    RETENTION_GAP = 9

    @property
    def label(self) -> str:
        """The kind as printed in JSON: `NotFound`, `RetentionGap`, ..."""
        return _LABELS[self]

    @property
    def http_status(self) -> int:
        """The HTTP status the server answers for this kind."""
        return _HTTP[self]


_LABELS = {
    ErrorKind.INTERNAL: "Internal",
    ErrorKind.USAGE: "Usage",
    ErrorKind.NOT_FOUND: "NotFound",
    ErrorKind.ALREADY_EXISTS: "AlreadyExists",
    ErrorKind.BUSY: "Busy",
    ErrorKind.PERMISSION: "Permission",
    ErrorKind.CORRUPT: "Corrupt",
    ErrorKind.IO: "Io",
    ErrorKind.RETENTION_GAP: "RetentionGap",
}
_HTTP = {
    ErrorKind.INTERNAL: 500,
    ErrorKind.USAGE: 400,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.ALREADY_EXISTS: 409,
    ErrorKind.BUSY: 423,
    ErrorKind.PERMISSION: 401,
    ErrorKind.CORRUPT: 500,
    ErrorKind.IO: 500,
    ErrorKind.RETENTION_GAP: 410,
}
_DEFAULT_MESSAGES = {
    ErrorKind.INTERNAL: "internal error",
    ErrorKind.USAGE: "usage error",
    ErrorKind.NOT_FOUND: "not found",
    ErrorKind.ALREADY_EXISTS: "already exists",
    ErrorKind.BUSY: "resource is busy",
    ErrorKind.PERMISSION: "permission denied",
    ErrorKind.CORRUPT: "corrupt data",
    ErrorKind.IO: "i/o error",
    ErrorKind.RETENTION_GAP: "retention gap",
}


class PlasmiteError(kerr.ToolkitError, RuntimeError):  # the binding's errors are RuntimeErrors
    """Root of plasmite errors, constructible the binding's way or the toolkit way.

    `PlasmiteError(ErrorKind.USAGE, "bad", path="/p")` (binding order: kind, message,
    path, seq, offset) and `UsageError("bad", hint="...", path="/p")` both work.

    Attributes:
        kind: The ErrorKind (shadows the kernel's string kind; the exit code is pinned).
        path: The pool file involved, if any.
        seq: The sequence number involved, if any.
        offset: The file or ring offset involved, if any.
        causes: Underlying causes, outermost first.
    """

    kind = ErrorKind.INTERNAL  # type: ignore[assignment]  # binding API: kind is an ErrorKind (an int), not a str
    exit_code: ClassVar[int | None] = 1

    def __init__(
        self,
        kind_or_message: ErrorKind | str | None = None,
        message: str | None = None,
        path: str | None = None,
        seq: int | None = None,
        offset: int | None = None,
        *,
        hint: str | None = None,
        causes: Sequence[str] = (),
    ) -> None:
        if isinstance(kind_or_message, ErrorKind):
            kind = kind_or_message
            text = message
        else:
            kind = type(self).kind
            text = kind_or_message if message is None else message
        text = text or _DEFAULT_MESSAGES[kind]
        details: dict[str, Any] = {}
        for key, value in (("path", path), ("seq", seq), ("offset", offset)):
            if value is not None:
                details[key] = value
        super().__init__(text, hint=hint, details=details)
        self.kind = kind  # type: ignore[misc]  # instance kind may be wider than the class default
        self.path = path
        self.seq = seq
        self.offset = offset
        self.causes = list(causes)
        self.exit_code = int(kind)  # type: ignore[misc]  # pinned per instance: the kind is the exit code

    def error_body(self, *, include_hint: bool = True) -> dict[str, Any]:
        """Return the inner error object: kind, message, hint?, path?, seq?, offset?, causes?."""
        body: dict[str, Any] = {"kind": self.kind.label, "message": self.message}
        if include_hint and self.hint:
            body["hint"] = self.hint
        if self.path is not None:
            body["path"] = self.path
        if self.seq is not None:
            body["seq"] = self.seq
        if self.offset is not None:
            body["offset"] = self.offset
        if self.causes:
            body["causes"] = list(self.causes)
        return body

    def json_payload(self) -> dict[str, Any]:
        """Return plasmite's error envelope `{"error": {...}}`."""
        return {"error": self.error_body()}


class InternalError(PlasmiteError, kerr.Internal):
    """A bug or an impossible state (clock before the epoch)."""

    kind = ErrorKind.INTERNAL  # type: ignore[assignment]
    exit_code = 1


class UsageError(PlasmiteError, kerr.UsageError):
    """Bad arguments or input: not an object, unsupported format version, too big."""

    kind = ErrorKind.USAGE  # type: ignore[assignment]
    exit_code = 2


class NotFoundError(PlasmiteError, kerr.NotFound):
    """Missing pool, or a seq outside the retained bounds."""

    kind = ErrorKind.NOT_FOUND  # type: ignore[assignment]
    exit_code = 3


class AlreadyExistsError(PlasmiteError, kerr.Conflict):
    """Create over an existing pool (the file is left untouched)."""

    kind = ErrorKind.ALREADY_EXISTS  # type: ignore[assignment]
    exit_code = 4


class BusyError(PlasmiteError, kerr.Busy):
    """No room could be made, or the server is saturated."""

    kind = ErrorKind.BUSY  # type: ignore[assignment]
    exit_code = 5


class PermissionDeniedError(PlasmiteError, kerr.IoFailure):
    """EACCES/EPERM, or a bad or missing token."""

    kind = ErrorKind.PERMISSION  # type: ignore[assignment]
    exit_code = 6


class CorruptError(PlasmiteError, kerr.Corrupt):
    """Stored bytes fail their checks: magic, header consistency, checksum, payload."""

    kind = ErrorKind.CORRUPT  # type: ignore[assignment]
    exit_code = 7


class IoError(PlasmiteError, kerr.IoFailure):
    """Any other operating-system error."""

    kind = ErrorKind.IO  # type: ignore[assignment]
    exit_code = 8


class RetentionGapError(PlasmiteError):
    """A fail-closed tail was overtaken by eviction; `seq` is the first missing seq."""

    kind = ErrorKind.RETENTION_GAP
    exit_code = 9


_CLASSES: dict[ErrorKind, type[PlasmiteError]] = {
    ErrorKind.INTERNAL: InternalError,
    ErrorKind.USAGE: UsageError,
    ErrorKind.NOT_FOUND: NotFoundError,
    ErrorKind.ALREADY_EXISTS: AlreadyExistsError,
    ErrorKind.BUSY: BusyError,
    ErrorKind.PERMISSION: PermissionDeniedError,
    ErrorKind.CORRUPT: CorruptError,
    ErrorKind.IO: IoError,
    ErrorKind.RETENTION_GAP: RetentionGapError,
}
#: The binding's name for the kind -> class table (plasmite's tests check raised classes against it).
_ERROR_KIND_TO_CLASS = _CLASSES
_BY_LABEL = {kind.label: kind for kind in ErrorKind}


def error_for_kind(kind: ErrorKind | str | int, message: str, **fields: Any) -> PlasmiteError:
    """Build the subclass for `kind` (an ErrorKind, its label or its number)."""
    if isinstance(kind, str):
        resolved = _BY_LABEL.get(kind, ErrorKind.INTERNAL)
    else:
        try:
            resolved = ErrorKind(int(kind))
        except ValueError:
            resolved = ErrorKind.INTERNAL
    cls = _CLASSES[resolved]
    return cls(
        message,
        path=fields.get("path"),
        seq=fields.get("seq"),
        offset=fields.get("offset"),
        hint=fields.get("hint"),
        causes=fields.get("causes") or (),
    )


def from_os_error(err: OSError, path: str | None = None, *, what: str = "i/o error") -> PlasmiteError:
    """Map an OSError to Permission, NotFound or Io, keeping the OS message as a cause."""
    import errno

    cause = err.strerror or str(err)
    where = path or (str(err.filename) if err.filename else None)
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return PermissionDeniedError(
            f"permission denied: {what}", path=where, causes=[cause], hint="check the file's owner and mode"
        )
    if err.errno == errno.ENOENT:
        return NotFoundError(f"not found: {what}", path=where, causes=[cause])
    return IoError(f"{what} failed", path=where, causes=[cause])
