"""LMDB backend: embedded, one writer thread with group commit.

Layout (all integers big-endian, see specs/graveyar/storage.md):
  streams   name            -> state (stream key, version, last position, truncate_before, deleted, max_count, max_age)
  versions  key(8)+ver(8)   -> position(8)
  log       position(8)     -> record (graveyar.v1.RecordedEvent bytes)
  ids       uuid(16)        -> key(8) version(8) position(8) hash(16)
  ids_journal position(8)   -> uuid(16) + the ids value: ids not merged into `ids` yet
  snapshots name            -> version(8) timestamp(8) payload
  schemas   name            -> canonical JSON
  meta      b"head", b"next_key", b"format"

Appends from every client go to one queue; the writer drains it into one write transaction
and one fsync'd commit, then resolves every caller's future. Reads run on the event loop in
short read transactions.

New event ids go to `ids_journal` (keyed by position: appended, a few pages per commit) and to
an in-memory map; every `ids_merge_at` ids the writer merges them into `ids` in one sorted pass.
Inserting each id into `ids` directly dirtied about one random page per event, which made a
commit's fsync several times slower than the events' own pages.
"""

# ruff: noqa: TID253 - only imported lazily (by the server and tests), never by the CLI group
from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import queue
import struct
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import lmdb

from toolkit_graveyar.core.codec import decode_record, finish_record, stream_field
from toolkit_graveyar.core.errors import StorageFailure, WrongExpectedVersion
from toolkit_graveyar.core.model import AppendResult, Expected, Snapshot, StreamInfo, StreamMetadata
from toolkit_graveyar.core.notify import PositionNotifier
from toolkit_graveyar.storage.base import (
    IdHit,
    PreparedEvent,
    Purged,
    Store,
    StreamState,
    check_expected,
    check_multi_results,
    check_snapshot,
    deleted_state,
    doomed,
    idempotent_result,
)
from toolkit_kernel.errors import Busy, Corrupt, ToolkitError

__all__ = ["LmdbStore", "compact"]

_Q = struct.Struct(">Q")
_QQ = struct.Struct(">QQ")
_STATE = struct.Struct(">QQQQBqq")
_ID = struct.Struct(">QQQ16s")
_FORMAT = b"graveyar-lmdb-2"
#: Format 1 had no `ids_journal`; it is format 2 with an empty journal (upgraded on open).
_FORMAT_1 = b"graveyar-lmdb-1"
DEFAULT_MAP_SIZE = 64 * 1024**3
#: Journaled ids merged into `ids` at once (see the module docstring).
DEFAULT_IDS_MERGE_AT = 50_000

log = logging.getLogger("graveyar.lmdb")


def _pack_state(s: StreamState) -> bytes:
    mc = -1 if s.max_count is None else s.max_count
    ma = -1 if s.max_age is None else s.max_age
    return _STATE.pack(s.key, s.version, s.position, s.truncate_before, int(s.deleted), mc, ma)


def _unpack_state(name: str, raw: bytes) -> StreamState:
    key, version, position, tb, deleted, mc, ma = _STATE.unpack(raw)
    return StreamState(name, key, version, position, tb, bool(deleted), None if mc < 0 else mc, None if ma < 0 else ma)


class _Op:
    __slots__ = ("append", "fn", "future", "result")

    def __init__(
        self, fn: Callable[[Any], Any], future: asyncio.Future[Any], append: _AppendArgs | None = None
    ) -> None:
        self.fn = fn
        self.future = future
        self.result: Any = None
        #: (stream, events, expected) of a plain append (see `LmdbStore._run_appends`).
        self.append = append


_AppendArgs = tuple[str, Sequence[PreparedEvent], Expected]


class _Rows:
    """The rows appends put into each database, collected so that a database gets one putmulti."""

    __slots__ = ("journal", "log", "states", "versions")

    def __init__(self) -> None:
        self.log: list[tuple[bytes, bytes]] = []
        self.versions: list[tuple[bytes, bytes]] = []
        self.journal: list[tuple[bytes, bytes]] = []
        self.states: dict[bytes, bytes] = {}


