"""grite's error codes and exit codes by toolkit error kind, and the JSON error envelope.

Imports nothing: the `grite` fast path (`toolkit_grite.cli.fast`) renders a daemon's error with
these tables before any other module is loaded, and `toolkit_grite.errors` builds on them, so a
daemon-served error and a local one print the same bytes.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: this module must not import typing (startup cost)
if TYPE_CHECKING:
    from typing import Any

__all__ = ["CODE_BY_KIND", "EXIT_BY_CODE", "SCHEMA_VERSION", "envelope"]

SCHEMA_VERSION = 1

#: A toolkit error kind (kernel or grite) -> grite 0.5.3's JSON error code.
CODE_BY_KIND = {
    "usage": "invalid_args",
    "config": "invalid_args",
    "not_found": "not_found",
    "conflict": "conflict",
    "busy": "db_busy",
    "lock_timeout": "db_busy",
    "io": "io_error",
    "corrupt": "db_error",
    "snapshot_corrupt": "db_error",
    "ipc": "ipc_error",
    "internal": "internal_error",
}

#: grite 0.5.3's exit code of each JSON error code.
EXIT_BY_CODE = {
    "invalid_args": 2,
    "not_found": 3,
    "conflict": 4,
    "db_busy": 5,
    "io_error": 5,
    "db_error": 5,
    "ipc_error": 6,
    "internal_error": 1,
}


def envelope(code: str, message: str, hint: str | None, details: dict[str, Any] | None) -> dict[str, Any]:
    """Grite's error envelope: `{schema_version, ok:false, error:{code, message, details?}}` (hint as a suggestion)."""
    error: dict[str, Any] = {"code": code, "message": message}
    merged = dict(details or {})
    if hint:
        merged.setdefault("suggestions", [hint])
    if merged:
        error["details"] = merged
    return {"schema_version": SCHEMA_VERSION, "ok": False, "error": error}
