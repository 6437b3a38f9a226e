r"""Console examples in Markdown, read as sessions, and their documented output matched.

A fenced code block of language `console` is a terminal session: each `$ ` line is a command (a
trailing `\` joins the next line), the lines after it are what it prints.
`tests/test_doc_shell_examples.py` runs every such block of the docs with `toolkit.testing_shell`
and checks each command's output with `OutputMatcher`, which applies a small, fixed normalisation
so that documented output can show real values without going stale:

- whitespace: any run of spaces and tabs matches any other run; trailing spaces and leading or
  trailing blank lines are ignored;
- `…` matches any text within a line; a line that is only `…` matches any number of lines;
- timestamps: `2026-11-21`, `2026-11-21 09:12`, `2026-11-21T10:00:00.123456789Z` (any fraction,
  `Z` or an offset) match any timestamp of the same shape;
- ids and hashes: a word of at least 4 lower-case hex characters with a digit and a letter matches
  any hex word of the same length (of at least that length when `…` follows it). The first match
  binds the documented id to the real one: later output must show the same id, and later commands
  get the real id wherever they use the documented one or a prefix of it (`grite issue close 5f0c`).

Nothing else is normalised: every other character must be printed as documented.
"""

from __future__ import annotations

import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from toolkit.services import ServiceSpec

__all__ = [
    "Command",
    "ConsoleBlock",
    "OutputMatcher",
    "RunningService",
    "console_blocks",
    "hex_words",
    "running_service",
]

FENCE = re.compile(
    r"^(?:<!--\s*docs-test:(?P<directive>[^\n]*?)-->\n)?```(?P<lang>[\w-]*)\n(?P<body>.*?)^```[ \t]*$", re.S | re.M
)
ELLIPSIS = "…"
_TIMESTAMP = r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?"
_TOKENS = re.compile(
    rf"(?P<time>(?<![\w.]){_TIMESTAMP}(?![\w]))"
    rf"|(?P<hex>(?<![\w])[0-9a-f]{{4,}}(?![\w]))(?P<open>{ELLIPSIS})?"
    rf"|(?P<lines>^{ELLIPSIS}$\n?)"
    rf"|(?P<any>{ELLIPSIS})"
    r"|(?P<space>[ \t]+)",
    re.M,
)
_HEX_WORD = re.compile(r"(?<![\w])[0-9a-f]{4,}(?![\w])")


def _is_id(word: str) -> bool:
    """A hex word stands for an id only with a digit and a letter in it (not `2026`, not `face`)."""
    return any(c.isdigit() for c in word) and any(c.isalpha() for c in word)


def _same_shape(stamp: str) -> str:
    """Return a pattern for any timestamp shaped like `stamp` (any digits, any fraction length, any zone)."""
    parts = []
    for piece in re.finditer(r"\.\d+|Z|[+-]\d{2}:\d{2}|\d|.", stamp):
        text = piece.group(0)
        if text.startswith("."):
            parts.append(r"\.\d+")
        elif text == "Z" or len(text) == 6:
            parts.append(r"(?:Z|[+-]\d{2}:\d{2})")
        else:
            parts.append(r"\d" if text.isdigit() else re.escape(text))
    return "".join(parts)


def hex_words(text: str) -> list[str]:
    """Return the words of `text` that the matcher treats as ids."""
    return [word for word in _HEX_WORD.findall(text) if _is_id(word)]


@dataclass
class Command:
    """One `$ ` line (continuations joined) and the output documented under it."""

    line: int
    text: str
    output: list[str] = field(default_factory=list)

    @property
    def expected_output(self) -> str:
        """Return the documented output as one string."""
        return "\n".join(self.output)


@dataclass
class ConsoleBlock:
    """A fenced block and the `<!-- docs-test: KEY=VALUE ... -->` comment line just before it, if any."""

    line: int
    lang: str
    body: str
    directives: list[tuple[str, str]]

    def values(self, key: str) -> list[str]:
        """Return every value given for `key` (flags have the value "")."""
        return [value for name, value in self.directives if name == key]

    def commands(self) -> list[Command]:
        """Split the session into commands.

        Raises:
            ValueError: the block does not start with a `$ ` prompt, or a continuation never ends.
        """
        commands: list[Command] = []
        pending: Command | None = None
        for offset, raw in enumerate(self.body.splitlines()):
            if pending is not None:
                pending.text += " " + raw.strip().removesuffix("\\").rstrip()
                if not raw.rstrip().endswith("\\"):
                    pending = None
                continue
            if raw.startswith("$ ") or raw == "$":
                command = Command(self.line + offset, raw[2:].rstrip().removesuffix("\\").rstrip())
                commands.append(command)
                if raw.rstrip().endswith("\\"):
                    pending = command
            elif commands:
                commands[-1].output.append(raw)
            else:
                raise ValueError(f"line {self.line + offset}: a console block starts with a `$ ` command")
        if pending is not None:
            raise ValueError(f"line {pending.line}: the `\\` continuation never ends")
        return commands


