r"""`--format yaml`: one JSON value as the YAML document plasmite 1.2.1 prints, byte for byte.

The rules were read off the real CLI's output (`specs/plasmite/cli.md`, "YAML output"): block
style with sorted keys as our JSON has them, sequences inside mappings not indented, `---` and
`...` around each document. String values are always quoted so they stay strings: single
quotes unless the text holds `'`, `\\` or a character that needs an escape, then double quotes
with YAML's escapes. Keys are plain unless they could read as something else (a number, a
boolean or null word, an indicator), then double-quoted.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

__all__ = ["dump_yaml"]

#: Words YAML 1.1 reads as booleans or null, in any letter case.
_WORDS = frozenset({"", "~", "null", "true", "false", "yes", "no", "on", "off", "y", "n", "<<"})
_FIRST_INDICATORS = frozenset("!\"#%&'*,:>@[]{}|`")
_ANYWHERE_INDICATORS = frozenset(":#,[]{}")
_SPECIAL_FLOAT = re.compile(r"^[-+]?\.(inf|nan)$", re.IGNORECASE)
_NAMED_ESCAPES = {
    "\0": "\\0",
    "\a": "\\a",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\v": "\\v",
    "\f": "\\f",
    "\r": "\\r",
    "\x1b": "\\e",
    '"': '\\"',
    "\\": "\\\\",
    "\x85": "\\N",
    "\u2028": "\\L",
    "\u2029": "\\P",
}


def dump_yaml(value: Any) -> str:
    """Return `value` as one marked YAML document (ends with a newline)."""
    lines = ["---"]
    if isinstance(value, dict | list) and value:
        _block(value, 0, lines)
    else:
        lines.append(_scalar(value))
    lines.append("...")
    return "\n".join(lines) + "\n"


def _block(value: dict[str, Any] | list[Any], indent: int, lines: list[str]) -> None:
    pad = " " * indent
    if isinstance(value, dict):
        for key, item in sorted(value.items()):
            head = f"{pad}{_key(str(key))}:"
            if isinstance(item, dict) and item:
                lines.append(head)
                _block(item, indent + 2, lines)
            elif isinstance(item, list) and item:
                lines.append(head)
                _block(item, indent, lines)  # a mapping's sequence is not indented
            else:
                lines.append(f"{head} {_scalar(item)}")
        return
    for item in value:
        if isinstance(item, dict | list) and item:
            nested: list[str] = []
            _block(item, indent + 2, nested)
            first = nested[0][indent + 2 :]
            lines.append(f"{pad}- {first}")
            lines.extend(nested[1:])
        else:
            lines.append(f"{pad}- {_scalar(item)}")


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    text = str(value)
    if "'" in text or "\\" in text or any(_needs_escape(ch) for ch in text):
        return _double_quoted(text)
    return f"'{text}'"


def _key(key: str) -> str:
    return _double_quoted(key) if _key_needs_quotes(key) else key


def _key_needs_quotes(key: str) -> bool:
    if key.lower() in _WORDS or _looks_numeric(key):
        return True
    first = key[0]
    if first in _FIRST_INDICATORS or first == " " or key[-1] == " ":
        return True
    if first in "-?" and (len(key) == 1 or key[1] == " "):
        return True
    return any(ch in _ANYWHERE_INDICATORS or _needs_escape(ch) for ch in key)


def _looks_numeric(text: str) -> bool:
    if _SPECIAL_FLOAT.match(text):
        return True
    try:
        float(text)
    except ValueError:
        pass
    else:
        return not text[0].isspace() and not text[-1].isspace()
    try:
        int(text, 0)
    except ValueError:
        return False
    return True


def _needs_escape(ch: str) -> bool:
    """Characters YAML cannot show literally in a quoted scalar (breaks, controls, the BOM)."""
    code = ord(ch)
    if ch in _NAMED_ESCAPES and ch not in '"\\':
        return True
    printable = (
        code == 0x0A
        or 0x20 <= code <= 0x7E
        or 0xA0 <= code <= 0xD7FF
        or (0xE000 <= code <= 0xFFFD and code != 0xFEFF)
        or 0x10000 <= code <= 0x10FFFF
    )
    return not printable


def _double_quoted(text: str) -> str:
    out = []
    for ch in text:
        named = _NAMED_ESCAPES.get(ch)
        if named is not None:
            out.append(named)
        elif not _needs_escape(ch):
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02X}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(f"\\U{ord(ch):08X}")
    return '"' + "".join(out) + '"'


def _float(value: float) -> str:
    """The shortest digits (as Python's repr) laid out as plasmite prints them: `1.0e+16`, `0.00001`."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return f"{sign}0.0"
    shortest = Decimal(repr(abs(value))).as_tuple()
    all_digits = "".join(map(str, shortest.digits))
    digits = all_digits.rstrip("0")
    # value = 0.DIGITS * 10**point
    point = len(all_digits) + int(shortest.exponent)
    length = len(digits)
    if length <= point <= 16:
        text = digits + "0" * (point - length) + ".0"
    elif 0 < point <= 16:
        text = f"{digits[:point]}.{digits[point:]}"
    elif -5 < point <= 0:
        text = "0." + "0" * -point + digits
    else:
        exponent = point - 1
        text = f"{digits[0]}.{digits[1:] or '0'}e{'+' if exponent >= 0 else '-'}{abs(exponent)}"
    return sign + text
