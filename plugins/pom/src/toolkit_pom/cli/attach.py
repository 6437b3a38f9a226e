"""`pom attach NAME`: this terminal becomes the interactive process's terminal until Ctrl-].

Output comes from pom's log of the process (its recent lines, then everything new, line by
line); keys go to its pseudo-terminal through the control protocol's `input` op, in raw mode so
Ctrl-C, arrows and tabs reach the process. specs/pom/cli.md.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import termios
import threading
import tty
from collections.abc import Iterator
from typing import Any, BinaryIO

from toolkit_pom.client import PomClient

__all__ = ["DETACH", "attach_terminal"]

#: Ctrl-] detaches (as telnet and docker do); everything else is typed into the process.
DETACH = b"\x1d"


@contextlib.contextmanager
def _raw(fd: int) -> Iterator[None]:
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    # TCSANOW, not setraw's default TCSAFLUSH: keys typed before this point must reach the process.
    tty.setraw(fd, termios.TCSANOW)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _print_lines(out: BinaryIO, lines: list[dict[str, Any]]) -> None:
    # Raw mode turns off the terminal's newline translation: end lines with CR LF ourselves.
    if lines:
        out.write(b"".join(line["text"].encode("utf-8", "replace") + b"\r\n" for line in lines))
        out.flush()


def attach_terminal(
    output: PomClient, keys: PomClient, name: str, *, stdin_fd: int = 0, out: BinaryIO | None = None
) -> str:
    """Show `name`'s output and type this terminal's keys into it; return why it ended.

    `output` carries the follow stream, `keys` the `input` requests (one connection each, since a
    connection serves one request at a time). Returns "detached" (Ctrl-] or end of input) or
    "ended" (the process or pom went away).
    """
    out = out or sys.stdout.buffer
    recent = output.call("logs", names=[name], limit=20)
    _print_lines(out, recent["lines"])
    ended = threading.Event()

    def follow() -> None:
        with contextlib.suppress(Exception):  # pom shut down or the connection broke: same end
            for frame in output.stream("follow", names=[name], cursors=recent["cursors"]):
                _print_lines(out, frame["lines"])
        ended.set()

    threading.Thread(target=follow, name="pom-attach-output", daemon=True).start()
    with _raw(stdin_fd):
        # Announced once raw mode is on, so nothing typed after the banner is cooked or echoed twice.
        out.write(f"[pom] attached to {name}; Ctrl-] detaches\r\n".encode())
        out.flush()
        while not ended.is_set():
            ready, _, _ = select.select([stdin_fd], [], [], 0.2)
            if not ready:
                continue
            chunk = os.read(stdin_fd, 4096)
            detach = not chunk or DETACH in chunk
            chunk = chunk.split(DETACH)[0]
            if chunk:
                answer = keys.call("input", name=name, data=chunk.decode("utf-8", "replace"))
                if not answer["ok"]:
                    return "ended"
            if detach:
                return "detached"
    return "ended"
