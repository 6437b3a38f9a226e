"""gRPC adapter: graveyar_db's `eventstore.EventStore`, our `graveyar.v1.Graveyar`, health and reflection.

Handlers take raw request bytes and parse them themselves, so undecodable requests become
INVALID_ARGUMENT (not INTERNAL) and read pages go to the wire as stored bytes.
"""

# ruff: noqa: TID253 - this module is only imported when a server starts
from __future__ import annotations

import asyncio
import functools
import json
import logging
import signal
import sys
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from toolkit_graveyar import __version__
from toolkit_graveyar._proto import eventstore_pb2 as es
from toolkit_graveyar._proto.graveyar.v1 import graveyar_pb2 as pb
from toolkit_graveyar.convert import (
    expected_from_pb,
    info_to_pb,
    metadata_from_pb,
    schema_to_dict,
    schema_to_pb,
    snapshot_from_pb,
    snapshot_to_pb,
)
from toolkit_graveyar.core import errors as E
from toolkit_graveyar.core.codec import frame_repeated, varint
from toolkit_graveyar.core.model import Expected
from toolkit_graveyar.core.persistent import PersistentSubscriptions
from toolkit_graveyar.core.service import EventStoreService
from toolkit_graveyar.core.validation import ALL_STREAM, Limits
from toolkit_graveyar.grpc.kurrentdb import KURRENT_SERVICES, KurrentApi, Member
from toolkit_graveyar.grpc.persistent import PERSISTENT, PersistentApi
from toolkit_kernel.errors import Busy, Conflict, NotFound, ToolkitError, UsageError
from toolkit_kernel.exposure import ExposurePolicy

__all__ = ["ServerConfig", "build_server", "run_server"]

log = logging.getLogger("graveyar.server")

COMPAT_SERVICE = "eventstore.EventStore"
V1_SERVICE = "graveyar.v1.Graveyar"
#: Every service on the port (health reports each by name).
SERVICES = (COMPAT_SERVICE, V1_SERVICE, *KURRENT_SERVICES, PERSISTENT)


@dataclass
class ServerConfig:
    """How to serve.

    Attributes:
        bind: `host:port` (port 0 = pick a free one).
        token: Bearer token every EventStore/Graveyar call must carry (health/reflection are open).
        tls_cert: PEM certificate chain; with `tls_key` turns TLS on.
        tls_key: PEM private key.
        max_inflight: Concurrent RPCs before new ones get RESOURCE_EXHAUSTED.
        max_message: gRPC transport limit (above it gRPC itself answers RESOURCE_EXHAUSTED).
        limits: Our own size limits (INVALID_ARGUMENT).
        schema_hard_fail: Reject payloads failing their schema.
        grace: Seconds in-flight calls get to finish on shutdown.
    """

    bind: str = "127.0.0.1:50051"
    token: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_inflight: int = 2048
    max_message: int = 64 * 1024 * 1024
    limits: Limits = field(default_factory=Limits)
    schema_hard_fail: bool = False
    grace: float = 10.0


def check_bind(bind: str, token: str | None, *, tls: bool = False) -> tuple[str, int]:
    """Parse `host:port` (port 0..65535) and apply the toolkit's exposure rule.

    The rule (toolkit_kernel.exposure): a non-loopback host needs a token, TLS or not.
    """
    host, port, _ = policy_for(bind, token, tls=tls)
    return host, port


def policy_for(bind: str, token: str | None, *, tls: bool = False) -> tuple[str, int, ExposurePolicy]:
    """(host, port, exposure policy) of `--bind` and `--token`."""
    host, sep, port_s = bind.rpartition(":")
    if not sep or not port_s.isdigit() or int(port_s) > 65535:
        # A port beyond 65535 would otherwise be taken modulo 2**16 by the socket layer.
        raise UsageError(f"bad --bind {bind!r}", hint="use host:port with a port 0..65535, e.g. 127.0.0.1:50051")
    host = host.strip("[]")
    policy = ExposurePolicy.for_bind(host, int(port_s), token=token, tls=tls)
    return host, int(port_s), policy


