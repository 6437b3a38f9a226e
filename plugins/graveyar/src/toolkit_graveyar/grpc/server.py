"""The gRPC server: configuration, startup and graceful shutdown.

Every service on one port: graveyar_db's EventStore, graveyar.v1, KurrentDB v1, health and reflection.
"""

# ruff: noqa: TID253 - this module is only imported when a server starts
from __future__ import annotations

import asyncio
import logging
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from toolkit_graveyar import __version__
from toolkit_graveyar.core.cluster import Cluster
from toolkit_graveyar.core.persistent import PersistentSubscriptions
from toolkit_graveyar.core.projections import SYSTEM_PROJECTIONS, SystemProjections
from toolkit_graveyar.core.service import EventStoreService
from toolkit_graveyar.core.users import UserDirectory
from toolkit_graveyar.core.validation import Limits
from toolkit_graveyar.grpc.compat import COMPAT_SERVICE, CompatService
from toolkit_graveyar.grpc.graveyar_v1 import V1_SERVICE, V1Service
from toolkit_graveyar.grpc.guard import Guard
from toolkit_graveyar.grpc.kurrentdb import KURRENT_SERVICES, KurrentApi, Member
from toolkit_graveyar.grpc.operations import OPERATIONS_SERVICE, OperationsService
from toolkit_graveyar.grpc.persistent import PERSISTENT, PersistentApi
from toolkit_graveyar.grpc.projections import PROJECTIONS, ProjectionsApi
from toolkit_graveyar.grpc.users import UsersService
from toolkit_kernel.errors import Busy, ToolkitError, UsageError
from toolkit_kernel.exposure import ExposurePolicy

__all__ = ["ServerConfig", "build_server", "run_server"]

log = logging.getLogger("graveyar.server")

#: Every service on the port (health reports each by name).
SERVICES = (COMPAT_SERVICE, V1_SERVICE, *KURRENT_SERVICES, OPERATIONS_SERVICE, PERSISTENT, PROJECTIONS)


@dataclass
class ServerConfig:
    """How to serve.

    Attributes:
        bind: `host:port` (port 0 = pick a free one).
        advertise_host: The host KurrentDB gossip names for this server (None = the bind host).
        token: Bearer token every EventStore/Graveyar call must carry (health/reflection are open).
        tls_cert: PEM certificate chain; with `tls_key` turns TLS on.
        tls_key: PEM private key.
        max_inflight: Concurrent RPCs before new ones get RESOURCE_EXHAUSTED.
        max_message: gRPC transport limit (above it gRPC itself answers RESOURCE_EXHAUSTED).
        limits: Our own size limits (INVALID_ARGUMENT).
        schema_hard_fail: Reject payloads failing their schema.
        grace: Seconds in-flight calls get to finish on shutdown.
        admin_password: Turns authentication on: every call needs Basic credentials (the built-in
            user `admin` with this password; KurrentDB's default is `changeit`) or the token.
        start_standard_projections: Enable the system projections at start (KurrentDB's
            `--start-standard-projections`); otherwise they stay as last recorded (disabled at first).
    """

    bind: str = "127.0.0.1:50051"
    advertise_host: str | None = None
    token: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_inflight: int = 2048
    max_message: int = 64 * 1024 * 1024
    limits: Limits = field(default_factory=Limits)
    schema_hard_fail: bool = False
    grace: float = 10.0
    admin_password: str | None = None
    start_standard_projections: bool = False


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


# -- assembly -----------------------------------------------------------------------------------
@dataclass
class RunningServer:
    """A started server: its port and how to stop it gracefully."""

    server: grpc.aio.Server
    port: int
    service: EventStoreService
    health: Any
    watcher: asyncio.Task[None] | None = None
    cluster: Cluster | None = None
    users: UserDirectory | None = None
    persistent: PersistentSubscriptions | None = None
    projections: SystemProjections | None = None

    async def stop(self, grace: float = 10.0) -> None:
        """Stop accepting calls, end subscriptions (UNAVAILABLE), let in-flight calls finish, close the store."""
        from grpc_health.v1 import health_pb2

        if self.watcher is not None:
            self.watcher.cancel()
        await self.health.enter_graceful_shutdown()
        for name in ("", *SERVICES):
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        self.service.shutdown()
        # After the shutdown ended their source subscriptions: groups record their checkpoints.
        if self.persistent is not None:
            await self.persistent.close()
        if self.projections is not None:
            await self.projections.close()
        if self.cluster is not None:
            await self.cluster.stop()
        if self.users is not None:
            await self.users.stop()
        await self.service.scavenger.close()
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
        # gRPC core queues calls that arrive before the server asks for the next one, 1,000 by
        # default, and CANCELs the rest: 2,000 subscribers reconnecting at once lost hundreds.
        ("grpc.server.max_pending_requests", 100_000),
        ("grpc.server.max_pending_requests_hard_limit", 100_000),
        ("grpc.http2.min_ping_interval_without_data_ms", 5000),
    ]
    server = grpc.aio.server(options=options, maximum_concurrent_rpcs=config.max_inflight)
    users = UserDirectory(config.admin_password, service) if config.admin_password is not None else None
    guard = Guard(policy, users)
    advertised = config.advertise_host or host
    member = Member(uuid.uuid4(), advertised)
    kurrent = KurrentApi(service, member, __version__)
    persistent = PersistentSubscriptions(service)
    projections = SystemProjections(service)
    server.add_generic_rpc_handlers(
        (
            CompatService(service).handlers(guard),
            V1Service(service).handlers(guard),
            *kurrent.handlers(guard),
            *PersistentApi(persistent, kurrent.gate).handlers(guard),
            *ProjectionsApi(projections, kurrent.gate).handlers(guard),
        )
    )
    server.add_generic_rpc_handlers((OperationsService(service).handlers(guard),))
    if users is not None:
        server.add_generic_rpc_handlers((UsersService(users).handlers(guard),))
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
    if users is not None:
        await users.start()  # the stored users, before the first call
    await server.start()
    kurrent.gate.cluster = cluster = Cluster(service.store, str(member.instance_id))
    await cluster.start(advertised, bound)
    for name in ("", *SERVICES):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    running = RunningServer(
        server,
        bound,
        service,
        health_servicer,
        cluster=cluster,
        users=users,
        persistent=persistent,
        projections=projections,
    )
    try:
        await persistent.load()
        await projections.load()
        if config.start_standard_projections:
            for name in SYSTEM_PROJECTIONS:
                await projections.enable(name)
    except ToolkitError as exc:  # e.g. PostgreSQL away: they start on first use instead
        log.warning("persistent subscriptions or projections not started yet: %s", exc)
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
