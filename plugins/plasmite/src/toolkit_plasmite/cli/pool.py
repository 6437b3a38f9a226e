"""`pool create/info/list/delete`, `fetch` and `doctor`."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from toolkit.cliutil import json_option
from toolkit_plasmite.cli import human, plain
from toolkit_plasmite.cli.missing import missing_for_fetch, missing_for_info
from toolkit_plasmite.cli.ui import LITE3_FORMATS, dir_option, format_option, get_settings, late_globals
from toolkit_plasmite.core.client import LocalClient
from toolkit_plasmite.core.codec import decode_payload, envelope
from toolkit_plasmite.core.values import parse_remote_ref, parse_size
from toolkit_plasmite.errors import NotFoundError, PlasmiteError, UsageError

__all__ = ["doctor_command", "fetch_command", "pool_group"]


def client() -> LocalClient:
    """The LocalClient for this invocation's --dir."""
    return LocalClient(get_settings().pool_dir)


def local_ref(ref: str, command: str) -> str:
    """Reject remote refs for local-only commands."""
    if parse_remote_ref(ref) is not None:
        raise UsageError(f"`{command}` works on local pools only", hint="run it on the server host")
    return ref


@click.group("pool")
def pool_group() -> None:
    """Create, inspect, list and delete pools."""


@pool_group.command("create")
@click.argument("names", nargs=-1, required=True)
@click.option("--size", default="1M", show_default=True, help="Pool file size (N, NK, NM, NG).")
@click.option("--index-capacity", type=int, default=None, help="Index slots (default auto; 0 = no index).")
@click.option(
    "--format-version",
    type=click.Choice(["3", "100"]),
    default="3",
    show_default=True,
    help="3: plasmite's format (Lite3); 100: our earlier CBOR format.",
)
@json_option
@late_globals
def pool_create(names: tuple[str, ...], size: str, index_capacity: int | None, format_version: str) -> None:
    """Create pools NAMES (stops at the first that exists; earlier ones stay)."""
    nbytes = parse_size(size)
    c = client()
    created: list[dict[str, Any]] = []
    try:
        for name in names:
            ref = local_ref(name, "pool create")
            created.append(c.create_pool(ref, nbytes, index_capacity, version=int(format_version)))
    finally:
        if created:
            _out(
                {"created": created},
                lambda: human.created_text(created, c.pool_dir),
                lambda: plain.created_plain(created, c.pool_dir),
            )


@pool_group.command("migrate")
@click.argument("name")
@json_option
def pool_migrate_command(name: str) -> None:
    """Rewrite a format-100 pool as plasmite's format 3 (seqs, times, data and tags kept)."""
    from toolkit_plasmite.core.migrate import migrate_pool

    path = client().path_for(local_ref(name, "pool migrate"))
    result = migrate_pool(path)
    result["pool"] = name
    get_settings().out(result)


@pool_group.command("info")
@click.argument("name")
@json_option
@late_globals
def pool_info_command(name: str) -> None:
    """Show a pool's geometry, bounds and metrics."""
    c = client()
    try:
        info = c.pool_info(local_ref(name, "pool info"))
    except NotFoundError:
        raise missing_for_info(name) from None
    _out(info, lambda: human.pool_info_text(name, info, c.pool_dir), lambda: plain.pool_info_plain(name, info))


@pool_group.command("list")
@click.argument("server", required=False)
@json_option
@late_globals
def pool_list(server: str | None) -> None:
    """List the pools in the pool directory, or at SERVER (http://host:port)."""
    settings = get_settings()
    entries = _remote_entries(server) if server else client().list_entries()
    if settings.machine:
        settings.out({"pools": entries})
        return
    if settings.plain:
        click.echo(plain.pool_list_plain(entries, client().pool_dir))
        return
    if not entries:
        click.echo(f"no pools in {client().pool_dir}")
        return
    click.echo(human.pool_table(entries, client().pool_dir))


@pool_group.command("delete")
@click.argument("names", nargs=-1, required=True)
@json_option
@late_globals
def pool_delete(names: tuple[str, ...]) -> None:
    """Delete pools NAMES (readers that have them open keep working)."""
    c = client()
    deleted: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    first: PlasmiteError | None = None
    for name in names:
        try:
            path = c.delete_pool(local_ref(name, "pool delete"))
            deleted.append({"pool": name, "path": str(path)})
        except PlasmiteError as exc:
            failed.append({"pool": name, "error": exc.error_body()})
            first = first or exc
    _out(
        {"deleted": deleted, "failed": failed},
        lambda: human.deleted_text(deleted),
        lambda: plain.deleted_plain(deleted, [{"path": str(c.path_for(f["pool"])), **f} for f in failed], c.pool_dir),
    )
    if not get_settings().machine and not get_settings().plain:
        for f in failed:
            click.echo(f"error: {f['pool']}: {f['error']['message']}", err=True)
    if first is not None:
        raise click.exceptions.Exit(int(first.kind))