# -- errors -----------------------------------------------------------------------------------
def status_for(err: ToolkitError, *, compat: bool = False) -> grpc.StatusCode:
    """The gRPC status of a core error."""
    if isinstance(err, E.WrongExpectedVersion):
        return grpc.StatusCode.ABORTED
    if isinstance(err, E.DuplicateEventId):
        return grpc.StatusCode.ALREADY_EXISTS
    if isinstance(err, E.SchemaViolation | E.StreamDeleted):
        return grpc.StatusCode.FAILED_PRECONDITION
    if isinstance(err, E.SnapshotRejected):
        return grpc.StatusCode.INVALID_ARGUMENT if compat else grpc.StatusCode.FAILED_PRECONDITION
    if isinstance(err, E.Unauthenticated):
        return grpc.StatusCode.UNAUTHENTICATED
    if isinstance(err, E.Unavailable):
        return grpc.StatusCode.UNAVAILABLE
    if isinstance(err, E.ServerBusy):
        return grpc.StatusCode.RESOURCE_EXHAUSTED
    if isinstance(err, UsageError):
        return grpc.StatusCode.INVALID_ARGUMENT
    if isinstance(err, NotFound):
        return grpc.StatusCode.NOT_FOUND
    if isinstance(err, Conflict):
        return grpc.StatusCode.ABORTED
    if isinstance(err, Busy):
        return grpc.StatusCode.UNAVAILABLE
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


class _Guard:
    """Authentication (the exposure policy's token rule), parsing and error mapping around every handler."""

    def __init__(self, policy: ExposurePolicy) -> None:
        self.policy = policy

    def check_auth(self, context: grpc.aio.ServicerContext) -> None:
        if self.policy.token is None:
            return
        presented = None
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                presented = value.decode() if isinstance(value, bytes) else value
        refusal = self.policy.check_token(presented)
        if refusal is not None:
            raise E.Unauthenticated(refusal.message, hint="pass the server's token (--token)")

    async def fail(self, context: grpc.aio.ServicerContext, err: BaseException, compat: bool) -> None:
        if isinstance(err, ToolkitError):
            code = status_for(err, compat=compat)
            if code is grpc.StatusCode.INTERNAL:
                log.error("internal error: %s", err)
            await context.abort(code, err.message, trailing_metadata=trailers_for(err))
        log.exception("unexpected error in handler", exc_info=err)
        internal = E.StorageFailure(f"internal error: {type(err).__name__}: {err}")
        await context.abort(grpc.StatusCode.INTERNAL, internal.message, trailing_metadata=trailers_for(internal))

    def unary(self, request_type: Any, fn: Callable[..., Awaitable[Any]], *, compat: bool) -> Any:
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

        return grpc.unary_unary_rpc_method_handler(handler, response_serializer=_serialize)

    def stream(self, request_type: Any, fn: Callable[..., AsyncIterator[Any]], *, compat: bool) -> Any:
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

        return grpc.unary_stream_rpc_method_handler(handler, response_serializer=_serialize)


#: Bytes of records per response message: far below the transport limit even with 4 MiB events.
MAX_FRAME = 8 * 1024 * 1024


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


def _serialize(msg: Any) -> bytes:
    if isinstance(msg, bytes):
        return msg
    out: bytes = msg.SerializeToString()
    return out


