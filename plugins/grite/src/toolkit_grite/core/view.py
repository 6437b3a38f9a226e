"""The LMDB materialized view under `.git/grite/view/` (derivable from the WAL at any time).

One environment per process, opened lazily after any fork. Writers are serialized by LMDB
itself; every ingest is one write transaction that deduplicates by event id, so concurrent
catch-ups from several processes are harmless.
"""

from __future__ import annotations

import contextlib
import gc
import json
import marshal
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from toolkit_grite.core import projection
from toolkit_grite.core.model import Event
from toolkit_grite.errors import DbError, GriteNotFound, InvalidArgs

__all__ = ["MAP_SIZE", "View"]

MAP_SIZE = 4 << 30
#: Values are `marshal`-encoded (the view is a cache of the WAL, private to this interpreter
#: version); a view written under another schema is emptied and re-ingested from the WAL.
SCHEMA = f"3-py{sys.version_info[0]}.{sys.version_info[1]}"
_MARSHAL_VERSION = 4


def _encode_event(ev: Event) -> bytes:
    return marshal.dumps(
        (ev.event_id, ev.issue_id, ev.actor, ev.ts, ev.parent, ev.kind, ev.payload, ev.sig), _MARSHAL_VERSION
    )


def _decode_event(data: bytes) -> Event:
    return Event(*marshal.loads(data))


def _encode_state(state: dict[str, Any]) -> bytes:
    return marshal.dumps(state, _MARSHAL_VERSION)


def _decode_state(data: bytes) -> dict[str, Any]:
    state: dict[str, Any] = marshal.loads(data)
    return state


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
try:  # the C encoder `_CANONICAL` makes on every call, made once (a fifth of its cost per summary)
    _C_CANONICAL: Any = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None, _ENCODER.default, json.encoder.encode_basestring, None, ":", ",", True, False, True
    )
except (AttributeError, TypeError):  # pragma: no cover - an interpreter without the C accelerator
    _C_CANONICAL = None
_CANONICAL = _ENCODER.encode


def summary_text(summary: dict[str, Any]) -> str:
    """`summary`'s canonical JSON (sorted keys, no spaces): exactly what `_CANONICAL` returns."""
    if _C_CANONICAL is None:  # pragma: no cover
        return _CANONICAL(summary)
    text: str = "".join(_C_CANONICAL(summary, 0))
    return text


def summary_record(state: dict[str, Any]) -> bytes:
    """The `summaries` value: the summary, its canonical JSON text, and the lower-cased search text."""
    summary = projection.summary(state)
    text = summary_text(summary)
    # Free text matches titles, bodies and comments (git-bug's query language).
    if not state["comments"] and "comment_edits" not in state:  # most issues: the same text, built directly
        search = (state["title"][0] + "\n" + state["body"][0]).lower()
    else:
        edits = [edit[2] for per_comment in state.get("comment_edits", {}).values() for edit in per_comment]
        search = "\n".join([state["title"][0], state["body"][0], *(c["body"] for _k, c in state["comments"]), *edits])
        search = search.lower()
    return marshal.dumps((summary, text, search), _MARSHAL_VERSION)


def _ie_key(ev: Event) -> bytes:
    return ev.issue_id + ev.ts.to_bytes(8, "big") + ev.actor + ev.event_id


