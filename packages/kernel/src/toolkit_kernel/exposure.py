"""Who may talk to a toolkit server: one exposure policy for every HTTP and gRPC listener.

Every server the toolkit ships (plasmite serve, pom's HTTP API, graveyar's gRPC server) builds
an `ExposurePolicy` with `ExposurePolicy.for_bind` and applies it, so the rules are the same
everywhere:

- A server bound to anything but loopback needs a bearer token, with or without TLS. TLS keeps
  the token secret on the wire; it does not say who the client is.
- The `Host` header must name this server (loopback names or the bound host, plus names the
  operator adds). A web page that re-points its own DNS name at 127.0.0.1 (DNS rebinding) sends
  its own name as `Host` and is refused.
- A state-changing request (anything but GET/HEAD/OPTIONS) that carries an `Origin` must come
  from an allowed origin, and one marked `Sec-Fetch-Site: cross-site` is refused. Browsers send
  `Origin` on every cross-origin POST, including the "simple" `text/plain` ones that skip CORS
  preflight, so a web page cannot drive a loopback server (CSRF). Clients that are not browsers
  (curl, our own clients) send no `Origin` and are unaffected.
- With a token, every request needs `Authorization: Bearer <token>`.
- Header, body and idle timeouts, so a slow or silent client cannot hold a connection forever.

`guard_asgi` applies the policy to any ASGI application without importing a web framework;
`uvicorn_options` turns the timeouts into uvicorn settings (including a header/body deadline
uvicorn lacks). gRPC servers call `ExposurePolicy.for_bind` for the token rule and
`ExposurePolicy.check_token` on the `authorization` metadata; Host and Origin do not apply to gRPC.

Example:
    >>> policy = ExposurePolicy.for_bind("127.0.0.1", 8080)
    >>> policy.check("GET", {"host": "localhost:8080"}) is None
    True
    >>> policy.check("POST", {"host": "localhost:8080", "origin": "https://evil.example"}).code
    'forbidden_origin'
    >>> policy.check("GET", {"host": "evil.example:8080"}).status
    403
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from toolkit_kernel.errors import UsageError

if TYPE_CHECKING:  # annotations only: a CLI that imports the policy must not pay for asyncio
    import asyncio

__all__ = [
    "ASGIApp",
    "ExposureError",
    "ExposurePolicy",
    "Refusal",
    "guard_asgi",
    "is_loopback_host",
    "uvicorn_options",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Methods that must not change state (RFC 9110 §9.2.1); only these skip the Origin check.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
#: Largest request head (request line plus headers) a server accepts, in bytes.
MAX_HEADER_BYTES = 64 * 1024


class ExposureError(UsageError):
    """A server was asked to listen in a way the exposure policy forbids (exit code of a usage error)."""


def is_loopback_host(host: str) -> bool:
    """Return True if `host` only reaches this machine: 127.0.0.0/8, ::1 or `localhost`.

    Brackets around IPv6 literals are accepted; the empty string and wildcard addresses
    (`0.0.0.0`, `::`) are not loopback, since they listen on every interface.

    Examples:
        >>> [is_loopback_host(h) for h in ("127.0.0.2", "[::1]", "LOCALHOST", "0.0.0.0", "example.com")]
        [True, True, True, False, False]
    """
    name = host.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused: the HTTP status, a stable code for scripts, and a sentence."""

    status: int  # 400 bad Host, 401 missing/bad token, 403 foreign Host/Origin, 431 headers too large
    code: str  # "forbidden_host" | "forbidden_origin" | "unauthorized" | "headers_too_large"
    message: str

    def body(self) -> bytes:
        """Return the JSON body every toolkit server sends with a refusal."""
        return json.dumps({"error": {"code": self.code, "message": self.message}}).encode()


def _host_literal(host: str) -> str:
    """Return `host` as it appears in a Host header: lowercased, IPv6 literals in brackets."""
    name = host.strip().lower()
    if ":" in name and not name.startswith("["):
        return f"[{name}]"
    return name


def _has_port(value: str) -> bool:
    """Tell `name:port` and `[v6]:port` from bare names and bare IPv6 literals (`fe80::1`)."""
    if value.startswith("["):
        return "]:" in value
    return value.count(":") == 1