# -- the compatibility service ------------------------------------------------------------------
class CompatService:
    """graveyar_db's `eventstore.EventStore`, with its semantics and without its defects."""

    def __init__(self, svc: EventStoreService) -> None:
        self.svc = svc

    async def append_event(self, req: es.AppendEventRequest) -> es.AppendEventResponse:
        # graveyar_db 0.3 takes exactly one event; several are appended atomically here (the
        # superset its first issue asked for breaks no client).
        if req.expected_version < -1:
            raise E.InvalidRequest(f"expected_version {req.expected_version} is invalid (-1 = any, >= 0 = exact)")
        expected = Expected.any() if req.expected_version == -1 else Expected.exact(req.expected_version)
        for i, ev in enumerate(req.events):
            if not ev.id:
                raise E.InvalidRequest(f"event {i}: event id is empty", hint="graveyar_db events carry a UUID id")
        await self.svc.append_wire(req.stream_id, req.events, expected, require_transition=True)
        return es.AppendEventResponse(success=True)

    async def get_events(self, req: es.GetEventsRequest) -> AsyncIterator[bytes]:
        # A stored record is an Event plus fields 7-9, which graveyar_db clients skip as unknown.
        # Pages are streamed as they are read (graveyar_db loaded the whole stream first).
        try:
            async for page in self.svc.read_pages(req.stream_id, None, False, 0):
                for raw in page:
                    yield raw
        except E.StreamNotFound:
            return

    async def upsert_schema(self, req: es.UpsertSchemaRequest) -> es.UpsertSchemaResponse:
        name = await self.svc.upsert_schema(schema_to_dict(req.schema))
        return es.UpsertSchemaResponse(success=True, message=f"schema {name} stored")

    async def get_schema(self, req: es.GetSchemaRequest) -> es.GetSchemaResponse:
        doc = await self.svc.schema(req.name) if req.name else None
        if doc is None:
            return es.GetSchemaResponse(found=False)
        return es.GetSchemaResponse(schema=schema_to_pb(doc), found=True)

    async def save_snapshot(self, req: es.SaveSnapshotRequest) -> es.SaveSnapshotResponse:
        await self.svc.save_snapshot(snapshot_from_pb(req.snapshot), exact=True)
        return es.SaveSnapshotResponse(success=True)

    async def get_snapshot(self, req: es.GetSnapshotRequest) -> es.GetSnapshotResponse:
        snap = await self.svc.get_snapshot(req.stream_id)
        if snap is None:
            return es.GetSnapshotResponse(found=False)
        return es.GetSnapshotResponse(snapshot=snapshot_to_pb(snap), found=True)

    def handlers(self, guard: _Guard) -> grpc.GenericRpcHandler:
        u, s = functools.partial(guard.unary, compat=True), functools.partial(guard.stream, compat=True)
        return grpc.method_handlers_generic_handler(
            COMPAT_SERVICE,
            {
                "AppendEvent": u(es.AppendEventRequest, self.append_event),
                "GetEvents": s(es.GetEventsRequest, self.get_events),
                "UpsertSchema": u(es.UpsertSchemaRequest, self.upsert_schema),
                "GetSchema": u(es.GetSchemaRequest, self.get_schema),
                "SaveSnapshot": u(es.SaveSnapshotRequest, self.save_snapshot),
                "GetSnapshot": u(es.GetSnapshotRequest, self.get_snapshot),
            },
        )