def console_blocks(text: str) -> list[ConsoleBlock]:
    """Return every fenced block of a Markdown page, with the line its body starts on (1-based)."""
    blocks = []
    for match in FENCE.finditer(text):
        directives = []
        for item in shlex.split(match.group("directive") or ""):
            key, _, value = item.partition("=")
            directives.append((key, value))
        line = text[: match.start("body")].count("\n") + 1
        blocks.append(ConsoleBlock(line, match.group("lang"), match.group("body"), directives))
    return blocks


def _normalise(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip("\n")


class OutputMatcher:
    """Match documented output against real output, binding documented ids to real ones."""

    def __init__(self) -> None:
        #: documented id -> the real id it stands for
        self.ids: dict[str, str] = {}

    def _known(self, documented: str) -> str | None:
        """Return the real text a documented id (or a prefix or extension of a bound one) stands for."""
        for doc, real in self.ids.items():
            common = min(len(doc), len(documented))
            if doc[:common] == documented[:common] and len(real) >= len(documented):
                return real[: len(documented)]
        return None

    def _pattern(self, expected: str) -> tuple[str, dict[str, str]]:
        groups: dict[str, str] = {}
        parts: list[str] = []
        position = 0
        for token in _TOKENS.finditer(expected):
            parts.append(re.escape(expected[position : token.start()]))
            position = token.end()
            kind = token.lastgroup if token.lastgroup != "open" else "hex"
            if kind == "time":
                parts.append(_same_shape(token.group(0)))
            elif kind == "hex" and _is_id(token.group("hex")):
                word, is_open = token.group("hex"), token.group("open") is not None
                known = self._known(word)
                name = f"id{len(groups)}"
                groups[name] = word
                if known is not None:
                    parts.append(f"(?P<{name}>{re.escape(known)}{'[0-9a-f]*' if is_open else ''})")
                else:
                    repeat = f"{{{len(word)},}}" if is_open else f"{{{len(word)}}}"
                    parts.append(f"(?P<{name}>[0-9a-f]{repeat})")
            elif kind == "hex":
                parts.append(re.escape(token.group(0)))
            elif kind == "lines":
                parts.append(r"(?:[^\n]*(?:\n|\Z))*?")
            elif kind == "any":
                parts.append(r"[^\n]*?")
            else:
                parts.append(r"[ \t]+")
        parts.append(re.escape(expected[position:]))
        return "".join(parts), groups

    def matches(self, expected: str, actual: str) -> bool:
        """Return whether `actual` is what `expected` documents, and bind the ids it shows."""
        pattern, groups = self._pattern(_normalise(expected))
        found = re.fullmatch(pattern, _normalise(actual))
        if found is None:
            return False
        for name, documented in groups.items():
            self.ids.setdefault(documented, found.group(name))
        return True

    def substitute(self, command: str) -> str:
        """Replace each documented id (or prefix of one) in a command by the real one."""

        def real(match: re.Match[str]) -> str:
            word = match.group(0)
            known = self._known(word) if _is_id(word) else None
            return known if known is not None else word

        return _HEX_WORD.sub(real, command)


@dataclass(frozen=True)
class RunningService:
    """A plugin's service started for an example: where the docs say it listens, and where it does."""

    spec: ServiceSpec
    documented: str
    actual: str
    log: Path

    def replace(self, text: str) -> str:
        """Point the documented address (and its `localhost` spelling) at the running service."""
        port = self.documented.rpartition(":")[2]
        return text.replace(self.documented, self.actual).replace(f"localhost:{port}", self.actual)

    def serves(self, argv: list[str]) -> bool:
        """Return whether `argv` is this service's command (`toolkit graveyar serve` or `graveyar serve`)."""
        spec = list(self.spec.argv)
        return argv in (spec, spec[1:]) if spec[0] == "toolkit" else argv == spec


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"the server never listened on 127.0.0.1:{port}:\n{log.read_text(errors='replace')}")


@contextmanager
def running_service(
    name: str, env: dict[str, str], workdir: Path, *, timeout: float = 60.0
) -> Iterator[RunningService]:
    """Run a plugin's service (its `toolkit_services` spec) on a free loopback port until the block ends."""
    from toolkit.plugins import get_plugins
    from toolkit.testing import free_port, stop_process

    spec = {spec.name: spec for spec in get_plugins().services()}[name]
    port = free_port()
    toolkit = Path(sys.executable).with_name("toolkit")
    argv = [str(toolkit), *spec.argv[1:], "--bind", f"127.0.0.1:{port}"]
    log = workdir.parent / f"{name}-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=workdir, env={**env, **dict(spec.env)}, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, proc, log, timeout)
        documented = spec.default_address.split("://")[-1].split("/")[0]
        yield RunningService(spec, documented, f"127.0.0.1:{port}", log)
    finally:
        stop_process(proc, timeout=15)
