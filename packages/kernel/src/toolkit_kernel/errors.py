"""One error tree for every toolkit system.

Library code raises these; only the CLI host turns them into exit codes and
messages, so no adapter has to re-invent that mapping.

```
ToolkitError                 kind="internal"   something we did not expect
├── UsageError               kind="usage"      the caller asked for something invalid
│   └── ConfigError          kind="config"     a configuration file or value is wrong
├── NotFound                 kind="not_found"  the named thing does not exist
├── Conflict                 kind="conflict"   the thing exists, or changed underneath us
├── Busy                     kind="busy"       a resource is held by someone else right now
│   └── LockTimeout          kind="lock_timeout" waited for a lock and gave up
├── IoFailure                kind="io"         the operating system refused (disk, permissions)
├── Corrupt                  kind="corrupt"    stored bytes fail their checks
│   └── SnapshotCorrupt      kind="snapshot_corrupt"
├── IpcError                 kind="ipc"        a daemon or socket peer misbehaved or vanished
└── Internal                 kind="internal"   a bug: reported with a hint to file it
```

Every error carries a stable `kind`, a one-line `message`, an optional `hint`
(what the user can do next) and `details` (JSON-safe facts for scripts).
A system that must keep its anchor's exit-code table sets `exit_code` on its
own subclasses; the host's default table covers the rest.
"""

from __future__ import annotations

from collections.abc import Mapping

TYPE_CHECKING = False  # `typing` (and the `re` it imports) costs ~10 ms of a short CLI command
if TYPE_CHECKING:
    from typing import Any, ClassVar

__all__ = [
    "Busy",
    "ConfigError",
    "Conflict",
    "Corrupt",
    "Internal",
    "IoFailure",
    "IpcError",
    "LockTimeout",
    "NotFound",
    "SnapshotCorrupt",
    "ToolkitError",
    "UsageError",
    "error_from_dict",
]


class ToolkitError(Exception):
    """Root of every error a toolkit system raises on purpose.

    Args:
        message: One line saying what went wrong.
        hint: What the user can do about it, if anything.
        details: JSON-safe facts for scripts (ids, paths, versions).

    Example:
        >>> err = NotFound("issue 1a2b not found", hint="run `grite issue list`")
        >>> err.kind, err.to_dict()["hint"]
        ('not_found', 'run `grite issue list`')
    """

    kind: ClassVar[str] = "internal"
    #: Pinned exit code; None lets the host's table decide from `kind`.
    exit_code: ClassVar[int | None] = None

    def __init__(self, message: str, *, hint: str | None = None, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-safe form: kind, message, hint and details."""
        out: dict[str, Any] = {"kind": self.kind, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        if self.details:
            out["details"] = self.details
        return out

    def json_payload(self) -> dict[str, Any]:
        """Return the document printed on stderr under `--json`; systems override it for their envelope."""
        return {"error": self.to_dict()}

    def __str__(self) -> str:
        return self.message


class UsageError(ToolkitError):
    """The caller asked for something invalid: bad arguments, bad input data."""

    kind = "usage"


class ConfigError(UsageError):
    """A configuration file or value is wrong; `details` names the file and key."""

    kind = "config"


class NotFound(ToolkitError):
    """The named object does not exist."""

    kind = "not_found"


class Conflict(ToolkitError):
    """The object already exists, or changed since the caller last looked."""

    kind = "conflict"


class Busy(ToolkitError):
    """A resource is held by someone else right now; retrying later may work."""

    kind = "busy"


class LockTimeout(Busy):
    """Waited for a lock for the allowed time and gave up."""

    kind = "lock_timeout"


class IoFailure(ToolkitError):
    """The operating system refused an operation (disk full, permissions, missing directory)."""

    kind = "io"


class Corrupt(ToolkitError):
    """Stored bytes fail their magic, version or checksum checks."""

    kind = "corrupt"


class SnapshotCorrupt(Corrupt):
    """A snapshot container is damaged or of a version this code does not read."""

    kind = "snapshot_corrupt"


class IpcError(ToolkitError):
    """A daemon or socket peer misbehaved, timed out or went away."""

    kind = "ipc"


class Internal(ToolkitError):
    """A bug on our side; the hint asks the user to report it."""

    kind = "internal"


def _kind_registry() -> dict[str, type[ToolkitError]]:
    """Map each `kind` to the class that raises it, kernel classes first, then imported subclasses."""
    registry: dict[str, type[ToolkitError]] = {}
    stack: list[type[ToolkitError]] = [ToolkitError]
    later: list[type[ToolkitError]] = []
    while stack:
        cls = stack.pop(0)
        if cls.__module__ == __name__:
            registry.setdefault(cls.kind, cls)
        else:
            later.append(cls)
        stack.extend(cls.__subclasses__())
    for cls in later:
        registry.setdefault(cls.kind, cls)
    registry["internal"] = Internal
    return registry


def error_from_dict(data: Mapping[str, Any]) -> ToolkitError:
    """Rebuild an error from its `to_dict()` form, for example one sent by a daemon.

    The class is chosen by `kind`: the kernel's own class when it has one, else any imported
    subclass with that kind. An unknown kind gives a plain `ToolkitError` whose instance `kind`
    is the remote kind, so scripts still see the name the remote side used.

    Example:
        >>> err = error_from_dict({"kind": "not_found", "message": "no such issue", "hint": "list them"})
        >>> type(err).__name__, err.hint
        ('NotFound', 'list them')
        >>> error_from_dict({"kind": "db_busy", "message": "sled is locked"}).kind
        'db_busy'
    """
    kind = data.get("kind")
    kind = kind if isinstance(kind, str) and kind else "internal"
    message = data.get("message")
    message = message if isinstance(message, str) else repr(message)
    hint = data.get("hint")
    hint = hint if isinstance(hint, str) else None
    details = data.get("details")
    details = details if isinstance(details, Mapping) else None
    cls = _kind_registry().get(kind)
    if cls is not None:
        try:
            return cls(message, hint=hint, details=details)
        except TypeError:  # a plugin subclass with its own constructor signature
            pass
    err = ToolkitError(message, hint=hint, details=details)
    setattr(err, "kind", kind)  # noqa: B010 - `kind` is a ClassVar; an instance override is the point here
    return err
