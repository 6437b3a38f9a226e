# ruff: noqa: TID253 - imported only by `plasmite serve` (lazily), so FastAPI at module level is fine here
"""The `/v0` HTTP API over local pools (FastAPI app; uvicorn runs it)."""

from __future__ import annotations

import contextlib
import hmac
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from toolkit.webdocs import offline_docs
from toolkit_plasmite import __version__
from toolkit_plasmite.core.client import LocalClient
from toolkit_plasmite.core.codec import envelope
from toolkit_plasmite.core.format import DEFAULT_POOL_SIZE
from toolkit_plasmite.core.pool import PoolFile
from toolkit_plasmite.core.values import check_pool_name
from toolkit_plasmite.errors import (
    BusyError,
    ErrorKind,
    InternalError,
    PermissionDeniedError,
    PlasmiteError,
    UsageError,
)
from toolkit_plasmite.http.tail import add_tail_routes
from toolkit_plasmite.web import add_web_routes

LITE3_MEDIA_TYPE = "application/x-plasmite-lite3"

__all__ = ["Context", "Permits", "ServeConfig", "create_app"]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class ServeConfig:
    """What `plasmite serve` was told."""

    pool_dir: Path
    access: str = "read-write"
    token: str | None = None
    max_body_bytes: int = 1024 * 1024
    max_tail_timeout_ms: int = 30_000
    max_tail_concurrency: int = 64
    cors_origins: list[str] = field(default_factory=list)


class Permits:
    """Non-blocking counting permits shared by tails and storage requests (423 when exhausted)."""

    def __init__(self, limit: int) -> None:
        self._free = limit
        self._lock = threading.Lock()

    def try_acquire(self) -> bool:
        """Take a permit if one is free."""
        with self._lock:
            if self._free <= 0:
                return False
            self._free -= 1
            return True

    def release(self) -> None:
        """Give a permit back."""
        with self._lock:
            self._free += 1


def _error_response(err: PlasmiteError, status: int | None = None) -> JSONResponse:
    return JSONResponse({"error": err.error_body()}, status_code=status or err.kind.http_status)


def _raw_error(status: int, kind: ErrorKind, message: str, hint: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": kind.label, "message": message}
    if hint:
        body["hint"] = hint
    return {"error": body}


class GuardMiddleware:
    """Version header, bearer-token auth and body-size limit, before any route runs."""

    def __init__(self, app: Any, config: ServeConfig) -> None:
        self.app = app
        self.config = config
        self._token = config.token.encode() if config.token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"plasmite-version", b"0")]
            await send(message)

        path: str = scope.get("path", "")
        if self._token is not None and path.startswith(("/v0", "/mcp")):
            headers = dict(scope.get("headers") or [])
            got = headers.get(b"authorization", b"")
            if not hmac.compare_digest(got, b"Bearer " + self._token):
                await self._reject(
                    send_with_header,
                    401,
                    ErrorKind.PERMISSION,
                    "missing or invalid bearer token",
                    "send Authorization: Bearer <token>",
                )
                return
        limit = self.config.max_body_bytes
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > limit
            except ValueError:
                await self._reject(send_with_header, 400, ErrorKind.USAGE, "invalid Content-Length")
                return
            if too_big:
                await self._reject(
                    send_with_header,
                    413,
                    ErrorKind.USAGE,
                    f"request body exceeds {limit} bytes",
                    "send smaller records",
                )
                return
        received = 0

        async def limited_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send_with_header)
        except _BodyTooLarge:
            await self._reject(send_with_header, 413, ErrorKind.USAGE, f"request body exceeds {limit} bytes")

    @staticmethod
    async def _reject(send: Send, status: int, kind: ErrorKind, message: str, hint: str | None = None) -> None:
        body = json.dumps(_raw_error(status, kind, message, hint), sort_keys=True, separators=(",", ":")).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        value = json.loads(raw) if raw else None
    except ValueError as exc:
        raise UsageError(f"malformed JSON body: {exc}", hint="send a JSON object") from None
    if not isinstance(value, dict):
        raise UsageError("request body must be a JSON object")
    return value


def _name_field(body: dict[str, Any]) -> str:
    name = body.get("pool")
    if not isinstance(name, str):
        raise UsageError("field `pool` must be a string naming the pool")
    return check_pool_name(name)


