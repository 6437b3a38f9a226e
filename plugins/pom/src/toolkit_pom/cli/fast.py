"""The `pom` console script: plain `pom logs` answered without importing click or the full CLI.

`pom logs NAME --lines 1000` is what agents and scripts run over and over, and the full CLI
(click, every command, honcho's commands) costs more than the socket round trip itself. This
module reads the argument list by hand; when every argument is one it understands, it asks the
running pom and prints the lines exactly as the click command would (both use
`render.log_text`). Anything else (`--json`, `--follow`, `--help`, an unknown or malformed
option, pom not running, an error answer) falls through to `toolkit_pom.cli.main.main`, which
parses, validates and reports errors itself: the fast path never prints an error of its own,
and a `logs` request changes nothing, so asking again there is harmless.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing is not worth its import on this path
if TYPE_CHECKING:
    from typing import Any

__all__ = ["main", "parse_logs_args"]

_VALUE_OPTIONS = {
    "-f": "file", "--file": "file", "-n": "lines", "--lines": "lines",
    "--grep": "grep", "--regex": "regex", "--after-id": "after_id",
}  # fmt: skip
_FLAG_OPTIONS = {"--stdout": ("stream", "stdout"), "--stderr": ("stream", "stderr"), "-t": ("timestamps", True)}
_FLAG_OPTIONS["--timestamps"] = _FLAG_OPTIONS["-t"]
_MAX_LINES = 100_000  # the click option's IntRange


def _int(text: str, low: int, high: int | None) -> int | None:
    try:
        value = int(text)
    except ValueError:
        return None
    return value if value >= low and (high is None or value <= high) else None


def parse_logs_args(argv: list[str]) -> dict[str, Any] | None:
    """Return the options of a plain `logs` command line, or None when click must handle it."""
    if not argv or argv[0] != "logs" or os.environ.get("TOOLKIT_JSON"):
        return None
    opts: dict[str, Any] = dict.fromkeys(("lines", "stream", "grep", "regex", "after_id"))
    opts.update(names=[], file=os.environ.get("POM_FILE") or None, timestamps=False)
    seen: set[str] = set()
    args = iter(argv[1:])
    only_names = False
    for arg in args:
        if only_names or not arg.startswith("-") or arg == "-":
            opts["names"].append(arg)
            continue
        if arg == "--":
            only_names = True
            continue
        name, eq, inline = arg.partition("=") if arg.startswith("--") else (arg[:2], "", arg[2:])
        if name in _FLAG_OPTIONS and not eq and not inline:
            key, value = _FLAG_OPTIONS[name]
            if key in seen:
                return None  # e.g. --stdout --stderr: let click apply its own rule
            seen.add(key)
            opts[key] = value
            continue
        if name not in _VALUE_OPTIONS:
            return None
        key = _VALUE_OPTIONS[name]
        value = inline if (eq or inline) else next(args, None)
        if value is None or key in seen:
            return None
        seen.add(key)
        if key == "lines":
            opts[key] = _int(value, 0, _MAX_LINES)
        elif key == "after_id":
            opts[key] = _int(value, 0, None)
        else:
            opts[key] = value
        if opts[key] is None:
            return None
    return opts if opts["names"] else None


def _fast_logs(argv: list[str]) -> bool:
    """Print the lines of a plain `pom logs` command; False when the full CLI must run instead."""
    opts = parse_logs_args(argv)
    if opts is None:
        return False
    from toolkit_pom.client import PomClient
    from toolkit_pom.render import log_text

    try:
        client = PomClient.for_config(opts["file"])
        try:
            lines, after_id = opts["lines"], opts["after_id"]
            data = client.call(
                "logs", names=opts["names"], stream=opts["stream"], grep=opts["grep"], regex=opts["regex"],
                after_id=after_id, limit=lines if lines is not None else (None if after_id is not None else 100),
            )  # fmt: skip
        finally:
            client.close()
    except Exception:  # not running, a bad pattern, an unknown name...: the full CLI reports it
        return False
    names: list[str] = opts["names"]
    gaps, text = log_text(data, len(names) > 1 or names == ["all"], opts["timestamps"])
    try:
        if gaps:
            sys.stderr.write(gaps + "\n")
        if text:
            sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # `pom logs | head`: like click, end quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None
    return True


def main() -> None:
    """Run the `pom` command."""
    if _fast_logs(sys.argv[1:]):
        return
    if sys.argv[1:2] == ["up"]:
        from toolkit_pom.cli.fast_up import run_fast_up

        if run_fast_up(sys.argv[1:]):
            return
    from toolkit_pom.cli.main import main as full_main

    full_main()