# -- graveyar.v1 ---------------------------------------------------------------------------------
class V1Service:
    """Our own service: batches, expected states, reads, subscriptions, streams, snapshots, schemas."""

    def __init__(self, svc: EventStoreService) -> None:
        self.svc = svc

    async def append(self, req: pb.AppendRequest) -> pb.AppendResponse:
        expected = expected_from_pb(req.expected_state, req.expected_version)
        r = await self.svc.append_wire(req.stream, req.events, expected)
        return pb.AppendResponse(
            first_version=r.first_version,
            version=r.version,
            first_position=r.first_position,
            position=r.position,
            duplicate=r.duplicate,
        )

    async def append_multi(self, req: pb.AppendMultiRequest) -> pb.AppendMultiResponse:
        items = [(a.stream, a.events, expected_from_pb(a.expected_state, a.expected_version)) for a in req.appends]
        results = await self.svc.append_multi_wire(items)
        return pb.AppendMultiResponse(
            results=[
                pb.AppendResponse(
                    first_version=r.first_version,
                    version=r.version,
                    first_position=r.first_position,
                    position=r.position,
                    duplicate=r.duplicate,
                )
                for r in results
            ]
        )

    async def read(self, req: pb.ReadRequest) -> AsyncIterator[bytes]:
        start = req.__getattribute__("from") if req.HasField("from") else None
        backward = req.direction == pb.DIRECTION_BACKWARD
        if req.exclude_stream_prefixes:
            if req.stream != ALL_STREAM:
                raise E.InvalidRequest("exclude_stream_prefixes only apply to '$all' reads")
            pages = self.svc.read_all_excluding(start, backward, req.limit, list(req.exclude_stream_prefixes))
        else:
            pages = self.svc.read_pages(req.stream, start, backward, req.limit)
        async for page in pages:
            for chunk in chunk_by_size(page):
                yield frame_repeated(chunk)

    async def subscribe(self, req: pb.SubscribeRequest) -> AsyncIterator[bytes]:
        after = req.after if req.HasField("after") else None
        items = self.svc.subscribe(
            req.stream,
            after,
            stream_prefixes=list(req.stream_prefixes),
            event_types=list(req.event_types),
            exclude_prefixes=list(req.exclude_stream_prefixes),
        )
        async for item in items:
            if item.kind == "events":
                for chunk in chunk_by_size(item.records):
                    inner = frame_repeated(chunk)
                    yield b"\x0a" + varint(len(inner)) + inner
            elif item.kind == "caught_up":
                yield pb.SubscribeResponse(caught_up=pb.CaughtUp(at=item.at)).SerializeToString()
            else:
                yield pb.SubscribeResponse(checkpoint=pb.Checkpoint(position=item.at)).SerializeToString()

    async def delete_stream(self, req: pb.DeleteStreamRequest) -> pb.DeleteStreamResponse:
        version = await self.svc.delete_stream(req.stream, expected_from_pb(req.expected_state, req.expected_version))
        return pb.DeleteStreamResponse(version=version)

    async def set_stream_metadata(self, req: pb.SetStreamMetadataRequest) -> pb.StreamInfo:
        return info_to_pb(await self.svc.set_stream_metadata(req.stream, metadata_from_pb(req.metadata)))

    async def get_stream(self, req: pb.GetStreamRequest) -> pb.StreamInfo:
        return info_to_pb(await self.svc.stream_info(req.stream))

    async def list_streams(self, req: pb.ListStreamsRequest) -> pb.ListStreamsResponse:
        infos = await self.svc.list_streams(req.prefix, req.after, req.limit)
        return pb.ListStreamsResponse(streams=[info_to_pb(i) for i in infos])

    async def save_snapshot(self, req: pb.SaveSnapshotRequest) -> pb.SaveSnapshotResponse:
        snap = await self.svc.save_snapshot(snapshot_from_pb(req.snapshot))
        return pb.SaveSnapshotResponse(version=snap.version)

    async def get_snapshot(self, req: pb.GetSnapshotRequest) -> pb.GetSnapshotResponse:
        snap = await self.svc.get_snapshot(req.stream)
        if snap is None:
            raise E.StreamNotFound(f"no snapshot for stream {req.stream!r}", details={"stream": req.stream})
        return pb.GetSnapshotResponse(snapshot=snapshot_to_pb(snap))

    async def upsert_schema(self, req: pb.UpsertSchemaRequest) -> pb.UpsertSchemaResponse:
        return pb.UpsertSchemaResponse(name=await self.svc.upsert_schema(schema_to_dict(req.schema)))

    async def get_schema(self, req: pb.GetSchemaRequest) -> pb.GetSchemaResponse:
        doc = await self.svc.schema(req.name) if req.name else None
        if doc is None:
            raise E.StreamNotFound(f"no schema named {req.name!r}", details={"name": req.name})
        return pb.GetSchemaResponse(schema=schema_to_pb(doc))

    def handlers(self, guard: _Guard) -> grpc.GenericRpcHandler:
        u, s = functools.partial(guard.unary, compat=False), functools.partial(guard.stream, compat=False)
        return grpc.method_handlers_generic_handler(
            V1_SERVICE,
            {
                "Append": u(pb.AppendRequest, self.append),
                "AppendMulti": u(pb.AppendMultiRequest, self.append_multi),
                "Read": s(pb.ReadRequest, self.read),
                "Subscribe": s(pb.SubscribeRequest, self.subscribe),
                "DeleteStream": u(pb.DeleteStreamRequest, self.delete_stream),
                "SetStreamMetadata": u(pb.SetStreamMetadataRequest, self.set_stream_metadata),
                "GetStream": u(pb.GetStreamRequest, self.get_stream),
                "ListStreams": u(pb.ListStreamsRequest, self.list_streams),
                "SaveSnapshot": u(pb.SaveSnapshotRequest, self.save_snapshot),
                "GetSnapshot": u(pb.GetSnapshotRequest, self.get_snapshot),
                "UpsertSchema": u(pb.UpsertSchemaRequest, self.upsert_schema),
                "GetSchema": u(pb.GetSchemaRequest, self.get_schema),
            },
        )


