"""The bulk WAL reader (`walbulk`) must return exactly what the sequential `prev_wal` walk returns.

Every test reads the same WAL twice, once one commit at a time (`BULK_AFTER` huge) and once in
bulk from the first commit (`BULK_AFTER = 0`), including WALs no writer of ours produces:
`prev_wal` that leaves git's first parents, non-canonical `meta.json`, several chunks per commit,
corrupt chunks and missing files deep in the chain.
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import pygit2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit_grite.core import wal, walbulk
from toolkit_grite.core.chunk import encode_chunk
from toolkit_grite.core.model import Event, make_event
from toolkit_grite.errors import DbError
from toolkit_grite.testing import write_tree

ACTOR = bytes.fromhex("101112131415161718191a1b1c1d1e1f")
BLOB = pygit2.enums.FileMode.BLOB
TREE = pygit2.enums.FileMode.TREE


def _events(n: int, seed: int) -> list[Event]:
    issue = seed.to_bytes(16, "big")
    base = 1_700_000_000_000 + seed * 1000
    payloads: list[list[Any]] = [["t", "b", []], *([f"c{i}"] for i in range(1, n))]
    return [make_event(issue, ACTOR, base + i, 1 if i == 0 else 3, p) for i, p in enumerate(payloads)]


def commit(
    repo: pygit2.Repository,
    parents: list[str],
    prev_wal: str | None,
    *,
    chunks: int = 1,
    seed: int,
    meta_text: str | None = None,
    extra: dict[str, bytes] | None = None,
    chunk_bytes: bytes | None = None,
    meta: bool = True,
) -> str:
    """A WAL commit with `chunks` chunks (on different days), whose meta says `prev_wal`."""
    files: dict[str, bytes] = dict(extra or {})
    first_hash = ""
    for k in range(chunks):
        evs = _events(2, seed * 10 + k)
        data, digest = encode_chunk(evs)
        if chunk_bytes is not None:
            data = chunk_bytes
        day = time.strftime("%Y/%m/%d", time.gmtime(evs[0].ts / 1000 + 86400 * (chunks - k)))
        files[f"events/{day}/{digest.hex()}.bin"] = data
        first_hash = first_hash or digest.hex()
    doc = {"schema_version": 1, "actor_id": ACTOR.hex(), "chunk_hash": first_hash, "prev_wal": prev_wal}
    if meta:
        files["meta.json"] = (meta_text if meta_text is not None else json.dumps(doc, indent=2)).encode()
    sig = pygit2.Signature("grite", "grit@local", 1_700_000_000 + seed, 0)
    return str(repo.create_commit(None, sig, sig, "WAL", write_tree(repo, files), [pygit2.Oid(hex=p) for p in parents]))


def chain(repo: pygit2.Repository, n: int, start: int, base: str | None = None) -> list[str]:
    """`n` ordinary commits (parent == prev_wal) on top of `base`; return their oids, oldest first."""
    out: list[str] = []
    prev = base
    for i in range(n):
        prev = commit(repo, [prev] if prev else [], prev, seed=start + i)
        out.append(prev)
    return out


def both(repo: pygit2.Repository, head: str, monkeypatch: pytest.MonkeyPatch, stop=None):
    """Walk `head` sequentially and in bulk; assert equal results (or equal errors); return them."""
    results: list[tuple[str, object]] = []
    for after in (10**9, 0, 3):
        monkeypatch.setattr(wal, "BULK_AFTER", after)
        try:
            results.append(("ok", wal.walk(repo, head, stop)))
        except DbError as exc:
            results.append(("error", str(exc)))
    assert results[1] == results[0]
    assert results[2] == results[0]
    return results[0]


@pytest.fixture
def pyrepo(repo) -> pygit2.Repository:
    return pygit2.Repository(str(repo / ".git"))


def test_long_ordinary_chain(pyrepo, monkeypatch):
    oids = chain(pyrepo, 30, 1)
    kind, got = both(pyrepo, oids[-1], monkeypatch)
    assert kind == "ok"
    assert [oid for oid, _evs in got] == oids
    assert all(len(evs) == 2 for _oid, evs in got)
    # the bulk path itself read the whole chain (no silent fallback)
    segment, after = walbulk.read_segment(pyrepo, oids[-1], lambda _oid: False)
    assert after is None
    assert segment[::-1] == got


def test_prev_wal_that_leaves_git_parents_is_followed(pyrepo, monkeypatch):
    main = chain(pyrepo, 10, 1)
    side = chain(pyrepo, 4, 100, base=main[1])
    # git parent main[-1], but meta.prev_wal skips back into the side branch
    odd = commit(pyrepo, [main[-1]], side[-1], seed=200)
    top = chain(pyrepo, 8, 300, base=odd)
    # a root commit (no git parent) whose meta still chains to main[4]
    orphan = commit(pyrepo, [], main[4], seed=400)
    above = chain(pyrepo, 6, 500, base=orphan)
    kind, got = both(pyrepo, top[-1], monkeypatch)
    assert kind == "ok"
    assert [oid for oid, _evs in got] == [*main[:2], *side, odd, *top]
    # a bulk segment ends below the commit whose prev_wal is not its git parent: the sequential
    # reader checks that prev_wal (it may name no commit at all)
    segment, after = walbulk.read_segment(pyrepo, top[-1], lambda _oid: False)
    assert [oid for oid, _evs in segment] == top[::-1]
    assert after == odd
    kind, got = both(pyrepo, above[-1], monkeypatch)
    assert [oid for oid, _evs in got] == [*main[:5], orphan, *above]


def test_non_canonical_meta_and_several_chunks(pyrepo, monkeypatch):
    base = chain(pyrepo, 5, 1)
    compact = json.dumps({"prev_wal": base[-1], "schema_version": 1, "actor_id": ACTOR.hex(), "chunk_hash": "0" * 64})
    c1 = commit(pyrepo, [base[-1]], base[-1], seed=50, meta_text=compact)
    c2 = commit(pyrepo, [c1], c1, seed=51, chunks=3, extra={"events/README": b"not a chunk", "other.bin": b"x"})
    top = chain(pyrepo, 5, 60, base=c2)
    kind, got = both(pyrepo, top[-1], monkeypatch)
    assert kind == "ok"
    by_oid = dict(got)
    assert len(by_oid[c2]) == 6
    # chunks come in path order (the earliest day directory first), here the last chunk written
    assert [int.from_bytes(e.issue_id, "big") for e in by_oid[c2]] == [512, 512, 511, 511, 510, 510]


@pytest.mark.parametrize("defect", ["bad_chunk", "no_meta", "meta_not_json", "prev_not_str", "prev_missing"])
def test_defects_deep_in_the_chain_are_skipped_the_same_way(pyrepo, monkeypatch, defect):
    base = chain(pyrepo, 6, 1)
    defects: dict[str, dict[str, Any]] = {
        "bad_chunk": {"chunk_bytes": b"GRITECNX" + bytes(20)},
        "no_meta": {"meta": False},
        "meta_not_json": {"meta_text": "{not json"},
        "prev_not_str": {"meta_text": json.dumps({"prev_wal": 7})},
        "prev_missing": {},  # canonical meta.json whose prev_wal names no commit: follow the git parent
    }
    kwargs = defects[defect]
    prev = "ab" * 20 if defect == "prev_missing" else base[-1]
    bad = commit(pyrepo, [base[-1]], prev, seed=70, **kwargs)
    top = chain(pyrepo, 6, 80, base=bad)
    walks = []
    for after in (10**9, 0, 3):
        monkeypatch.setattr(wal, "BULK_AFTER", after)
        screen = wal.Screen()
        walks.append((wal.walk(pyrepo, top[-1], screen=screen), screen.problems))
    assert walks[1] == walks[0]
    assert walks[2] == walks[0]
    got, problems = walks[0]
    # the defect is reported; every good event below, in and above the bad commit is read
    with_events = [*base, *top] if defect == "bad_chunk" else [*base, bad, *top]
    assert [oid for oid, evs in got if evs] == with_events
    assert [p["commit"] for p in problems] == [bad]


def test_stop_is_honoured(pyrepo, monkeypatch):
    oids = chain(pyrepo, 25, 1)
    kind, got = both(pyrepo, oids[-1], monkeypatch, stop={oids[9]}.__contains__)
    assert kind == "ok"
    assert [oid for oid, _evs in got] == oids[10:]


def test_rebuild_through_bulk_matches(repo, g, monkeypatch):
    for i in range(12):
        g("issue", "create", "--title", f"issue {i}", "--label", "x")
    first = g("issue", "list", "--state", "all")
    monkeypatch.setattr(wal, "BULK_AFTER", 0)
    out = g("rebuild")
    assert out["event_count"] == 12
    assert g("issue", "list", "--state", "all") == first


def _diff_tree_output(pyrepo: pygit2.Repository, trees: list[str]) -> bytes:
    data = "".join(f"{walbulk.EMPTY_TREE} {t}\n" for t in trees).encode()
    cmd = ["git", f"--git-dir={pyrepo.path}", "diff-tree", "--stdin", "-r", "--no-renames", "--no-abbrev"]
    return subprocess.run(cmd, input=data, capture_output=True, check=True).stdout


class _Trickle:
    """git's real output handed over in the given piece sizes, as a pipe may deliver it."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.data, self.sizes = data, sizes

    def read1(self, _n: int) -> bytes:
        size = self.sizes.pop(0) if self.sizes else len(self.data)
        piece, self.data = self.data[:size], self.data[size:]
        return piece

    def read(self, n: int) -> bytes:  # a buffered reader's read: up to n bytes, fewer only at the end
        piece, self.data = self.data[:n], self.data[n:]
        return piece


