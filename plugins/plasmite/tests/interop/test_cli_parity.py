"""Our CLI and the real plasmite 1.2.1, same commands side by side: terminal renderings and the flags users type."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from toolkit.testing_peers import require_peer

pytestmark = pytest.mark.interop

OURS = [sys.executable, "-c", "from toolkit_plasmite.cli import main; main()"]
_AGES = re.compile(r"\b\d+[smhd] ago\b")
_STAMPS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def _on_terminal(argv: list[str], status: int = 0) -> str:
    """Run `argv` with stdout and stderr on a pseudo-terminal (as a user sees it); return what it printed."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(argv, stdout=follower, stderr=follower, stdin=subprocess.DEVNULL)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=120) == status
    text = b"".join(chunks).decode().replace("\r\n", "\n")
    return _STAMPS.sub("<time>", _AGES.sub("<age>", text))


@pytest.fixture
def both(tmp_path: Path) -> tuple[list[str], list[str]]:
    """argv prefixes of the real CLI and ours, each on its own pool directory, colours off."""
    real = require_peer("plasmite")
    return (
        [str(real.path), "--dir", str(tmp_path / "real"), "--color", "never"],
        [*OURS, "--dir", str(tmp_path / "ours"), "--color", "never"],
    )


def test_terminal_renderings_match_plasmite(both: tuple[list[str], list[str]]) -> None:
    real, ours = both
    steps = [
        ["pool", "create", "demo", "--size", "64K"],
        ["pool", "info", "demo"],
        ["feed", "demo", '{"a":1,"b":[true,null,"x"]}', "--tag", "t"],
        ["pool", "info", "demo"],
        ["pool", "list"],
        ["fetch", "demo", "1"],
        ["doctor", "demo"],
        ["doctor", "--all"],
        ["pool", "delete", "demo"],
    ]
    for step in steps:
        assert _on_terminal(ours + step) == _on_terminal(real + step), step
    quiet = ["follow", "quiet", "--create", "--timeout", "200ms"]
    assert (
        _on_terminal(ours + quiet, 124)
        == _on_terminal(real + quiet, 124)
        == ("No messages received (timed out after 200ms).\n")
    )


