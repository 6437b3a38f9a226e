"""The exposure policy: token rule, Host allowlist, Origin/CSRF check, timeouts, on a real uvicorn."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toolkit_kernel.errors import UsageError
from toolkit_kernel.exposure import (
    ExposureError,
    ExposurePolicy,
    Refusal,
    guard_asgi,
    is_loopback_host,
    uvicorn_options,
)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True), ("localhost", True),
        ("LocalHost", True), ("::ffff:127.0.0.1", True), ("0.0.0.0", False), ("::", False), ("", False),
        ("10.0.0.1", False), ("example.com", False), ("localhost.evil.example", False), ("128.0.0.1", False),
        ("[::2]", False),
    ],
)  # fmt: skip
def test_is_loopback_host(host, loopback):
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize("tls", [False, True])
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "example.com"])
def test_non_loopback_bind_needs_a_token_with_or_without_tls(host, tls):
    with pytest.raises(ExposureError, match="without a token") as info:
        ExposurePolicy.for_bind(host, 8080, tls=tls)
    assert isinstance(info.value, UsageError)
    assert info.value.kind == "usage"  # the host maps it to the usage exit code
    assert info.value.details == {"host": host, "port": 8080, "tls": tls}
    policy = ExposurePolicy.for_bind(host, 8080, token="s3cret", tls=tls)
    assert policy.token == "s3cret"


@pytest.mark.parametrize("token", ["", "two words", "tab\there", "nl\n"])
def test_unusable_tokens_are_refused(token):
    with pytest.raises(ExposureError, match="token must be non-empty"):
        ExposurePolicy.for_bind("127.0.0.1", 8080, token=token)


def test_allowed_hosts_and_origins():
    policy = ExposurePolicy.for_bind("127.0.0.1", 8080)
    assert policy.token is None
    assert policy.allowed_hosts == {
        "localhost", "localhost:8080", "127.0.0.1", "127.0.0.1:8080", "[::1]", "[::1]:8080",
    }  # fmt: skip
    assert "http://localhost:8080" in policy.allowed_origins
    assert "https://127.0.0.1:8080" in policy.allowed_origins
    v6 = ExposurePolicy.for_bind("::", 9000, token="t", extra_hosts=["Box.Example", "10.0.0.2:443", "fe80::1"])
    assert {"[::]:9000", "box.example", "box.example:9000", "10.0.0.2:443", "[fe80::1]:9000"} <= v6.allowed_hosts
    assert "10.0.0.2:443:9000" not in v6.allowed_hosts
    web = ExposurePolicy.for_bind("127.0.0.1", 1, extra_origins=["https://UI.example/"])
    assert "https://ui.example" in web.allowed_origins


def test_timeout_defaults_and_uvicorn_options():
    policy = ExposurePolicy.for_bind("localhost", 1)
    assert (policy.header_timeout, policy.body_timeout, policy.idle_timeout) == (10.0, 30.0, 60.0)
    options = uvicorn_options(policy)
    assert options["timeout_keep_alive"] == 60
    assert options["h11_max_incomplete_event_size"] == 64 * 1024
    from uvicorn.protocols.http.h11_impl import H11Protocol

    assert issubclass(options["http"], H11Protocol)


POLICY = ExposurePolicy.for_bind("127.0.0.1", 8080)
TOKENED = ExposurePolicy.for_bind("127.0.0.1", 8080, token="tok")


@pytest.mark.parametrize(
    ("policy", "method", "headers", "expected"),
    [
        (POLICY, "GET", {"host": "localhost:8080"}, None),
        (POLICY, "GET", {"host": "127.0.0.1:8080"}, None),
        (POLICY, "GET", {"host": "[::1]:8080"}, None),
        (POLICY, "GET", {}, (400, "forbidden_host")),
        (POLICY, "GET", {"host": ""}, (400, "forbidden_host")),
        (POLICY, "GET", {"host": "attacker.example:8080"}, (403, "forbidden_host")),  # DNS rebinding
        (POLICY, "GET", {"host": "localhost:9999"}, (403, "forbidden_host")),
        (POLICY, "POST", {"host": "localhost:8080"}, None),  # curl: no Origin
        (POLICY, "POST", {"host": "localhost:8080", "origin": "http://localhost:8080"}, None),
        (POLICY, "post", {"host": "localhost:8080", "origin": "https://evil.example"}, (403, "forbidden_origin")),
        (POLICY, "PUT", {"host": "localhost:8080", "origin": "http://localhost:3000"}, (403, "forbidden_origin")),
        (POLICY, "DELETE", {"host": "localhost:8080", "origin": "null"}, (403, "forbidden_origin")),
        (POLICY, "POST", {"host": "localhost:8080", "sec-fetch-site": "cross-site"}, (403, "forbidden_origin")),
        (POLICY, "POST", {"host": "localhost:8080", "sec-fetch-site": "same-origin"}, None),
        (POLICY, "GET", {"host": "localhost:8080", "origin": "https://evil.example"}, None),  # safe method
        (POLICY, "OPTIONS", {"host": "localhost:8080", "origin": "https://evil.example"}, None),
        (TOKENED, "GET", {"host": "localhost:8080"}, (401, "unauthorized")),
        (TOKENED, "GET", {"host": "localhost:8080", "authorization": "Bearer nope"}, (401, "unauthorized")),
        (TOKENED, "GET", {"host": "localhost:8080", "authorization": "Basic dG9r"}, (401, "unauthorized")),
        (TOKENED, "GET", {"host": "localhost:8080", "authorization": "Bearer"}, (401, "unauthorized")),
        (TOKENED, "GET", {"host": "localhost:8080", "authorization": "Bearer tok"}, None),
        (TOKENED, "GET", {"host": "localhost:8080", "authorization": "bearer tok"}, None),
        (TOKENED, "GET", {"host": "evil.example", "authorization": "Bearer tok"}, (403, "forbidden_host")),
        (TOKENED, "POST", {"host": "localhost:8080", "authorization": "Bearer tok", "origin": "https://evil.example"},
         (403, "forbidden_origin")),
    ],
)  # fmt: skip
def test_check(policy, method, headers, expected):
    refusal = policy.check(method, headers)
    assert (None if refusal is None else (refusal.status, refusal.code)) == expected
    if refusal is not None:
        assert json.loads(refusal.body()) == {"error": {"code": refusal.code, "message": refusal.message}}


def test_public_paths_skip_only_the_token():
    assert TOKENED.check("GET", {"host": "localhost:8080"}, require_token=False) is None
    refusal = TOKENED.check("GET", {"host": "evil.example"}, require_token=False)
    assert refusal is not None
    assert refusal.code == "forbidden_host"


@given(st.text(st.characters(codec="latin-1"), max_size=40))
def test_any_other_host_is_refused(host):
    refusal = POLICY.check("GET", {"host": host})
    if host.strip().lower() in POLICY.allowed_hosts:
        assert refusal is None
    else:
        assert refusal is not None
        assert refusal.code == "forbidden_host"
        assert refusal.status in (400, 403)


@given(st.text(max_size=30))
def test_any_wrong_token_is_refused(presented):
    refusal = TOKENED.check("GET", {"host": "localhost", "authorization": f"Bearer {presented}"})
    assert (refusal is None) == (presented.strip() == "tok")


# --- a real uvicorn serving a guarded ASGI app on a free loopback port -------------------------


class Recorder:
    """A plain ASGI app: records what reached it and echoes the request body's length."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.disconnects = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        self.calls.append((scope["method"], scope["path"]))
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.disconnects += 1
                return
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = json.dumps({"size": size}).encode()
        headers = [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@dataclasses.dataclass
class Served:
    port: int
    app: Recorder

    def request(self, raw: bytes, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(raw)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {name.lower(): value for name, _, value in (line.partition(": ") for line in lines[1:])}
        return int(lines[0].split()[1]), headers, body


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    """Start uvicorn with the guard and the policy's uvicorn options; stop every server afterwards."""
    import uvicorn

    stops: list[Callable[[], None]] = []

    def start(
        *, token: str | None = None, header_timeout: float = 10, body_timeout: float = 30, idle_timeout: float = 60
    ) -> Served:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        policy = dataclasses.replace(
            ExposurePolicy.for_bind("127.0.0.1", port, token=token),
            header_timeout=header_timeout,
            body_timeout=body_timeout,
            idle_timeout=idle_timeout,
        )
        app = Recorder()
        config = uvicorn.Config(guard_asgi(app, policy), log_level="critical", **uvicorn_options(policy))
        server = uvicorn.Server(config)
        thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
        thread.start()
        deadline = time.monotonic() + 15
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)

        def stop() -> None:
            server.should_exit = True
            thread.join(10)
            sock.close()

        stops.append(stop)
        return Served(port, app)

    yield start
    for stop in stops:
        stop()


def _post(port: int, *, host: str | None = None, extra: str = "", body: bytes = b"x=1") -> bytes:
    head = f"POST /api/op HTTP/1.1\r\nHost: {host or f'127.0.0.1:{port}'}\r\nConnection: close\r\n{extra}"
    return f"{head}Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


@pytest.mark.parametrize("token", [None, "tok"])
def test_server_refuses_cross_origin_text_plain_post_and_foreign_host(serve, token):
    served = serve(token=token)
    auth = "Authorization: Bearer tok\r\n" if token else ""
    status, headers, body = served.request(_post(served.port, extra=f"{auth}Origin: https://evil.example\r\n"))
    assert (status, json.loads(body)["error"]["code"]) == (403, "forbidden_origin")
    assert headers["content-type"] == "application/json"
    status, _, body = served.request(_post(served.port, extra=f"{auth}Sec-Fetch-Site: cross-site\r\n"))
    assert (status, json.loads(body)["error"]["code"]) == (403, "forbidden_origin")
    status, _, body = served.request(_post(served.port, host=f"rebound.example:{served.port}", extra=auth))
    assert (status, json.loads(body)["error"]["code"]) == (403, "forbidden_host")
    dup = f"{auth}Host: rebound.example\r\n"
    status, _, body = served.request(_post(served.port, extra=dup))
    assert status == 400  # two Host headers: refused by uvicorn's parser or by the guard
    assert served.app.calls == []  # nothing reached the application
    origin = f"Origin: http://localhost:{served.port}\r\n"
    status, _, body = served.request(_post(served.port, extra=auth + origin, body=b"hello"))
    assert (status, json.loads(body)) == (200, {"size": 5})
    assert served.app.calls == [("POST", "/api/op")]


def test_server_with_token_requires_it_except_on_public_paths(serve):
    served = serve(token="tok")

    def get(path: str, auth: str = "", port: int = served.port) -> tuple[int, dict[str, str], bytes]:
        lines = [f"GET {path} HTTP/1.1", f"Host: localhost:{port}", "Connection: close"]
        lines += [f"Authorization: {auth}"] if auth else []
        response: tuple[int, dict[str, str], bytes] = served.request(("\r\n".join(lines) + "\r\n\r\n").encode())
        return response

    status, headers, body = get("/x")
    assert (status, json.loads(body)["error"]["code"], headers["www-authenticate"]) == (401, "unauthorized", "Bearer")
    assert get("/x", "Bearer no")[0] == 401
    assert get("/x", "Bearer tok")[0] == 200
    assert get("/healthz")[0] == 200
    assert get("/healthz", port=1)[0] == 403  # public paths still check Host
    assert served.app.calls == [("GET", "/x"), ("GET", "/healthz")]


def _closed_within(sock: socket.socket, limit: float) -> float:
    started = time.monotonic()
    sock.settimeout(limit)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    assert b"200 OK" not in data
    return time.monotonic() - started


def test_header_timeout_closes_a_slow_request_head(serve):
    served = serve(header_timeout=0.5)
    with socket.create_connection(("127.0.0.1", served.port)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: loc")  # never finished
        assert _closed_within(sock, 5) < 3
    with socket.create_connection(("127.0.0.1", served.port)) as sock:
        assert _closed_within(sock, 5) < 3  # a silent connection too
    assert served.app.calls == []


def test_body_timeout_closes_a_slow_body_and_the_app_sees_a_disconnect(serve):
    served = serve(body_timeout=0.5)
    with socket.create_connection(("127.0.0.1", served.port)) as sock:
        sock.sendall(f"POST / HTTP/1.1\r\nHost: localhost:{served.port}\r\nContent-Length: 100\r\n\r\nab".encode())
        assert _closed_within(sock, 5) < 3
    deadline = time.monotonic() + 5
    while served.app.disconnects < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert served.app.disconnects == 1


def test_idle_keep_alive_connection_is_closed_and_timers_do_not_cut_fast_requests(serve):
    served = serve(idle_timeout=1, header_timeout=0.5, body_timeout=0.5)
    with socket.create_connection(("127.0.0.1", served.port)) as sock:
        for _ in range(3):  # keep-alive requests, each well inside the deadlines, spaced beyond them
            sock.sendall(f"GET / HTTP/1.1\r\nHost: localhost:{served.port}\r\n\r\n".encode())
            data = b""
            while not data.endswith(b'{"size": 0}'):
                data += sock.recv(65536)
            assert data.startswith(b"HTTP/1.1 200")
            time.sleep(0.7)  # longer than the head deadline: only the idle timeout applies between requests
        assert _closed_within(sock, 5) < 2
    assert len(served.app.calls) == 3


def test_oversized_request_head_is_refused(serve):
    served = serve()
    status, _, _ = served.request(
        f"GET / HTTP/1.1\r\nHost: localhost:{served.port}\r\nX-Big: {'a' * 70000}\r\nConnection: close\r\n\r\n".encode()
    )
    assert status == 431
    assert served.app.calls == []


def test_guard_refuses_websocket_handshakes_from_foreign_origins():
    policy = ExposurePolicy.for_bind("127.0.0.1", 8080)
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["type"])

    async def handshake(origin: str) -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "websocket.connect"}

        async def send(message: Any) -> None:
            sent.append(message)

        headers = [(b"host", b"localhost:8080"), (b"origin", origin.encode())]
        await guard_asgi(app, policy)({"type": "websocket", "path": "/ws", "headers": headers}, receive, send)
        return sent

    sent = asyncio.run(handshake("https://evil.example"))
    assert [(m["type"], m["code"]) for m in sent] == [("websocket.close", 1008)]
    assert reached == []
    assert asyncio.run(handshake("http://localhost:8080")) == []
    assert reached == ["websocket"]


def test_refusal_is_a_value():
    assert Refusal(401, "unauthorized", "m") == Refusal(401, "unauthorized", "m")
