"""Import a git-bug repository's bugs into grite (the `bridge git-bug import` command).

git-bug (v0.10) is read through its own CLI's JSON (`git-bug bug --format json` and `git-bug bug
show ID --format json`), so its storage details stay its business. Each bug maps to one grite
issue whose id is the first 16 bytes of the bug id, and each git-bug identity to a grite actor
whose id is the first 16 bytes of the identity id; the first comment is the body. Importing is
idempotent and incremental: the events written are the difference between the bug and the
issue (title, new comments, labels, status), so a second import of an unchanged repository
writes nothing and a changed bug adds only what changed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from toolkit_grite import projection
from toolkit_grite.core import Grite
from toolkit_grite.errors import GriteIoError, GriteNotFound
from toolkit_grite.model import Event, make_event

__all__ = ["import_bugs"]


def _git_bug(binary: str, repo: Path, *args: str) -> Any:
    try:
        proc = subprocess.run([binary, *args], cwd=repo, capture_output=True, text=True, timeout=120, check=False)
    except OSError as exc:
        raise GriteNotFound(
            f"cannot run git-bug ({binary}): {exc}", hint="install git-bug or pass --git-bug PATH"
        ) from None
    if proc.returncode != 0:
        raise GriteIoError(f"git-bug {' '.join(args)} failed: {proc.stderr.strip()[:500]}")
    try:
        return json.loads(proc.stdout or "null")
    except ValueError:
        raise GriteIoError(f"git-bug {' '.join(args)} printed no JSON") from None


def _id16(hex_id: str) -> bytes:
    return bytes.fromhex(hex_id[:32])


def _events_for(g: Grite, bug: dict[str, Any]) -> list[Event]:
    """The events that bring grite's issue for `bug` to the bug's current state."""
    iid = _id16(bug["id"])
    author = _id16(bug["author"]["id"])
    created = int(bug["create_time"]["timestamp"]) * 1000
    edited = max(int(bug["edit_time"]["timestamp"]) * 1000, created)
    comments = bug.get("comments") or []
    body = comments[0]["message"] if comments else ""
    state = g.view.state(iid)
    events: list[Event] = []
    if state is None or state.get("created_key") is None:
        events.append(make_event(iid, author, created, 1, [bug["title"], body, []]))
        have_title, have_labels, have_state, have_comments, after = bug["title"], [], "open", 0, created
    else:
        summary = projection.summary(state)
        have_title, have_labels, have_state = summary["title"], summary["labels"], summary["state"]
        have_comments, after = summary["comment_count"], max(edited, state["updated_ts"] + 1) - 1
    ts = after
    if bug["title"] != have_title:
        ts += 1
        events.append(make_event(iid, author, ts, 2, [bug["title"], None]))
    for offset, comment in enumerate(comments[1 + have_comments :], start=1):
        events.append(make_event(iid, _id16(comment["author"]["id"]), ts + offset, 3, [comment["message"]]))
    ts += len(comments[1 + have_comments :])
    wanted = set(bug.get("labels") or [])
    for label in sorted(wanted - set(have_labels)):
        ts += 1
        events.append(make_event(iid, author, ts, 4, [label]))
    for label in sorted(set(have_labels) - wanted):
        ts += 1
        events.append(make_event(iid, author, ts, 5, [label]))
    if bug["status"] in ("open", "closed") and bug["status"] != have_state:
        events.append(make_event(iid, author, max(ts + 1, edited), 6, [bug["status"]]))
    return events


def import_bugs(g: Grite, source: Path, binary: str | None = None) -> dict[str, Any]:
    """Import every bug of the git-bug repository at `source`; return counts and the id mapping."""
    exe = binary or shutil.which("git-bug") or "git-bug"
    listed = _git_bug(exe, source, "bug", "--format", "json") or []
    g.ready()
    events: list[Event] = []
    mapping = []
    for item in listed:
        bug = _git_bug(exe, source, "bug", "show", item["id"], "--format", "json")
        new = _events_for(g, bug)
        events.extend(new)
        mapping.append({"git_bug_id": bug["id"], "issue_id": _id16(bug["id"]).hex(), "events": len(new)})
    if events:
        g.write(events)
    return {"bugs": len(listed), "events": len(events), "issues": mapping}
