"""Bulk reading of long WAL chains through three git plumbing processes.

Reading a WAL commit through pygit2 costs about eight object reads from Python (commit, root
tree, four `events/` trees, `meta.json`, the chunk). For long chains (`rebuild`, a first sync)
this module reads a whole segment at once instead:

1. `git rev-list --first-parent` lists the commits below the start with their trees: the
   *speculated* chain (every writer we know of, ours and grite 0.5.3's, makes `prev_wal` the
   commit's only parent);
2. `git diff-tree --stdin -r` against the empty tree lists every file of every tree, streaming
   while this process reads the blobs of the commits already listed;
3. `git cat-file --batch` returns every `meta.json` and `.bin` blob.

The three run as a pipeline (a planner thread feeds `cat-file` from `diff-tree`'s output while
this thread decodes), so git's object reads overlap with the decoding here.

Nothing is trusted from step 1: each commit's `meta.prev_wal` is read and must name the next
commit of the segment, and the segment ends before the first commit where it does not, or where
anything at all is unusual (a missing or non-canonical file, an undecodable chunk). The caller
then continues with the sequential reader, which follows `prev_wal` and raises exactly the
errors it always did. So a segment returns the same `(oid, events)` the sequential reader would.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import subprocess
import threading
from collections.abc import Callable, Generator, Iterator
from typing import Any

from toolkit_grite.core.chunk import decode_chunk
from toolkit_grite.core.model import Event
from toolkit_grite.errors import DbError

__all__ = ["read_segment"]

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
_HEX40 = re.compile(r"[0-9a-f]{40}")
#: What both writers put in `meta.json` (serde_json / `json.dumps(indent=2)`); anything else
#: goes through `json.loads` like the sequential reader does.
_META = re.compile(
    rb'\{\n  "schema_version": 1,\n  "actor_id": "[0-9a-f]{32}",\n  "chunk_hash": "[0-9a-f]{64}",\n'
    rb'  "prev_wal": (?:"([0-9a-f]{40})"|null)\n\}'
)
_BLOB_MODES = ("100644", "100755", "120000")
_SCRUB = ("GIT_DIR", "GIT_WORK_TREE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR")


class _Unusable(Exception):
    """The bulk path cannot vouch for this commit; the sequential reader takes over."""


def _git(repo: Any, *args: str) -> tuple[list[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env["GIT_NO_REPLACE_OBJECTS"] = "1"  # libgit2 ignores replace refs: so must we
    env["LC_ALL"] = "C"
    return ["git", f"--git-dir={repo.path}", *args], env


Link = tuple[str, str, str | None]  # (commit, tree, first parent)
Plan = tuple[str, str | None, int]  # (commit, first parent, chunk count)


def _speculate(
    repo: Any, start: str, cut: Callable[[str], bool], chain: queue.SimpleQueue[list[Link] | None], stdin: Any
) -> None:
    """Feeder thread: list the commits along git first parents from `start` until `cut(commit)`.

    The `(commit, tree, first parent)` links go to `chain` and their trees to `diff-tree`'s
    `stdin` in growing batches as `git rev-list` streams them, so git lists the first trees
    while rev-list walks on (batches, not single commits: each hand-over between threads and
    processes costs more than a commit's work). The chain ends (None) at the first oddity:
    the commits before it are still read in bulk.
    """
    cmd, env = _git(repo, "rev-list", "--first-parent", "--format=%T %P", start)
    proc = None
    links: list[Link] = []
    size = 16

    def hand_over() -> None:
        nonlocal links, size
        chain.put(links)  # before git sees the trees: the planner never waits for a listed tree's link
        stdin.write("".join(f"{EMPTY_TREE} {tree}\n" for _c, tree, _p in links).encode())
        stdin.flush()
        links, size = [], min(size * 2, 1024)

    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        assert proc.stdout is not None
        lines = iter(proc.stdout)
        first = True
        for header in lines:  # "commit <oid>\n" then "<tree> [<parent>...]\n"
            parts = header.split()
            fields = next(lines, b"").decode().split()
            if len(parts) != 2 or parts[0] != b"commit" or not fields or not _HEX40.fullmatch(fields[0]):
                break
            commit = parts[1].decode()
            if not _HEX40.fullmatch(commit) or (not first and cut(commit)):
                break
            first = False
            links.append((commit, fields[0], fields[1] if len(fields) > 1 else None))
            if len(links) >= size:
                hand_over()
        if links:
            hand_over()
    except (OSError, ValueError, UnicodeDecodeError):
        pass  # diff-tree was stopped (the reader is done), or rev-list could not run: the chain ends here
    finally:
        chain.put(None)
        with contextlib.suppress(OSError):
            stdin.close()
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            assert proc.stdout is not None
            proc.stdout.close()


def _feed(trees: list[str]) -> Callable[[Any], None]:
    """A `_listings` feed that writes a fixed list of trees."""

    def feed(stdin: Any) -> None:
        with contextlib.suppress(OSError):  # the reader may stop early and kill the process
            stdin.write("".join(f"{EMPTY_TREE} {t}\n" for t in trees).encode())
            stdin.close()

    return feed


_HEADER = f"\n{EMPTY_TREE} ".encode()
#: The listing of a tree as both writers make it (one chunk and `meta.json`), read with one match.
_PLAIN = re.compile(
    EMPTY_TREE.encode() + rb" ([0-9a-f]{40})\n"
    rb":000000 100644 0{40} ([0-9a-f]{40}) A\tevents/[^\n]*\.bin\n"
    rb":000000 100644 0{40} ([0-9a-f]{40}) A\tmeta\.json\n"
)


def _listings(repo: Any, feed: Callable[[Any], object]) -> Generator[list[tuple[str, bytes, list[bytes]]], None, None]:
    """Yield `[(tree, meta.json oid, chunk oids)]` as `git diff-tree` lists the trees `feed` writes.

    `feed(stdin)` runs in its own thread, writes one `<empty tree> <tree>` line per tree and closes
    `stdin`. The listing streams: each list holds the trees of one block of git's output, so the
    caller reads blobs of some commits while git lists the next ones.
    """
    cmd, env = _git(repo, "diff-tree", "--stdin", "-r", "--no-renames", "--no-abbrev")
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    except OSError as exc:
        raise _Unusable(str(exc)) from None
    assert proc.stdin is not None
    assert proc.stdout is not None
    feeder = threading.Thread(target=feed, args=(proc.stdin,), daemon=True)
    feeder.start()
    try:
        for region in _whole_records(proc.stdout):
            pos, end = 0, len(region)
            found: list[tuple[str, bytes, list[bytes]]] = []
            while pos < end:
                match = _PLAIN.match(region, pos)
                if match is not None and (match.end() == end or region[match.end()] != 0x3A):  # no 3rd file (":")
                    found.append((match.group(1).decode(), match.group(3), [match.group(2)]))
                    pos = match.end()
                    continue
                stop = region.find(_HEADER, pos)
                stop = end if stop < 0 else stop + 1
                try:
                    found.append(_listing(region[pos:stop]))
                except _Unusable:
                    if found:
                        yield found
                    raise
                pos = stop
            yield found
        if proc.wait() != 0:
            raise _Unusable("diff-tree failed")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        feeder.join()


def _whole_records(stdout: Any) -> Iterator[bytes]:
    """Yield `diff-tree` output in blocks that end where a tree's listing ends."""
    rest = b""
    while block := stdout.read1(1 << 16):
        rest += block
        cut = rest.rfind(_HEADER)
        if cut >= 0:
            yield rest[: cut + 1]
            rest = rest[cut + 1 :]
    if rest:
        yield rest


def _listing(record: bytes) -> tuple[str, bytes, list[bytes]]:
    """`(tree, meta.json oid, chunk oids)` of one tree's `diff-tree` record, whatever its files."""
    header, *lines = record.decode("utf-8", "surrogateescape").rstrip("\n").split("\n")
    parts = header.split()
    if len(parts) != 2 or parts[0] != EMPTY_TREE:
        raise _Unusable("unexpected diff-tree header")
    files: list[tuple[str, str, str]] = []
    for line in lines:  # ":000000 <mode> <zero oid> <blob oid> A\t<path>"
        fields, _tab, path = line[1:].partition("\t")
        cols = fields.split()
        if not line.startswith(":") or len(cols) != 5 or cols[4] != "A":
            raise _Unusable("unexpected diff-tree record")
        files.append((cols[1], cols[3], path))
    meta, bins = _bins_in_order(files)
    return parts[1], meta.encode(), [oid.encode() for oid in bins]


def _bins_in_order(files: list[tuple[str, str, str]]) -> tuple[str, list[str]]:
    """`(meta.json oid, chunk oids in the sequential reader's order)`; raise `_Unusable` on oddities."""
    meta: str | None = None
    bins: list[tuple[list[str], str]] = []
    for mode, oid, path in files:
        if mode not in _BLOB_MODES or path == "events" or path.startswith('"'):  # '"': git quoted it
            raise _Unusable(f"unusual entry {path}")
        if path == "meta.json":
            meta = oid
        elif path.startswith("events/") and path.endswith(".bin"):
            bins.append((path.split("/"), oid))
    if meta is None:
        raise _Unusable("no meta.json")
    bins.sort()  # name order at every level, as the recursive sequential reader yields them
    return meta, [oid for _parts, oid in bins]


def _prev_of(meta: bytes) -> str | None:
    match = _META.fullmatch(meta)
    if match is None:
        raise _Unusable("non-canonical meta.json")
    prev = match.group(1)
    return None if prev is None else prev.decode()


def read_segment(
    repo: Any,
    start: str,
    cut: Callable[[str], bool],
    each: Callable[[str, list[Event]], object] | None = None,
) -> tuple[list[tuple[str, list[Event]]], str | None]:
    """Read the WAL from `start` (newest first) as far as the bulk path can vouch for it.

    Args:
        repo: The pygit2 repository.
        start: The first commit to read (the caller has checked it against `cut`).
        cut: True for a commit where reading must stop (already read, or the caller's stop).
        each: Called with `(oid, events)` for each commit as soon as it is read (while git reads
            the next ones); every commit passed to it is in the returned list.

    Returns:
        `(commits, next)`: `[(oid, events)]` newest first (possibly empty) and the `prev_wal` of
        the last one (`start` when nothing could be read in bulk).
    """
    if not _HEX40.fullmatch(start):
        return [], start
    cmd, env = _git(repo, "cat-file", "--batch", "--buffer")
    try:
        cat = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    except OSError:
        return [], start
    plans: queue.SimpleQueue[list[Plan] | None] = queue.SimpleQueue()
    halt = threading.Event()
    planner = threading.Thread(target=_plan, args=(repo, start, cut, cat.stdin, plans, halt), daemon=True)
    planner.start()
    out: list[tuple[str, list[Event]]] = []
    nxt: str | None = start
    failed: BaseException | None = None
    stdout = cat.stdout
    assert stdout is not None
    blobs = _Blobs(stdout)
    try:
        for commit, parent, count in _each_plan(plans):
            if _prev_of(blobs.next()) != parent:
                # `prev_wal` leaves git's first parents: the sequential reader reads this commit,
                # as it checks that `prev_wal` names a commit at all (else it follows the parent).
                break
            events: list[Event] = []
            for _ in range(count):
                events.extend(decode_chunk(blobs.next()))
            out.append((commit, events))
            nxt = parent
            if each is not None:
                try:
                    each(commit, events)
                except BaseException as exc:  # the caller's failure, not a reading problem: re-raised below
                    failed = exc
                    break
    except (_Unusable, DbError, ValueError, UnicodeDecodeError):
        pass  # the sequential reader takes over at `nxt` (and raises the error, if any)
    finally:
        halt.set()
        if cat.poll() is None:
            cat.kill()
        cat.wait()
        stdout.close()
        planner.join()
    if failed is not None:
        raise failed
    return out, nxt


class _Blobs:
    """The answers of `git cat-file --batch`, read in large blocks and cut here.

    Reading each answer with `readline` + `read` cost two buffered-reader calls per blob (a
    rebuild reads two blobs per event); cutting them out of 64 KiB blocks costs about half.
    """

    def __init__(self, stdout: Any) -> None:
        self._stdout = stdout
        self._buf = b""
        self._pos = 0

    def _more(self) -> None:
        block = self._stdout.read1(1 << 16)
        if not block:
            raise _Unusable("cat-file output ended early")
        self._buf = self._buf[self._pos :] + block
        self._pos = 0

    def next(self) -> bytes:
        """Read one answer (which must be a blob) and return its content."""
        while (eol := self._buf.find(b"\n", self._pos)) < 0:
            self._more()
        header = self._buf[self._pos : eol].split()
        if len(header) != 3 or header[1] != b"blob":
            raise _Unusable("cat-file did not return a blob")
        size = int(header[2])
        end = eol + 1 + size
        missing = end + 1 - len(self._buf)  # the content and its newline
        if missing > 0:  # one read for the rest, however large: appending block by block is quadratic
            rest = self._stdout.read(missing)
            if len(rest) != missing:
                raise _Unusable("cat-file output ended early")
            start = self._pos
            self._buf = self._buf[start:] + rest
            self._pos = 0
            eol -= start
            end -= start
        self._pos = end + 1
        return self._buf[eol + 1 : end]


def _each_plan(plans: queue.SimpleQueue[list[Plan] | None]) -> Iterator[Plan]:
    while (batch := plans.get()) is not None:
        yield from batch


def _plan(
    repo: Any,
    start: str,
    cut: Callable[[str], bool],
    stdin: Any,
    plans: queue.SimpleQueue[list[Plan] | None],
    halt: threading.Event,
) -> None:
    """Planner thread: list each commit's files, ask cat-file for its blobs, queue the plans.

    Queues `[(commit, first parent, chunk count)]` per block of `diff-tree` output, in chain
    order (one cat-file request and one queue item per block, not per commit), and None at the
    end (the first commit that is not plainly a grite WAL commit ends the segment).
    """
    chain: queue.SimpleQueue[list[Link] | None] = queue.SimpleQueue()
    listings = _listings(repo, lambda diff_stdin: _speculate(repo, start, cut, chain, diff_stdin))
    links: list[Link] = []
    at = 0
    try:
        for block in listings:
            batch: list[Plan] = []
            wanted: list[bytes] = []
            done = False
            for listed, meta, bins in block:
                if at == len(links):  # never waits long: the feeder queues links before git lists their trees
                    got = chain.get()
                    links, at = ([], 0) if got is None else (got, 0)
                if halt.is_set() or at == len(links) or listed != links[at][1]:
                    done = True
                    break
                link = links[at]
                at += 1
                wanted.extend((meta, *bins))
                batch.append((link[0], link[2], len(bins)))
            if batch:
                stdin.write(b"\n".join((*wanted, b"")))
                stdin.flush()
                plans.put(batch)
            if done:
                break
    except (_Unusable, OSError, ValueError, UnicodeDecodeError):
        pass
    finally:
        plans.put(None)
        with contextlib.suppress(OSError):
            stdin.close()
        listings.close()
