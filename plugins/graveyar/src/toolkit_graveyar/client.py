"""Python clients for a graveyar server: `GraveyarClient` (sync) and `AsyncGraveyarClient` (asyncio).

Both speak `graveyar.v1.Graveyar`, map gRPC errors back to graveyar's error classes (a version
conflict raises `WrongExpectedVersion` with `details["expected"]` and `details["actual"]`),
retry UNAVAILABLE a bounded number of times (appends are retry-safe: every event carries an id,
so a retry of an acknowledged append is recognised, not duplicated), and resume subscriptions
from the last delivered position after a disconnect.

Example:
    >>> with GraveyarClient("127.0.0.1:50051") as c:  # doctest: +SKIP
    ...     c.append("order-1", [new_event("OrderPlaced", b'{"total": 3}')], Expected.no_stream())
"""

# ruff: noqa: TID253 - clients are imported on demand (CLI command bodies, user code), never by the CLI group
from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc

from toolkit_graveyar._proto import eventstore_pb2 as es
from toolkit_graveyar._proto.graveyar.v1 import graveyar_pb2 as pb
from toolkit_graveyar._proto.graveyar.v1 import graveyar_pb2_grpc as pb_grpc
from toolkit_graveyar.convert import (
    expected_to_pb,
    info_from_pb,
    metadata_to_pb,
    schema_to_dict,
    schema_to_pb,
    snapshot_from_pb,
    snapshot_to_pb,
)
from toolkit_graveyar.core import errors as E
from toolkit_graveyar.core.codec import event_to_pb, from_pb
from toolkit_graveyar.core.model import (
    AppendResult,
    Expected,
    ProposedEvent,
    RecordedEvent,
    Snapshot,
    StreamInfo,
    StreamMetadata,
    Transition,
)
from toolkit_kernel.errors import ToolkitError

__all__ = [
    "ALL",
    "AsyncGraveyarClient",
    "Expected",
    "GraveyarClient",
    "SubscriptionMessage",
    "map_rpc_error",
    "new_event",
    "new_event_id",
]

ALL = "$all"
DEFAULT_ADDRESS = "127.0.0.1:50051"
T = TypeVar("T")

_BY_CODE: dict[str, type[ToolkitError]] = {
    "invalid-argument": E.InvalidRequest,
    "stream-not-found": E.StreamNotFound,
    "duplicate-event-id": E.DuplicateEventId,
    "schema-violation": E.SchemaViolation,
    "snapshot-rejected": E.SnapshotRejected,
    "unauthenticated": E.Unauthenticated,
    "unavailable": E.Unavailable,
    "busy": E.ServerBusy,
    "storage": E.StorageFailure,
}


# The variant digit of a random UUID is 8, 9, a or b: the top two bits of its nibble are 10.
_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}


def new_event_id() -> str:
    """A random (version 4) UUID in canonical form, like `str(uuid.uuid4())` at a third of the cost.

    Building `uuid.UUID` objects dominated the client's cost of a 100-event append.
    """
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def new_event(
    event_type: str,
    data: bytes | str | dict[str, Any] = b"",
    *,
    metadata: dict[str, str] | None = None,
    event_id: str | None = None,
    transition: Transition | None = None,
) -> ProposedEvent:
    """Build a ProposedEvent with a fresh UUID (dicts are JSON-encoded, str UTF-8 encoded)."""
    if isinstance(data, dict):
        data = json.dumps(data, separators=(",", ":")).encode()
    elif isinstance(data, str):
        data = data.encode()
    return ProposedEvent(event_id or new_event_id(), event_type, data, dict(metadata or {}), 0, transition)


def _with_ids(events: Sequence[ProposedEvent]) -> list[ProposedEvent]:
    # Ids are fixed before the first attempt so that a retry is an idempotent repeat.
    from dataclasses import replace

    return [ev if ev.event_id else replace(ev, event_id=new_event_id()) for ev in events]