@dataclass(frozen=True)
class ExposurePolicy:
    """The rules one listening server applies to every request; build it with `for_bind`."""

    host: str
    port: int
    token: str | None
    allowed_hosts: frozenset[str]  # Host header values accepted (lowercased, with and without :port)
    allowed_origins: frozenset[str]  # Origin values accepted on state-changing requests
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    idle_timeout: float = 60.0

    @classmethod
    def for_bind(
        cls,
        host: str,
        port: int,
        *,
        token: str | None = None,
        tls: bool = False,
        extra_hosts: Iterable[str] = (),
        extra_origins: Iterable[str] = (),
    ) -> ExposurePolicy:
        """Return the policy for a server listening on `host:port`.

        Args:
            host: The address the server binds (`127.0.0.1`, `::1`, `0.0.0.0`, a name).
            port: The port it listens on (the real one, once an ephemeral port is known).
            token: The bearer token clients must send; required unless `host` is loopback.
            tls: Whether the server speaks TLS; it changes which origins are expected, never the
                token rule.
            extra_hosts: More Host header values to accept (a DNS name or address this server is
                reached by); a value without a port is accepted with and without `:port`.
            extra_origins: More origins (`scheme://host[:port]`) allowed to send state-changing
                requests, for a web UI served from elsewhere.

        Raises:
            ExposureError: `host` is not loopback and there is no token, or the token is unusable.
        """
        if token is not None and (not token or any(ch.isspace() or not ch.isprintable() for ch in token)):
            raise ExposureError(
                "the token must be non-empty printable text without spaces",
                hint="generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'",
            )
        if token is None and not is_loopback_host(host):
            raise ExposureError(
                f"refusing to listen on {host!r} without a token: only loopback addresses may go without one"
                + (" (TLS encrypts the traffic but does not say who the client is)" if tls else ""),
                hint="pass a token (clients send it as `Authorization: Bearer <token>`) or bind 127.0.0.1",
                details={"host": host, "port": port, "tls": tls},
            )
        names = [*_LOOPBACK_NAMES, _host_literal(host)]
        hosts: set[str] = set()
        for name in names:
            hosts.update((name, f"{name}:{port}"))
        for extra in extra_hosts:
            value = extra.strip().lower() if _has_port(extra.strip()) else _host_literal(extra)
            hosts.add(value)
            if not _has_port(value):
                hosts.add(f"{value}:{port}")
        origins = {f"{scheme}://{value}" for value in hosts for scheme in ("http", "https")}
        origins.update(origin.strip().lower().rstrip("/") for origin in extra_origins)
        return cls(
            host=host, port=port, token=token, allowed_hosts=frozenset(hosts), allowed_origins=frozenset(origins)
        )

    def check_token(self, authorization: str | None) -> Refusal | None:
        """Check an `Authorization` header (or gRPC `authorization` metadata) against the token.

        Returns None when no token is configured or `authorization` is `Bearer <token>`.
        """
        if self.token is None:
            return None
        scheme, _, presented = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not presented:
            return Refusal(401, "unauthorized", "this server needs `Authorization: Bearer <token>`")
        if not hmac.compare_digest(presented.strip().encode(), self.token.encode()):
            return Refusal(401, "unauthorized", "the bearer token is wrong")
        return None

    def check(self, method: str, headers: Mapping[str, str], *, require_token: bool = True) -> Refusal | None:
        """Return why a request must be refused, or None to let it through.

        Args:
            method: The HTTP method (any case).
            headers: Request headers with lowercased names.
            require_token: False for public paths (health checks): skips only the token rule.
        """
        host = headers.get("host", "").strip().lower()
        if not host:
            return Refusal(400, "forbidden_host", "the request has no Host header")
        if host not in self.allowed_hosts:
            return Refusal(
                403,
                "forbidden_host",
                f"Host {host!r} is not a name of this server; add it to the server's allowed hosts if it is",
            )
        if method.upper() not in SAFE_METHODS:
            origin = headers.get("origin")
            if origin is not None and origin.strip().lower().rstrip("/") not in self.allowed_origins:
                return Refusal(403, "forbidden_origin", f"requests from origin {origin!r} may not change state here")
            if headers.get("sec-fetch-site", "").strip().lower() == "cross-site":
                return Refusal(403, "forbidden_origin", "cross-site browser requests may not change state here")
        if require_token:
            return self.check_token(headers.get("authorization"))
        return None