@pytest.fixture(scope="module")
def listed_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[pygit2.Repository, list[str]]:
    """Trees of every shape: plain, several chunks, extra files before/after meta.json, no meta."""
    path = tmp_path_factory.mktemp("listed")
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    pyrepo = pygit2.Repository(str(path / ".git"))
    shapes: list[dict[str, Any]] = [
        {},
        {"chunks": 3},
        {"extra": {"zz.txt": b"after meta"}},
        {"extra": {"aa.txt": b"before events", "events/README": b"x"}},
        {"meta": False},
        {"chunks": 2, "extra": {"other.bin": b"y"}},
    ]
    commits = [commit(pyrepo, [], None, seed=900 + i, **kw) for i, kw in enumerate(shapes * 3)]
    return pyrepo, [str(pyrepo[c].peel(pygit2.Commit).tree_id) for c in commits]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(1, 700), max_size=30), st.randoms(use_true_random=False))
def test_listings_parse_any_split_the_same(listed_repo, sizes, rnd):
    """However the pipe splits git's output, each tree's listing is parsed whole and the same as
    the field-by-field parser reads it (the one-match fast path only for the plain shape)."""
    pyrepo, trees = listed_repo
    trees = rnd.sample(trees, len(trees))
    out = _diff_tree_output(pyrepo, trees)
    regions = list(walbulk._whole_records(_Trickle(out, list(sizes))))
    assert b"".join(regions) == out
    assert all(r.startswith(walbulk.EMPTY_TREE.encode()) and r.endswith(b"\n") for r in regions)
    expected: list[Any] = []
    for record in out.replace(b"\n" + walbulk.EMPTY_TREE.encode(), b"\n\0" + walbulk.EMPTY_TREE.encode()).split(b"\0"):
        try:
            expected.append(walbulk._listing(record))
        except walbulk._Unusable:
            expected.append("unusable")
            break
    got: list[Any] = []
    try:
        for block in walbulk._listings(pyrepo, walbulk._feed(trees)):
            got.extend(block)
    except walbulk._Unusable:
        got.append("unusable")
    assert got == expected
    listed = [item[0] for item in got if item != "unusable"]
    assert listed == trees[: len(listed)]


