"""Wire format: u32 big-endian length, then one canonical-CBOR map (see `specs/kernel/ipc.md`).

Envelopes a server sends:

- `{"hello": {"protocol": 1, "pid": ...}}` once, right after accepting a connection;
  a server at its connection limit sends an error envelope instead and closes.
- `{"ok": True, "result": value}`: the single answer to a request.
- `{"item": value}`: one item of a streamed answer, followed by ...
- `{"ok": True, "end": True, "count": n}`: the end of a stream.
- `{"ok": False, "error": {"kind", "message", "hint"?, "details"?}}`: the request failed
  (this also ends a stream).
"""

from __future__ import annotations

import struct

from toolkit_kernel.errors import IpcError
from toolkit_kernel.hashing import canonical_cbor, decode_cbor

TYPE_CHECKING = False  # annotations only: a client must not pay for `typing`, `socket` or asyncio
if TYPE_CHECKING:
    import _socket
    import asyncio
    from typing import Any

__all__ = [
    "MAX_FRAME",
    "PROTOCOL",
    "decode_payload",
    "encode_frame",
    "read_frame_async",
    "recv_frame",
]

#: Version of the envelope rules above, announced in the hello frame.
PROTOCOL = 1
#: Largest payload a peer accepts (16 MiB, as grite's daemon).
MAX_FRAME = 16 * 1024 * 1024
_HEADER = struct.Struct(">I")


def encode_frame(message: dict[str, Any]) -> bytes:
    """Return the length-prefixed canonical CBOR frame for `message`.

    Raises:
        IpcError: the message cannot be encoded or exceeds `MAX_FRAME`.
    """
    try:
        payload = canonical_cbor(message)
    except Exception as exc:
        raise IpcError(
            f"message cannot be encoded as CBOR: {exc}", hint="send only dicts, lists, str, bytes, numbers, bools, None"
        ) from exc
    if len(payload) > MAX_FRAME:
        raise IpcError(
            f"message of {len(payload)} bytes exceeds the {MAX_FRAME}-byte frame limit",
            hint="page the data (limit/offset) or stream it in items",
            details={"size": len(payload), "max": MAX_FRAME},
        )
    return _HEADER.pack(len(payload)) + payload


def decode_payload(payload: bytes) -> dict[str, Any]:
    """Decode one frame payload, which must be a CBOR map.

    Raises:
        IpcError: the bytes are not CBOR, have duplicate keys, or are not a map.
    """
    try:
        value = decode_cbor(payload)
    except Exception as exc:
        raise IpcError(f"malformed frame: {exc}", hint="the peer does not speak the toolkit IPC protocol") from None
    if not isinstance(value, dict):
        raise IpcError(f"malformed frame: expected a CBOR map, got {type(value).__name__}")
    return value


def _check_length(length: int) -> None:
    if length > MAX_FRAME:
        raise IpcError(
            f"frame of {length} bytes exceeds the {MAX_FRAME}-byte limit",
            details={"size": length, "max": MAX_FRAME},
        )
    if length == 0:
        raise IpcError("malformed frame: empty payload")


def _recv_exact(sock: _socket.socket, size: int) -> bytes | None:
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:])
        if n == 0:
            if got:
                raise IpcError("connection closed in the middle of a frame")
            return None
        got += n
    return bytes(buf)


def recv_frame(sock: _socket.socket) -> dict[str, Any] | None:
    """Read one frame from a blocking socket; None on a clean EOF before the first byte.

    Socket timeouts and errors propagate as `OSError` (`TimeoutError`) for the caller to wrap.

    Raises:
        IpcError: EOF inside a frame, an oversized length or a malformed payload.
    """
    header = _recv_exact(sock, 4)
    if header is None:
        return None
    (length,) = _HEADER.unpack(header)
    _check_length(length)
    payload = _recv_exact(sock, length)
    if payload is None:
        raise IpcError("connection closed in the middle of a frame")
    return decode_payload(payload)


async def read_frame_async(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """Read one frame from an asyncio stream; None on a clean EOF before the first byte.

    Raises:
        IpcError: EOF inside a frame, an oversized length or a malformed payload.
    """
    import asyncio  # only servers need it; clients stay light to import

    try:
        header = await reader.readexactly(4)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise IpcError("connection closed in the middle of a frame header") from None
    (length,) = _HEADER.unpack(header)
    _check_length(length)
    try:
        payload = await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise IpcError("connection closed in the middle of a frame") from None
    return decode_payload(payload)
