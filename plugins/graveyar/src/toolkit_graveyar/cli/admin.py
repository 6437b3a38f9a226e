"""`graveyar streams|delete|metadata|snapshot|schema`: stream administration, snapshots, schemas."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from toolkit.cliutil import emit
from toolkit_graveyar.cli.common import client_from, parse_expected
from toolkit_graveyar.core.errors import InvalidRequest
from toolkit_graveyar.core.model import StreamMetadata
from toolkit_kernel.errors import NotFound

__all__ = ["delete", "metadata", "schema", "snapshot", "streams"]


def _info_line(i: dict[str, Any]) -> str:
    flags = " (deleted)" if i["deleted"] else ""
    return f"{i['stream']}\tversion {i['version']}\tposition {i['position']}{flags}"


@click.command()
@click.option("--prefix", default="", help="Only streams starting with this.")
@click.option("--after", default="", help="Streams sorting after this name (paging).")
@click.option("--limit", type=click.IntRange(min=0), default=0, help="At most this many (0 = server default 1000).")
@click.pass_context
def streams(ctx: click.Context, prefix: str, after: str, limit: int) -> None:
    """List streams by name."""
    with client_from(ctx) as client:
        infos = [i.to_dict() for i in client.list_streams(prefix, after=after, limit=limit)]
    emit(infos, lambda rows: "\n".join(_info_line(r) for r in rows))


@click.command()
@click.argument("stream")
@click.option("--expected", default="any", show_default=True, help="any, stream_exists or a version.")
@click.pass_context
def delete(ctx: click.Context, stream: str, expected: str) -> None:
    """Soft-delete STREAM: it reads as not found; a later append revives it, versions continue."""
    with client_from(ctx) as client:
        version = client.delete_stream(stream, parse_expected(expected))
    emit({"stream": stream, "version": version}, f"deleted {stream} at version {version}")


class _Clear:
    """The `none` value of a retention option: remove the rule."""


class _RuleType(click.ParamType[int | _Clear]):
    name = "N|none"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int | _Clear:
        if isinstance(value, int | _Clear):
            return value
        if str(value).lower() == "none":
            return _Clear()
        if str(value).isdigit():
            return int(value)
        self.fail(f"{value!r} is not a non-negative integer or 'none'", param, ctx)


_RULE = _RuleType()


def _rule(given: int | _Clear | None, current: int | None) -> int | None:
    if given is None:
        return current
    return None if isinstance(given, _Clear) else given


@click.command()
@click.argument("stream")
@click.option("--max-count", type=_RULE, help="Keep only the newest N events visible (`none` removes the rule).")
@click.option("--max-age", type=_RULE, help="Hide events older than N seconds (`none` removes the rule).")
@click.option("--show", is_flag=True, help="Print the stream's state instead of changing it.")
@click.pass_context
def metadata(
    ctx: click.Context, stream: str, max_count: int | _Clear | None, max_age: int | _Clear | None, show: bool
) -> None:
    """Set (or --show) STREAM's retention rules; a rule not given keeps its current value."""
    with client_from(ctx) as client:
        if show or (max_count is None and max_age is None):
            info = client.stream_info(stream)
        else:
            try:
                current = client.stream_info(stream).metadata
            except NotFound:
                current = StreamMetadata()
            new = StreamMetadata(_rule(max_count, current.max_count), _rule(max_age, current.max_age))
            info = client.set_stream_metadata(stream, new)
    d = info.to_dict()
    emit(d, lambda i: f"{_info_line(i)}\tmax_count={i['metadata']['max_count']} max_age={i['metadata']['max_age']}")


@click.group()
def snapshot() -> None:
    """Save or get a stream's latest snapshot."""


@snapshot.command("save")
@click.argument("stream")
@click.argument("version", type=click.IntRange(min=0))
@click.option("--payload", help="Snapshot payload as text.")
@click.option("--payload-file", type=click.File("rb"), help="Snapshot payload from a file ('-' = stdin).")
@click.pass_context
def snapshot_save(ctx: click.Context, stream: str, version: int, payload: str | None, payload_file: Any) -> None:
    """Save STREAM's snapshot at VERSION (<= the stream's version, >= the stored snapshot's)."""
    if (payload is None) == (payload_file is None):
        raise InvalidRequest("pass exactly one of --payload or --payload-file")
    data = payload.encode() if payload is not None else payload_file.read()
    with client_from(ctx) as client:
        client.save_snapshot(stream, version, data)
    emit({"stream": stream, "version": version}, f"saved snapshot of {stream} at version {version}")


@snapshot.command("get")
@click.argument("stream")
@click.pass_context
def snapshot_get(ctx: click.Context, stream: str) -> None:
    """Print STREAM's latest snapshot."""
    with client_from(ctx) as client:
        snap = client.get_snapshot(stream)
    d = snap.to_dict()
    emit(d, lambda s: f"{s['stream']}@{s['version']}\t{s.get('payload', s.get('payload_b64'))}")


@click.group()
def schema() -> None:
    """Register or show payload schemas (graveyar_db's schema language, as JSON)."""


@schema.command("upsert")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path))
@click.pass_context
def schema_upsert(ctx: click.Context, file: Path) -> None:
    """Register the schema in FILE (JSON form of eventstore.Schema; '-' = stdin)."""
    text = sys.stdin.read() if str(file) == "-" else file.read_text()
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise InvalidRequest(f"{file} is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidRequest(f"{file} must hold a JSON object")
    with client_from(ctx) as client:
        name = client.upsert_schema(doc)
    emit({"name": name}, f"schema {name} stored")


@schema.command("get")
@click.argument("name")
@click.pass_context
def schema_get(ctx: click.Context, name: str) -> None:
    """Print the schema registered under NAME."""
    with client_from(ctx) as client:
        doc = client.get_schema(name)
    emit(doc, lambda d: json.dumps(d, indent=2, sort_keys=True))
