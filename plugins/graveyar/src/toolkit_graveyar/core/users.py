"""Users and HTTP Basic authentication, the way KurrentDB clients present them.

With authentication on (`graveyar serve --auth`), every call must carry
`authorization: Basic base64(login:password)` (what kurrentdbclient and the KurrentDB SDKs send
for `kurrentdb://login:password@host`), or the server's bearer token when it has one. The
built-in user is KurrentDB's documented default, `admin` with password `changeit`, unless the
operator sets another password. Passwords are kept only as salted PBKDF2-SHA256 hashes and
compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass

from toolkit_graveyar.core.errors import Unauthenticated

__all__ = ["DEFAULT_ADMIN", "DEFAULT_ADMIN_PASSWORD", "User", "UserDirectory"]

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
class _Entry:
    user: User
    salt: bytes
    digest: bytes


def _digest(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, _ROUNDS)


class UserDirectory:
    """The users a server knows (today: the built-in admin) and the check of presented credentials.

    Args:
        admin_password: The password of the built-in `admin` user.
    """

    def __init__(self, admin_password: str = DEFAULT_ADMIN_PASSWORD) -> None:
        self._users: dict[str, _Entry] = {}
        self.add(User(DEFAULT_ADMIN, ("$admins",)), admin_password)

    def add(self, user: User, password: str) -> None:
        """Know `user` with `password` (replacing a user of the same login)."""
        salt = os.urandom(16)
        self._users[user.login] = _Entry(user, salt, _digest(password, salt))

    def authenticate(self, login: str, password: str) -> User:
        """The user with these credentials; Unauthenticated otherwise (without saying which part was wrong)."""
        entry = self._users.get(login)
        # Hash even for an unknown login, so a wrong login and a wrong password take as long.
        salt = entry.salt if entry is not None else b"\0" * 16
        ok = hmac.compare_digest(_digest(password, salt), entry.digest if entry is not None else b"")
        if entry is None or not ok:
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
