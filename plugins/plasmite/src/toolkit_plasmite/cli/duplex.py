"""`duplex`: follow a local or remote pool while appending what is typed or piped into it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import IO, Any

import click

from toolkit_plasmite.cli.feed import isatty, open_local_pool, read_records
from toolkit_plasmite.cli.follow import FollowOptions, local_source, print_run
from toolkit_plasmite.cli.ui import LITE3_FORMATS, binary_stream, dir_option, get_settings, remember_lite3_format
from toolkit_plasmite.core.follow import FollowSource
from toolkit_plasmite.core.values import parse_remote_ref
from toolkit_plasmite.errors import UsageError

__all__ = ["duplex_command"]

#: Appends a batch of objects to the pool.
AppendBatch = Callable[[list[dict[str, Any]]], None]


class _Pump(threading.Thread):
    """Reads stdin and appends it: chat lines on a terminal, JSON records otherwise; `done` at end of input."""

    def __init__(self, stdin: IO[bytes], interactive: bool, me: str | None, append: AppendBatch) -> None:
        super().__init__(daemon=True, name="duplex-stdin")
        self.stdin = stdin
        self.interactive = interactive
        self.me = me
        self.append = append
        self.done = threading.Event()
        self.errors: list[BaseException] = []

    def run(self) -> None:
        try:
            if self.interactive:
                for raw in iter(self.stdin.readline, b""):
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    if line:
                        self.append([{"from": self.me, "msg": line}])
            else:
                for batch in read_records(None, None, "auto", self.stdin):
                    good = [r.data for r in batch if r.data is not None]
                    if good:
                        self.append(good)
        except BaseException as exc:  # reported by the follower, which stops on it
            self.errors.append(exc)
        finally:
            self.done.set()


@click.command("duplex")
@click.argument("pool")
@click.option("--me", help='Your name: terminal lines become {"from": ME, "msg": LINE}; your messages are hidden.')
@click.option("--create", is_flag=True, help="Create the pool if it does not exist (local pools).")
@click.option("-n", "--tail", "tail_n", type=int, default=0, show_default=True, help="First print the last N messages.")
@click.option("--jsonl", is_flag=True, help="One compact JSON object per line.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["pretty", "json", "jsonl", "yaml", *LITE3_FORMATS]),
    default=None,
    callback=remember_lite3_format,
    help="As `follow` (lite3: plasmite's framed Lite3 stream of the messages shown).",
)
@click.option("--timeout", help="Exit 124 when nothing was printed for this long.")
@click.option("--since", help="Print retained messages since T first (30s, 5m, RFC 3339; local pools).")
@click.option("--echo-self", is_flag=True, help="Also show messages whose data.from is ME.")
@dir_option
def duplex_command(
    pool: str,
    me: str | None,
    create: bool,
    tail_n: int,
    jsonl: bool,
    fmt: str | None,
    timeout: str | None,
    since: str | None,
    echo_self: bool,
) -> None:
    """Follow POOL while appending what you type (or pipe) into it; piped input ends it at its end.

    POOL may be `udp://HOST:PORT/POOL`: records go out as datagrams and the session ends
    once the records it sent came back or the stream was quiet for a second.
    """
    settings = get_settings()
    opts = FollowOptions(
        tail=tail_n,
        since=since,
        jsonl=jsonl,
        fmt=settings.stream_format(fmt),
        timeout=timeout,
        hide_from=None if echo_self else me,
        machine=settings.machine,
        command="duplex",
    )
    opts.validate()
    udp = pool.startswith("udp://")
    remote = None if udp else parse_remote_ref(pool)
    if udp and create:
        raise UsageError("UDP duplex does not support --create")
    if remote is not None:
        rejected = [flag for flag, given in (("--create", create), ("--since", since is not None)) if given]
        if rejected:
            raise UsageError(
                f"remote duplex does not support {', '.join(rejected)}", hint="use --tail for remote history"
            )
    stdin = binary_stream("stdin")
    interactive = isatty(stdin)
    if interactive and not me:
        raise UsageError("--me is required on a terminal", hint="plasmite duplex chat --me alice")
    closers: list[Callable[[], None]] = []
    source: FollowSource
    try:
        if udp:
            from toolkit_plasmite.cli.follow import udp_source

            client, usource = udp_source(settings, pool, opts)
            closers += [usource.close, client.close]
            source = usource

            def append(objs: list[dict[str, Any]]) -> None:
                for obj in objs:
                    usource.send(obj)  # expected back before an end of input ends the session

            start = usource.live_edge()
        elif remote is not None:
            from toolkit_plasmite.http.remote import RemoteClient, RemotePool, RemoteSource

            reader, writer = RemoteClient(remote.base_url), RemoteClient(remote.base_url)  # one per thread
            closers += [reader.close, writer.close]
            rpool = RemotePool(writer, remote.pool)
            source = RemoteSource(RemotePool(reader, remote.pool), lite3=opts.fmt == "lite3")

            def append(objs: list[dict[str, Any]]) -> None:
                for obj in objs:
                    rpool.append_value(obj)

            start = source.live_edge() or 1  # an empty pool: our own first message is seq 1
        else:
            pf = open_local_pool(pool, settings, create, None)
            closers.append(pf.close)
            source = local_source(settings, pool, pf, opts)

            def append(objs: list[dict[str, Any]]) -> None:
                pf.append_many([pf.encode_payload(o) for o in objs])

            start = pf.last_seq() + 1
        pump = _Pump(stdin, interactive, me, append)
        pump.start()  # after the live edge was taken, so our own first lines are not skipped
        print_run(source, opts, start_seq=start, errors=pump.errors, should_stop=pump.done.is_set)
    finally:
        for close in closers:
            close()
