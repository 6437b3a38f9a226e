"""Pool file behaviour: create, append, get, wrap, eviction, format checks."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from toolkit_plasmite.core.client import LocalClient
from toolkit_plasmite.core.codec import decode_payload, encode_payload
from toolkit_plasmite.core.format import auto_index_capacity
from toolkit_plasmite.core.pool import Gap, PoolFile, create_pool_file
from toolkit_plasmite.core.validate import validate_pool
from toolkit_plasmite.errors import AlreadyExistsError, CorruptError, NotFoundError, UsageError


def test_geometry_matches_plasmite_for_1mib(tmp_path: Path) -> None:
    create_pool_file(tmp_path / "p.plasmite", 1024 * 1024)
    with PoolFile(tmp_path / "p.plasmite") as pool:
        assert pool.geo.index_capacity == 4096
        assert pool.geo.ring_size == 978_944
    assert auto_index_capacity(1024 * 1024) == 4096


def test_create_never_touches_existing(tmp_path: Path) -> None:
    path = tmp_path / "p.plasmite"
    create_pool_file(path, 64 * 1024)
    with PoolFile(path) as pool:
        pool.append(encode_payload({"a": 1}))
    before = path.read_bytes()
    with pytest.raises(AlreadyExistsError):
        create_pool_file(path, 128 * 1024)
    assert path.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_append_get_roundtrip_and_monotonic_time(tmp_path: Path) -> None:
    path = tmp_path / "p.plasmite"
    create_pool_file(path, 64 * 1024)
    with PoolFile(path) as pool:
        results = [pool.append(encode_payload({"i": i, "s": "é"}, ["t"])) for i in range(50)]
        assert [seq for seq, _ in results] == list(range(1, 51))
        stamps = [ts for _, ts in results]
        assert stamps == sorted(stamps)
        seq, ts, payload, _ = pool.get(7)
        assert (seq, ts) == results[6]
        assert decode_payload(payload) == ({"i": 6, "s": "é"}, ["t"])
        with pytest.raises(NotFoundError):
            pool.get(51)
        with pytest.raises(NotFoundError):
            pool.get(0)


def test_wrap_and_eviction_keep_contiguous_seqs(tmp_path: Path) -> None:
    path = tmp_path / "p.plasmite"
    create_pool_file(path, 8 * 1024, index_capacity=0)
    with PoolFile(path) as pool:
        for i in range(1, 400):
            pool.append(encode_payload({"i": i, "pad": "x" * (i % 97)}))
            st = pool.state()
            assert st.newest == i
            # every retained message is readable by scan (no index) and intact
            for seq in (st.oldest, (st.oldest + st.newest) // 2, st.newest):
                assert decode_payload(pool.get(seq)[2])[0]["i"] == seq
        assert pool.state().oldest > 1
    assert validate_pool(path)["status"] == "ok"


def test_cursor_reports_gap_then_resumes(tmp_path: Path) -> None:
    path = tmp_path / "p.plasmite"
    create_pool_file(path, 8 * 1024)
    with PoolFile(path) as pool:
        pool.append(encode_payload({"i": 1}))
        cursor = pool.cursor(1)
        for i in range(2, 300):
            pool.append(encode_payload({"i": i}))
        items = cursor.poll(1000)
        assert isinstance(items[0], Gap)
        assert items[0].expected == 1
        seqs = [it[0] for it in items[1:]]
        assert seqs == list(range(items[0].resumed_at, 300))


def test_index_miss_falls_back_to_scan(tmp_path: Path) -> None:
    path = tmp_path / "p.plasmite"
    create_pool_file(path, 64 * 1024)
    with PoolFile(path) as pool:
        for i in range(20):
            pool.append(encode_payload({"i": i}))
        geo = pool.geo
    raw = bytearray(path.read_bytes())
    for seq in range(1, 21):  # point every index slot somewhere wrong
        struct.pack_into("<QQ", raw, geo.index_offset + 16 * (seq % geo.index_capacity), seq, 8)
    path.write_bytes(bytes(raw))
    with PoolFile(path) as pool:
        assert decode_payload(pool.get(13)[2])[0] == {"i": 12}
    report = validate_pool(path)
    assert report["status"] == "corrupt"
    assert report["issues"][0]["code"] == "index"


def test_unknown_version_is_usage_with_hint(tmp_path: Path) -> None:
    path = tmp_path / "p.plasmite"
    create_pool_file(path, 64 * 1024)
    raw = bytearray(path.read_bytes())
    struct.pack_into("<I", raw, 4, 7)
    path.write_bytes(bytes(raw))
    with pytest.raises(UsageError) as info:
        PoolFile(path)
    assert "unsupported pool format version 7 (supported: 3, 100)" in info.value.message
    assert "doctor" in (info.value.hint or "")
    assert validate_pool(path)["issues"][0]["code"] == "format"


def test_bad_magic_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "p.plasmite"
    path.write_bytes(b"NOPE" + b"\0" * 8000)
    with pytest.raises(CorruptError):
        PoolFile(path)


def test_payload_too_big_is_usage(tmp_path: Path) -> None:
    path = tmp_path / "p.plasmite"
    create_pool_file(path, 8 * 1024)
    with PoolFile(path) as pool, pytest.raises(UsageError, match="exceeds"):
        pool.append(encode_payload({"x": "y" * 9000}))


def test_data_must_be_object() -> None:
    with pytest.raises(UsageError, match="data must be object"):
        encode_payload([1, 2])


def test_client_list_info_delete(pool_dir: Path) -> None:
    client = LocalClient(pool_dir)
    client.create_pool("b", 64 * 1024)
    client.create_pool("a", 64 * 1024)
    (pool_dir / "bad.plasmite").write_bytes(b"junk")
    entries = client.list_entries()
    assert [e["name"] for e in entries] == ["a", "b", "bad"]
    assert entries[2]["error"]["kind"] == "Corrupt"
    info = client.pool_info("a")
    assert info["bounds"] == {}
    assert info["metrics"]["message_count"] == 0
    client.delete_pool("a")
    with pytest.raises(NotFoundError):
        client.pool_info("a")


def test_flush_durability(tmp_path: Path) -> None:
    path = tmp_path / "p.plasmite"
    create_pool_file(path, 64 * 1024)
    with PoolFile(path) as pool:
        seq, _ = pool.append(encode_payload({"d": 1}), flush=True)
        assert seq == 1
    assert validate_pool(path)["status"] == "ok"


def test_format3_single_appends_write_the_bytes_of_batched_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`append` builds a format-3 frame before the lock: the file equals the general path's.

    `append_many` always takes the general path; both run through wraps and evictions
    with the same clock.
    """
    import itertools
    import time

    from toolkit_plasmite.core import lite3

    payloads = [lite3.encode_message({"i": i, "pad": "x" * (i * 37 % 300)}, ["t"] * (i % 2)) for i in range(600)]
    files = []
    for name, single in (("single", True), ("batched", False)):
        clock = itertools.count(1_000_000_000_000, 1000)
        monkeypatch.setattr(time, "time_ns", lambda clock=clock: next(clock))
        path = tmp_path / f"{name}.plasmite"
        create_pool_file(path, 16 * 1024)
        with PoolFile(path) as pool:
            assert pool.version == 3
            for payload in payloads:
                if single:
                    pool.append(payload)
                else:
                    pool.append_many([payload])
            assert pool.state().oldest > 1  # wrapped and evicted
        files.append(path.read_bytes())
    monkeypatch.undo()
    assert files[0] == files[1]
    assert validate_pool(tmp_path / "single.plasmite")["issues"] == []
