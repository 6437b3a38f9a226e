"""The WAL in `refs/grite/wal`, byte-compatible with grite 0.5.3 (see specs/grite/wal-format.md).

pygit2 is imported lazily by callers through `open_repo`; nothing here runs at import time.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from toolkit_grite.core.chunk import decode_chunk, decode_items, encode_chunk
from toolkit_grite.core.model import Event, content_id, id_encoder
from toolkit_grite.core.repo import RepoPaths
from toolkit_grite.errors import DbError, GriteIoError

__all__ = [
    "WAL_REF",
    "Problem",
    "Screen",
    "append_commit",
    "open_repo",
    "read_commit",
    "read_commit_screened",
    "ref_target",
    "set_ref",
    "walk",
]

WAL_REF = "refs/grite/wal"
AUTHOR = ("grite", "grit@local")


def open_repo(paths: RepoPaths) -> Any:
    """Open the repository with pygit2.

    Raises:
        GriteIoError: libgit2 cannot open it.
    """
    import pygit2

    try:
        return pygit2.Repository(str(paths.git_dir))
    except pygit2.GitError as exc:
        raise GriteIoError(f"cannot open repository {paths.git_dir}: {exc}") from None


def signature(ts_ms: int | None = None) -> Any:
    """Return grite's fixed author/committer signature."""
    import pygit2

    return pygit2.Signature(AUTHOR[0], AUTHOR[1], int((ts_ms or time.time() * 1000) // 1000), 0)


def ref_target(repo: Any, name: str) -> str | None:
    """Return the hex oid a direct reference points at, or None when it is absent."""
    ref = repo.references.get(name)
    if ref is None:
        return None
    return str(ref.resolve().target)


def set_ref(repo: Any, name: str, oid: str | None, *, expected: str | None, message: str = "grite") -> None:
    """Point `name` at `oid` (None deletes it) if it still points at `expected`.

    Callers hold the write lock, so this check-then-set is atomic among grite writers.

    Raises:
        GriteIoError: the reference moved underneath us or git refused the update.
    """
    import pygit2

    current = ref_target(repo, name)
    if current != expected:
        raise GriteIoError(f"{name} moved from {expected} to {current} during the update", hint="retry the command")
    try:
        if oid is None:
            if current is not None:
                repo.references.delete(name)
        else:
            repo.create_reference_direct(name, pygit2.Oid(hex=oid), True, message=message)
    except (pygit2.GitError, OSError) as exc:
        raise GriteIoError(
            f"cannot update {name}: {exc}",
            hint="a crashed writer may have left a stale .lock file: run `grite doctor --fix`",
        ) from None


def _tree_path_insert(repo: Any, parts: Sequence[str], blob_oid: Any) -> Any:
    """Build nested trees for `parts` (dirs..., file) holding one blob; return the top tree oid."""
    import pygit2

    tb = repo.TreeBuilder()
    if len(parts) == 1:
        tb.insert(parts[0], blob_oid, pygit2.enums.FileMode.BLOB)
    else:
        tb.insert(parts[0], _tree_path_insert(repo, parts[1:], blob_oid), pygit2.enums.FileMode.TREE)
    return tb.write()


class _Append:
    """The content of one WAL append on top of `prev`: chunk, meta.json, path, message, time."""

    def __init__(self, events: Sequence[Event], actor: bytes, prev: str | None) -> None:
        self.chunk, chunk_hash = encode_chunk(events)
        meta = {"schema_version": 1, "actor_id": actor.hex(), "chunk_hash": chunk_hash.hex(), "prev_wal": prev}
        self.meta = json.dumps(meta, indent=2).encode()
        self.day = time.strftime("%Y/%m/%d", time.gmtime(events[0].ts / 1000)).split("/")
        self.name = f"{chunk_hash.hex()}.bin"
        self.message = f"WAL: {len(events)} events from {actor.hex()[:8]}"
        self.secs = int(events[-1].ts // 1000)
        self.parents = [prev] if prev else []


def build_commit(repo: Any, events: Sequence[Event], actor: bytes, prev: str | None) -> str:
    """Write the blobs, trees and commit of one WAL append on top of `prev` with libgit2; return its oid.

    The reference is not moved; see `append_commit` and `set_ref`.
    """
    import pygit2

    a = _Append(events, actor, prev)
    events_tree = _tree_path_insert(repo, [*a.day, a.name], repo.create_blob(a.chunk))
    tb = repo.TreeBuilder()
    tb.insert("events", events_tree, pygit2.enums.FileMode.TREE)
    tb.insert("meta.json", repo.create_blob(a.meta), pygit2.enums.FileMode.BLOB)
    sig = pygit2.Signature(AUTHOR[0], AUTHOR[1], a.secs, 0)
    parents = [pygit2.Oid(hex=p) for p in a.parents]
    return str(repo.create_commit(None, sig, sig, a.message, tb.write(), parents))


def append_commit(repo: Any, events: Sequence[Event], actor: bytes, expected: str | None, ref: str = WAL_REF) -> str:
    """Append one commit holding `events` to `ref` if its head is still `expected`; return the new head."""
    oid = build_commit(repo, events, actor, expected)
    set_ref(repo, ref, oid, expected=expected, message=f"grite: append {len(events)} events")
    return oid


def append_files(common_dir: str, events: Sequence[Event], actor: bytes, expected: str | None) -> str:
    """`append_commit` to the WAL ref written straight into git's files (`gitfs`; the same bytes and oid).

    Callers check `gitfs.usable(common_dir)` first and hold the write lock.
    """
    from toolkit_grite.core import gitfs

    a = _Append(events, actor, expected)
    sub = gitfs.tree(common_dir, [(gitfs.BLOB, a.name, gitfs.write_object(common_dir, "blob", a.chunk))])
    for part in reversed(a.day):
        sub = gitfs.tree(common_dir, [(gitfs.TREE, part, sub)])
    meta = gitfs.write_object(common_dir, "blob", a.meta)
    root = gitfs.tree(common_dir, [(gitfs.TREE, "events", sub), (gitfs.BLOB, "meta.json", meta)])
    oid = gitfs.commit(common_dir, root, a.parents, f"{AUTHOR[0]} <{AUTHOR[1]}>", a.secs, a.message)
    gitfs.update_ref(common_dir, WAL_REF, oid, expected=expected)
    return oid


def _iter_bins(tree: Any, prefix: str = "events") -> Iterator[tuple[str, bytes]]:
    """Yield `(path, data)` of every `.bin` blob below `tree`, in path order."""
    import pygit2

    for entry in sorted(tree, key=lambda e: e.name):
        if entry.type == pygit2.enums.ObjectType.TREE:
            yield from _iter_bins(entry, f"{prefix}/{entry.name}")
        elif entry.name.endswith(".bin"):
            yield f"{prefix}/{entry.name}", entry.data


#: One thing a walk refused to ingest: `{"commit", "event_id" (hex or None), "reason"}`.
Problem = dict[str, Any]

HEX40 = re.compile(r"[0-9a-f]{40}")


class Screen:
    """What every WAL reader applies to commits from anywhere (a remote may be hostile or broken).

    Each event's id is recomputed from its content: an event whose id does not match is refused
    (a forged event can never replace the real one with the same id). Under the signing policy
    `require`, an event of an actor whose public key is known here must carry a valid signature;
    under `warn` a missing or bad signature is reported and the event kept. A malformed commit or
    chunk is skipped (`problems` says what and why) and the walk goes on, so one bad commit never
    blocks a replica and never costs a good event.
    """

    def __init__(self, keys: dict[bytes, bytes] | None = None, policy: str = "off") -> None:
        self.keys = keys or {}
        self.policy = policy
        self.problems: list[Problem] = []
        self._dumps = id_encoder()  # a Screen serves one walk, in one thread

    def reject(self, oid: str, reason: str, event_id: bytes | None = None) -> None:
        """Record that (part of) commit `oid` was not ingested, and why."""
        self.problems.append({"commit": oid, "event_id": event_id.hex() if event_id else None, "reason": reason})

    def events(self, oid: str, events: Sequence[Event]) -> list[Event]:
        """The events of commit `oid` that pass; the others are recorded in `problems`."""
        good: list[Event] = []
        dumps = self._dumps
        for ev in events:
            if content_id(ev, dumps) != ev.event_id:
                self.reject(oid, "event id does not match the event's content", ev.event_id)
                continue
            if self.policy != "off" and not self._signature_ok(oid, ev):
                continue
            good.append(ev)
        return good

    def _signature_ok(self, oid: str, ev: Event) -> bool:
        from toolkit_grite.core.model import verify

        key = self.keys.get(ev.actor)
        if key is None:
            return True  # nobody here can check it: kept (db verify counts it as unknown)
        if ev.sig is not None and verify(key, ev.event_id, ev.sig):
            return True
        what = "missing" if ev.sig is None else "invalid"
        if self.policy == "require":
            self.reject(oid, f"signature {what} (verify_signatures = require)", ev.event_id)
            return False
        self.reject(oid, f"warning: signature {what} (kept: verify_signatures = warn)", ev.event_id)
        return True


def read_commit(repo: Any, oid: str) -> tuple[str | None, list[Event]]:
    """Read one WAL commit strictly: return `(prev_wal, events)`.

    Raises:
        DbError: the commit is not a grite WAL commit or a chunk is corrupt.
    """
    try:
        tree = repo[oid].tree
        meta = json.loads(tree["meta.json"].data)
    except (KeyError, ValueError, AttributeError) as exc:
        raise DbError(f"WAL commit {oid} has no readable meta.json: {exc}") from None
    prev = meta.get("prev_wal") if isinstance(meta, dict) else None
    if prev is not None and not isinstance(prev, str):
        raise DbError(f"WAL commit {oid} has a malformed prev_wal")
    events: list[Event] = []
    if "events" in tree:
        for _path, data in _iter_bins(tree["events"]):
            events.extend(decode_chunk(data))
    return prev, events


def _git_parent(commit: Any) -> str | None:
    parents = getattr(commit, "parent_ids", None) or []
    return str(parents[0]) if parents else None


def read_commit_screened(repo: Any, oid: str, screen: Screen) -> tuple[str | None, list[Event]]:
    """Read one WAL commit, skipping what is malformed (recorded in `screen.problems`).

    A commit without a readable `meta.json` or with a `prev_wal` that is not a commit of this
    repository continues at its git parent (0.5.3 always writes `prev_wal` = the parent).
    """
    try:
        commit = repo[oid]
        tree = commit.tree
    except (KeyError, ValueError, AttributeError):
        screen.reject(oid, "WAL commit is missing or not a commit")
        return None, []
    prev = parent = _git_parent(commit)
    try:
        meta = json.loads(tree["meta.json"].data)
        if not isinstance(meta, dict):
            raise ValueError("meta.json is not an object")
    except (KeyError, ValueError, AttributeError) as exc:
        # The chunks are still worth reading: every event proves itself by its id.
        screen.reject(oid, f"no readable meta.json ({exc}); following the git parent")
    else:
        prev = meta.get("prev_wal")
        if not _usable_prev(repo, prev):
            screen.reject(oid, f"bad prev_wal {str(prev)[:64]!r}; following the git parent")
            prev = parent
    events: list[Event] = []
    if "events" in tree:
        for path, data in _iter_bins(tree["events"]):
            events.extend(screen.events(oid, _decode_tolerant(oid, path, data, screen)))
    return prev, events


def _usable_prev(repo: Any, prev: Any) -> bool:
    """True for a null `prev_wal` (the root) or the id of a commit of this repository."""
    if prev is None:
        return True
    if not (isinstance(prev, str) and HEX40.fullmatch(prev)):
        return False
    try:
        return hasattr(repo[prev], "parent_ids")
    except (KeyError, ValueError):
        return False


def _decode_tolerant(oid: str, path: str, data: bytes, screen: Screen) -> list[Event]:
    """Decode a chunk event by event: a malformed event costs only itself, a malformed chunk only itself."""
    try:
        items = decode_items(data)
    except DbError as exc:
        screen.reject(oid, f"undecodable chunk {path}: {exc.message}")
        return []
    events: list[Event] = []
    for item in items:
        try:
            events.append(Event.from_wire(item))
        except DbError as exc:
            eid = item[0] if isinstance(item, list) and item and isinstance(item[0], bytes) else None
            screen.reject(oid, f"malformed event in {path}: {exc.message}", eid)
    return events


#: Commits read one by one before `walk` switches to the bulk reader (`walbulk`), whose three git
#: processes cost a few milliseconds: worth it only for long chains (rebuild, first sync).
BULK_AFTER = 128


class LazyRepo:
    """A repository handle that opens libgit2 only when a commit is read one by one.

    The bulk reader (`walbulk`) needs nothing but the git directory, so a rebuild whose whole
    WAL it reads never pays pygit2's import (~45 ms, a tenth of a 10k-commit rebuild).

    Args:
        path: The git directory.
        opener: Returns the pygit2 repository (called at most once).
    """

    def __init__(self, path: str, opener: Callable[[], Any]) -> None:
        self.path = path
        self._opener = opener
        self._repo: Any = None

    def __getitem__(self, oid: str) -> Any:
        if self._repo is None:
            self._repo = self._opener()
        return self._repo[oid]


def walk(
    repo: Any,
    head: str | None,
    stop: Callable[[str], bool] | None = None,
    screen: Screen | None = None,
    *,
    bulk_first: bool = False,
    sink: Callable[[str, list[Event]], object] | None = None,
) -> list[tuple[str, list[Event]]]:
    """Follow `prev_wal` from `head`; return `[(oid, events)]` oldest first, stopping before `stop(oid)`.

    Every event passes `screen` (a fresh id-checking `Screen` when None); malformed commits,
    chunks and events are skipped and recorded in `screen.problems`. `bulk_first` starts with
    the bulk reader (for callers that know the chain is long, like a rebuild) instead of after
    `BULK_AFTER` commits read one by one. `sink` is called with each commit's `(oid, events)` as
    soon as it is read and screened (newest first), e.g. to build the view while git reads on.
    """
    screen = screen if screen is not None else Screen()
    from toolkit_grite.core import walbulk

    out: list[tuple[str, list[Event]]] = []
    seen: set[str] = set()

    def cut(oid: str) -> bool:
        return oid in seen or bool(stop and stop(oid))

    def take(seg_oid: str, seg_events: list[Event]) -> None:
        seen.add(seg_oid)
        good = screen.events(seg_oid, seg_events)
        out.append((seg_oid, good))
        if sink is not None:
            sink(seg_oid, good)

    oid = head
    budget = 0 if bulk_first else BULK_AFTER
    misses = 0
    while oid is not None and not (stop and stop(oid)):
        if oid in seen:
            screen.reject(oid, "WAL chain loops back here; stopped")
            break
        if budget <= 0:
            segment, after = walbulk.read_segment(repo, oid, cut, take)
            # a short segment means the chain left git's first parents (or hit something odd):
            # go on one by one for a while (longer after each miss) before trying again
            if len(segment) < BULK_AFTER:
                misses += 1
                budget = BULK_AFTER << misses
            if segment:
                oid = after
                continue
        budget -= 1
        seen.add(oid)
        prev, events = read_commit_screened(repo, oid, screen)
        out.append((oid, events))
        if sink is not None:
            sink(oid, events)
        oid = prev
    out.reverse()
    return out


def chain_oids(repo: Any, head: str | None) -> Iterator[str]:
    """Yield commit oids along `prev_wal` from `head` (newest first) without decoding chunks.

    It follows the same path as `walk` through malformed commits (git parent when `meta.json`
    is unreadable or `prev_wal` is not a commit here), and stops at a loop or a missing commit.
    """
    oid = head
    seen: set[str] = set()
    while oid is not None and oid not in seen:
        seen.add(oid)
        try:
            commit = repo[oid]
            tree = commit.tree
        except (KeyError, ValueError, AttributeError):
            return
        yield oid
        prev: Any = _git_parent(commit)
        parent = prev
        try:
            meta = json.loads(repo[tree["meta.json"].id].data)
            if isinstance(meta, dict):
                prev = meta.get("prev_wal")
        except (KeyError, ValueError):
            pass
        oid = prev if _usable_prev(repo, prev) else parent