def test_rebuild_streams_into_the_view_with_the_same_result(repo, g, monkeypatch):
    """`rebuild` builds the view while it reads the WAL (newest commit first): every issue
    shows exactly what the incrementally built view showed, bulk reader or not."""
    ids = [g("issue", "create", "--title", f"issue {i}", "--body", "b", "--label", "x")["issue_id"] for i in range(6)]
    for n, iid in enumerate(ids):
        g("issue", "comment", iid, "--body", f"first on {n}")
        g("issue", "label", "add", iid, "--label", f"l{n % 2}")
        if n % 2:
            g("issue", "close", iid)
        g("issue", "comment", iid, "--body", "second")
        g("issue", "update", iid, "--title", f"renamed {n}")
        g("issue", "label", "remove", iid, "--label", "x")
    events = 6 * 6 + 3
    for after in (10**9, 0):
        monkeypatch.setattr(wal, "BULK_AFTER", after)
        before = (g("issue", "list", "--state", "all"), [g("issue", "show", i) for i in ids])
        out = g("rebuild")
        assert out["event_count"] == events
        assert (g("issue", "list", "--state", "all"), [g("issue", "show", i) for i in ids]) == before
        g("snapshot", "create")
        g("issue", "comment", ids[0], "--body", "after the snapshot")
        events += 1
        expected = g("issue", "show", ids[0])
        assert g("rebuild", "--from-snapshot")["event_count"] == events
        assert g("issue", "show", ids[0]) == expected


@pytest.mark.parametrize("after", [0, 10**9])
def test_a_failing_sink_is_raised_not_taken_for_a_bad_commit(pyrepo, monkeypatch, after):
    """An error of the caller's sink (a view write, say) propagates; the bulk reader does not
    mistake it for an unreadable commit and go on."""
    monkeypatch.setattr(wal, "BULK_AFTER", after)
    oids = chain(pyrepo, 6, 1)
    seen: list[str] = []

    def sink(oid: str, _events: list[Event]) -> None:
        seen.append(oid)
        if len(seen) == 3:
            raise DbError("the view refused it")

    with pytest.raises(DbError, match="the view refused it"):
        wal.walk(pyrepo, oids[-1], sink=sink)
    assert seen == oids[::-1][:3]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(1, 300), max_size=40))
