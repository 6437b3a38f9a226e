"""The storage contract both backends implement, plus the rules they share.

A backend stores records (see `core.codec`) and per-stream state; it decides expected-version
checks, idempotent retries and snapshot ranges with the pure functions here inside its own
atomic write, so LMDB and PostgreSQL cannot drift apart. Read-time visibility (soft delete,
max count, max age) lives in `Store.read_stream` for the same reason.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from toolkit_graveyar.core.codec import decode_record
from toolkit_graveyar.core.errors import (
    DuplicateEventId,
    SnapshotRejected,
    StreamDeleted,
    StreamNotFound,
    WrongExpectedVersion,
)
from toolkit_graveyar.core.model import (
    AppendResult,
    Expected,
    ExpectedKind,
    Snapshot,
    StreamInfo,
    StreamMetadata,
)
from toolkit_graveyar.core.notify import PositionNotifier

__all__ = [
    "SCAVENGE_CHUNK",
    "IdHit",
    "MemberRecord",
    "PreparedEvent",
    "Purged",
    "Store",
    "StreamState",
    "check_expected",
    "check_snapshot",
    "doomed",
    "idempotent_result",
    "scavenge_floor",
]


class PreparedEvent(NamedTuple):
    """A validated event ready for a backend: id bytes, content hash and the encoded record tail.

    A NamedTuple rather than a frozen dataclass: one is built per appended event, and a tuple is
    about three times cheaper to construct while staying immutable.
    """

    event_id: str
    uuid: bytes
    content_hash: bytes
    tail: bytes


#: truncate_before of a tombstoned stream: beyond every version, so both backends store the
#: permanent delete in the soft-delete columns they already have (a PostgreSQL bigint holds it).
TOMBSTONE = 2**63 - 1


@dataclass(slots=True)
class StreamState:
    """Mutable per-stream state a backend keeps next to the events."""

    stream: str
    key: int  # backend-internal stream id (LMDB) or 0
    version: int = 0
    position: int = 0
    truncate_before: int = 0
    deleted: bool = False
    max_count: int | None = None
    max_age: int | None = None

    @property
    def exists(self) -> bool:
        """True when the stream has events and is not soft-deleted."""
        return self.version > 0 and not self.deleted

    @property
    def tombstoned(self) -> bool:
        """True when the stream was deleted permanently (a truncate_before no version reaches)."""
        return self.truncate_before >= TOMBSTONE

    def tombstone(self) -> None:
        """Delete the stream permanently."""
        self.deleted, self.truncate_before = True, TOMBSTONE

    def info(self) -> StreamInfo:
        """Return the public view."""
        return StreamInfo(
            stream=self.stream,
            version=self.version,
            position=self.position,
            deleted=self.deleted,
            truncate_before=self.truncate_before,
            metadata=StreamMetadata(self.max_count, self.max_age),
        )


class MemberRecord(NamedTuple):
    """A server registered on a shared store (PostgreSQL), as the store last heard of it."""

    instance_id: str
    host: str
    port: int
    heartbeat_ms: int


class IdHit(NamedTuple):
    """Where an event id is already recorded (a NamedTuple: PostgreSQL builds one per appended event)."""

    stream_key: str | int
    version: int
    position: int
    content_hash: bytes


def deleted_state(
    stream: str,
    state: StreamState | None,
    expected: Expected,
    *,
    tombstone: bool,
    new_state: Callable[[], StreamState],
) -> StreamState:
    """Return the stream's state after a soft delete or a tombstone; the same rule on every backend.

    A tombstone may end a stream that never existed (`new_state` makes its record); a soft
    delete needs a live stream and hides every event so far (appending again revives it).
    Raises StreamDeleted (already tombstoned), StreamNotFound or WrongExpectedVersion.
    """
    if tombstone:
        check_expected(stream, state, expected)
        state = state if state is not None else new_state()
        state.tombstone()
        return state
    if state is not None and state.tombstoned:
        raise StreamDeleted(stream)
    if state is None or not state.exists:
        raise StreamNotFound(f"stream {stream!r} not found", details={"stream": stream})
    check_expected(stream, state, expected)
    state.deleted, state.truncate_before = True, state.version + 1
    return state


def check_expected(stream: str, state: StreamState | None, expected: Expected) -> None:
    """Raise WrongExpectedVersion unless `state` satisfies `expected` (StreamDeleted if tombstoned)."""
    if state is not None and state.tombstoned:
        raise StreamDeleted(stream)
    version = state.version if state else 0
    exists = state.exists if state else False
    kind = expected.kind
    if kind is ExpectedKind.ANY:
        return
    if kind is ExpectedKind.NO_STREAM:
        ok = not exists
    elif kind is ExpectedKind.STREAM_EXISTS:
        ok = exists
    else:
        ok = version == expected.version
    if not ok:
        raise WrongExpectedVersion(stream, expected.describe(), version)


def idempotent_result(
    stream: str, stream_key: str | int | None, events: Sequence[PreparedEvent], hits: Sequence[IdHit | None]
) -> AppendResult | None:
    """Decide what a batch whose ids may already exist means.

    Returns None when no id exists (a normal append), the original result when every event is
    already recorded in this stream at consecutive versions with the same content (a retry), and
    raises DuplicateEventId for anything in between.
    """
    if not any(hits):
        return None
    first = hits[0]
    for i, (ev, hit) in enumerate(zip(events, hits, strict=True)):
        if hit is None or first is None:
            raise DuplicateEventId(
                f"event ids of this append are partly recorded already (event {i} is new)",
                hint="retry with exactly the events of the original append, or use fresh ids",
                details={"stream": stream},
            )
        same_place = hit.stream_key == stream_key and hit.version == first.version + i
        if not same_place or hit.content_hash != ev.content_hash:
            raise DuplicateEventId(
                f"event id {ev.event_id} is already recorded with other content or in another stream",
                hint="use a fresh event id for a new event",
                details={"event_id": ev.event_id, "stream": stream},
            )
    last = hits[-1]
    assert first is not None
    assert last is not None
    return AppendResult(stream, first.version, last.version, first.position, last.position, duplicate=True)


def check_multi_results(results: Sequence[AppendResult]) -> None:
    """A multi-stream append is a retry as a whole or not at all: a mixture is DuplicateEventId."""
    dups = sum(1 for r in results if r.duplicate)
    if 0 < dups < len(results):
        raise DuplicateEventId(
            f"{dups} of {len(results)} appends of this multi-stream append are recorded already",
            hint="retry with exactly the original appends, or use fresh event ids",
            details={"streams": [r.stream for r in results if r.duplicate]},
        )


def check_snapshot(stream: str, state: StreamState | None, snap: Snapshot, stored: int | None, *, exact: bool) -> None:
    """Snapshot rules: version <= the stream's version (== when `exact`), and >= the stored snapshot's."""
    current = state.version if state else 0
    if exact and snap.version != current:
        raise SnapshotRejected(
            f"snapshot version {snap.version} is not the current version {current} of stream {stream!r}",
            details={"stream": stream, "version": snap.version, "current": current},
        )
    if snap.version > current:
        raise SnapshotRejected(
            f"snapshot version {snap.version} is beyond the current version {current} of stream {stream!r}",
            details={"stream": stream, "version": snap.version, "current": current},
        )
    if stored is not None and snap.version < stored:
        raise SnapshotRejected(
            f"snapshot version {snap.version} is older than the stored snapshot's {stored}",
            details={"stream": stream, "version": snap.version, "stored": stored},
        )


@dataclass(slots=True)
class Purged:
    """What a scavenge removed for good."""

    events: int = 0
    bytes: int = 0

    def add(self, other: Purged) -> None:
        """Count `other` in."""
        self.events += other.events
        self.bytes += other.bytes


def scavenge_floor(state: StreamState) -> int:
    """Versions below this one no read can return again (soft delete, tombstone, $tb, $maxCount)."""
    return min(visible_floor(state), state.version + 1)


def doomed(state: StreamState, records: Sequence[tuple[int, bytes]], now_ms: int) -> list[int]:
    """Versions among `records` ((version, record) pairs) that a scavenge removes, judged by `state` now.

    Backends call this inside the write transaction that deletes, with the state read there,
    so a retention rule relaxed after the scavenge looked at a stream is honoured.
    """
    floor = scavenge_floor(state)
    cutoff = None if state.max_age is None else now_ms - state.max_age * 1000
    out = []
    for version, record in records:
        if version < floor or (cutoff is not None and decode_record(record).timestamp < cutoff):
            out.append(version)
    return out


#: Versions examined per scavenge transaction: short transactions keep appends flowing.
SCAVENGE_CHUNK = 1024


def visible_floor(state: StreamState) -> int:
    """The lowest version a stream read may return (soft delete and max count)."""
    lo = max(state.truncate_before, 1)
    if state.max_count is not None:
        lo = max(lo, state.version - state.max_count + 1)
    return lo


class Store(abc.ABC):
    """An event store backend. All methods are coroutines on the server's event loop."""

    notifier: PositionNotifier
    #: False while the backend cannot be reached (health then reports NOT_SERVING).
    available: bool = True

    # -- writes (atomic, serialised by the backend) -------------------------------------------
    @abc.abstractmethod
    async def append(self, stream: str, events: Sequence[PreparedEvent], expected: Expected) -> AppendResult:
        """Append all `events` to `stream` atomically, or none (raises WrongExpectedVersion, DuplicateEventId)."""

    @abc.abstractmethod
    async def append_multi(self, items: Sequence[tuple[str, Sequence[PreparedEvent], Expected]]) -> list[AppendResult]:
        """Append to several distinct streams atomically: all items or none (see `check_multi_results`)."""

    @abc.abstractmethod
    async def delete_stream(self, stream: str, expected: Expected, *, tombstone: bool = False) -> int:
        """Soft-delete (or tombstone) a stream; return its version at deletion.

        Raises StreamNotFound (soft delete of a stream without visible events), StreamDeleted
        (already tombstoned) or WrongExpectedVersion. A tombstone needs no events: a never
        written name can be tombstoned too.
        """

    @abc.abstractmethod
    async def set_stream_metadata(self, stream: str, metadata: StreamMetadata) -> StreamInfo:
        """Replace a stream's retention rules (the stream need not exist yet)."""

    @abc.abstractmethod
    async def save_snapshot(self, snapshot: Snapshot, *, exact: bool) -> None:
        """Keep `snapshot` as the stream's latest (see `check_snapshot`)."""

    @abc.abstractmethod
    async def upsert_schema(self, name: str, definition: dict[str, Any]) -> None:
        """Store a schema definition under `name`."""

    # -- reads ------------------------------------------------------------------------------------
    @abc.abstractmethod
    async def stream_state(self, stream: str) -> StreamState | None:
        """Return the stream's state, or None if it was never written."""

    @abc.abstractmethod
    async def _read_versions(self, state: StreamState, lo: int, hi: int, backward: bool, limit: int) -> list[bytes]:
        """Records of versions lo..hi (inclusive) in order, at most `limit` (0 = all)."""

    @abc.abstractmethod
    async def read_all(self, start: int | None, backward: bool, limit: int) -> list[bytes]:
        """Records of the global log from position `start` (inclusive) in order, at most `limit` (0 = all)."""

    @abc.abstractmethod
    async def list_streams(self, prefix: str, after: str, limit: int) -> list[StreamInfo]:
        """Streams whose names start with `prefix` and sort after `after`, by name."""

    @abc.abstractmethod
    async def get_snapshot(self, stream: str) -> Snapshot | None:
        """The stream's latest snapshot."""

    @abc.abstractmethod
    async def get_schema(self, name: str) -> dict[str, Any] | None:
        """The schema registered under `name`."""

    @abc.abstractmethod
    async def head(self) -> int:
        """The last committed global position (0 = empty)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish queued writes, then release every resource."""

    @abc.abstractmethod
    async def _purge(self, stream: str, lo: int, hi: int) -> Purged:
        """Delete, in one write transaction, the versions lo..hi of `stream` that `doomed` names.

        The stream's state is read inside that transaction. Records, their version index entries
        and their event ids go; the stream's state (version, delete marks, metadata) stays.
        """

    # -- cluster membership (stores several servers share) -----------------------------------
    async def heartbeat(self, instance_id: str, host: str, port: int) -> None:  # noqa: B027 - optional hook
        """Record that this server (`instance_id` at host:port) is alive.

        A store no other server can open (LMDB) has no cluster: nothing to record.
        """

    async def members(self, alive_within: float) -> list[MemberRecord] | None:
        """Servers heard of within `alive_within` seconds, oldest first; None when the store has no cluster."""
        return None

    async def leave(self, instance_id: str) -> None:  # noqa: B027 - optional hook
        """Forget this server (it is shutting down)."""

    async def scavenge_stream(self, stream: str, keep_going: Callable[[], bool] = lambda: True) -> Purged:
        """Remove the events of `stream` that no read can return any more, chunk by chunk.

        Stops between chunks once `keep_going()` is false. Reads stay correct throughout: only
        events already invisible are removed.
        """
        purged = Purged()
        state = await self.stream_state(stream)
        if state is None:
            return purged
        # Below the floor everything goes; above it only events past $maxAge, if the stream has one.
        end = state.version if state.max_age is not None else scavenge_floor(state) - 1
        lo = 1
        while lo <= end and keep_going():
            hi = min(end, lo + SCAVENGE_CHUNK - 1)
            purged.add(await self._purge(stream, lo, hi))
            lo = hi + 1
        return purged

    async def read_stream(self, stream: str, start: int | None, backward: bool, limit: int) -> list[bytes]:
        """Visible records of one stream from version `start` (inclusive).

        Raises:
            StreamNotFound: the stream was never written or is soft-deleted.
        """
        state = await self.stream_state(stream)
        if state is not None and state.tombstoned:
            raise StreamDeleted(stream)
        if state is None or not state.exists:
            raise StreamNotFound(f"stream {stream!r} not found", details={"stream": stream})
        lo, hi = visible_floor(state), state.version
        if backward:
            hi = hi if start is None else min(start, hi)
        else:
            lo = lo if start is None else max(start, lo)
        if lo > hi:
            return []
        if state.max_age is None:
            return await self._read_versions(state, lo, hi, backward, limit)
        return await self._read_with_age(state, lo, hi, backward, limit)

    async def _read_with_age(self, state: StreamState, lo: int, hi: int, backward: bool, limit: int) -> list[bytes]:
        assert state.max_age is not None
        cutoff = int(time.time() * 1000) - state.max_age * 1000
        out: list[bytes] = []
        page = 1024
        while lo <= hi and (limit == 0 or len(out) < limit):
            chunk = await self._read_versions(state, lo, hi, backward, page)
            if not chunk:
                break
            decoded = [decode_record(r) for r in chunk]
            out.extend(r for r, ev in zip(chunk, decoded, strict=True) if ev.timestamp >= cutoff)
            # Scavenged versions leave gaps: continue after the last version actually read.
            if backward:
                hi = decoded[-1].version - 1
            else:
                lo = decoded[-1].version + 1
        return out[:limit] if limit else out

    async def stream_info(self, stream: str) -> StreamInfo | None:
        """Public state of one stream."""
        state = await self.stream_state(stream)
        return state.info() if state else None
