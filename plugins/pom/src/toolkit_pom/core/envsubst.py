"""`${NAME}` expansion as process-compose applies it to its files (drone/envsubst's rules).

Only braced references expand: `${NAME}`, `${NAME:-default}`, `${NAME=default}`,
`${NAME:=default}`. A bare `$NAME` stays as written (the shell expands it when the command
runs), as does any other `${...}` form. Unset names expand to "".
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["expand"]

_REF = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|:=|=)(?P<arg>[^}]*))?\}")


def expand(text: str, lookup: Callable[[str], str | None]) -> str:
    """Expand references in `text`; `lookup` returns None for an unset name."""

    def sub(m: re.Match[str]) -> str:
        value = lookup(m.group("name"))
        op = m.group("op")
        if op == "=":
            return m.group("arg") if value is None else value
        if op:
            return value if value else m.group("arg")
        return value or ""

    return _REF.sub(sub, text)
