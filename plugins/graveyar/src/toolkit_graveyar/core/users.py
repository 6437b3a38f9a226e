"""Users and HTTP Basic authentication, the way KurrentDB clients present them.

With authentication on (`graveyar serve --auth`), every call must carry
`authorization: Basic base64(login:password)` (what kurrentdbclient and the KurrentDB SDKs send
for `kurrentdb://login:password@host`), or the server's bearer token when it has one. The
built-in user is KurrentDB's documented default, `admin` (group `$admins`) with password
`changeit`, unless the operator sets another password. Passwords are kept only as salted
PBKDF2-SHA256 hashes and compared in constant time.

Users managed through KurrentDB's Users API live in the store, one stream per user
(`$user-<login>`); each event (`$UserCreated`, `$UserUpdated`, `$PasswordChanged`,
`$UserDisabled`, `$UserEnabled`, `$UserDeleted`) carries the user's whole resulting record, so
the last event is the user. A stored `admin` replaces the built-in one. Servers sharing a
PostgreSQL database reload the users every few seconds.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import hashlib
import hmac
import json
import os
import time
import uuid
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from toolkit_graveyar.core.codec import decode_record
from toolkit_graveyar.core.errors import AccessDenied, InvalidRequest, StreamNotFound, Unauthenticated, UserExists
from toolkit_graveyar.core.model import Expected, ProposedEvent
from toolkit_graveyar.core.periodic import Periodic

if TYPE_CHECKING:
    from toolkit_graveyar.core.service import EventStoreService

__all__ = ["CALLER", "DEFAULT_ADMIN", "DEFAULT_ADMIN_PASSWORD", "User", "UserDirectory", "UserRecord", "require_admin"]


#: The authenticated caller of the current call (set by the gRPC guard; None without --auth).
CALLER: contextvars.ContextVar[User | None] = contextvars.ContextVar("graveyar_caller", default=None)
USER_STREAM_PREFIX = "$user-"
#: Seconds between reloads of the stored users (another server may have changed them).
RELOAD_INTERVAL = 2.0

DEFAULT_ADMIN = "admin"
DEFAULT_ADMIN_PASSWORD = "changeit"  # KurrentDB's documented default
#: PBKDF2 rounds: the check runs once per call, so it is kept far below login-form strength.
_ROUNDS = 1_000
_HINT = "connect as admin:changeit (kurrentdb://admin:changeit@host:port?Tls=true) or the server's --admin-password"


@dataclass(frozen=True, slots=True)
class User:
    """An authenticated caller."""

    login: str
    groups: tuple[str, ...] = ()

    @property
    def is_admin(self) -> bool:
        """Members of `$admins` may do anything."""
        return "$admins" in self.groups


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user as stored: details, groups, the password's salt and hash, and state."""

    login: str
    full_name: str
    groups: tuple[str, ...]
    salt: bytes
    digest: bytes
    disabled: bool = False
    deleted: bool = False
    updated_ms: int = 0

    @property
    def user(self) -> User:
        """The caller this record authenticates."""
        return User(self.login, self.groups)

    def to_json(self) -> bytes:
        """The event data that stores this record."""
        doc = {
            "loginName": self.login,
            "fullName": self.full_name,
            "groups": list(self.groups),
            "salt": self.salt.hex(),
            "hash": self.digest.hex(),
            "disabled": self.disabled,
            "deleted": self.deleted,
            "updated": self.updated_ms,
        }
        return json.dumps(doc, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> UserRecord:
        """The record an event stored."""
        d = json.loads(raw)
        return cls(
            str(d["loginName"]),
            str(d.get("fullName", "")),
            tuple(str(g) for g in d.get("groups", [])),
            bytes.fromhex(d["salt"]),
            bytes.fromhex(d["hash"]),
            bool(d.get("disabled", False)),
            bool(d.get("deleted", False)),
            int(d.get("updated", 0)),
        )


def _digest(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, _ROUNDS)


def _record(login: str, full_name: str, groups: tuple[str, ...], password: str) -> UserRecord:
    salt = os.urandom(16)
    return UserRecord(login, full_name, groups, salt, _digest(password, salt), updated_ms=int(time.time() * 1000))


class UserDirectory:
    """The users a server knows, the check of presented credentials, and the Users API's operations.

    Args:
        admin_password: The password of the built-in `admin` user (a stored `admin` replaces it).
        service: The store's service, where managed users are kept; None = only the built-in admin.
    """

    def __init__(self, admin_password: str = DEFAULT_ADMIN_PASSWORD, service: EventStoreService | None = None) -> None:
        self._builtin = _record(DEFAULT_ADMIN, "KurrentDB Administrator", ("$admins",), admin_password)
        self._stored: dict[str, UserRecord] = {}
        self._service = service
        self._reloader = Periodic("graveyar-users-reload", RELOAD_INTERVAL, self.reload)

    # -- authentication -------------------------------------------------------------------------
    def _lookup(self, login: str) -> UserRecord | None:
        stored = self._stored.get(login)
        if stored is not None:
            return None if stored.deleted else stored
        return self._builtin if login == DEFAULT_ADMIN else None

    def authenticate(self, login: str, password: str) -> User:
        """The user with these credentials; Unauthenticated otherwise (without saying which part was wrong)."""
        entry = self._lookup(login)
        # Hash even for an unknown login, so a wrong login and a wrong password take as long.
        salt = entry.salt if entry is not None else b"\0" * 16
        ok = hmac.compare_digest(_digest(password, salt), entry.digest if entry is not None else b"")
        if entry is None or not ok or entry.disabled:
            raise Unauthenticated("bad username or password", hint=_HINT)
        return entry.user

    def authenticate_header(self, value: str | None) -> User:
        """The user of an `authorization: Basic ...` header value."""
        if not value:
            raise Unauthenticated("authentication required", hint=_HINT)
        scheme, _, encoded = value.partition(" ")
        if scheme.lower() != "basic":
            raise Unauthenticated(f"unsupported authorization scheme {scheme!r}", hint=_HINT)
        try:
            login, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated("malformed Basic credentials", hint=_HINT) from None
        if not sep:
            raise Unauthenticated("malformed Basic credentials: no ':' between login and password", hint=_HINT)
        return self.authenticate(login, password)

    # -- the stored users -----------------------------------------------------------------------
    async def start(self) -> None:
        """Load the stored users and keep reloading them (servers sharing a database see each other's changes)."""
        await self.reload()
        self._reloader.start()

    async def stop(self) -> None:
        """Stop reloading."""
        await self._reloader.stop()

    async def reload(self) -> None:
        """Read every `$user-<login>` stream's last event."""
        if self._service is None:
            return
        store = self._service.store
        stored: dict[str, UserRecord] = {}
        after = ""
        while True:
            infos = await store.list_streams(USER_STREAM_PREFIX, after, 500)
            for info in infos:
                last = await store.read_stream(info.stream, None, True, 1) if info.version else []
                if last:
                    record = UserRecord.from_json(decode_record(last[0]).data)
                    stored[record.login] = record
            if len(infos) < 500:
                break
            after = infos[-1].stream
        self._stored = stored

    async def _save(self, event_type: str, record: UserRecord, expected: Expected) -> None:
        assert self._service is not None
        event = ProposedEvent(str(uuid.uuid4()), event_type, record.to_json(), {}, 0, None)
        prepared = await self._service.prepare([event])
        await self._service.store.append(USER_STREAM_PREFIX + record.login, prepared, expected)
        self._stored[record.login] = record

    # -- the Users API (callers are checked here: the rules are the domain's) ------------------
    @staticmethod
    def _require_admin(caller: User | None) -> None:
        require_admin(caller, "manage users")

    def _existing(self, login: str) -> UserRecord:
        record = self._lookup(_login(login))
        if record is None:
            raise StreamNotFound(f"user {login!r} not found", details={"user": login})
        return record

    async def create(self, caller: User | None, login: str, password: str, full_name: str, groups: list[str]) -> None:
        """Create a user (admins only)."""
        self._require_admin(caller)
        login = _login(login)
        if self._lookup(login) is not None:
            raise UserExists(f"user {login!r} exists already", details={"user": login})
        if not password:
            raise InvalidRequest("password is empty")
        await self._save("$UserCreated", _record(login, full_name, tuple(groups), password), Expected.any())

    async def update(self, caller: User | None, login: str, password: str, full_name: str, groups: list[str]) -> None:
        """Replace a user's details, groups and password (admins only)."""
        self._require_admin(caller)
        old = self._existing(login)
        new = _record(old.login, full_name, tuple(groups), password) if password else old
        await self._save("$UserUpdated", replace(new, full_name=full_name, groups=tuple(groups)), Expected.any())

    async def set_disabled(self, caller: User | None, login: str, disabled: bool) -> None:
        """Disable (or enable) a user: a disabled user cannot authenticate (admins only)."""
        self._require_admin(caller)
        old = self._existing(login)
        kind = "$UserDisabled" if disabled else "$UserEnabled"
        await self._save(kind, replace(old, disabled=disabled, updated_ms=int(time.time() * 1000)), Expected.any())

    async def delete(self, caller: User | None, login: str) -> None:
        """Delete a user (admins only)."""
        self._require_admin(caller)
        old = self._existing(login)
        await self._save("$UserDeleted", replace(old, deleted=True, updated_ms=int(time.time() * 1000)), Expected.any())

    def details(self, caller: User | None, login: str) -> list[UserRecord]:
        """One user's record (an admin, or the user itself), or every user's (admins, empty login)."""
        if caller is not None and not caller.is_admin and login != caller.login:
            raise AccessDenied("a user may only read its own details", details={"user": caller.login})
        if login:
            return [self._existing(login)]
        users = {DEFAULT_ADMIN: self._builtin, **self._stored}
        return [u for _, u in sorted(users.items()) if not u.deleted]

    async def change_password(self, caller: User | None, login: str, current: str, new: str) -> None:
        """Change one's own password, proving the current one."""
        if caller is not None and not caller.is_admin and login != caller.login:
            raise AccessDenied("a user may only change its own password", details={"user": caller.login})
        self.authenticate(_login(login), current)
        await self.reset_password(None, login, new)

    async def reset_password(self, caller: User | None, login: str, new: str) -> None:
        """Set a user's password without the current one (admins only)."""
        self._require_admin(caller)
        if not new:
            raise InvalidRequest("new password is empty")
        old = self._existing(login)
        salt = os.urandom(16)
        record = replace(old, salt=salt, digest=_digest(new, salt), updated_ms=int(time.time() * 1000))
        await self._save("$PasswordChanged", record, Expected.any())


def require_admin(caller: User | None, action: str) -> None:
    """Raise AccessDenied unless `caller` is an admin (or there is no user: no --auth, or the token)."""
    if caller is not None and not caller.is_admin:
        raise AccessDenied(f"only members of $admins may {action}", details={"user": caller.login})


def _login(login: str) -> str:
    if not login or any(ord(c) < 0x20 for c in login) or ":" in login:
        hint = "a login is non-empty, without ':' or control characters"
        raise InvalidRequest(f"bad login name {login!r}", hint=hint)
    return login
