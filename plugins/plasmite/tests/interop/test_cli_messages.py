"""The real plasmite 1.2.1 and ours on the same mistakes: same stdout, stderr and exit code per --format.

Each side runs in its own working directory on a pool directory of the same relative name, so
the paths they print can be compared as they are.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.testing_peers import require_peer

pytestmark = pytest.mark.interop

OURS = [sys.executable, "-c", "from toolkit_plasmite.cli import main; main()"]
FORMATS = ["json", "yaml", "pretty"]


def _run(argv: list[str], cwd: Path, stdin: bytes = b"") -> tuple[str, str, int]:
    proc = subprocess.run(argv, cwd=cwd, input=stdin, capture_output=True, timeout=60, check=False)
    return proc.stdout.decode(), proc.stderr.decode(), proc.returncode


@pytest.fixture
def side_by_side(tmp_path: Path) -> list[tuple[list[str], Path]]:
    """(argv prefix, working directory) of the real CLI and of ours."""
    real = require_peer("plasmite")
    sides = []
    for name, prefix in (("real", [str(real.path)]), ("ours", OURS)):
        cwd = tmp_path / name
        cwd.mkdir()
        sides.append(([*prefix, "--color", "never"], cwd))
    return sides


def _assert_same(sides: list[tuple[list[str], Path]], args: list[str], stdin: bytes = b"") -> tuple[str, str, int]:
    """Run `args` on both sides (on `--dir pools` unless they give their own); return the real one's result."""
    (real, real_cwd), (ours, ours_cwd) = sides
    if "--dir" not in args:
        args = ["--dir", "pools", *args]
    expected = _run(real + args, real_cwd, stdin)
    assert _run(ours + args, ours_cwd, stdin) == expected, args
    return expected


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_pool_messages_match_plasmite(side_by_side: list[tuple[list[str], Path]], fmt: str) -> None:
    cases = [
        ["follow", "nope"],
        ["follow", "nope", "--tail", "2", "--where", '.data.a == "x"', "--tag", "b c", "--replay", "2"],
        ["follow", "nope", "--one", "--timeout", "1s", "--since", "5m", "--no-notify", "--quiet-drops"],
        ["follow", "./pools/nope"],
        ["feed", "nope", '{"a":1}'],
        ["feed", "pools/nope", '{"a":1}'],
        ["pool", "info", "nope"],
        ["pool", "info", "./pools/nope"],
        ["fetch", "nope", "1"],
    ]
    for args in cases:
        _, stderr, status = _assert_same(side_by_side, ["--format", fmt, *args])
        assert status == 3
        assert "not found" in stderr
    assert not (side_by_side[1][1] / "pools" / "nope.plasmite").exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_existing_pool_message_matches_plasmite(side_by_side: list[tuple[list[str], Path]], fmt: str) -> None:
    _assert_same(side_by_side, ["--format", "json", "pool", "create", "x", "--size", "64K"])
    _, stderr, status = _assert_same(side_by_side, ["--format", fmt, "pool", "create", "x"])
    assert status == 4
    assert "Choose a different name" in stderr


def test_pretty_error_paths_are_shown_as_plasmite_shows_them(side_by_side: list[tuple[list[str], Path]]) -> None:
    """Relative paths gain `./`, `../` ones stay, absolute ones under the working directory become relative."""
    for dir_args in (["--dir", "pools"], ["--dir", "../elsewhere"]):
        _, stderr, _ = _assert_same(side_by_side, [*dir_args, "--format", "pretty", "fetch", "nope", "1"])
    assert "path: ../elsewhere/nope.plasmite" in stderr
    for prefix, cwd in side_by_side:  # the same absolute directory under each side's own working directory
        _, stderr, _ = _run([*prefix, "--dir", str(cwd / "abs"), "--format", "pretty", "fetch", "nope", "1"], cwd)
        assert "path: ./abs/nope.plasmite" in stderr


@pytest.mark.parametrize("fmt", FORMATS)
def test_feed_input_that_no_format_reads_is_refused_as_plasmite_does(
    side_by_side: list[tuple[list[str], Path]], fmt: str
) -> None:
    _assert_same(side_by_side, ["--format", "json", "pool", "create", "y", "--size", "64K"])
    for stdin in (b"# c\n---\na: 1\n...\n", b"hello\n", b"%YAML 1.2\n---\na: 1\n...\n"):
        stdout, stderr, status = _assert_same(side_by_side, ["--format", fmt, "feed", "y"], stdin)
        assert (stdout, status) == ("", 2)
        assert "unknown input format" in stderr
    stdout, _, _ = _assert_same(side_by_side, ["--format", "json", "pool", "info", "y"])
    assert '"message_count":0' in stdout  # nothing was appended
