"""`graveyar serve`: run the gRPC server on LMDB (default) or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import click

from toolkit_graveyar.core.errors import InvalidRequest

__all__ = ["serve"]


def default_data_dir() -> Path:
    """`$TOOLKIT_HOME/graveyar`."""
    from toolkit_kernel.paths import toolkit_home

    return toolkit_home() / "graveyar"


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=["GRAVEYAR_DATA_DIR", "DB_PATH"],
    show_envvar=True,
    help="LMDB directory (default: $TOOLKIT_HOME/graveyar; graveyar_db's DB_PATH too).",
)
@click.option(
    "--backend", type=click.Choice(["lmdb", "postgres"]), default="lmdb", show_default=True, envvar="GRAVEYAR_BACKEND"
)
@click.option(
    "--dsn", envvar="GRAVEYAR_DSN", show_envvar=True, help="PostgreSQL connection string (--backend postgres)."
)
@click.option(
    "--bind",
    envvar="GRAVEYAR_BIND",
    show_envvar=True,
    help="host:port (default 127.0.0.1:50051; graveyar_db's PORT sets 127.0.0.1:$PORT).",
)
@click.option(
    "--advertise-host",
    envvar="GRAVEYAR_ADVERTISE_HOST",
    show_envvar=True,
    help="Host KurrentDB gossip names for this server (default: the --bind host as written).",
)
@click.option(
    "--token", envvar=["GRAVEYAR_TOKEN", "AUTH_TOKEN"], help="Require this bearer token (env AUTH_TOKEN too)."
)
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), envvar="TLS_CERT_PATH")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), envvar="TLS_KEY_PATH")
@click.option("--require-tls", is_flag=True, envvar="REQUIRE_TLS", help="Refuse to start without --tls-cert/--tls-key.")
@click.option("--require-auth", is_flag=True, envvar="REQUIRE_AUTH", help="Refuse to start without --token.")
@click.option(
    "--auth",
    is_flag=True,
    envvar="GRAVEYAR_AUTH",
    help="Require users: Basic credentials on every call (KurrentDB's admin:changeit) or the --token.",
)
@click.option(
    "--admin-password",
    envvar="GRAVEYAR_ADMIN_PASSWORD",
    help="Password of the built-in `admin` user with --auth (default: KurrentDB's changeit).",
)
@click.option(
    "--start-standard-projections",
    is_flag=True,
    envvar="KURRENTDB_START_STANDARD_PROJECTIONS",
    help="Enable the system projections $by_category, $by_event_type and $streams at start (as KurrentDB).",
)
@click.option(
    "--schema-validation",
    type=click.Choice(["soft", "hard"]),
    default="soft",
    show_default=True,
    help="hard = reject payloads failing their schema (graveyar_db's SCHEMA_VALIDATION_HARD_FAIL).",
)
@click.option("--max-inflight", type=click.IntRange(min=1), default=2048, show_default=True)
@click.option("--max-event-size", type=click.IntRange(min=1), default=4 * 1024 * 1024, show_default=True)
@click.option("--max-append-size", type=click.IntRange(min=1), default=16 * 1024 * 1024, show_default=True)
@click.option("--grace", type=float, default=10.0, show_default=True, help="Seconds in-flight calls get on shutdown.")
def serve(
    data_dir: Path | None,
    backend: str,
    dsn: str | None,
    bind: str | None,
    advertise_host: str | None,
    token: str | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    require_tls: bool,
    require_auth: bool,
    auth: bool,
    admin_password: str | None,
    start_standard_projections: bool,
    schema_validation: str,
    max_inflight: int,
    max_event_size: int,
    max_append_size: int,
    grace: float,
) -> None:
    """Serve eventstore.EventStore and graveyar.v1.Graveyar (plus health and reflection) until SIGTERM."""
    import logging
    import os

    from toolkit_graveyar.core.service import EventStoreService
    from toolkit_graveyar.core.users import DEFAULT_ADMIN_PASSWORD
    from toolkit_graveyar.core.validation import Limits
    from toolkit_graveyar.grpc.server import ServerConfig, check_bind, run_server
    from toolkit_graveyar.storage.base import Store

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if bind is None:
        port = os.environ.get("PORT", "")
        bind = f"127.0.0.1:{port}" if port else "127.0.0.1:50051"
    if require_tls and not (tls_cert and tls_key):
        raise InvalidRequest(
            "TLS is required (REQUIRE_TLS) but no certificate is set", hint="pass --tls-cert and --tls-key"
        )
    if require_auth and not token:
        raise InvalidRequest("a token is required (REQUIRE_AUTH) but none is set", hint="pass --token or AUTH_TOKEN")
    if backend == "postgres" and not dsn:
        raise InvalidRequest("--backend postgres needs --dsn", hint="e.g. --dsn postgresql://user@127.0.0.1/db")
    if admin_password is not None and not auth:
        raise InvalidRequest("--admin-password needs --auth", hint="add --auth to require users")
    if admin_password == "":
        raise InvalidRequest("--admin-password is empty", hint="leave it out for KurrentDB's default, changeit")
    if advertise_host is not None and not advertise_host.strip():
        raise InvalidRequest("--advertise-host is empty", hint="leave it out to advertise the --bind host")
    hard = schema_validation == "hard" or os.environ.get("SCHEMA_VALIDATION_HARD_FAIL", "").lower() == "true"
    limits = Limits(max_event_size=max_event_size, max_append_size=max_append_size)
    config = ServerConfig(
        bind=bind,
        advertise_host=advertise_host,
        token=token,
        tls_cert=tls_cert,
        tls_key=tls_key,
        max_inflight=max_inflight,
        limits=limits,
        schema_hard_fail=hard,
        grace=grace,
        admin_password=(admin_password or DEFAULT_ADMIN_PASSWORD) if auth else None,
        start_standard_projections=start_standard_projections,
        max_message=max(64 * 1024 * 1024, max_append_size * 2),
    )
    check_bind(bind, token, tls=bool(tls_cert or tls_key))
    directory = data_dir or default_data_dir()

    async def factory() -> EventStoreService:
        store: Store
        if backend == "postgres":
            from toolkit_graveyar.storage.pg_store import PgStore

            store = await PgStore.open(str(dsn))
        else:
            from toolkit_graveyar.storage.lmdb_store import LmdbStore

            store = await LmdbStore.open(directory)
        return EventStoreService(store, limits=limits, schema_hard_fail=hard)

    import asyncio  # here, not at the top: `graveyar --help` must stay fast

    asyncio.run(run_server(factory, config))
