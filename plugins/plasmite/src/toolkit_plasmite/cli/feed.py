"""`feed`: append records from an argument, a file or stdin, to a local or remote pool."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import click

from toolkit_plasmite.cli.missing import missing_for_feed
from toolkit_plasmite.cli.ui import Settings, binary_stream, get_settings, late_globals
from toolkit_plasmite.core.codec import dumps_compact, dumps_pretty, format_time
from toolkit_plasmite.core.format import DEFAULT_POOL_SIZE
from toolkit_plasmite.core.ingest import Record, RecordParser, iter_chunks, sniff, unwrap_message
from toolkit_plasmite.core.lite3_input import Lite3Parser
from toolkit_plasmite.core.pool import PoolFile
from toolkit_plasmite.core.values import parse_duration, parse_remote_ref, parse_size, resolve_pool_path
from toolkit_plasmite.core.yaml_input import YamlParser, starts_marked
from toolkit_plasmite.errors import BusyError, IoError, NotFoundError, PlasmiteError, UsageError

#: One record to append: its data, its tags, and its Lite3 document when it came as one (kept unchanged).
Item = tuple[Any, list[str], bytes | None]

__all__ = ["feed_command", "isatty", "open_local_pool", "read_records", "remote_options"]


#: The binary input formats (plasmite 1.2): framed Lite3 and one raw Lite3 document.
LITE3_MODES = ("lite3", "lite3-raw")


def remote_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add `--token`, `--token-file`, `--tls-ca`, `--tls-skip-verify` (remote refs only)."""
    func = click.option("--tls-skip-verify", is_flag=True, help="Remote only: do not verify the server certificate.")(
        func
    )
    func = click.option("--tls-ca", type=click.Path(dir_okay=False), help="Remote only: CA bundle for the server.")(
        func
    )
    func = click.option("--token-file", type=click.Path(dir_okay=False), help="Remote only: file holding the token.")(
        func
    )
    return click.option("--token", help="Remote only: bearer token.")(func)


def remote_client(ref_base: str, token: str | None, token_file: str | None, tls_ca: str | None, skip: bool) -> Any:
    """Build a RemoteClient from the remote flags."""
    from toolkit_plasmite.http.remote import RemoteClient

    if token and token_file:
        raise UsageError("give --token or --token-file, not both")
    if token_file:
        try:
            token = Path(token_file).read_text().strip()
        except OSError as exc:
            raise UsageError(f"cannot read --token-file: {exc.strerror}") from None
    return RemoteClient(ref_base, token=token, tls_ca_file=tls_ca, tls_skip_verify=skip)


def check_no_remote_flags(token: str | None, token_file: str | None, tls_ca: str | None, skip: bool) -> None:
    """Remote flags on a local ref are a Usage error."""
    if token or token_file or tls_ca or skip:
        raise UsageError("--token, --token-file, --tls-ca and --tls-skip-verify apply to remote pools only")


def open_local_pool(ref: str, settings: Settings, create: bool, create_size: str | None) -> PoolFile:
    """Open a local pool for writing, creating it with `--create`."""
    from toolkit_plasmite.core.pool import create_pool_file

    path = resolve_pool_path(ref, settings.pool_dir)
    try:
        return PoolFile(path)
    except NotFoundError:
        if not create:
            raise NotFoundError("pool not found", path=str(path), hint="create it first, or pass --create") from None
    size = parse_size(create_size) if create_size else DEFAULT_POOL_SIZE
    try:
        create_pool_file(path, size)
    except PlasmiteError as exc:
        if exc.kind != exc.kind.ALREADY_EXISTS:  # another feeder created it first: fine
            raise
    return PoolFile(path)


