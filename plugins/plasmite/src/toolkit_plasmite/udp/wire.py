"""plasmite's UDP datagrams (spec/udp v0 input, v1 follow): framing and strict control JSON.

Shared by our UDP client (`udp.client`) and the `serve --udp` listener
(`udp.server`). Facts from plasmite's spec/udp/v1/SPEC.md:

- append (v0): `pool-name NUL body`; a body starting 0x06 is Lite3, else JSON
  `{"data": {...}, "tags": [...]}`;
- v1 packets: `NUL "PUDP" 0x01 opcode 0x00` + 16-byte subscription id, then a JSON
  control object (at most 4096 bytes in all) or, for DATA, `u64be seq, u64be ts_ns, lite3`.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from toolkit_plasmite.errors import CorruptError

__all__ = [
    "CHALLENGE",
    "CLOSE",
    "DATA",
    "DATA_HEADER",
    "ERROR",
    "HEADER",
    "LEASE_MS",
    "MAX_CONTROL",
    "MAX_DATAGRAM",
    "PROGRESS",
    "RENEW_MS",
    "SKIP",
    "STARTUP_MS",
    "SUBSCRIBE",
    "check_sizes",
    "control",
    "data",
    "decode_control",
    "header",
    "no_duplicates",
    "parse",
]

MAX_DATAGRAM = 65_507  # the whole UDP payload over IPv4, application framing included
HEADER = 24
DATA_HEADER = 40
MAX_CONTROL = 4096
SUBSCRIBE, CLOSE, CHALLENGE, PROGRESS, SKIP, ERROR, DATA = 1, 2, 3, 4, 5, 6, 7
LEASE_MS = 30_000
RENEW_MS = 10_000
STARTUP_MS = 5_000
MIN_SUBSCRIBE = 256  # initial SUBSCRIBE is padded so a challenge never amplifies
_MAGIC = b"\0PUDP\x01"
_SEQ_TS = struct.Struct(">QQ")
_U64 = (1 << 64) - 1

#: Control objects: field -> (type check, required). Unknown or duplicate fields are refused.
_SHAPES: dict[str, dict[str, tuple[str, bool]]] = {
    "subscribe": {"selection": ("selection", False), "cookie": ("cookie", False)},
    "challenge": {"cookie": ("cookie", True)},
    "progress": {
        "start_seq": ("u64", True),
        "next_seq": ("u64", True),
        "end_seq": ("u64?", False),
        "lease_ms": ("u64", True),
        "terminal": ("bool", True),
        "retention_gap": ("bool", False),
    },
    "skip": {"first": ("u64", True), "last": ("u64", True), "reason": ("reason", True)},
    "error": {"kind": ("str", True), "message": ("str", True)},
    "cookie": {"expires_ms": ("u64", True), "mac": ("str", True)},
    "selection": {"pool": ("str", True), "start": ("start", True), "live": ("bool", True)},
}
START_KINDS = ("new", "last", "since", "sequence")
REASONS = ("unknown", "oversized", "retention", "pressure")


def header(op: int, sub_id: bytes) -> bytes:
    """The 24-byte v1 header."""
    return _MAGIC + bytes((op, 0)) + sub_id


def parse(packet: bytes) -> tuple[int, bytes, bytes] | None:
    """`(opcode, id, body)` of a v1 packet, None for anything else (ignored by both ends)."""
    if len(packet) < HEADER or len(packet) > MAX_DATAGRAM or packet[:6] != _MAGIC or packet[7] != 0:
        return None
    return packet[6], packet[8:24], packet[24:]


def control(op: int, sub_id: bytes, body: dict[str, Any], *, pad_to: int = 0) -> bytes:
    """A control packet; `pad_to` appends JSON whitespace (the initial SUBSCRIBE)."""
    packet = header(op, sub_id) + json.dumps(body, separators=(",", ":")).encode()
    if len(packet) > MAX_CONTROL:
        raise CorruptError("UDP control packet is too large")
    return packet.ljust(pad_to, b" ")


def data(sub_id: bytes, seq: int, ts_ns: int, payload: bytes) -> bytes | None:
    """A DATA packet, None when the Lite3 document cannot fit one datagram."""
    if len(payload) + DATA_HEADER > MAX_DATAGRAM:
        return None
    return header(DATA, sub_id) + _SEQ_TS.pack(seq, ts_ns) + payload


def data_fields(body: bytes) -> tuple[int, int, bytes]:
    """`(seq, ts_ns, lite3)` of a DATA body."""
    if len(body) <= _SEQ_TS.size:
        raise CorruptError("UDP data packet has no Lite3 payload")
    seq, ts = _SEQ_TS.unpack_from(body)
    return seq, ts, bytes(body[_SEQ_TS.size :])


def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`json.loads` object hook that refuses a repeated field (plasmite's decoders do)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate field {key!r}")
        out[key] = value
    return out


def _is_u64(value: Any) -> bool:
    return type(value) is int and 0 <= value <= _U64


def _check(value: Any, kind: str) -> bool:
    if kind == "u64":
        return _is_u64(value)
    if kind == "u64?":
        return value is None or _is_u64(value)
    if kind == "bool":
        return type(value) is bool
    if kind == "str":
        return type(value) is str
    if kind == "reason":
        return value in REASONS
    if kind == "start":
        if type(value) is not dict or value.get("kind") not in START_KINDS:
            return False
        if value["kind"] == "new":
            return set(value) == {"kind"}
        return set(value) == {"kind", "value"} and _is_u64(value["value"])
    _shape(value, kind)
    return True


def _shape(obj: Any, name: str) -> dict[str, Any]:
    fields = _SHAPES[name]
    if type(obj) is not dict:
        raise ValueError(f"{name} is not an object")
    unknown = set(obj) - set(fields)
    if unknown:
        raise ValueError(f"unknown {name} field {sorted(unknown)[0]!r}")
    for key, (kind, required) in fields.items():
        if key not in obj:
            if required:
                raise ValueError(f"{name} lacks {key!r}")
        elif not _check(obj[key], kind):
            raise ValueError(f"{name}.{key} has the wrong type")
    return obj


def decode_control(body: bytes, name: str) -> dict[str, Any]:
    """One strictly typed control object.

    Raises:
        CorruptError: oversize, not JSON, unknown/duplicate/mistyped fields.
    """
    if len(body) + HEADER > MAX_CONTROL:
        raise CorruptError(f"UDP {name} is too large")
    try:
        obj = json.loads(bytes(body).decode("utf-8"), object_pairs_hook=no_duplicates)
        return _shape(obj, name)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise CorruptError(f"invalid UDP {name}: {exc}") from None


def check_sizes(pool: str, payload_len: int) -> str | None:
    """Why a document cannot travel both ways (append and follow DATA), else None."""
    follow_size = DATA_HEADER + payload_len
    if follow_size > MAX_DATAGRAM:
        return f"encoded UDP follow datagram is {follow_size} bytes; maximum is {MAX_DATAGRAM}"
    append_size = len(pool.encode()) + 1 + payload_len
    if append_size > MAX_DATAGRAM:
        return f"encoded UDP append datagram is {append_size} bytes; maximum is {MAX_DATAGRAM}"
    return None
