"""Fault tests: concurrent writer processes, SIGKILL mid-append, corrupted files."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit_plasmite.core.codec import decode_payload, encode_payload
from toolkit_plasmite.core.pool import Gap, PoolFile, create_pool_file
from toolkit_plasmite.core.validate import validate_pool
from toolkit_plasmite.errors import CorruptError, PlasmiteError

WRITER = r"""
import sys, hashlib
from toolkit_plasmite.core.pool import PoolFile
from toolkit_plasmite.core.codec import encode_payload
path, wid, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
pool = PoolFile(path)
i = 0
while count < 0 or i < count:
    body = f"{wid}-{i}-" + "z" * (i % 300)
    pool.append(encode_payload({"w": wid, "i": i, "body": body, "h": hashlib.sha1(body.encode()).hexdigest()}))
    i += 1
    if i == 1:
        print("ready", flush=True)
"""


def _check_message(data: dict[str, Any]) -> None:
    assert hashlib.sha1(data["body"].encode()).hexdigest() == data["h"]


def _spawn(path: Path, wid: int, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(wid), str(count)], stdout=subprocess.PIPE, text=True
    )


@pytest.mark.slow
def test_four_writer_processes_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "p.plasmite"
    create_pool_file(path, 16 * 1024 * 1024)
    per_writer = 2500
    procs = [_spawn(path, w, per_writer) for w in range(4)]
    for proc in procs:
        proc.communicate(timeout=240)
        assert proc.returncode == 0
    with PoolFile(path) as pool:
        st = pool.state()
        assert (st.oldest, st.newest) == (1, 4 * per_writer)
        seen: dict[int, list[int]] = {w: [] for w in range(4)}
        items = pool.cursor(1).poll(100_000)
        assert [it[0] for it in items if not isinstance(it, Gap)] == list(range(1, 4 * per_writer + 1))
        stamps = []
        for item in items:
            assert not isinstance(item, Gap)
            data, _ = decode_payload(item[2])
            _check_message(data)
            seen[data["w"]].append(data["i"])
            stamps.append(item[1])
        assert stamps == sorted(stamps)  # timestamps never go backwards across writers
    for w in range(4):
        assert seen[w] == list(range(per_writer))  # each writer's order kept, nothing lost
    assert validate_pool(path)["status"] == "ok"


@pytest.mark.slow
def test_sigkill_mid_append_never_tears(tmp_path: Path) -> None:
    path = tmp_path / "p.plasmite"
    # Format 100's double-buffered state is what makes this hold; format 3 publishes in place.
    create_pool_file(path, 96 * 1024, version=100)  # small: kills land during eviction and wrap too
    rng = random.Random(7)
    reader = PoolFile(path, writable=False)
    cursor = reader.cursor(1)
    delivered = 0
    last_newest = 0
    for _round in range(40):
        proc = _spawn(path, _round, -1)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.03))
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        report = validate_pool(path)
        assert report["status"] == "ok", report["issues"]
        for item in cursor.poll(100_000):
            if isinstance(item, Gap):
                continue
            _check_message(decode_payload(item[2])[0])
            delivered += 1
        with PoolFile(path) as pool:  # the next writer carries on from the published state
            before = pool.state().newest
            assert before >= last_newest
            seq, _ = pool.append(encode_payload({"w": -1, "i": 0, "body": "", "h": hashlib.sha1(b"").hexdigest()}))
            assert seq == before + 1
            last_newest = seq
    reader.close()
    assert delivered > 40
    assert validate_pool(path)["status"] == "ok"


def _build_sample(path: Path, version: int = 100) -> list[dict[str, Any]]:
    # Format 100: frame checksums make "never garbage" checkable (format 3 has none).
    create_pool_file(path, 16 * 1024, index_capacity=16, version=version)
    datas = []
    with PoolFile(path) as pool:
        for i in range(120):
            data = {"i": i, "pad": "p" * (i % 50)}
            datas.append(data)
            pool.append(pool.encode_payload(data, ["t"] if i % 3 else []))
    return datas


def _damaged_sample(tmp_path: Path, version: int, edits: list[tuple[int, int]]) -> Path:
    """A copy of a sample pool of `version` with bytes overwritten at the `edits` positions."""
    base = tmp_path / f"base{version}.plasmite"
    if not base.exists():
        _build_sample(base, version)
    raw = bytearray(base.read_bytes())
    for pos, value in edits:
        raw[pos] = value
    target = tmp_path / f"bad{version}.plasmite"
    target.write_bytes(bytes(raw))
    return target


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 16 * 1024 - 1), st.integers(0, 255)), min_size=1, max_size=12))
def test_corrupted_files_give_errors_never_garbage(tmp_path: Path, edits: list[tuple[int, int]]) -> None:
    target = _damaged_sample(tmp_path, 100, edits)
    originals = [{"i": i, "pad": "p" * (i % 50)} for i in range(120)]
    started = time.monotonic()
    try:
        with PoolFile(target) as pool:
            st_ = pool.state()
            for seq in range(max(st_.oldest, 1), st_.newest + 1):
                try:
                    frame = pool.get(seq)
                except PlasmiteError:
                    continue
                data, _ = decode_payload(frame[2])
                assert data == originals[data["i"]]
                assert data["i"] == seq - 1
            for item in pool.cursor(None).poll(10_000):
                if not isinstance(item, Gap):
                    data, _ = decode_payload(item[2])
                    assert data == originals[item[0] - 1]
            pool.append(encode_payload({"i": 0, "pad": ""}))
    except PlasmiteError:
        pass
    report = validate_pool(target)
    assert report["status"] in ("ok", "corrupt")
    assert time.monotonic() - started < 10


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 16 * 1024 - 1), st.integers(0, 255)), min_size=1, max_size=12))
def test_damaged_format3_files_give_errors_never_crashes(tmp_path: Path, edits: list[tuple[int, int]]) -> None:
    """Format 3 has no checksums: damage inside a payload may read as other data.

    But every read ends in a value or a PlasmiteError, quickly (no hang, no raw exception).
    """
    target = _damaged_sample(tmp_path, 3, edits)
    started = time.monotonic()
    try:
        with PoolFile(target) as pool:
            st_ = pool.state()
            for seq in range(max(st_.oldest, 1), st_.newest + 1):
                try:
                    decode_payload(pool.get(seq)[2])
                except PlasmiteError:
                    continue
            pool.append(pool.encode_payload({"i": 0, "pad": ""}))
    except PlasmiteError:
        pass
    assert validate_pool(target)["status"] in ("ok", "corrupt")
    assert time.monotonic() - started < 10


@pytest.mark.slow
def test_lockfree_reader_never_sees_torn_frames_while_ring_wraps(tmp_path: Path) -> None:
    path = tmp_path / "p.plasmite"
    create_pool_file(path, 32 * 1024)  # tiny ring: writers overwrite what the reader is reading
    procs = [_spawn(path, w, 4000) for w in range(2)]
    delivered = gaps = 0
    last_seq = 0
    with PoolFile(path, writable=False) as reader:
        cursor = reader.cursor(1)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            writers_done = all(p.poll() is not None for p in procs)  # before polling: nothing can follow
            items = cursor.poll(64)
            for item in items:
                if isinstance(item, Gap):
                    gaps += 1
                    continue
                assert item[0] > last_seq
                last_seq = item[0]
                _check_message(decode_payload(item[2])[0])
                delivered += 1
            if not items and writers_done:
                break
    for proc in procs:
        proc.communicate(timeout=60)
        assert proc.returncode == 0
    assert last_seq == 8000
    assert delivered > 100
    assert validate_pool(path)["status"] == "ok"


def test_pool_truncated_while_open_is_an_error_not_a_signal(tmp_path: Path) -> None:
    path = tmp_path / "t.plasmite"
    create_pool_file(path, 64 * 1024)
    with PoolFile(path) as pool:
        for i in range(20):
            pool.append(pool.encode_payload({"i": i}))
        os.truncate(path, 8 * 1024)  # another process shrinks the file under our mapping
        for action in (lambda: pool.get(20), lambda: pool.append(pool.encode_payload({"i": 99})), pool.state):
            with pytest.raises(CorruptError, match="truncated"):
                action()
        with pytest.raises(CorruptError, match="truncated"):
            pool.cursor(1).poll()


def test_sparse_pool_gets_its_blocks_when_opened_for_writing(tmp_path: Path) -> None:
    path = tmp_path / "s.plasmite"
    create_pool_file(path, 1024 * 1024)
    assert os.stat(path).st_blocks * 512 >= 1024 * 1024  # created fully allocated
    # plasmite creates pools sparse: punch the file back to a hole-y one and reopen.
    raw = path.read_bytes()
    path.unlink()
    with open(path, "wb") as fh:
        fh.write(raw[:4096])
        fh.truncate(len(raw))
    assert os.stat(path).st_blocks * 512 < 1024 * 1024
    with PoolFile(path) as pool:
        pool.append(pool.encode_payload({"ok": True}))
    assert os.stat(path).st_blocks * 512 >= 1024 * 1024
