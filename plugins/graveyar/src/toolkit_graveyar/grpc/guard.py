"""What every graveyar gRPC handler shares: authentication, request parsing, error mapping, framing.

Handlers take raw request bytes and parse them themselves, so undecodable requests become
INVALID_ARGUMENT (not INTERNAL) and read pages go to the wire as stored bytes.
"""

# ruff: noqa: TID253 - this module is only imported when a server starts
from __future__ import annotations

import asyncio
import json
import logging
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from toolkit_graveyar.core import errors as E
from toolkit_graveyar.core.users import CALLER, UserDirectory
from toolkit_kernel.errors import Busy, Conflict, NotFound, ToolkitError, UsageError
from toolkit_kernel.exposure import ExposurePolicy

__all__ = ["MAX_FRAME", "Guard", "chunk_by_size", "serialize", "status_for", "trailers_for"]

log = logging.getLogger("graveyar.server")


#: Core error classes and their gRPC status, most specific first (the first match wins).
_STATUS: tuple[tuple[type[ToolkitError] | tuple[type[ToolkitError], ...], grpc.StatusCode], ...] = (
    (E.WrongExpectedVersion, grpc.StatusCode.ABORTED),
    ((E.DuplicateEventId, E.UserExists), grpc.StatusCode.ALREADY_EXISTS),
    ((E.SchemaViolation, E.StreamDeleted), grpc.StatusCode.FAILED_PRECONDITION),
    (E.Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (E.AccessDenied, grpc.StatusCode.PERMISSION_DENIED),
    (E.Unavailable, grpc.StatusCode.UNAVAILABLE),
    (E.ServerBusy, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (UsageError, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (Conflict, grpc.StatusCode.ABORTED),
    (Busy, grpc.StatusCode.UNAVAILABLE),
)


def status_for(err: ToolkitError, *, compat: bool = False) -> grpc.StatusCode:
    """The gRPC status of a core error."""
    if isinstance(err, E.SnapshotRejected):
        # graveyar_db answers INVALID_ARGUMENT; graveyar.v1 says what it is.
        return grpc.StatusCode.INVALID_ARGUMENT if compat else grpc.StatusCode.FAILED_PRECONDITION
    for classes, code in _STATUS:
        if isinstance(err, classes):
            return code
    return grpc.StatusCode.INTERNAL


def _ascii(value: str) -> str:
    # Metadata values must be printable ASCII; anything else is percent-encoded.
    return value if value.isascii() and value.isprintable() else urllib.parse.quote(value, safe="")


def trailers_for(err: ToolkitError) -> tuple[tuple[str, str], ...]:
    """`exception=<code>`, KurrentDB-style facts for version conflicts, and the full error as JSON.

    `graveyar-error` is ASCII JSON (non-ASCII escaped), so it carries every detail exactly.
    """
    out = [("exception", E.code_of(err)), ("graveyar-error", json.dumps(err.to_dict(), sort_keys=True))]
    if isinstance(err, E.WrongExpectedVersion):
        d = err.details
        out += [
            ("stream-name", _ascii(str(d["stream"]))),
            ("expected-version", str(d["expected"])),
            ("actual-version", str(d["actual"])),
        ]
    return tuple(out)


Handler = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]


class Guard:
    """Authentication (the exposure policy's token rule), parsing and error mapping around every handler."""

    def __init__(self, policy: ExposurePolicy, users: UserDirectory | None = None) -> None:
        self.policy = policy
        #: With users (`serve --auth`), every call needs Basic credentials or the bearer token.
        self.users = users

    def check_auth(self, context: grpc.aio.ServicerContext) -> None:
        """Raise Unauthenticated unless the call carries what the server asks for (token, Basic credentials)."""
        if self.policy.token is None and self.users is None:
            return
        presented = None
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                presented = value.decode() if isinstance(value, bytes) else value
        if self.users is not None and (self.policy.token is None or _is_basic(presented)):
            # The handler runs in this call's task: core reads the caller from there.
            CALLER.set(self.users.authenticate_header(presented))
            return
        refusal = self.policy.check_token(presented)
        if refusal is not None:
            raise E.Unauthenticated(refusal.message, hint="pass the server's token (--token)")

    async def fail(self, context: grpc.aio.ServicerContext, err: BaseException, compat: bool) -> None:
        """Abort the call with the status and trailers of `err` (unexpected errors become INTERNAL)."""
        if isinstance(err, ToolkitError):
            code = status_for(err, compat=compat)
            if code is grpc.StatusCode.INTERNAL:
                log.error("internal error: %s", err)
            await context.abort(code, err.message, trailing_metadata=trailers_for(err))
        log.exception("unexpected error in handler", exc_info=err)
        internal = E.StorageFailure(f"internal error: {type(err).__name__}: {err}")
        await context.abort(grpc.StatusCode.INTERNAL, internal.message, trailing_metadata=trailers_for(internal))

    def unary(self, request_type: Any, fn: Callable[..., Awaitable[Any]], *, compat: bool) -> Any:
        """A unary-unary handler around `fn`."""

        async def handler(raw: bytes, context: grpc.aio.ServicerContext) -> Any:
            try:
                self.check_auth(context)
                try:
                    req = request_type.FromString(raw)
                except DecodeError as exc:
                    raise E.InvalidRequest(f"undecodable {request_type.DESCRIPTOR.name}: {exc}") from None
                return await fn(req)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self.fail(context, exc, compat)

        return grpc.unary_unary_rpc_method_handler(handler, response_serializer=serialize)

    def stream(self, request_type: Any, fn: Callable[..., AsyncIterator[Any]], *, compat: bool) -> Any:
        """A unary-stream handler around `fn`."""

        async def handler(raw: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            try:
                self.check_auth(context)
                try:
                    req = request_type.FromString(raw)
                except DecodeError as exc:
                    raise E.InvalidRequest(f"undecodable {request_type.DESCRIPTOR.name}: {exc}") from None
                async for item in fn(req):
                    yield item
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self.fail(context, exc, compat)

        return grpc.unary_stream_rpc_method_handler(handler, response_serializer=serialize)


#: Bytes of records per response message: far below the transport limit even with 4 MiB events.
MAX_FRAME = 8 * 1024 * 1024


def _is_basic(authorization: str | None) -> bool:
    return authorization is not None and authorization[:6].lower() == "basic "


def chunk_by_size(records: Sequence[bytes], limit: int = MAX_FRAME) -> Iterator[Sequence[bytes]]:
    """Split a page into runs of at most `limit` bytes (a larger record travels alone)."""
    if sum(len(r) for r in records) <= limit:
        yield records
        return
    run: list[bytes] = []
    size = 0
    for rec in records:
        if run and size + len(rec) > limit:
            yield run
            run, size = [], 0
        run.append(rec)
        size += len(rec)
    if run:
        yield run


def serialize(msg: Any) -> bytes:
    """Wire bytes of a response: a message, or bytes already framed."""
    if isinstance(msg, bytes):
        return msg
    out: bytes = msg.SerializeToString()
    return out
