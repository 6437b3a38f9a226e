"""The WAL in `refs/grite/wal`, byte-compatible with grite 0.5.3 (see specs/grite/wal-format.md).

pygit2 is imported lazily by callers through `open_repo`; nothing here runs at import time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from toolkit_grite.chunk import decode_chunk, encode_chunk
from toolkit_grite.errors import DbError, GriteIoError
from toolkit_grite.model import Event
from toolkit_grite.repo import RepoPaths

__all__ = ["WAL_REF", "append_commit", "open_repo", "read_commit", "ref_target", "set_ref", "walk"]

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


def build_commit(repo: Any, events: Sequence[Event], actor: bytes, prev: str | None) -> str:
    """Write the blobs, trees and commit of one WAL append on top of `prev`; return its oid.

    The reference is not moved; see `append_commit` and `set_ref`.
    """
    import pygit2

    chunk, chunk_hash = encode_chunk(events)
    meta = {
        "schema_version": 1,
        "actor_id": actor.hex(),
        "chunk_hash": chunk_hash.hex(),
        "prev_wal": prev,
    }
    day = time.strftime("%Y/%m/%d", time.gmtime(events[0].ts / 1000)).split("/")
    odb_chunk = repo.create_blob(chunk)
    odb_meta = repo.create_blob(json.dumps(meta, indent=2).encode())
    events_tree = _tree_path_insert(repo, [*day, f"{chunk_hash.hex()}.bin"], odb_chunk)
    tb = repo.TreeBuilder()
    tb.insert("events", events_tree, pygit2.enums.FileMode.TREE)
    tb.insert("meta.json", odb_meta, pygit2.enums.FileMode.BLOB)
    tree = tb.write()
    sig = signature(events[-1].ts)
    parents = [pygit2.Oid(hex=prev)] if prev else []
    message = f"WAL: {len(events)} events from {actor.hex()[:8]}"
    return str(repo.create_commit(None, sig, sig, message, tree, parents))


def append_commit(repo: Any, events: Sequence[Event], actor: bytes, expected: str | None, ref: str = WAL_REF) -> str:
    """Append one commit holding `events` to `ref` if its head is still `expected`; return the new head."""
    oid = build_commit(repo, events, actor, expected)
    set_ref(repo, ref, oid, expected=expected, message=f"grite: append {len(events)} events")
    return oid


def _iter_bins(tree: Any) -> Iterator[bytes]:
    """Yield the data of every `.bin` blob below `tree`, in path order."""
    import pygit2

    for entry in sorted(tree, key=lambda e: e.name):
        if entry.type == pygit2.enums.ObjectType.TREE:
            yield from _iter_bins(entry)
        elif entry.name.endswith(".bin"):
            yield entry.data


def read_commit(repo: Any, oid: str) -> tuple[str | None, list[Event]]:
    """Read one WAL commit: return `(prev_wal, events)`.

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
        for data in _iter_bins(tree["events"]):
            events.extend(decode_chunk(data))
    return prev, events


#: Commits read one by one before `walk` switches to the bulk reader (`walbulk`), whose three git
#: processes cost a few milliseconds: worth it only for long chains (rebuild, first sync).
BULK_AFTER = 128


def walk(repo: Any, head: str | None, stop: Callable[[str], bool] | None = None) -> list[tuple[str, list[Event]]]:
    """Follow `prev_wal` from `head`; return `[(oid, events)]` oldest first, stopping before `stop(oid)`."""
    from toolkit_grite import walbulk

    out: list[tuple[str, list[Event]]] = []
    seen: set[str] = set()

    def cut(oid: str) -> bool:
        return oid in seen or bool(stop and stop(oid))

    oid = head
    budget = BULK_AFTER
    misses = 0
    while oid is not None and not (stop and stop(oid)):
        if oid in seen:
            raise DbError(f"WAL chain loops at {oid}")
        if budget <= 0:
            segment, after = walbulk.read_segment(repo, oid, cut)
            for seg_oid, _events in segment:
                seen.add(seg_oid)
            out.extend(segment)
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
        prev, events = read_commit(repo, oid)
        out.append((oid, events))
        oid = prev
    out.reverse()
    return out


def chain_oids(repo: Any, head: str | None) -> Iterator[str]:
    """Yield commit oids along `prev_wal` from `head` (newest first) without decoding chunks."""
    oid = head
    while oid is not None:
        yield oid
        try:
            tree = repo[oid].tree
            meta = json.loads(repo[tree["meta.json"].id].data)
        except (KeyError, ValueError) as exc:
            raise DbError(f"WAL commit {oid} has no readable meta.json: {exc}") from None
        oid = meta.get("prev_wal")
