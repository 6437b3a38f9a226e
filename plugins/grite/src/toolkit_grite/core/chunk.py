"""The `GRITECNK` chunk format: a header and one CBOR array of events (see specs/grite/wal-format.md)."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any

import cbor2

from toolkit_grite.core.model import Event
from toolkit_grite.errors import DbError
from toolkit_kernel.hashing import blake2b_256

__all__ = ["CODEC", "MAGIC", "decode_chunk", "decode_items", "encode_chunk"]

MAGIC = b"GRITECNK"
VERSION = 1
CODEC = b"cbor-v1"
HEADER = MAGIC + struct.pack("<HB", VERSION, len(CODEC)) + CODEC
_HEADER_LEN = len(HEADER)


def encode_chunk(events: Iterable[Event]) -> tuple[bytes, bytes]:
    """Encode events into chunk bytes; return `(chunk, chunk_hash)`."""
    data = HEADER + cbor2.dumps([e.to_wire() for e in events])
    return data, blake2b_256(data)


def decode_chunk(data: bytes) -> list[Event]:
    """Decode chunk bytes into events.

    Raises:
        DbError: bad magic, version, codec, CBOR or event shape.
    """
    return [Event.from_wire(item) for item in decode_items(data)]


def decode_items(data: bytes) -> list[Any]:
    """Check the header and decode the CBOR array; return its items (events not yet checked).

    Raises:
        DbError: bad magic, version, codec or CBOR.
    """
    if data[:_HEADER_LEN] == HEADER:  # every chunk of ours and grite 0.5.3's: the checks below, at once
        return _loads(data[_HEADER_LEN:])
    if len(data) < len(HEADER) or data[:8] != MAGIC:
        raise DbError("chunk has a bad magic (expected GRITECNK)")
    version, codec_len = struct.unpack_from("<HB", data, 8)
    if version != VERSION:
        raise DbError(f"chunk version {version} is not supported")
    codec = data[11 : 11 + codec_len]
    if codec != CODEC:
        raise DbError(f"chunk codec {codec!r} is not supported")
    return _loads(data[11 + codec_len :])


def _loads(body: bytes) -> list[Any]:
    try:
        items = cbor2.loads(body)
    except (cbor2.CBORDecodeError, ValueError, TypeError) as exc:
        raise DbError(f"chunk CBOR is malformed: {exc}") from None
    if not isinstance(items, list):
        raise DbError("chunk body is not an array")
    return items
