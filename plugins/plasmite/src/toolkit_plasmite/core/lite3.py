"""Lite3 documents in pure Python: the payload encoding of format-3 pools.

`specs/plasmite/lite3.md` is the normative text. A document is B-trees of 96-byte
nodes keyed by 32-bit hashes (DJB2 of object keys, the index for arrays). We bulk-build
each tree from the sorted hashes instead of growing it by insertion: same structure for
every reader, one pass for us.
"""

from __future__ import annotations

import base64
import math
import struct
from typing import Any

from toolkit_plasmite.errors import CorruptError, UsageError

__all__ = ["MAX_DEPTH", "decode_document", "decode_message", "encode_message", "encode_value_document"]

MAX_DEPTH = 32
_NODE_SIZE = 96
_MAX_KEYS = 7
_MAX_WALKS = 9
_PROBE_MAX = 128
_T_NULL, _T_BOOL, _T_I64, _T_F64, _T_BYTES, _T_STR, _T_OBJ, _T_ARR = range(8)
_NODE = struct.Struct("<I7II7I8I")
#: A node's fields up to its first child offset (all a leaf needs: 68 of the 96 bytes).
_NODE_HEAD = struct.Struct("<I7II7II")
_ZERO_NODE = bytes(_NODE_SIZE)
_I64 = struct.Struct("<Bq")
_F64 = struct.Struct("<Bd")
_U32 = struct.Struct("<I")
_U32_AT = _U32.unpack_from
_I64_AT = struct.Struct("<q").unpack_from
_F64_AT = struct.Struct("<d").unpack_from
_TRUE = b"\x01\x01"
_FALSE = b"\x01\x00"
_NULL = b"\x00"
_I64_MIN = -(1 << 63)
_I64_MAX = (1 << 63) - 1
_HASH_CACHE: dict[str, tuple[int, bytes]] = {}


def _key_entry(key: str) -> tuple[int, bytes]:
    """Return (DJB2 hash, key tag + key bytes + NUL) for an object key, memoised."""
    hit = _HASH_CACHE.get(key)
    if hit is not None:
        return hit
    if type(key) is not str:
        raise UsageError(f"object keys must be strings, got {type(key).__name__}")
    try:
        raw = key.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError("object key is not valid UTF-8 (lone surrogate)") from None
    if b"\0" in raw:
        raise UsageError("object keys cannot contain NUL characters", hint="Lite3 keys are NUL-terminated")
    h = 5381
    for byte in raw:
        h = (h * 33 + byte) & 0xFFFFFFFF
    size = len(raw) + 1
    tag_len = 1 if size < 64 else 2 if size < 16384 else 4
    entry = ((size << 2) | (tag_len - 1)).to_bytes(tag_len, "little") + raw + b"\0"
    if len(_HASH_CACHE) < 4096:
        _HASH_CACHE[key] = (h, entry)
    return h, entry


def _pad4(buf: bytearray, extra: int) -> None:
    """Pad `buf` so that offset `len(buf) + extra` is 4-aligned."""
    rem = (len(buf) + extra) & 3
    if rem:
        buf += b"\0" * (4 - rem)


def _write_tree(buf: bytearray, first: int, typ: int, entries: list[tuple[int, int]]) -> None:
    """Write a container's B-tree: its first node at `first`, extra nodes appended to `buf`."""
    entries.sort()
    _fill_node(buf, first, typ, entries, len(entries))


