"""One pool file, two implementations: the real plasmite CLI and ours read and write it.

Format 3 with Lite3 payloads is our default, so every pool here is created by one side
and used by the other, also concurrently, and plasmite's wake-up semaphore works both ways.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.testing_peers import require_peer
from toolkit_plasmite import Client
from toolkit_plasmite.core.pool import PoolFile
from toolkit_plasmite.core.semaphore import PoolSemaphore

pytestmark = pytest.mark.interop


def _real() -> str:
    return str(require_peer("plasmite").path)


def _run(*args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_real(), *args], input=stdin, capture_output=True, text=True, check=check, timeout=60)


def _real_read_all(pools: Path, name: str, count: int) -> list[dict[str, Any]]:
    """Every retained message as the real CLI prints it (`--no-follow`, jsonl), checked to be `count`."""
    res = _run("--dir", str(pools), "follow", name, "--no-follow", "--format", "json")
    out = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(out) == count, res.stderr
    return out


def test_real_cli_writes_and_we_read(tmp_path: Path) -> None:
    pools = tmp_path / "pools"
    _run("--dir", str(pools), "pool", "create", "shared")
    lines = "".join(
        json.dumps({"i": i, "s": "x" * i, "f": i / 3, "n": None, "l": [i, {"k": True}]}) + "\n" for i in range(50)
    )
    _run("--dir", str(pools), "feed", "shared", "--tag", "real", stdin=lines)
    client = Client(str(pools))
    pool = client.open_pool("shared")
    theirs = _real_read_all(pools, "shared", 50)
    ours = [pool.get(seq) for seq in range(1, 51)]
    assert [m.seq for m in ours] == list(range(1, 51))
    for mine, real in zip(ours, theirs, strict=True):
        assert mine.data == real["data"]
        assert list(mine.tags) == real["meta"]["tags"] == ["real"]
        assert mine.time_rfc3339 == real["time"]
    assert client.pool_info("shared")["bounds"] == {"oldest": 1, "newest": 50}
    pool.close()


def test_we_write_and_the_real_cli_reads(tmp_path: Path) -> None:
    pools = tmp_path / "pools"
    client = Client(str(pools))
    pool = client.create_pool("ours", 256 * 1024)
    sent = [{"i": i, "nested": {"deep": [1, 2.5, "three", None, False]}, "u": "\u00e9\u4e2d"} for i in range(400)]
    for i, data in enumerate(sent):
        pool.append(data, [f"t{i % 3}"])
    pool.close()
    info = json.loads(_run("--dir", str(pools), "pool", "info", "ours").stdout)
    oldest, newest = info["bounds"]["oldest"], info["bounds"]["newest"]
    assert newest == 400
    assert oldest > 1  # the ring wrapped and evicted: both sides agree on bounds
    got = _real_read_all(pools, "ours", newest - oldest + 1)
    assert [m["seq"] for m in got] == list(range(oldest, 401))
    assert [m["data"] for m in got] == sent[oldest - 1 :]
    assert [m["meta"]["tags"] for m in got] == [[f"t{(s - 1) % 3}"] for s in range(oldest, 401)]
    fetched = json.loads(_run("--dir", str(pools), "fetch", "ours", "400").stdout)
    assert fetched["data"] == sent[-1]
    doctor = json.loads(_run("--dir", str(pools), "doctor", "ours").stdout)
    assert doctor["reports"][0]["status"] == "ok"


def test_both_write_one_pool_concurrently_and_both_read_everything(tmp_path: Path) -> None:
    pools = tmp_path / "pools"
    client = Client(str(pools))
    client.create_pool("mixed", 4 * 1024 * 1024).close()
    n = 300
    lines = "".join(json.dumps({"from": "real", "i": i}) + "\n" for i in range(n))
    real = subprocess.Popen(
        [_real(), "--dir", str(pools), "feed", "mixed"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    feeder = threading.Thread(target=lambda: real.communicate(lines, timeout=60))
    feeder.start()
    pool = client.open_pool("mixed")
    for i in range(n):
        pool.append({"from": "ours", "i": i})
    feeder.join()
    assert real.returncode == 0
    got = [pool.get(seq) for seq in range(1, 2 * n + 1)]
    for who in ("real", "ours"):
        assert [m.data["i"] for m in got if m.data["from"] == who] == list(range(n))
    theirs = _real_read_all(pools, "mixed", 2 * n)
    assert [m["data"] for m in theirs] == [m.data for m in got]
    pool.close()


def test_wakeups_cross_both_ways(tmp_path: Path) -> None:
    pools = tmp_path / "pools"
    client = Client(str(pools))
    client.create_pool("wake").close()
    path = pools / "wake.plasmite"
    # The real writer posts the semaphore our followers wait on (same name derivation).
    ours = PoolSemaphore(str(path))
    assert ours.available
    while ours.wait(0):
        pass
    _run("--dir", str(pools), "feed", "wake", '{"from":"real"}')
    assert ours.wait(2.0)
    # Our writer posts it for the real follower: it sees our append promptly.
    follower = subprocess.Popen(
        [_real(), "--dir", str(pools), "follow", "wake", "--tail", "1", "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout is not None
        assert json.loads(follower.stdout.readline())["data"] == {"from": "real"}
        pool = PoolFile(path)
        started = time.monotonic()
        pool.append(pool.encode_payload({"from": "ours"}))
        line = follower.stdout.readline()
        elapsed = time.monotonic() - started
        assert json.loads(line)["data"] == {"from": "ours"}
        assert elapsed < 1.0
        pool.close()
    finally:
        follower.kill()
        follower.communicate()
    # And our follower (the CLI) sees a real append.
    ours_follow = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from toolkit_plasmite.cli import main; main()",
            "--dir",
            str(pools),
            "follow",
            "wake",
            "--jsonl",
            "--one",
            "--timeout",
            "20s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)
    _run("--dir", str(pools), "feed", "wake", '{"from":"real again"}')
    out, err = ours_follow.communicate(timeout=30)
    assert ours_follow.returncode == 0, err
    assert json.loads(out)["data"] == {"from": "real again"}


# The real CLI's JSON output drops U+007F..U+009F (stored bytes are intact: our reader
# returns them), so the round trips through its output leave those characters out.
_C1 = "".join(chr(c) for c in range(0x7F, 0xA0))
_keys = st.text(st.characters(exclude_characters="\x00" + _C1, exclude_categories=["Cs"]), max_size=12)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_characters=_C1, exclude_categories=["Cs"]), max_size=40)
)
# Large random documents are the point here; the fixture is per test on purpose.
_RANDOM_JSON_CHECKS = [HealthCheck.function_scoped_fixture, HealthCheck.data_too_large]
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=12) | st.dictionaries(_keys, inner, max_size=12),
    max_leaves=40,
)
_records = st.lists(st.dictionaries(_keys, _json, max_size=10), min_size=1, max_size=8)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        # The real plasmite's number path can move a double by an ulp (it stores and prints
        # 7389161371857886.0 for 7389161371857887.0 fed to it), so floats match within 4 ulps.
        if not (isinstance(a, int | float) and isinstance(b, int | float)):
            return False
        return a == b or abs(a - b) <= 4 * math.ulp(max(abs(a), abs(b)))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@settings(max_examples=25, deadline=None, suppress_health_check=_RANDOM_JSON_CHECKS)
@given(records=_records)
def test_random_json_through_ours_then_the_real_cli(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    pools = tmp_path / f"p{time.monotonic_ns()}"
    client = Client(str(pools))
    pool = client.create_pool("prop", 8 * 1024 * 1024)
    for data in records:
        pool.append(data, ["x"])
    pool.close()
    got = _real_read_all(pools, "prop", len(records))
    assert len(got) == len(records)
    for sent, real in zip(records, got, strict=True):
        assert _same(sent, real["data"]), (sent, real["data"])


@settings(max_examples=25, deadline=None, suppress_health_check=_RANDOM_JSON_CHECKS)
@given(records=_records)
def test_random_json_through_the_real_cli_then_ours(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    pools = tmp_path / f"p{time.monotonic_ns()}"
    _run("--dir", str(pools), "pool", "create", "prop", "--size", "8M")
    lines = "".join(json.dumps(r) + "\n" for r in records)
    _run("--dir", str(pools), "feed", "prop", stdin=lines)
    pool = Client(str(pools)).open_pool("prop")
    try:
        for seq, sent in enumerate(records, start=1):
            assert _same(sent, pool.get(seq).data)
    finally:
        pool.close()


def test_pool_info_used_bytes_counts_frames_as_plasmite_does(tmp_path: Path) -> None:
    """`used_bytes` is the ring span of the retained frames (spec/v0; wraps included), on both sides.

    The same Lite3 documents give the same frames and so the same number. Our Lite3 *writer*
    lays trees out differently from the reference library (specs/plasmite/lite3.md), so the
    same JSON fed through each CLI can give documents of different sizes; here the bytes are
    the real CLI's, copied with `append_lite3`.
    """
    pools = tmp_path / "pools"
    _run("--dir", str(pools), "pool", "create", "real", "--size", "64K")
    lines = [
        {f"k{j}": j for j in range(64)},  # a tree of several nodes
        {"a": list(range(100))},
        {"a": {"b": {"c": {"d": 1}}}, "s": "é" * 50},
    ]
    _run("--dir", str(pools), "pool", "create", "src", "--size", "4M")
    for name in ("real", "src"):
        _run("--dir", str(pools), "feed", name, "--tag", "t", stdin="".join(json.dumps(x) + "\n" for x in lines * 20))
    with Client(str(pools)) as client:
        real = client.open_pool("real")
        assert real.info()["bounds"]["oldest"] > 1  # the ring wrapped: the span runs across its end
        copy = client.create_pool("copy", 64 * 1024)
        with client.open_pool("src") as src:
            for seq in range(1, src.last_seq + 1):
                copy.append_lite3(src.get_lite3(seq).payload)
        ours = {name: client.pool_info(name)["metrics"]["utilization"] for name in ("real", "copy")}
        real.close()
        copy.close()
    theirs = {
        name: json.loads(_run("--dir", str(pools), "pool", "info", name).stdout)["metrics"]["utilization"]
        for name in ("real", "copy")
    }
    assert ours["real"] == theirs["real"]
    assert ours["copy"] == theirs["copy"]
    assert theirs["copy"]["used_bytes"] == theirs["real"]["used_bytes"]
