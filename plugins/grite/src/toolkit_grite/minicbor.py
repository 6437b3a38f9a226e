"""A minimal CBOR codec for the daemon client's two frames (no imports beyond `struct`).

`cbor2` pulls in `typing` and `re`, which cost more than a forwarded command; the client only
exchanges maps of strings, integers, lists and booleans. `dumps` writes canonical CBOR (shortest
heads, map keys in length-first order, as `cbor2.dumps(canonical=True)` does for these types);
`loads` reads every definite-length item of major types 0-5 and 7.
"""

from __future__ import annotations

import struct

__all__ = ["dumps", "loads"]


def _head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes([(major << 5) | value])
    if value < 0x100:
        return bytes([(major << 5) | 24, value])
    if value < 0x10000:
        return bytes([(major << 5) | 25]) + value.to_bytes(2, "big")
    if value < 0x100000000:
        return bytes([(major << 5) | 26]) + value.to_bytes(4, "big")
    return bytes([(major << 5) | 27]) + value.to_bytes(8, "big")


def dumps(value: object) -> bytes:
    """Encode `value` (None, bool, int, str, bytes, list, tuple, dict with str keys).

    Raises:
        TypeError: another type.
    """
    if value is None:
        return b"\xf6"
    if value is True:
        return b"\xf5"
    if value is False:
        return b"\xf4"
    if isinstance(value, int):
        return _head(0, value) if value >= 0 else _head(1, -1 - value)
    if isinstance(value, str):
        data = value.encode("utf-8")
        return _head(3, len(data)) + data
    if isinstance(value, bytes):
        return _head(2, len(value)) + value
    if isinstance(value, (list, tuple)):
        return _head(4, len(value)) + b"".join(dumps(v) for v in value)
    if isinstance(value, dict):
        items = sorted((dumps(k), dumps(v)) for k, v in value.items())
        items.sort(key=lambda kv: len(kv[0]))
        return _head(5, len(items)) + b"".join(k + v for k, v in items)
    raise TypeError(f"minicbor cannot encode {type(value).__name__}")


def _simple(info: int, data: bytes, pos: int) -> tuple[object, int]:
    simple: dict[int, object] = {20: False, 21: True, 22: None, 23: None}
    if info in simple:
        return simple[info], pos
    formats = {25: (">e", 2), 26: (">f", 4), 27: (">d", 8)}
    if info not in formats:
        raise ValueError("unsupported simple value")
    fmt, size = formats[info]
    return struct.unpack(fmt, data[pos : pos + size])[0], pos + size


def _read(data: bytes, pos: int) -> tuple[object, int]:
    initial = data[pos]
    major, info = initial >> 5, initial & 31
    pos += 1
    if major == 7:
        return _simple(info, data, pos)
    if info < 24:
        arg = info
    elif info in (24, 25, 26, 27):
        size = 1 << (info - 24)
        arg = int.from_bytes(data[pos : pos + size], "big")
        pos += size
    else:
        raise ValueError("indefinite lengths are not used by the toolkit protocol")
    if major == 0:
        return arg, pos
    if major == 1:
        return -1 - arg, pos
    if major in (2, 3):
        chunk = data[pos : pos + arg]
        if len(chunk) != arg:
            raise ValueError("truncated string")
        return (chunk.decode("utf-8") if major == 3 else bytes(chunk)), pos + arg
    if major == 4:
        out = []
        for _ in range(arg):
            item, pos = _read(data, pos)
            out.append(item)
        return out, pos
    if major == 5:
        table: dict[object, object] = {}
        for _ in range(arg):
            key, pos = _read(data, pos)
            table[key], pos = _read(data, pos)
        return table, pos
    raise ValueError("tags are not used by the toolkit protocol")


def loads(data: bytes) -> object:
    """Decode one CBOR item that fills `data`.

    Raises:
        ValueError: malformed, trailing bytes or an unsupported item.
    """
    try:
        value, pos = _read(data, 0)
    except IndexError:
        raise ValueError("truncated CBOR") from None
    if pos != len(data):
        raise ValueError("trailing bytes after the CBOR item")
    return value
