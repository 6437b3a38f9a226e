"""`follow --format lite3`: plasmite's framed Lite3 stream of the stored bytes, end to end."""

from __future__ import annotations

import json
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from toolkit_plasmite import Client
from toolkit_plasmite.core import lite3


def _run(argv: list[str], env: dict[str, str], *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*argv, *args], input=stdin, capture_output=True, env=env, timeout=120, check=False)


def _frames(stream: bytes) -> list[tuple[int, int, bytes]]:
    """(seq, time_ns, document) of each frame after the `PLS1` magic; the stream must end on a frame."""
    assert stream.startswith(b"PLS1")
    out, pos = [], 4
    while pos < len(stream):
        seq, ts, size = struct.unpack_from(">QQI", stream, pos)
        pos += 20
        out.append((seq, ts, stream[pos : pos + size]))
        pos += size
    assert pos == len(stream)
    return out


def _fill(pool_dir: Path, name: str, version: int = 3) -> None:
    pool_dir.mkdir(parents=True, exist_ok=True)
    from toolkit_plasmite.core.pool import create_pool_file

    create_pool_file(pool_dir / f"{name}.plasmite", 1 << 20, version=version)
    with Client(str(pool_dir)) as client, client.open_pool(name) as pool:
        for i, tags in enumerate((["a"], [], ["a", "b"], ["b"])):
            pool.append({"i": i, "s": "é\u0000", "f": 1.5, "nested": {"l": [i, None, True]}}, tags)


def test_history_is_the_stored_documents_framed_and_feeds_back_unchanged(
    plasmite_argv: list[str], sub_env: dict[str, str], pool_dir: Path
) -> None:
    _fill(pool_dir, "src")
    with Client(str(pool_dir)) as client, client.open_pool("src") as src:
        stored = {seq: src.get_lite3(seq) for seq in (1, 2, 3, 4)}
    res = _run(plasmite_argv, sub_env, "follow", "src", "--no-follow", "--format", "lite3")
    assert res.returncode == 0, res.stderr
    assert _frames(res.stdout) == [(s, f.timestamp_ns, f.payload) for s, f in stored.items()]
    # The selection still applies: --tag, --where, --tail, --one.
    for args, seqs in (
        (["--tag", "a"], [1, 3]),
        (["--where", ".data.i >= 2"], [3, 4]),
        (["--tail", "2"], [3, 4]),
        (["--tag", "b", "--one"], [3]),
    ):
        res = _run(plasmite_argv, sub_env, "follow", "src", "--no-follow", "--format", "lite3", *args)
        assert res.returncode == 0, res.stderr
        assert [seq for seq, _, _ in _frames(res.stdout)] == seqs, args
    # Nothing selected: no output at all (not even the magic), as plasmite.
    res = _run(plasmite_argv, sub_env, "follow", "src", "--no-follow", "--format", "lite3", "--tag", "zz")
    assert (res.returncode, res.stdout) == (0, b"")
    # `feed` reads the stream back: the same bytes are stored.
    full = _run(plasmite_argv, sub_env, "follow", "src", "--no-follow", "--format", "lite3").stdout
    _run(plasmite_argv, sub_env, "pool", "create", "dst")
    fed = _run(plasmite_argv, sub_env, "feed", "dst", "-i", "lite3", stdin=full)
    assert fed.returncode == 0, fed.stderr
    with Client(str(pool_dir)) as client, client.open_pool("dst") as dst:
        assert [dst.get_lite3(seq).payload for seq in (1, 2, 3, 4)] == [f.payload for f in stored.values()]


