"""Helpers shared by graveyar's CLI modules: client construction, parsing of user input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from toolkit_graveyar.core.errors import InvalidRequest

if TYPE_CHECKING:
    from toolkit_graveyar.client import GraveyarClient
    from toolkit_graveyar.core.model import Expected, ProposedEvent

__all__ = ["ClientOptions", "client_from", "event_from_json", "parse_expected", "parse_meta"]


class ClientOptions:
    """What the group's options say about reaching the server."""

    def __init__(
        self,
        server: str,
        token: str | None,
        tls_ca: Path | None,
        timeout: float,
        user: str | None = None,
        password: str | None = None,
    ) -> None:
        self.server = server
        self.token = token
        self.user = user
        self.password = password
        self.tls_ca = tls_ca
        self.timeout = timeout


def client_from(ctx: click.Context) -> GraveyarClient:
    """Build a sync client from the group's options (grpc is imported only here)."""
    from toolkit_graveyar.client import GraveyarClient

    opts: ClientOptions = ctx.find_object(ClientOptions)  # type: ignore[assignment]
    return GraveyarClient(
        opts.server, token=opts.token, tls_ca=opts.tls_ca, timeout=opts.timeout, user=opts.user, password=opts.password
    )


def parse_expected(value: str) -> Expected:
    """`--expected`: any (or -1), no_stream, stream_exists or a version number."""
    from toolkit_graveyar.core.model import Expected

    try:
        return Expected.parse(value)
    except InvalidRequest as exc:
        raise InvalidRequest(f"bad --expected {value!r}", hint=exc.hint) from None


def parse_meta(pairs: tuple[str, ...]) -> dict[str, str]:
    """`key=value` pairs."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidRequest(f"bad --meta {pair!r}", hint="use key=value")
        out[key] = value
    return out


def data_bytes(value: Any) -> bytes:
    """Event data from JSON input: strings as UTF-8, anything else as compact JSON."""
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, separators=(",", ":")).encode()


def event_from_json(doc: Any, where: str) -> ProposedEvent:
    """One event from a JSON line: {"type", "data", "id"?, "metadata"?, "transition"?}."""
    from toolkit_graveyar.client import new_event
    from toolkit_graveyar.core.model import Transition

    if not isinstance(doc, dict) or not isinstance(doc.get("type"), str):
        raise InvalidRequest(f"{where}: expected an object with a string 'type'")
    t = doc.get("transition")
    transition = None
    if t is not None:
        if not isinstance(t, dict):
            raise InvalidRequest(f"{where}: transition must be an object")
        transition = Transition(str(t.get("name", "")), str(t.get("from_state", "")), str(t.get("to_state", "")))
    meta = doc.get("metadata") or {}
    if not isinstance(meta, dict):
        raise InvalidRequest(f"{where}: metadata must be an object")
    return new_event(
        doc["type"],
        data_bytes(doc.get("data", "")),
        metadata={str(k): str(v) for k, v in meta.items()},
        event_id=doc.get("id"),
        transition=transition,
    )
