"""Issue operations: each takes a `Grite` and plain arguments and returns the JSON `data`.

The CLI and the daemon both end up here, so their results are identical.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from toolkit_grite.core import amend, projection, query
from toolkit_grite.core.grite import Grite
from toolkit_grite.core.model import DEP_TYPES, Event, new_id
from toolkit_grite.errors import GriteNotFound, InvalidArgs

__all__ = [
    "add_attachment",
    "add_link",
    "comment",
    "create_issue",
    "dep_change",
    "dep_list",
    "dep_topo",
    "edit_comment",
    "list_issues",
    "remove_issue",
    "restore_issue",
    "set_members",
    "set_state",
    "show_issue",
    "update_issue",
]

SORTS = ("created", "updated", "title", "id")
STATES = ("open", "closed", "all")
SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def _nonempty(value: str, what: str) -> str:
    if not value.strip():
        raise InvalidArgs(f"{what} must not be empty")
    return value


@contextmanager
def _guard(g: Grite, issue_hex: str, lock: bool, *, creating: bool = False) -> Iterator[None]:
    """Apply the lock policy, or hold `issue:<id>` for the duration with `--lock`.

    `creating`: `--lock` only refuses (conflict) when another owner holds a repo: lock.
    """
    from toolkit_grite.core import leases  # writes only: list and show never pay for it

    resource = f"issue:{issue_hex}"
    if lock and creating:
        leases.check_policy(g, resource, strict=True)
        yield
        return
    if lock:
        leases.acquire(g, resource, leases.DEFAULT_TTL)
        try:
            yield
        finally:
            leases.release(g, resource)
        return
    leases.check_policy(g, resource)
    yield


def _issue(g: Grite, ident: str, *, removed: bool = False) -> tuple[bytes, dict[str, Any]]:
    """The issue `ident` names; a removed one is not found (as after git-bug's `rm`) unless `removed`."""
    view = g.ready()
    iid = view.resolve_issue(ident)
    state = view.state(iid)
    if state is None:
        raise GriteNotFound(f"issue {ident} not found")
    if projection.removed(state) and not removed:
        raise GriteNotFound(f"issue {ident} was removed", hint=f"`grite issue restore {ident}` brings it back")
    return iid, state


def create_issue(
    g: Grite, title: str, body: str = "", labels: Sequence[str] = (), *, lock: bool = False
) -> dict[str, Any]:
    """Create an issue; return `{issue_id, event_id}`."""
    _nonempty(title, "--title")
    for label in labels:
        _nonempty(label, "--label")
    iid = new_id()
    # A new issue conflicts only with repo: locks (issue:<new id> matches no other lock).
    with _guard(g, iid.hex(), lock, creating=True):
        ev = g.new_event(iid, 1, [title, body, list(labels)])
        head = g.write([ev])
    return {"issue_id": iid.hex(), "event_id": ev.event_id.hex(), "wal_head": head}


def _single(g: Grite, ident: str, kind: int, payload_of: Callable[[bytes], list[Any]], lock: bool) -> dict[str, Any]:
    iid, state = _issue(g, ident)
    with _guard(g, iid.hex(), lock):
        ev = g.new_event(iid, kind, payload_of(iid), after=state["updated_ts"])
        head = g.write([ev])
    return {"issue_id": iid.hex(), "event_id": ev.event_id.hex(), "wal_head": head}


def update_issue(g: Grite, ident: str, title: str | None, body: str | None, *, lock: bool = False) -> dict[str, Any]:
    """Change title and/or body."""
    if title is None and body is None:
        raise InvalidArgs("issue update needs --title or --body")
    if title is not None:
        _nonempty(title, "--title")
    return _single(g, ident, 2, lambda _iid: [title, body], lock)


def comment(g: Grite, ident: str, body: str, *, lock: bool = False) -> dict[str, Any]:
    """Add a comment."""
    _nonempty(body, "--body")
    return _single(g, ident, 3, lambda _iid: [body], lock)


def edit_comment(g: Grite, ident: str, comment_ref: str, body: str, *, lock: bool = False) -> dict[str, Any]:
    """Replace the text of one of the acting actor's comments (`comment_ref`: its event id or a prefix).

    Written as a CommentAdded grite 0.5.3 reads (core/amend.py); the result names the edited comment.
    """
    _nonempty(body, "--body")
    iid, state = _issue(g, ident)
    ref = comment_ref.lower()
    matches = [c for _key, c in state["comments"] if c["event_id"].startswith(ref)] if len(ref) >= 4 else []
    if len(matches) != 1:
        problem = "matches no comment" if not matches else "matches several comments"
        raise InvalidArgs(f"comment {comment_ref} {problem} of issue {iid.hex()[:8]}",
                          hint="give 4 or more hex digits of the comment's event_id (`issue show --json`)")  # fmt: skip
    target = matches[0]
    if target["actor"] != g.actor.actor_id.hex():
        raise InvalidArgs(
            "only a comment's author can edit it",
            hint=f"comment {target['event_id'][:8]} was written by actor {target['actor'][:8]}",
        )
    data = _single(g, ident, 3, lambda _iid: [amend.edit_body(target["event_id"], body)], lock)
    return dict(data, comment_id=target["event_id"])


def remove_issue(g: Grite, ident: str, *, restore: bool = False, lock: bool = False) -> dict[str, Any]:
    """Remove an issue (git-bug's `rm`), or bring a removed one back, in events 0.5.3 reads (core/amend.py).

    Removal adds the label `grite:removed` and closes the issue in one commit; restoring removes the
    label (the issue stays closed until reopened).
    """
    iid, state = _issue(g, ident, removed=True)
    if projection.removed(state) != restore:
        raise InvalidArgs(f"issue {iid.hex()[:8]} is {'not removed' if restore else 'already removed'}")
    with _guard(g, iid.hex(), lock):
        events = [g.new_event(iid, 5 if restore else 4, [amend.REMOVED_LABEL], after=state["updated_ts"])]
        if not restore:
            events.append(g.new_event(iid, 6, ["closed"], after=events[0].ts))
        head = g.write(events)
    ids = [e.event_id.hex() for e in events]
    return {"issue_id": iid.hex(), "event_ids": ids, "wal_head": head, "removed": not restore}


def restore_issue(g: Grite, ident: str, *, lock: bool = False) -> dict[str, Any]:
    """Bring back a removed issue."""
    return remove_issue(g, ident, restore=True, lock=lock)


def set_state(g: Grite, ident: str, state: str, *, lock: bool = False) -> dict[str, Any]:
    """Close or reopen; the result also names the new `state` (as 0.5.3 does)."""
    return dict(_single(g, ident, 6, lambda _iid: [state], lock), state=state)


def add_link(g: Grite, ident: str, url: str, note: str | None, *, lock: bool = False) -> dict[str, Any]:
    """Attach a URL."""
    _nonempty(url, "--url")
    return _single(g, ident, 7, lambda _iid: [url, note], lock)


def add_attachment(g: Grite, ident: str, name: str, sha256: str, mime: str, *, lock: bool = False) -> dict[str, Any]:
    """Record attachment metadata."""
    _nonempty(name, "--name")
    _nonempty(mime, "--mime")
    if not SHA256.match(sha256):
        raise InvalidArgs("--sha256 must be 64 hex characters")
    digest = bytes.fromhex(sha256)
    return _single(g, ident, 10, lambda _iid: [name, digest, mime], lock)


def set_members(g: Grite, ident: str, kind: int, values: Sequence[str], *, lock: bool = False) -> dict[str, Any]:
    """Add or remove labels (kinds 4/5) or assignees (kinds 8/9); one event per value, one commit."""
    if not values:
        raise InvalidArgs("give at least one value")
    for value in values:
        _nonempty(value, "value")
    iid, state = _issue(g, ident)
    with _guard(g, iid.hex(), lock):
        events: list[Event] = []
        after = state["updated_ts"]
        for value in dict.fromkeys(values):
            ev = g.new_event(iid, kind, [value], after=after)
            after = ev.ts
            events.append(ev)
        head = g.write(events)
    ids = [e.event_id.hex() for e in events]
    # `event_id` (the last one) keeps 0.5.3's single-value shape; `event_ids` lists them all.
    return {"issue_id": iid.hex(), "event_id": ids[-1], "event_ids": ids, "wal_head": head}


def _dep_graph(g: Grite, dep_type: str) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for state in g.view.states():
        for dep in projection.dependencies(state):
            if dep["dep_type"] == dep_type:
                graph.setdefault(state["issue_id"], set()).add(dep["target"])
    return graph


def _reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    stack, seen = [start], set()
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        if node in seen:
            continue
        seen.add(node)
        stack.extend(graph.get(node, ()))
    return False


def dep_change(g: Grite, ident: str, target: str, dep_type: str, *, add: bool, lock: bool = False) -> dict[str, Any]:
    """Add or remove a dependency; `add` refuses self-loops and cycles within one type."""
    if dep_type not in DEP_TYPES:
        raise InvalidArgs(f"--type must be one of {', '.join(DEP_TYPES)}")
    iid, state = _issue(g, ident)
    tid = g.view.resolve_issue(target)
    if tid == iid:
        raise InvalidArgs("an issue cannot depend on itself")
    if add and _reaches(_dep_graph(g, dep_type), tid.hex(), iid.hex()):
        raise InvalidArgs(
            f"adding {dep_type} {iid.hex()[:8]} -> {tid.hex()[:8]} would create a cycle",
            hint="remove the opposite dependency first",
        )
    with _guard(g, iid.hex(), lock):
        ev = g.new_event(iid, 11 if add else 12, [tid, dep_type], after=state["updated_ts"])
        head = g.write([ev])
    return {
        "wal_head": head,
        "event_id": ev.event_id.hex(),
        "issue_id": iid.hex(),
        "target": tid.hex(),
        "dep_type": dep_type,
        "action": "added" if add else "removed",
    }


def dep_list(g: Grite, ident: str, *, reverse: bool = False) -> dict[str, Any]:
    """List an issue's dependencies, or (reverse) the issues depending on it."""
    iid, state = _issue(g, ident)
    me = iid.hex()
    deps = []
    # Removed issues (core/amend.py) are hidden on either side, as everywhere else.
    if reverse:
        for other in g.view.states():
            if projection.removed(other):
                continue
            for dep in projection.dependencies(other):
                if dep["target"] == me:
                    deps.append((other, dep["dep_type"]))
    else:
        for dep in projection.dependencies(state):
            target_state = g.view.state(bytes.fromhex(dep["target"]))
            if target_state is not None and not projection.removed(target_state):
                deps.append((target_state, dep["dep_type"]))
    rows = [
        {"issue_id": s["issue_id"], "dep_type": t, "title": s["title"][0], "state": s["state"][0]}
        for s, t in sorted(deps, key=lambda item: (item[0]["issue_id"], item[1]))
    ]
    return {"issue_id": me, "direction": "dependents" if reverse else "dependencies", "deps": rows}


def _filtered(
    g: Grite,
    state: str,
    labels: Sequence[str],
    assignee: str | None,
    search: str | None,
    q: query.Query | None = None,
) -> list[tuple[dict[str, Any], str]]:
    """Return `(summary, summary JSON text)` of the issues matching the filters (and query `q`)."""
    if state not in STATES:
        raise InvalidArgs(f"--state must be one of {', '.join(STATES)}")
    q = q or query.Query()
    state = q.state or state
    needles = [search.lower()] if search else []
    needles += q.words
    wanted = set(labels) | set(q.labels)
    assignees = ([assignee] if assignee else []) + q.assignees
    authors = _author_ids(g, q.authors) if q.authors else None
    view = g.ready()
    out = []
    for summary, text, haystack in view.summary_records():
        if state != "all" and summary["state"] != state:
            continue
        if wanted and not wanted <= set(summary["labels"]):
            continue
        if q.no_label and summary["labels"]:
            continue
        if amend.REMOVED_LABEL in summary["labels"] and amend.REMOVED_LABEL not in wanted:
            continue  # removed (core/amend.py): listed only when asked for by its label
        if assignees and not all(a in summary["assignees"] for a in assignees):
            continue
        if any(n not in haystack for n in needles):
            continue
        if authors is not None and _creator(view, summary["issue_id"]) not in authors:
            continue
        out.append((summary, text))
    return out


def _author_ids(g: Grite, names: Sequence[str]) -> set[str]:
    """Actor ids an `author:` value names: a hex prefix of the id, or a local actor's label."""
    from toolkit_grite.core.identities import known
    from toolkit_grite.core.repo import list_actors

    aliases: dict[str, set[str]] = {}
    for a in list_actors(g.paths):
        aliases.setdefault(a["actor_id"], set()).add(str(a.get("label") or "").lower())
    for actor, record in known(g).items():  # published names and emails (they sync)
        aliases.setdefault(actor, set()).update(str(record.get(k) or "").lower() for k in ("name", "email"))
    ids: set[str] = set()
    creators = {_creator(g.view, s["issue_id"]) for s, _t, _h in g.view.summary_records()}
    for name in names:
        ids |= {c for c in creators if c and (c.startswith(name) or name in aliases.get(c, set()))}
    return ids


def _creator(view: Any, issue_hex: str) -> str:
    state = view.state(bytes.fromhex(issue_hex))
    key = state.get("created_key") if state else None
    return str(key[1]) if key else ""


def list_issues(
    g: Grite,
    *,
    state: str = "all",
    labels: Sequence[str] = (),
    assignee: str | None = None,
    search: str | None = None,
    sort: str = "created",
    desc: bool = False,
    limit: int | None = None,
    text: str = "",
) -> ListResult:
    """List issue summaries with filters and sorting; `text` is a git-bug style query (see `query`)."""
    q = query.parse(text) if text.strip() else None
    if q is not None and q.sort:
        sort = q.sort
        desc = desc if q.desc is None else q.desc
    if sort not in SORTS:
        raise InvalidArgs(f"--sort must be one of {', '.join(SORTS)}")
    if limit is not None and limit < 0:
        raise InvalidArgs("--limit must be >= 0")
    rows = _filtered(g, state, labels, assignee, search, q)
    field = {"created": "created_ts", "updated": "updated_ts", "title": "title", "id": "issue_id"}[sort]
    rows.sort(key=lambda row: (row[0][field], row[0]["issue_id"]), reverse=desc)
    total = len(rows)
    if limit is not None:
        rows = rows[:limit]
    return ListResult({"issues": [summary for summary, _text in rows], "total": total}, [text for _s, text in rows])


def label_list(g: Grite) -> dict[str, Any]:
    """Every label in use, with the number of issues (open and all) carrying it."""
    counts: dict[str, list[int]] = {}
    for summary, _text, _hay in g.ready().summary_records():
        if amend.REMOVED_LABEL in summary["labels"]:
            continue  # a removed issue (core/amend.py) counts nowhere
        for label in summary["labels"]:
            row = counts.setdefault(label, [0, 0])
            row[1] += 1
            row[0] += summary["state"] == "open"
    return {"labels": [{"label": k, "open": v[0], "issues": v[1]} for k, v in sorted(counts.items())]}


class ListResult(dict[str, Any]):
    """`{issues, total}` that also carries each summary's canonical JSON text (for fast output)."""

    def __init__(self, data: dict[str, Any], texts: list[str]) -> None:
        super().__init__(data)
        self.texts = texts

    def data_json(self) -> str:
        """`{issues, total}` as JSON, byte-identical to `json.dumps(..., sort_keys=True, separators=(",", ":"))`."""
        return '{"issues":[' + ",".join(self.texts) + '],"total":' + str(self["total"]) + "}"

    def envelope_json(self) -> str:
        """The success envelope around `data_json()` (the same bytes `--json` prints for a dict)."""
        return '{"data":' + self.data_json() + ',"ok":true,"schema_version":1}'


def show_issue(g: Grite, ident: str) -> dict[str, Any]:
    """Return the full projection and the issue's events."""
    iid, state = _issue(g, ident)
    return {"issue": projection.full(state), "events": [e.to_json() for e in g.view.issue_events_of(iid)]}


def dep_topo(g: Grite, *, state: str = "all", labels: Sequence[str] = ()) -> dict[str, Any]:
    """Order issues so that dependency targets come first (Kahn); issues in cycles go last."""
    summaries = {s["issue_id"]: s for s, _text in _filtered(g, state, labels, None, None)}
    edges: dict[str, set[str]] = {iid: set() for iid in summaries}
    indeg = dict.fromkeys(summaries, 0)
    for st in g.view.states():
        src = st["issue_id"]
        if src not in summaries:
            continue
        for dep in projection.dependencies(st):
            target = dep["target"]
            wanted = dep["dep_type"] in ("blocks", "depends_on") and target in summaries and target != src
            if wanted and src not in edges[target]:
                edges[target].add(src)
                indeg[src] += 1
    ready = sorted((iid for iid, d in indeg.items() if d == 0), key=lambda i: (summaries[i]["created_ts"], i))
    order: list[str] = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for nxt in sorted(edges[node]):
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                ready.append(nxt)
        ready.sort(key=lambda i: (summaries[i]["created_ts"], i))
    cycles = sorted((i for i in summaries if i not in order), key=lambda i: (summaries[i]["created_ts"], i))
    return {"issues": [summaries[i] for i in order + cycles], "order": "topological", "cycles": cycles}
