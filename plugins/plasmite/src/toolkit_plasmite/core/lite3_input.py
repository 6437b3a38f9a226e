"""`feed --input-format lite3|lite3-raw`: plasmite's framed Lite3 stream and raw Lite3 documents.

Framed (what `fetch`/`follow --format lite3` print): `PLS1` once, then per message
`[u64be seq][u64be timestamp_ns][u32be length]` and that many bytes of one Lite3 message
document. Raw: the whole input through EOF is one document. The documents are kept byte
for byte (a format-3 pool stores them unchanged); seq and time are the source's and are
replaced by the append.
"""

from __future__ import annotations

import struct

from toolkit_plasmite.core import lite3
from toolkit_plasmite.core.ingest import Record
from toolkit_plasmite.core.lite3_api import LITE3_STREAM_MAGIC
from toolkit_plasmite.errors import CorruptError

__all__ = ["MAX_DOCUMENT", "Lite3Parser"]

#: plasmite's limit for one Lite3 payload.
MAX_DOCUMENT = 256 * 1024 * 1024
_HEADER = struct.Struct(">QQI")


class Lite3Parser:
    """Incremental parser with `RecordParser`'s interface for `lite3` (framed) or `lite3-raw` input."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self._buf = bytearray()
        self._index = 0
        self._magic_seen = False
        self._broken = False

    def _record(self, doc: bytes, where: str) -> Record:
        idx = self._index
        self._index += 1
        try:
            data, tags = lite3.decode_message(doc)
        except CorruptError as exc:
            return Record(idx, None, f"invalid Lite3 message: {exc.message}", idx + 1, where)
        return Record(idx, data, None, idx + 1, where, doc=(doc, tags))

    def _fail(self, message: str) -> list[Record]:
        self._broken = True  # nothing after a framing error can be trusted
        self._buf.clear()
        idx = self._index
        self._index += 1
        return [Record(idx, None, message, idx + 1, "")]

    def feed(self, chunk: bytes) -> list[Record]:
        """Add input; return the framed records it completed (raw input waits for the end)."""
        if self._broken:
            return []
        self._buf += chunk
        if self.mode == "lite3-raw":
            if len(self._buf) > MAX_DOCUMENT:
                return self._fail(f"Lite3 document exceeds {MAX_DOCUMENT} bytes")
            return []
        out: list[Record] = []
        if not self._magic_seen:
            if len(self._buf) < len(LITE3_STREAM_MAGIC):
                return out
            if not self._buf.startswith(LITE3_STREAM_MAGIC):
                return self._fail("framed Lite3 input must start with PLS1")
            del self._buf[: len(LITE3_STREAM_MAGIC)]
            self._magic_seen = True
        while len(self._buf) >= _HEADER.size:
            seq, _ts, length = _HEADER.unpack_from(self._buf)
            if length > MAX_DOCUMENT:
                return [*out, *self._fail(f"Lite3 frame of {length} bytes exceeds {MAX_DOCUMENT}")]
            end = _HEADER.size + length
            if len(self._buf) < end:
                break
            out.append(self._record(bytes(self._buf[_HEADER.size : end]), f"source seq {seq}"))
            del self._buf[:end]
        return out

    def finish(self) -> list[Record]:
        """End of input: the raw document, or an error for a truncated frame."""
        if self._broken:
            return []
        if self.mode == "lite3-raw":
            doc = bytes(self._buf)
            self._buf.clear()
            return [self._record(doc, "raw document")] if doc else []
        if self._buf:
            return self._fail(f"truncated Lite3 stream ({len(self._buf)} bytes left over)")
        return []
