"""Order-independent projection of an issue from the set of its events.

The state is a JSON-safe dict. `apply` is commutative: LWW registers and LWW-element sets
keyed by `(ts, actor, event_id)`, and lists kept sorted by that key. Callers apply each
event id once (the view deduplicates), so any arrival order yields the same state.
"""

from __future__ import annotations

import bisect
from typing import Any

from toolkit_grite.core.amend import REMOVED_LABEL, apply_edits, parse_edit
from toolkit_grite.core.model import Event

__all__ = ["apply", "created", "full", "new_state", "removed", "summary", "visible"]

Key = list[Any]


def new_state(issue_hex: str) -> dict[str, Any]:
    """Return the empty state of an issue none of whose events has been applied."""
    return {
        "issue_id": issue_hex,
        "created_key": None,
        "created_ts": None,
        "title": ["", None],
        "body": ["", None],
        "state": ["open", None],
        "labels": {},
        "assignees": {},
        "deps": {},
        "comments": [],
        "links": [],
        "attachments": [],
        "updated_ts": 0,
        "event_count": 0,
    }


def created(ev: Event) -> dict[str, Any]:
    """Return `apply(new_state(...), ev)` for an IssueCreated `ev`: the same dict, built at once.

    Most issues a rebuild meets start with their IssueCreated; building the state in one literal
    costs half of the generic path (a rebuild of one-commit-per-create WALs does this per event).
    Keys come in `new_state`'s order and values share the same objects, so `marshal` writes
    the same bytes either way (tests/test_projection.py checks both).
    """
    key: Key = [ev.ts, ev.actor.hex(), ev.event_id.hex()]
    p = ev.payload
    labels: dict[str, Any] = {}
    for label in p[2]:
        if label not in labels:  # a repeated label keeps its first entry, as `_set_element` does
            labels[label] = [True, key]
    return {
        "issue_id": ev.issue_id.hex(),
        "created_key": key,
        "created_ts": ev.ts,
        "title": [p[0], key],
        "body": [p[1], key],
        "state": ["open", key],
        "labels": labels,
        "assignees": {},
        "deps": {},
        "comments": [],
        "links": [],
        "attachments": [],
        "updated_ts": max(0, ev.ts),
        "event_count": 1,
    }


def _set_register(state: dict[str, Any], field: str, value: Any, key: Key) -> None:
    current = state[field][1]
    if current is None or key > current:
        state[field] = [value, key]


def _set_element(table: dict[str, Any], element: str, present: bool, key: Key) -> None:
    current = table.get(element)
    if current is None or key > current[1]:
        table[element] = [present, key]


def _insert_sorted(items: list[Any], key: Key, item: dict[str, Any]) -> None:
    keys = [entry[0] for entry in items]
    pos = bisect.bisect_left(keys, key)
    if pos < len(items) and items[pos][0] == key:
        return
    items.insert(pos, [key, item])


def _comment(state: dict[str, Any], key: Key, body: str) -> None:
    edit = parse_edit(body)
    if edit is None:
        _insert_sorted(state["comments"], key, {"event_id": key[2], "actor": key[1], "ts": key[0], "body": body})
        return
    # A comment edit (core/amend.py); states stored before edits existed lack the table.
    edits = state.setdefault("comment_edits", {}).setdefault(edit[0], [])
    if [key, key[1], edit[1]] not in edits:
        edits.append([key, key[1], edit[1]])


def apply(state: dict[str, Any], ev: Event) -> None:  # noqa: PLR0912 - one branch per event kind
    """Fold one event into `state` (in place)."""
    key: Key = [ev.ts, ev.actor.hex(), ev.event_id.hex()]
    p = ev.payload
    kind = ev.kind
    state["event_count"] += 1
    state["updated_ts"] = max(state["updated_ts"], ev.ts)
    if kind == 1:
        if state["created_key"] is None or key < state["created_key"]:
            state["created_key"] = key
            state["created_ts"] = ev.ts
        _set_register(state, "title", p[0], key)
        _set_register(state, "body", p[1], key)
        _set_register(state, "state", "open", key)
        for label in p[2]:
            _set_element(state["labels"], label, True, key)
    elif kind == 2:
        if p[0] is not None:
            _set_register(state, "title", p[0], key)
        if p[1] is not None:
            _set_register(state, "body", p[1], key)
    elif kind == 3:
        _comment(state, key, p[0])
    elif kind in (4, 5):
        _set_element(state["labels"], p[0], kind == 4, key)
    elif kind == 6:
        _set_register(state, "state", p[0], key)
    elif kind == 7:
        _insert_sorted(
            state["links"], key, {"event_id": key[2], "actor": key[1], "ts": ev.ts, "url": p[0], "note": p[1]}
        )
    elif kind in (8, 9):
        _set_element(state["assignees"], p[0], kind == 8, key)
    elif kind == 10:
        item = {"event_id": key[2], "actor": key[1], "ts": ev.ts, "name": p[0], "sha256": p[1].hex(), "mime": p[2]}
        _insert_sorted(state["attachments"], key, item)
    elif kind in (11, 12):
        _set_element(state["deps"], f"{p[0].hex()}|{p[1]}", kind == 11, key)


def visible(state: dict[str, Any]) -> bool:
    """True once the issue's IssueCreated has been applied."""
    return state["created_key"] is not None


def removed(state: dict[str, Any]) -> bool:
    """True when the issue carries the removal label (core/amend.py)."""
    present = state["labels"].get(REMOVED_LABEL)
    return bool(present and present[0])


def _members(table: dict[str, Any]) -> list[str]:
    if not table:  # most issues have no assignees, deps, ...
        return []
    return sorted([k for k, (present, _key) in table.items() if present])


def dependencies(state: dict[str, Any]) -> list[dict[str, str]]:
    """Return the present dependencies as `[{target, dep_type}]`, sorted."""
    out = []
    for element in _members(state["deps"]):
        target, dep_type = element.split("|", 1)
        out.append({"target": target, "dep_type": dep_type})
    return out


def _comments(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The comments as shown: edits applied, edits that apply to nothing listed as comments."""
    return apply_edits([item for _key, item in state["comments"]], state.get("comment_edits", {}))


def summary(state: dict[str, Any]) -> dict[str, Any]:
    """Return the list/export summary of an issue."""
    return {
        "issue_id": state["issue_id"],
        "title": state["title"][0],
        "state": state["state"][0],
        "labels": _members(state["labels"]),
        "assignees": _members(state["assignees"]),
        "created_ts": state["created_ts"],
        "updated_ts": state["updated_ts"],
        "comment_count": len(_comments(state)) if state.get("comment_edits") else len(state["comments"]),
    }


def full(state: dict[str, Any]) -> dict[str, Any]:
    """Return the complete projection printed by `issue show`."""
    out = summary(state)
    out.update(
        {
            "body": state["body"][0],
            "comments": _comments(state),
            "links": [item for _key, item in state["links"]],
            "attachments": [item for _key, item in state["attachments"]],
            "dependencies": dependencies(state),
            "event_count": state["event_count"],
        }
    )
    return out
