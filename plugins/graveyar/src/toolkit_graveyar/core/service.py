"""The event store's operations, shared by both gRPC services, the client-facing CLI and tests.

`EventStoreService` wraps a `Store` with request validation, server-side timestamps, schema
validation (soft or hard) and catch-up subscriptions. Adapters convert wire messages to the
core model and call these methods; they never re-implement a rule.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from toolkit_graveyar._proto.graveyar.v1.graveyar_pb2 import RecordedEvent as RecordedEventPb
from toolkit_graveyar.core.acl import DELETE, READ, WRITE, authorize
from toolkit_graveyar.core.codec import (
    content_hash,
    decode_record,
    event_to_pb,
    record_position,
    simple_content_hash,
    string_field,
    varint,
)
from toolkit_graveyar.core.errors import InvalidRequest, SchemaViolation, StreamNotFound, Unavailable
from toolkit_graveyar.core.fanout import LiveTail, TailEntry, TailListener
from toolkit_graveyar.core.model import (
    AppendResult,
    Expected,
    ProposedEvent,
    RecordedEvent,
    Snapshot,
    StreamInfo,
    StreamMetadata,
)
from toolkit_graveyar.core.scavenge import Scavenger
from toolkit_graveyar.core.schema import check_schema, validate_payload
from toolkit_graveyar.core.validation import ALL_STREAM, Limits, check_event, check_stream_name, uuid_of

if TYPE_CHECKING:
    from toolkit_graveyar.storage.base import PreparedEvent, Store

__all__ = ["EventStoreService", "SubscriptionItem"]

log = logging.getLogger("graveyar")

_SCHEMA_TTL = 1.0
#: Longest a fan-out slice waits for in-flight appends to finish (writers first, subscribers never starved).
WRITERS_FIRST_WAIT = 0.02
#: Appends in one multi-stream append.
MAX_MULTI_APPENDS = 100


def now_ms() -> int:
    """Current Unix time in milliseconds."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class SubscriptionItem:
    """One message of a subscription: `events` (raw records), `caught_up` or `checkpoint` (with `at`)."""

    kind: str
    records: Sequence[bytes] = ()
    at: int = 0