def map_rpc_error(exc: grpc.RpcError, address: str = "") -> ToolkitError:
    """Turn a gRPC error into the matching graveyar error."""
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    message = exc.details() if hasattr(exc, "details") else str(exc)
    trailers = dict(exc.trailing_metadata() or ()) if hasattr(exc, "trailing_metadata") else {}
    raw = trailers.get("graveyar-error")
    doc: dict[str, Any] = {}
    if raw:
        try:
            doc = json.loads(raw)
        except ValueError:
            doc = {}
    wire = trailers.get("exception", "")
    details = doc.get("details") or {}
    hint = doc.get("hint")
    if wire == "stream-deleted":
        return E.StreamDeleted(str(details.get("stream", "")))
    if wire == "wrong-expected-version" or (code == grpc.StatusCode.ABORTED and "actual" in details):
        return E.WrongExpectedVersion(
            str(details.get("stream", "")), str(details.get("expected", "")), int(details.get("actual", 0))
        )
    cls = _BY_CODE.get(str(wire))
    if cls is not None:
        return cls(message or str(code), hint=hint, details=details)
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return E.Unavailable(
            f"graveyar server at {address} is unavailable: {message}",
            hint="start it with `graveyar serve`, or point --server / GRAVEYAR_SERVER at it",
            details={"address": address, "status": code.name},
        )
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return E.ServerBusy(f"server refused the call: {message}", hint="retry later or send smaller requests")
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return E.Unauthenticated(message, hint="pass --token / GRAVEYAR_TOKEN")
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return E.InvalidRequest(message)
    if code == grpc.StatusCode.NOT_FOUND:
        return E.StreamNotFound(message)
    return E.StorageFailure(f"{code.name}: {message}")


@dataclass(frozen=True, slots=True)
class SubscriptionMessage:
    """One item of a subscription: kind `event` (with `event`), `caught_up` or `checkpoint` (with `at`)."""

    kind: str
    event: RecordedEvent | None = None
    at: int = 0


def _channel_args(max_message: int) -> list[tuple[str, Any]]:
    return [
        ("grpc.max_receive_message_length", max_message),
        ("grpc.max_send_message_length", max_message),
        # gRPC's reconnect backoff grows to 120 s by default: after a server restart a client
        # (and every channel sharing its subchannel) would fail fast for minutes. Cap it at 2 s.
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.min_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 2000),
        # A new client must not inherit another channel's connection failure and its backoff.
        ("grpc.use_local_subchannel_pool", 1),
    ]


def _auth_metadata(token: str | None) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),) if token else ()


def _open_channel(channels: Any, address: str, tls_ca: Path | bytes | None, tls: bool, max_message: int) -> Any:
    """Open a channel with `grpc` or `grpc.aio` (same factory names, sync or async channels)."""
    creds = _credentials(tls_ca, tls)
    args = _channel_args(max_message)
    if creds is None:
        return channels.insecure_channel(address, options=args)
    return channels.secure_channel(address, creds, options=args)


def _credentials(tls_ca: Path | bytes | None, tls: bool) -> grpc.ChannelCredentials | None:
    if tls_ca is None and not tls:
        return None
    root = tls_ca.read_bytes() if isinstance(tls_ca, Path) else tls_ca
    return grpc.ssl_channel_credentials(root_certificates=root)


def _append_request(stream: str, events: Sequence[ProposedEvent], expected: Expected) -> pb.AppendRequest:
    state, version = expected_to_pb(expected)
    req = pb.AppendRequest(stream=stream, expected_state=state, expected_version=version)  # type: ignore[arg-type]
    # Filled in place: building standalone Event messages and copying them into the request
    # costs about twice as much per event.
    add = req.events.add
    for e in events:
        msg = add(id=e.event_id, event_type=e.event_type, payload=e.data, timestamp=e.timestamp)
        if e.metadata or e.transition is not None:
            msg.CopyFrom(event_to_pb(e))
    return req


def _append_result(stream: str, r: pb.AppendResponse) -> AppendResult:
    return AppendResult(stream, r.first_version, r.version, r.first_position, r.position, r.duplicate)


def _multi_request(items: Sequence[tuple[str, Sequence[ProposedEvent], Expected | None]]) -> pb.AppendMultiRequest:
    return pb.AppendMultiRequest(
        appends=[_append_request(s, _with_ids(evs), exp or Expected.any()) for s, evs, exp in items]
    )


