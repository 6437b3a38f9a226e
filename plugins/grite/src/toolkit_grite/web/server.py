"""Run the web UI: bind, apply the kernel's exposure policy, serve with uvicorn until interrupted."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

from toolkit_grite.core.grite import Grite
from toolkit_grite.errors import InvalidArgs
from toolkit_kernel.exposure import ASGIApp, ExposurePolicy, Message, Receive, Scope, Send, guard_asgi, uvicorn_options

__all__ = ["MAX_BODY", "PUBLIC_PATHS", "limit_body", "serve"]

#: Largest request body accepted (an issue body or comment is text; 4 MiB is far beyond any).
MAX_BODY = 4 * 1024 * 1024

#: Served without the token (never without the Host check): the page and its assets carry no
#: repository data, and the page asks for the token before it calls the API.
PUBLIC_PATHS = ("/", "/healthz", "/static/index.html", "/static/app.js", "/static/app.css")


def limit_body(app: ASGIApp, limit: int = MAX_BODY) -> ASGIApp:
    """Refuse (413) a request body over `limit` bytes before the app sees any of it.

    The body is read up to the limit and handed to the app in one message, so a client cannot make
    the server hold more than `limit` bytes of it, announced (`Content-Length`) or streamed.
    """

    async def refuse(send: Send, status: int, message: str) -> None:
        body = json.dumps({"error": {"code": "usage", "message": message}}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def limited(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await refuse(send, 413 if declared.isdigit() else 400, f"the request body exceeds {limit} bytes")
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = bytes(message.get("body", b""))
            size += len(chunk)
            if size > limit:
                await refuse(send, 413, f"the request body exceeds {limit} bytes")
                return
            chunks.append(chunk)
            more = bool(message.get("more_body"))
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await app(scope, replay, send)

    return limited


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except (OSError, OverflowError) as exc:
        sock.close()
        raise InvalidArgs(f"cannot listen on {host}:{port}: {exc}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(g: Grite, host: str, port: int, *, token: str | None, ready: Callable[[str], None]) -> None:
    """Serve the UI for `g` on `host:port` (0: any free port) until SIGINT/SIGTERM.

    Args:
        g: The repository.
        host: Bind address; anything but loopback needs `token`.
        port: TCP port.
        token: Bearer token for the API, or None (loopback only).
        ready: Called with the URL once the socket listens.

    Raises:
        ExposureError: a non-loopback address without a token.
        InvalidArgs: the address cannot be bound.
    """
    ExposurePolicy.for_bind(host, port, token=token)  # refuse before binding anything
    import uvicorn

    from toolkit_grite.web.app import create_app

    sock = _bind(host, port)
    real_port = sock.getsockname()[1]
    policy = ExposurePolicy.for_bind(host, real_port, token=token)
    app = guard_asgi(limit_body(create_app(g)), policy, public_paths=PUBLIC_PATHS)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", **uvicorn_options(policy))
    name = f"[{host}]" if ":" in host else host
    ready(f"http://{name}:{real_port}/")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
