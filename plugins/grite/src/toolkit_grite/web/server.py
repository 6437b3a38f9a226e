"""Run the web UI: bind, apply the kernel's exposure policy, serve with uvicorn until interrupted."""

from __future__ import annotations

import socket
from collections.abc import Callable

from toolkit_grite.core.grite import Grite
from toolkit_grite.errors import InvalidArgs
from toolkit_kernel.exposure import ExposurePolicy, guard_asgi, uvicorn_options

__all__ = ["PUBLIC_PATHS", "serve"]

#: Served without the token (never without the Host check): the page and its assets carry no
#: repository data, and the page asks for the token before it calls the API.
PUBLIC_PATHS = ("/", "/healthz", "/static/index.html", "/static/app.js", "/static/app.css")


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
    app = guard_asgi(create_app(g), policy, public_paths=PUBLIC_PATHS)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", **uvicorn_options(policy))
    name = f"[{host}]" if ":" in host else host
    ready(f"http://{name}:{real_port}/")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
