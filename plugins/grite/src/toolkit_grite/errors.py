"""grite's error classes: the kernel tree with grite 0.5.3's JSON codes and exit codes pinned.

| class | code | exit |
|---|---|---|
| InvalidArgs | invalid_args | 2 |
| GriteNotFound | not_found | 3 |
| GriteConflict | conflict | 4 |
| DbBusy | db_busy | 5 |
| GriteIoError | io_error | 5 |
| DbError | db_error | 5 |
| GriteIpcError | ipc_error | 6 |
| GriteInternal | internal_error | 1 |
"""

from __future__ import annotations

from typing import Any, ClassVar

from toolkit_grite import error_codes
from toolkit_kernel import errors as kerr

__all__ = [
    "DbBusy",
    "DbError",
    "GriteConflict",
    "GriteError",
    "GriteInternal",
    "GriteIoError",
    "GriteIpcError",
    "GriteNotFound",
    "InvalidArgs",
    "envelope_for",
]

SCHEMA_VERSION = error_codes.SCHEMA_VERSION


def envelope_for(err: kerr.ToolkitError) -> dict[str, Any]:
    """Return grite's error envelope for any toolkit error."""
    code = getattr(err, "code", None) or error_codes.CODE_BY_KIND.get(err.kind, "internal_error")
    return error_codes.envelope(code, err.message, err.hint, err.details)


class GriteError(kerr.ToolkitError):
    """Mixin root of grite errors: `code` is the JSON error code, `exit_code` the pinned exit code."""

    code: ClassVar[str] = "internal_error"
    exit_code: ClassVar[int | None] = 1

    def json_payload(self) -> dict[str, Any]:
        """Return `{schema_version:1, ok:false, error:{code,message,details}}`."""
        return envelope_for(self)


class InvalidArgs(GriteError, kerr.UsageError):
    """Bad arguments, ambiguous prefixes, cycles, bad configuration values."""

    code = "invalid_args"
    exit_code = 2


class GriteNotFound(GriteError, kerr.NotFound):
    """Not a git repository, unknown issue, actor, lock or remote."""

    code = "not_found"
    exit_code = 3


class GriteConflict(GriteError, kerr.Conflict):
    """A lock is held by another owner, the lock policy blocks, or a push kept being rejected."""

    code = "conflict"
    exit_code = 4


class DbBusy(GriteError, kerr.LockTimeout):
    """The write lock was not obtained within the bounded wait."""

    code = "db_busy"
    exit_code = 5


class GriteIoError(GriteError, kerr.IoFailure):
    """The OS or a git command failed."""

    code = "io_error"
    exit_code = 5


class DbError(GriteError, kerr.Corrupt):
    """Stored bytes (chunk, view, snapshot) fail their checks."""

    code = "db_error"
    exit_code = 5


class GriteIpcError(GriteError, kerr.IpcError):
    """The daemon misbehaved or went away."""

    code = "ipc_error"
    exit_code = 6


class GriteInternal(GriteError, kerr.Internal):
    """A bug."""

    code = "internal_error"
    exit_code = 1
