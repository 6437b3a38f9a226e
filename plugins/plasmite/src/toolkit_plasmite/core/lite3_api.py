"""The binding's Lite3 surface: raw Lite3 payloads in and out (`append_lite3`, `get_lite3`, streams).

A format-3 pool stores the bytes as given (after validating them); a format-100 pool
stores the decoded message as CBOR and hands back a Lite3 encoding of it.
"""

from __future__ import annotations

import struct
from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from toolkit_plasmite.core import lite3
from toolkit_plasmite.core.codec import decode_payload
from toolkit_plasmite.core.pool import Frame, PoolFile
from toolkit_plasmite.core.tail import GapPolicy, follow_frames
from toolkit_plasmite.errors import CorruptError, UsageError

__all__ = [
    "LITE3_STREAM_MAGIC",
    "Lite3Frame",
    "Lite3Stream",
    "append_lite3",
    "frame_payload",
    "pack_stream_frame",
    "stream_frame",
]


@dataclass(frozen=True)
class Lite3Frame:
    """One stored message as its Lite3 document."""

    seq: int
    timestamp_ns: int
    flags: int
    payload: bytes

    @property
    def time(self) -> datetime:
        """The timestamp as an aware UTC datetime (microsecond precision)."""
        seconds, nanos = divmod(self.timestamp_ns, 1_000_000_000)
        return datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=nanos // 1000)


def frame_payload(pool: PoolFile, frame: Frame) -> Lite3Frame:
    """The Lite3 view of a stored frame (re-encoded for format-100 pools)."""
    seq, ts, payload, _next = frame
    if pool.version != 3:
        data, tags = decode_payload(payload, seq=seq, path=str(pool.path))
        payload = lite3.encode_message(data, tags)
    return Lite3Frame(seq, ts, 0, bytes(payload))


#: The magic that opens plasmite's Lite3 stream (`follow`/`fetch --format lite3`); the HTTP
#: `tail_lite3` route sends the frames without it.
LITE3_STREAM_MAGIC = b"PLS1"
#: A frame of the stream: `[u64be seq][u64be timestamp_ns][u32be len]`, then the stored document.
_STREAM_FRAME = struct.Struct(">QQI")


def pack_stream_frame(seq: int, timestamp_ns: int, doc: bytes) -> bytes:
    """`[u64be seq][u64be timestamp_ns][u32be len]` and the Lite3 document: one frame of the stream."""
    return _STREAM_FRAME.pack(seq, timestamp_ns, len(doc)) + doc


def stream_frame(pool: PoolFile, frame: Frame) -> bytes:
    """One message as a frame of plasmite's Lite3 stream (format-100 payloads re-encoded)."""
    return pack_stream_frame(frame[0], frame[1], frame_payload(pool, frame).payload)


def append_lite3(pool: PoolFile, payload: bytes, flush: bool) -> int:
    """Validate a Lite3 message document and append it; return its seq.

    Raises:
        UsageError: the bytes are not a Lite3 message (`{meta: {tags}, data: {...}}`).
    """
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise TypeError("payload must be bytes-like")
    raw = bytes(payload)
    try:
        data, tags = lite3.decode_message(raw)
    except CorruptError as exc:
        raise UsageError(f"invalid lite3 payload: {exc.message}", path=str(pool.path)) from None
    stored = raw if pool.version == 3 else pool.encode_payload(data, tags)
    return pool.append(stored, flush)[0]


class Lite3Stream:
    """A pull stream of Lite3Frames; `next()` returns None at max or timeout.

    The waiting is `core.tail.follow_frames` (the loop every follower uses: notifications,
    back-off, gap reports), over undecoded frames. A `next()` that timed out leaves the stream
    usable: the following call resumes after the last frame returned.
    """

    def __init__(
        self,
        pool: PoolFile,
        since_seq: int | None,
        max_messages: int | None,
        timeout_ms: int | None,
        error_on_gap: bool = False,
        *,
        owned: bool = False,
    ) -> None:
        self._pool: PoolFile | None = pool
        self._owned = owned
        self._next_seq = since_seq
        self._left = max_messages
        self._timeout = None if timeout_ms is None else timeout_ms / 1000
        self._gap_policy: GapPolicy = "error" if error_on_gap else "continue"
        self._frames: Generator[tuple[Frame, dict[str, Any], list[str]], None, None] | None = None

    def next(self) -> Lite3Frame | None:
        """The next frame, or None when the stream ended (max reached or nothing within the timeout)."""
        pool = self._pool
        if pool is None:
            raise UsageError("plasmite: stream is closed")
        if self._left is not None and self._left <= 0:
            return None
        if self._frames is None:
            self._frames = follow_frames(
                pool, since_seq=self._next_seq, timeout=self._timeout, gap_policy=self._gap_policy, raw=True
            )
        try:
            frame, _, _ = next(self._frames)
        except StopIteration:
            self._frames = None  # timed out: the next call waits again from _next_seq
            return None
        self._next_seq = frame[0] + 1
        if self._left is not None:
            self._left -= 1
        return frame_payload(pool, frame)

    def __iter__(self) -> Lite3Stream:
        return self

    def __next__(self) -> Lite3Frame:
        item = self.next()
        if item is None:
            raise StopIteration
        return item

    def close(self) -> None:
        """Stop the stream (idempotent)."""
        if self._pool is not None:
            if self._frames is not None:
                self._frames.close()  # releases its notification waiter
                self._frames = None
            if self._owned:
                self._pool.close()
            self._pool = None