def _multi_result(
    items: Sequence[tuple[str, Sequence[ProposedEvent], Expected | None]], r: pb.AppendMultiResponse
) -> list[AppendResult]:
    return [_append_result(item[0], res) for item, res in zip(items, r.results, strict=True)]


def _read_request(
    stream: str, start: int | None, backward: bool, limit: int, excludes: Sequence[str] = ()
) -> pb.ReadRequest:
    req = pb.ReadRequest(stream=stream, limit=limit, exclude_stream_prefixes=list(excludes))
    if backward:
        req.direction = pb.DIRECTION_BACKWARD
    if start is not None:
        setattr(req, "from", start)
    return req


def _sub_request(
    stream: str, after: int | None, prefixes: Sequence[str], types: Sequence[str], excludes: Sequence[str] = ()
) -> pb.SubscribeRequest:
    req = pb.SubscribeRequest(
        stream=stream, stream_prefixes=list(prefixes), event_types=list(types), exclude_stream_prefixes=list(excludes)
    )
    if after is not None:
        req.after = after
    return req


def _sub_messages(resp: pb.SubscribeResponse) -> list[SubscriptionMessage]:
    kind = resp.WhichOneof("kind")
    if kind == "events":
        return [SubscriptionMessage("event", from_pb(e)) for e in resp.events.events]
    if kind == "caught_up":
        return [SubscriptionMessage("caught_up", at=resp.caught_up.at)]
    if kind == "checkpoint":
        return [SubscriptionMessage("checkpoint", at=resp.checkpoint.position)]
    return []


class _Backoff:
    """Delays between subscription resumes: 0.1 s doubling to 2 s (jittered), until `timeout` runs out."""

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self.reset()

    def reset(self) -> None:
        """A response arrived: start over."""
        self.failures = 0
        self.since: float | None = None

    def next_delay(self) -> float | None:
        """Seconds to wait before the next attempt, or None to give up."""
        now = time.monotonic()
        if self.since is None:
            self.since = now
        remaining = None if self.timeout is None else self.timeout - (now - self.since)
        if remaining is not None and remaining <= 0:
            return None
        self.failures += 1
        delay: float = min(2.0, 0.1 * 2 ** min(self.failures, 5)) * (0.5 + random.random() / 2)
        return delay if remaining is None else min(delay, remaining)


