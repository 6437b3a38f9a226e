"""Lite3 payloads (format 3): round trips, limits, damaged input, and `pool migrate`."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit_plasmite.core import lite3
from toolkit_plasmite.core.pool import PoolFile, create_pool_file
from toolkit_plasmite.errors import CorruptError, UsageError

_text = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=20)
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(1 << 63), (1 << 63) - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text,
    lambda inner: st.lists(inner, max_size=20) | st.dictionaries(_text, inner, max_size=20),
    max_leaves=80,
)


@settings(max_examples=300, deadline=None)
@given(data=st.dictionaries(_text, _json, max_size=60), tags=st.lists(_text, max_size=5))
def test_encode_decode_round_trip(data: dict[str, Any], tags: list[str]) -> None:
    assert lite3.decode_message(lite3.encode_message(data, tags)) == (data, tags)


def test_big_containers_build_multi_level_trees() -> None:
    data = {f"key{i}": list(range(i % 70)) for i in range(3000)}
    assert lite3.decode_message(lite3.encode_message(data, [])) == (data, [])


def test_large_integers_become_floats_as_in_plasmite() -> None:
    data, _ = lite3.decode_message(lite3.encode_message({"u": 1 << 63, "big": 1 << 70}, []))
    assert data == {"u": float(1 << 63), "big": float(1 << 70)}


def test_nesting_limit_refused_at_append_and_nothing_committed(tmp_path: Path) -> None:
    path = tmp_path / "p.plasmite"
    create_pool_file(path, 64 * 1024)
    ok: dict[str, Any] = {}
    for _ in range(30):  # data is level 2: 31 levels in all
        ok = {"d": ok}
    with PoolFile(path) as pool:
        pool.append(pool.encode_payload(ok))
        too_deep = {"d": {"d": ok}}
        with pytest.raises(UsageError, match="nests deeper"):
            pool.encode_payload(too_deep)
        assert pool.state().newest == 1
        assert lite3.decode_message(pool.get(1)[2])[0] == ok


@pytest.mark.parametrize(
    ("data", "message"),
    [({"a\x00b": 1}, "NUL"), ({"f": float("nan")}, "not a JSON number"), ({"s": {1, 2}}, "not a JSON value")],
)
def test_unstorable_values_are_usage_errors(data: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        lite3.encode_message(data, [])


@settings(max_examples=300, deadline=None)
@given(cut=st.integers(0, 2000), flips=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=6))
def test_damaged_documents_raise_corrupt_only(cut: int, flips: list[tuple[int, int]]) -> None:
    doc = bytearray(lite3.encode_message({f"k{i}": [i, {"x": "y" * i}] for i in range(20)}, ["t"]))
    for pos, value in flips:
        if pos < len(doc):
            doc[pos] = value
    with contextlib.suppress(CorruptError):
        lite3.decode_message(bytes(doc[: max(cut, 1)] if cut < len(doc) else doc))


def test_pool_migrate_keeps_seqs_times_and_data(cli, pool_dir: Path) -> None:
    cli("plasmite", "pool", "create", "old", "--size", "64K", "--format-version", "100").assert_success()
    for i in range(5):
        cli("plasmite", "feed", "old", json.dumps({"i": i}), "--tag", "t").assert_success()
    before = [cli("plasmite", "fetch", "old", str(s)).assert_success().json() for s in range(1, 6)]
    res = cli("plasmite", "pool", "migrate", "old", "--json").assert_success().json()
    assert res["migrated"] is True
    assert (res["from_version"], res["to_version"], res["messages"], res["evicted"]) == (100, 3, 5, 0)
    with PoolFile(pool_dir / "old.plasmite") as pool:
        assert pool.version == 3
    after = [cli("plasmite", "fetch", "old", str(s)).assert_success().json() for s in range(1, 6)]
    assert after == before
    again = cli("plasmite", "pool", "migrate", "old", "--json").assert_success().json()
    assert again["migrated"] is False
    cli("plasmite", "feed", "old", '{"i": 5}').assert_success()
    assert cli("plasmite", "fetch", "old", "6").assert_success().json()["data"] == {"i": 5}


def test_a_tail_skips_an_undecodable_message_and_goes_on(tmp_path: Path) -> None:
    from toolkit_plasmite.core.tail import follow

    path = tmp_path / "bad.plasmite"
    create_pool_file(path, 64 * 1024)
    with PoolFile(path) as pool:
        pool.append(pool.encode_payload({"i": 1}))
        pool.append(b"\x06" + bytes(40))  # a frame whose payload no reader can decode
        pool.append(pool.encode_payload({"i": 3}))
        skipped: list[int | None] = []
        got = [
            (seq, data)
            for seq, _ts, data, _tags in follow(
                pool, since_seq=1, timeout=0.2, on_corrupt=lambda exc: skipped.append(exc.seq)
            )
        ]
    assert got == [(1, {"i": 1}), (3, {"i": 3})]
    assert skipped == [2]