def read_records(data: str | None, file: str | None, mode: str, stdin: IO[bytes]) -> Iterator[list[Record]]:
    """Yield batches of parsed records from exactly one source."""
    if data is not None:
        if file is not None:
            raise UsageError("give DATA or --file, not both", hint="exactly one input source")
        chunks: Iterator[bytes] = iter([data.encode("utf-8")])
        if mode == "auto":
            mode = "json"
    elif file is not None and file != "-":
        try:
            fh = open(file, "rb")  # noqa: SIM115 - closed by the generator below
        except OSError as exc:
            raise UsageError(f"cannot read --file {file}: {exc.strerror}") from None
        chunks = _closing(fh)
    else:
        if file is None and isatty(stdin):
            raise UsageError(
                "no input: give DATA, --file, or pipe records on stdin", hint="echo '{\"a\":1}' | plasmite feed POOL"
            )
        chunks = iter_chunks(stdin)
    first = next(chunks, b"")
    parser = _parser(mode, first)
    batch = parser.feed(first)
    if batch:
        yield batch
    _stop_on_failure(parser)
    for chunk in chunks:
        batch = parser.feed(chunk)
        if batch:
            yield batch
        _stop_on_failure(parser)
    tail = parser.finish()
    if tail:
        yield tail
    _stop_on_failure(parser)


def _parser(mode: str, first: bytes) -> RecordParser | Lite3Parser | YamlParser:
    """The parser for `mode`; `auto` looks at the first bytes (Lite3 stream, marked YAML, JSON kinds)."""
    if mode == "yaml" or (mode == "auto" and starts_marked(first)):
        return YamlParser(explicit=mode == "yaml")
    if mode == "auto":
        mode = sniff(first)
        if mode == "unknown":
            raise UsageError("unknown input format")
    return Lite3Parser(mode) if mode in LITE3_MODES else RecordParser(mode)


def _stop_on_failure(parser: object) -> None:
    """YAML framing: an error stops the feed once the documents before it were handed on."""
    failure = getattr(parser, "failure", None)
    if failure is not None:
        raise failure


def _closing(fh: IO[bytes]) -> Iterator[bytes]:
    try:
        yield from iter_chunks(fh)
    finally:
        fh.close()


