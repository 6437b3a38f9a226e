"""`graveyar append|read|read-all|subscribe`: write and read events."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from toolkit.cliutil import emit, json_mode, write_json
from toolkit_graveyar.cli.common import client_from, event_from_json, parse_expected, parse_meta
from toolkit_graveyar.core.errors import InvalidRequest

__all__ = ["append", "read", "read_all", "subscribe"]


def _event_line(ev: Any) -> str:
    data = ev.data.decode("utf-8", "replace")
    return f"{ev.position}\t{ev.stream}@{ev.version}\t{ev.event_type}\t{data}"


@click.command()
@click.argument("stream")
@click.option("--type", "event_type", help="Event type (single-event mode).")
@click.option("--data", default="", help="Event data as text (single-event mode).")
@click.option("--id", "event_id", help="Event UUID (default: a fresh uuid4).")
@click.option("--meta", multiple=True, metavar="KEY=VALUE", help="Metadata entry (repeatable).")
@click.option(
    "--events",
    "events_file",
    type=click.File("r"),
    help='JSON lines, one event each: {"type", "data", "id"?, "metadata"?, "transition"?}; "-" = stdin.',
)
@click.option("--expected", default="any", show_default=True, help="any, no_stream, stream_exists or a version.")
@click.pass_context
def append(
    ctx: click.Context,
    stream: str,
    event_type: str | None,
    data: str,
    event_id: str | None,
    meta: tuple[str, ...],
    events_file: Any,
    expected: str,
) -> None:
    """Append events to STREAM atomically (one event from options, or a batch with --events)."""
    from toolkit_graveyar.client import new_event

    exp = parse_expected(expected)
    if events_file is not None:
        if event_type:
            raise InvalidRequest("pass either --type or --events, not both")
        events = []
        for n, line in enumerate(events_file, 1):
            if line.strip():
                try:
                    doc = json.loads(line)
                except ValueError as exc:
                    raise InvalidRequest(f"line {n} is not JSON: {exc}") from None
                events.append(event_from_json(doc, f"line {n}"))
    elif event_type:
        events = [new_event(event_type, data, metadata=parse_meta(meta), event_id=event_id)]
    else:
        raise InvalidRequest("nothing to append", hint="pass --type (and --data), or --events FILE")
    with client_from(ctx) as client:
        result = client.append(stream, events, exp)
    emit(
        result.to_dict(),
        lambda r: (
            f"{r['stream']}: versions {r['first_version']}..{r['version']}, "
            f"positions {r['first_position']}..{r['position']}" + (" (duplicate)" if r["duplicate"] else "")
        ),
    )


def _read(
    ctx: click.Context, stream: str, start: int | None, backward: bool, limit: int, excludes: tuple[str, ...] = ()
) -> None:
    with client_from(ctx) as client:
        events = client.read(stream, start, backward=backward, limit=limit, exclude_stream_prefixes=excludes)
    if json_mode():
        write_json([e.to_dict() for e in events])
    else:
        for e in events:
            click.echo(_event_line(e))


@click.command()
@click.argument("stream")
@click.option("--from", "start", type=click.IntRange(min=0), help="First version to return (inclusive).")
@click.option("--backward", is_flag=True, help="Newest first.")
@click.option("--limit", type=click.IntRange(min=0), default=0, help="At most this many events (0 = all).")
@click.pass_context
def read(ctx: click.Context, stream: str, start: int | None, backward: bool, limit: int) -> None:
    """Read STREAM (JSON: a list of events)."""
    _read(ctx, stream, start, backward, limit)


@click.command("read-all")
@click.option("--from", "start", type=click.IntRange(min=0), help="First global position (inclusive).")
@click.option("--backward", is_flag=True, help="Newest first.")
@click.option("--limit", type=click.IntRange(min=0), default=0, help="At most this many events (0 = all).")
@click.option(
    "--exclude-prefix", "excludes", multiple=True, help="Skip streams starting with this ('$' hides $schema:)."
)
@click.pass_context
def read_all(ctx: click.Context, start: int | None, backward: bool, limit: int, excludes: tuple[str, ...]) -> None:
    """Read the global log ($all) in commit order."""
    _read(ctx, "$all", start, backward, limit, excludes)


@click.command()
@click.argument("stream", default="$all")
@click.option("--after", type=click.IntRange(min=0), help="Deliver events after this version/position.")
@click.option("--prefix", "prefixes", multiple=True, help="Only streams starting with this ($all; repeatable).")
@click.option("--type", "types", multiple=True, help="Only this event type (repeatable).")
@click.option(
    "--exclude-prefix", "excludes", multiple=True, help="Skip streams starting with this ($all; '$' hides $schema:)."
)
@click.option("--count", type=click.IntRange(min=1), help="Exit after this many events.")
@click.option("--until-caught-up", is_flag=True, help="Exit when history is delivered.")
@click.option(
    "--resume-timeout",
    type=click.FloatRange(min=0),
    help="Give up after the server is unreachable this many seconds (default: keep trying).",
)
@click.pass_context
def subscribe(
    ctx: click.Context,
    stream: str,
    after: int | None,
    prefixes: tuple[str, ...],
    types: tuple[str, ...],
    excludes: tuple[str, ...],
    count: int | None,
    until_caught_up: bool,
    resume_timeout: float | None,
) -> None:
    """Follow STREAM (default $all): history, a caught-up marker, then live events (JSON lines)."""
    seen = 0
    with client_from(ctx) as client:
        messages = client.subscribe(
            stream,
            after,
            stream_prefixes=prefixes,
            event_types=types,
            resume_timeout=resume_timeout,
            exclude_stream_prefixes=excludes,
        )
        for msg in messages:
            if msg.kind == "event":
                assert msg.event is not None
                if json_mode():
                    write_json({"event": msg.event.to_dict()})
                else:
                    click.echo(_event_line(msg.event))
                seen += 1
            elif json_mode():
                write_json({msg.kind: msg.at})
            elif msg.kind == "caught_up":
                click.echo(f"-- caught up at {msg.at}", err=True)
            sys.stdout.flush()
            if (count is not None and seen >= count) or (until_caught_up and msg.kind == "caught_up"):
                return