def _fill_node(buf: bytearray, at: int, typ: int, entries: list[tuple[int, int]], size: int) -> None:
    n = len(entries)
    if n <= _MAX_KEYS:
        hashes = [h for h, _ in entries] + [0] * (_MAX_KEYS - n)
        kvs = [o for _, o in entries] + [0] * (_MAX_KEYS - n)
        _NODE.pack_into(buf, at, typ, *hashes, (size << 6) | n, *kvs, 0, 0, 0, 0, 0, 0, 0, 0)
        return
    # Smallest height whose full tree (8**h - 1 entries) holds n; children get height - 1.
    child_cap = 7
    while (child_cap + 1) * 8 - 1 < n:
        child_cap = (child_cap + 1) * 8 - 1
    children = -(-(n + 1) // (child_cap + 1))
    items = n - (children - 1)
    base, extra = divmod(items, children)
    seps: list[tuple[int, int]] = []
    kids: list[int] = []
    pos = 0
    for c in range(children):
        take = base + (1 if c < extra else 0)
        group = entries[pos : pos + take]
        pos += take
        _pad4(buf, 0)
        node_at = len(buf)
        buf += _ZERO_NODE
        _fill_node(buf, node_at, typ, group, 0)
        kids.append(node_at)
        if c < children - 1:
            seps.append(entries[pos])
            pos += 1
    k = len(seps)
    hashes = [h for h, _ in seps] + [0] * (_MAX_KEYS - k)
    kvs = [o for _, o in seps] + [0] * (_MAX_KEYS - k)
    _NODE.pack_into(buf, at, typ, *hashes, (size << 6) | k, *kvs, *(kids + [0] * (8 - len(kids))))


def _encode_container(buf: bytearray, value: dict[str, Any] | list[Any] | tuple[Any, ...], depth: int) -> None:
    """Append a container (first node at the current, 4-aligned, end of `buf`)."""
    if depth > MAX_DEPTH:
        raise UsageError(
            f"data nests deeper than {MAX_DEPTH} levels",
            hint="flatten the record: plasmite readers cannot render deeper documents",
        )
    first = len(buf)
    buf += _ZERO_NODE
    entries: list[tuple[int, int]] = []
    add = entries.append
    if type(value) is dict or isinstance(value, dict):
        used: set[int] = set()
        for key, item in value.items():
            h, kbytes = _key_entry(key)
            if h in used:
                h = _probe(h, used)
            used.add(h)
            if type(item) in (dict, list, tuple) or isinstance(item, (dict, list)):
                _pad4(buf, len(kbytes))
                add((h, len(buf)))
                buf += kbytes
                _encode_container(buf, item, depth + 1)
            else:
                add((h, len(buf)))
                buf += kbytes
                _encode_scalar(buf, item)
        typ = _T_OBJ
    else:
        for index, item in enumerate(value):
            if type(item) in (dict, list, tuple) or isinstance(item, (dict, list)):
                _pad4(buf, 0)
                add((index, len(buf)))
                _encode_container(buf, item, depth + 1)
            else:
                add((index, len(buf)))
                _encode_scalar(buf, item)
        typ = _T_ARR
    _write_tree(buf, first, typ, entries)


def _probe(h: int, used: set[int]) -> int:
    for attempt in range(1, _PROBE_MAX):
        candidate = (h + attempt * attempt) & 0xFFFFFFFF
        if candidate not in used:
            return candidate
    raise UsageError("too many object keys share one hash")


def _encode_scalar(buf: bytearray, item: Any) -> None:
    t = type(item)
    if t is str:
        try:
            raw = item.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError("string is not valid UTF-8 (lone surrogate)") from None
        buf += b"\x05" + _U32.pack(len(raw) + 1) + raw + b"\0"
    elif item is None:
        buf += _NULL
    elif item is True:
        buf += _TRUE
    elif item is False:
        buf += _FALSE
    elif t is int or (isinstance(item, int) and not isinstance(item, bool)):
        if _I64_MIN <= item <= _I64_MAX:
            buf += _I64.pack(_T_I64, item)
        else:
            buf += _F64.pack(_T_F64, float(item))
    elif t is float or isinstance(item, float):
        if not math.isfinite(item):
            raise UsageError(f"{item!r} is not a JSON number")
        buf += _F64.pack(_T_F64, item)
    else:
        raise UsageError(f"data cannot be stored: {type(item).__name__} is not a JSON value")


def encode_message(data: Any, tags: list[str]) -> bytes:
    """Return the Lite3 document `{"meta": {"tags": tags}, "data": data}`.

    Raises:
        UsageError: `data` is not an object, a value is not JSON, or nesting is too deep.
    """
    if not isinstance(data, dict):
        raise UsageError("data must be object", hint='wrap the value: {"value": ...}')
    prefix, meta_kv = _meta_prefix(tuple(tags))
    buf = bytearray(prefix)
    _pad4(buf, len(_DATA_KEY))
    data_kv = len(buf)
    buf += _DATA_KEY
    try:
        _encode_container(buf, data, 2)
    except RecursionError:
        raise UsageError(f"data nests deeper than {MAX_DEPTH} levels") from None
    _write_tree(buf, 0, _T_OBJ, [(_META_HASH, meta_kv), (_DATA_HASH, data_kv)])
    return bytes(buf)


_META_HASH, _META_KEY = _key_entry("meta")
_DATA_HASH, _DATA_KEY = _key_entry("data")
_PREFIXES: dict[tuple[str, ...], tuple[bytes, int]] = {}


def _meta_prefix(tags: tuple[str, ...]) -> tuple[bytes, int]:
    """The bytes up to the `data` entry (root node left zero, then `meta`), memoised per tag list.

    Every message with the same tags starts with the same bytes at the same offsets, so
    only the data subtree and the root node are built per message.
    """
    hit = _PREFIXES.get(tags)
    if hit is not None:
        return hit
    buf = bytearray(_ZERO_NODE)
    _pad4(buf, len(_META_KEY))
    meta_kv = len(buf)
    buf += _META_KEY
    _encode_container(buf, {"tags": list(tags)}, 2)
    result = (bytes(buf), meta_kv)
    if len(_PREFIXES) < 256:
        _PREFIXES[tags] = result
    return result


def encode_value_document(root: dict[str, Any] | list[Any]) -> bytes:
    """Return the Lite3 document of one object or array (the HTTP/binding Lite3 surface)."""
    buf = bytearray()
    try:
        _encode_container(buf, root, 1)
    except RecursionError:
        raise UsageError(f"data nests deeper than {MAX_DEPTH} levels") from None
    return bytes(buf)


# ---------------------------------------------------------------------- decoding
class _Bad(Exception):
    """Internal: the document is malformed (turned into CorruptError by the caller)."""


def _check_node(buf: bytes, at: int) -> None:
    if at & 3 or at < 0 or at + _NODE_SIZE > len(buf):
        raise _Bad(f"node offset {at} out of bounds or unaligned")


def _entries(buf: bytes, at: int, walks: int, out: list[int]) -> None:
    """Collect a container's entry offsets in order (in-order walk of its tree)."""
    node = _NODE.unpack_from(buf, at)
    kc = node[8] & 7
    kvs = node[9:16]
    child = node[16:24]
    if child[0] == 0:
        out.extend(kvs[:kc])
        if len(out) > len(buf) // 2:  # a cycle of child offsets: bounded work on damaged input
            raise _Bad("more entries than the document can hold")
        return
    if walks >= _MAX_WALKS:
        raise _Bad("tree deeper than 9 nodes")
    for i in range(kc + 1):
        c = child[i]
        if i and c == 0:
            raise _Bad("internal node with a missing child")
        _check_node(buf, c)
        _entries(buf, c, walks + 1, out)
        if i < kc:
            out.append(kvs[i])


def _value(buf: bytes, at: int, depth: int) -> Any:
    t = buf[at]
    if t == _T_STR:
        n = _U32_AT(buf, at + 1)[0]
        end = at + 5 + n
        if n < 1 or end > len(buf):
            raise _Bad(f"string at {at} out of bounds")
        return buf[at + 5 : end - 1].decode("utf-8")
    if t == _T_I64:
        return _I64_AT(buf, at + 1)[0]
    if t in (_T_OBJ, _T_ARR):
        return _container(buf, at, depth + 1)
    if t == _T_F64:
        return _F64_AT(buf, at + 1)[0]
    if t == _T_BOOL:
        return buf[at + 1] != 0
    if t == _T_NULL:
        return None
    if t == _T_BYTES:
        n = _U32_AT(buf, at + 1)[0]
        if at + 5 + n > len(buf):
            raise _Bad(f"bytes at {at} out of bounds")
        return base64.b64encode(buf[at + 5 : at + 5 + n]).decode("ascii")
    raise _Bad(f"invalid value type {t} at {at}")


def _container(buf: bytes, at: int, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise _Bad(f"document nests deeper than {MAX_DEPTH} levels")
    if at & 3 or at < 0 or at + _NODE_SIZE > len(buf):
        raise _Bad(f"node offset {at} out of bounds or unaligned")
    typ = buf[at]
    node = _NODE_HEAD.unpack_from(buf, at)
    offs: Any
    if node[16] == 0:  # a leaf root: the common small container, no tree walk
        offs = node[9 : 9 + (node[8] & 7)]
    else:
        offs = []
        _entries(buf, at, 0, offs)
    if typ == _T_ARR:
        return [_value(buf, o, depth) for o in offs]
    if typ != _T_OBJ:
        raise _Bad(f"node at {at} is not a container (type {typ})")
    out: dict[str, Any] = {}
    for o in offs:
        tag = buf[o]
        if tag & 3 == 0:  # a one-byte key tag: keys shorter than 63 bytes
            size = tag >> 2
            start = o + 1
        else:
            tlen = (tag & 3) + 1
            size = int.from_bytes(buf[o : o + tlen], "little") >> 2
            start = o + tlen
        if size < 1 or start + size > len(buf):
            raise _Bad(f"key at {o} out of bounds")
        out[buf[start : start + size - 1].decode("utf-8")] = _value(buf, start + size, depth)
    return out


def decode_document(buf: bytes) -> Any:
    """Decode a whole Lite3 document (an object or array) into Python values.

    Raises:
        CorruptError: the bytes are not a well-formed document.
    """
    try:
        return _container(bytes(buf), 0, 1)
    except CorruptError:
        raise
    except (_Bad, struct.error, IndexError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CorruptError(f"bad Lite3 document: {exc}") from None


def decode_message(payload: bytes) -> tuple[dict[str, Any], list[str]]:
    """Decode a message payload into `(data, tags)`.

    Raises:
        CorruptError: not a Lite3 document of the message shape.
    """
    doc = decode_document(payload)
    if type(doc) is dict:
        data = doc.get("data")
        meta = doc.get("meta")
        if type(data) is dict and type(meta) is dict:
            tags = meta.get("tags")
            if type(tags) is list and all(type(t) is str for t in tags):
                return data, tags
    raise CorruptError("message payload has the wrong shape (want meta.tags and data objects)")
