"""grite 0.5.3's context store, read from (and, for project keys, written as) events.

File context (`ContextUpdated`, kind 13) lives on the pseudo-issue BLAKE2b-128("grite:context:file:"
+ path); project context (`ProjectContextUpdated`, kind 14) on the pseudo-issue of sixteen 0xff
bytes. Each path and each key is a last-writer-wins register on the event order key
`(ts, actor, event_id)`. `context index` extracts symbols in the client (`core.symbols`, it reads
the caller's working tree) and records them here with `record_files`; it parses only the files
whose content hash differs from the one `recorded_hashes` returns.
"""

from __future__ import annotations

import hashlib
from typing import Any

from toolkit_grite.core.grite import Grite
from toolkit_grite.core.model import Event
from toolkit_grite.errors import GriteNotFound, InvalidArgs

__all__ = [
    "PROJECT_ID",
    "file_context_id",
    "project",
    "query",
    "record_files",
    "recorded_hashes",
    "set_project",
    "show",
]

PROJECT_ID = b"\xff" * 16


def file_context_id(path: str) -> bytes:
    """The pseudo-issue id of a file's context."""
    return hashlib.blake2b(f"grite:context:file:{path}".encode(), digest_size=16).digest()


def _latest(events: list[Event], kind: int) -> dict[str, Event]:
    """The winning event per path (kind 13) or key (kind 14)."""
    best: dict[str, Event] = {}
    for ev in events:
        if ev.kind != kind:
            continue
        name = str(ev.payload[0])
        if name not in best or ev.key > best[name].key:
            best[name] = ev
    return best


def recorded_hashes(g: Grite, paths: list[str]) -> dict[str, Any]:
    """The content hash (hex) recorded for each of `paths` that has a file context.

    `context index` asks this before parsing, so that an unchanged file is hashed but not parsed.

    Returns:
        `{hashes: {path: hex}}`.
    """
    view = g.ready()
    hashes: dict[str, str] = {}
    for path in paths:
        current = _latest(view.issue_events_of(file_context_id(path)), 13).get(path)
        if current is not None:
            hashes[path] = bytes(current.payload[4]).hex()
    return {"hashes": hashes}


def record_files(g: Grite, files: list[Any], force: bool = False) -> dict[str, Any]:
    """Record extracted file contexts as ContextUpdated events, in one WAL commit.

    Each entry of `files` is `{path, language, symbols, summary, content_hash}` (the hash in hex,
    symbols as `[name, kind, line_start, line_end]`). A file whose recorded content hash is the
    same is skipped unless `force`, as 0.5.3 re-indexes only changed files.

    Returns:
        `{indexed, skipped}` and, when something was written, `wal_head`.

    Raises:
        InvalidArgs: an entry is malformed (nothing is written).
    """
    view = g.ready()
    events: list[Event] = []
    skipped = 0
    for entry in files:
        try:
            path, language, summary = str(entry["path"]), str(entry["language"]), str(entry["summary"])
            content_hash = bytes.fromhex(entry["content_hash"])
            rows = [(str(n), str(k), int(a), int(b)) for n, k, a, b in entry["symbols"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidArgs(f"malformed file context entry: {exc}") from None
        if len(content_hash) != 32 or not path or any(a < 0 or b < 0 for _n, _k, a, b in rows):
            raise InvalidArgs(f"malformed file context entry for {path!r}")
        issue_id = file_context_id(path)
        current = _latest(view.issue_events_of(issue_id), 13).get(path)
        if current is not None and not force and current.payload[4] == content_hash:
            skipped += 1
            continue
        # Symbols sorted by (name, kind): the order 0.5.3 hashes and stores them in.
        symbols = [list(row) for row in sorted(rows, key=lambda row: (row[0], row[1]))]
        payload = [path, language, symbols, summary, content_hash]
        events.append(g.new_event(issue_id, 13, payload, after=current.ts if current is not None else 0))
    result: dict[str, Any] = {"indexed": len(events), "skipped": skipped}
    if events:
        result["wal_head"] = g.write(events)
    return result


def set_project(g: Grite, key: str, value: str) -> dict[str, Any]:
    """Set a project context key (a ProjectContextUpdated event, as 0.5.3 writes it)."""
    if not key:
        raise InvalidArgs("the key must not be empty")
    state = _latest(g.ready().issue_events_of(PROJECT_ID), 14)
    after = state[key].ts if key in state else 0
    ev = g.new_event(PROJECT_ID, 14, [key, value], after=after)
    head = g.write([ev])
    return {"key": key, "value": value, "action": "set", "event_id": ev.event_id.hex(), "wal_head": head}


def project(g: Grite, key: str | None = None) -> dict[str, Any]:
    """One project key (`{key, value}`) or all of them (`{entries, count}`)."""
    entries = _latest(g.ready().issue_events_of(PROJECT_ID), 14)
    if key is not None:
        if key not in entries:
            raise GriteNotFound(f"Project context key '{key}' not found")
        return {"key": key, "value": entries[key].payload[1]}
    rows = [{"key": k, "value": entries[k].payload[1]} for k in sorted(entries)]
    return {"entries": rows, "count": len(rows)}


def show(g: Grite, path: str) -> dict[str, Any]:
    """The context of one file (as indexed by grite 0.5.3)."""
    files = _latest(g.ready().issue_events_of(file_context_id(path)), 13)
    if path not in files:
        raise GriteNotFound(f"No context found for '{path}'")
    _path, language, symbols, summary, content_hash = files[path].payload
    # Source order, as 0.5.3's indexer lists them (the event itself carries them sorted by name).
    ordered = sorted(symbols, key=lambda s: (s[2], s[3], s[0], s[1]))
    rows = [{"name": s[0], "kind": s[1], "line_start": s[2], "line_end": s[3]} for s in ordered]
    return {
        "path": path,
        "language": language,
        "summary": summary,
        "content_hash": content_hash.hex(),
        "symbols": rows,
        "symbol_count": len(rows),
    }


def query(g: Grite, text: str) -> dict[str, Any]:
    """Symbols whose name starts with `text` (case-sensitive, as 0.5.3), by name then path."""
    files = _latest([ev for ev in g.ready().all_events() if ev.kind == 13], 13)
    hits = sorted(
        {(str(s[0]), path) for path, ev in files.items() for s in ev.payload[2] if str(s[0]).startswith(text)}
    )
    matches = [{"symbol": name, "path": path} for name, path in hits]
    return {"query": text, "matches": matches, "count": len(matches)}
