"""`feed -i lite3|lite3-raw` (and `auto` on `PLS1`): plasmite's framed and raw Lite3 input, end to end."""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

from toolkit_plasmite import Client
from toolkit_plasmite.core import lite3


def _run(argv: list[str], env: dict[str, str], *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*argv, *args], input=stdin, capture_output=True, env=env, timeout=120, check=False)


def _framed(*docs: bytes) -> bytes:
    frames = b"".join(struct.pack(">QQI", 100 + i, 7, len(doc)) + doc for i, doc in enumerate(docs))
    return b"PLS1" + frames


def test_framed_and_raw_lite3_documents_are_appended_unchanged(
    plasmite_argv: list[str], sub_env: dict[str, str], pool_dir: Path
) -> None:
    pool_dir.mkdir(parents=True, exist_ok=True)
    with Client(str(pool_dir)) as client:
        client.create_pool("src", 1 << 20).close()
        client.create_pool("dst", 1 << 20).close()
        with client.open_pool("src") as src:
            for i, tags in enumerate((["a"], [], ["a", "b"])):
                src.append({"i": i, "s": "é\u0000", "f": 1.5, "nested": {"l": [1, None, True]}}, tags)
    # What our fetch prints (one framed record each) makes a stream; auto recognises PLS1.
    fetched = [_run(plasmite_argv, sub_env, "fetch", "src", str(seq), "--format", "lite3").stdout for seq in (1, 2, 3)]
    stream = fetched[0] + b"".join(f.removeprefix(b"PLS1") for f in fetched[1:])
    res = _run(plasmite_argv, sub_env, "feed", "dst", stdin=stream)
    assert res.returncode == 0, res.stderr
    receipts = [json.loads(line) for line in res.stdout.splitlines()]
    assert [(r["seq"], r["meta"]["tags"]) for r in receipts] == [(1, ["a"]), (2, []), (3, ["a", "b"])]
    raw = _run(plasmite_argv, sub_env, "fetch", "src", "3", "--format", "lite3-raw").stdout
    res = _run(plasmite_argv, sub_env, "feed", "dst", "-i", "lite3-raw", stdin=raw)
    assert res.returncode == 0, res.stderr
    with Client(str(pool_dir)) as client, client.open_pool("src") as src, client.open_pool("dst") as dst:
        copied = [dst.get_lite3(seq).payload for seq in (1, 2, 3, 4)]
        assert copied == [src.get_lite3(seq).payload for seq in (1, 2, 3, 3)]  # byte for byte
        assert dst.get(4).data == src.get(3).data


def test_bad_lite3_input_stops_after_the_good_documents(
    plasmite_argv: list[str], sub_env: dict[str, str], pool_dir: Path
) -> None:
    pool_dir.mkdir(parents=True, exist_ok=True)
    Client(str(pool_dir)).create_pool("dst", 1 << 20).close()
    good = lite3.encode_message({"ok": 1}, ["t"])
    truncated = _framed(good, good)[:-3]
    res = _run(plasmite_argv, sub_env, "feed", "dst", "-i", "lite3", stdin=truncated)
    assert res.returncode == 2
    assert "truncated Lite3 stream" in json.loads(res.stderr.splitlines()[-1])["error"]["message"]
    res = _run(plasmite_argv, sub_env, "feed", "dst", "-i", "lite3", stdin=_framed(b"\x06not lite3"))
    assert res.returncode == 2
    res = _run(plasmite_argv, sub_env, "feed", "dst", "-i", "lite3", stdin=b"PLSX" + good)
    assert res.returncode == 2
    with Client(str(pool_dir)) as client, client.open_pool("dst") as dst:
        assert dst.last_seq == 1  # the complete frame before the truncated one
        assert (dst.get(1).data, dst.get(1).tags) == ({"ok": 1}, ["t"])
    for extra in (["--tag", "x"], ["--data"], ['{"a":1}']):
        res = _run(plasmite_argv, sub_env, "feed", "dst", "-i", "lite3", *extra, stdin=_framed(good))
        assert res.returncode == 2, extra
        assert b"Traceback" not in res.stderr
    res = _run(plasmite_argv, sub_env, "feed", "dst", "-i", "lite3", stdin=b"")
    assert (res.returncode, res.stdout) == (0, b"")  # an empty stream is an empty copy
    with Client(str(pool_dir)) as client, client.open_pool("dst") as dst:
        assert dst.last_seq == 1
