"""Linear-time regular expressions (RE2) for every pattern a user or config hands pom.

A catastrophic pattern such as `(a+)+$` must never stall the event loop that also serves the
HTTP API, the control socket and signal handling, so pom never uses backtracking `re` for
user patterns. RE2 has no backreferences or lookaround; such patterns are rejected with a
clear message (PatternError).
"""

from __future__ import annotations

from typing import Protocol

import re2  # type: ignore[import-untyped]

__all__ = ["Pattern", "PatternError", "compile_pattern", "escape"]


class Pattern(Protocol):
    """The part of a compiled pattern pom uses."""

    pattern: str

    def search(self, text: str) -> object | None:
        """Return a match object or None."""
        ...


class PatternError(ValueError):
    """The pattern is not valid RE2 syntax."""


def compile_pattern(text: str, *, ignore_case: bool = False) -> Pattern:
    """Compile `text` with RE2.

    Raises:
        PatternError: bad syntax, or a feature RE2 does not have (backreferences, lookaround).
    """
    options = re2.Options()
    options.log_errors = False  # RE2 would print to stderr; the caller reports the error
    options.case_sensitive = not ignore_case
    try:
        compiled: Pattern = re2.compile(text, options)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise PatternError(f"{detail} (RE2 syntax: no backreferences or lookaround)") from None
    return compiled


def escape(text: str) -> str:
    """Return a pattern matching `text` literally (a substring match for `ready_log_line`)."""
    return str(re2.escape(text))
