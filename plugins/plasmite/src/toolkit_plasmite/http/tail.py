# ruff: noqa: TID253 - imported only by the server module (itself loaded lazily by `plasmite serve`)
"""The streaming routes: `/tail` (JSON Lines), `/tail_lite3` (binary frames) and the web UI's SSE events.

One stream serves all three (core.tail.follow_frames under a tail permit, stopped when the
client goes away); only the encoding of a message and of a final error differs.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from toolkit_plasmite.core.codec import dumps_compact, envelope
from toolkit_plasmite.core.pool import Frame, PoolFile
from toolkit_plasmite.core.tail import follow_frames
from toolkit_plasmite.core.values import check_pool_name
from toolkit_plasmite.errors import BusyError, PlasmiteError, UsageError

if TYPE_CHECKING:
    from toolkit_plasmite.http.server import Context, Permits

__all__ = ["add_tail_routes"]


@dataclass(frozen=True)
class Encoding:
    """How one kind of tail writes a message and, when it can, a final error."""

    media_type: str
    message: Callable[[PoolFile, Frame, dict[str, Any], list[str]], bytes]
    error: Callable[[PlasmiteError], bytes] | None
    headers: tuple[tuple[str, str], ...] = ()


def _jsonl_message(_pf: PoolFile, frame: Frame, data: dict[str, Any], tags: list[str]) -> bytes:
    return (dumps_compact(envelope(frame[0], frame[1], data, tags)) + "\n").encode()


def _lite3_message(pf: PoolFile, frame: Frame, _data: dict[str, Any], _tags: list[str]) -> bytes:
    from toolkit_plasmite.core.lite3_api import stream_frame

    return stream_frame(pf, frame)


def _sse_message(_pf: PoolFile, frame: Frame, data: dict[str, Any], tags: list[str]) -> bytes:
    return b"event: message\ndata: " + dumps_compact(envelope(frame[0], frame[1], data, tags)).encode() + b"\n\n"


JSONL = Encoding(
    "application/jsonl", _jsonl_message, lambda e: (dumps_compact({"error": e.error_body()}) + "\n").encode()
)
LITE3 = Encoding("application/x-plasmite-lite3-stream", _lite3_message, None)
SSE = Encoding(
    "text/event-stream",
    _sse_message,
    lambda e: b"event: error\ndata: " + dumps_compact({"error": e.error_body()}).encode() + b"\n\n",
    (("cache-control", "no-cache, no-transform"),),
)


def check_tail_query(
    max_timeout_ms: int, timeout_ms: int | None, since_seq: int | None, max_messages: int | None, gap_policy: str
) -> int:
    """Validate a tail's query (400 on a bad value); return the effective timeout in ms."""
    if timeout_ms is None:
        timeout_ms = max_timeout_ms
    if timeout_ms < 0 or timeout_ms > max_timeout_ms:
        raise UsageError(f"timeout_ms must be between 0 and {max_timeout_ms}")
    if since_seq is not None and since_seq < 0:
        raise UsageError("since_seq must be >= 0")
    if max_messages is not None and max_messages < 0:
        raise UsageError("max must be >= 0")
    if gap_policy not in ("continue", "error"):
        raise UsageError("gap_policy must be continue or error")
    return timeout_ms