# -- assembly -----------------------------------------------------------------------------------
@dataclass
class RunningServer:
    """A started server: its port and how to stop it gracefully."""

    server: grpc.aio.Server
    port: int
    service: EventStoreService
    health: Any
    watcher: asyncio.Task[None] | None = None
    persistent: PersistentSubscriptions | None = None

    async def stop(self, grace: float = 10.0) -> None:
        """Stop accepting calls, end subscriptions (UNAVAILABLE), let in-flight calls finish, close the store."""
        from grpc_health.v1 import health_pb2

        if self.watcher is not None:
            self.watcher.cancel()
        await self.health.enter_graceful_shutdown()
        for name in ("", *SERVICES):
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        if self.persistent is not None:
            await self.persistent.close()
        self.service.shutdown()
        await self.server.stop(grace)
        await self.service.store.close()


async def build_server(service: EventStoreService, config: ServerConfig) -> RunningServer:
    """Start serving `service` per `config` on the running loop."""
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection

    tls = bool(config.tls_cert or config.tls_key)
    host, port, policy = policy_for(config.bind, config.token, tls=tls)
    options = [
        ("grpc.max_receive_message_length", config.max_message),
        ("grpc.max_send_message_length", config.max_message),
        ("grpc.so_reuseport", 0),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 5000),
    ]
    server = grpc.aio.server(options=options, maximum_concurrent_rpcs=config.max_inflight)
    guard = _Guard(policy)
    member = Member(uuid.uuid4(), host)
    kurrent = KurrentApi(service, member, __version__)
    persistent = PersistentSubscriptions(service)
    server.add_generic_rpc_handlers(
        (
            CompatService(service).handlers(guard),
            V1Service(service).handlers(guard),
            *kurrent.handlers(guard),
            *PersistentApi(persistent).handlers(guard),
        )
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((*SERVICES, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        if config.tls_cert or config.tls_key:
            if not (config.tls_cert and config.tls_key):
                raise UsageError("TLS needs both --tls-cert and --tls-key")
            creds = grpc.ssl_server_credentials([(config.tls_key.read_bytes(), config.tls_cert.read_bytes())])
            bound = server.add_secure_port(address, creds)
        else:
            bound = server.add_insecure_port(address)
    except RuntimeError:
        bound = 0
    if bound == 0:
        raise Busy(f"cannot listen on {address}", hint="the port is in use or the address is not local; change --bind")
    member.port = bound
    await server.start()
    for name in ("", *SERVICES):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    running = RunningServer(server, bound, service, health_servicer, persistent=persistent)
    try:
        await persistent.load()
    except ToolkitError as exc:  # e.g. PostgreSQL away: the groups start on first use instead
        log.warning("persistent subscriptions not started yet: %s", exc)
    running.watcher = asyncio.create_task(_watch_backend(service, health_servicer), name="graveyar-health")
    return running


async def _watch_backend(service: EventStoreService, health_servicer: Any, interval: float = 0.5) -> None:
    """Report NOT_SERVING while the backend is unreachable (PostgreSQL down), SERVING when it is back."""
    from grpc_health.v1 import health_pb2

    serving = True
    while True:
        await asyncio.sleep(interval)
        ok = service.store.available
        if ok != serving and not service.closed:
            serving = ok
            status = health_pb2.HealthCheckResponse.SERVING if ok else health_pb2.HealthCheckResponse.NOT_SERVING
            log.warning("backend %s", "is back: SERVING" if ok else "unreachable: NOT_SERVING")
            for name in ("", *SERVICES):
                await health_servicer.set(name, status)


async def run_server(service_factory: Callable[[], Awaitable[EventStoreService]], config: ServerConfig) -> None:
    """Serve until SIGTERM/SIGINT, then shut down gracefully. Prints one readiness line on stdout."""
    service = await service_factory()
    try:
        running = await build_server(service, config)
    except BaseException:
        await service.store.close()
        raise
    host, _ = check_bind(config.bind, config.token, tls=bool(config.tls_cert))
    scheme = "grpcs" if config.tls_cert else "grpc"
    sys.stdout.write(f"graveyar listening on {scheme}://{host}:{running.port}\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await running.stop(config.grace)