def test_flags_users_type_work_on_both(both: tuple[list[str], list[str]]) -> None:
    real, ours = both
    for prefix in (real, ours):
        subprocess.run([*prefix, "pool", "create", "demo"], check=True, capture_output=True, timeout=120)
    runs = [
        ["feed", "demo", "--input-format", "json", '{"n":1}'],
        ["feed", "demo", "-i", "json", '{"n":2}', "--format", "json"],
        ["--format", "json", "feed", "demo", '{"n":3}'],
        ["follow", "demo", "--tail", "3", "--no-follow", "--format", "json"],
        ["feed", "demo", '{"data":{"n":4},"meta":{"tags":["copied"]},"seq":9,"time":"2020-01-01T00:00:00Z"}'],
        ["feed", "demo", "--data", '{"data":{"n":5},"meta":{"tags":["t"]},"seq":9,"time":"2020-01-01T00:00:00Z"}'],
        ["feed", "demo", '{"data":{"n":6},"meta":{"tags":[],"k":1},"seq":9,"time":"2020-01-01T00:00:00Z"}'],
        ["fetch", "demo", "2", "--format", "json"],
        ["pool", "info", "demo", "--format", "json"],
    ]
    for argv in runs:
        outs = []
        for prefix in (real, ours):
            done = subprocess.run([*prefix, *argv], check=False, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, (prefix[0], argv, done.stderr)
            outs.append([json.loads(line) for line in done.stdout.splitlines()])
        shape = [[sorted(doc) for doc in docs] for docs in outs]
        assert shape[0] == shape[1], argv
        assert [d.get("data") for d in outs[0]] == [d.get("data") for d in outs[1]], argv
        assert [d.get("meta") for d in outs[0]] == [d.get("meta") for d in outs[1]], argv


def test_fetch_of_a_missing_message_or_pool_says_what_plasmite_says(both: tuple[list[str], list[str]]) -> None:
    real, ours = both
    for prefix in (real, ours):
        subprocess.run([*prefix, "pool", "create", "demo"], check=True, capture_output=True, timeout=120)
        subprocess.run([*prefix, "feed", "demo", '{"a":1}'], check=True, capture_output=True, timeout=120)
    for step in (["fetch", "demo", "99"], ["fetch", "nopool", "1"]):
        seen = [_on_terminal(prefix + step, 3) for prefix in (ours, real)]
        # The pool directories differ (ours/, real/); everything else is byte for byte.
        assert seen[0].replace("/ours/", "/real/") == seen[1], step
        piped = [
            subprocess.run(prefix + step, capture_output=True, text=True, timeout=120, check=False)
            for prefix in (ours, real)
        ]
        assert [p.returncode for p in piped] == [3, 3]
        assert piped[0].stderr.replace("/ours/", "/real/") == piped[1].stderr, step


def test_errors_are_printed_in_the_format_asked_for_as_plasmite(both: tuple[list[str], list[str]]) -> None:
    """`--format pretty|json|yaml` decides how an error prints, in a pipe too, byte for byte as the real CLI."""
    real, ours = both
    for prefix in (real, ours):
        subprocess.run([*prefix, "pool", "create", "demo"], check=True, capture_output=True, timeout=120)
    for fmt in ("pretty", "json", "yaml"):
        for step in (["fetch", "demo", "99"], ["fetch", "nopool", "1"], ["pool", "delete", "nopool"]):
            for argv in (["--format", fmt, *step], [*step, "--format", fmt]):
                seen = [
                    subprocess.run(prefix + argv, capture_output=True, text=True, timeout=120, check=False)
                    for prefix in (ours, real)
                ]
                assert seen[0].returncode == seen[1].returncode != 0, argv
                assert seen[0].stderr.replace("/ours/", "/real/") == seen[1].stderr, argv


# Documents whose YAML exercises every rule: quoting of keys and values, escapes, floats, nesting.
YAML_DOCUMENTS = [
    {"a": 1, "b": [True, None, "x"], "s": 'he said "hi"\nok', "n": 1.5, "e": {},
     "nested": [[1, 2], {"a": []}, [], [[3]]]},
    {"q": "it's", "u": "é☃", "sp": " lead", "hash": "#x", "k-1": "a: b", "num": "12", "tab": "a\tb", "ctl": "\x01"},
    {key: 1 for key in ["", "-", "1", "null", "nUll", "y", "N", "~", "<<", "=", "2001-01-01", "a b", "a,b", "a#b",
                        "a:b", "k:", "- a", "-a", "?", "?a", ":a", "k\"q", "k'q", "a\\b", " a", "a ", "1_000", "0x1",
                        ".5", "+1", "1e3", "1e", ".inf", "-.inf", ".NaN", "inf", "1.", "é", "a\u00a0b", "\ufeffa",
                        "a\x7fb", "a\x85b", "a\u2028b", "[", "{a", "a]b", "@", "`", "a@b", "!", "&a", "*a", "|", ">"]},
    {"v": ["a\\b", "a\u00a0b", "a\u2028b", "\ufeffa", "a\x7fb", "a\x85b", "\x1b[0m", "x\ry", 'a"b', "😀", "\v", "\0"],
     "f": [1e16, 1e15, 123456789012345678, 0.0001, 0.00001, 2.5e-10, 100.0, 1e22, -1e-7, 0.1, -0.0,
           1.7976931348623157e308, 5e-324, -9223372036854775808]},
]  # fmt: skip


def _piped(argv: list[str]) -> str:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True).stdout
    return _STAMPS.sub("<time>", re.sub(r"_age_ms: \d+", "_age_ms: <n>", out)).replace("/ours/", "/real/")


def test_format_yaml_matches_plasmite(both: tuple[list[str], list[str]]) -> None:
    real, ours = both
    steps = [
        ["pool", "create", "demo", "--size", "64K", "--format", "yaml"],
        ["pool", "info", "demo", "--format", "yaml"],
        *(["feed", "demo", json.dumps(doc), "--tag", "t", "--format", "yaml"] for doc in YAML_DOCUMENTS),
        *(["fetch", "demo", str(seq), "--format", "yaml"] for seq in range(1, len(YAML_DOCUMENTS) + 1)),
        ["pool", "list", "--format", "yaml"],
        ["doctor", "demo", "--format", "yaml"],
        ["follow", "demo", "--no-follow", "--format", "yaml"],
        ["doctor", "--all", "--format", "yaml"],
        ["--format", "yaml", "pool", "delete", "demo"],
    ]
    for step in steps:
        if step[0] == "--format":
            seen = [_piped([*prefix[:-4], *step[:2], *prefix[-4:], *step[2:]]) for prefix in (ours, real)]
        else:
            seen = [_piped(prefix + step) for prefix in (ours, real)]
        assert seen[0] == seen[1], step


