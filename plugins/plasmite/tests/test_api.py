"""A program written for plasmite's Python binding, run against toolkit_plasmite.

The body of `binding_program` follows the binding's README and tests
(`bindings/python`); only the import differs (`import toolkit_plasmite as plasmite`).
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

import toolkit_plasmite as plasmite
from toolkit_kernel import errors as kernel_errors


def binding_program(data_dir: str) -> list[str]:
    from toolkit_plasmite import Client, Durability  # was: from plasmite import Client, Durability

    out = []
    with Client(data_dir) as client, client.create_pool("docs", 64 * 1024 * 1024) as pool:
        message = pool.append_json(b'{"kind":"note","text":"hi"}', ["note"], Durability.FAST)
        out.append(message.decode("utf-8"))
        for item in pool.tail(tags=["note"], max_messages=1, timeout_ms=100):
            out.append(item.raw.decode("utf-8"))
    return out


def test_readme_program_runs(tmp_path: Path) -> None:
    out = binding_program(str(tmp_path / "data"))
    first = json.loads(out[0])
    assert first["data"] == {"kind": "note", "text": "hi"}
    assert first["meta"] == {"tags": ["note"]}
    assert first["seq"] == 1
    assert json.loads(out[1]) == first


def test_module_surface() -> None:
    for name in (
        "Client",
        "Pool",
        "Message",
        "Durability",
        "ErrorKind",
        "PlasmiteError",
        "parse_message",
        "NotFoundError",
        "AlreadyExistsError",
        "BusyError",
        "PermissionDeniedError",
        "CorruptError",
        "IoError",
        "UsageError",
        "InternalError",
        "RetentionGapError",
        "Stream",
        "MessageMeta",
        "DEFAULT_POOL_SIZE",
        "DEFAULT_POOL_SIZE_BYTES",
        "default_pool_dir",
        "RemoteClient",
    ):
        assert hasattr(plasmite, name), name
    assert [int(k) for k in plasmite.ErrorKind] == list(range(1, 10))
    assert (int(plasmite.Durability.FAST), int(plasmite.Durability.FLUSH)) == (0, 1)
    assert issubclass(plasmite.NotFoundError, kernel_errors.NotFound)
    assert issubclass(plasmite.CorruptError, kernel_errors.Corrupt)


def test_append_get_messages(tmp_path: Path) -> None:
    client = plasmite.Client(str(tmp_path))
    pool = client.pool("work", 1024 * 1024)
    msg = pool.append({"task": "resize", "id": 1}, ["jobs"])
    assert isinstance(msg, plasmite.Message)
    assert msg.seq == 1
    assert msg.tags == ["jobs"]
    assert msg.data == {"task": "resize", "id": 1}
    assert isinstance(msg.time, datetime)
    assert msg.time.tzinfo is not None
    assert msg.time_rfc3339.endswith("Z")
    again = pool.get(1)
    assert again.data == msg.data
    assert again.time_rfc3339 == msg.time_rfc3339
    assert plasmite.parse_message(again.raw) == again
    pool.append({"task": "x"}, durability=plasmite.Durability.FLUSH)
    assert json.loads(pool.get_json(2))["data"] == {"task": "x"}
    with pytest.raises(plasmite.NotFoundError) as info:
        pool.get(99)
    assert info.value.kind == plasmite.ErrorKind.NOT_FOUND
    assert info.value.seq == 99
    with pytest.raises(plasmite.UsageError):
        pool.append([1, 2])
    with pytest.raises(ValueError, match="payload is required"):
        pool.append_json(b"", [], plasmite.Durability.FAST)
    with pytest.raises(ValueError, match=">= 0"):
        pool.get(-1)
    pool.close()
    with pytest.raises(plasmite.PlasmiteError):
        pool.get(1)
    with pytest.raises(plasmite.AlreadyExistsError):
        client.create_pool("work")
    with pytest.raises(plasmite.NotFoundError):
        client.open_pool("nope")
    # additions the binding lacks
    assert [p["name"] for p in client.list_pools()] == ["work"]
    assert client.pool_info("work")["bounds"] == {"oldest": 1, "newest": 2}
    assert client.validate_pool("work")["status"] == "ok"
    client.delete_pool("work")
    assert client.list_pools() == []
    client.close()


def test_tail_stream_and_replay(tmp_path: Path) -> None:
    with plasmite.Client(str(tmp_path)) as client, client.pool("t") as pool:
        for i in range(5):
            pool.append({"i": i}, ["even"] if i % 2 == 0 else [])
        got = [m.data["i"] for m in pool.tail(max_messages=10, timeout_ms=50)]
        assert got == [0, 1, 2, 3, 4]  # without since_seq: from the oldest retained
        got = [m.data["i"] for m in pool.tail(since_seq=2, tags=["even"], timeout_ms=50)]
        assert got == [2, 4]
        with pool.open_stream(since_seq=4, max_messages=5, timeout_ms=50) as stream:
            items = [json.loads(b)["seq"] for b in stream]
        assert items == [4, 5]

        def later() -> None:
            time.sleep(0.2)
            with plasmite.Client(str(tmp_path)).open_pool("t") as other:
                other.append({"i": 99})

        thread = threading.Thread(target=later)
        thread.start()
        live = list(pool.tail(since_seq=6, max_messages=1, timeout_ms=10_000))
        thread.join()
        assert [m.data for m in live] == [{"i": 99}]
        start = time.monotonic()
        replayed = list(pool.replay(speed=1000.0, since_seq=1, max_messages=3, timeout_ms=50))
        assert [m.seq for m in replayed] == [1, 2, 3]
        assert time.monotonic() - start < 5
        with pytest.raises(ValueError, match="speed"):
            list(pool.replay(speed=0))


def test_retention_gap_under_error_on_gap(tmp_path: Path) -> None:
    with plasmite.Client(str(tmp_path)) as client, client.create_pool("g", 8 * 1024) as pool:
        pool.append({"i": 0})
        for i in range(300):
            pool.append({"i": i, "pad": "x" * 40})
        with pytest.raises(plasmite.RetentionGapError) as info:
            list(pool.tail(since_seq=1, timeout_ms=50, error_on_gap=True))
        assert info.value.seq == 1
        assert info.value.kind == plasmite.ErrorKind.RETENTION_GAP
        kept = [m.seq for m in pool.tail(since_seq=1, timeout_ms=50)]
        assert kept
        assert kept == list(range(kept[0], 302))


def test_errors_are_runtime_errors_and_u64_arguments_never_wrap(tmp_path: Path) -> None:
    from toolkit_plasmite import Client, NotFoundError, PlasmiteError

    assert issubclass(PlasmiteError, RuntimeError)
    overflow = (1 << 64) + 1
    with Client(str(tmp_path / "pools")) as client:
        with pytest.raises(ValueError, match="size_bytes must fit"):
            client.create_pool("wrapped", 1 << 64)
        assert not (tmp_path / "pools" / "wrapped.plasmite").exists()
        with client.create_pool("p", 64 * 1024) as pool:
            pool.append({"k": 1})
            for call in (pool.get, pool.get_lite3):
                with pytest.raises(ValueError, match="seq must fit"):
                    call(overflow)
            for argument in ("since_seq", "max_messages", "timeout_ms"):
                with pytest.raises(ValueError, match=f"{argument} must fit"):
                    pool.open_stream(**{argument: overflow})  # type: ignore[arg-type]
                with pytest.raises(ValueError, match=f"{argument} must fit"):
                    pool.open_lite3_stream(**{argument: overflow})  # type: ignore[arg-type]
            with pytest.raises(NotFoundError):
                pool.get_json((1 << 64) - 1)


def test_lite3_stream_waits_again_after_a_timeout_and_reports_gaps(tmp_path: Path) -> None:
    with plasmite.Client(str(tmp_path)) as client, client.create_pool("s", 64 * 1024) as pool:
        pool.append({"n": 1}, [])
        stream = pool.open_lite3_stream(since_seq=1, timeout_ms=50)
        first = stream.next()
        assert first is not None
        assert first.seq == 1
        assert stream.next() is None  # nothing new within the timeout
        # Another thread appends while the stream waits: the same stream wakes and resumes after seq 1.
        appender = threading.Timer(0.1, lambda: pool.append({"n": 2}, []))
        appender.start()
        waiting = pool.open_lite3_stream(since_seq=2, timeout_ms=30_000)
        woke = waiting.next()
        appender.join()
        assert woke is not None
        assert woke.seq == 2
        second = stream.next()
        assert second is not None
        assert second.seq == 2
        capped = pool.open_lite3_stream(since_seq=1, max_messages=1, timeout_ms=0)
        assert [f.seq for f in capped] == [1]
        stream.close()
        waiting.close()
        # A stream that fell behind raises under error_on_gap, skips ahead otherwise.
        for n in range(400):
            pool.append({"n": n, "pad": "x" * 400}, [])
        with pytest.raises(plasmite.PlasmiteError):
            pool.open_lite3_stream(since_seq=1, timeout_ms=0, error_on_gap=True).next()
        skipped = pool.open_lite3_stream(since_seq=1, timeout_ms=0).next()
        assert skipped is not None
        assert skipped.seq > 1
