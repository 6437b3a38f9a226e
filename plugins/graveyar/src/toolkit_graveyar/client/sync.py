"""`GraveyarClient`: the blocking face of the client (the implementation is in `protocol`)."""

# ruff: noqa: TID253 - clients are imported on demand (CLI command bodies, user code), never by the CLI group
from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator, Sequence
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

__all__ = ["GraveyarClient"]

T = TypeVar("T")


class GraveyarClient(P.Connection):
    """Blocking client (arguments: see `Connection`)."""

    channels = grpc

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()

    def __enter__(self) -> GraveyarClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, call: P.Call[T]) -> T:
        rpc = getattr(self._stub_for(call), call.method)
        delays = P.retry_delays(self.retries)
        while True:
            try:
                return call.parse(rpc(call.request, timeout=self.timeout, metadata=self._metadata))
            except grpc.RpcError as exc:
                delay = P.retry_delay(exc, delays)
                if delay is None:
                    raise self._error(exc) from None
            time.sleep(delay)

    # -- events ---------------------------------------------------------------------------------
    def append(self, stream: str, events: Sequence[ProposedEvent], expected: Expected | None = None) -> AppendResult:
        """Append `events` atomically; raises WrongExpectedVersion on a conflict."""
        return self._run(P.append_call(stream, events, expected))

    def append_multi(self, items: Sequence[tuple[str, Sequence[ProposedEvent], Expected | None]]) -> list[AppendResult]:
        """Append to several distinct streams atomically (all or none)."""
        return self._run(P.append_multi_call(items))

    def read(
        self,
        stream: str,
        start: int | None = None,
        *,
        backward: bool = False,
        limit: int = 0,
        exclude_stream_prefixes: Sequence[str] = (),
    ) -> list[RecordedEvent]:
        """Read a stream (or `$all`, optionally without some streams) from `start` (inclusive)."""
        excludes = exclude_stream_prefixes
        return list(self.iter_read(stream, start, backward=backward, limit=limit, exclude_stream_prefixes=excludes))

    def read_all(self, start: int | None = None, *, backward: bool = False, limit: int = 0) -> list[RecordedEvent]:
        """Read the global log from position `start` (inclusive)."""
        return self.read(P.ALL, start, backward=backward, limit=limit)

    def iter_read(
        self,
        stream: str,
        start: int | None = None,
        *,
        backward: bool = False,
        limit: int = 0,
        exclude_stream_prefixes: Sequence[str] = (),
    ) -> Iterator[RecordedEvent]:
        """Stream a read page by page."""
        for resp in self._read(P.read_request(stream, start, backward, limit, exclude_stream_prefixes)):
            for e in resp.events:
                yield from_pb(e)

    def read_raw_count(self, stream: str, start: int | None = None, *, limit: int = 0) -> int:
        """Read and count events without building Python objects (benchmarks)."""
        return sum(len(resp.events) for resp in self._read(P.read_request(stream, start, False, limit)))

    def _read(self, req: Any) -> Iterator[Any]:
        try:
            yield from self._stub.Read(req, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise self._error(exc) from None

    def subscribe(
        self,
        stream: str = P.ALL,
        after: int | None = None,
        *,
        stream_prefixes: Sequence[str] = (),
        event_types: Sequence[str] = (),
        resume: bool = True,
        resume_timeout: float | None = None,
        exclude_stream_prefixes: Sequence[str] = (),
    ) -> Generator[P.SubscriptionMessage, None, None]:
        """Catch-up subscription; on UNAVAILABLE it resubscribes after the last event or checkpoint seen.

        Resumes back off from 0.1 s to 2 s and go on until `resume_timeout` seconds pass without
        a response (None = keep trying), so each event is delivered once across restarts.
        """
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
                for resp in call:
                    yield from sub.received(resp)
                return
            except grpc.RpcError as exc:
                delay = sub.delay_after(exc)
                if delay is None:
                    raise self._error(exc) from None
                time.sleep(delay)
            finally:
                call.cancel()

    def subscription(
        self, stream: str = P.ALL, after: int | None = None, *, event_types: Sequence[str] = ()
    ) -> tuple[Iterator[P.SubscriptionMessage], Callable[[], None]]:
        """One catch-up subscription (no resume) and a function that cancels it from any thread.

        After cancelling, the iterator ends (StopIteration) instead of raising.
        """
        req = P.subscribe_request(stream, after, (), event_types)
        call = self._stub.Subscribe(req, metadata=self._metadata)

        def messages() -> Iterator[P.SubscriptionMessage]:
            try:
                for resp in call:
                    yield from P.subscription_messages(resp)
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.CANCELLED:
                    return
                raise self._error(exc) from None

        return messages(), call.cancel

    # -- streams --------------------------------------------------------------------------------
    def delete_stream(self, stream: str, expected: Expected | None = None) -> int:
        """Soft-delete a stream; returns its version at deletion."""
        return self._run(P.delete_stream_call(stream, expected))

    def set_stream_metadata(self, stream: str, metadata: StreamMetadata) -> StreamInfo:
        """Set retention rules."""
        return self._run(P.set_stream_metadata_call(stream, metadata))

    def stream_info(self, stream: str) -> StreamInfo:
        """State of one stream."""
        return self._run(P.stream_info_call(stream))

    def list_streams(self, prefix: str = "", *, after: str = "", limit: int = 0) -> list[StreamInfo]:
        """Streams by name."""
        return self._run(P.list_streams_call(prefix, after, limit))

    # -- snapshots and schemas ------------------------------------------------------------------
    def save_snapshot(self, stream: str, version: int, payload: bytes, timestamp: int = 0) -> int:
        """Save the latest snapshot of a stream."""
        return self._run(P.save_snapshot_call(stream, version, payload, timestamp))

    def get_snapshot(self, stream: str) -> Snapshot:
        """The latest snapshot (raises StreamNotFound when there is none)."""
        return self._run(P.get_snapshot_call(stream))

    def upsert_schema(self, schema: dict[str, Any]) -> str:
        """Register a schema (proto3-JSON form of eventstore.Schema)."""
        return self._run(P.upsert_schema_call(schema))

    def get_schema(self, name: str) -> dict[str, Any]:
        """A registered schema (raises StreamNotFound when missing)."""
        return self._run(P.get_schema_call(name))

    # -- operations -----------------------------------------------------------------------------
    def start_scavenge(self) -> tuple[str, bool]:
        """Start a scavenge: (its id, True), or (the id of the one already running, False)."""
        return self._run(P.start_scavenge_call())

    def stop_scavenge(self, scavenge_id: str) -> str:
        """Stop the running scavenge `scavenge_id` (StreamNotFound when none runs under it)."""
        return self._run(P.stop_scavenge_call(scavenge_id))
