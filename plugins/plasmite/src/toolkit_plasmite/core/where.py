"""`--where`: real jq expressions evaluated against the whole message envelope."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from toolkit_plasmite.errors import UsageError

__all__ = ["WhereFilter"]


class WhereFilter:
    """All `--where` expressions, ANDed. A non-boolean result is a Usage error; a runtime error is false.

    Args:
        expressions: jq programs.

    Raises:
        UsageError: an expression does not compile.
    """

    def __init__(self, expressions: Sequence[str]) -> None:
        import jq

        self.expressions = list(expressions)
        self._programs: list[Any] = []
        for expr in self.expressions:
            try:
                self._programs.append(jq.compile(expr))
            except ValueError as exc:
                raise UsageError(
                    f"invalid --where expression {expr!r}: {exc}", hint="see `man jq` for the syntax"
                ) from None

    def __bool__(self) -> bool:
        return bool(self._programs)

    def matches(self, envelope: dict[str, Any]) -> bool:
        """True when every expression yields true for `envelope`."""
        for expr, program in zip(self.expressions, self._programs, strict=True):
            try:
                results = program.input_value(envelope).all()
            except ValueError:
                return False
            for result in results:
                if not isinstance(result, bool):
                    raise UsageError(
                        f"--where expression {expr!r} returned {type(result).__name__}, not a boolean",
                        hint="compare explicitly, e.g. '.data.level == \"error\"'",
                    )
            if not any(results):
                return False
        return True