def isatty(stream: Any) -> bool:
    """True when `stream` is a terminal (False for closed or fake streams)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _with_retry(action: Callable[[], Any], retries: int, delay: float) -> Any:
    attempt = 0
    while True:
        try:
            return action()
        except (BusyError, IoError):
            if attempt >= retries:
                raise
            attempt += 1
            time.sleep(delay)


def _receipt(fmt: str | None, machine: bool, seq: int, ts: int, data: Any, tags: list[str]) -> str:
    """The appended message, as plasmite 1.2.1 prints it: compact in a pipe, pretty on a terminal, or YAML."""
    message = {"data": data, "meta": {"tags": tags}, "seq": seq, "time": format_time(ts)}
    if fmt == "yaml":
        from toolkit_plasmite.cli.yaml import dump_yaml

        return dump_yaml(message).removesuffix("\n")
    return dumps_compact(message) if machine else dumps_pretty(message)


@click.command("feed")
@click.argument("pool")
@click.argument("data", required=False)
@click.option("--tag", "tags", multiple=True, help="Tag for every record (repeatable).")
@click.option(
    "--data",
    "as_data",
    is_flag=True,
    help="Append complete messages ({data, meta, seq, time}) as data too, instead of copying their data and tags.",
)
@click.option("-f", "--file", "file", help="Read records from PATH ('-' for stdin).")
@click.option(
    "-i",
    "--in",
    "--input-format",
    "mode",
    type=click.Choice(["auto", "jsonl", "json", "yaml", "seq", "jq", *LITE3_MODES]),
    default="auto",
    show_default=True,
    help="auto also recognises plasmite's framed Lite3 (PLS1...) and marked YAML documents (--- ... ...);"
    " yaml: marked documents, or one unmarked document through EOF; lite3-raw: one Lite3 document through EOF.",
)
@click.option("-e", "--errors", "errors", type=click.Choice(["stop", "skip"]), default="stop", show_default=True)
@click.option("--durability", type=click.Choice(["fast", "flush"]), default="fast", show_default=True)
@click.option("--create", is_flag=True, help="Create the pool if it does not exist.")
@click.option("--create-size", help="Size for --create (default 1M).")
@click.option("--retry", type=int, default=0, show_default=True, help="Retries on Busy or transient Io errors.")
@click.option("--retry-delay", default=None, help="Delay between retries (default 50ms; needs --retry).")
@remote_options
@late_globals
def feed_command(
    pool: str,
    data: str | None,
    tags: tuple[str, ...],
    as_data: bool,
    file: str | None,
    mode: str,
    errors: str,
    durability: str,
    create: bool,
    create_size: str | None,
    retry: int,
    retry_delay: str | None,
    token: str | None,
    token_file: str | None,
    tls_ca: str | None,
    tls_skip_verify: bool,
) -> None:
    """Append JSON object records to POOL; print one receipt per record.

    Input is DATA, --file, or stdin: JSONL (values may span lines), one JSON document
    (an array feeds each element), JSON-seq, SSE `data:` events, or a jq output stream.
    """
    settings = get_settings()
    if mode in LITE3_MODES and (data is not None or tags or as_data):
        raise UsageError(f"--input-format {mode} takes no DATA argument, --tag or --data", hint="pipe or --file it")
    if mode == "jq" and errors == "skip":
        raise UsageError("--in jq does not support --errors skip", hint="use --errors stop")
    if retry < 0:
        raise UsageError("--retry must be >= 0")
    if retry_delay is not None and retry == 0:
        raise UsageError("--retry-delay requires --retry", hint="add --retry N")
    delay = parse_duration(retry_delay or "50ms")
    tag_list = list(tags)
    append_batch, closer = _appender(
        pool,
        settings,
        durability,
        create,
        create_size,
        retry,
        delay,
        (token, token_file, tls_ca, tls_skip_verify),
    )
    total = ok = failed = 0
    try:
        stdin = binary_stream("stdin")
        for batch in read_records(data, file, mode, stdin):
            good: list[Item] = []
            for rec in batch:
                total += 1
                item, error = _to_item(rec, tag_list, as_data)
                if item is None:
                    failed += 1
                    if errors == "stop":
                        _flush_good(append_batch, good, settings)
                        raise UsageError(
                            f"record {rec.index + 1} rejected: {error}",
                            hint="fix the input, or pass --errors skip",
                        )
                    settings.notice(
                        "ingest_skip",
                        pool,
                        f"skipped record {rec.index + 1}: {error}",
                        {
                            "mode": mode,
                            "index": rec.index,
                            "error_kind": "Usage",
                            "line": rec.line,
                            "snippet": rec.snippet,
                        },
                    )
                    continue
                good.append(item)
            ok += _flush_good(append_batch, good, settings)
        if total == 0 and mode not in (*LITE3_MODES, "yaml"):  # an empty Lite3 stream or YAML input: nothing to do
            raise UsageError("no records in the input", hint="feed at least one JSON object")
    finally:
        closer()
    if failed:
        settings.notice(
            "ingest_summary",
            pool,
            f"{ok} of {total} records fed, {failed} rejected",
            {"total": total, "ok": ok, "failed": failed},
        )
        raise click.exceptions.Exit(1)


def _to_item(rec: Record, tags: list[str], as_data: bool) -> tuple[Item | None, str | None]:
    """The record as what to append, or why it is rejected."""
    if rec.error is not None:
        return None, rec.error
    if rec.doc is not None:  # a Lite3 document carries its own tags
        return (rec.data, rec.doc[1], rec.doc[0]), None
    if as_data:
        return (rec.data, tags, None), None
    try:
        data, msg_tags = unwrap_message(rec.data, tags)
    except UsageError as exc:
        return None, exc.message
    return (data, msg_tags, None), None


def _appender(
    pool: str,
    settings: Settings,
    durability: str,
    create: bool,
    create_size: str | None,
    retry: int,
    delay: float,
    remote_flags: tuple[str | None, str | None, str | None, bool],
) -> tuple[Callable[[list[Item]], list[tuple[int, int]]], Callable[[], None]]:
    """Return (append a batch of (data, tags) -> [(seq, ts)], close) for a local or remote pool.

    A `udp://` pool sends datagrams and returns no (seq, ts): UDP stores without receipts.
    """
    if pool.startswith("udp://"):
        check_no_remote_flags(*remote_flags)
        return _udp_sender(pool, settings, durability, create, create_size, retry)
    remote = parse_remote_ref(pool)
    if remote is not None:
        from toolkit_plasmite.core.codec import parse_time
        from toolkit_plasmite.http.remote import RemotePool

        if create:
            raise UsageError("--create works on local pools only")
        rc = remote_client(remote.base_url, *remote_flags)
        rpool = RemotePool(rc, remote.pool)
        dur = 1 if durability == "flush" else 0

        def append_remote(items: list[Item]) -> list[tuple[int, int]]:
            out = []
            for item in items:  # a Lite3 document travels as its data and tags (a JSON append)

                def send(item: Item = item) -> dict[str, Any]:
                    return rpool.append_value(item[0], item[1], dur)

                env = _with_retry(send, retry, delay)
                out.append((env["seq"], parse_time(env["time"])))
            return out

        return append_remote, rc.close
    check_no_remote_flags(*remote_flags)
    try:
        pf = open_local_pool(pool, settings, create, create_size)
    except NotFoundError as exc:
        raise missing_for_feed(pool, exc) from None
    flush = durability == "flush"

    def append_local(items: list[Item]) -> list[tuple[int, int]]:
        v3 = pf.version == 3
        payloads = [doc if v3 and doc is not None else pf.encode_payload(data, tags) for data, tags, doc in items]
        return list(_with_retry(lambda: pf.append_many(payloads, flush), retry, delay))

    return append_local, pf.close


def _udp_sender(
    url: str, settings: Settings, durability: str, create: bool, create_size: str | None, retry: int
) -> tuple[Callable[[list[Item]], list[tuple[int, int]]], Callable[[], None]]:
    """The UDP feed of plasmite 1.2: one datagram per record, one `udp-send` notice, no stdout."""
    from toolkit_plasmite.udp.client import UdpClient, split_pool_url

    rejected = [
        flag
        for flag, given in (
            ("--create", create),
            ("--create-size", create_size is not None),
            ("--retry", retry > 0),
            ("--durability flush", durability == "flush"),
        )
        if given
    ]
    if rejected:
        raise UsageError(f"UDP feed does not support {', '.join(rejected)}", hint="UDP sends are fire-and-forget")
    endpoint, name = split_pool_url(url)
    client = UdpClient(endpoint)
    pool = client.open_pool(name)
    settings.notice("udp-send", url, _UDP_NOTICE, {})

    def send(items: list[Item]) -> list[tuple[int, int]]:
        for data, tags, doc in items:
            if doc is None:
                pool.send_json(data, tags)
            else:
                pool.send_lite3(doc)
        return []

    return send, client.close


_UDP_NOTICE = (
    "UDP sends do not confirm storage; messages may be lost, duplicated, or reordered.\n"
    "Maximum UDP datagram size: 65507 bytes, including routing and application framing."
)


def _flush_good(
    append_batch: Callable[[list[Item]], list[tuple[int, int]]],
    good: list[Item],
    settings: Settings,
) -> int:
    if not good:
        return 0
    results = append_batch(good)
    n = len(good)
    if not results:  # UDP: sent, never confirmed, so there is no receipt to print
        good.clear()
        return n
    machine = settings.machine
    receipts = [
        _receipt(settings.fmt, machine, seq, ts, d, t) for (seq, ts), (d, t, _doc) in zip(results, good, strict=True)
    ]
    click.echo("\n".join(receipts))  # one write per batch
    sys.stdout.flush()
    good.clear()
    return n