def test_live_messages_are_framed_as_they_arrive(
    plasmite_argv: list[str], sub_env: dict[str, str], pool_dir: Path
) -> None:
    _fill(pool_dir, "live")
    proc = subprocess.Popen(
        [*plasmite_argv, "follow", "live", "--format", "lite3", "--tag", "new", "--one", "--timeout", "60s"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=sub_env,
    )
    try:
        doc = lite3.encode_message({"live": True}, ["new"])
        seq = None
        while proc.poll() is None:  # append until the follower (started at its own pace) has seen one
            fed = _run(plasmite_argv, sub_env, "feed", "live", "-i", "lite3-raw", stdin=doc)
            assert fed.returncode == 0, fed.stderr
            seq = json.loads(fed.stdout)["seq"]
            try:
                proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                continue
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    [(got_seq, _, payload)] = _frames(out)
    assert payload == doc
    assert seq is not None
    assert 5 <= got_seq <= seq


def test_a_format_100_pool_is_encoded_to_lite3(
    plasmite_argv: list[str], sub_env: dict[str, str], pool_dir: Path
) -> None:
    _fill(pool_dir, "old", version=100)
    res = _run(plasmite_argv, sub_env, "follow", "old", "--no-follow", "--format", "lite3", "--tail", "1")
    assert res.returncode == 0, res.stderr
    [(seq, _, payload)] = _frames(res.stdout)
    assert seq == 4
    assert lite3.decode_message(payload) == (
        {"i": 3, "s": "é\u0000", "f": 1.5, "nested": {"l": [3, None, True]}},
        ["b"],
    )


def test_lite3_raw_and_data_only_are_usage_errors_in_human_lines(
    plasmite_argv: list[str], sub_env: dict[str, str], pool_dir: Path
) -> None:
    _fill(pool_dir, "src")
    cases = (
        (["src", "--format", "lite3-raw"], "follow does not support --format lite3-raw"),
        (["src", "--format", "lite3", "--data-only"], "--data-only does not apply to --format lite3"),
        (["src", "--format", "lite3", "--jsonl"], "give --jsonl or --format, not both"),
    )
    for args, message in cases:
        res = _run(plasmite_argv, sub_env, "follow", *args, "--no-follow")
        assert res.returncode == 2, args
        assert res.stdout == b""
        # Beside Lite3 output, errors are human lines even off a terminal (as plasmite 1.2.1).
        assert res.stderr.decode().splitlines()[0] == f"error: {message}", args
    raw = _run(plasmite_argv, sub_env, "follow", "src", "--format", "lite3-raw")
    assert (
        raw.stderr
        == b"error: follow does not support --format lite3-raw\nhint: Use --format lite3 for a framed stream.\n"
    )
    missing = _run(plasmite_argv, sub_env, "follow", "nope", "--format", "lite3")
    assert missing.returncode != 0
    assert (missing.stdout, missing.stderr.decode().splitlines()[0]) == (b"", "error: not found")
    # Before the command, lite3 stays a Usage error.
    res = _run(plasmite_argv, sub_env, "--format", "lite3", "follow", "src", "--no-follow")
    assert res.returncode == 2
    assert b"Traceback" not in res.stderr


def test_a_remote_follow_reads_the_lite3_tail_and_prints_the_same_stream(
    plasmite_argv: list[str], sub_env: dict[str, str], pool_dir: Path, serve: Callable[..., Any]
) -> None:
    _fill(pool_dir, "src")
    server = serve()
    args = ["--no-follow", "--format", "lite3", "--tail", "3", "--where", ".data.i != 2"]
    local = _run(plasmite_argv, sub_env, "follow", "src", *args)
    remote = _run(plasmite_argv, sub_env, "follow", f"{server.base_url}/src", *args)
    assert remote.returncode == 0, remote.stderr
    assert remote.stdout == local.stdout
    assert [seq for seq, _, _ in _frames(remote.stdout)] == [2, 4]
    live = _run(plasmite_argv, sub_env, "follow", f"{server.base_url}/src", "--format", "lite3", "--timeout", "300ms")
    assert (live.returncode, live.stdout) == (124, b"")


def test_without_filters_the_documents_are_not_decoded(
    plasmite_argv: list[str], sub_env: dict[str, str], pool_dir: Path
) -> None:
    """No --where/--tag: stored bytes pass through undecoded, even a damaged one; a filter skips it with a notice."""
    from toolkit_plasmite.core.pool import PoolFile

    _fill(pool_dir, "src")
    with PoolFile(pool_dir / "src.plasmite") as pool:
        pool.append(b"\x06 not a lite3 document", False)
    res = _run(plasmite_argv, sub_env, "follow", "src", "--no-follow", "--format", "lite3", "--tail", "2")
    assert res.returncode == 0, res.stderr
    assert [(seq, doc[:3]) for seq, _, doc in _frames(res.stdout)][1] == (5, b"\x06 n")
    assert res.stderr == b""
    res = _run(plasmite_argv, sub_env, "follow", "src", "--no-follow", "--format", "lite3", "--tag", "b")
    assert [seq for seq, _, _ in _frames(res.stdout)] == [3, 4]
    assert res.stderr.decode().startswith("notice: skipped message 5: ")  # human beside Lite3 output


def test_duplex_prints_the_same_framed_stream_locally_and_remotely(
    plasmite_argv: list[str], sub_env: dict[str, str], pool_dir: Path, serve: Callable[..., Any]
) -> None:
    """`duplex --format lite3`: the tail and what it sent, as the stored documents framed; lite3-raw is refused."""
    _fill(pool_dir, "src")
    server = serve()
    for ref, sent_seq in (("src", 5), (f"{server.base_url}/src", 6)):
        res = _run(plasmite_argv, sub_env, "duplex", ref, "--tail", "2", "--format", "lite3", stdin=b'{"me":1}\n')
        assert res.returncode == 0, res.stderr
        frames = _frames(res.stdout)
        assert [seq for seq, _, _ in frames] == [sent_seq - 2, sent_seq - 1, sent_seq], ref
        with Client(str(pool_dir)) as client, client.open_pool("src") as pool:
            assert [doc for _, _, doc in frames] == [pool.get_lite3(seq).payload for seq, _, _ in frames]
            assert pool.get(sent_seq).data == {"me": 1}
    refused = _run(plasmite_argv, sub_env, "duplex", "src", "--format", "lite3-raw", stdin=b"{}\n")
    assert refused.returncode == 2
    assert refused.stderr.decode().startswith("error: duplex does not support --format lite3-raw\nhint: ")