class View:
    """The materialized view.

    Args:
        path: The LMDB directory.
    """

    def __init__(self, path: Path) -> None:
        import lmdb

        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        try:
            self.env = lmdb.open(str(path), map_size=MAP_SIZE, max_dbs=8, subdir=True, metasync=False)
        except lmdb.Error as exc:
            raise DbError(f"cannot open the view at {path}: {exc}", hint="run `grite doctor --fix`") from None
        self.events = self.env.open_db(b"events")
        self.issue_events = self.env.open_db(b"issue_events")
        self.issues = self.env.open_db(b"issues")
        self.commits = self.env.open_db(b"commits")
        self.meta = self.env.open_db(b"meta")
        self.summaries = self.env.open_db(b"summaries")
        self._check_schema()

    def _check_schema(self) -> None:
        with self.env.begin(db=self.meta) as txn:
            raw = txn.get(b"schema")
        if raw is not None and json.loads(raw) == SCHEMA:
            return
        with self.env.begin(write=True) as txn:
            for db in (self.events, self.issue_events, self.issues, self.commits, self.meta, self.summaries):
                txn.drop(db, delete=False)
            self._put_meta(txn, "schema", SCHEMA)

    def close(self) -> None:
        """Close the environment."""
        self.env.close()

    # -- meta ---------------------------------------------------------------------------------

    def get_meta(self, key: str, default: Any = None) -> Any:
        """Return a meta value."""
        with self.env.begin(db=self.meta) as txn:
            raw = txn.get(key.encode())
        return default if raw is None else json.loads(raw)

    def _put_meta(self, txn: Any, key: str, value: Any) -> None:
        txn.put(key.encode(), json.dumps(value).encode(), db=self.meta)

    def _get_meta_txn(self, txn: Any, key: str, default: Any) -> Any:
        raw = txn.get(key.encode(), db=self.meta)
        return default if raw is None else json.loads(raw)

    # -- ingest -------------------------------------------------------------------------------

    def add_quarantine(self, problems: list[dict[str, Any]]) -> None:
        """Remember what the WAL readers refused (deduplicated), for doctor, db check and sync."""
        with self.env.begin(write=True) as txn:
            known = list(self._get_meta_txn(txn, "quarantine", []))
            seen = {(p["commit"], p["event_id"], p["reason"]) for p in known}
            for p in problems:
                if (p["commit"], p["event_id"], p["reason"]) not in seen:
                    seen.add((p["commit"], p["event_id"], p["reason"]))
                    known.append(dict(p))
            self._put_meta(txn, "quarantine", known)

    def quarantine(self) -> list[dict[str, Any]]:
        """Everything the WAL readers refused so far (emptied by a rebuild, which re-reads everything)."""
        return list(self.get_meta("quarantine", []))

    def has_commit(self, oid: str) -> bool:
        """True when WAL commit `oid` (and so its whole chain) has been ingested."""
        with self.env.begin(db=self.commits) as txn:
            return txn.get(bytes.fromhex(oid)) is not None

    def ingest(self, commits: Iterable[tuple[str, list[Event]]], *, extra: Iterable[Event] = ()) -> int:
        """Apply the events of `commits` (and `extra`) and mark the commits seen; return new events."""
        with self.env.begin(write=True) as txn:
            batch = _Batch(self, txn, empty=False)
            batch.add(None, extra)
            for oid, events in commits:
                batch.add(oid, events)
            return batch.finish()

    def reset(self, commits: Iterable[tuple[str, list[Event]]], *, extra: Iterable[Event] = ()) -> int:
        """Empty the view and ingest from scratch in one transaction; return the event count."""
        with self.resetting() as batch:
            batch.add(None, extra)
            for oid, events in commits:
                batch.add(oid, events)
        return batch.added

    @contextlib.contextmanager
    def resetting(self) -> Iterator[_Batch]:
        """Empty the view and take events as they are read (`batch.add`) in one transaction.

        A rebuild feeds each WAL commit here while git still reads the next ones, so the
        projection runs while this process would otherwise wait for git. Nothing is visible
        (and on an exception nothing changes) before the block ends; `batch.added` is then the
        event count.
        """
        gc_was_enabled = gc.isenabled()
        gc.disable()  # bulk dict building: the cyclic GC only costs time here
        try:
            with self.env.begin(write=True) as txn:
                for db in (self.events, self.issue_events, self.issues, self.commits, self.meta, self.summaries):
                    txn.drop(db, delete=False)
                batch = _Batch(self, txn, empty=True)
                yield batch
                batch.finish()
                self._put_meta(txn, "events_since_rebuild", 0)
                self._put_meta(txn, "last_rebuild_ts", int(time.time() * 1000))
                self._put_meta(txn, "schema", SCHEMA)
        finally:
            if gc_was_enabled:
                gc.enable()

    # -- queries ------------------------------------------------------------------------------

    def has_event(self, event_id: bytes) -> bool:
        """True when the view holds `event_id`."""
        with self.env.begin(db=self.events) as txn:
            return txn.get(event_id) is not None

    def get_event(self, event_id: bytes) -> Event | None:
        """Return one event by id."""
        with self.env.begin(db=self.events) as txn:
            raw = txn.get(event_id)
        return None if raw is None else _decode_event(raw)

    def state(self, issue_id: bytes) -> dict[str, Any] | None:
        """Return the projection state of a visible issue, or None."""
        with self.env.begin(db=self.issues) as txn:
            raw = txn.get(issue_id)
        if raw is None:
            return None
        state = _decode_state(raw)
        return state if projection.visible(state) else None

    def states(self) -> Iterator[dict[str, Any]]:
        """Yield the state of every visible issue."""
        with self.env.begin(db=self.issues) as txn:
            for _key, raw in txn.cursor():
                state = _decode_state(raw)
                if projection.visible(state):
                    yield state

    def summary_records(self) -> Iterator[tuple[dict[str, Any], str, str]]:
        """Yield `(summary, summary JSON text, search text)` for every visible issue."""
        with self.env.begin(db=self.summaries) as txn:
            for _key, raw in txn.cursor():
                yield marshal.loads(raw)

    def resolve_issue(self, prefix: str) -> bytes:
        """Resolve a hex prefix (>= 4 chars) to one visible issue id.

        Raises:
            InvalidArgs: too short, not hex, or ambiguous.
            GriteNotFound: no visible issue matches.
        """
        text = prefix.strip().lower()
        if len(text) < 4 or len(text) > 32 or any(c not in "0123456789abcdef" for c in text):
            raise InvalidArgs(
                f"invalid issue id {prefix!r}: give 4 to 32 hex characters", hint="see `grite issue list`"
            )
        lo = bytes.fromhex((text + "0" * 32)[:32])
        hi = bytes.fromhex((text + "f" * 32)[:32])
        found: list[bytes] = []
        with self.env.begin(db=self.issues) as txn:
            cur = txn.cursor()
            if cur.set_range(lo):
                for key, raw in cur:
                    if key > hi:
                        break
                    if projection.visible(_decode_state(raw)):
                        found.append(bytes(key))
        if not found:
            raise GriteNotFound(f"issue {prefix} not found", hint="see `grite issue list`")
        if len(found) > 1:
            raise InvalidArgs(
                f"issue id prefix {prefix!r} is ambiguous",
                details={"suggestions": [f.hex() for f in found[:10]]},
            )
        return found[0]

    def issue_events_of(self, issue_id: bytes) -> list[Event]:
        """Return the events of one issue in order-key order."""
        out = []
        with self.env.begin() as txn:
            cur = txn.cursor(db=self.issue_events)
            if cur.set_range(issue_id):
                for key in cur.iternext(values=False):
                    if key[:16] != issue_id:
                        break
                    raw = txn.get(bytes(key[-32:]), db=self.events)
                    if raw is not None:
                        out.append(_decode_event(raw))
        return out

    def all_events(self) -> list[Event]:
        """Return every event, ordered by `(issue_id, ts, actor, event_id)`."""
        out = []
        with self.env.begin() as txn:
            cur = txn.cursor(db=self.issue_events)
            for key in cur.iternext(values=False):
                raw = txn.get(bytes(key[-32:]), db=self.events)
                if raw is not None:
                    out.append(_decode_event(raw))
        return out

    def counts(self) -> dict[str, int]:
        """Return `{event_count, issue_count}` (visible issues)."""
        with self.env.begin() as txn:
            events = txn.stat(self.events)["entries"]
            issues = txn.stat(self.summaries)["entries"]
        return {"event_count": int(events), "issue_count": int(issues)}

    def size_bytes(self) -> int:
        """Bytes used by the data file."""
        data = self.path / "data.mdb"
        info = self.env.info()
        stat = self.env.stat()
        used = int(info["last_pgno"] + 1) * int(stat["psize"])
        return min(used, data.stat().st_size) if data.exists() else used


