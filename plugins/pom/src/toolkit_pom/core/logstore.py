"""The block log store: per-process logs in 128-line blocks with copy-on-write snapshots.

Layout and semantics are specs/pom/log-store.md. This module is pure data: no asyncio,
no threads of its own. One writer lock per process log serialises writers (the pipe
reader thread and pom's own event lines); readers never take it.
"""

from __future__ import annotations

import sys
import threading
from array import array
from collections.abc import Iterator
from itertools import accumulate, repeat
from typing import Any, NamedTuple

from toolkit_pom.core.record import Record
from toolkit_pom.core.regex import Pattern, PatternError, compile_pattern

__all__ = [
    "BLOCK_LINES",
    "MAX_LINE_BYTES",
    "POM",
    "STDERR",
    "STDOUT",
    "STREAMS",
    "Block",
    "LogLine",
    "LogResult",
    "LogSnapshot",
    "LogStore",
    "ProcessLog",
    "split_chunk",
    "stream_code",
]

POM, STDOUT, STDERR = 0, 1, 2
STREAMS = ("pom", "stdout", "stderr")
BLOCK_LINES = 128
MAX_LINE_BYTES = 16 * 1024
#: Per-line metadata cost: uint32 end offset + float64 timestamp + uint8 stream.
META_BYTES = 13
MAX_LIMIT = 100_000
DEFAULT_TAIL = 100


def stream_code(name: str | None) -> int | None:
    """Map `stdout`/`stderr`/`pom` (or None for all) to the stored stream code.

    Raises:
        ValueError: unknown stream name.
    """
    if name is None:
        return None
    try:
        return STREAMS.index(name)
    except ValueError:
        raise ValueError(f"unknown stream {name!r} (use stdout, stderr or pom)") from None


class LogLine(NamedTuple):
    """One stored line as returned by queries."""

    id: int
    ts: float
    stream: str
    text: str

    def to_dict(self, process: str) -> dict[str, Any]:
        """Return the JSON form `{process, id, ts, stream, text}`."""
        return {"process": process, "id": self.id, "ts": self.ts, "stream": self.stream, "text": self.text}


class Block:
    """Up to 128 lines: one text buffer and compact per-line arrays; ids are `first_id + index`."""

    __slots__ = ("ends", "first_id", "streams", "text", "ts")

    def __init__(self, first_id: int) -> None:
        self.first_id = first_id
        self.text: bytearray | bytes = bytearray()
        self.ends = array("I")
        self.ts = array("d")
        self.streams = bytearray()

    @property
    def count(self) -> int:
        """Lines in the block (the stream array is appended last, so it bounds the others)."""
        return len(self.streams)

    def nbytes(self) -> int:
        """Bytes counted against retention: text plus 13 bytes of metadata per line."""
        return len(self.text) + META_BYTES * len(self.streams)

    def seal(self) -> None:
        """Freeze a full block: its text becomes immutable bytes without over-allocation."""
        self.text = bytes(self.text)

    def line(self, index: int) -> LogLine:
        """Return line `index` decoded."""
        start = self.ends[index - 1] if index else 0
        return LogLine(
            self.first_id + index,
            self.ts[index],
            STREAMS[self.streams[index]],
            self.text[start : self.ends[index]].decode("utf-8", "replace"),
        )

    def lines(self, first: int, stop: int) -> list[LogLine]:
        """Return lines `first` to `stop - 1` decoded (the unfiltered read path, ~2x `line` per line)."""
        text, ends, ts, streams, base = self.text, self.ends, self.ts, self.streams, self.first_id
        start = ends[first - 1] if first else 0
        out = []
        for j in range(first, stop):
            end = ends[j]
            out.append(LogLine(base + j, ts[j], STREAMS[streams[j]], text[start:end].decode("utf-8", "replace")))
            start = end
        return out

    def memory(self) -> int:
        """Return the real memory held by this block's objects (for measurement)."""
        return (
            sys.getsizeof(self)
            + sys.getsizeof(self.text)
            + sys.getsizeof(self.ends)
            + sys.getsizeof(self.ts)
            + sys.getsizeof(self.streams)
        )


