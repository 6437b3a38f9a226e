from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit_pom.core.logstore import BLOCK_LINES, MAX_LINE_BYTES, STDERR, STDOUT, ProcessLog, split_chunk


def fill(log: ProcessLog, n: int, stream: int = STDOUT, start: int = 0) -> None:
    log.append(stream, [f"line {i}".encode() for i in range(start, start + n)], 1.0)


def test_ids_blocks_and_tail() -> None:
    log = ProcessLog("p", 1 << 30)
    fill(log, 300)
    snap = log.snapshot()
    assert len(snap.blocks) == 3
    assert snap.blocks[1].first_id == BLOCK_LINES + 1
    assert snap.first_id == 1
    assert snap.last_id == 300
    assert snap.line_count == 300
    tail = snap.query(limit=3)
    assert [line.id for line in tail.lines] == [298, 299, 300]
    assert [line.text for line in tail.lines] == ["line 297", "line 298", "line 299"]
    assert tail.next_after_id == 300
    assert snap.query().lines[0].id == 201  # default tail is 100


def test_after_id_is_exclusive_and_pages() -> None:
    log = ProcessLog("p", 1 << 30)
    fill(log, 500)
    res = log.snapshot().query(after_id=127, limit=3)
    assert [line.id for line in res.lines] == [128, 129, 130]
    assert res.gap is None
    assert res.next_after_id == 130
    res = log.snapshot().query(after_id=499)
    assert [line.id for line in res.lines] == [500]
    res = log.snapshot().query(after_id=500)
    assert res.lines == []
    assert res.next_after_id == 500


def test_eviction_is_whole_blocks_and_reports_gaps() -> None:
    log = ProcessLog("p", 4096)
    fill(log, 1000)
    snap = log.snapshot()
    assert log.bytes <= 4096 or len(snap.blocks) == 1
    assert snap.first_id > 1
    assert (snap.first_id - 1) % BLOCK_LINES == 0
    assert log.evicted_lines == snap.first_id - 1
    res = snap.query(after_id=5, limit=2)
    assert res.gap == {"after_id": 5, "first_id": snap.first_id, "missed": snap.first_id - 6}
    assert [line.id for line in res.lines] == [snap.first_id, snap.first_id + 1]
    assert snap.query(after_id=snap.first_id - 1).gap is None


def test_truncate_drops_every_line_and_ids_go_on() -> None:
    log = ProcessLog("p", 1 << 30)
    fill(log, 300)
    before = log.snapshot()
    assert log.truncate() == 300
    snap = log.snapshot()
    assert (snap.line_count, snap.first_id, snap.last_id) == (0, 0, 300)
    assert log.stats() == {"first_id": 0, "last_id": 300, "lines": 0, "bytes": 0, "evicted_lines": 300}
    assert snap.query().lines == []
    assert snap.query(after_id=300).next_after_id == 300
    assert len(before.query(limit=1000).lines) == 300  # a snapshot taken before keeps its lines
    fill(log, 2, start=300)
    res = log.snapshot().query(after_id=10)
    assert [line.id for line in res.lines] == [301, 302]
    assert res.gap == {"after_id": 10, "first_id": 301, "missed": 290}
    assert log.snapshot().query(after_id=300).gap is None
    assert log.truncate() == 2
    assert log.truncate() == 0


def test_filters_stream_substring_regex() -> None:
    log = ProcessLog("p", 1 << 30)
    log.append(STDOUT, [b"hello world", b"nothing"], 1.0)
    log.append(STDERR, [b"ERROR: boom", b"hello stderr"], 2.0)
    snap = log.snapshot()
    assert [line.text for line in snap.query(stream="stderr").lines] == ["ERROR: boom", "hello stderr"]
    assert [line.text for line in snap.query(contains="hello").lines] == ["hello world", "hello stderr"]
    assert [line.text for line in snap.query(regex=r"^ERR").lines] == ["ERROR: boom"]
    assert [line.text for line in snap.query(stream="stdout", contains="hello").lines] == ["hello world"]
    res = snap.query(after_id=0, contains="zzz")
    assert res.lines == []
    assert res.next_after_id == 4
    with pytest.raises(ValueError, match="stream"):
        snap.query(stream="stdin")
    with pytest.raises(ValueError, match="regular"):
        snap.query(regex="(")


