"""Stream ACLs: KurrentDB's `$acl` stream metadata, checked for authenticated non-admin callers.

A stream's ACL is the `$acl` object of the last `$metadata` event in its metastream `$$<stream>`:
`{"$r": roles, "$w": roles, "$d": roles, "$mr": roles, "$mw": roles}`, each a role or a list of
roles; a role is a login, a group, or `$all` (everyone). A missing entry takes KurrentDB's
default: everyone on user streams, `$admins` only on system streams (names starting with `$`,
`$all` included). Members of `$admins` may do anything; so may callers without a user (no
`--auth`, or the server's bearer token). Reading or writing `$$<stream>` is checked against
`$mr`/`$mw` of `<stream>`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from toolkit_graveyar.core.codec import decode_record
from toolkit_graveyar.core.errors import AccessDenied, StreamDeleted, StreamNotFound
from toolkit_graveyar.core.users import CALLER, User

if TYPE_CHECKING:
    from toolkit_graveyar.storage.base import Store

__all__ = ["DELETE", "READ", "WRITE", "authorize"]

READ, WRITE, DELETE = "$r", "$w", "$d"
_META = {READ: "$mr", WRITE: "$mw", DELETE: "$mw"}
_WORDS = {
    READ: "read",
    WRITE: "write to",
    DELETE: "delete",
    "$mr": "read the metadata of",
    "$mw": "write the metadata of",
}


async def authorize(store: Store, stream: str, op: str) -> None:
    """Raise AccessDenied unless the current caller may do `op` (`$r`, `$w`, `$d`) on `stream`."""
    user = CALLER.get()
    if user is None or user.is_admin:
        return
    target = stream
    if stream.startswith("$$") and len(stream) > 2:
        target, op = stream[2:], _META[op]
    roles = await _roles(store, target, op)
    if not _allowed(user, roles):
        raise AccessDenied(
            f"user {user.login!r} may not {_WORDS[op]} stream {target!r}",
            hint="an admin grants it in the stream's $acl metadata",
            details={"user": user.login, "stream": target, "operation": op},
        )


def _allowed(user: User, roles: list[str]) -> bool:
    return "$all" in roles or user.login in roles or any(g in roles for g in user.groups)


async def _roles(store: Store, target: str, op: str) -> list[str]:
    default = ["$admins"] if target.startswith("$") else ["$all"]
    try:
        last = await store.read_stream(f"$${target}", None, True, 1)
    except (StreamNotFound, StreamDeleted):
        return default
    acl = _acl_of(last[0]) if last else None
    if acl is None or op not in acl:
        return default
    value = acl[op]
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    return default


def _acl_of(record: bytes) -> dict[str, Any] | None:
    try:
        doc = json.loads(decode_record(record).data or b"{}")
    except ValueError:
        return None
    acl = doc.get("$acl") if isinstance(doc, dict) else None
    return acl if isinstance(acl, dict) else None