class LogResult(Record, frozen=True):
    """A query answer (specs/pom/log-store.md#queries)."""

    lines: list[LogLine]
    gap: dict[str, int] | None
    first_id: int
    last_id: int
    next_after_id: int


class _Filter:
    def __init__(self, stream: int | None, contains: str | None, regex: Pattern | None) -> None:
        self.stream = stream
        self.needle = contains
        self.needle_bytes = contains.encode() if contains else None
        self.regex = regex
        self.text_filter = contains is not None or regex is not None

    def block_may_match(self, block: Block) -> bool:
        # A substring that is in no line is not in the block's buffer either: skip whole blocks cheaply.
        return self.needle_bytes is None or self.needle_bytes in block.text

    def match(self, block: Block, index: int) -> LogLine | None:
        if self.stream is not None and block.streams[index] != self.stream:
            return None
        line = block.line(index)
        if self.needle is not None and self.needle not in line.text:
            return None
        if self.regex is not None and not self.regex.search(line.text):
            return None
        return line


class LogSnapshot(Record, frozen=True):
    """A consistent, immutable view of one process log: blocks plus the open block's line count."""

    blocks: tuple[Block, ...]
    open_count: int
    evicted_lines: int

    @property
    def first_id(self) -> int:
        """Oldest retained id (0 when empty)."""
        return self.blocks[0].first_id if self.blocks and self.line_count else 0

    @property
    def last_id(self) -> int:
        """Newest id (0 when nothing was ever stored)."""
        if not self.blocks:
            return 0
        return self.blocks[-1].first_id + self.open_count - 1

    @property
    def line_count(self) -> int:
        """Lines retained."""
        return (len(self.blocks) - 1) * BLOCK_LINES + self.open_count if self.blocks else 0

    def _count(self, i: int) -> int:
        return self.open_count if i == len(self.blocks) - 1 else BLOCK_LINES

    def iter_from(self, after_id: int) -> Iterator[tuple[Block, int]]:
        """Yield `(block, index)` for every retained line with id > after_id, oldest first."""
        if not self.blocks:
            return
        base = self.blocks[0].first_id
        start = max(after_id + 1, base)
        bi = (start - base) // BLOCK_LINES
        for i in range(bi, len(self.blocks)):
            block = self.blocks[i]
            first = start - block.first_id if i == bi else 0
            for j in range(first, self._count(i)):
                yield block, j

    def _forward_all(self, after_id: int, want: int) -> list[LogLine]:
        """Up to `want` lines after `after_id`, unfiltered: whole block ranges at a time."""
        out: list[LogLine] = []
        if not self.blocks:
            return out
        base = self.blocks[0].first_id
        start = max(after_id + 1, base)
        for i in range((start - base) // BLOCK_LINES, len(self.blocks)):
            block = self.blocks[i]
            first = max(start - block.first_id, 0)
            stop = min(self._count(i), first + want - len(out))
            if stop > first:
                out += block.lines(first, stop)
            if len(out) >= want:
                break
        return out

    def iter_back(self) -> Iterator[tuple[Block, int]]:
        """Yield `(block, index)` newest first."""
        for i in range(len(self.blocks) - 1, -1, -1):
            block = self.blocks[i]
            for j in range(self._count(i) - 1, -1, -1):
                yield block, j

    def query(
        self,
        *,
        stream: str | None = None,
        after_id: int | None = None,
        limit: int | None = None,
        contains: str | None = None,
        regex: str | Pattern | None = None,
    ) -> LogResult:
        """Filter and page the snapshot (specs/pom/log-store.md#queries).

        Raises:
            ValueError: bad stream, limit or regular expression.
        """
        if limit is not None and (limit < 0 or limit > MAX_LIMIT):
            raise ValueError(f"limit must be between 0 and {MAX_LIMIT}")
        if after_id is not None and after_id < 0:
            raise ValueError("after_id must be >= 0")
        try:
            pattern = compile_pattern(regex) if isinstance(regex, str) else regex
        except PatternError as exc:
            raise ValueError(f"bad regular expression: {exc}") from None
        filt = _Filter(stream_code(stream), contains, pattern)
        first_id, last_id = self.first_id, self.last_id
        lines: list[LogLine] = []
        gap = None
        if after_id is None:
            want = DEFAULT_TAIL if limit is None else limit
            if want:
                lines = self._tail(filt, want)
            lines.reverse()
            next_after = last_id
        else:
            oldest = first_id if self.line_count else last_id + 1
            if after_id + 1 < oldest and self.blocks:
                gap = {"after_id": after_id, "first_id": oldest, "missed": oldest - after_id - 1}
            want = MAX_LIMIT if limit is None else limit
            if want:
                lines = self._forward(filt, after_id, want)
            # A full page stops at its last line; otherwise the whole snapshot was examined.
            next_after = lines[-1].id if want and len(lines) >= want else max(after_id, last_id)
        return LogResult(lines, gap, first_id, last_id, next_after)

    def _tail(self, filt: _Filter, want: int) -> list[LogLine]:
        out: list[LogLine] = []
        if not filt.text_filter and filt.stream is None:
            for i in range(len(self.blocks) - 1, -1, -1):
                count = self._count(i)
                out += reversed(self.blocks[i].lines(max(0, count - (want - len(out))), count))
                if len(out) >= want:
                    break
            return out
        skip: Block | None = None
        for block, j in self.iter_back():
            if block is skip:
                continue
            if not filt.block_may_match(block):
                skip = block
                continue
            line = filt.match(block, j)
            if line is not None:
                out.append(line)
                if len(out) >= want:
                    break
        return out

    def _forward(self, filt: _Filter, after_id: int, want: int) -> list[LogLine]:
        if not filt.text_filter and filt.stream is None:
            return self._forward_all(after_id, want)
        out: list[LogLine] = []
        skip: Block | None = None
        for block, j in self.iter_from(after_id):
            if block is skip:
                continue
            if filt.text_filter and not filt.block_may_match(block):
                skip = block
                continue
            line = filt.match(block, j) if (filt.text_filter or filt.stream is not None) else block.line(j)
            if line is not None:
                out.append(line)
                if len(out) >= want:
                    break
        return out


class ProcessLog:
    """The log of one process instance: a list of blocks under a byte bound.

    Args:
        name: The instance name.
        max_bytes: Retention bound; whole oldest blocks are evicted beyond it.
    """

    def __init__(self, name: str, max_bytes: int) -> None:
        self.name = name
        self.max_bytes = max_bytes
        self.lock = threading.Lock()
        self._blocks: tuple[Block, ...] = ()
        self.next_id = 1
        self.bytes = 0
        self.evicted_lines = 0
        self.evicted_bytes = 0
        self.split_lines = 0

    def append(self, stream: int, lines: list[bytes], ts: float) -> None:
        """Append lines (without newlines, each at most MAX_LINE_BYTES) read at time `ts`."""
        total = len(lines)
        if not total:
            return
        code = bytes((stream,))
        with self.lock:
            i = 0
            while i < total:
                block = self._blocks[-1] if self._blocks else None
                if block is None or len(block.streams) >= BLOCK_LINES:
                    if block is not None:
                        block.seal()
                    block = Block(self.next_id)
                    self._blocks = (*self._blocks, block)
                room = BLOCK_LINES - len(block.streams)
                part = lines if (i == 0 and total <= room) else lines[i : i + room]
                count = len(part)
                text = block.text
                assert isinstance(text, bytearray)
                base = len(text)
                joined = b"".join(part)
                text += joined
                ends = accumulate(map(len, part), initial=base)
                next(ends)
                block.ends.extend(ends)
                block.ts.extend(repeat(ts, count))
                block.streams += code * count
                self.bytes += len(joined) + META_BYTES * count
                self.next_id += count
                i += count
            self._evict()

    def _evict(self) -> None:
        blocks = self._blocks
        drop = 0
        while self.bytes > self.max_bytes and len(blocks) - drop > 1:
            block = blocks[drop]
            self.bytes -= block.nbytes()
            self.evicted_bytes += block.nbytes()
            self.evicted_lines += block.count
            drop += 1
        if drop:
            self._blocks = blocks[drop:]

    def truncate(self) -> int:
        """Drop every retained line, counted as evicted (ids go on); return how many were dropped."""
        with self.lock:
            dropped = sum(block.count for block in self._blocks)
            self.evicted_lines += dropped
            self.evicted_bytes += self.bytes
            self.bytes = 0
            # An empty open block, not none: last_id stays the newest id ever stored.
            self._blocks = (Block(self.next_id),)
        return dropped

    def append_text(self, stream: int, text: str, ts: float) -> None:
        """Append one line of text (pom's own event lines), splitting it like child output."""
        pieces = split_chunk(b"", text.encode("utf-8", "replace") + b"\n")[0]
        self.append(stream, pieces, ts)

    def snapshot(self) -> LogSnapshot:
        """Return a snapshot without taking the writer lock."""
        blocks = self._blocks
        return LogSnapshot(blocks, blocks[-1].count if blocks else 0, self.evicted_lines)

    def stats(self) -> dict[str, int]:
        """Return `{first_id, last_id, lines, bytes, evicted_lines}`."""
        snap = self.snapshot()
        return {
            "first_id": snap.first_id,
            "last_id": snap.last_id,
            "lines": snap.line_count,
            "bytes": self.bytes,
            "evicted_lines": self.evicted_lines,
        }

    def memory(self) -> int:
        """Return the real memory held by the blocks (text included), for measurement."""
        blocks = self._blocks
        return sys.getsizeof(blocks) + sum(b.memory() for b in blocks)


def split_chunk(carry: bytes, data: bytes) -> tuple[list[bytes], bytes]:
    r"""Split `carry + data` into complete lines and the unterminated rest.

    `\\r\\n` counts as one line end; lines longer than MAX_LINE_BYTES are cut into pieces, and an
    unterminated rest longer than that is emitted in pieces too.
    """
    if carry:
        data = carry + data
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    lines = data.split(b"\n")
    rest = lines.pop()
    if lines and max(map(len, lines)) > MAX_LINE_BYTES:
        cut: list[bytes] = []
        for line in lines:
            if len(line) <= MAX_LINE_BYTES:
                cut.append(line)
            else:
                cut.extend(line[k : k + MAX_LINE_BYTES] for k in range(0, len(line), MAX_LINE_BYTES))
        lines = cut
    while len(rest) > MAX_LINE_BYTES:
        lines.append(rest[:MAX_LINE_BYTES])
        rest = rest[MAX_LINE_BYTES:]
    return lines, rest


class LogStore:
    """All process logs of one pom session, by instance name."""

    def __init__(self, default_max_bytes: int = 8 * 1024 * 1024) -> None:
        self.default_max_bytes = default_max_bytes
        self._logs: dict[str, ProcessLog] = {}

    def log(self, name: str, max_bytes: int | None = None) -> ProcessLog:
        """Return (creating on first use) the log of instance `name`."""
        found = self._logs.get(name)
        if found is None:
            found = ProcessLog(name, max_bytes or self.default_max_bytes)
            self._logs[name] = found
        return found

    def get(self, name: str) -> ProcessLog | None:
        """Return the log of `name` if it exists."""
        return self._logs.get(name)

    def names(self) -> list[str]:
        """Return every instance name with a log."""
        return list(self._logs)
