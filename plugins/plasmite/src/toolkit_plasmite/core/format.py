"""Pool file layout: constants, precompiled structs, header parsing and validation.

Pure functions over bytes; `specs/plasmite/pool-format.md` is the normative text.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from toolkit_plasmite.errors import CorruptError, UsageError

MAGIC = b"PLSM"
LEGACY_VERSION = 100
PLASMITE_LITE3_VERSION = 3
FORMAT_VERSION = PLASMITE_LITE3_VERSION  # new pools
SUPPORTED_VERSIONS = (PLASMITE_LITE3_VERSION, LEGACY_VERSION)
HEADER_SIZE = 4096
INDEX_OFFSET = HEADER_SIZE
INDEX_SLOT = struct.Struct("<QQ")
FRAME_MAGIC = b"FRM1"
FRAME_HEADER_LEN = 64
COMMIT_MARKER = b"PLSMCMIT"
FRAME_OVERHEAD = FRAME_HEADER_LEN + len(COMMIT_MARKER)
MIN_RING_SIZE = 1024
MAX_PAYLOAD = 256 * 1024 * 1024
MAX_AUTO_INDEX = 65536
DEFAULT_POOL_SIZE = 1024 * 1024

STATE_EMPTY = 0
STATE_WRITING = 1
STATE_COMMITTED = 2
STATE_WRAP = 3

# Header: fixed geometry (0..63).
GEOMETRY = struct.Struct("<4sIB7xQQI4xQQQ")
# A state slot: gen, head, tail, tail_next, oldest, newest, newest_ts, crc, reserved.
SLOT = struct.Struct("<QQQQQQQII")
SLOT_BODY = struct.Struct("<QQQQQQQ")
SLOT_OFFSETS = (64, 128)
SLOTS = struct.Struct("<QQQQQQQII QQQQQQQII".replace(" ", ""))
FOLLOW_UNTIL_OFFSET = 192
NOTIFY_OFFSET = 200
U64 = struct.Struct("<Q")
U32 = struct.Struct("<I")
# Format 3 state, in place: head, tail, tail_next, oldest, newest.
STATE3 = struct.Struct("<QQQQQ")
STATE3_OFFSET = 64
# Frame header: magic, state, flags, header_len, seq, ts, len, len^ff, crc (then 20 zero bytes).
FRAME = struct.Struct("<4sIIIQQIII20x")
FRAME_STATE_OFFSET = 4

UNSUPPORTED_HINT = "upgrade toolkit-plasmite, or recreate the pool; run `plasmite doctor POOL` for details"


def align8(value: int) -> int:
    """Round `value` up to a multiple of 8."""
    return (value + 7) & ~7


def frame_len(payload_len: int) -> int:
    """Return the ring bytes a frame with a `payload_len`-byte payload occupies."""
    return (FRAME_OVERHEAD + payload_len + 7) & ~7


def auto_index_capacity(file_size: int) -> int:
    """Return the automatic index capacity: min(size/256, 65536), keeping a 1 KiB ring."""
    cap = min(file_size // 256, MAX_AUTO_INDEX)
    while cap > 0 and file_size - (HEADER_SIZE + 16 * cap) < MIN_RING_SIZE:
        cap -= 1
    return cap


@dataclass(frozen=True, slots=True)
class Geometry:
    """The immutable part of the header."""

    file_size: int
    index_offset: int
    index_capacity: int
    ring_offset: int
    ring_size: int
    version: int = FORMAT_VERSION


@dataclass(frozen=True, slots=True)
class State:
    """One published pool state (a verified state slot)."""

    gen: int
    head: int
    tail: int
    tail_next: int
    oldest: int
    newest: int
    newest_ts: int

    @property
    def empty(self) -> bool:
        """True when no frame is retained."""
        return self.oldest == 0


def plan_geometry(file_size: int, index_capacity: int | None, version: int = FORMAT_VERSION) -> Geometry:
    """Validate a requested size and index capacity and return the resulting layout.

    Raises:
        UsageError: the size is too small or unaligned, or the index too large.
    """
    if file_size % 8:
        raise UsageError(f"pool size {file_size} is not a multiple of 8 bytes", hint="use a size like 1M or 64K")
    if file_size < HEADER_SIZE + MIN_RING_SIZE:
        raise UsageError(
            f"pool size {file_size} is too small (minimum {HEADER_SIZE + MIN_RING_SIZE} bytes)",
            hint="use --size 64K or more",
        )
    cap = auto_index_capacity(file_size) if index_capacity is None else index_capacity
    if cap < 0:
        raise UsageError("index capacity must be >= 0")
    if 16 * cap > file_size // 2:
        raise UsageError(
            f"index capacity {cap} uses more than half of the {file_size}-byte file",
            hint=f"use at most {file_size // 32} slots or a bigger --size",
        )
    ring_offset = HEADER_SIZE + 16 * cap
    ring_size = file_size - ring_offset
    if ring_size < MIN_RING_SIZE:
        raise UsageError(f"index capacity {cap} leaves a ring smaller than {MIN_RING_SIZE} bytes")
    if version not in SUPPORTED_VERSIONS:
        raise UsageError(f"unsupported pool format version {version} (supported: 3, 100)")
    return Geometry(file_size, INDEX_OFFSET, cap, ring_offset, ring_size, version)


def encode_slot(state: State) -> bytes:
    """Return the 64 bytes of a state slot, CRC included."""
    body = SLOT_BODY.pack(
        state.gen, state.head, state.tail, state.tail_next, state.oldest, state.newest, state.newest_ts
    )
    return body + U32.pack(zlib.crc32(body)) + b"\0\0\0\0"


def encode_header(geo: Geometry, state: State) -> bytes:
    """Return the full 4096-byte header for a new pool."""
    buf = bytearray(HEADER_SIZE)
    GEOMETRY.pack_into(
        buf,
        0,
        MAGIC,
        geo.version,
        1,
        geo.file_size,
        geo.index_offset,
        geo.index_capacity,
        geo.ring_offset,
        geo.ring_size,
        0,
    )
    if geo.version == PLASMITE_LITE3_VERSION:
        STATE3.pack_into(buf, STATE3_OFFSET, state.head, state.tail, state.tail_next, state.oldest, state.newest)
        return bytes(buf)
    slot = encode_slot(state)
    buf[SLOT_OFFSETS[state.gen % 2] : SLOT_OFFSETS[state.gen % 2] + 64] = slot
    return bytes(buf)


def check_version(header: bytes, path: str | None) -> None:
    """Raise Corrupt on a bad magic and Usage on a version we do not read."""
    if len(header) < 8:
        raise CorruptError("pool file is truncated (no header)", path=path, offset=0)
    if header[:4] != MAGIC:
        raise CorruptError("bad pool magic (not a plasmite pool)", path=path, offset=0)
    version = U32.unpack_from(header, 4)[0]
    if version not in SUPPORTED_VERSIONS:
        supported = ", ".join(str(v) for v in SUPPORTED_VERSIONS)
        raise UsageError(
            f"unsupported pool format version {version} (supported: {supported})", path=path, hint=UNSUPPORTED_HINT
        )


def parse_geometry(header: bytes, real_size: int, path: str | None) -> Geometry:
    """Validate the fixed header fields against the real file length.

    Raises:
        CorruptError: a field is inconsistent (with its header offset).
        UsageError: the format version is not one we read.
    """
    check_version(header, path)
    if len(header) < HEADER_SIZE:
        raise CorruptError("pool header is truncated", path=path, offset=len(header))
    _m, version, endian, file_size, index_offset, cap, ring_offset, ring_size, flags = GEOMETRY.unpack_from(header, 0)

    def bad(msg: str, offset: int) -> CorruptError:
        return CorruptError(f"corrupt pool header: {msg}", path=path, offset=offset, hint="run `plasmite doctor` on it")

    if endian != 1:
        raise bad(f"endianness {endian} (expected 1)", 8)
    if file_size != real_size:
        raise bad(f"file_size {file_size} but the file has {real_size} bytes", 16)
    if index_offset != INDEX_OFFSET:
        raise bad(f"index_offset {index_offset}", 24)
    if ring_offset != HEADER_SIZE + 16 * cap:
        raise bad(f"ring_offset {ring_offset} does not follow index_capacity {cap}", 40)
    if ring_offset + ring_size != file_size or ring_size < MIN_RING_SIZE or ring_size % 8 or ring_offset > file_size:
        raise bad(f"ring_size {ring_size} inconsistent with file_size {file_size}", 48)
    if flags != 0:
        raise bad(f"flags {flags}", 56)
    return Geometry(file_size, index_offset, cap, ring_offset, ring_size, version)


def decode_slots(raw: bytes) -> State | None:
    """Return the valid state slot with the highest generation from the 128 slot bytes, or None."""
    vals = SLOTS.unpack_from(raw, 0)
    best: State | None = None
    for base in (0, 9):
        crc = vals[base + 7]
        start = base // 9 * 64
        if zlib.crc32(raw[start : start + 56]) != crc:
            continue
        if best is None or vals[base] > best.gen:
            best = State(*vals[base : base + 7])
    return best


def check_state(state: State, geo: Geometry, path: str | None) -> None:
    """Validate a state's offsets and bounds against the ring geometry.

    Raises:
        CorruptError: an offset is unaligned or out of range, or the bounds are impossible.
    """
    ring = geo.ring_size
    for name, value, off in (("head", state.head, 8), ("tail", state.tail, 16), ("tail_next", state.tail_next, 24)):
        if value % 8 or value >= ring:
            raise CorruptError(f"corrupt pool state: {name} {value} out of range", path=path, offset=64 + off)
    if state.oldest > state.newest:
        raise CorruptError(f"corrupt pool state: oldest {state.oldest} > newest {state.newest}", path=path, offset=96)
    if state.empty:
        if not state.head == state.tail == state.tail_next:
            raise CorruptError("corrupt pool state: empty pool with head != tail", path=path, offset=72)
    elif state.newest - state.oldest >= ring // FRAME_OVERHEAD:
        raise CorruptError(
            f"corrupt pool state: {state.newest - state.oldest + 1} frames cannot fit the ring", path=path, offset=96
        )
