"""`follow`: print messages as they arrive, with tail/since/where/tag/one/timeout/replay."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from toolkit_plasmite.cli.missing import missing_for_follow, number_text
from toolkit_plasmite.cli.ui import LITE3_FORMATS, Settings, dir_option, get_settings, remember_lite3_format
from toolkit_plasmite.cli.yaml import dump_yaml
from toolkit_plasmite.core.codec import dumps_compact, dumps_pretty
from toolkit_plasmite.core.follow import FollowRun, FollowSource, FollowSpec, LocalSource, StopCheck, StoredEnvelope
from toolkit_plasmite.core.pool import Gap, PoolFile
from toolkit_plasmite.core.values import parse_remote_ref
from toolkit_plasmite.errors import NotFoundError, UsageError

if TYPE_CHECKING:
    from toolkit_plasmite.udp.client import UdpClient, UdpGap, UdpStart
    from toolkit_plasmite.udp.source import UdpSource

__all__ = ["FollowOptions", "follow_command", "print_run"]

TIMEOUT_EXIT = 124


@dataclass
class FollowOptions(FollowSpec):
    """The selection plus how `follow` and `duplex` print and wait."""

    data_only: bool = False
    jsonl: bool = False
    fmt: str | None = None
    quiet_drops: bool = False
    notify: bool = True
    #: Output goes to a program (a pipe, or `--format json` before the command): compact lines.
    machine: bool = False
    #: The command, for its error messages (`follow` or `duplex`).
    command: str = "follow"

    def validate(self) -> None:
        """Check flag combinations (Usage errors)."""
        if self.jsonl and self.fmt is not None:
            raise UsageError("give --jsonl or --format, not both")
        if self.fmt == "lite3-raw":  # plasmite 1.2.1's words
            raise UsageError(
                f"{self.command} does not support --format lite3-raw", hint="Use --format lite3 for a framed stream."
            )
        if self.fmt == "lite3" and self.data_only:
            raise UsageError("--data-only does not apply to --format lite3")
        super().validate()

    @property
    def compact(self) -> bool:
        """True for one compact object per line (`--format json|jsonl`, `--jsonl`, or a pipe)."""
        if self.fmt is not None:
            return self.fmt in ("json", "jsonl")
        return self.jsonl or self.machine


def _gap_notice(settings: Settings, opts: FollowOptions, pool_ref: str, path: str) -> Callable[[Gap], None]:
    def on_gap(gap: Gap) -> None:
        if opts.quiet_drops:
            return
        now = time.monotonic()
        if now - settings.last_drop_notice < 1.0:
            return
        settings.last_drop_notice = now
        settings.notice(
            "drop",
            pool_ref,
            f"fell behind: messages {gap.expected}..{gap.resumed_at - 1} were evicted",
            {
                "last_seen_seq": gap.expected - 1,
                "next_seen_seq": gap.resumed_at,
                "dropped_count": gap.resumed_at - gap.expected,
                "pool_path": path,
            },
        )

    return on_gap


def local_source(settings: Settings, pool_ref: str, pool: PoolFile, opts: FollowOptions) -> LocalSource:
    """A pool file as a follow source, reporting drops and skipped messages as notices."""
    return LocalSource(
        pool,
        notify=opts.notify,
        on_gap=_gap_notice(settings, opts, pool_ref, str(pool.path)),
        on_corrupt=lambda exc: settings.notice(
            "corrupt_skip", pool_ref, f"skipped message {exc.seq}: {exc.message}", {"seq": exc.seq}
        ),
        lite3=opts.fmt == "lite3",
        decode=opts.reads_content,
    )


def print_run(
    source: FollowSource,
    opts: FollowOptions,
    start_seq: int | None = None,
    errors: list[BaseException] | None = None,
    should_stop: StopCheck | None = None,
) -> None:
    """Print a follow run to completion; a failure in `errors` is raised, a timeout exits 124."""
    run = FollowRun(source, opts, start_seq=start_seq, should_stop=should_stop)
    printed = 0
    for env in run:
        if isinstance(env, StoredEnvelope) and opts.fmt == "lite3":
            _write_lite3_frame(env.lite3_frame, first=not printed)
            printed += 1
            continue
        value = env["data"] if opts.data_only else env
        if opts.fmt == "yaml":
            click.echo(dump_yaml(value), nl=False)  # one marked document per message
        else:
            click.echo(dumps_compact(value) if opts.compact else dumps_pretty(value))
        sys.stdout.flush()
        printed += 1
    if errors:
        raise errors[0]
    if run.timed_out:
        if not printed and get_settings().stderr_human:  # a person is waiting: say why it ended
            click.echo(f"No messages received (timed out after {opts.timeout}).", err=True)
        raise click.exceptions.Exit(TIMEOUT_EXIT)


def _write_lite3_frame(frame: bytes, first: bool) -> None:
    """One frame of plasmite's Lite3 stream on stdout; `PLS1` goes before the first."""
    from toolkit_plasmite.core.lite3_api import LITE3_STREAM_MAGIC

    out = sys.stdout.buffer
    if first:
        out.write(LITE3_STREAM_MAGIC)
    out.write(frame)
    out.flush()