class EventStoreService:
    """Operations over one store.

    Args:
        store: The backend.
        limits: Size limits (INVALID_ARGUMENT above them).
        schema_hard_fail: Reject payloads that fail their schema (else log and accept).
        poll_interval: Seconds a live subscription waits for a notification before re-reading
            the store anyway (the fallback when a notification is lost).
    """

    def __init__(
        self, store: Store, *, limits: Limits | None = None, schema_hard_fail: bool = False, poll_interval: float = 1.0
    ) -> None:
        self.store = store
        self.limits = limits or Limits()
        self.schema_hard_fail = schema_hard_fail
        self.poll_interval = poll_interval
        self._schemas: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self.soft_violations = 0
        self.closed = False
        #: Appends between validation and their store's answer, and the event set when none is.
        self._writing = 0
        self._no_writers = asyncio.Event()
        self._no_writers.set()
        #: Longest a fan-out slice defers to in-flight appends (seconds).
        self.writers_first_wait = WRITERS_FIRST_WAIT
        #: The one reader of new records that feeds every live subscription.
        self.tail = LiveTail(
            store, page=self.limits.max_read_page, poll_interval=poll_interval, writers_first=self.writers_first
        )
        #: Physical removal of invisible events (operations.Operations StartScavenge/StopScavenge).
        self.scavenger = Scavenger(self)

    def shutdown(self) -> None:
        """End every live subscription with Unavailable (they resume elsewhere or after a restart)."""
        self.closed = True
        self.tail.close()

    def _check_open(self) -> None:
        if self.closed:
            raise Unavailable("server is shutting down", hint="resubscribe from your last position")

    # -- appends ------------------------------------------------------------------------------
    async def append(
        self, stream: str, events: Sequence[ProposedEvent], expected: Expected, *, require_transition: bool = False
    ) -> AppendResult:
        """Validate, stamp and append `events` atomically."""
        return await self.append_wire(stream, [event_to_pb(e) for e in events], expected, require_transition)

    async def append_wire(
        self,
        stream: str,
        msgs: Sequence[Any],
        expected: Expected,
        require_transition: bool = False,
        *,
        metastream_ok: bool = False,
    ) -> AppendResult:
        """Like `append`, for `eventstore.Event` messages straight off the wire.

        `metastream_ok` lets the KurrentDB service write `$$<stream>` metadata streams (other
        `$` names stay reserved).
        """
        check_stream_name(stream, writable=not (metastream_ok and stream.startswith("$$") and len(stream) > 2))
        if expected.version < 0:
            raise InvalidRequest(f"expected version {expected.version} is negative")
        self._writer_in()
        try:
            await authorize(self.store, stream, WRITE)
            prepared = await self.prepare_wire(msgs, require_transition=require_transition)
            return await self.store.append(stream, prepared, expected)
        finally:
            self._writer_out()

    async def append_multi(self, items: Sequence[tuple[str, Sequence[ProposedEvent], Expected]]) -> list[AppendResult]:
        """Append to several distinct streams atomically (all or none)."""
        return await self.append_multi_wire([(s, [event_to_pb(e) for e in evs], exp) for s, evs, exp in items])

    async def append_multi_wire(self, items: Sequence[tuple[str, Sequence[Any], Expected]]) -> list[AppendResult]:
        """Like `append_multi`, for wire messages: 1..100 items, distinct streams, distinct event ids."""
        if not items:
            raise InvalidRequest("a multi-stream append needs at least one append")
        if len(items) > MAX_MULTI_APPENDS:
            raise InvalidRequest(
                f"{len(items)} appends exceed the limit of {MAX_MULTI_APPENDS} per multi-stream append"
            )
        streams = [stream for stream, _, _ in items]
        if len(set(streams)) != len(streams):
            raise InvalidRequest("a multi-stream append names a stream twice", hint="merge the appends of one stream")
        prepared = []
        seen: set[str] = set()
        total = 0
        for stream, msgs, expected in items:
            check_stream_name(stream)
            if expected.version < 0:
                raise InvalidRequest(f"expected version {expected.version} is negative")
            await authorize(self.store, stream, WRITE)
            events = await self.prepare_wire(msgs)
            total += len(events)
            for ev in events:
                if ev.event_id in seen:
                    raise InvalidRequest(f"event id {ev.event_id} appears twice in one multi-stream append")
                seen.add(ev.event_id)
            prepared.append((stream, events, expected))
        if total > self.limits.max_append_events:
            raise InvalidRequest(f"{total} events exceed the limit of {self.limits.max_append_events} per append")
        self._writer_in()
        try:
            return await self.store.append_multi(prepared)
        finally:
            self._writer_out()

    def _writer_in(self) -> None:
        self._writing += 1
        self._no_writers.clear()

    def _writer_out(self) -> None:
        self._writing -= 1
        if not self._writing:
            self._no_writers.set()

    async def writers_first(self) -> None:
        """Return once no append is in flight, or after `writers_first_wait` seconds (fan-out's gate).

        Appends come first, but a steady stream of them cannot starve subscriptions: each slice
        defers at most this long.
        """
        if self._writing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._no_writers.wait(), self.writers_first_wait)

    @property
    def writing(self) -> int:
        """Appends in flight (validated or being validated, not yet answered by the store)."""
        return self._writing

    async def prepare(
        self, events: Sequence[ProposedEvent], *, require_transition: bool = False
    ) -> list[PreparedEvent]:
        """Prepare core `ProposedEvent`s (the Python API's path); see `prepare_wire`."""
        return await self.prepare_wire([event_to_pb(ev) for ev in events], require_transition=require_transition)

    async def prepare_wire(self, msgs: Sequence[Any], *, require_transition: bool = False) -> list[PreparedEvent]:
        """Validate `eventstore.Event` messages and turn them into records-to-be.

        Canonicalises ids (a missing id gets a uuid4), stamps absent timestamps, checks limits,
        transitions, distinct ids and registered schemas, and computes the content hashes.
        """
        from toolkit_graveyar.storage.base import PreparedEvent

        limits = self.limits
        if not msgs:
            raise InvalidRequest("an append needs at least one event")
        if len(msgs) > limits.max_append_events:
            raise InvalidRequest(f"{len(msgs)} events exceed the limit of {limits.max_append_events} per append")
        stamp = b"\x20" + varint(now_ms())
        max_event_size = limits.max_event_size
        seen: set[str] = set()
        types: set[str] = set()
        total = 0
        out: list[PreparedEvent] = []
        # One pass, each field read once (every upb attribute read builds a new Python object);
        # checks run in the same order per event as before, so a bad batch gets the same error.
        for i, m in enumerate(msgs):
            event_id, id_bytes, raw = _event_bytes(m, stamp)
            if event_id in seen:
                raise InvalidRequest(f"event {i}: event id {event_id} appears twice in one append")
            seen.add(event_id)
            event_type, payload, metadata = m.event_type, m.payload, m.metadata
            transition = m.transition if m.HasField("transition") else None
            check_event(i, event_type, transition, require_transition)
            size = len(payload) + (_metadata_size(metadata) if metadata else 0)
            if size > max_event_size:
                raise InvalidRequest(
                    f"event {i}: {size} bytes exceed the per-event limit of {max_event_size}",
                    details={"size": size, "limit": max_event_size},
                )
            total += size
            types.add(event_type)
            # graveyar.v1.RecordedEvent messages (KurrentDB appends) may carry custom metadata
            # and a content type, which the simple hash would not cover.
            simple = not metadata and transition is None and type(m) is not RecordedEventPb
            digest = simple_content_hash(event_type, payload) if simple else content_hash(m)
            out.append(PreparedEvent(event_id, id_bytes, digest, raw))
        if total > limits.max_append_size:
            raise InvalidRequest(
                f"append of {total} bytes exceeds the limit of {limits.max_append_size}",
                details={"size": total, "limit": limits.max_append_size},
            )
        for event_type in types:
            schema = await self.schema(event_type)
            if schema is not None:
                for m in msgs:
                    if m.event_type == event_type:
                        self._check_payload(m, schema)
        return out

    def _check_payload(self, ev: Any, schema: dict[str, Any]) -> None:
        problems = validate_payload(schema, ev.payload)
        if not problems:
            return
        if self.schema_hard_fail:
            raise SchemaViolation(
                f"event {ev.id} of type {ev.event_type!r} fails its schema: {'; '.join(problems[:5])}",
                hint="fix the payload, or run the server with soft schema validation",
                details={"event_type": ev.event_type, "violations": problems[:20]},
            )
        self.soft_violations += 1
        log.warning("schema violation (soft) for %s %s: %s", ev.event_type, ev.id, "; ".join(problems[:5]))

    # -- reads ----------------------------------------------------------------------------------
    async def read(self, stream: str, start: int | None, backward: bool, limit: int) -> list[bytes]:
        """Raw records of a stream or `$all`; `start` is inclusive."""
        check_stream_name(stream, allow_all=True, writable=False)
        await authorize(self.store, stream, READ)
        if stream == ALL_STREAM:
            return await self.store.read_all(start, backward, limit)
        return await self.store.read_stream(stream, start, backward, limit)

    async def read_pages(
        self, stream: str, start: int | None, backward: bool, limit: int
    ) -> AsyncIterator[list[bytes]]:
        """Like `read`, in pages of at most `limits.max_read_page` records (for streaming responses)."""
        check_stream_name(stream, allow_all=True, writable=False)
        page = self.limits.max_read_page
        remaining = limit
        cursor = start
        first = True
        while True:
            n = page if remaining == 0 else min(page, remaining)
            try:
                recs = await self.read(stream, cursor, backward, n)
            except StreamNotFound:
                if first:
                    raise
                return
            first = False
            if recs:
                yield recs
            if len(recs) < n:
                return
            if limit:
                remaining -= len(recs)
                if remaining <= 0:
                    return
            last = decode_record(recs[-1])
            key = last.position if stream == ALL_STREAM else last.version
            if backward:
                if key <= 1:
                    return
                cursor = key - 1
            else:
                cursor = key + 1

    async def read_all_excluding(
        self, start: int | None, backward: bool, limit: int, excludes: Sequence[str]
    ) -> AsyncIterator[list[bytes]]:
        """Pages of `$all` without the events of streams starting with `excludes`; `limit` counts what is returned."""
        prefixes = tuple(excludes)
        sent = 0
        async for page in self.read_pages(ALL_STREAM, start, backward, 0):
            keep = [r for r in page if not decode_record(r).stream.startswith(prefixes)]
            if limit and sent + len(keep) >= limit:
                yield keep[: limit - sent]
                return
            sent += len(keep)
            if keep:
                yield keep

    # -- subscriptions --------------------------------------------------------------------------
    async def subscribe(
        self,
        stream: str,
        after: int | None,
        *,
        stream_prefixes: Sequence[str] = (),
        event_types: Sequence[str] = (),
        exclude_prefixes: Sequence[str] = (),
    ) -> AsyncGenerator[SubscriptionItem, None]:
        """Catch-up subscription: history in order, one `caught_up`, then live events, each once.

        `after` is exclusive (a version for a stream, a position for `$all`); None = from the start.
        """
        check_stream_name(stream, allow_all=True, writable=False)
        if (stream_prefixes or exclude_prefixes) and stream != ALL_STREAM:
            raise InvalidRequest("stream prefix filters only apply to '$all' subscriptions")
        await authorize(self.store, stream, READ)
        types = frozenset(event_types)
        if stream == ALL_STREAM:
            gen = self._subscribe_all(after or 0, tuple(stream_prefixes), types, tuple(exclude_prefixes))
        else:
            gen = self._subscribe_stream(stream, after or 0, types)
        async for item in gen:
            yield item

    async def _subscribe_all(
        self, pos: int, prefixes: tuple[str, ...], types: frozenset[str], excludes: tuple[str, ...] = ()
    ) -> AsyncIterator[SubscriptionItem]:
        page = self.limits.max_read_page
        filtered = bool(prefixes or types or excludes)

        def items(entries: list[TailEntry]) -> Iterator[SubscriptionItem]:
            if not filtered:
                yield SubscriptionItem("events", [raw for _, raw in entries])
                return
            keep = [raw for ev, raw in entries if _matches(ev, prefixes, types, excludes)]
            if keep:
                yield SubscriptionItem("events", keep)
            last = entries[-1][0].position
            if not keep or record_position(keep[-1]) != last:
                yield SubscriptionItem("checkpoint", at=last)

        caught_up = False
        listener: TailListener | None = None
        try:
            while True:
                # Catch up from the store at this subscription's own pace.
                recs = await self.store.read_all(pos + 1, False, page)
                if recs:
                    entries = [(decode_record(r), r) for r in recs]
                    for item in items(entries):
                        yield item
                    pos = entries[-1][0].position
                    if len(recs) == page:
                        continue
                if listener is None:
                    # Join the shared tail, then read once more to close the gap before the join.
                    listener = await self.tail.join()
                    continue
                if not caught_up:
                    caught_up = True
                    yield SubscriptionItem("caught_up", at=pos)
                # The filter reads the current `pos` on purpose: it advances with every batch.
                async for batch in self._live_batches(listener, lambda e: e[0].position > pos):  # noqa: B023
                    for item in items(batch):
                        yield item
                    pos = batch[-1][0].position
                listener = None
        finally:
            if listener is not None:
                self.tail.leave(listener)

    async def _subscribe_stream(self, stream: str, ver: int, types: frozenset[str]) -> AsyncIterator[SubscriptionItem]:
        page = self.limits.max_read_page

        def keep(raws: list[bytes], events: list[RecordedEvent]) -> list[bytes]:
            return raws if not types else [r for r, ev in zip(raws, events, strict=True) if ev.event_type in types]

        caught_up = False
        listener: TailListener | None = None
        try:
            while True:
                # Catch up from the store at this subscription's own pace.
                state = await self.store.stream_state(stream)
                if state is not None and state.exists and state.version > ver:
                    try:
                        recs = await self.store.read_stream(stream, ver + 1, False, page)
                    except StreamNotFound:
                        recs = []
                    if recs:
                        events = [decode_record(r) for r in recs]
                        kept = keep(recs, events)
                        if kept:
                            yield SubscriptionItem("events", kept)
                        ver = events[-1].version
                    if len(recs) == page:
                        continue
                    ver = max(ver, state.version)
                if listener is None:
                    # Join the shared tail, then read once more to close the gap before the join.
                    listener = await self.tail.join()
                    continue
                if not caught_up:
                    caught_up = True
                    yield SubscriptionItem("caught_up", at=ver)

                # The filter reads the current `ver` on purpose: it advances with every batch.
                def fresh(e: TailEntry) -> bool:
                    return e[0].stream == stream and e[0].version > ver  # noqa: B023

                async for batch in self._live_batches(listener, fresh):
                    kept = keep([raw for _, raw in batch], [ev for ev, _ in batch])
                    if kept:
                        yield SubscriptionItem("events", kept)
                    ver = batch[-1][0].version
                listener = None
        finally:
            if listener is not None:
                self.tail.leave(listener)

    async def _live_batches(
        self, listener: TailListener, fresh: Callable[[TailEntry], bool]
    ) -> AsyncIterator[list[TailEntry]]:
        """Batches handed to `listener` (only `fresh` entries) until the tail drops it."""
        try:
            while True:
                self._check_open()
                batch = [e for e in await listener.take() if fresh(e)]
                self._check_open()
                if batch:
                    yield batch
                if listener.dropped:
                    return
        finally:
            self.tail.leave(listener)

    # -- streams --------------------------------------------------------------------------------
    async def delete_stream(self, stream: str, expected: Expected, *, tombstone: bool = False) -> int:
        """Soft-delete (or tombstone: delete permanently) a stream."""
        check_stream_name(stream)
        await authorize(self.store, stream, DELETE)
        return await self.store.delete_stream(stream, expected, tombstone=tombstone)

    async def set_stream_metadata(self, stream: str, metadata: StreamMetadata) -> StreamInfo:
        """Set a stream's retention rules."""
        check_stream_name(stream)
        return await self.store.set_stream_metadata(stream, metadata)

    async def stream_info(self, stream: str) -> StreamInfo:
        """State of one stream (raises StreamNotFound if never written)."""
        check_stream_name(stream, writable=False)
        info = await self.store.stream_info(stream)
        if info is None:
            raise StreamNotFound(f"stream {stream!r} not found", details={"stream": stream})
        return info

    async def list_streams(self, prefix: str = "", after: str = "", limit: int = 0) -> list[StreamInfo]:
        """Streams by name (at most 1000 per call when `limit` is 0)."""
        return await self.store.list_streams(prefix, after, limit or 1000)

    # -- snapshots ------------------------------------------------------------------------------
    async def save_snapshot(self, snapshot: Snapshot, *, exact: bool = False) -> Snapshot:
        """Keep `snapshot` (stamped when its timestamp is 0) as the stream's latest."""
        check_stream_name(snapshot.stream)
        if len(snapshot.payload) > self.limits.max_append_size:
            raise InvalidRequest(f"snapshot of {len(snapshot.payload)} bytes exceeds {self.limits.max_append_size}")
        if not snapshot.timestamp:
            snapshot = replace(snapshot, timestamp=now_ms())
        await self.store.save_snapshot(snapshot, exact=exact)
        return snapshot

    async def get_snapshot(self, stream: str) -> Snapshot | None:
        """The latest snapshot, if any."""
        check_stream_name(stream, writable=False)
        return await self.store.get_snapshot(stream)

    # -- schemas --------------------------------------------------------------------------------
    async def upsert_schema(self, definition: dict[str, Any]) -> str:
        """Validate and store a schema definition; return its name.

        Like graveyar_db, every upsert is also appended (type `SchemaUpserted`, JSON payload) to
        the reserved stream `$schema:<name>`, which keeps the history of the definition.
        """
        name = check_schema(definition)
        await self.store.upsert_schema(name, definition)
        self._schemas[name] = (time.monotonic(), definition)
        payload = json.dumps(definition, sort_keys=True, separators=(",", ":")).encode()
        history = [ProposedEvent(str(uuid.uuid4()), "SchemaUpserted", payload, {}, 0, None)]
        await self.store.append(f"$schema:{name}", await self.prepare(history), Expected.any())
        return name

    async def schema(self, name: str) -> dict[str, Any] | None:
        """The schema registered under `name` (cached for a second, misses included)."""
        now = time.monotonic()
        hit = self._schemas.get(name)
        if hit is not None and now - hit[0] < _SCHEMA_TTL:
            return hit[1]
        definition = await self.store.get_schema(name)
        self._schemas[name] = (now, definition)
        return definition


def _event_bytes(m: Any, stamp: bytes) -> tuple[str, bytes, bytes]:
    """(canonical id, id bytes, record tail): the event's bytes plus a fixed-up id and a timestamp when absent."""
    raw: bytes = m.SerializeToString()
    given = m.id
    if given:
        event_id, id_bytes = uuid_of(given)
        if event_id != given:
            raw += string_field(1, event_id)
    else:
        u = uuid.uuid4()
        event_id, id_bytes = str(u), u.bytes
        raw += string_field(1, event_id)
    if not m.timestamp:
        raw += stamp
    return event_id, id_bytes, raw


def _metadata_size(metadata: Any) -> int:
    return sum(len(k.encode("utf-8")) + len(v.encode("utf-8")) for k, v in metadata.items())


def _matches(ev: Any, prefixes: tuple[str, ...], types: frozenset[str], excludes: tuple[str, ...] = ()) -> bool:
    if prefixes and not ev.stream.startswith(prefixes):
        return False
    if excludes and ev.stream.startswith(excludes):
        return False
    return not types or ev.event_type in types
