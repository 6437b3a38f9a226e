"""A reader for the flat TOML files grite keeps (`key = "string" | integer | boolean` lines).

Every command reads one or two such files, and `tomllib` costs more to import (its regexes,
`datetime`) than reading them. `loads` understands only that subset, and answers None for
anything else, including anything invalid: the caller then lets `tomllib` decide, so the
result (or the error) is always tomllib's.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: this module is on every command's path
if TYPE_CHECKING:
    from typing import Any

__all__ = ["loads"]

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
#: Characters TOML allows nowhere unescaped except tab and newline (and CR before LF, which we leave to tomllib).
_CONTROL = tuple(chr(c) for c in (*range(0x09), *range(0x0B, 0x20), 0x7F))
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}


def loads(text: str) -> dict[str, Any] | None:
    """The table of `text` if it is a flat file of strings, integers and booleans, else None."""
    if any(ch in text for ch in _CONTROL):
        return None
    table: dict[str, Any] = {}
    for raw in text.split("\n"):
        line = raw.strip(" \t")
        if not line or line[0] == "#":
            continue
        key, eq, rest = line.partition("=")
        key, rest = key.rstrip(" \t"), rest.lstrip(" \t")
        if not eq or not key or key in table or not _BARE.issuperset(key):
            return None
        value = _string(rest) if rest[:1] == '"' else _scalar(rest)
        if value is None:
            return None
        table[key] = value
    return table


def _after_value(rest: str) -> bool:
    """Whether what follows a value is nothing or a comment."""
    rest = rest.lstrip(" \t")
    return not rest or rest[0] == "#"


def _string(rest: str) -> str | None:
    """A one-line basic string at the start of `rest` (followed by nothing or a comment), else None."""
    if rest.startswith('"""'):
        return None  # multi-line strings: tomllib's
    out: list[str] = []
    i = 1
    while i < len(rest):
        ch = rest[i]
        if ch == '"':
            return "".join(out) if _after_value(rest[i + 1 :]) else None
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        code = rest[i + 1 : i + 2]
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
            i += 2
            continue
        width = 4 if code == "u" else 8 if code == "U" else 0
        digits = rest[i + 2 : i + 2 + width]
        if not width or len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
            return None
        point = int(digits, 16)
        if 0xD800 <= point <= 0xDFFF or point > 0x10FFFF:
            return None  # not a Unicode scalar value: tomllib refuses it
        out.append(chr(point))
        i += 2 + width
    return None  # unterminated


def _scalar(rest: str) -> int | bool | None:
    """A decimal integer or a boolean (followed by nothing or a comment), else None."""
    value, _hash, _comment = rest.partition("#")
    value = value.rstrip(" \t")
    if value == "true":
        return True
    if value == "false":
        return False
    digits = value[1:] if value[:1] in ("+", "-") else value
    if not digits or not digits.isascii() or not digits.isdigit() or (len(digits) > 1 and digits[0] == "0"):
        return None  # other numbers (underscores, hex, floats), dates, arrays, tables: tomllib's
    return int(value)
