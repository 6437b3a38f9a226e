"""PostgreSQL backend (psycopg 3): several graveyar servers may share one database.

Global order without gaps visible to readers: every write transaction first locks the single
row of `graveyar_head` (`SELECT ... FOR UPDATE`), assigns positions head+1.. and commits while
holding it. Positions are therefore dense and committed in order, so a reader that sees
position N has already been able to see every position below N (the sequence-order vs
commit-order trap of bigserial-based stores cannot occur). Each server group-commits: the
appends queued while one transaction runs share the next one.

Subscriptions wake on `LISTEN graveyar_append` (the payload is the new head); a poll of the
head every `poll_interval` seconds covers lost notifications and a dropped listener.
"""

# ruff: noqa: TID253 - only imported lazily (by `serve --backend postgres` and tests)
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import psycopg

from toolkit_graveyar.core.codec import finish_record, stream_field
from toolkit_graveyar.core.errors import StorageFailure, Unavailable
from toolkit_graveyar.core.model import AppendResult, Expected, Snapshot, StreamInfo, StreamMetadata
from toolkit_graveyar.core.notify import PositionNotifier
from toolkit_graveyar.storage.base import (
    IdHit,
    MemberRecord,
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
from toolkit_kernel.errors import ToolkitError

__all__ = ["PgStore"]

log = logging.getLogger("graveyar.pg")

CHANNEL = "graveyar_append"
_MIGRATION_LOCK = 0x6772617665796172  # "graveyar"
SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS graveyar_head (
    id smallint PRIMARY KEY CHECK (id = 1),
    position bigint NOT NULL
);
INSERT INTO graveyar_head (id, position) VALUES (1, 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS graveyar_streams (
    name text PRIMARY KEY,
    version bigint NOT NULL,
    position bigint NOT NULL,
    truncate_before bigint NOT NULL DEFAULT 0,
    deleted boolean NOT NULL DEFAULT false,
    max_count bigint,
    max_age bigint
);
CREATE TABLE IF NOT EXISTS graveyar_events (
    position bigint PRIMARY KEY,
    stream text NOT NULL,
    version bigint NOT NULL,
    event_id uuid NOT NULL,
    content_hash bytea NOT NULL,
    record bytea NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS graveyar_events_stream_version ON graveyar_events (stream, version);
CREATE UNIQUE INDEX IF NOT EXISTS graveyar_events_event_id ON graveyar_events (event_id);
CREATE TABLE IF NOT EXISTS graveyar_snapshots (
    stream text PRIMARY KEY,
    version bigint NOT NULL,
    ts bigint NOT NULL,
    payload bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS graveyar_members (
    instance_id uuid PRIMARY KEY,
    host text NOT NULL,
    port integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    heartbeat timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS graveyar_schemas (
    name text PRIMARY KEY,
    definition text NOT NULL
);
"""

_STATE_COLS = "name, version, position, truncate_before, deleted, max_count, max_age"

#: Everything an append batch writes, in one statement: the events (binary arrays; bytea and
#: bigint in binary cost no escaping), the touched streams' states, the head and the notification
#: (delivered at commit).
_WRITE_SQL = f"""
WITH events AS (
    INSERT INTO graveyar_events (position, stream, version, event_id, content_hash, record)
    SELECT * FROM unnest(%b::int8[], %s::text[], %b::int8[], %s::uuid[], %b::bytea[], %b::bytea[])
), states AS (
    INSERT INTO graveyar_streams ({_STATE_COLS})
    SELECT * FROM unnest(%s::text[], %s::int8[], %s::int8[], %s::int8[], %s::bool[], %s::int8[], %s::int8[])
    ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, position = EXCLUDED.position,
        truncate_before = EXCLUDED.truncate_before, deleted = EXCLUDED.deleted,
        max_count = EXCLUDED.max_count, max_age = EXCLUDED.max_age
), head AS (
    UPDATE graveyar_head SET position = %s WHERE id = 1
)
SELECT pg_notify(%s, %s)
"""


def _state(row: Sequence[Any]) -> StreamState:
    return StreamState(row[0], 0, row[1], row[2], row[3], row[4], row[5], row[6])


class _Op:
    __slots__ = ("args", "future", "kind", "result")

    def __init__(self, kind: str, args: Any, future: asyncio.Future[Any]) -> None:
        self.kind = kind
        self.args = args
        self.future = future
        self.result: Any = None


class PgStore(Store):
    """The PostgreSQL backend. Create with `await PgStore.open(dsn)` on the serving loop."""

    def __init__(self, dsn: str, *, pool_size: int, max_batch: int, poll_interval: float) -> None:
        self.dsn = dsn
        self._pool_size = pool_size
        self._max_batch = max_batch
        self._poll_interval = poll_interval
        self._pool: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
        self._all_conns: list[psycopg.AsyncConnection[Any]] = []
        self._queue: asyncio.Queue[_Op | None] = asyncio.Queue()
        self._writer_conn: psycopg.AsyncConnection[Any] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self.notifier = PositionNotifier(0)
        self.commits = 0
        self.available = True

    @classmethod
    async def open(cls, dsn: str, *, pool_size: int = 4, max_batch: int = 2048, poll_interval: float = 1.0) -> PgStore:
        """Connect, create the tables if needed, and start the writer, listener and poller."""
        store = cls(dsn, pool_size=pool_size, max_batch=max_batch, poll_interval=poll_interval)
        try:
            await store._start()
        except psycopg.Error as exc:
            await store._close_conns()
            raise Unavailable(
                f"cannot use PostgreSQL at {_redact(dsn)}: {exc}", hint="check --dsn and that the server is up"
            ) from None
        return store

    async def _connect(self, *, autocommit: bool = True) -> psycopg.AsyncConnection[Any]:
        conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=autocommit, connect_timeout=5)
        self._all_conns = [c for c in self._all_conns if not c.closed]
        self._all_conns.append(conn)
        return conn

    async def _start(self) -> None:
        setup = await self._connect()
        await setup.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        try:
            await setup.execute(SCHEMA_SQL)
        finally:
            await setup.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
        await self._pool.put(setup)
        for _ in range(self._pool_size - 1):
            await self._pool.put(await self._connect())
        self._writer_conn = await self._connect(autocommit=False)
        self.notifier.publish(await self.head())
        self._tasks = [
            asyncio.create_task(self._writer(), name="graveyar-pg-writer"),
            asyncio.create_task(self._listener(), name="graveyar-pg-listen"),
            asyncio.create_task(self._poller(), name="graveyar-pg-poll"),
        ]

    @contextlib.asynccontextmanager
    async def _conn(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        conn = await self._pool.get()
        try:
            if conn.closed or conn.broken:
                with contextlib.suppress(Exception):
                    await conn.close()
                conn = await self._connect()  # if this fails, the closed one goes back and is replaced later
            yield conn
        except psycopg.OperationalError:
            with contextlib.suppress(Exception):
                await conn.close()
            raise
        finally:
            self._pool.put_nowait(conn)

    async def _fetch(self, query: str, params: Sequence[Any] = (), *, binary: bool = False) -> list[Any]:
        for attempt in (0, 1):
            try:
                async with self._conn() as conn:
                    cur = await conn.execute(query, params, binary=binary)
                    rows = await cur.fetchall()
                self.available = True
                return rows
            except psycopg.OperationalError as exc:
                if attempt == 0:
                    continue  # a pooled connection died (PostgreSQL restarted): once more on a fresh one
                self.available = False
                raise Unavailable(f"PostgreSQL is unavailable: {exc}", hint="retry when the database is back") from None
            except psycopg.Error as exc:
                raise StorageFailure(f"PostgreSQL read failed: {exc}") from None
        raise AssertionError("unreachable")

    # -- background tasks -----------------------------------------------------------------------
    async def _listener(self) -> None:
        delay = 0.2
        while not self._closed:
            try:
                conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)
                try:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    delay = 0.2
                    async for note in conn.notifies():
                        with contextlib.suppress(ValueError):
                            self.notifier.publish(int(note.payload))
                finally:
                    await conn.close()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("LISTEN connection lost (%s); polling until it is back", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _poller(self) -> None:
        while not self._closed:
            await asyncio.sleep(self._poll_interval)
            with contextlib.suppress(ToolkitError):
                self.notifier.publish(await self.head())

    async def _writer(self) -> None:
        q = self._queue
        while True:
            first = await q.get()
            if first is None:
                return
            ops = [first]
            stop = False
            while len(ops) < self._max_batch and not q.empty():
                nxt = q.get_nowait()
                if nxt is None:
                    stop = True
                    break
                ops.append(nxt)
            appends: list[_Op] = []
            for op in ops:
                if op.kind == "append":
                    appends.append(op)
                    continue
                if appends:
                    await self._run(self._append_batch, appends)
                    appends = []
                await self._run(self._multi if op.kind == "multi" else self._single, [op])
            if appends:
                await self._run(self._append_batch, appends)
            if stop:
                return

    async def _run(
        self, fn: Callable[[psycopg.AsyncConnection[Any], list[_Op]], Awaitable[int]], ops: list[_Op]
    ) -> None:
        results: dict[int, Any] = {}
        head = 0
        for attempt in (0, 1):
            conn = self._writer_conn
            committing = False
            try:
                if conn is None or conn.closed or conn.broken:
                    self._writer_conn = None
                    conn = self._writer_conn = await self._connect(autocommit=False)
                # An append batch pipelines its transaction: BEGIN travels with its reads, COMMIT
                # with its write (see `_append_batch`).
                pipe = conn.pipeline() if fn == self._append_batch else contextlib.nullcontext()
                async with pipe, conn.transaction():
                    head = await fn(conn, ops)
                    results = {id(op): op.result for op in ops}
                    committing = True
                self.commits += 1
                self.available = True
                break
            except psycopg.OperationalError as exc:
                # The connection is gone (PostgreSQL restarted or is down): the next batch reconnects.
                self._writer_conn = None
                if attempt == 0 and not committing:
                    continue  # nothing was committed: safe to run the batch again on a fresh connection
                self.available = False
                err: ToolkitError = Unavailable(
                    f"PostgreSQL is unavailable: {exc}", hint="retry: appends with event ids are idempotent"
                )
            except Exception as exc:
                err = StorageFailure(
                    f"PostgreSQL write failed: {exc}", hint="retry: appends with event ids are idempotent"
                )
                with contextlib.suppress(Exception):
                    if conn is not None and conn.broken:
                        self._writer_conn = None
            for op in ops:
                if not op.future.done():
                    op.future.set_exception(err)
            return
        for op in ops:
            if op.future.done():
                continue
            outcome = results.get(id(op))
            if isinstance(outcome, BaseException):
                op.future.set_exception(outcome)
            else:
                op.future.set_result(outcome)
        self.notifier.publish(head)

    async def _lock_head(self, conn: psycopg.AsyncConnection[Any]) -> int:
        cur = await conn.execute("SELECT position FROM graveyar_head WHERE id = 1 FOR UPDATE")
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    async def _append_batch(self, conn: psycopg.AsyncConnection[Any], ops: list[_Op]) -> int:
        """Append a group of appends in two round trips: the reads, then one statement that writes.

        The three reads are pipelined (one round trip). PostgreSQL runs them in order, so the stream
        states and event ids are read after the head lock is granted and see every commit before
        it. The writes (events, stream states, head, notification) are one statement of
        data-modifying CTEs whose rows travel as binary arrays; when the caller pipelines the
        transaction (`_run`), BEGIN and COMMIT share those two round trips.
        """
        head, states, known = await self._batch_reads(conn, ops)
        # Columns of the new rows of graveyar_events.
        positions: list[int] = []
        streams: list[str] = []
        versions: list[int] = []
        event_ids: list[str] = []
        hashes: list[bytes] = []
        records: list[bytes] = []
        touched: dict[str, StreamState] = {}
        for op in ops:
            stream, events, expected = op.args
            try:
                state = states.get(stream)
                hits = [known.get(ev.uuid) for ev in events]
                if any(hits):
                    op.result = idempotent_result(stream, stream, events, hits)
                    continue
                check_expected(stream, state, expected)
            except ToolkitError as exc:
                op.result = exc
                continue
            if state is None:
                state = states[stream] = StreamState(stream, 0)
            sf = stream_field(stream)
            n = len(events)
            first_v, first_p = state.version + 1, head + 1
            version = state.version + n
            positions.extend(range(first_p, first_p + n))
            versions.extend(range(first_v, version + 1))
            streams.extend([stream] * n)
            for i, ev in enumerate(events):
                event_ids.append(ev.event_id)
                hashes.append(ev.content_hash)
                records.append(finish_record(ev.tail, sf, first_v + i, first_p + i))
                known[ev.uuid] = IdHit(stream, first_v + i, first_p + i, ev.content_hash)
            head += n
            revived = state.deleted
            state.version, state.position, state.deleted = version, head, False
            touched[stream] = state
            op.result = AppendResult(stream, first_v, version, first_p, head, revived=revived)
        if positions:
            st = list(touched.values())
            states_cols = (
                [s.stream for s in st],
                [s.version for s in st],
                [s.position for s in st],
                [s.truncate_before for s in st],
                [s.deleted for s in st],
                [s.max_count for s in st],
                [s.max_age for s in st],
            )
            events_cols = (positions, streams, versions, event_ids, hashes, records)
            await conn.execute(_WRITE_SQL, (*events_cols, *states_cols, head, CHANNEL, str(head)))
        return head

    async def _batch_reads(
        self, conn: psycopg.AsyncConnection[Any], ops: list[_Op]
    ) -> tuple[int, dict[str, StreamState], dict[bytes, IdHit]]:
        """(head, states of the touched streams, recorded ids among the batch's): one pipelined round trip."""
        names = sorted({op.args[0] for op in ops})
        # Ids go as canonical text (cast by the server): building uuid.UUID objects cost ~1 us each.
        ids = [ev.event_id for op in ops for ev in op.args[1]]
        async with conn.pipeline():
            head_cur = await conn.execute("SELECT position FROM graveyar_head WHERE id = 1 FOR UPDATE")
            states_cur = await conn.execute(
                f"SELECT {_STATE_COLS} FROM graveyar_streams WHERE name = ANY(%s)", (names,)
            )
            ids_cur = await conn.execute(
                "SELECT event_id, stream, version, position, content_hash FROM graveyar_events "
                "WHERE event_id = ANY(%s::uuid[])",
                (ids,),
            )
            row = await head_cur.fetchone()
            assert row is not None
            states = {r[0]: _state(r) for r in await states_cur.fetchall()}
            known = {r[0].bytes: IdHit(r[1], r[2], r[3], bytes(r[4])) for r in await ids_cur.fetchall()}
        return int(row[0]), states, known

    async def _save_states(self, conn: psycopg.AsyncConnection[Any], states: Any) -> None:
        async with conn.cursor() as cur:
            await cur.executemany(
                f"INSERT INTO graveyar_streams ({_STATE_COLS}) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, position = EXCLUDED.position, "
                "truncate_before = EXCLUDED.truncate_before, deleted = EXCLUDED.deleted, "
                "max_count = EXCLUDED.max_count, max_age = EXCLUDED.max_age",
                [
                    (s.stream, s.version, s.position, s.truncate_before, s.deleted, s.max_count, s.max_age)
                    for s in states
                ],
            )

    async def _multi(self, conn: psycopg.AsyncConnection[Any], ops: list[_Op]) -> int:
        """A multi-stream append: the batch append's code inside a savepoint, rolled back on any failure."""
        (op,) = ops
        items = [_Op("append", item, op.future) for item in op.args]
        try:
            async with conn.transaction():
                head = await self._append_batch(conn, items)
                for item in items:
                    if isinstance(item.result, BaseException):
                        raise item.result
                check_multi_results([item.result for item in items])
        except ToolkitError as exc:
            op.result = exc
            return await self._lock_head(conn)
        op.result = [item.result for item in items]
        return head

    async def _single(self, conn: psycopg.AsyncConnection[Any], ops: list[_Op]) -> int:
        (op,) = ops
        head = await self._lock_head(conn)
        try:
            op.result = await op.args(conn)
        except ToolkitError as exc:
            op.result = exc
        return head

    async def _submit(self, kind: str, args: Any) -> Any:
        if self._closed:
            raise StorageFailure("the store is closed")
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Op(kind, args, fut))
        return await fut

    async def _load_state(self, conn: psycopg.AsyncConnection[Any], stream: str) -> StreamState | None:
        cur = await conn.execute(f"SELECT {_STATE_COLS} FROM graveyar_streams WHERE name = %s", (stream,))
        row = await cur.fetchone()
        return _state(row) if row else None

    # -- writes ---------------------------------------------------------------------------------
    async def append(self, stream: str, events: Sequence[PreparedEvent], expected: Expected) -> AppendResult:
        """Append atomically (group-committed with this server's concurrent appends)."""
        result: AppendResult = await self._submit("append", (stream, events, expected))
        return result

    async def append_multi(self, items: Sequence[tuple[str, Sequence[PreparedEvent], Expected]]) -> list[AppendResult]:
        """Append to several streams in one transaction (all or nothing)."""
        results: list[AppendResult] = await self._submit("multi", list(items))
        return results

    async def delete_stream(self, stream: str, expected: Expected, *, tombstone: bool = False) -> int:
        """Soft delete, or tombstone."""

        async def op(conn: psycopg.AsyncConnection[Any]) -> int:
            state = deleted_state(
                stream, await self._load_state(conn, stream), expected, tombstone=tombstone,
                new_state=lambda: StreamState(stream, 0),
            )  # fmt: skip
            await self._save_states(conn, [state])
            # The snapshot describes events the delete hid: a revived stream must not load it.
            await conn.execute("DELETE FROM graveyar_snapshots WHERE stream = %s", (stream,))
            return state.version

        version: int = await self._submit("single", op)
        return version

    async def set_stream_metadata(self, stream: str, metadata: StreamMetadata) -> StreamInfo:
        """Replace retention rules."""

        async def op(conn: psycopg.AsyncConnection[Any]) -> StreamInfo:
            state = await self._load_state(conn, stream) or StreamState(stream, 0)
            state.max_count, state.max_age = metadata.max_count, metadata.max_age
            if metadata.truncate_before is not None:
                state.truncate_before = max(state.truncate_before, metadata.truncate_before)
            await self._save_states(conn, [state])
            return state.info()

        info: StreamInfo = await self._submit("single", op)
        return info

    async def heartbeat(self, instance_id: str, host: str, port: int) -> None:
        """Upsert this server's row; PostgreSQL's clock stamps it, so servers' clocks need not agree."""
        await self._fetch(
            "INSERT INTO graveyar_members (instance_id, host, port) VALUES (%s, %s, %s) "
            "ON CONFLICT (instance_id) DO UPDATE SET host = EXCLUDED.host, port = EXCLUDED.port, heartbeat = now() "
            "RETURNING 1",
            (instance_id, host, port),
        )

    async def members(self, alive_within: float) -> list[MemberRecord] | None:
        """Servers whose heartbeat is younger than `alive_within` seconds, longest-running first."""
        rows = await self._fetch(
            "SELECT instance_id::text, host, port, (extract(epoch FROM heartbeat) * 1000)::bigint "
            "FROM graveyar_members WHERE heartbeat > now() - make_interval(secs => %s) "
            "ORDER BY started_at, instance_id",
            (alive_within,),
        )
        return [MemberRecord(str(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in rows]

    async def leave(self, instance_id: str) -> None:
        """Delete this server's row (and rows of servers silent for an hour)."""
        await self._fetch(
            "DELETE FROM graveyar_members WHERE instance_id = %s OR heartbeat < now() - interval '1 hour' RETURNING 1",
            (instance_id,),
        )

    async def _purge(self, stream: str, lo: int, hi: int) -> Purged:
        """Delete the doomed versions lo..hi (their rows, and with them their event ids)."""

        async def op(conn: psycopg.AsyncConnection[Any]) -> Purged:
            state = await self._load_state(conn, stream)
            if state is None:
                return Purged()
            cur = conn.cursor(binary=True)
            await cur.execute(
                "SELECT version, record FROM graveyar_events WHERE stream = %s AND version BETWEEN %s AND %s",
                (stream, lo, hi),
            )
            rows = [(int(v), bytes(r)) for v, r in await cur.fetchall()]
            gone = doomed(state, rows, int(time.time() * 1000))
            if not gone:
                return Purged()
            await conn.execute("DELETE FROM graveyar_events WHERE stream = %s AND version = ANY(%s)", (stream, gone))
            sizes = dict(rows)
            return Purged(len(gone), sum(len(sizes[v]) for v in gone))

        purged: Purged = await self._submit("single", op)
        return purged

    async def save_snapshot(self, snapshot: Snapshot, *, exact: bool) -> None:
        """Keep the latest snapshot (checked and written in one transaction)."""

        async def op(conn: psycopg.AsyncConnection[Any]) -> None:
            cur = await conn.execute("SELECT version FROM graveyar_snapshots WHERE stream = %s", (snapshot.stream,))
            row = await cur.fetchone()
            state = await self._load_state(conn, snapshot.stream)
            check_snapshot(snapshot.stream, state, snapshot, row[0] if row else None, exact=exact)
            await conn.execute(
                "INSERT INTO graveyar_snapshots (stream, version, ts, payload) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (stream) DO UPDATE SET version = EXCLUDED.version, ts = EXCLUDED.ts, "
                "payload = EXCLUDED.payload",
                (snapshot.stream, snapshot.version, snapshot.timestamp, snapshot.payload),
            )

        await self._submit("single", op)

    async def upsert_schema(self, name: str, definition: dict[str, Any]) -> None:
        """Store a schema."""
        text = json.dumps(definition, sort_keys=True, separators=(",", ":"))

        async def op(conn: psycopg.AsyncConnection[Any]) -> None:
            await conn.execute(
                "INSERT INTO graveyar_schemas (name, definition) VALUES (%s, %s) "
                "ON CONFLICT (name) DO UPDATE SET definition = EXCLUDED.definition",
                (name, text),
            )

        await self._submit("single", op)

    # -- reads ----------------------------------------------------------------------------------
    async def stream_state(self, stream: str) -> StreamState | None:
        """State of one stream."""
        rows = await self._fetch(f"SELECT {_STATE_COLS} FROM graveyar_streams WHERE name = %s", (stream,))
        return _state(rows[0]) if rows else None

    async def _read_versions(self, state: StreamState, lo: int, hi: int, backward: bool, limit: int) -> list[bytes]:
        order = "DESC" if backward else "ASC"
        lim = f" LIMIT {int(limit)}" if limit else ""
        rows = await self._fetch(
            f"SELECT record FROM graveyar_events WHERE stream = %s AND version BETWEEN %s AND %s "
            f"ORDER BY version {order}{lim}",
            (state.stream, lo, hi),
            binary=True,
        )
        return [r[0] for r in rows]

    async def read_all(self, start: int | None, backward: bool, limit: int) -> list[bytes]:
        """Records of the global log."""
        lim = f" LIMIT {int(limit)}" if limit else ""
        if backward:
            bound = start if start is not None else 2**62
            query = f"SELECT record FROM graveyar_events WHERE position <= %s ORDER BY position DESC{lim}"
        else:
            bound = start or 1
            query = f"SELECT record FROM graveyar_events WHERE position >= %s ORDER BY position ASC{lim}"
        rows = await self._fetch(query, (bound,), binary=True)
        return [r[0] for r in rows]

    async def list_streams(self, prefix: str, after: str, limit: int) -> list[StreamInfo]:
        """Streams by name (prefix match without LIKE, so `%` and `_` are literal)."""
        rows = await self._fetch(
            f"SELECT {_STATE_COLS} FROM graveyar_streams WHERE left(name, length(%s)) = %s "
            'AND name COLLATE "C" > %s ORDER BY name COLLATE "C" LIMIT %s',
            (prefix, prefix, after, limit),
        )
        return [_state(r).info() for r in rows]

    async def get_snapshot(self, stream: str) -> Snapshot | None:
        """Latest snapshot."""
        rows = await self._fetch("SELECT version, ts, payload FROM graveyar_snapshots WHERE stream = %s", (stream,))
        if not rows:
            return None
        version, ts, payload = rows[0]
        return Snapshot(stream, version, bytes(payload), ts)

    async def get_schema(self, name: str) -> dict[str, Any] | None:
        """Stored schema."""
        rows = await self._fetch("SELECT definition FROM graveyar_schemas WHERE name = %s", (name,))
        if not rows:
            return None
        doc: dict[str, Any] = json.loads(rows[0][0])
        return doc

    async def head(self) -> int:
        """Last committed position."""
        rows = await self._fetch("SELECT position FROM graveyar_head WHERE id = 1")
        return int(rows[0][0]) if rows else 0

    async def _close_conns(self) -> None:
        for conn in self._all_conns:
            with contextlib.suppress(Exception):
                await conn.close()
        self._all_conns.clear()

    async def close(self) -> None:
        """Finish queued writes, stop background tasks, close connections."""
        if self._closed:
            return
        if self._tasks:
            self._queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await self._tasks[0]
        self._closed = True
        for task in self._tasks[1:]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.notifier.kick()
        await self._close_conns()


def _redact(dsn: str) -> str:
    """Hide a password in a DSN for error messages."""
    if "@" in dsn and "://" in dsn:
        scheme, rest = dsn.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}@{host}"
    return dsn