def _headers_of(scope: Scope) -> tuple[dict[str, str], Refusal | None]:
    """Decode ASGI headers; a repeated Host, Origin or Authorization header is itself a refusal."""
    headers: dict[str, str] = {}
    raw = scope.get("headers", ())
    if sum(len(name) + len(value) + 4 for name, value in raw) > MAX_HEADER_BYTES:
        return headers, Refusal(431, "headers_too_large", f"request headers exceed {MAX_HEADER_BYTES} bytes")
    for raw_name, raw_value in raw:
        name = bytes(raw_name).decode("latin-1").lower()
        value = bytes(raw_value).decode("latin-1")
        if name in headers and name in ("host", "origin", "authorization"):
            return headers, Refusal(400, "forbidden_host", f"the request repeats its {name.title()} header")
        headers[name] = value
    return headers, None


async def _refuse_http(send: Send, refusal: Refusal) -> None:
    body = refusal.body()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if refusal.status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def guard_asgi(app: ASGIApp, policy: ExposurePolicy, *, public_paths: Iterable[str] = ("/healthz",)) -> ASGIApp:
    """Wrap an ASGI application so every HTTP request and WebSocket handshake obeys `policy`.

    Refused HTTP requests get the refusal's status and `{"error": {"code", "message"}}`;
    refused WebSocket handshakes are closed with code 1008 (policy violation), which servers
    answer with HTTP 403. WebSocket handshakes always get the Origin check (browsers apply no
    CORS to them). Requests to `public_paths` skip the token check, never the Host check.
    """
    public = frozenset(public_paths)

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind not in ("http", "websocket"):
            await app(scope, receive, send)
            return
        headers, refusal = _headers_of(scope)
        method = "GET" if kind == "http" and scope.get("method") in (None, "") else str(scope.get("method", ""))
        if kind == "websocket":
            method = "WEBSOCKET"  # not a safe method: the Origin check applies
        refusal = refusal or policy.check(method, headers, require_token=scope.get("path") not in public)
        if refusal is None:
            await app(scope, receive, send)
        elif kind == "http":
            await _refuse_http(send, refusal)
        else:
            await receive()  # the websocket.connect message
            await send({"type": "websocket.close", "code": 1008, "reason": refusal.message[:120]})

    return guarded


def uvicorn_options(policy: ExposurePolicy) -> dict[str, Any]:
    """Return keyword arguments for `uvicorn.Config` that apply the policy's timeouts.

    `timeout_keep_alive` closes idle keep-alive connections after `idle_timeout`;
    `h11_max_incomplete_event_size` caps a request head still arriving (`guard_asgi` refuses a
    complete one over the same size with 431); the `http` protocol class closes a
    connection whose request head takes longer than `header_timeout`, or whose body takes longer
    than `body_timeout` (uvicorn itself waits forever for both).
    """
    return {
        "timeout_keep_alive": max(1, round(policy.idle_timeout)),
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "http": _deadline_protocol(policy.header_timeout, policy.body_timeout),
    }


def _deadline_protocol(header_timeout: float, body_timeout: float) -> type:
    """Return uvicorn's h11 protocol with deadlines for each request's head and body (imported lazily)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class DeadlineProtocol(H11Protocol):
        """Close connections whose request head or body arrives too slowly."""

        _timer: asyncio.TimerHandle | None = None
        _phase: str | None = None  # "head" while the request head arrives, "body" while its body does
        _previous_cycle: object = None

        def _arm(self, delay: float) -> None:
            self._disarm()
            self._timer = self.loop.call_later(delay, self._timed_out)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _timed_out(self) -> None:
            self._timer = None
            if not self.transport.is_closing():
                self.transport.close()  # the app sees http.disconnect

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._phase = "head"
            self._arm(header_timeout)

        def data_received(self, data: bytes) -> None:
            cycle: Any = self.cycle  # None until the connection's first request head is parsed
            if self._phase is None and (cycle is None or cycle.response_complete):
                self._phase, self._previous_cycle = "head", cycle  # a keep-alive connection's next request
                self._arm(header_timeout)
            super().data_received(data)
            cycle = self.cycle
            if self._phase == "head" and cycle is not None and cycle is not self._previous_cycle:
                self._phase = "body"
                self._arm(body_timeout)
            if self._phase == "body" and cycle is not None and not cycle.more_body:
                self._phase = None
                self._disarm()

        def handle_websocket_upgrade(self, event: Any) -> None:
            self._disarm()  # the WebSocket protocol takes over this transport
            super().handle_websocket_upgrade(event)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return DeadlineProtocol