class Context:
    """Shared state of one server: config, pool client, permits and the access check."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.client = LocalClient(config.pool_dir)
        # Separate budgets: long-lived tails never starve storage requests (and the reverse).
        self.permits = Permits(config.max_tail_concurrency)
        self.tail_permits = Permits(config.max_tail_concurrency)

    def check_access(self, kind: str) -> None:
        """403 (Permission) when the access mode forbids a `read` or `write` route."""
        if kind == "write" and self.config.access == "read-only":
            raise PermissionDeniedError("this server is read-only", hint="start it with --access read-write")
        if kind == "read" and self.config.access == "write-only":
            raise PermissionDeniedError("this server is write-only", hint="start it with --access read-write")

    async def guarded(self, kind: str, work: Callable[[], Any]) -> Any:
        """Run storage work in a worker thread under a permit (423 when none is free)."""
        self.check_access(kind)
        if not self.permits.try_acquire():
            raise BusyError("server is saturated", hint="retry shortly")
        try:
            return await run_in_threadpool(work)
        finally:
            self.permits.release()

    def open_pool(self, name: str, writable: bool | None = None) -> PoolFile:
        """Open a pool by bare name."""
        return self.client.open_pool(check_pool_name(name), writable)


def create_app(config: ServeConfig) -> FastAPI:
    """Build the FastAPI app for `config`."""
    mcp_server = _mcp_server(config)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        import anyio.to_thread

        # Every open tail holds a worker thread while it waits; keep room for storage requests too.
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = max(limiter.total_tokens, config.max_tail_concurrency + 16)
        async with mcp_server.session_manager.run():
            yield

    app = FastAPI(
        title="plasmite",
        version=__version__,
        description="plasmite v0 HTTP API over local message pools",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    offline_docs(app)  # /docs and /redoc with their assets served here: they work offline
    ctx = Context(config)
    _add_error_handlers(app)
    _add_pool_routes(app, ctx)
    _add_message_routes(app, ctx)
    add_tail_routes(app, ctx)
    add_web_routes(app)
    app.router.routes.extend(_mcp_routes(mcp_server))
    if config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=config.cors_origins, allow_methods=["*"], allow_headers=["*"])
    app.add_middleware(GuardMiddleware, config=config)
    return app


def _mcp_server(config: ServeConfig) -> Any:
    """Plasmite's agent tools for this server's pool directory and access mode (served at `/mcp`)."""
    from toolkit.mcp_server import build_server
    from toolkit_plasmite.mcp.plasmite import INSTRUCTIONS, plasmite_resources, plasmite_tools

    # The pool resources are reads: a write-only server does not offer them.
    resources = None if config.access == "write-only" else plasmite_resources(config.pool_dir)
    tools = plasmite_tools(config.pool_dir, config.access)
    return build_server(tools, name="plasmite", instructions=INSTRUCTIONS, resources=resources)


def _mcp_routes(mcp_server: Any) -> list[Any]:
    """The streamable-HTTP route `/mcp` (its session manager runs in the app's lifespan)."""
    from mcp.server.transport_security import TransportSecuritySettings

    # Host and Origin are already checked by the kernel's exposure guard around the whole app,
    # with the server's real bind and allowlist; the SDK's own loopback-only check would refuse
    # a legitimately exposed server.
    security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    routes: list[Any] = mcp_server.streamable_http_app(streamable_http_path="/mcp", transport_security=security).routes
    return routes


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PlasmiteError)
    async def on_plasmite_error(_request: Request, exc: PlasmiteError) -> JSONResponse:
        if isinstance(exc, PermissionDeniedError) and exc.message.startswith("this server is"):
            return _error_response(exc, 403)
        if isinstance(exc, PermissionDeniedError):
            return _error_response(exc, 500)  # a filesystem EACCES is a server problem, not an auth one
        return _error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def on_validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error_response(UsageError(f"invalid request: {where}: {first.get('msg', 'invalid')}"))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = ErrorKind.NOT_FOUND if exc.status_code == 404 else ErrorKind.USAGE
        return JSONResponse(_raw_error(exc.status_code, kind, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def on_any(_request: Request, exc: Exception) -> JSONResponse:
        return _error_response(InternalError(f"internal error: {type(exc).__name__}"))


def _add_pool_routes(app: FastAPI, ctx: Context) -> None:
    @app.get("/healthz")
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/v0/pools")
    async def create(request: Request) -> dict[str, Any]:
        ctx.check_access("write")
        body = await _json_body(request)
        name = _name_field(body)
        size = body.get("size_bytes", DEFAULT_POOL_SIZE)
        if type(size) is not int or size <= 0:
            raise UsageError("field `size_bytes` must be a positive integer")
        return {"pool": await ctx.guarded("write", lambda: ctx.client.create_pool(name, size))}

    @app.post("/v0/pools/open")
    async def open_(request: Request) -> dict[str, Any]:
        ctx.check_access("read")
        name = _name_field(await _json_body(request))
        return {"pool": await ctx.guarded("read", lambda: ctx.client.pool_info(name))}

    @app.get("/v0/pools")
    @app.get("/v0/ui/pools", include_in_schema=False)  # the web UI's name for it (as plasmite's)
    async def list_() -> dict[str, Any]:
        return {"pools": await ctx.guarded("read", ctx.client.list_pools)}

    @app.get("/v0/pools/{pool}/info")
    @app.get("/v0/ui/pools/{pool}/info", include_in_schema=False)
    async def info(pool: str) -> dict[str, Any]:
        check_pool_name(pool)
        return {"pool": await ctx.guarded("read", lambda: ctx.client.pool_info(pool))}

    @app.delete("/v0/pools/{pool}")
    async def delete(pool: str) -> dict[str, Any]:
        check_pool_name(pool)
        await ctx.guarded("write", lambda: ctx.client.delete_pool(pool))
        return {"ok": True}


def _add_message_routes(app: FastAPI, ctx: Context) -> None:
    @app.post("/v0/pools/{pool}/append")
    async def append(pool: str, request: Request) -> dict[str, Any]:
        ctx.check_access("write")
        check_pool_name(pool)
        body = await _json_body(request)
        data = body.get("data")
        tags = body.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise UsageError("field `tags` must be a list of strings")
        if not isinstance(data, dict):
            raise UsageError("data must be object", hint='send {"data": {...}}')
        tags = list(tags)
        flush = body.get("durability") == "flush"

        def work() -> dict[str, Any]:
            with ctx.open_pool(pool, True) as pf:
                seq, ts = pf.append(pf.encode_payload(data, tags), flush)
            return envelope(seq, ts, data, tags)

        return {"message": await ctx.guarded("write", work)}

    @app.get("/v0/pools/{pool}/messages/{seq}")
    async def get(pool: str, seq: int) -> dict[str, Any]:
        check_pool_name(pool)

        def work() -> dict[str, Any]:
            from toolkit_plasmite.core.codec import decode_payload

            with ctx.open_pool(pool, False) as pf:
                s, ts, payload, _ = pf.get(seq)
                data, tags = decode_payload(payload, seq=s, path=str(pf.path))
            return envelope(s, ts, data, tags)

        return {"message": await ctx.guarded("read", work)}

    _add_lite3_message_routes(app, ctx)


def _add_lite3_message_routes(app: FastAPI, ctx: Context) -> None:
    """Lite3 documents as bodies, as plasmite's server and its `feed http://...` use them."""
    from toolkit_plasmite.core import lite3

    @app.post("/v0/pools/{pool}/append_lite3")
    async def append_lite3(pool: str, request: Request, durability: str | None = None) -> dict[str, Any]:
        ctx.check_access("write")
        check_pool_name(pool)
        raw = await request.body()
        data, tags = lite3.decode_message(raw)  # CorruptError (500) before anything is written
        flush = durability == "flush"

        def work() -> dict[str, Any]:
            with ctx.open_pool(pool, True) as pf:
                stored = raw if pf.version == 3 else pf.encode_payload(data, tags)
                seq, ts = pf.append(stored, flush)
            return envelope(seq, ts, data, tags)

        return {"message": await ctx.guarded("write", work)}

    @app.get("/v0/pools/{pool}/messages/{seq}/lite3")
    async def get_lite3(pool: str, seq: int) -> Response:
        check_pool_name(pool)

        def work() -> tuple[int, bytes]:
            from toolkit_plasmite.core.lite3_api import frame_payload

            with ctx.open_pool(pool, False) as pf:
                frame = frame_payload(pf, pf.get(seq))
            return frame.seq, frame.payload

        got_seq, payload = await ctx.guarded("read", work)
        return Response(payload, media_type=LITE3_MEDIA_TYPE, headers={"plasmite-seq": str(got_seq)})
