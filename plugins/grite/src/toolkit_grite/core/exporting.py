"""`grite export`: JSON and Markdown documents of every issue and event."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from toolkit_grite.core import projection, wal
from toolkit_grite.core.grite import Grite
from toolkit_grite.core.model import Event
from toolkit_grite.errors import GriteNotFound, InvalidArgs

__all__ = ["FORMATS", "build_export"]

FORMATS = ("json", "md")
EVENT_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


def _since_filter(g: Grite, since: str | None) -> Any:
    if since is None:
        return lambda _e: True
    if since.isdigit():
        limit = int(since)
        return lambda e: e.ts > limit
    if EVENT_HEX.match(since):
        ref = g.view.get_event(bytes.fromhex(since.lower()))
        if ref is None:
            raise GriteNotFound(f"event {since} not found", hint="give a timestamp in ms or a full event id")
        key = ref.key
        return lambda e: e.key > key
    raise InvalidArgs("--since takes a timestamp in ms or a 64-hex event id")


def build_export(g: Grite, fmt: str, since: str | None = None) -> tuple[str, dict[str, Any]]:
    """Return `(document text, info)` where info is `{format, wal_head, event_count}`."""
    if fmt not in FORMATS:
        raise InvalidArgs(f"--format must be one of {', '.join(FORMATS)}")
    view = g.ready()
    keep = _since_filter(g, since)
    events = [e for e in view.all_events() if keep(e)]
    states = sorted(view.states(), key=lambda s: (s["created_ts"], s["issue_id"]))
    head = wal.ref_target(g.repo, wal.WAL_REF)
    info = {"format": fmt, "wal_head": head, "event_count": len(events)}
    if fmt == "json":
        doc = {
            "meta": {
                "schema_version": 1,
                "generated_ts": int(time.time() * 1000),
                "event_count": len(events),
                "wal_head": head,
            },
            "issues": [projection.summary(s) for s in states],
            "events": [e.to_json() for e in events],
        }
        return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n", info
    return _markdown(states, events), info


def _markdown(states: list[dict[str, Any]], events: list[Event]) -> str:
    by_issue: dict[str, list[Event]] = {}
    for e in events:
        by_issue.setdefault(e.issue_id.hex(), []).append(e)
    lines = ["# Issues", ""]
    for s in states:
        full = projection.full(s)
        lines.append(f"## {full['title']} ({full['issue_id'][:8]}, {full['state']})")
        lines.append("")
        if full["labels"]:
            lines.append(f"Labels: {', '.join(full['labels'])}  ")
        if full["assignees"]:
            lines.append(f"Assignees: {', '.join(full['assignees'])}  ")
        lines.append(f"Created: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(full['created_ts'] / 1000))}")
        lines.append("")
        if full["body"]:
            lines += [full["body"], ""]
        for c in full["comments"]:
            lines += [f"> **{c['actor'][:8]}**: {c['body']}", ""]
        history = by_issue.get(full["issue_id"], [])
        if history:
            lines.append("Events:")
            for e in history:
                lines.append(f"- {e.ts} {next(iter(e.kind_json()))} by {e.actor.hex()[:8]}")
            lines.append("")
    return "\n".join(lines)
