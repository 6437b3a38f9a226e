"""`follow`: print messages as they arrive, with tail/since/where/tag/one/timeout/replay."""

from __future__ import annotations

import math
import sys
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import click

from toolkit_plasmite.cli.ui import Settings, get_settings
from toolkit_plasmite.core.codec import dumps_compact, dumps_pretty, envelope
from toolkit_plasmite.core.pool import Gap, PoolFile
from toolkit_plasmite.core.tail import Message4, follow, has_tags, retained
from toolkit_plasmite.core.values import parse_duration, parse_remote_ref, parse_since
from toolkit_plasmite.core.where import WhereFilter
from toolkit_plasmite.errors import UsageError

__all__ = ["FollowOptions", "follow_command", "run_follow"]

TIMEOUT_EXIT = 124


@dataclass
class FollowOptions:
    """Everything that shapes a follow (shared by `follow` and `duplex`)."""

    tail: int = 0
    since: str | None = None
    where: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    one: bool = False
    timeout: str | None = None
    data_only: bool = False
    jsonl: bool = False
    fmt: str | None = None
    replay: float | None = None
    quiet_drops: bool = False
    notify: bool = True
    no_follow: bool = False
    hide_from: str | None = None
    filters: WhereFilter | None = field(default=None, repr=False)

    def validate(self) -> None:
        """Check flag combinations (Usage errors)."""
        if self.jsonl and self.fmt is not None:
            raise UsageError("give --jsonl or --format, not both")
        if self.tail < 0:
            raise UsageError("--tail must be >= 0")
        if self.since is not None and self.tail:
            raise UsageError("--since and --tail exclude each other")
        if self.replay is not None:
            if not math.isfinite(self.replay) or self.replay < 0:
                raise UsageError("--replay SPEED must be a finite number >= 0")
            if not self.tail and self.since is None:
                raise UsageError("--replay needs --tail or --since", hint="plasmite follow POOL --tail 100 --replay 2")
        self.filters = WhereFilter(self.where)

    @property
    def compact(self) -> bool:
        """True for one compact object per line."""
        return self.jsonl or self.fmt == "jsonl"


class _Printer:
    def __init__(self, opts: FollowOptions) -> None:
        self.opts = opts
        self.emitted = 0

    def matches(self, env: dict[str, Any]) -> bool:
        opts = self.opts
        if opts.tags and not has_tags(env["meta"]["tags"], opts.tags):
            return False
        if opts.hide_from is not None and env["data"].get("from") == opts.hide_from:
            return False
        return not (opts.filters and not opts.filters.matches(env))

    def emit(self, env: dict[str, Any]) -> None:
        value = env["data"] if self.opts.data_only else env
        click.echo(dumps_compact(value) if self.opts.compact else dumps_pretty(value))
        sys.stdout.flush()
        self.emitted += 1


def _env(m: Message4) -> dict[str, Any]:
    return envelope(m[0], m[1], m[2], m[3])


def _gap_notice(settings: Settings, opts: FollowOptions, pool_ref: str, path: str) -> Any:
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


def _backlog(pool: PoolFile, opts: FollowOptions, printer: _Printer, start_seq: int) -> list[dict[str, Any]] | None:
    """Retained matches selected by --since or --tail (None: --since is in the future, nothing to do)."""
    if opts.since is not None:
        since_ns = parse_since(opts.since)
        if since_ns > time.time_ns():
            return None
        out = []
        for m in retained(pool):
            if m[0] >= start_seq:
                break
            if m[1] >= since_ns:
                env = _env(m)
                if printer.matches(env):
                    out.append(env)
        return out
    if not opts.tail and not opts.no_follow:
        return []
    window: deque[dict[str, Any]] = deque(maxlen=opts.tail or None)
    for m in retained(pool):
        if m[0] >= start_seq:
            break
        env = _env(m)
        if printer.matches(env):
            window.append(env)
    return list(window)


def run_follow(
    settings: Settings,
    pool_ref: str,
    pool: PoolFile,
    opts: FollowOptions,
    errors: list[BaseException] | None = None,
    start_seq: int | None = None,
) -> None:
    """Run a local follow to completion (raises Exit(124) on timeout)."""
    opts.validate()
    printer = _Printer(opts)
    timeout = parse_duration(opts.timeout) if opts.timeout else None
    if start_seq is None:
        start_seq = pool.last_seq() + 1
    backlog = _backlog(pool, opts, printer, start_seq)
    if backlog is None:
        return
    matched = len(backlog)
    if opts.one and opts.tail:
        if matched >= opts.tail:
            printer.emit(backlog[-1])
            return
        backlog = []
    elif opts.one and backlog:
        printer.emit(backlog[0])
        return
    if opts.replay is not None:
        _replay(printer, backlog, opts.replay)
        return
    for env in backlog:
        printer.emit(env)
    if opts.no_follow:
        return
    stream = follow(
        pool,
        since_seq=start_seq,
        timeout=timeout,
        notify=opts.notify,
        on_gap=_gap_notice(settings, opts, pool_ref, str(pool.path)),
        on_corrupt=lambda exc: settings.notice(
            "corrupt_skip", pool_ref, f"skipped message {exc.seq}: {exc.message}", {"seq": exc.seq}
        ),
        should_stop=(lambda: bool(errors)) if errors is not None else None,
    )
    finished = _drain(stream, printer, opts, matched)
    if errors:
        raise errors[0]
    if not finished and timeout is not None:
        raise click.exceptions.Exit(TIMEOUT_EXIT)