def udp_source(settings: Settings, url: str, opts: FollowOptions) -> tuple[UdpClient, UdpSource]:
    """(UdpClient, UdpSource) for a `udp://HOST:PORT/POOL` ref; gaps become `udp-gap` notices."""
    from toolkit_plasmite.core.values import parse_since
    from toolkit_plasmite.udp.client import UdpClient, UdpStart, split_pool_url
    from toolkit_plasmite.udp.source import UdpSource

    endpoint, name = split_pool_url(url)

    def on_gap(gap: UdpGap) -> None:
        if not opts.quiet_drops:
            settings.notice(
                "udp-gap",
                url,
                f"UDP skipped sequences {gap.first} through {gap.last}",
                {"first_seq": gap.first, "last_seq": gap.last, "reason": gap.reason},
            )

    start: UdpStart | None = None
    if opts.since is not None:
        start = UdpStart.since_ns(min(max(0, parse_since(opts.since)), (1 << 64) - 1))  # the wire's u64
    elif opts.tail:
        start = UdpStart.last(opts.tail)  # as plasmite: --tail counts retained messages before filters
    client = UdpClient(endpoint)
    try:
        return client, UdpSource(client, name, start, on_gap, finite=opts.no_follow, lite3=opts.fmt == "lite3")
    except BaseException:
        client.close()
        raise


def follow_udp(settings: Settings, url: str, opts: FollowOptions) -> None:
    """`follow udp://...`: finite reads exit 1 after a skipped range, 9 after a retention gap."""
    client, source = udp_source(settings, url, opts)
    try:
        print_run(source, opts)
    finally:
        source.close()
        client.close()
    if opts.no_follow and source.had_gap:
        raise click.exceptions.Exit(9 if source.retention_gap else 1)