def test_format_pretty_into_a_pipe_prints_plasmites_plain_layouts(both: tuple[list[str], list[str]]) -> None:
    real, ours = both
    steps = [
        ["pool", "create", "a", "bb", "--size", "64K", "--format", "pretty"],
        ["pool", "info", "a", "--format", "pretty"],
        ["feed", "a", '{"x":1}'],
        ["pool", "info", "a", "--format", "pretty"],
        ["pool", "list", "--format", "pretty"],
        ["doctor", "a", "--format", "pretty"],
        ["pool", "create", "ix", "--size", "2M", "--index-capacity", "10", "--format", "pretty"],
    ]
    for step in steps:
        seen = [re.sub(r"\(\d+s ago\)", "(<age>)", _piped(prefix + step)) for prefix in (ours, real)]
        if step[1] == "list":  # MTIME's width varies with its trimmed digits: compare the cells
            assert [line.split() for line in seen[0].splitlines()] == [line.split() for line in seen[1].splitlines()]
        else:
            assert seen[0] == seen[1], step
    deleted = [
        subprocess.run(
            [*prefix, "pool", "delete", "a", "nope", "--format", "pretty"],
            capture_output=True, text=True, timeout=120, check=False,
        )
        for prefix in (ours, real)
    ]  # fmt: skip
    mine, theirs = ((d.returncode, d.stdout, d.stderr) for d in deleted)
    assert mine == theirs
    assert deleted[0].stdout.splitlines()[2].split() == ["nope", "ERR", "nope.plasmite", "pool", "not", "found"]