class GraveyarClient:
    """Blocking client.

    Args:
        address: `host:port` of the server.
        token: Bearer token, if the server requires one.
        tls_ca: PEM root certificate (path or bytes) to verify a TLS server; `tls=True` uses system roots.
        timeout: Per-call deadline in seconds (reads and subscriptions have none).
        retries: Extra attempts on UNAVAILABLE, with exponential backoff.
    """

    def __init__(
        self,
        address: str = DEFAULT_ADDRESS,
        *,
        token: str | None = None,
        tls_ca: Path | bytes | None = None,
        tls: bool = False,
        timeout: float = 10.0,
        retries: int = 3,
        max_message: int = 64 * 1024 * 1024,
    ) -> None:
        self.address = address
        self.timeout = timeout
        self.retries = retries
        self._metadata = _auth_metadata(token)
        self._channel = _open_channel(grpc, address, tls_ca, tls, max_message)
        self._stub = pb_grpc.GraveyarStub(self._channel)  # type: ignore[no-untyped-call]

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()

    def __enter__(self) -> GraveyarClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, fn: Callable[[], T]) -> T:
        delay = 0.05
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except grpc.RpcError as exc:
                retry = exc.code() == grpc.StatusCode.UNAVAILABLE and attempt < self.retries
                if not retry:
                    raise map_rpc_error(exc, self.address) from None
            time.sleep(delay * (1 + random.random()))
            delay *= 2
        raise AssertionError("unreachable")

    def _unary(self, method: str, request: Any) -> Any:
        rpc = getattr(self._stub, method)
        return self._call(lambda: rpc(request, timeout=self.timeout, metadata=self._metadata))

    # -- events ---------------------------------------------------------------------------------
    def append(self, stream: str, events: Sequence[ProposedEvent], expected: Expected | None = None) -> AppendResult:
        """Append `events` atomically; raises WrongExpectedVersion on a conflict."""
        req = _append_request(stream, _with_ids(events), expected or Expected.any())
        return _append_result(stream, self._unary("Append", req))

    def append_multi(self, items: Sequence[tuple[str, Sequence[ProposedEvent], Expected | None]]) -> list[AppendResult]:
        """Append to several distinct streams atomically (all or none)."""
        req = _multi_request(items)
        return _multi_result(items, self._unary("AppendMulti", req))

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
        return self.read(ALL, start, backward=backward, limit=limit)

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
        req = _read_request(stream, start, backward, limit, exclude_stream_prefixes)
        try:
            for resp in self._stub.Read(req, metadata=self._metadata):
                for e in resp.events:
                    yield from_pb(e)
        except grpc.RpcError as exc:
            raise map_rpc_error(exc, self.address) from None

    def read_raw_count(self, stream: str, start: int | None = None, *, limit: int = 0) -> int:
        """Read and count events without building Python objects (benchmarks)."""
        req = _read_request(stream, start, False, limit)
        try:
            return sum(len(resp.events) for resp in self._stub.Read(req, metadata=self._metadata))
        except grpc.RpcError as exc:
            raise map_rpc_error(exc, self.address) from None

    def subscribe(
        self,
        stream: str = ALL,
        after: int | None = None,
        *,
        stream_prefixes: Sequence[str] = (),
        event_types: Sequence[str] = (),
        resume: bool = True,
        resume_timeout: float | None = None,
        exclude_stream_prefixes: Sequence[str] = (),
    ) -> Generator[SubscriptionMessage, None, None]:
        """Catch-up subscription; on UNAVAILABLE it resubscribes after the last event or checkpoint seen.

        Resumes back off from 0.1 s to 2 s and go on until `resume_timeout` seconds pass without
        a response (None = keep trying), so each event is delivered once across restarts.
        """
        backoff = _Backoff(resume_timeout)
        last = after
        while True:
            req = _sub_request(stream, last, stream_prefixes, event_types, exclude_stream_prefixes)
            call = self._stub.Subscribe(req, metadata=self._metadata)
            try:
                for resp in call:
                    backoff.reset()
                    for msg in _sub_messages(resp):
                        if msg.event is not None:
                            last = msg.event.position if stream == ALL else msg.event.version
                        elif msg.kind == "checkpoint":
                            last = msg.at
                        yield msg
                return
            except grpc.RpcError as exc:
                delay = backoff.next_delay() if resume and exc.code() == grpc.StatusCode.UNAVAILABLE else None
                if delay is None:
                    raise map_rpc_error(exc, self.address) from None
                time.sleep(delay)
            finally:
                call.cancel()

    def subscription(
        self, stream: str = ALL, after: int | None = None, *, event_types: Sequence[str] = ()
    ) -> tuple[Iterator[SubscriptionMessage], Callable[[], None]]:
        """One catch-up subscription (no resume) and a function that cancels it from any thread.

        After cancelling, the iterator ends (StopIteration) instead of raising.
        """
        call = self._stub.Subscribe(_sub_request(stream, after, (), event_types), metadata=self._metadata)

        def messages() -> Iterator[SubscriptionMessage]:
            try:
                for resp in call:
                    yield from _sub_messages(resp)
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.CANCELLED:
                    return
                raise map_rpc_error(exc, self.address) from None

        return messages(), call.cancel

    # -- streams --------------------------------------------------------------------------------
    def delete_stream(self, stream: str, expected: Expected | None = None) -> int:
        """Soft-delete a stream; returns its version at deletion."""
        state, version = expected_to_pb(expected or Expected.any())
        req = pb.DeleteStreamRequest(stream=stream, expected_state=state, expected_version=version)  # type: ignore[arg-type]
        return int(self._unary("DeleteStream", req).version)

    def set_stream_metadata(self, stream: str, metadata: StreamMetadata) -> StreamInfo:
        """Set retention rules."""
        req = pb.SetStreamMetadataRequest(stream=stream, metadata=metadata_to_pb(metadata))
        return info_from_pb(self._unary("SetStreamMetadata", req))

    def stream_info(self, stream: str) -> StreamInfo:
        """State of one stream."""
        return info_from_pb(self._unary("GetStream", pb.GetStreamRequest(stream=stream)))

    def list_streams(self, prefix: str = "", *, after: str = "", limit: int = 0) -> list[StreamInfo]:
        """Streams by name."""
        resp = self._unary("ListStreams", pb.ListStreamsRequest(prefix=prefix, after=after, limit=limit))
        return [info_from_pb(s) for s in resp.streams]

    # -- snapshots and schemas ------------------------------------------------------------------
    def save_snapshot(self, stream: str, version: int, payload: bytes, timestamp: int = 0) -> int:
        """Save the latest snapshot of a stream."""
        req = pb.SaveSnapshotRequest(snapshot=snapshot_to_pb(Snapshot(stream, version, payload, timestamp)))
        return int(self._unary("SaveSnapshot", req).version)

    def get_snapshot(self, stream: str) -> Snapshot:
        """The latest snapshot (raises StreamNotFound when there is none)."""
        return snapshot_from_pb(self._unary("GetSnapshot", pb.GetSnapshotRequest(stream=stream)).snapshot)

    def upsert_schema(self, schema: dict[str, Any]) -> str:
        """Register a schema (proto3-JSON form of eventstore.Schema)."""
        return str(self._unary("UpsertSchema", pb.UpsertSchemaRequest(schema=schema_to_pb(schema))).name)

    def get_schema(self, name: str) -> dict[str, Any]:
        """A registered schema (raises StreamNotFound when missing)."""
        return schema_to_dict(self._unary("GetSchema", pb.GetSchemaRequest(name=name)).schema)