def _out(value: dict[str, Any], text: Callable[[], str], plain_text: Callable[[], str]) -> None:
    """JSON (or YAML) for programs, plasmite's plain layout for `--format pretty` into a pipe, else its terminal one."""
    settings = get_settings()
    if settings.machine:
        settings.out(value)
    elif settings.plain:
        click.echo(plain_text())
    elif rendered := text():
        click.echo(rendered)


def _remote_entries(server: str) -> list[dict[str, Any]]:
    from toolkit_plasmite.http.remote import RemoteClient

    if not server.startswith(("http://", "https://")):
        raise UsageError(f"SERVER must be an http(s)://host:port origin, not {server!r}")
    with RemoteClient(server.rstrip("/")) as rc:
        pools: list[dict[str, Any]] = rc.list_pools()
    return pools


@click.command("fetch")
@click.argument("pool")
@click.argument("seq", type=int)
@dir_option
@functools.partial(format_option, binary=True)
def fetch_command(pool: str, seq: int) -> None:
    """Print message SEQ of POOL (a local pool or http://host:port/pool)."""
    remote = parse_remote_ref(pool)
    if remote is not None:
        from toolkit_plasmite.http.remote import RemoteClient

        with RemoteClient(remote.base_url) as rc:
            get_settings().out(rc.request("GET", f"/v0/pools/{remote.pool}/messages/{seq}")["message"])
        return
    try:
        opened = client().open_pool(local_ref(pool, "fetch"), writable=False)
    except NotFoundError as exc:
        raise missing_for_fetch(pool, exc) from None
    with opened as pf:
        try:
            s, ts, payload, _ = pf.get(seq)
        except NotFoundError:
            raise _missing_message(pool, seq) from None
        if get_settings().fmt in LITE3_FORMATS:
            _write_lite3(pf, (s, ts, payload, _))
            return
        data, tags = decode_payload(payload, seq=s, path=str(pf.path))
    get_settings().out(envelope(s, ts, data, tags))


def _write_lite3(pf: Any, frame: Any) -> None:
    """`fetch --format lite3` (the framed stream of one message) or `lite3-raw` (only its document)."""
    from toolkit_plasmite.core.lite3_api import LITE3_STREAM_MAGIC, frame_payload, stream_frame

    framed = get_settings().fmt == "lite3"
    out = sys.stdout.buffer
    out.write(LITE3_STREAM_MAGIC + stream_frame(pf, frame) if framed else frame_payload(pf, frame).payload)
    out.flush()


def _missing_message(pool: str, seq: int) -> NotFoundError:
    """The words plasmite 1.2.1 prints for `fetch` of a seq the pool does not retain (no path, as plasmite)."""
    return NotFoundError(
        "message not found",
        seq=seq,
        hint=f"Check available messages: plasmite pool info {pool} (or plasmite follow {pool} --tail 10).",
    )


@click.command("doctor")
@click.argument("pool", required=False)
@click.option("--all", "check_all", is_flag=True, help="Check every pool in the pool directory.")
@json_option
@late_globals
def doctor_command(pool: str | None, check_all: bool) -> None:
    """Validate a pool (every invariant) and say what to do about problems; exit 7 if corrupt."""
    if bool(pool) == check_all:
        raise UsageError("give a POOL or --all (not both)", hint="plasmite doctor mypool")
    c = client()
    if check_all:
        from toolkit_plasmite.core.validate import validate_pool

        paths = sorted(Path(e["path"]) for e in c.list_entries())
        reports = [validate_pool(p, str(p)) for p in paths]  # plasmite names each by its path
    else:
        assert pool is not None
        reports = [c.validate_pool(local_ref(pool, "doctor"))]
    settings = get_settings()
    if settings.machine:
        settings.out({"reports": reports})
    elif settings.plain and all(r["status"] == "ok" for r in reports):
        click.echo(plain.doctor_plain(reports))
    elif all(r["status"] == "ok" for r in reports):
        infos = [c.pool_info(r["path"]) for r in reports]
        click.echo(human.all_healthy_text(infos) if check_all else human.healthy_text(reports[0]["pool_ref"], infos[0]))
    else:
        for r in reports:
            click.echo(
                f"{r['pool_ref']}: {r['status']} ({r['issue_count']} issues, last good seq {r['last_good_seq']})"
            )
            for issue in r["issues"]:
                where = "".join(f" {k}={issue[k]}" for k in ("seq", "offset") if k in issue)
                click.echo(f"  - [{issue['code']}] {issue['message']}{where}")
            for hint in r["remediation_hints"]:
                click.echo(f"  hint: {hint}")
    if any(r["status"] != "ok" for r in reports):
        raise click.exceptions.Exit(7)