class _Batch:
    """The events of one write transaction: stored, indexed and projected as they come.

    Each event id is taken once (the view deduplicates); `finish` writes the rows, the touched
    issues' states and summaries, and the commits seen.
    """

    def __init__(self, view: View, txn: Any, *, empty: bool) -> None:
        self.view = view
        self.txn = txn
        self.empty = empty  # the view was just cleared: no need to look events up
        self.states: dict[bytes, dict[str, Any]] = {}
        self.fresh: set[bytes] = set()
        self.rows: list[tuple[bytes, bytes]] = []
        self.index: list[tuple[bytes, bytes]] = []
        self.oids: list[str] = []
        self.pending: list[Event] = []

    def add(self, oid: str | None, events: Iterable[Event]) -> None:
        """Take the events of WAL commit `oid` (None: events from elsewhere, e.g. a snapshot)."""
        if oid is not None:
            self.oids.append(oid)
        self.pending.extend(events)
        if len(self.pending) >= 256:  # in batches: per-call setup costs more than one event
            self._take()

    def _take(self) -> None:
        """Store and project the pending events not seen yet."""
        txn, states, fresh, rows, index = self.txn, self.states, self.fresh, self.rows, self.index
        lookup = None if self.empty else self.view.events
        apply, created = projection.apply, projection.created
        for ev in self.pending:
            eid = ev.event_id
            if eid in fresh or (lookup is not None and txn.get(eid, db=lookup) is not None):
                continue
            fresh.add(eid)
            rows.append((eid, _encode_event(ev)))
            index.append((_ie_key(ev), b""))
            if ev.kind > 12:
                continue
            state = states.get(ev.issue_id)
            if state is None:
                raw = None if lookup is None else txn.get(ev.issue_id, db=self.view.issues)
                if raw is None and ev.kind == 1:  # an issue's first event is nearly always its creation
                    states[ev.issue_id] = created(ev)
                    continue
                state = _decode_state(raw) if raw is not None else projection.new_state(ev.issue_id.hex())
                states[ev.issue_id] = state
            apply(state, ev)
        self.pending.clear()

    @property
    def added(self) -> int:
        """The events taken so far that the view did not hold (all of them once `finish` ran)."""
        return len(self.rows)

    def finish(self) -> int:
        """Write everything taken; return the number of new events."""
        self._take()
        view, txn, states = self.view, self.txn, self.states
        txn.cursor(db=view.events).putmulti(self.rows)
        txn.cursor(db=view.issue_events).putmulti(self.index)
        txn.cursor(db=view.commits).putmulti([(bytes.fromhex(oid), b"") for oid in self.oids])
        txn.cursor(db=view.issues).putmulti([(iid, _encode_state(state)) for iid, state in states.items()])
        txn.cursor(db=view.summaries).putmulti(
            [(iid, summary_record(state)) for iid, state in states.items() if projection.visible(state)]
        )
        if self.added:
            view._put_meta(txn, "event_count", view._get_meta_txn(txn, "event_count", 0) + self.added)
            view._put_meta(txn, "events_since_rebuild", view._get_meta_txn(txn, "events_since_rebuild", 0) + self.added)
        return self.added