class AsyncGraveyarClient:
    """asyncio client with the same methods as `GraveyarClient` (coroutines / async iterators)."""

    def __init__(
        self,
        address: str = DEFAULT_ADDRESS,
        *,
        token: str | None = None,
        tls_ca: Path | bytes | None = None,
        tls: bool = False,
        timeout: float = 10.0,
        retries: int = 3,
        max_message: int = 64 * 1024 * 1024,
    ) -> None:
        self.address = address
        self.timeout = timeout
        self.retries = retries
        self._metadata = _auth_metadata(token)
        self._channel = _open_channel(grpc.aio, address, tls_ca, tls, max_message)
        self._stub = pb_grpc.GraveyarStub(self._channel)  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close()

    async def __aenter__(self) -> AsyncGraveyarClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _unary(self, method: str, request: Any) -> Any:
        rpc = getattr(self._stub, method)
        delay = 0.05
        for attempt in range(self.retries + 1):
            try:
                return await rpc(request, timeout=self.timeout, metadata=self._metadata)
            except grpc.RpcError as exc:
                retry = exc.code() == grpc.StatusCode.UNAVAILABLE and attempt < self.retries
                if not retry:
                    raise map_rpc_error(exc, self.address) from None
            await asyncio.sleep(delay * (1 + random.random()))
            delay *= 2
        raise AssertionError("unreachable")

    async def append(
        self, stream: str, events: Sequence[ProposedEvent], expected: Expected | None = None
    ) -> AppendResult:
        """Append `events` atomically."""
        req = _append_request(stream, _with_ids(events), expected or Expected.any())
        return _append_result(stream, await self._unary("Append", req))

    async def append_multi(
        self, items: Sequence[tuple[str, Sequence[ProposedEvent], Expected | None]]
    ) -> list[AppendResult]:
        """Append to several distinct streams atomically (all or none)."""
        req = _multi_request(items)
        return _multi_result(items, await self._unary("AppendMulti", req))

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
        req = _read_request(stream, start, backward, limit, exclude_stream_prefixes)
        try:
            async for resp in self._stub.Read(req, metadata=self._metadata):
                for e in resp.events:
                    yield from_pb(e)
        except grpc.RpcError as exc:
            raise map_rpc_error(exc, self.address) from None

    async def read(
        self, stream: str, start: int | None = None, *, backward: bool = False, limit: int = 0
    ) -> list[RecordedEvent]:
        """Read a stream (or `$all`)."""
        return [e async for e in self.iter_read(stream, start, backward=backward, limit=limit)]

    async def read_all(
        self, start: int | None = None, *, backward: bool = False, limit: int = 0
    ) -> list[RecordedEvent]:
        """Read the global log."""
        return await self.read(ALL, start, backward=backward, limit=limit)

    async def subscribe(
        self,
        stream: str = ALL,
        after: int | None = None,
        *,
        stream_prefixes: Sequence[str] = (),
        event_types: Sequence[str] = (),
        resume: bool = True,
        resume_timeout: float | None = None,
        exclude_stream_prefixes: Sequence[str] = (),
    ) -> AsyncGenerator[SubscriptionMessage, None]:
        """Catch-up subscription with automatic resume on UNAVAILABLE (see `GraveyarClient.subscribe`)."""
        backoff = _Backoff(resume_timeout)
        last = after
        while True:
            call = self._stub.Subscribe(
                _sub_request(stream, last, stream_prefixes, event_types, exclude_stream_prefixes),
                metadata=self._metadata,
            )
            try:
                async for resp in call:
                    backoff.reset()
                    for msg in _sub_messages(resp):
                        if msg.event is not None:
                            last = msg.event.position if stream == ALL else msg.event.version
                        elif msg.kind == "checkpoint":
                            last = msg.at
                        yield msg
                return
            except grpc.RpcError as exc:
                delay = backoff.next_delay() if resume and exc.code() == grpc.StatusCode.UNAVAILABLE else None
                if delay is None:
                    raise map_rpc_error(exc, self.address) from None
                await asyncio.sleep(delay)
            finally:
                call.cancel()

    async def delete_stream(self, stream: str, expected: Expected | None = None) -> int:
        """Soft-delete a stream."""
        state, version = expected_to_pb(expected or Expected.any())
        req = pb.DeleteStreamRequest(stream=stream, expected_state=state, expected_version=version)  # type: ignore[arg-type]
        return int((await self._unary("DeleteStream", req)).version)

    async def set_stream_metadata(self, stream: str, metadata: StreamMetadata) -> StreamInfo:
        """Set retention rules."""
        req = pb.SetStreamMetadataRequest(stream=stream, metadata=metadata_to_pb(metadata))
        return info_from_pb(await self._unary("SetStreamMetadata", req))

    async def stream_info(self, stream: str) -> StreamInfo:
        """State of one stream."""
        return info_from_pb(await self._unary("GetStream", pb.GetStreamRequest(stream=stream)))

    async def list_streams(self, prefix: str = "", *, after: str = "", limit: int = 0) -> list[StreamInfo]:
        """Streams by name."""
        resp = await self._unary("ListStreams", pb.ListStreamsRequest(prefix=prefix, after=after, limit=limit))
        return [info_from_pb(s) for s in resp.streams]

    async def save_snapshot(self, stream: str, version: int, payload: bytes, timestamp: int = 0) -> int:
        """Save the latest snapshot."""
        req = pb.SaveSnapshotRequest(snapshot=snapshot_to_pb(Snapshot(stream, version, payload, timestamp)))
        return int((await self._unary("SaveSnapshot", req)).version)

    async def get_snapshot(self, stream: str) -> Snapshot:
        """The latest snapshot."""
        resp = await self._unary("GetSnapshot", pb.GetSnapshotRequest(stream=stream))
        return snapshot_from_pb(resp.snapshot)

    async def upsert_schema(self, schema: dict[str, Any]) -> str:
        """Register a schema."""
        return str((await self._unary("UpsertSchema", pb.UpsertSchemaRequest(schema=schema_to_pb(schema)))).name)

    async def get_schema(self, name: str) -> dict[str, Any]:
        """A registered schema."""
        return schema_to_dict((await self._unary("GetSchema", pb.GetSchemaRequest(name=name))).schema)


_ = es  # the compat messages are re-exported for users of the EventStore service
