"""The one implementation under both client faces: requests, responses, errors, retries, resumes.

`GraveyarClient` (sync) and `AsyncGraveyarClient` (asyncio) only run the `Call`s built here, with
`grpc` or `grpc.aio`. Both speak `graveyar.v1.Graveyar`, map gRPC errors back to graveyar's error classes (a version
conflict raises `WrongExpectedVersion` with `details["expected"]` and `details["actual"]`),
retry UNAVAILABLE a bounded number of times (appends are retry-safe: every event carries an id,
so a retry of an acknowledged append is recognised, not duplicated), and resume subscriptions
from the last delivered position after a disconnect.

"""

# ruff: noqa: TID253 - clients are imported on demand (CLI command bodies, user code), never by the CLI group
from __future__ import annotations

import base64
import json
import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Generic, TypeVar

import grpc

from toolkit_graveyar._proto.graveyar.v1 import graveyar_pb2 as pb
from toolkit_graveyar._proto.graveyar.v1 import graveyar_pb2_grpc as pb_grpc
from toolkit_graveyar.core import errors as E
from toolkit_graveyar.core.codec import event_to_pb, from_pb
from toolkit_graveyar.core.convert import (
    expected_to_pb,
    info_from_pb,
    metadata_to_pb,
    schema_to_dict,
    schema_to_pb,
    snapshot_from_pb,
    snapshot_to_pb,
)
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
    "DEFAULT_ADDRESS",
    "Call",
    "Connection",
    "Resumption",
    "SubscriptionMessage",
    "map_rpc_error",
    "new_event",
    "new_event_id",
    "read_request",
    "retry_delay",
    "retry_delays",
    "subscribe_request",
    "subscription_messages",
]

ALL = "$all"
DEFAULT_ADDRESS = "127.0.0.1:50051"
T = TypeVar("T")

