"""Dotenv files: `KEY=VALUE` lines with honcho/foreman quoting rules (specs/pom/config.md)."""

from __future__ import annotations

import re
from pathlib import Path

from toolkit_pom.errors import PomConfigError

__all__ = ["load_env_file", "parse_dotenv"]

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def _unquote_double(raw: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _value(raw: str, where: str) -> str:
    raw = raw.strip()
    if raw[:1] in ("'", '"'):
        quote = raw[0]
        end = raw.rfind(quote)
        if end == 0:
            raise PomConfigError(f"{where}: unterminated {quote} quote", hint="close the quote on the same line")
        body = raw[1:end]
        return body if quote == "'" else _unquote_double(body)
    # An unquoted value ends at " #" (inline comment).
    cut = raw.find(" #")
    return (raw if cut < 0 else raw[:cut]).strip()


def parse_dotenv(text: str, *, source: str = ".env") -> dict[str, str]:
    """Parse dotenv text into a dict; later keys win.

    Raises:
        PomConfigError: a line is not `KEY=VALUE` (the message names the file and line).
    """
    env: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("export "):
            stripped = stripped[len("export ") :].lstrip()
        key, sep, rest = stripped.partition("=")
        key = key.strip()
        where = f"{source}:{number}"
        if not sep or not _KEY.match(key):
            raise PomConfigError(
                f"{where}: expected KEY=VALUE, got {line.strip()!r}",
                hint="dotenv lines look like NAME=value; comments start with #",
                details={"file": source, "line": number},
            )
        env[key] = _value(rest, where)
    return env


def load_env_file(path: Path, *, required: bool = True) -> dict[str, str]:
    """Read and parse one dotenv file.

    Raises:
        PomConfigError: the file is missing (when `required`) or malformed.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if not required:
            return {}
        raise PomConfigError(
            f"env file {path} does not exist", hint="fix the path or remove it", details={"file": str(path)}
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PomConfigError(f"cannot read env file {path}: {exc}", details={"file": str(path)}) from None
    return parse_dotenv(text, source=str(path))