def test_fetch_format_lite3_writes_plasmites_bytes(tmp_path: Path) -> None:
    real = require_peer("plasmite")
    pools = tmp_path / "shared"
    subprocess.run([str(real.path), "--dir", str(pools), "pool", "create", "demo"], check=True, timeout=120)
    subprocess.run(
        [str(real.path), "--dir", str(pools), "feed", "demo", json.dumps(YAML_DOCUMENTS[0]), "--tag", "t"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    for fmt in ("lite3", "lite3-raw"):
        seen = [
            subprocess.run([*argv, "--dir", str(pools), "fetch", "demo", "1", "--format", fmt], capture_output=True,
                           timeout=120, check=True).stdout
            for argv in (OURS, [str(real.path)])
        ]  # fmt: skip
        assert seen[0] == seen[1], fmt
    assert seen[0]
    assert not seen[0].startswith(b"PLS1")  # raw: only the stored document


def test_feed_reads_plasmites_framed_lite3_both_ways(tmp_path: Path) -> None:
    """The real `follow --format lite3` into our `feed`, and our `fetch --format lite3` into the real `feed`."""
    from toolkit_plasmite import Client

    real = require_peer("plasmite")
    pools = tmp_path / "shared"
    subprocess.run(
        [str(real.path), "--dir", str(pools), "pool", "create", "src", "ours", "back"], check=True, timeout=120
    )
    for doc in YAML_DOCUMENTS[:3]:
        subprocess.run(
            [str(real.path), "--dir", str(pools), "feed", "src", json.dumps(doc), "--tag", "t"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    stream = subprocess.run(
        [str(real.path), "--dir", str(pools), "follow", "src", "--no-follow", "--format", "lite3"],
        capture_output=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    assert stream.startswith(b"PLS1")
    fed = subprocess.run(
        [*OURS, "--dir", str(pools), "feed", "ours"], input=stream, capture_output=True, timeout=120, check=False
    )
    assert fed.returncode == 0, fed.stderr
    ours_framed = subprocess.run(
        [*OURS, "--dir", str(pools), "fetch", "ours", "2", "--format", "lite3"],
        capture_output=True,
        timeout=120,
        check=True,
    ).stdout
    back = subprocess.run(
        [str(real.path), "--dir", str(pools), "feed", "back"],
        input=ours_framed,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert back.returncode == 0, back.stderr
    with Client(str(pools)) as client:
        src, ours, again = (client.open_pool(name) for name in ("src", "ours", "back"))
        assert [ours.get_lite3(s).payload for s in (1, 2, 3)] == [src.get_lite3(s).payload for s in (1, 2, 3)]
        assert again.get_lite3(1).payload == src.get_lite3(2).payload
        assert ours.get(3).tags == ["t"]
        for pool in (src, ours, again):
            pool.close()


def test_follow_format_lite3_writes_plasmites_bytes_and_the_real_feed_stores_them(tmp_path: Path) -> None:
    """On one pool: our `follow --format lite3` prints what the real one prints; the real `feed` reads it back."""
    from toolkit_plasmite import Client

    real = require_peer("plasmite")
    pools = tmp_path / "shared"
    subprocess.run([str(real.path), "--dir", str(pools), "pool", "create", "src", "back"], check=True, timeout=120)
    for i, doc in enumerate(YAML_DOCUMENTS[:4]):
        subprocess.run(
            [str(real.path), "--dir", str(pools), "feed", "src", json.dumps(doc), *(["--tag", "t"] if i % 2 else [])],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    selections: tuple[list[str], ...] = (
        [],
        ["--tag", "t"],
        ["--where", ".meta.tags == []"],
        ["--tag", "nope"],
        ["--one"],
    )
    for sel in selections:
        seen = [
            subprocess.run([*argv, "--dir", str(pools), "follow", "src", "--no-follow", "--format", "lite3", *sel],
                           capture_output=True, timeout=120, check=False)
            for argv in (OURS, [str(real.path)])
        ]  # fmt: skip
        assert [(s.returncode, s.stdout) for s in seen] == [(0, seen[1].stdout)] * 2, sel
    ours_stream = subprocess.run(
        [*OURS, "--dir", str(pools), "follow", "src", "--no-follow", "--format", "lite3"],
        capture_output=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    assert ours_stream.startswith(b"PLS1")
    back = subprocess.run(
        [str(real.path), "--dir", str(pools), "feed", "back", "-i", "lite3"],
        input=ours_stream, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert back.returncode == 0, back.stderr
    with Client(str(pools)) as client, client.open_pool("src") as src, client.open_pool("back") as again:
        assert [again.get_lite3(s).payload for s in (1, 2, 3, 4)] == [src.get_lite3(s).payload for s in (1, 2, 3, 4)]
    refused = [
        subprocess.run([*argv, "--dir", str(pools), "follow", "src", "--format", "lite3-raw"],
                       capture_output=True, timeout=120, check=False)
        for argv in (OURS, [str(real.path)])
    ]  # fmt: skip
    assert refused[0].returncode == refused[1].returncode == 2
    assert refused[0].stderr == refused[1].stderr  # the same words and hint, human lines beside Lite3


def test_duplex_format_lite3_writes_plasmites_stream(tmp_path: Path) -> None:
    """`duplex --format lite3` prints plasmite's framed stream; lite3-raw is refused with plasmite's words."""
    real = require_peer("plasmite")
    pools = str(tmp_path / "shared")
    for step in (["pool", "create", "c"], ["feed", "c", '{"x":1}']):
        subprocess.run([str(real.path), "--dir", pools, *step], check=True, capture_output=True, timeout=120)

    def duplex(argv: list[str], line: str, *flags: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [*argv, "--dir", pools, "duplex", "c", *flags],
            input=line.encode(), capture_output=True, timeout=120, check=False,
        )  # fmt: skip

    def follow_tail(n: int) -> bytes:
        argv = [str(real.path), "--dir", pools, "follow", "c", "--tail", str(n), "--no-follow", "--format", "lite3"]
        return subprocess.run(argv, capture_output=True, timeout=120, check=True).stdout

    theirs = duplex([str(real.path)], '{"y":2}\n', "--tail", "1", "--format", "lite3")
    assert theirs.returncode == 0, theirs.stderr
    assert theirs.stdout == follow_tail(2)[: len(theirs.stdout)]  # the tail message, as plasmite frames it
    ours = duplex(OURS, '{"z":3}\n', "--tail", "2", "--format", "lite3")
    assert ours.returncode == 0, ours.stderr
    # The last 2 messages, then ours (which plasmite 1.2.1 would end without printing): its own stream, byte for byte.
    assert ours.stdout == follow_tail(3)
    refused = [duplex(argv, "{}\n", "--format", "lite3-raw") for argv in (OURS, [str(real.path)])]
    assert [r.returncode for r in refused] == [2, 2]
    assert refused[0].stderr == refused[1].stderr


def test_follow_tail_counts_retained_messages_before_filters_as_plasmite(tmp_path: Path) -> None:
    """On one pool: `--tail N` takes the last N retained, then filters; `--one` prints the first match."""
    real = require_peer("plasmite")
    pools = tmp_path / "shared"
    subprocess.run([str(real.path), "--dir", str(pools), "pool", "create", "p"], check=True, timeout=120)
    for i in range(1, 7):
        subprocess.run(
            [str(real.path), "--dir", str(pools), "feed", "p", json.dumps({"i": i}), *(["--tag", "e"] * (i % 2 == 0))],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    selections = (
        ["--tail", "3", "--tag", "e", "--no-follow"],  # i 4..6 retained -> 4, 6 (not 2, 4, 6)
        ["--tail", "1", "--tag", "e", "--no-follow"],
        ["--tail", "3", "--where", ".data.i < 3", "--no-follow"],  # none of the last 3
        ["--tail", "3", "--tag", "e", "--one", "--timeout", "1s"],  # 4: the first match of the history
        ["--tail", "4", "--tag", "e", "--one", "--timeout", "1s"],
        ["--tail", "1", "--where", ".data.i == 5", "--timeout", "300ms"],  # nothing: exit 124
        ["--tail", "9", "--tag", "e", "--no-follow"],
    )
    for sel in selections:
        seen = [
            subprocess.run([*argv, "--dir", str(pools), "follow", "p", "--format", "json", *sel],
                           capture_output=True, timeout=120, check=False)
            for argv in (OURS, [str(real.path)])
        ]  # fmt: skip
        assert (seen[0].returncode, seen[0].stdout) == (seen[1].returncode, seen[1].stdout), sel
    assert [json.loads(line)["data"]["i"] for line in seen[0].stdout.splitlines()] == [2, 4, 6]


YAML_INPUTS = [
    (["feed", "y"], "\n---\na: 1\nb: [x, y]\n...\n---\nc: {d: null}\n...\n"),
    (["feed", "y", "--tag", "t"], "---\nt: true\nyes: yes\nhex: 0x10\noct: 0o10\nlead: 010\nd: 2001-01-01\n...\n"),
    (["feed", "y"], "---\nf: 1e3\ng: -1.5E-3\nh: +.5\ni: 12.\nbig: 123456789012345678\n...\n"),
    (["feed", "y", "-i", "yaml"], "a: 1\nb:\n  - 2\n"),
    (["feed", "y"], "---\na: 1\n...\n---\nb: 2\n"),
    (["feed", "y"], "---\na: 1\n---\nb: 2\n...\n"),
    (["feed", "y"], '---\na: 1\n...\n{"j": 2}\n'),
    (["feed", "y", "-i", "yaml"], "a: 1\n---\nb: 2\n"),
    (["feed", "y"], "---\n1: a\n...\n"),
    (["feed", "y"], "---\na: &x {k: 1}\nb: *x\n...\n"),
    (["feed", "y"], "---\na: 1\na: 2\n...\n"),
    (["feed", "y"], "---\na: .inf\n...\n"),
    (["feed", "y"], "---\ns: |\n  line1\n  line2\nbin: !!binary aGVsbG8=\n...\n"),
    (["feed", "y"], '---\ndata:\n  k: 1\nmeta:\n  tags: [a]\nseq: 4\ntime: "2026-01-01T00:00:00Z"\n...\n'),
    (["feed", "y", "-i", "yaml"], ""),
]


def test_feed_reads_yaml_as_plasmite(both: tuple[list[str], list[str]]) -> None:
    """The same YAML inputs through both CLIs: the same messages, or the same error kind and words."""
    real, ours = both
    for prefix in (real, ours):
        subprocess.run([*prefix, "pool", "create", "y"], check=True, capture_output=True, timeout=120)

    def without_seq_and_time(out: str) -> list[Any]:
        return [{k: v for k, v in json.loads(line).items() if k not in ("seq", "time")} for line in out.splitlines()]

    for argv, text in YAML_INPUTS:
        seen = [
            subprocess.run([*prefix, *argv], input=text, capture_output=True, text=True, timeout=120, check=False)
            for prefix in (ours, real)
        ]
        assert seen[0].returncode == seen[1].returncode, (text, seen[0].stderr, seen[1].stderr)
        assert without_seq_and_time(seen[0].stdout) == without_seq_and_time(seen[1].stdout), text
        if seen[1].returncode:
            errors = [json.loads(s.stderr)["error"] for s in seen]
            assert [(e["kind"], e["message"]) for e in errors] == [(errors[1]["kind"], errors[1]["message"])] * 2, text
    for prefix in (real, ours):
        fetched = subprocess.run([*prefix, "follow", "y", "--tail", "100", "--no-follow", "--format", "json"],
                                 capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
        assert without_seq_and_time(fetched.stdout)