_BY_CODE: dict[str, type[ToolkitError]] = {
    "invalid-argument": E.InvalidRequest,
    "settings-refused": E.SettingsRefused,
    "stream-not-found": E.StreamNotFound,
    "duplicate-event-id": E.DuplicateEventId,
    "schema-violation": E.SchemaViolation,
    "snapshot-rejected": E.SnapshotRejected,
    "unauthenticated": E.Unauthenticated,
    "access-denied": E.AccessDenied,
    "user-exists": E.UserExists,
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
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return E.AccessDenied(message)
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


def _auth_metadata(token: str | None, user: str | None, password: str | None) -> tuple[tuple[str, str], ...]:
    if user is not None:
        basic = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
        return (("authorization", f"Basic {basic}"),)
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


def read_request(
    stream: str, start: int | None, backward: bool, limit: int, excludes: Sequence[str] = ()
) -> pb.ReadRequest:
    """A Read request (`$all` or one stream, from `start` inclusive)."""
    req = pb.ReadRequest(stream=stream, limit=limit, exclude_stream_prefixes=list(excludes))
    if backward:
        req.direction = pb.DIRECTION_BACKWARD
    if start is not None:
        setattr(req, "from", start)
    return req


def subscribe_request(
    stream: str, after: int | None, prefixes: Sequence[str], types: Sequence[str], excludes: Sequence[str] = ()
) -> pb.SubscribeRequest:
    """A Subscribe request continuing after `after` (None = from the start)."""
    req = pb.SubscribeRequest(
        stream=stream, stream_prefixes=list(prefixes), event_types=list(types), exclude_stream_prefixes=list(excludes)
    )
    if after is not None:
        req.after = after
    return req


def subscription_messages(resp: pb.SubscribeResponse) -> list[SubscriptionMessage]:
    """The messages of one Subscribe response."""
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


# -- the calls both faces run -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One unary RPC: the stub method, its request, and how its response becomes the result."""

    method: str
    request: Any
    parse: Callable[[Any], T]
    #: Which stub serves it: `graveyar` (graveyar.v1) or `operations` (KurrentDB's Operations).
    service: str = "graveyar"


def append_call(stream: str, events: Sequence[ProposedEvent], expected: Expected | None) -> Call[AppendResult]:
    """Append `events` atomically."""
    req = _append_request(stream, _with_ids(events), expected or Expected.any())
    return Call("Append", req, lambda r: _append_result(stream, r))


def append_multi_call(
    items: Sequence[tuple[str, Sequence[ProposedEvent], Expected | None]],
) -> Call[list[AppendResult]]:
    """Append to several distinct streams atomically."""
    return Call("AppendMulti", _multi_request(items), lambda r: _multi_result(items, r))


def delete_stream_call(stream: str, expected: Expected | None) -> Call[int]:
    """Soft-delete a stream; the result is its version at deletion."""
    state, version = expected_to_pb(expected or Expected.any())
    req = pb.DeleteStreamRequest(stream=stream, expected_state=state, expected_version=version)  # type: ignore[arg-type]
    return Call("DeleteStream", req, lambda r: int(r.version))


def set_stream_metadata_call(stream: str, metadata: StreamMetadata) -> Call[StreamInfo]:
    """Set retention rules."""
    req = pb.SetStreamMetadataRequest(stream=stream, metadata=metadata_to_pb(metadata))
    return Call("SetStreamMetadata", req, info_from_pb)


def stream_info_call(stream: str) -> Call[StreamInfo]:
    """State of one stream."""
    return Call("GetStream", pb.GetStreamRequest(stream=stream), info_from_pb)


def list_streams_call(prefix: str, after: str, limit: int) -> Call[list[StreamInfo]]:
    """Streams by name."""
    req = pb.ListStreamsRequest(prefix=prefix, after=after, limit=limit)
    return Call("ListStreams", req, lambda r: [info_from_pb(s) for s in r.streams])


def save_snapshot_call(stream: str, version: int, payload: bytes, timestamp: int) -> Call[int]:
    """Save the latest snapshot of a stream."""
    req = pb.SaveSnapshotRequest(snapshot=snapshot_to_pb(Snapshot(stream, version, payload, timestamp)))
    return Call("SaveSnapshot", req, lambda r: int(r.version))


def get_snapshot_call(stream: str) -> Call[Snapshot]:
    """The latest snapshot (StreamNotFound when there is none)."""
    return Call("GetSnapshot", pb.GetSnapshotRequest(stream=stream), lambda r: snapshot_from_pb(r.snapshot))


def upsert_schema_call(schema: dict[str, Any]) -> Call[str]:
    """Register a schema (proto3-JSON form of eventstore.Schema)."""
    return Call("UpsertSchema", pb.UpsertSchemaRequest(schema=schema_to_pb(schema)), lambda r: str(r.name))


def get_schema_call(name: str) -> Call[dict[str, Any]]:
    """A registered schema (StreamNotFound when missing)."""
    return Call("GetSchema", pb.GetSchemaRequest(name=name), lambda r: schema_to_dict(r.schema))


def start_scavenge_call() -> Call[tuple[str, bool]]:
    """Start a scavenge: (its id, True), or (the running one's id, False)."""
    from toolkit_graveyar._proto.kurrentdb.v1 import operations_pb2 as ops

    started = ops.ScavengeResp.ScavengeResult.Started
    return Call(
        "StartScavenge",
        ops.StartScavengeReq(),
        lambda r: (str(r.scavenge_id), r.scavenge_result == started),
        service="operations",
    )


def stop_scavenge_call(scavenge_id: str) -> Call[str]:
    """Stop the running scavenge `scavenge_id`."""
    from toolkit_graveyar._proto.kurrentdb.v1 import operations_pb2 as ops

    req = ops.StopScavengeReq(options=ops.StopScavengeReq.Options(scavenge_id=scavenge_id))
    return Call("StopScavenge", req, lambda r: str(r.scavenge_id), service="operations")


def retry_delays(retries: int) -> Iterator[float]:
    """Pauses before each retry of a unary call on UNAVAILABLE: 50 ms doubling, jittered."""
    delay = 0.05
    for _ in range(retries):
        yield delay * (1 + random.random())
        delay *= 2


def retry_delay(exc: grpc.RpcError, delays: Iterator[float]) -> float | None:
    """The pause before retrying after `exc`, or None when the call must fail."""
    return next(delays, None) if exc.code() == grpc.StatusCode.UNAVAILABLE else None


class Connection:
    """Address, deadline, retry budget, credentials and stub: what both faces hold.

    Args:
        address: `host:port` of the server.
        token: Bearer token, if the server requires one.
        user: Login for a server started with `--auth` (sent as Basic credentials, instead of the token).
        password: That user's password.
        tls_ca: PEM root certificate (path or bytes) to verify a TLS server; `tls=True` uses system roots.
        timeout: Per-call deadline in seconds (reads and subscriptions have none).
        retries: Extra attempts on UNAVAILABLE, with exponential backoff.
        max_message: gRPC message size limit, both ways.
    """

    #: `grpc` (blocking channels) or `grpc.aio` (asyncio channels): the same factory names.
    channels: Any = grpc

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
        user: str | None = None,
        password: str | None = None,
    ) -> None:
        self.address = address
        self.timeout = timeout
        self.retries = retries
        self._metadata = _auth_metadata(token, user, password)
        self._channel = _open_channel(self.channels, address, tls_ca, tls, max_message)
        self._stub = pb_grpc.GraveyarStub(self._channel)  # type: ignore[no-untyped-call]
        self._stubs: dict[str, Any] = {"graveyar": self._stub}

    def _stub_for(self, call: Call[Any]) -> Any:
        """The stub serving `call` (the operations stub is built on first use)."""
        stub = self._stubs.get(call.service)
        if stub is None:
            from toolkit_graveyar._proto.kurrentdb.v1 import operations_pb2_grpc

            stub = self._stubs[call.service] = operations_pb2_grpc.OperationsStub(self._channel)  # type: ignore[no-untyped-call]
        return stub

    def _error(self, exc: grpc.RpcError) -> ToolkitError:
        """The graveyar error of a failed call on this connection."""
        return map_rpc_error(exc, self.address)