def test_snapshot_is_stable_while_writer_appends_and_evicts() -> None:
    log = ProcessLog("p", 64 * 1024)
    fill(log, 200)
    snap = log.snapshot()
    before = [line.text for line in snap.query(after_id=0, limit=None).lines]
    fill(log, 20_000, start=200)  # evicts everything the snapshot holds
    assert log.snapshot().first_id > 200
    assert [line.text for line in snap.query(after_id=0, limit=None).lines] == before


def test_concurrent_reader_sees_consistent_prefixes() -> None:
    log = ProcessLog("p", 256 * 1024)
    stop = threading.Event()
    problems: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            snap = log.snapshot()
            lines = snap.query(limit=500).lines
            for line in lines:
                if line.text != f"line {line.id - 1}":
                    problems.append(f"{line.id}: {line.text}")
                    return
            ids = [line.id for line in lines]
            if ids != sorted(ids) or (ids and ids[-1] != snap.last_id):
                problems.append(f"bad ids {ids[:3]}..{ids[-3:]} last {snap.last_id}")
                return

    t = threading.Thread(target=reader)
    t.start()
    for k in range(200):
        fill(log, 97, start=k * 97)
    stop.set()
    t.join()
    assert not problems


def test_split_chunk_handles_crlf_partial_and_long_lines() -> None:
    lines, rest = split_chunk(b"", b"a\r\nb\nparti")
    assert lines == [b"a", b"b"]
    assert rest == b"parti"
    lines, rest = split_chunk(rest, b"al\r")
    assert lines == []
    assert rest == b"partial\r"
    lines, rest = split_chunk(rest, b"\nnext")
    assert lines == [b"partial"]
    assert rest == b"next"
    big = b"x" * (MAX_LINE_BYTES * 2 + 10)
    lines, rest = split_chunk(b"", big + b"\n")
    assert [len(x) for x in lines] == [MAX_LINE_BYTES, MAX_LINE_BYTES, 10]
    assert rest == b""
    lines, rest = split_chunk(b"", big)
    assert [len(x) for x in lines] == [MAX_LINE_BYTES, MAX_LINE_BYTES]
    assert rest == b"x" * 10


def test_metadata_overhead_is_small() -> None:
    log = ProcessLog("p", 1 << 30)
    n = 128 * 200
    log.append(STDOUT, [b"x" * 40] * n, 1.0)
    log.append(STDOUT, [b"y"], 1.0)  # seals the last full block
    overhead = (log.memory() - 40 * n) / n
    assert overhead < 64, overhead


@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(
        st.tuples(st.sampled_from([STDOUT, STDERR]), st.lists(st.text(max_size=12), min_size=1, max_size=150)),
        min_size=1,
        max_size=12,
    ),
    max_bytes=st.integers(min_value=1024, max_value=20_000),
    after=st.integers(min_value=0, max_value=900),
    limit=st.integers(min_value=0, max_value=300),
    stream=st.sampled_from([None, "stdout", "stderr"]),
    needle=st.sampled_from([None, "a", "1", "zz"]),
)
def test_queries_match_a_simple_model(
    batches: list[tuple[int, list[str]]], max_bytes: int, after: int, limit: int, stream: str | None, needle: str | None
) -> None:
    log = ProcessLog("p", max_bytes)
    model: list[tuple[int, str, str]] = []
    for code, texts in batches:
        clean = [t.replace("\n", " ").replace("\r", " ") for t in texts]
        log.append(code, [t.encode() for t in clean], 1.0)
        for t in clean:
            model.append((len(model) + 1, ["pom", "stdout", "stderr"][code], t))
    snap = log.snapshot()
    retained = [m for m in model if m[0] >= snap.first_id]
    assert len(retained) == snap.line_count
    assert snap.last_id == len(model)

    def ok(m: tuple[int, str, str]) -> bool:
        return (stream is None or m[1] == stream) and (needle is None or needle in m[2])

    res = snap.query(after_id=after, limit=limit, stream=stream, contains=needle)
    expected = [m for m in retained if m[0] > after and ok(m)][:limit]
    assert [(line.id, line.stream, line.text) for line in res.lines] == expected
    if after + 1 < snap.first_id:
        assert res.gap == {"after_id": after, "first_id": snap.first_id, "missed": snap.first_id - after - 1}
    else:
        assert res.gap is None
    tail = snap.query(limit=limit, stream=stream, contains=needle)
    matching = [m for m in retained if ok(m)]
    assert [line.id for line in tail.lines] == [m[0] for m in (matching[-limit:] if limit else [])]