@click.command("follow")
@click.argument("pool")
@click.option(
    "-n",
    "--tail",
    "tail_n",
    type=int,
    default=0,
    show_default=True,
    help="First print the last N retained messages that pass the filters.",
)
@click.option("--since", help="First print retained messages since T (30s, 5m, 2h, 1d or RFC 3339).")
@click.option("--where", multiple=True, help="jq expression on the envelope that must be true (repeatable, AND).")
@click.option("--tag", "tags", multiple=True, help="Required tag (repeatable, AND).")
@click.option("--no-follow", is_flag=True, help="Print retained history (all, or --tail/--since) and exit.")
@click.option("--one", is_flag=True, help="Exit after the first match (history first).")
@click.option("--timeout", help="Exit 124 when nothing was printed for this long (500ms, 5s, 1m).")
@click.option("--data-only", is_flag=True, help="Print only the data object.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["pretty", "json", "jsonl", "yaml", *LITE3_FORMATS]),
    default=None,
    callback=remember_lite3_format,
    help="pretty, json/jsonl (one compact message per line), yaml or lite3 (plasmite's framed Lite3 stream);"
    " default pretty on a terminal, json in a pipe.",
)
@click.option("--jsonl", is_flag=True, help="One compact JSON object per line.")
@click.option("--replay", type=float, default=None, help="Replay --tail/--since with original gaps / SPEED, then exit.")
@click.option("--quiet-drops", is_flag=True, help="No notice when messages were evicted before being read.")
@click.option("--no-notify", is_flag=True, help="Poll only (no inotify wake-ups).")
@click.option("--create", is_flag=True, help="Create the pool if it does not exist.")
@click.option("--token", help="Remote only: bearer token.")
@click.option("--token-file", type=click.Path(dir_okay=False), help="Remote only: file holding the token.")
@click.option("--tls-ca", type=click.Path(dir_okay=False), help="Remote only: CA bundle for the server.")
@click.option("--tls-skip-verify", is_flag=True, help="Remote only: do not verify the server certificate.")
@dir_option
def follow_command(
    pool: str,
    tail_n: int,
    since: str | None,
    where: tuple[str, ...],
    tags: tuple[str, ...],
    no_follow: bool,
    one: bool,
    timeout: str | None,
    data_only: bool,
    fmt: str | None,
    jsonl: bool,
    replay: float | None,
    quiet_drops: bool,
    no_notify: bool,
    create: bool,
    token: str | None,
    token_file: str | None,
    tls_ca: str | None,
    tls_skip_verify: bool,
) -> None:
    """Print POOL's messages as they arrive (pretty JSON unless --jsonl).

    POOL is a name, a path, `http(s)://host:port/pool` or `udp://host:port/pool`.
    """
    from toolkit_plasmite.cli.feed import check_no_remote_flags, open_local_pool, remote_client

    settings = get_settings()
    opts = FollowOptions(
        tail=tail_n,
        since=since,
        where=where,
        tags=tags,
        one=one,
        timeout=timeout,
        data_only=data_only,
        jsonl=jsonl,
        fmt=settings.stream_format(fmt),
        replay=replay,
        quiet_drops=quiet_drops,
        notify=not no_notify,
        no_follow=no_follow,
        machine=settings.machine,
    )
    opts.validate()  # usage errors come before any pool is opened
    if pool.startswith("udp://"):
        rejected = [
            n for n, v in (("--create", create), ("--replay", replay is not None), ("--no-notify", no_notify)) if v
        ]
        if rejected:
            raise UsageError(f"UDP follow does not support {', '.join(rejected)}")
        check_no_remote_flags(token, token_file, tls_ca, tls_skip_verify)
        follow_udp(settings, pool, opts)
        return
    remote = parse_remote_ref(pool)
    if remote is not None:
        rejected = [
            n
            for n, v in (
                ("--create", create),
                ("--since", since is not None),
                ("--replay", replay is not None),
                ("--no-notify", no_notify),
                ("--quiet-drops", quiet_drops),
            )
            if v
        ]
        if rejected:
            raise UsageError(f"remote follow does not support {', '.join(rejected)}")
        from toolkit_plasmite.http.remote import RemotePool, RemoteSource

        client = remote_client(remote.base_url, token, token_file, tls_ca, tls_skip_verify)
        try:
            print_run(RemoteSource(RemotePool(client, remote.pool), opts.tags, lite3=opts.fmt == "lite3"), opts)
        finally:
            client.close()
        return
    check_no_remote_flags(token, token_file, tls_ca, tls_skip_verify)
    if create:
        pf = open_local_pool(pool, settings, True, None)
    else:
        from toolkit_plasmite.core.values import resolve_pool_path

        try:
            pf = PoolFile(resolve_pool_path(pool, settings.pool_dir))
        except NotFoundError as exc:
            raise missing_for_follow(pool, exc, _retry_flags(opts, tail_n)) from None
    try:
        print_run(local_source(settings, pool, pf, opts), opts)
    finally:
        pf.close()


def _retry_flags(opts: FollowOptions, tail_n: int) -> list[str]:
    """The flags given, in the order plasmite 1.2.1 echoes them in its retry hint."""
    flags: list[str] = []
    if tail_n:
        flags += ["--tail", str(tail_n)]
    if opts.one:
        flags.append("--one")
    if opts.timeout is not None:
        flags += ["--timeout", opts.timeout]
    if opts.since is not None:
        flags += ["--since", opts.since]
    for expr in opts.where:
        flags += ["--where", expr]
    for tag in opts.tags:
        flags += ["--tag", tag]
    flags += [f for f, on in (("--quiet-drops", opts.quiet_drops), ("--no-notify", not opts.notify)) if on]
    if opts.replay is not None:
        flags += ["--replay", number_text(opts.replay)]
    flags += [
        f for f, on in (("--no-follow", opts.no_follow), ("--data-only", opts.data_only), ("--jsonl", opts.jsonl)) if on
    ]
    shown = opts.fmt or (None if opts.jsonl else "json" if opts.machine else "pretty")
    if shown not in (None, "pretty"):  # plasmite names the output format unless it is the terminal's
        flags += ["--format", shown]
    return flags