class Resumption:
    """A catch-up subscription across disconnects: where to resume and when to give up.

    On UNAVAILABLE it resubscribes after the last event or checkpoint seen, backing off from
    0.1 s to 2 s until `resume_timeout` seconds pass without a response (None = keep trying), so
    each event is delivered once across restarts.
    """

    def __init__(
        self,
        stream: str,
        after: int | None,
        *,
        stream_prefixes: Sequence[str],
        event_types: Sequence[str],
        exclude_stream_prefixes: Sequence[str],
        resume: bool,
        resume_timeout: float | None,
    ) -> None:
        self.stream = stream
        self.last = after
        self.prefixes = stream_prefixes
        self.types = event_types
        self.excludes = exclude_stream_prefixes
        self.resume = resume
        self.backoff = _Backoff(resume_timeout)

    def request(self) -> pb.SubscribeRequest:
        """The Subscribe request that continues after everything delivered so far."""
        return subscribe_request(self.stream, self.last, self.prefixes, self.types, self.excludes)

    def received(self, resp: pb.SubscribeResponse) -> list[SubscriptionMessage]:
        """The messages of a response, remembered as delivered."""
        self.backoff.reset()
        messages = subscription_messages(resp)
        for msg in messages:
            if msg.event is not None:
                self.last = msg.event.position if self.stream == ALL else msg.event.version
            elif msg.kind == "checkpoint":
                self.last = msg.at
        return messages

    def delay_after(self, exc: grpc.RpcError) -> float | None:
        """Seconds to wait before resubscribing after `exc`, or None to raise it."""
        if self.resume and exc.code() == grpc.StatusCode.UNAVAILABLE:
            return self.backoff.next_delay()
        return None