class LmdbStore(Store):
    """The embedded backend. Create with `await LmdbStore.open(path)` on the serving loop."""

    def __init__(
        self,
        path: Path,
        *,
        map_size: int = DEFAULT_MAP_SIZE,
        sync: bool = True,
        max_batch: int = 4096,
        commit_delay: float = 0.002,
        ids_merge_at: int = DEFAULT_IDS_MERGE_AT,
    ):
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(path / "graveyar.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise Busy(
                f"data directory {path} is in use by another graveyar server",
                hint="stop the other server, or pass a different --data-dir",
                details={"data_dir": str(path)},
            ) from None
        os.ftruncate(self._lock_fd, 0)
        os.write(self._lock_fd, f"{os.getpid()}\n".encode())
        try:
            self._env = lmdb.open(
                str(path / "lmdb"), map_size=map_size, max_dbs=8, sync=sync, metasync=sync, subdir=True, max_readers=512
            )
        except (lmdb.InvalidError, lmdb.CorruptedError, lmdb.VersionMismatchError) as exc:
            os.close(self._lock_fd)
            raise Corrupt(
                f"{path / 'lmdb'} is not a readable graveyar LMDB environment: {exc}",
                hint="restore the directory from a backup, or point --data-dir elsewhere",
                details={"data_dir": str(path)},
            ) from None
        except lmdb.Error as exc:
            os.close(self._lock_fd)
            raise StorageFailure(
                f"cannot open LMDB in {path}: {exc}", hint="check permissions and free space"
            ) from None
        self._env.reader_check()
        e = self._env
        self._streams = e.open_db(b"streams")
        self._versions = e.open_db(b"versions")
        self._log = e.open_db(b"log")
        self._ids = e.open_db(b"ids")
        self._snapshots = e.open_db(b"snapshots")
        self._schemas = e.open_db(b"schemas")
        self._meta = e.open_db(b"meta")
        self._journal = e.open_db(b"ids_journal")
        #: Journaled ids (uuid -> ids value), committed; and those of the batch being written.
        self._recent: dict[bytes, bytes] = {}
        self._staged: dict[bytes, bytes] = {}
        #: Changes to `_recent` that take effect when the batch commits.
        self._after_commit: list[Callable[[], Any]] = []
        self._ids_merge_at = ids_merge_at
        self._whead, self._next_key = self._load()
        self._max_batch = max_batch
        self._commit_delay = commit_delay
        self._queue: queue.SimpleQueue[list[_Op] | None] = queue.SimpleQueue()
        self._pending: list[_Op] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.notifier = PositionNotifier(self._whead)
        self.commits = 0  # number of durable commits (group commit statistics)

    def _load(self) -> tuple[int, int]:
        """Check (and upgrade) the format, load the id journal; return (head, next stream key)."""
        with self._env.begin(write=True) as txn:
            fmt = txn.get(b"format", db=self._meta)
            if fmt is None or fmt == _FORMAT_1:
                txn.put(b"format", _FORMAT, db=self._meta)
            elif fmt != _FORMAT:
                raise StorageFailure(f"{self.path} holds an unknown storage format {fmt!r}")
            for _, entry in txn.cursor(db=self._journal):
                self._recent[entry[:16]] = entry[16:]
            raw = txn.get(b"head", db=self._meta)
            head = _Q.unpack(raw)[0] if raw else 0
            raw = txn.get(b"next_key", db=self._meta)
            return head, _Q.unpack(raw)[0] if raw else 1

    @classmethod
    async def open(cls, path: Path, **kwargs: Any) -> LmdbStore:
        """Open (or create) the store at `path` and start its writer thread on the running loop."""
        store = cls(path, **kwargs)
        store._loop = asyncio.get_running_loop()
        store._thread = threading.Thread(target=store._writer, name="graveyar-lmdb-writer", daemon=True)
        store._thread.start()
        return store

    # -- writer ---------------------------------------------------------------------------------
    def _writer(self) -> None:
        q = self._queue
        last_batch = 0
        while True:
            first = q.get()
            if first is None:
                return
            if last_batch > 1 and self._commit_delay > 0:
                # Concurrent writers are active (the last batch had several): wait a moment so
                # their next appends share this commit (PostgreSQL's commit_delay idea). A lone
                # sequential writer never pays this.
                time.sleep(self._commit_delay)
            ops = list(first)
            stop = False
            while len(ops) < self._max_batch:
                try:
                    nxt = q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                ops.extend(nxt)
            self._run_batch(ops)
            last_batch = len(ops)
            if stop:
                return

    def _run_batch(self, ops: list[_Op]) -> None:
        committed_head, committed_key = self._whead, self._next_key
        outcomes: list[tuple[_Op, BaseException | None]] = []
        try:
            with self._env.begin(write=True) as txn:
                if not self._run_appends(txn, ops, outcomes):
                    for op in ops:
                        try:
                            op.result = op.fn(txn)
                            outcomes.append((op, None))
                        except ToolkitError as exc:  # rejected before writing anything
                            outcomes.append((op, exc))
                if self._whead != committed_head:
                    txn.put(b"head", _Q.pack(self._whead), db=self._meta)
                if self._next_key != committed_key:
                    txn.put(b"next_key", _Q.pack(self._next_key), db=self._meta)
            self.commits += 1
            self._recent.update(self._staged)
            for change in self._after_commit:
                change()
        except Exception as exc:
            self._whead, self._next_key = committed_head, committed_key
            err = StorageFailure(f"LMDB write failed: {exc}", hint="check disk space and --map-size")
            outcomes = [(op, err) for op in ops]
        self._staged.clear()
        self._after_commit.clear()
        head = self._whead
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._resolve, outcomes, head)
        if len(self._recent) >= self._ids_merge_at:
            self._merge_ids()

    def _run_appends(self, txn: Any, ops: list[_Op], outcomes: list[tuple[_Op, BaseException | None]]) -> bool:
        """Write a batch of plain appends with one read and one putmulti per database; False if it is not one.

        Each LMDB call releases the interpreter lock, which the event loop then holds for up to
        its switch interval: per-append calls (six each) made a 50-append batch wait on the loop
        again and again. Taken only when no id of the batch is recorded or repeated (retries and
        duplicates take the per-operation path, whose rules these are), so the only refusals here
        are expected-state ones, decided before anything of that append is collected.
        """
        appends: list[_AppendArgs] = []
        for op in ops:
            if op.append is None:
                return False
            appends.append(op.append)
        idents = [ev.uuid for _, events, _ in appends for ev in events]
        if len(set(idents)) != len(idents) or self._lookup_ids(txn, idents) is not None:
            return False
        names = sorted({stream.encode("utf-8") for stream, _, _ in appends})
        states: dict[str, StreamState] = {}
        for k, v in txn.cursor(db=self._streams).getmulti(names):
            name = bytes(k).decode("utf-8")
            states[name] = _unpack_state(name, v)
        rows = _Rows()
        for op, (stream, events, expected) in zip(ops, appends, strict=True):
            state = states.get(stream)
            try:
                check_expected(stream, state, expected)
            except ToolkitError as exc:
                outcomes.append((op, exc))
                continue
            op.result, states[stream] = self._stage_append(stream, state, events, rows)
            outcomes.append((op, None))
        self._put_rows(txn, rows)
        return True

    def _stage_append(
        self, stream: str, state: StreamState | None, events: Sequence[PreparedEvent], rows: _Rows
    ) -> tuple[AppendResult, StreamState]:
        """Collect the rows of an append whose checks passed; advance the head; return its result and state."""
        key = state.key if state is not None else self._next_key
        version, pos = state.version if state is not None else 0, self._whead
        first_version, first_pos = version + 1, pos + 1
        staged = self._staged
        sf = stream_field(stream)
        log_rows, version_rows, journal_rows = rows.log, rows.versions, rows.journal
        for ev in events:
            version += 1
            pos += 1
            pkey = _Q.pack(pos)
            log_rows.append((pkey, finish_record(ev.tail, sf, version, pos)))
            version_rows.append((_QQ.pack(key, version), pkey))
            hit = _ID.pack(key, version, pos, ev.content_hash)
            journal_rows.append((pkey, ev.uuid + hit))
            # An id repeated within this very append (the service rejects those before they get
            # here) is stored as a plain write would: the last one wins.
            staged[ev.uuid] = hit
        if state is None:
            state = StreamState(stream, key)
            self._next_key += 1
        revived = state.deleted
        state.version, state.position, state.deleted = version, pos, False
        rows.states[stream.encode("utf-8")] = _pack_state(state)
        self._whead = pos
        return AppendResult(stream, first_version, version, first_pos, pos, revived=revived), state

    def _put_rows(self, txn: Any, rows: _Rows) -> None:
        """One putmulti per database: the loop over the rows runs in C."""
        if not rows.log:
            return
        txn.cursor(db=self._journal).putmulti(rows.journal, append=True)
        _, added = txn.cursor(db=self._log).putmulti(rows.log, append=True)
        if added != len(rows.log):  # the head and the log disagree: abort the whole transaction
            raise RuntimeError(f"log positions from {_Q.unpack(rows.log[0][0])[0]} on are already taken")
        txn.cursor(db=self._versions).putmulti(rows.versions)
        txn.cursor(db=self._streams).putmulti(list(rows.states.items()))

    def _merge_ids(self) -> None:
        """Move the journaled ids into `ids`: one sorted pass dirties each of its pages at most once."""
        try:
            with self._env.begin(write=True) as txn:
                txn.cursor(db=self._ids).putmulti(sorted(self._recent.items()))
                txn.drop(self._journal, delete=False)
        except lmdb.Error as exc:  # the journal still holds them: the next batch tries again
            log.warning("merging %d journaled event ids failed: %s", len(self._recent), exc)
            return
        self._recent.clear()

    def _resolve(self, outcomes: list[tuple[_Op, BaseException | None]], head: int) -> None:
        for op, exc in outcomes:
            if op.future.done():
                continue
            if exc is None:
                op.future.set_result(op.result)
            else:
                op.future.set_exception(exc)
        self.notifier.publish(head)

    async def _submit(self, fn: Callable[[Any], Any], append: _AppendArgs | None = None) -> Any:
        if self._thread is None or not self._thread.is_alive():
            raise StorageFailure("the store is closed")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._pending.append(_Op(fn, fut, append))
        if len(self._pending) == 1:
            # hand everything submitted during this loop iteration to the writer at once
            loop.call_soon(self._handoff)
        return await fut

    def _handoff(self) -> None:
        ops, self._pending = self._pending, []
        if ops:
            self._queue.put(ops)

    def _state(self, txn: Any, stream: str) -> StreamState | None:
        raw = txn.get(stream.encode("utf-8"), db=self._streams)
        return _unpack_state(stream, raw) if raw is not None else None

    # -- writes ---------------------------------------------------------------------------------
    async def append(self, stream: str, events: Sequence[PreparedEvent], expected: Expected) -> AppendResult:
        """Append atomically (group-committed with concurrent appends)."""
        result: AppendResult = await self._submit(
            lambda txn: self._op_append(txn, stream, events, expected), (stream, events, expected)
        )
        return result

    async def append_multi(self, items: Sequence[tuple[str, Sequence[PreparedEvent], Expected]]) -> list[AppendResult]:
        """Append to several streams in one nested transaction (aborted whole on any failure)."""
        result: list[AppendResult] = await self._submit(lambda txn: self._op_multi(txn, items))
        return result

    def _op_multi(self, txn: Any, items: Sequence[tuple[str, Sequence[PreparedEvent], Expected]]) -> list[AppendResult]:
        head, next_key, staged = self._whead, self._next_key, len(self._staged)
        child = self._env.begin(write=True, parent=txn)
        try:
            results = [self._op_append(child, stream, events, expected) for stream, events, expected in items]
            check_multi_results(results)
        except BaseException:
            child.abort()
            self._whead, self._next_key = head, next_key
            for ident in list(self._staged)[staged:]:  # the ids this append journaled
                del self._staged[ident]
            raise
        child.commit()
        return results

    def _op_append(self, txn: Any, stream: str, events: Sequence[PreparedEvent], expected: Expected) -> AppendResult:
        state = self._state(txn, stream)
        try:
            check_expected(stream, state, expected)
        except WrongExpectedVersion:
            # A retry of an append that did commit succeeds even though the stream has moved on.
            done = self._recorded(txn, stream, state, events)
            if done is not None:
                return done
            raise
        # Ids recorded already: a retry of a committed append (its original result), or a
        # DuplicateEventId. Checked before anything is written.
        done = self._recorded(txn, stream, state, events)
        if done is not None:
            return done
        rows = _Rows()
        result, _ = self._stage_append(stream, state, events, rows)
        self._put_rows(txn, rows)
        return result

    def _recorded(
        self, txn: Any, stream: str, state: StreamState | None, events: Sequence[PreparedEvent]
    ) -> AppendResult | None:
        """The original result if this append's ids are recorded already (see `idempotent_result`), else None."""
        raw_hits = self._lookup_ids(txn, [ev.uuid for ev in events])
        if raw_hits is None:
            return None
        hits = [IdHit(*_ID.unpack(r)) if r is not None else None for r in raw_hits]
        return idempotent_result(stream, state.key if state else None, events, hits)

    def _lookup_ids(self, txn: Any, idents: list[bytes]) -> list[bytes | None] | None:
        """The recorded `ids` values of `idents` (None where new), or None when all are new (the common case)."""
        staged, recent = self._staged, self._recent
        if staged.keys().isdisjoint(idents) and recent.keys().isdisjoint(idents):
            # Searched in C, one call for the whole append.
            found = dict(txn.cursor(db=self._ids).getmulti(idents))
            if not found:
                return None
        else:
            found = {}
        get = txn.get
        out: list[bytes | None] = []
        for ident in idents:
            value = staged.get(ident) or recent.get(ident) or found.get(ident) or get(ident, db=self._ids)
            out.append(bytes(value) if value is not None else None)
        return out

    async def delete_stream(self, stream: str, expected: Expected, *, tombstone: bool = False) -> int:
        """Soft delete, or tombstone."""

        def op(txn: Any) -> int:
            def new_state() -> StreamState:
                key, self._next_key = self._next_key, self._next_key + 1
                return StreamState(stream, key)

            state = deleted_state(stream, self._state(txn, stream), expected, tombstone=tombstone, new_state=new_state)
            txn.put(stream.encode("utf-8"), _pack_state(state), db=self._streams)
            # The snapshot describes events the delete hid: a revived stream must not load it.
            txn.delete(stream.encode("utf-8"), db=self._snapshots)
            return state.version

        version: int = await self._submit(op)
        return version

    async def set_stream_metadata(self, stream: str, metadata: StreamMetadata) -> StreamInfo:
        """Replace retention rules."""

        def op(txn: Any) -> StreamInfo:
            state = self._state(txn, stream)
            if state is None:
                state = StreamState(stream, self._next_key)
                self._next_key += 1
            state.max_count, state.max_age = metadata.max_count, metadata.max_age
            if metadata.truncate_before is not None:
                state.truncate_before = max(state.truncate_before, metadata.truncate_before)
            txn.put(stream.encode("utf-8"), _pack_state(state), db=self._streams)
            return state.info()

        info: StreamInfo = await self._submit(op)
        return info

    async def save_snapshot(self, snapshot: Snapshot, *, exact: bool) -> None:
        """Keep the latest snapshot (checked and written in one transaction)."""

        def op(txn: Any) -> None:
            key = snapshot.stream.encode("utf-8")
            raw = txn.get(key, db=self._snapshots)
            stored = _QQ.unpack(raw[:16])[0] if raw is not None else None
            check_snapshot(snapshot.stream, self._state(txn, snapshot.stream), snapshot, stored, exact=exact)
            txn.put(key, _QQ.pack(snapshot.version, snapshot.timestamp) + snapshot.payload, db=self._snapshots)

        await self._submit(op)

    async def _purge(self, stream: str, lo: int, hi: int) -> Purged:
        """Delete the doomed versions lo..hi: log records, version index entries and event ids."""

        def op(txn: Any) -> Purged:
            purged = Purged()
            state = self._state(txn, stream)
            if state is None:
                return purged
            vcur = txn.cursor(db=self._versions)
            found: list[tuple[int, bytes, bytes]] = []  # version, position key, record
            if vcur.set_range(_QQ.pack(state.key, lo)):
                last = _QQ.pack(state.key, hi)
                for vkey, pkey in vcur.iternext():
                    if vkey > last:
                        break
                    found.append((_QQ.unpack(vkey)[1], pkey, txn.get(pkey, db=self._log) or b""))
            gone = set(doomed(state, [(v, rec) for v, _, rec in found], int(time.time() * 1000)))
            for version, pkey, record in found:
                if version not in gone:
                    continue
                txn.delete(_QQ.pack(state.key, version), db=self._versions)
                txn.delete(pkey, db=self._log)
                if record:
                    self._forget_id(txn, uuid.UUID(decode_record(record).event_id).bytes, pkey)
                purged.events += 1
                purged.bytes += len(record)
            return purged

        purged: Purged = await self._submit(op)
        return purged

    def _forget_id(self, txn: Any, ident: bytes, pkey: bytes) -> None:
        """Remove the id entry of the event at `pkey`, wherever it is (not another stream's later use of the id)."""
        (held,) = self._lookup_ids(txn, [ident]) or [None]
        if held is None or _ID.unpack(held)[2] != _Q.unpack(pkey)[0]:
            return
        if ident in self._staged:
            del self._staged[ident]
        if ident in self._recent:
            recent = self._recent
            self._after_commit.append(lambda: recent.pop(ident, None))
        txn.delete(pkey, db=self._journal)
        txn.delete(ident, db=self._ids)

    def entry_counts(self) -> dict[str, int]:
        """Entries per LMDB database (what a scavenge shrinks; for operators and tests)."""
        with self._env.begin() as txn:
            counts = {
                name: int(txn.stat(db)["entries"])
                for name, db in (("log", self._log), ("versions", self._versions), ("ids", self._ids))
            }
            counts["ids"] += int(txn.stat(self._journal)["entries"])
            return counts

    async def upsert_schema(self, name: str, definition: dict[str, Any]) -> None:
        """Store a schema."""
        raw = json.dumps(definition, sort_keys=True, separators=(",", ":")).encode()
        await self._submit(lambda txn: txn.put(name.encode("utf-8"), raw, db=self._schemas))

    # -- reads ----------------------------------------------------------------------------------
    async def stream_state(self, stream: str) -> StreamState | None:
        """State of one stream."""
        with self._env.begin() as txn:
            return self._state(txn, stream)

    async def _read_versions(self, state: StreamState, lo: int, hi: int, backward: bool, limit: int) -> list[bytes]:
        out: list[bytes] = []
        n = hi - lo + 1 if limit == 0 else min(limit, hi - lo + 1)
        key = state.key
        with self._env.begin() as txn:
            vcur = txn.cursor(db=self._versions)
            get = txn.get
            log = self._log
            if backward:
                # The highest stored version <= hi (scavenged versions leave gaps).
                if not vcur.set_range(_QQ.pack(key, hi)):
                    if not vcur.last():
                        return out
                elif vcur.key() != _QQ.pack(key, hi) and not vcur.prev():
                    return out
                it = vcur.iterprev()
            else:
                if not vcur.set_range(_QQ.pack(key, lo)):
                    return out
                it = vcur.iternext()
            # Bounded by key as well as by count: scavenged versions leave gaps, and the next
            # stream's versions follow this stream's in the index.
            first, last = _QQ.pack(key, lo), _QQ.pack(key, hi)
            for vkey, pkey in it:
                if vkey > last or vkey < first:
                    break
                out.append(get(pkey, db=log) or b"")
                if len(out) >= n:
                    break
        return out

    async def read_all(self, start: int | None, backward: bool, limit: int) -> list[bytes]:
        """Records of the global log."""
        out: list[bytes] = []
        with self._env.begin() as txn:
            cur = txn.cursor(db=self._log)
            if backward:
                if start is None:
                    ok = cur.last()
                elif cur.set_range(_Q.pack(start)):
                    ok = cur.key() == _Q.pack(start) or cur.prev()
                else:
                    ok = cur.last()
                if not ok:
                    return out
                it = cur.iterprev(keys=False)
            else:
                if not cur.set_range(_Q.pack(start or 1)):
                    return out
                it = cur.iternext(keys=False)
            if limit:
                for rec in it:
                    out.append(rec)
                    if len(out) >= limit:
                        break
            else:
                out.extend(it)
        return out

    async def list_streams(self, prefix: str, after: str, limit: int) -> list[StreamInfo]:
        """Streams by name."""
        out: list[StreamInfo] = []
        start = max(prefix, after).encode("utf-8")
        pfx = prefix.encode("utf-8")
        with self._env.begin() as txn:
            cur = txn.cursor(db=self._streams)
            if not cur.set_range(start):
                return out
            for k, v in cur.iternext():
                if not k.startswith(pfx):
                    break
                name = k.decode("utf-8")
                if name == after:
                    continue
                out.append(_unpack_state(name, v).info())
                if limit and len(out) >= limit:
                    break
        return out

    async def get_snapshot(self, stream: str) -> Snapshot | None:
        """Latest snapshot."""
        with self._env.begin() as txn:
            raw = txn.get(stream.encode("utf-8"), db=self._snapshots)
        if raw is None:
            return None
        version, ts = _QQ.unpack(raw[:16])
        return Snapshot(stream, version, bytes(raw[16:]), ts)

    async def get_schema(self, name: str) -> dict[str, Any] | None:
        """Stored schema."""
        with self._env.begin() as txn:
            raw = txn.get(name.encode("utf-8"), db=self._schemas)
        if raw is None:
            return None
        doc: dict[str, Any] = json.loads(raw)
        return doc

    async def head(self) -> int:
        """Last committed position."""
        with self._env.begin() as txn:
            raw = txn.get(b"head", db=self._meta)
        return _Q.unpack(raw)[0] if raw else 0

    async def close(self) -> None:
        """Drain queued writes, stop the writer, close the environment and release the directory lock."""
        if self._thread is not None and self._thread.is_alive():
            self._handoff()
            self._queue.put(None)
            await asyncio.to_thread(self._thread.join)
            # let the resolutions scheduled by the last batch run
            await asyncio.sleep(0)
        self._thread = None
        self.notifier.kick()
        self._env.close()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1


