"""`AsyncGraveyarClient`: the asyncio face of the client (the implementation is in `protocol`)."""

# ruff: noqa: TID253 - clients are imported on demand (user code, the eventsourcing module), never by the CLI group
from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any, TypeVar

import grpc

from toolkit_graveyar.client import protocol as P
from toolkit_graveyar.core.codec import from_pb
from toolkit_graveyar.core.model import (
    AppendResult,
    Expected,
    ProposedEvent,
    RecordedEvent,
    Snapshot,
    StreamInfo,
    StreamMetadata,
)

__all__ = ["AsyncGraveyarClient"]

T = TypeVar("T")


class AsyncGraveyarClient(P.Connection):
    """asyncio client: the methods of `GraveyarClient` as coroutines / async iterators (arguments: see `Connection`)."""

    channels = grpc.aio

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close()

    async def __aenter__(self) -> AsyncGraveyarClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _run(self, call: P.Call[T]) -> T:
        rpc = getattr(self._stub_for(call), call.method)
        delays = P.retry_delays(self.retries)
        while True:
            try:
                return call.parse(await rpc(call.request, timeout=self.timeout, metadata=self._metadata))
            except grpc.RpcError as exc:
                delay = P.retry_delay(exc, delays)
                if delay is None:
                    raise self._error(exc) from None
            await asyncio.sleep(delay)

    async def append(
        self, stream: str, events: Sequence[ProposedEvent], expected: Expected | None = None
    ) -> AppendResult:
        """Append `events` atomically."""
        return await self._run(P.append_call(stream, events, expected))

    async def append_multi(
        self, items: Sequence[tuple[str, Sequence[ProposedEvent], Expected | None]]
    ) -> list[AppendResult]:
        """Append to several distinct streams atomically (all or none)."""
        return await self._run(P.append_multi_call(items))

    async def iter_read(
        self,
        stream: str,
        start: int | None = None,
        *,
        backward: bool = False,
        limit: int = 0,
        exclude_stream_prefixes: Sequence[str] = (),
    ) -> AsyncIterator[RecordedEvent]:
        """Stream a read page by page."""
        req = P.read_request(stream, start, backward, limit, exclude_stream_prefixes)
        try:
            async for resp in self._stub.Read(req, metadata=self._metadata):
                for e in resp.events:
                    yield from_pb(e)
        except grpc.RpcError as exc:
            raise self._error(exc) from None

    async def read(
        self, stream: str, start: int | None = None, *, backward: bool = False, limit: int = 0
    ) -> list[RecordedEvent]:
        """Read a stream (or `$all`)."""
        return [e async for e in self.iter_read(stream, start, backward=backward, limit=limit)]

    async def read_all(
        self, start: int | None = None, *, backward: bool = False, limit: int = 0
    ) -> list[RecordedEvent]:
        """Read the global log."""
        return await self.read(P.ALL, start, backward=backward, limit=limit)

    async def subscribe(
        self,
        stream: str = P.ALL,
        after: int | None = None,
        *,
        stream_prefixes: Sequence[str] = (),
        event_types: Sequence[str] = (),
        resume: bool = True,
        resume_timeout: float | None = None,
        exclude_stream_prefixes: Sequence[str] = (),
    ) -> AsyncGenerator[P.SubscriptionMessage, None]:
        """Catch-up subscription with automatic resume on UNAVAILABLE (see `GraveyarClient.subscribe`)."""
        sub = P.Resumption(
            stream,
            after,
            stream_prefixes=stream_prefixes,
            event_types=event_types,
            exclude_stream_prefixes=exclude_stream_prefixes,
            resume=resume,
            resume_timeout=resume_timeout,
        )
        while True:
            call = self._stub.Subscribe(sub.request(), metadata=self._metadata)
            try:
                async for resp in call:
                    for msg in sub.received(resp):
                        yield msg
                return
            except grpc.RpcError as exc:
                delay = sub.delay_after(exc)
                if delay is None:
                    raise self._error(exc) from None
                await asyncio.sleep(delay)
            finally:
                call.cancel()

    async def delete_stream(self, stream: str, expected: Expected | None = None) -> int:
        """Soft-delete a stream."""
        return await self._run(P.delete_stream_call(stream, expected))

    async def set_stream_metadata(self, stream: str, metadata: StreamMetadata) -> StreamInfo:
        """Set retention rules."""
        return await self._run(P.set_stream_metadata_call(stream, metadata))

    async def stream_info(self, stream: str) -> StreamInfo:
        """State of one stream."""
        return await self._run(P.stream_info_call(stream))

    async def list_streams(self, prefix: str = "", *, after: str = "", limit: int = 0) -> list[StreamInfo]:
        """Streams by name."""
        return await self._run(P.list_streams_call(prefix, after, limit))

    async def save_snapshot(self, stream: str, version: int, payload: bytes, timestamp: int = 0) -> int:
        """Save the latest snapshot."""
        return await self._run(P.save_snapshot_call(stream, version, payload, timestamp))

    async def get_snapshot(self, stream: str) -> Snapshot:
        """The latest snapshot."""
        return await self._run(P.get_snapshot_call(stream))

    async def upsert_schema(self, schema: dict[str, Any]) -> str:
        """Register a schema."""
        return await self._run(P.upsert_schema_call(schema))

    async def get_schema(self, name: str) -> dict[str, Any]:
        """A registered schema."""
        return await self._run(P.get_schema_call(name))

    async def start_scavenge(self) -> tuple[str, bool]:
        """Start a scavenge: (its id, True), or (the id of the one already running, False)."""
        return await self._run(P.start_scavenge_call())

    async def stop_scavenge(self, scavenge_id: str) -> str:
        """Stop the running scavenge `scavenge_id`."""
        return await self._run(P.stop_scavenge_call(scavenge_id))
