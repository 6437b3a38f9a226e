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

from toolkit_grite.core import projection
from toolkit_grite.core.grite import Grite
from toolkit_grite.core.model import Event, make_event
from toolkit_grite.errors import GriteIoError, GriteNotFound

__all__ = ["export_issues", "import_bugs"]


def _git_bug(binary: str, repo: Path, *args: str) -> Any:
    """Run git-bug and decode the JSON it prints."""
    out = _run(binary, repo, *args)
    try:
        return json.loads(out or "null")
    except ValueError:
        raise GriteIoError(f"git-bug {' '.join(args)} printed no JSON") from None


def _id16(hex_id: str) -> bytes:
    return bytes.fromhex(hex_id[:32])


def _events_for(g: Grite, bug: dict[str, Any], iid: bytes) -> list[Event]:
    """The events that bring grite's issue `iid` to `bug`'s current state."""
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
    exported = {bug_id: issue for issue, bug_id in _load_map(g).items()}
    events: list[Event] = []
    mapping = []
    for item in listed:
        bug = _git_bug(exe, source, "bug", "show", item["id"], "--format", "json")
        # A bug we exported belongs to its grite issue; any other one to the issue named after it.
        iid = bytes.fromhex(exported[bug["id"]]) if bug["id"] in exported else _id16(bug["id"])
        new = _events_for(g, bug, iid)
        events.extend(new)
        mapping.append({"git_bug_id": bug["id"], "issue_id": iid.hex(), "events": len(new)})
    if events:
        g.write(events)
    return {"bugs": len(listed), "events": len(events), "issues": mapping}


MAP_FILE = "bridge-git-bug.json"


def _load_map(g: Grite) -> dict[str, str]:
    """Map each issue exported from here (grite issue id) to its git-bug bug id."""
    try:
        data = json.loads((g.paths.grite_dir / MAP_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return (
        {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(data, dict) else {}
    )


def _save_map(g: Grite, mapping: dict[str, str]) -> None:
    path = g.paths.grite_dir / MAP_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(mapping, indent=2, sort_keys=True))
    tmp.replace(path)


def _run(binary: str, repo: Path, *args: str) -> str:
    """Run git-bug in `repo`; return its standard output.

    Raises:
        GriteNotFound: git-bug cannot be run.
        GriteIoError: it failed (its message in ours).
    """
    try:
        proc = subprocess.run([binary, *args], cwd=repo, capture_output=True, text=True, timeout=120, check=False)
    except OSError as exc:
        raise GriteNotFound(
            f"cannot run git-bug ({binary}): {exc}", hint="install git-bug or pass --git-bug PATH"
        ) from None
    if proc.returncode != 0:
        raise GriteIoError(f"git-bug {' '.join(args[:2])} failed: {proc.stderr.strip()[:500]}")
    return proc.stdout


def export_issues(g: Grite, target: Path, binary: str | None = None) -> dict[str, Any]:
    """Create or update a git-bug bug for every grite issue that did not come from git-bug.

    Issues imported from git-bug (id = a bug id's prefix) are skipped. Each export is recorded in
    `.git/grite/bridge-git-bug.json`; a later export sends only the difference (title, comments
    beyond those sent, labels, status). Bugs are written by git-bug's current identity (one is
    created, named after the acting grite actor, when the repository has none).
    """
    exe = binary or shutil.which("git-bug") or "git-bug"
    view = g.ready()
    known = {b["id"] for b in (_git_bug(exe, target, "bug", "--format", "json") or [])}
    mapping = _load_map(g)
    if _run(exe, target, "user", "--format", "json").strip() in ("", "[]", "null"):
        name = f"grite-{g.actor.actor_id.hex()[:8]}"
        _run(exe, target, "user", "new", "--name", name, "--email", f"{name}@grite.local", "--non-interactive")
    created = updated = 0
    for state in view.states():
        if not projection.visible(state):
            continue
        issue = projection.full(state)
        iid = issue["issue_id"]
        if any(b.startswith(iid) for b in known) and iid not in mapping:
            continue  # imported from git-bug: it is the source of truth there
        bug_id = mapping.get(iid)
        if bug_id is None:
            before = known.copy()
            _run(exe, target, "bug", "new", "--title", issue["title"], "--message", issue["body"], "--non-interactive")
            known = {b["id"] for b in (_git_bug(exe, target, "bug", "--format", "json") or [])}
            (bug_id,) = known - before
            mapping[iid] = bug_id
            _save_map(g, mapping)
            _sync_bug(exe, target, bug_id, issue)  # comments, labels, status of the new bug
            created += 1
        elif _sync_bug(exe, target, bug_id, issue):
            updated += 1
    return {"created": created, "updated": updated, "issues": len(mapping)}


def _sync_bug(exe: str, target: Path, bug_id: str, issue: dict[str, Any]) -> bool:
    """Bring bug `bug_id` to `issue`'s title, comments, labels and status; True when anything changed."""
    bug = _git_bug(exe, target, "bug", "show", bug_id, "--format", "json")
    changed = False
    if bug["title"] != issue["title"]:
        _run(exe, target, "bug", "title", "edit", bug_id, "--title", issue["title"], "--non-interactive")
        changed = True
    sent = len(bug.get("comments") or []) - 1
    for comment in issue["comments"][max(sent, 0) :]:
        _run(exe, target, "bug", "comment", "new", bug_id, "--message", comment["body"], "--non-interactive")
        changed = True
    have, want = set(bug.get("labels") or []), set(issue["labels"])
    if want - have:
        _run(exe, target, "bug", "label", "new", bug_id, *sorted(want - have))
        changed = True
    if have - want:
        _run(exe, target, "bug", "label", "rm", bug_id, *sorted(have - want))
        changed = True
    if bug["status"] != issue["state"]:
        _run(exe, target, "bug", "status", "close" if issue["state"] == "closed" else "open", bug_id)
        changed = True
    return changed
