"""`feed` input: format sniffing and incremental parsing of JSONL, JSON, JSON-seq, SSE and jq streams.

The parser is fed raw chunks as they arrive and returns complete records, so a live
pipe is appended as soon as a record is complete, and a burst of input becomes one
batch under one writer lock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from toolkit_plasmite.core.codec import parse_time
from toolkit_plasmite.errors import UsageError

__all__ = ["MAX_RECORD", "Record", "RecordParser", "iter_chunks", "sniff", "unwrap_message"]

MAX_RECORD = 1024 * 1024
_SSE_PREFIXES = ("data:", "event:", "id:", ":")
#: The first characters of a JSON value (and of a jq output stream).
_JSON_STARTS = frozenset('{["-0123456789tfn')


def _bad_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_bad_constant)


@dataclass
class Record:
    """One input record: its 0-based index, the parsed object or an error, and a snippet."""

    index: int
    data: dict[str, Any] | None
    error: str | None
    line: int
    snippet: str
    #: Lite3 input only: the message document as read (kept byte for byte) and its tags.
    doc: tuple[bytes, list[str]] | None = None


def sniff(head: bytes) -> str:
    """Pick a format from the first bytes: `lite3` (plasmite's framed stream), `seq`, `sse`, `jsonl` or `unknown`."""
    if head.startswith(b"PLS1"):
        return "lite3"
    sample = head[:8192]
    if b"\x1e" in sample:
        return "seq"
    for raw in sample.split(b"\n")[:8]:
        line = raw.strip()
        if not line:
            continue
        text = line.decode("utf-8", "replace")
        if text.startswith(_SSE_PREFIXES):
            return "sse"
        # Nothing we read starts this way (a `# comment`, a bare word, a YAML directive):
        # plasmite 1.2.1 refuses such input up front rather than as a bad first record.
        return "jsonl" if text[0] in _JSON_STARTS else "unknown"
    return "jsonl"


def iter_chunks(stream: IO[bytes], size: int = 65536) -> Iterator[bytes]:
    """Yield raw chunks as soon as they are readable (os.read on real files and pipes)."""
    import os

    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        fd = -1
    while True:
        chunk = os.read(fd, size) if fd >= 0 else stream.read(size)
        if not chunk:
            return
        yield chunk


class RecordParser:
    """Incremental parser for one input format.

    Args:
        mode: `jsonl`, `json`, `seq`, `sse` or `jq` (resolve `auto` with `sniff` first).
    """

    def __init__(self, mode: str) -> None:
        if mode not in ("jsonl", "json", "seq", "sse", "jq"):
            raise UsageError(f"invalid input format {mode!r}", hint="use auto, jsonl, json, seq or jq")
        self.mode = mode
        self._buf = b""
        self._index = 0
        self._line = 0
        self._pending = ""  # jsonl: a multi-line value in progress
        self._pending_line = 0
        self._sse_data: list[str] = []

    # -- helpers
    def _record(self, text: str, line: int, value: Any = None, parsed: bool = False) -> Record:
        idx = self._index
        self._index += 1
        snippet = text.strip()[:120]
        if len(text) > MAX_RECORD // 4 and len(text.encode("utf-8", "replace")) > MAX_RECORD:
            return Record(idx, None, f"record exceeds {MAX_RECORD} bytes", line, snippet)
        if not parsed:
            try:
                value = _DECODER.decode(text)
            except ValueError as exc:
                return Record(idx, None, f"invalid JSON: {exc}", line, snippet)
        if type(value) is not dict:
            return Record(idx, None, "data must be object", line, snippet)
        return Record(idx, value, None, line, snippet)

    def feed(self, chunk: bytes) -> list[Record]:
        """Add input; return the records it completed."""
        self._buf += chunk
        if self.mode == "json":
            return []
        if self.mode == "seq":
            parts = self._buf.split(b"\x1e")
            self._buf = parts.pop()
            return [self._record(p.decode("utf-8", "replace"), self._index + 1) for p in parts if p.strip()]
        if self.mode == "jq":
            return self._jq(final=False)
        lines = self._buf.split(b"\n")
        self._buf = lines.pop()
        if len(self._buf) > MAX_RECORD + 1024:
            raise UsageError(f"input line exceeds {MAX_RECORD} bytes", hint="records are limited to 1 MiB")
        out: list[Record] = []
        for raw in lines:
            self._line += 1
            text = raw.decode("utf-8", "replace").rstrip("\r")
            if self.mode == "sse":
                out.extend(self._sse_line(text))
            else:
                out.extend(self._jsonl_line(text))
        return out

    def finish(self) -> list[Record]:
        """Signal end of input; return the remaining records."""
        out: list[Record] = []
        if self.mode == "json":
            text = self._buf.decode("utf-8", "replace")
            self._buf = b""
            if not text.strip():
                return []
            try:
                value = _DECODER.decode(text)
            except ValueError as exc:
                return [Record(0, None, f"invalid JSON: {exc}", 1, text.strip()[:120])]
            items = value if isinstance(value, list) else [value]
            return [self._record(json.dumps(v), 1, v, parsed=True) for v in items]
        if self.mode == "jq":
            return self._jq(final=True)
        if self.mode == "seq":
            rest = self._buf
            self._buf = b""
            return [self._record(rest.decode("utf-8", "replace"), self._index + 1)] if rest.strip() else []
        if self._buf:
            out.extend(self.feed(b"\n"))
        if self.mode == "sse":
            out.extend(self._sse_line(""))
        elif self._pending.strip():
            out.append(self._record(self._pending, self._pending_line))
            self._pending = ""
        return out

    def _jsonl_line(self, text: str) -> list[Record]:
        if not self._pending and not text.strip():
            return []
        if not self._pending:
            self._pending_line = self._line
        candidate = self._pending + text + "\n" if self._pending else text + "\n"
        try:
            value = _DECODER.decode(candidate)
        except json.JSONDecodeError as exc:
            stripped = candidate.rstrip()
            incomplete = exc.pos >= len(stripped) and stripped[:1] in ("{", "[")
            if incomplete and len(candidate) <= MAX_RECORD:
                self._pending = candidate
                return []
            self._pending = ""
            return [self._record(candidate, self._pending_line)]
        self._pending = ""
        return [self._record(candidate, self._pending_line, value, parsed=True)]

    def _sse_line(self, text: str) -> list[Record]:
        if text == "":
            if not self._sse_data:
                return []
            payload = "\n".join(self._sse_data)
            self._sse_data = []
            return [self._record(payload, self._line)]
        if text.startswith("data:"):
            value = text[5:]
            self._sse_data.append(value[1:] if value.startswith(" ") else value)
        return []

    def _jq(self, final: bool) -> list[Record]:
        text = self._buf.decode("utf-8", "replace") if final else self._decode_prefix()
        out: list[Record] = []
        pos = 0
        while True:
            while pos < len(text) and text[pos] in " \t\r\n":
                pos += 1
            if pos >= len(text):
                break
            try:
                value, end = _DECODER.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                if not final and exc.pos >= len(text.rstrip()):
                    break
                out.append(Record(self._index, None, f"invalid JSON: {exc}", 0, text[pos : pos + 120]))
                self._index += 1
                pos = len(text)
                break
            out.append(self._record(text[pos:end], 0, value, parsed=True))
            pos = end
        consumed = text[:pos].encode("utf-8")
        self._buf = self._buf[len(consumed) :]
        return out

    def _decode_prefix(self) -> str:
        # Only decode complete UTF-8 sequences; a chunk may end inside one.
        for cut in range(4):
            try:
                return self._buf[: len(self._buf) - cut].decode("utf-8")
            except UnicodeDecodeError:
                continue
        return self._buf.decode("utf-8", "replace")


#: A message as `feed`, `fetch` and `follow` print it: exactly these keys (plasmite 1.2.1).
_MESSAGE_KEYS = frozenset(("data", "meta", "seq", "time"))


def unwrap_message(value: Any, extra_tags: list[str]) -> tuple[Any, list[str]]:
    """Return (data, tags) to append for one input object, as plasmite 1.2.1's `feed` does.

    A complete message (exactly `data`, `meta: {tags}`, `seq`, `time`, as another command
    printed it) is appended as its own data and tags, so `plasmite follow A | plasmite feed B`
    copies messages; anything else is data, tagged with `extra_tags` (`--tag`).

    Raises:
        UsageError: a complete message with `--tag`, or one whose fields are invalid.
    """
    if not (isinstance(value, dict) and value.keys() == _MESSAGE_KEYS):
        return value, extra_tags
    meta = value["meta"]
    if not (isinstance(meta, dict) and meta.keys() == {"tags"}):
        return value, extra_tags
    if extra_tags:
        raise UsageError(
            "complete messages supply their own tags",
            hint="remove --tag, or pass --data to append the message itself as data",
        )
    tags, seq, time_text, data = meta["tags"], value["seq"], value["time"], value["data"]
    valid = (
        isinstance(tags, list)
        and all(isinstance(t, str) for t in tags)
        and isinstance(seq, int)
        and not isinstance(seq, bool)
        and seq >= 0
        and isinstance(time_text, str)
        and _is_rfc3339(time_text)
        and isinstance(data, dict)
    )
    if not valid:
        raise UsageError(
            "invalid complete message",
            hint="expected seq, RFC 3339 time, meta.tags strings and object data (or pass --data)",
        )
    return data, list(tags)


def _is_rfc3339(text: str) -> bool:
    try:
        parse_time(text)
    except ValueError:
        return False
    return True