def test_blob_answers_are_cut_the_same_however_the_pipe_splits_them(pyrepo, sizes):
    """`_Blobs` returns each `cat-file --batch` answer's content whole, whatever pieces the pipe
    delivers (empty and large blobs included); a tree, a missing object or the end of the
    output is refused (the sequential reader takes over)."""
    contents = [b"", b"x", b"\n\n", bytes(range(256)) * 40, b"meta\n", b"big" * 100_000]
    oids = [str(pyrepo.create_blob(c)) for c in contents]
    tree = str(pyrepo.TreeBuilder().write())

    def answers(names: list[str]) -> walbulk._Blobs:
        data = "".join(f"{name}\n" for name in names).encode()
        cmd = ["git", f"--git-dir={pyrepo.path}", "cat-file", "--batch"]
        out = subprocess.run(cmd, input=data, capture_output=True, check=True).stdout
        return walbulk._Blobs(_Trickle(out, list(sizes)))

    blobs = answers(oids)
    assert [blobs.next() for _ in contents] == contents
    for refused in (blobs, answers([tree]), answers(["0" * 40])):
        with pytest.raises(walbulk._Unusable):
            refused.next()


def _view_records() -> dict[bytes, list[tuple[bytes, bytes]]]:
    """Every record of this repository's view, database by database (the rebuild's clock reading left out)."""
    from toolkit_grite.core.grite import Grite

    view = Grite().view  # the process's shared environment: not closed here
    out: dict[bytes, list[tuple[bytes, bytes]]] = {}
    with view.env.begin() as txn:
        for name in (b"events", b"issue_events", b"issues", b"commits", b"meta", b"summaries"):
            db = view.env.open_db(name, txn=txn)
            out[name] = [(bytes(k), bytes(v)) for k, v in txn.cursor(db=db) if bytes(k) != b"last_rebuild_ts"]
    return out


def _decoded(records: dict[bytes, list[tuple[bytes, bytes]]]) -> dict[bytes, list[tuple[bytes, Any]]]:
    import marshal

    return {
        name: [(k, marshal.loads(v) if name in (b"events", b"issues", b"summaries") else v) for k, v in rows]
        for name, rows in records.items()
        if name != b"meta"
    }


def test_rebuild_writes_the_same_view_bytes_either_reader(repo, g, monkeypatch):
    """The view a rebuild writes is the same, byte for byte, whether the WAL is read in bulk or
    commit by commit, and holds what the commands' own incremental ingest built (values compared
    decoded there: `marshal` may share objects differently when they come from elsewhere).
    Both readers decode, check and project every event with the same code, so this also pins
    each rebuild shortcut (bulk plumbing, IssueCreated fast path, reused id encoder) to the
    commit-by-commit result."""
    a = g("issue", "create", "--title", "alpha", "--body", "first body", "--label", "bug", "--label", "p1")["issue_id"]
    b = g("issue", "create", "--title", "beta", "--body", "x", "--label", "bug")["issue_id"]
    g("issue", "create", "--title", "gamma, untouched")
    first = g("issue", "comment", a, "--body", "typo hree")["event_id"]
    g("issue", "edit-comment", a, first, "--body", "typo here")
    g("issue", "label", "add", b, "--label", "later")
    g("issue", "label", "remove", b, "--label", "bug")
    g("issue", "assignee", "add", a, "--user", "alice")
    g("issue", "link", "add", b, "--url", "https://example.com/1", "--note", "upstream")
    g("issue", "dep", "add", a, "--target", b, "--type", "blocks")
    g("issue", "update", b, "--title", "beta, renamed")
    g("issue", "close", b)
    g("issue", "remove", g("issue", "create", "--title", "removed")["issue_id"])
    incremental = _view_records()
    events = len(incremental[b"events"])
    rebuilt = []
    for after in (10**9, 0):
        monkeypatch.setattr(wal, "BULK_AFTER", after)
        assert g("rebuild")["event_count"] == events
        rebuilt.append(_view_records())
    sequential, bulk = rebuilt
    assert bulk == sequential
    assert _decoded(bulk) == _decoded(incremental)
    assert dict(bulk[b"meta"])[b"event_count"] == dict(incremental[b"meta"])[b"event_count"] == str(events).encode()
    assert {name: len(rows) for name, rows in bulk.items() if name != b"meta"} == {
        b"events": events,
        b"issue_events": events,
        b"issues": 4,
        b"commits": len(incremental[b"commits"]),
        b"summaries": 4,
    }