def _drain(stream: Iterator[Message4], printer: _Printer, opts: FollowOptions, matched: int) -> bool:
    """Print matches from `stream`; True when `--one` completed (the stream ended on purpose)."""
    for m in stream:
        env = _env(m)
        if not printer.matches(env):
            continue
        matched += 1
        if opts.one:
            if not opts.tail or matched >= opts.tail:
                printer.emit(env)
                return True
            continue
        printer.emit(env)
    return False


def _replay(printer: _Printer, backlog: list[dict[str, Any]], speed: float) -> None:
    from toolkit_plasmite.core.codec import parse_time

    prev: int | None = None
    for env in backlog:
        ts = parse_time(env["time"])
        if prev is not None and speed > 0:
            delay = (ts - prev) / 1e9 / speed
            if delay > 0:
                time.sleep(delay)
        prev = ts
        printer.emit(env)


def _remote_history(rpool: Any, bounds: dict[str, int], printer: _Printer, tail: int) -> deque[dict[str, Any]]:
    """The retained matches of a remote pool (the last `tail` of them, or all when 0)."""
    window: deque[dict[str, Any]] = deque(maxlen=tail or None)
    total = int(bounds["newest"]) - int(bounds["oldest"]) + 1
    for env in rpool.iter_envelopes(int(bounds["oldest"]), total, 2000):
        if printer.matches(env):
            window.append(env)
        if env["seq"] >= int(bounds["newest"]):
            break
    return window


def run_remote_follow(pool_ref: str, opts: FollowOptions, client: Any, pool_name: str) -> None:
    """Follow a pool served over HTTP."""
    from toolkit_plasmite.http.remote import RemotePool

    opts.validate()
    printer = _Printer(opts)
    timeout = parse_duration(opts.timeout) if opts.timeout else None
    rpool = RemotePool(client, pool_name)
    info = rpool.info()
    bounds = info.get("bounds") or {}
    start_seq = int(bounds["newest"]) + 1 if bounds else None
    matched = 0
    if (opts.tail or opts.no_follow) and bounds:
        window = _remote_history(rpool, bounds, printer, opts.tail)
        matched = len(window)
        if opts.one and window and matched >= opts.tail:
            printer.emit(window[-1] if opts.tail else window[0])
            return
        if not opts.one:
            for env in window:
                printer.emit(env)
    if opts.no_follow:
        return
    timeout_ms = None if timeout is None else int(timeout * 1000)
    stream = rpool.iter_envelopes(start_seq, None, timeout_ms, opts.tags, False, live=True)
    for env in stream:
        if not printer.matches(env):
            continue
        matched += 1
        if opts.one:
            if not opts.tail or matched >= opts.tail:
                printer.emit(env)
                return
            continue
        printer.emit(env)
    if timeout is not None:
        raise click.exceptions.Exit(TIMEOUT_EXIT)


@click.command("follow")
@click.argument("pool")
@click.option("-n", "--tail", "tail_n", type=int, default=0, show_default=True, help="First print the last N matches.")
@click.option("--since", help="First print retained messages since T (30s, 5m, 2h, 1d or RFC 3339).")
@click.option("--where", multiple=True, help="jq expression on the envelope that must be true (repeatable, AND).")
@click.option("--tag", "tags", multiple=True, help="Required tag (repeatable, AND).")
@click.option("--no-follow", is_flag=True, help="Print retained history (all, or --tail/--since) and exit.")
@click.option("--one", is_flag=True, help="Exit after the first match (with --tail N: once N matches exist).")
@click.option("--timeout", help="Exit 124 when nothing was printed for this long (500ms, 5s, 1m).")
@click.option("--data-only", is_flag=True, help="Print only the data object.")
@click.option("--format", "fmt", type=click.Choice(["pretty", "jsonl"]), default=None)
@click.option("--jsonl", is_flag=True, help="One compact JSON object per line.")
@click.option("--replay", type=float, default=None, help="Replay --tail/--since with original gaps / SPEED, then exit.")
@click.option("--quiet-drops", is_flag=True, help="No notice when messages were evicted before being read.")
@click.option("--no-notify", is_flag=True, help="Poll only (no inotify wake-ups).")
@click.option("--create", is_flag=True, help="Create the pool if it does not exist.")
@click.option("--token", help="Remote only: bearer token.")
@click.option("--token-file", type=click.Path(dir_okay=False), help="Remote only: file holding the token.")
@click.option("--tls-ca", type=click.Path(dir_okay=False), help="Remote only: CA bundle for the server.")
@click.option("--tls-skip-verify", is_flag=True, help="Remote only: do not verify the server certificate.")
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
    """Print POOL's messages as they arrive (pretty JSON unless --jsonl)."""
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
        fmt=fmt,
        replay=replay,
        quiet_drops=quiet_drops,
        notify=not no_notify,
        no_follow=no_follow,
    )
    if timeout:
        parse_duration(timeout)
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
        client = remote_client(remote.base_url, token, token_file, tls_ca, tls_skip_verify)
        try:
            run_remote_follow(pool, opts, client, remote.pool)
        finally:
            client.close()
        return
    check_no_remote_flags(token, token_file, tls_ca, tls_skip_verify)
    if create:
        pf = open_local_pool(pool, settings, True, None)
    else:
        from toolkit_plasmite.core.values import resolve_pool_path

        pf = PoolFile(resolve_pool_path(pool, settings.pool_dir))
    try:
        run_follow(settings, pool, pf, opts)
    finally:
        pf.close()
