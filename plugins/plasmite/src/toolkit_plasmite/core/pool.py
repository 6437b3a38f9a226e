"""The pool file: create, open, append (plan, commit, publish) and lock-free reads.

This is the hot path, so it trades a little elegance for speed: precompiled structs,
tuples instead of objects, slice assignment straight into the shared mapping, one
CRC per payload. `specs/plasmite/pool-format.md` describes every step.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import secrets
import struct
import sys
import time
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple
from zlib import crc32

from toolkit_plasmite.core import codec, lite3
from toolkit_plasmite.core.format import (
    COMMIT_MARKER,
    FOLLOW_UNTIL_OFFSET,
    FORMAT_VERSION,
    FRAME,
    FRAME_MAGIC,
    FRAME_OVERHEAD,
    HEADER_SIZE,
    INDEX_SLOT,
    MAX_PAYLOAD,
    NOTIFY_OFFSET,
    PLASMITE_LITE3_VERSION,
    SLOT_BODY,
    SLOTS,
    STATE3,
    STATE3_OFFSET,
    STATE_COMMITTED,
    STATE_WRAP,
    STATE_WRITING,
    U32,
    U64,
    Geometry,
    State,
    check_state,
    encode_header,
    parse_geometry,
    plan_geometry,
)
from toolkit_plasmite.core.lock import WriterLock
from toolkit_plasmite.core.plan import plan_append
from toolkit_plasmite.core.semaphore import PoolSemaphore
from toolkit_plasmite.errors import (
    AlreadyExistsError,
    CorruptError,
    NotFoundError,
    PermissionDeniedError,
    UsageError,
    from_os_error,
)

__all__ = ["Frame", "Gap", "PoolFile", "create_pool_file"]

_XOR = 0xFFFFFFFF
_WRAP_ARGS = (FRAME_MAGIC, STATE_WRAP, 0, 64, 0, 0, 0, _XOR, 0)
_READ_RETRIES = 16
_GENS = struct.Struct("<Q56xQ")  # the generation fields of state slots 0 and 1
_SEQ_TS = struct.Struct("<QQ")  # seq and timestamp inside a frame header (offset 16)
_MADV_POPULATE_WRITE = 23  # Linux 5.14+; not exported by the mmap module before Python 3.14
_PREFAULT_WINDOW = 1 << 16


#: One committed message as stored: (seq, timestamp_ns, payload, next ring offset).
#: A plain tuple: building a NamedTuple per frame costs a third of the read path.
Frame = tuple[int, int, bytes, int]


class Gap(NamedTuple):
    """A reader fell behind: `expected` was evicted; reading resumes at `resumed_at`."""

    expected: int
    resumed_at: int


def _open_file(spath: str, writable: bool | None) -> tuple[int, bool, int, bytes]:
    """Open a pool file: (fd, writable, size, header bytes); read-only fallback on EACCES when `writable` is None."""
    fd = -1
    try:
        if writable is False:
            fd = os.open(spath, os.O_RDONLY | os.O_CLOEXEC)
        else:
            try:
                fd = os.open(spath, os.O_RDWR | os.O_CLOEXEC)
                writable = True
            except PermissionError:
                if writable:
                    raise
                fd = os.open(spath, os.O_RDONLY | os.O_CLOEXEC)
                writable = False
        return fd, bool(writable), os.fstat(fd).st_size, os.pread(fd, HEADER_SIZE, 0)
    except FileNotFoundError:
        if fd >= 0:
            os.close(fd)
        raise NotFoundError("pool not found", path=spath, hint="create it with `plasmite pool create`") from None
    except OSError as exc:
        if fd >= 0:
            os.close(fd)
        raise from_os_error(exc, spath, what="open pool") from None


def _allocate(fd: int, size: int) -> None:
    """Give the file real blocks for all `size` bytes.

    A hole written through the mapping on a full disk is a SIGBUS; ENOSPC here is an
    ordinary error instead.
    """
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
            raise
        os.ftruncate(fd, size)
        zeros = bytes(1 << 20)
        for off in range(0, size, len(zeros)):
            os.pwrite(fd, zeros[: min(len(zeros), size - off)], off)


def _plausible(ring: int, head: int, tail: int, tnext: int, oldest: int, newest: int) -> bool:
    """True when a state could have been published (offsets in range and aligned, bounds possible)."""
    return (
        head < ring
        and tail < ring
        and tnext < ring
        and not (head | tail | tnext) & 7
        and oldest <= newest
        and bool(oldest or head == tail == tnext)
        and (not oldest or newest - oldest < ring // FRAME_OVERHEAD)
    )


def create_pool_file(
    path: Path, size: int, index_capacity: int | None = None, version: int = FORMAT_VERSION
) -> Geometry:
    """Create a pool file atomically; an existing file is never touched.

    Raises:
        AlreadyExistsError: `path` exists.
        UsageError: bad size or index capacity.
        PlasmiteError: an OS error (Permission, Io).
    """
    geo = plan_geometry(size, index_capacity, version)
    spath = str(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise from_os_error(exc, str(path.parent), what="create pool directory") from None
    if path.exists():
        raise AlreadyExistsError(
            "pool already exists", path=spath, hint="Choose a different name or remove the existing pool file."
        )
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise from_os_error(exc, spath, what="create pool") from None
    try:
        _allocate(fd, size)
        os.pwrite(fd, encode_header(geo, State(1, 0, 0, 0, 0, 0, 0)), 0)
        os.fsync(fd)
        os.link(tmp, path)
    except FileExistsError:
        raise AlreadyExistsError(
            "pool already exists", path=spath, hint="Choose a different name or remove the existing pool file."
        ) from None
    except OSError as exc:
        raise from_os_error(exc, spath, what="create pool") from None
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return geo


class PoolFile:
    """An open pool file: one mapping, one writer lock, any number of lock-free reads.

    Args:
        path: The pool file.
        writable: Open for appends (falls back to read-only on EACCES when None).
    """

    def __init__(self, path: Path | str, writable: bool | None = None) -> None:
        self.path = Path(path)
        spath = str(self.path)
        self._closed = True
        fd, writable, size, header = _open_file(spath, writable)
        try:
            geo = parse_geometry(header, size, spath)
            if writable:
                try:
                    os.posix_fallocate(fd, 0, size)  # keeps the bytes; fills holes of sparse pools
                except OSError as exc:
                    if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                        raise from_os_error(exc, spath, what="allocate pool space") from None
            access = mmap.ACCESS_WRITE if writable else mmap.ACCESS_READ
            self._mm = mmap.mmap(fd, size, access=access)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._closed = False
        self.writable = bool(writable)
        self.geo = geo
        self._ring_offset = geo.ring_offset
        self._ring_size = geo.ring_size
        self._index_offset = geo.index_offset
        self._cap = geo.index_capacity
        self._max_payload = min(geo.ring_size - FRAME_OVERHEAD, MAX_PAYLOAD)
        self._lock = WriterLock(fd)
        self._slot_buf = bytearray(64)
        self._slot_view = memoryview(self._slot_buf)[:56]
        self._cached: tuple[int, int, int, int, int, int, int] | None = None
        # Format 3: (seq, timestamp) of this handle's last append, so the next one need not
        # look the newest frame up while holding the writer lock when nobody appended since.
        self._last_v3: tuple[int, int] = (0, 0)
        self._expect_gens: tuple[int, int] = (-1, -1)
        self._spath = spath
        self.version = geo.version
        self._v3 = geo.version == PLASMITE_LITE3_VERSION
        self._sem = PoolSemaphore(spath) if self._v3 else None
        self._populate = self.writable and sys.platform.startswith("linux")
        self._populated = (0, 0)  # the ring range last made writable by _prefault
        self.state()  # fail fast on a corrupt state

    # ------------------------------------------------------------------ payloads
    def encode_payload(self, data: object, tags: Sequence[str] = ()) -> bytes:
        """Encode a message for this pool's format (Lite3 for format 3, CBOR for 100).

        Raises:
            UsageError: `data` is not an object or cannot be stored.
        """
        if self._v3:
            tag_list = list(tags)
            for tag in tag_list:
                if type(tag) is not str:
                    raise UsageError(f"tags must be strings, got {type(tag).__name__}")
            return lite3.encode_message(data, tag_list)
        return codec.encode_payload(data, tags)

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Unmap and close (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._sem is not None:
            self._sem.close()
        self._slot_view.release()
        with contextlib.suppress(BufferError):  # a caller still holds a view: the GC unmaps later
            self._mm.close()
        os.close(self._fd)

    def __del__(self) -> None:
        # A pool dropped without close() must not leak its descriptor (the binding frees on __del__ too).
        with contextlib.suppress(Exception):
            self.close()

    @property
    def closed(self) -> bool:
        """True once closed."""
        return self._closed

    def __enter__(self) -> PoolFile:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise UsageError("pool is closed", path=self._spath)

    # ------------------------------------------------------------------ state
    def _check_size(self) -> None:
        """A file shrunk under the mapping would SIGBUS on the next touch: refuse instead."""
        try:
            size = os.fstat(self._fd).st_size
        except OSError as exc:
            raise from_os_error(exc, self._spath, what="stat pool") from None
        if size < self.geo.file_size:
            raise CorruptError(
                f"pool file was truncated to {size} bytes (expected {self.geo.file_size})",
                path=self._spath,
                hint="restore it from a backup or recreate the pool",
            )

    def _state_tuple(self) -> tuple[int, int, int, int, int, int, int]:
        """Return the active state slot as a tuple, validated; Corrupt if none verifies."""
        self._check_size()
        mm = self._mm
        if self._v3:
            return self._state3()
        for attempt in range(_READ_RETRIES):
            raw = mm[64:192]
            v = SLOTS.unpack(raw)
            a_ok = zlib.crc32(raw[0:56]) == v[7]
            b_ok = zlib.crc32(raw[64:120]) == v[16]
            if a_ok and (not b_ok or v[0] > v[9]):
                st = v[0:7]
            elif b_ok:
                st = v[9:16]
            else:
                if attempt < 2:
                    continue
                time.sleep(0.0005)
                continue
            if _plausible(self._ring_size, st[1], st[2], st[3], st[4], st[5]):
                return st
            check_state(State(*st), self.geo, self._spath)
        raise CorruptError(
            "corrupt pool header: no valid state slot", path=self._spath, offset=64, hint="run `plasmite doctor` on it"
        )

    def _state3(self) -> tuple[int, int, int, int, int, int, int]:
        """Format 3: the single in-place state; re-read while it looks torn (a writer mid-publish)."""
        st: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)
        # A writer rewrites the state in place, field by field: a read can catch it half
        # done. Retry for up to 100 ms (a descheduled writer), then call it corrupt.
        give_up = 0.0
        for attempt in range(1 << 20):
            st = STATE3.unpack_from(self._mm, STATE3_OFFSET)
            head, tail, tnext, oldest, newest = st
            if _plausible(self._ring_size, head, tail, tnext, oldest, newest):
                # No generation counter in format 3: the state itself identifies a publication.
                return (hash(st), head, tail, tnext, oldest, newest, 0)
            if attempt == 2:
                give_up = time.monotonic() + 0.1
            elif attempt > 2:
                if time.monotonic() > give_up:
                    break
                time.sleep(0.0002)
        check_state(State(0, *st, 0), self.geo, self._spath)
        raise CorruptError("corrupt pool header state", path=self._spath, offset=64)

    def state(self) -> State:
        """Return the published state."""
        self._check_open()
        return State(*self._state_tuple())

    def _publish(self, gen: int, head: int, tail: int, tnext: int, oldest: int, newest: int, ts: int) -> None:
        if self._v3:
            STATE3.pack_into(self._mm, STATE3_OFFSET, head, tail, tnext, oldest, newest)
            return
        buf = self._slot_buf
        SLOT_BODY.pack_into(buf, 0, gen, head, tail, tnext, oldest, newest, ts)
        U32.pack_into(buf, 56, zlib.crc32(self._slot_view))
        off = 64 + ((gen & 1) << 6)
        self._mm[off : off + 64] = buf
        # Writers reuse this state while both slots' generations are what we left (see _append_locked).
        self._cached = (gen, head, tail, tnext, oldest, newest, ts)
        self._expect_gens = (gen, gen - 1) if gen & 1 == 0 else (gen - 1, gen)
        if self._expect_gens != _GENS.unpack_from(self._mm, 64):
            self._cached = None

    # ------------------------------------------------------------------ frames
    def _read_frame(self, off: int, expect: int) -> Frame | None:
        """Return the committed, intact frame with seq `expect` at ring offset `off`, else None."""
        ring = self._ring_size
        if off < 0 or off >= ring or off & 7:
            return None
        if ring - off < 64:
            off = 0
        mm = self._mm
        base = self._ring_offset
        try:
            magic, st, _fl, hlen, seq, ts, n, nx, crc = FRAME.unpack_from(mm, base + off)
            if st == STATE_WRAP and magic == FRAME_MAGIC and off:
                off = 0
                magic, st, _fl, hlen, seq, ts, n, nx, crc = FRAME.unpack_from(mm, base)
        except struct.error:
            return None
        if magic != FRAME_MAGIC or st != STATE_COMMITTED or seq != expect or hlen != 64 or n ^ nx != _XOR:
            return None
        nxt = off + ((FRAME_OVERHEAD + n + 7) & ~7)
        if nxt > ring:
            return None
        a = base + off + 64
        payload = mm[a : a + n]
        if mm[a + n : a + n + 8] != COMMIT_MARKER:
            return None
        if not self._v3 and zlib.crc32(payload, (ts ^ (ts >> 32)) & _XOR) != crc:
            return None
        if ring - nxt < 64:
            nxt = 0
        return (seq, ts, payload, nxt)

    def _frame_header(self, off: int, expect: int) -> tuple[int, int] | None:
        """Verify the header of frame `expect` near `off`; return (its offset, next offset)."""
        ring = self._ring_size
        if off < 0 or off >= ring or off & 7:
            return None
        if ring - off < 64:
            off = 0
        try:
            magic, st, _fl, hlen, seq, _ts, n, nx, _crc = FRAME.unpack_from(self._mm, self._ring_offset + off)
            if st == STATE_WRAP and magic == FRAME_MAGIC and off:
                off = 0
                magic, st, _fl, hlen, seq, _ts, n, nx, _crc = FRAME.unpack_from(self._mm, self._ring_offset)
        except struct.error:
            return None
        if magic != FRAME_MAGIC or st != STATE_COMMITTED or seq != expect or hlen != 64 or n ^ nx != _XOR:
            return None
        nxt = off + ((FRAME_OVERHEAD + n + 7) & ~7)
        if nxt > ring:
            return None
        if ring - nxt < 64:
            nxt = 0
        return off, nxt

    def _locate(self, seq: int, st: Sequence[int]) -> Frame | None:
        """Find frame `seq` through the index, else by a header walk from the tail."""
        if self._cap:
            slot_seq, off = INDEX_SLOT.unpack_from(self._mm, self._index_offset + 16 * (seq % self._cap))
            if slot_seq == seq:
                frame = self._read_frame(off, seq)
                if frame is not None:
                    return frame
        off, cur, newest = st[2], st[4], st[5]
        while cur < seq and cur <= newest:
            found = self._frame_header(off, cur)
            if found is None:
                return None
            off = found[1]
            cur += 1
        return self._read_frame(off, seq)

    def get(self, seq: int) -> Frame:
        """Return the retained frame `seq`.

        Raises:
            NotFoundError: `seq` is not retained.
            CorruptError: the frame fails its checks while no writer touched the pool.
        """
        self._check_open()
        last_gen = -1
        for _ in range(_READ_RETRIES):
            st = self._state_tuple()
            if not st[4] or seq < st[4] or seq > st[5]:
                raise NotFoundError(f"message {seq} not found", path=self._spath, seq=seq, hint=self._bounds_hint(st))
            frame = self._locate(seq, st)
            if frame is not None:
                if self._v3 and seq < self._state3()[4]:
                    # Evicted while we copied it: its bytes may already be a newer frame's
                    # (format 3 has no payload checksum to tell). The file size was checked
                    # by the state read above: no second fstat.
                    continue
                return frame
            if st[0] == last_gen:
                break
            last_gen = st[0]
        raise CorruptError(f"message {seq} fails its checks", path=self._spath, seq=seq, hint="run `plasmite doctor`")

    @staticmethod
    def _bounds_hint(st: Sequence[int]) -> str:
        if not st[4]:
            return "the pool is empty"
        return f"retained seqs are {st[4]}..{st[5]}"

    def _walk(self, off: int) -> int:
        """Planner walker: the normalised offset of the frame after the retained frame at `off`."""
        ring = self._ring_size
        try:
            magic, st, _fl, _hl, _seq, _ts, n, nx, _crc = FRAME.unpack_from(self._mm, self._ring_offset + off)
        except struct.error:
            magic, st, n, nx = b"", 0, 0, 0
        if magic != FRAME_MAGIC or st != STATE_COMMITTED or n ^ nx != _XOR:
            raise CorruptError("retained frame fails its checks during eviction", path=self._spath, offset=off)
        nxt = off + ((FRAME_OVERHEAD + n + 7) & ~7)
        if ring - nxt < 64:
            return 0
        magic, st = struct.unpack_from("<4sI", self._mm, self._ring_offset + nxt)
        if magic == FRAME_MAGIC and st == STATE_WRAP:
            return 0
        return int(nxt)

    # ------------------------------------------------------------------ writes
    def append(self, payload: bytes, flush: bool = False) -> tuple[int, int]:
        """Append one encoded payload under the writer lock; return (seq, timestamp_ns).

        With `flush`, the file is synced after the lock is released (so concurrent
        writers' syncs can share a journal commit) and before this returns.
        """
        self._check_open()
        self._check_size()  # before the lock: one syscall less inside the writers' critical section
        # Format 3: the whole frame is built before the lock; under it only seq and ts are
        # filled in and the bytes copied (concurrent writers wait on a shorter critical section).
        frame = self._prebuilt_frame(payload) if self._v3 and self.writable else None
        if frame is not None:
            self._prefault(len(frame))
        lock = self._lock
        lock.acquire()
        try:
            result = None if frame is None else self._append_prebuilt(frame)
            if result is None:
                result = self._append_locked(payload)
        finally:
            lock.release()
        if flush:
            self._sync()
        if self._sem is not None:
            self._sem.post()
        return result

    def append_many(self, payloads: Sequence[bytes], flush: bool = False) -> list[tuple[int, int]]:
        """Append several payloads under one lock acquisition (a batch); return their (seq, ts)."""
        self._check_open()
        self._check_size()
        if self._v3 and self.writable and payloads:
            self._prefault(sum((FRAME_OVERHEAD + len(p) + 7) & ~7 for p in payloads))
        out = []
        lock = self._lock
        lock.acquire()
        try:
            for payload in payloads:
                out.append(self._append_locked(payload))
        finally:
            lock.release()
        if flush and out:
            self._sync()  # once per batch, before any receipt is handed out
        if self._sem is not None and out:
            self._sem.post()
        return out

    def _prebuilt_frame(self, payload: bytes) -> bytearray | None:
        """Format 3: header (state Writing, seq and ts still 0), payload and marker; None if oversize."""
        n = len(payload)
        if n > self._max_payload:
            return None  # _append_locked reports it
        frame = bytearray(FRAME_OVERHEAD + n)
        FRAME.pack_into(frame, 0, FRAME_MAGIC, STATE_WRITING, 0, 64, 0, 0, n, n ^ _XOR, 0)
        frame[64 : 64 + n] = payload
        frame[64 + n :] = COMMIT_MARKER
        return frame

    def _prefault(self, length: int) -> None:
        """Map the ring pages the next frame will probably use as writable, before the lock.

        A first write to a page of a shared file mapping is a page fault (a few microseconds
        on ext4); taken under the writer lock it makes every other writer wait. The head is
        read without the lock, so the guess can be wrong: the cost is then an unneeded or a
        missing fault, never a change of the bytes (`MADV_POPULATE_WRITE` writes nothing).
        """
        if not self._populate:
            return
        start = self._ring_offset + STATE3.unpack_from(self._mm, STATE3_OFFSET)[0]
        end = start + length
        if self._populated[0] <= start and end <= self._populated[1]:
            return
        lo = start & -mmap.PAGESIZE
        hi = min(max(lo + _PREFAULT_WINDOW, end), self.geo.file_size)
        try:
            self._mm.madvise(_MADV_POPULATE_WRITE, lo, hi - lo)
        except (OSError, ValueError):
            self._populate = False  # an older kernel: fault pages under the lock as before
            return
        self._populated = (lo, hi)

    def _append_prebuilt(self, frame: bytearray) -> tuple[int, int] | None:
        """Format 3, under the lock: the common append (no eviction, no wrap, plausible state).

        Writes the same bytes in the same order as `_append_locked` (frame in state Writing,
        Committed, index slot, state); returns None for every other case, which
        `_append_locked` then handles.
        """
        mm = self._mm
        head, tail, tnext, oldest, newest = STATE3.unpack_from(mm, STATE3_OFFSET)
        ring = self._ring_size
        length = (len(frame) + 7) & ~7
        if not (oldest and tail < head and head + length <= ring):
            return None
        if not _plausible(ring, head, tail, tnext, oldest, newest):
            return None
        last_seq, last_ts = self._last_v3
        newest_ts = last_ts if newest == last_seq else self._newest_ts(newest)
        ts = time.time_ns()
        ts = max(ts, newest_ts)
        seq = newest + 1
        _SEQ_TS.pack_into(frame, 16, seq, ts)
        a = self._ring_offset + head
        mm[a : a + len(frame)] = frame
        U32.pack_into(mm, a + 4, STATE_COMMITTED)
        if self._cap:
            INDEX_SLOT.pack_into(mm, self._index_offset + 16 * (seq % self._cap), seq, head)
        new_head = head + length
        if new_head >= ring:
            new_head = 0
        STATE3.pack_into(mm, STATE3_OFFSET, new_head, tail, head if oldest == newest else tnext, oldest, seq)
        self._last_v3 = (seq, ts)
        return seq, ts

    def _append_locked(self, payload: bytes, keep_ts: int | None = None) -> tuple[int, int]:
        if not self.writable:
            raise PermissionDeniedError("pool is opened read-only", path=self._spath, hint="check the file's mode")
        n = len(payload)
        if n > self._max_payload:
            raise UsageError(
                f"message of {n} bytes exceeds the pool's maximum of {self._max_payload}",
                path=self._spath,
                hint="create a bigger pool (--size)",
            )
        cached = self._cached
        if self._v3:
            gen, head, tail, tnext, oldest, newest, newest_ts = self._locked_state3()
        elif cached is not None and _GENS.unpack_from(self._mm, 64) == self._expect_gens:
            gen, head, tail, tnext, oldest, newest, newest_ts = cached
        else:
            gen, head, tail, tnext, oldest, newest, newest_ts = self._state_tuple()
        ring = self._ring_size
        length = (FRAME_OVERHEAD + n + 7) & ~7
        start, wrapped, tail, tnext, new_oldest, evicted = plan_append(
            head, tail, tnext, oldest, newest, ring, length, self._walk
        )
        mm = self._mm
        if evicted:
            gen += 1
            self._publish(gen, head, tail, tnext, new_oldest, newest, newest_ts)
        ts = time.time_ns() if keep_ts is None else keep_ts
        ts = max(ts, newest_ts)
        seq = newest + 1
        base = self._ring_offset
        if wrapped and ring - head >= 64:
            FRAME.pack_into(mm, base + head, *_WRAP_ARGS)
        a = base + start
        FRAME.pack_into(
            mm,
            a,
            FRAME_MAGIC,
            STATE_WRITING,
            0,
            64,
            seq,
            ts,
            n,
            n ^ _XOR,
            0 if self._v3 else zlib.crc32(payload, (ts ^ (ts >> 32)) & _XOR),
        )
        p = a + 64
        mm[p : p + n] = payload
        mm[p + n : p + n + 8] = COMMIT_MARKER
        U32.pack_into(mm, a + 4, STATE_COMMITTED)
        if self._cap:
            INDEX_SLOT.pack_into(mm, self._index_offset + 16 * (seq % self._cap), seq, start)
        new_head = start + length
        if new_head >= ring:
            new_head = 0
        if new_oldest == 0:
            tail, tnext, new_oldest = start, new_head, seq
        elif new_oldest == newest:
            tnext = start
        self._publish(gen + 1, new_head, tail, tnext, new_oldest, seq, ts)
        self._last_v3 = (seq, ts)  # read by format 3 only (_locked_state3)
        if not self._v3 and U64.unpack_from(mm, FOLLOW_UNTIL_OFFSET)[0] > ts:
            os.pwrite(self._fd, b"\x01", NOTIFY_OFFSET)
        return seq, ts

    def _locked_state3(self) -> tuple[int, int, int, int, int, int, int]:
        """Format 3 state for an append, read while holding the writer lock (newest_ts filled in).

        Under the lock no writer can be mid-publish, so one read is enough unless it looks
        wrong (then `_state3` retries and reports corruption). The newest frame's timestamp
        is ours from the last append when nobody appended since (the common case).
        """
        head, tail, tnext, oldest, newest = STATE3.unpack_from(self._mm, STATE3_OFFSET)
        if not _plausible(self._ring_size, head, tail, tnext, oldest, newest):
            _gen, head, tail, tnext, oldest, newest, _ts = self._state3()
        last_seq, last_ts = self._last_v3
        if not newest:
            newest_ts = 0
        elif newest == last_seq:
            newest_ts = last_ts
        else:
            newest_ts = self._newest_ts(newest)
        return 0, head, tail, tnext, oldest, newest, newest_ts

    def _newest_ts(self, newest: int) -> int:
        """Format 3: the newest frame's timestamp via the index (0 when it cannot be found cheaply)."""
        if not self._cap:
            return 0
        slot_seq, off = INDEX_SLOT.unpack_from(self._mm, self._index_offset + 16 * (newest % self._cap))
        if slot_seq != newest or off & 7 or off > self._ring_size - 64:
            return 0
        _m, st, _f, _h, seq, ts, _n, _x, _c = FRAME.unpack_from(self._mm, self._ring_offset + off)
        return int(ts) if seq == newest and st == STATE_COMMITTED else 0

    def _sync(self) -> None:
        """Write the pool's dirty pages to disk (durability `flush`).

        One `fdatasync` of the file: on Linux it writes back pages dirtied through the
        shared mapping exactly as `msync(MS_SYNC)` does, in one call instead of one per page.
        """
        try:
            os.fdatasync(self._fd)
        except OSError as exc:
            raise from_os_error(exc, self._spath, what="flush pool") from None

    # ------------------------------------------------------------------ followers
    def request_wakeups(self, seconds: float = 2.0) -> bool:
        """Ask writers to `pwrite` the notify byte until now + `seconds`; False if read-only."""
        if not self.writable or self._closed or self._v3:
            return False
        U64.pack_into(self._mm, FOLLOW_UNTIL_OFFSET, time.time_ns() + int(seconds * 1e9))
        return True

    @property
    def semaphore(self) -> PoolSemaphore | None:
        """Plasmite's wake-up semaphore of a format-3 pool (None for format 100)."""
        return self._sem

    @property
    def fd(self) -> int:
        """The open file descriptor (for inotify watchers)."""
        return self._fd

    def cursor(self, since_seq: int | None = None, *, live: bool = False) -> Cursor:
        """Return a cursor at `since_seq`, the oldest retained message, or (`live`) the next new one."""
        self._check_open()
        st = self._state_tuple()
        if since_seq is not None:
            return Cursor(self, since_seq, -1)
        if live:
            return Cursor(self, st[5] + 1, st[1])
        if st[4]:
            return Cursor(self, st[4], st[2])
        return Cursor(self, st[5] + 1, st[1])

    def last_seq(self) -> int:
        """The newest seq ever written (0 for a new pool)."""
        return self._state_tuple()[5]


class Cursor:
    """A lock-free reading position: the next expected seq and where its frame should be.

    `poll()` returns what is committed now: frames in order, and a `Gap` when the
    writers evicted messages the cursor had not read yet.
    """

    __slots__ = ("next_seq", "offset", "pool")

    def __init__(self, pool: PoolFile, next_seq: int, offset: int) -> None:
        self.pool = pool
        self.next_seq = next_seq
        self.offset = offset

    def poll(self, limit: int = 256) -> list[Frame | Gap]:
        """Return up to `limit` items available now (empty when caught up).

        Raises:
            CorruptError: a retained frame fails its checks while no writer touched the pool.
        """
        out = self._poll(limit)
        if self.pool._v3 and out:
            out = _drop_evicted(out, self.pool._state_tuple()[4])
        return out

    def _poll(self, limit: int) -> list[Frame | Gap]:
        pool = self.pool
        out: list[Frame | Gap] = []
        last_gen = -1
        for _ in range(_READ_RETRIES):
            st = pool._state_tuple()
            oldest, newest = st[4], st[5]
            if not oldest or self.next_seq > newest:
                return out
            if self.next_seq < oldest:
                out.append(Gap(self.next_seq, oldest))
                self.next_seq = oldest
                self.offset = st[2]
            seq, off = _read_run(
                pool, self.next_seq, self.offset, min(newest, self.next_seq + limit - len(out) - 1), out
            )
            self.next_seq = seq
            self.offset = off
            if seq > newest or len(out) >= limit:
                return out
            # The frame at our offset did not verify: stale offset, a racing writer, or damage.
            frame = pool._locate(seq, st)
            if frame is not None:
                out.append(frame)
                self.next_seq = seq + 1
                self.offset = frame[3]
                continue
            if st[0] == last_gen:
                break
            last_gen = st[0]
        raise CorruptError(
            f"message {self.next_seq} fails its checks",
            path=str(pool.path),
            seq=self.next_seq,
            hint="run `plasmite doctor`",
        )


def _drop_evicted(out: list[Frame | Gap], oldest: int) -> list[Frame | Gap]:
    """Turn frames evicted while they were being copied into a gap (checked after the copy).

    Writers publish an eviction before they overwrite its bytes, so a frame whose seq is still
    retained after the copy was intact while copied. Format 3 frames carry no payload checksum,
    so this check is what keeps a lock-free reader from returning a torn payload.
    """
    kept: list[Frame | Gap] = []
    evicted_from = 0
    for item in out:
        if not isinstance(item, Gap) and item[0] < oldest:
            evicted_from = evicted_from or item[0]
            continue
        kept.append(item)
    if not evicted_from:
        return out
    position = next((i for i, item in enumerate(kept) if not isinstance(item, Gap)), len(kept))
    kept.insert(position, Gap(evicted_from, oldest))
    return kept


def _read_run(pool: PoolFile, seq: int, off: int, stop: int, out: list[Frame | Gap]) -> tuple[int, int]:
    """Append verified frames `seq..stop` to `out`; return where reading stopped (seq, offset).

    An inlined copy of `PoolFile._read_frame` for the common case (no wrap): this loop
    is the read hot path, and a call per frame costs a fifth of it.
    """
    mm, base, ring, unpack, append = pool._mm, pool._ring_offset, pool._ring_size, FRAME.unpack_from, out.append
    read = pool._read_frame
    nocrc = pool._v3
    while seq <= stop:
        if 0 <= off <= ring - 72 and not off & 7:
            magic, state, _fl, hlen, fseq, ts, n, nx, crc = unpack(mm, base + off)
            if state == STATE_COMMITTED and fseq == seq and magic == FRAME_MAGIC and hlen == 64 and n ^ nx == _XOR:
                nxt = off + ((FRAME_OVERHEAD + 7 + n) & ~7)
                a = base + off + 64
                if nxt <= ring:
                    payload = mm[a : a + n]
                    if mm[a + n : a + n + 8] == COMMIT_MARKER and (
                        nocrc or crc32(payload, (ts ^ (ts >> 32)) & _XOR) == crc
                    ):
                        append((seq, ts, payload, 0 if ring - nxt < 64 else nxt))
                        off = 0 if ring - nxt < 64 else nxt
                        seq += 1
                        continue
        frame = read(off, seq)
        if frame is None:
            break
        append(frame)
        off = frame[3]
        seq += 1
    return seq, off
