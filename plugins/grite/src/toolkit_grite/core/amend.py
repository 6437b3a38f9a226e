"""Comment edits and issue removal (git-bug's `comment edit` and `rm`) in events grite 0.5.3 reads.

grite 0.5.3 refuses a WAL commit holding an event kind it does not know, so a new kind would cut
a mixed team off. Both features are therefore written with kinds 0.5.3 has (specs/grite/events.md,
"Comment edits and removed issues"):

- A comment edit is a CommentAdded whose body is `grite-edit-comment: <64-hex event id>`, a blank
  line, then the new text. We show it as the new text of that comment, and only when its actor is
  the comment's author, so nobody can rewrite someone else's words. 0.5.3 shows it as one more
  comment that says which comment it replaces.
- Removing an issue adds the label `grite:removed` and closes it (one commit). We hide such an
  issue from lists and treat its id as not found; 0.5.3 shows a closed issue with that label.
  Removing the label (either implementation) brings the issue back.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["EDIT_PREFIX", "REMOVED_LABEL", "apply_edits", "edit_body", "parse_edit"]

EDIT_PREFIX = "grite-edit-comment: "
REMOVED_LABEL = "grite:removed"
_EDIT = re.compile(r"grite-edit-comment: ([0-9a-f]{64})\n\n", re.ASCII)


def edit_body(target_event_hex: str, text: str) -> str:
    """The CommentAdded body that replaces comment `target_event_hex` by `text`."""
    return f"{EDIT_PREFIX}{target_event_hex}\n\n{text}"


def parse_edit(body: str) -> tuple[str, str] | None:
    """`(target event id, new text)` when `body` is an edit, else None (an ordinary comment)."""
    match = _EDIT.match(body)
    return (match.group(1), body[match.end() :]) if match else None


def apply_edits(comments: list[dict[str, Any]], edits: dict[str, list[list[Any]]]) -> list[dict[str, Any]]:
    """The comments with their latest edit by their own author applied (`edited` marks them).

    An edit that names no comment of this issue, or a comment of someone else, changes nothing and
    is listed as the ordinary comment 0.5.3 shows, so nothing anyone wrote disappears.

    Args:
        comments: The comments in order, as `projection.full` lists them.
        edits: target event id -> `[[order key, actor, text], ...]` as the projection collects them.
    """
    authors = {comment["event_id"]: comment["actor"] for comment in comments}
    shown: list[tuple[list[Any], dict[str, Any]]] = []
    for comment in comments:
        own = [edit for edit in edits.get(comment["event_id"], ()) if edit[1] == comment["actor"]]
        latest = max(own, key=lambda edit: edit[0]) if own else None
        key = [comment["ts"], comment["actor"], comment["event_id"]]
        shown.append((key, comment if latest is None else dict(comment, body=latest[2], edited=True)))
    for target, per_target in edits.items():
        for key, actor, text in per_target:
            if authors.get(target) != actor:
                body = edit_body(target, text)
                shown.append((key, {"event_id": key[2], "actor": actor, "ts": key[0], "body": body}))
    shown.sort(key=lambda item: item[0])
    return [comment for _key, comment in shown]