def add_tail_routes(app: FastAPI, ctx: Context) -> None:
    """Register `/tail`, `/tail_lite3` and `/v0/ui/pools/{pool}/events` (same query: since_seq, max, ...)."""

    async def stream(
        encoding: Encoding,
        pool: str,
        request: Request,
        since_seq: int | None,
        max_messages: int | None,
        timeout_ms: int | None,
        gap_policy: str,
    ) -> Response:
        ctx.check_access("read")
        check_pool_name(pool)
        if encoding.error is None and gap_policy == "error":
            raise UsageError(
                "Lite3 tails do not support gap_policy=error: the stream has no error frame",
                hint="use gap_policy=continue, or the JSON tail",
            )
        tags = request.query_params.getlist("tag")
        timeout_ms = check_tail_query(ctx.config.max_tail_timeout_ms, timeout_ms, since_seq, max_messages, gap_policy)
        return await _respond(
            ctx, encoding, pool, request, since_seq, max_messages, timeout_ms / 1000, tags, gap_policy
        )

    def route(encoding: Encoding) -> Callable[..., Any]:
        async def handler(
            pool: str,
            request: Request,
            since_seq: int | None = None,
            max: int | None = None,
            timeout_ms: int | None = None,
            gap_policy: str = "continue",
        ) -> Response:
            return await stream(encoding, pool, request, since_seq, max, timeout_ms, gap_policy)

        return handler

    for path, encoding in (
        ("/v0/pools/{pool}/tail", JSONL),
        ("/v0/pools/{pool}/tail_lite3", LITE3),
        ("/v0/ui/pools/{pool}/events", SSE),
    ):
        app.add_api_route(path, route(encoding), methods=["GET"])


async def _respond(
    ctx: Context,
    encoding: Encoding,
    pool: str,
    request: Request,
    since_seq: int | None,
    max_messages: int | None,
    timeout: float,
    tags: list[str],
    gap_policy: str,
) -> Response:
    permits = ctx.tail_permits
    if not permits.try_acquire():
        raise BusyError("server is saturated: too many tails", hint="retry shortly")
    try:
        pf = await run_in_threadpool(ctx.open_pool, pool, None)
    except BaseException:
        permits.release()
        raise
    # Without since_seq a tail starts where plasmite's starts: the oldest retained message.
    st = pf.state()
    start = since_seq if since_seq is not None else (st.oldest or st.newest + 1)
    stop = threading.Event()
    release = _ReleaseOnce(pf, permits)
    chunks = _chunks(encoding, pf, release, stop, start, max_messages, timeout, tags, gap_policy)

    async def watch_disconnect() -> None:
        # No data flows while a tail waits, so a gone client is only noticed by asking.
        while not stop.is_set():
            if await request.is_disconnected():
                stop.set()
                release()
                return
            await asyncio.sleep(0.2)

    async def body() -> Any:
        watcher = asyncio.create_task(watch_disconnect())
        try:
            while True:
                chunk = await run_in_threadpool(next, chunks, None)
                if chunk is None:
                    return
                yield chunk
        finally:
            watcher.cancel()
            stop.set()
            # Still running in a worker raises ValueError: it sees `stop` within one poll and cleans up.
            with contextlib.suppress(ValueError):
                chunks.close()

    async def cleanup() -> None:
        # A client that disconnects before the body starts never runs the generator's
        # `finally`: give the permit back here too (once).
        stop.set()
        release()

    return StreamingResponse(
        body(),
        media_type=encoding.media_type,
        headers={"plasmite-start-seq": str(start), **dict(encoding.headers)},
        background=BackgroundTask(cleanup),
    )


class _ReleaseOnce:
    """Close a tail's pool handle and return its permit exactly once, whoever gets there first."""

    def __init__(self, pf: PoolFile, permits: Permits) -> None:
        self._pf = pf
        self._permits = permits
        self._lock = threading.Lock()
        self._done = False

    def __call__(self) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
        self._permits.release()

    def close_pool(self) -> None:
        with contextlib.suppress(Exception):
            self._pf.close()


def _chunks(
    encoding: Encoding,
    pf: PoolFile,
    release: _ReleaseOnce,
    stop: threading.Event,
    since_seq: int,
    max_messages: int | None,
    timeout: float,
    tags: list[str],
    gap_policy: str,
) -> Generator[bytes, None, None]:
    try:
        stream = follow_frames(
            pf,
            since_seq=since_seq,
            max_messages=max_messages,
            timeout=timeout,
            tags=tags,
            gap_policy="error" if gap_policy == "error" else "continue",
            should_stop=stop.is_set,
        )
        try:
            for frame, data, mtags in stream:
                yield encoding.message(pf, frame, data, mtags)
        except PlasmiteError as exc:
            if encoding.error is None:
                return  # a Lite3 stream just ends (plasmite's rule: no error frame)
            yield encoding.error(exc)
    finally:
        release.close_pool()
        release()
