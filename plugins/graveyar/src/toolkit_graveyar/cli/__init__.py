"""`graveyar` / `toolkit graveyar`: serve the event store and talk to it.

Every command except `serve` is a client of a running server (`--server`, default
127.0.0.1:50051). grpc, lmdb and psycopg load only inside command bodies.
"""

from __future__ import annotations

from pathlib import Path

import click

from toolkit.cliutil import ToolkitGroup, json_option, standalone_main
from toolkit_graveyar.cli.common import ClientOptions

__all__ = ["graveyar", "main"]


@click.group(cls=ToolkitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--server",
    default="127.0.0.1:50051",
    envvar="GRAVEYAR_SERVER",
    show_envvar=True,
    show_default=True,
    help="host:port of the graveyar server.",
)
@click.option("--token", envvar="GRAVEYAR_TOKEN", show_envvar=True, help="Bearer token for the server.")
@click.option(
    "--tls-ca",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="GRAVEYAR_TLS_CA",
    show_envvar=True,
    help="PEM root certificate: connect with TLS and verify the server against it.",
)
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Per-call deadline in seconds.")
@click.option("--user", envvar="GRAVEYAR_USER", show_envvar=True, help="Login on a server started with --auth.")
@click.option("--password", envvar="GRAVEYAR_PASSWORD", show_envvar=True, help="That user's password.")
@json_option
@click.pass_context
def graveyar(
    ctx: click.Context,
    server: str,
    token: str | None,
    tls_ca: Path | None,
    timeout: float,
    user: str | None,
    password: str | None,
) -> None:
    """graveyar: a gRPC event store (graveyar_db-compatible), on LMDB or PostgreSQL."""
    ctx.obj = ClientOptions(server, token, tls_ca, timeout, user, password)


def _register() -> None:
    from toolkit_graveyar.cli.admin import delete, metadata, schema, snapshot, streams
    from toolkit_graveyar.cli.events import append, read, read_all, subscribe
    from toolkit_graveyar.cli.operations import compact, scavenge
    from toolkit_graveyar.cli.serve import serve

    for cmd in (
        append,
        read,
        read_all,
        subscribe,
        serve,
        streams,
        delete,
        metadata,
        snapshot,
        schema,
        scavenge,
        compact,
    ):
        graveyar.add_command(cmd)


_register()

main = standalone_main(graveyar)