def compact(path: Path) -> tuple[int, int]:
    """Rewrite the LMDB environment under `path` without its free pages; (bytes before, bytes after).

    A scavenge frees the pages of removed events but LMDB keeps them in its file, old bytes
    included, for reuse. A compacting copy leaves them out; it then replaces the data file.
    Runs only while no server holds the directory (Busy otherwise).
    """
    import shutil

    lock_fd = os.open(path / "graveyar.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(
                f"data directory {path} is in use by a graveyar server",
                hint="stop the server first: compaction rewrites the file it has open",
                details={"data_dir": str(path)},
            ) from None
        data = path / "lmdb" / "data.mdb"
        if not data.exists():
            raise StorageFailure(f"{path} holds no graveyar LMDB environment", details={"data_dir": str(path)})
        before = data.stat().st_size
        scratch = path / "lmdb.compacting"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        env = lmdb.open(str(path / "lmdb"), subdir=True, max_dbs=8, map_size=DEFAULT_MAP_SIZE)
        try:
            env.copy(str(scratch), compact=True)
        finally:
            env.close()
        fd = os.open(scratch / "data.mdb", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(scratch / "data.mdb", data)
        dir_fd = os.open(data.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself is durable
        finally:
            os.close(dir_fd)
        shutil.rmtree(scratch, ignore_errors=True)
        return before, data.stat().st_size
    finally:
        os.close(lock_fd)
