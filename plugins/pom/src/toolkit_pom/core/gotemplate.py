"""The subset of Go's text/template that process-compose files use, rendered over a dict.

Supported (specs/pom/process-compose.md): `{{.X}}`, `{{ .X.Y }}`, `{{.}}`, string, raw-string,
number and bool literals, parentheses, pipes, the functions `or and not eq ne lt le gt ge len
print printf`, `if`/`else if`/`else`/`end` and `{{-`/`-}}` trimming. A missing key prints
`<no value>` as Go does for maps. Anything else raises TemplateError.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TemplateError", "render"]

NO_VALUE = object()
_TOKEN = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<raw>`[^`]*`)|(?P<num>-?\d+(?:\.\d+)?)|(?P<field>(?:\.[A-Za-z_]\w*)+|\.)"""
    r"""|(?P<ident>[A-Za-z_]\w*)|(?P<punct>[()|]))"""
)


class TemplateError(ValueError):
    """The template cannot be parsed or uses something outside the supported subset."""


@dataclass
class _Node:
    kind: str  # "text" | "action" | "if"
    text: str = ""
    branches: list[tuple[str | None, list[_Node]]] = field(default_factory=list)


def _truthy(value: Any) -> bool:
    if value is NO_VALUE or value is None:
        return False
    return bool(value)


def _show(value: Any) -> str:
    if value is NO_VALUE or value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _printf(fmt: str, *args: Any) -> str:
    values = iter(args)

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "%%":
            return "%"
        return _show(next(values, ""))

    return re.sub(r"%%|%[-+# 0]*\d*(?:\.\d+)?[vsdqfgtx]", sub, fmt)


_FUNCS: dict[str, Callable[..., Any]] = {
    "or": lambda *a: next((x for x in a if _truthy(x)), a[-1] if a else None),
    "and": lambda *a: next((x for x in a if not _truthy(x)), a[-1] if a else None),
    "not": lambda a: not _truthy(a),
    "eq": lambda a, *b: any(a == x for x in b),
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
    "len": len,
    "print": lambda *a: "".join(_show(x) for x in a),
    "printf": _printf,
}


def _tokens(expr: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    expr = expr.rstrip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise TemplateError(f"cannot parse {expr[pos:]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Eval:
    def __init__(self, data: dict[str, Any], tokens: list[tuple[str, str]]) -> None:
        self.data = data
        self.tokens = tokens
        self.pos = 0

    def pipeline(self) -> Any:
        value = self.command(None, piped=False)
        while self.pos < len(self.tokens) and self.tokens[self.pos] == ("punct", "|"):
            self.pos += 1
            value = self.command(value, piped=True)
        return value

    def command(self, piped_value: Any, *, piped: bool) -> Any:
        if self.pos >= len(self.tokens):
            raise TemplateError("missing value")
        kind, text = self.tokens[self.pos]
        if kind == "ident" and text in _FUNCS:
            self.pos += 1
            args = []
            while self.pos < len(self.tokens) and self.tokens[self.pos] not in (("punct", "|"), ("punct", ")")):
                args.append(self.operand())
            if piped:
                args.append(piped_value)
            try:
                return _FUNCS[text](*args)
            except (TypeError, StopIteration) as exc:
                raise TemplateError(f"{text}: {exc}") from None
        if piped:
            raise TemplateError(f"cannot pipe into {text!r}")
        return self.operand()

    def operand(self) -> Any:
        kind, text = self.tokens[self.pos]
        self.pos += 1
        if kind == "str":
            return bytes(text[1:-1], "utf-8").decode("unicode_escape")
        if kind == "raw":
            return text[1:-1]
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "field":
            value: Any = self.data
            for part in text.split(".")[1:]:
                if not part:
                    continue
                value = value.get(part, NO_VALUE) if isinstance(value, dict) else NO_VALUE
            return value
        if kind == "ident" and text in ("true", "false", "nil"):
            return {"true": True, "false": False, "nil": None}[text]
        if (kind, text) == ("punct", "("):
            value = self.pipeline()
            if self.pos >= len(self.tokens) or self.tokens[self.pos] != ("punct", ")"):
                raise TemplateError("missing )")
            self.pos += 1
            return value
        raise TemplateError(f"unsupported {text!r}")


def _evaluate(expr: str, data: dict[str, Any]) -> Any:
    ev = _Eval(data, _tokens(expr))
    value = ev.pipeline()
    if ev.pos != len(ev.tokens):
        raise TemplateError(f"unexpected {ev.tokens[ev.pos][1]!r} in {expr.strip()!r}")
    return value


def _actions(source: str) -> list[tuple[int, int, bool, str, bool]]:
    """Return (start, end, trim left, body, trim right) of each `{{...}}`, quotes respected."""
    found = []
    pos = 0
    while (start := source.find("{{", pos)) >= 0:
        i = start + 2
        quote = ""
        while i < len(source):
            ch = source[i]
            if quote:
                if ch == "\\" and quote == '"':
                    i += 1
                elif ch == quote:
                    quote = ""
            elif ch in '"`':
                quote = ch
            elif source.startswith("}}", i):
                break
            i += 1
        else:
            raise TemplateError("unclosed action")
        body = source[start + 2 : i]
        left = body.startswith("- ")
        right = body.endswith(" -")
        body = body[2 if left else 0 : len(body) - 2 if right else len(body)]
        found.append((start, i + 2, left, body, right))
        pos = i + 2
    return found


def _parse(source: str) -> list[_Node]:
    root: list[_Node] = []
    stack: list[tuple[_Node, list[_Node]]] = []
    current = root
    pos = 0
    pending_trim = False
    for start, end, trim_left, raw, trim_right in _actions(source):
        text = source[pos:start]
        if pending_trim:
            text = text.lstrip()
        if trim_left:
            text = text.rstrip()
        current.append(_Node("text", text))
        pending_trim = trim_right
        pos = end
        body = raw.strip()
        if body.startswith("/*"):
            continue
        word = body.split(None, 1)[0] if body else ""
        if word == "if":
            node = _Node("if", branches=[(body[2:], [])])
            current.append(node)
            stack.append((node, current))
            current = node.branches[-1][1]
        elif word == "else":
            if not stack:
                raise TemplateError("else without if")
            rest = body[4:].strip()
            cond = rest[2:] if rest.startswith("if") else None
            stack[-1][0].branches.append((cond, []))
            current = stack[-1][0].branches[-1][1]
        elif word == "end":
            if not stack:
                raise TemplateError("end without if")
            current = stack.pop()[1]
        elif word in ("range", "with", "define", "template", "block"):
            raise TemplateError(f"{word!r} is not supported")
        else:
            current.append(_Node("action", body))
    if stack:
        raise TemplateError("unclosed if")
    tail = source[pos:]
    current.append(_Node("text", tail.lstrip() if pending_trim else tail))
    return root


def _run(nodes: Sequence[_Node], data: dict[str, Any], out: list[str]) -> None:
    for node in nodes:
        if node.kind == "text":
            out.append(node.text)
        elif node.kind == "action":
            out.append(_show(_evaluate(node.text, data)))
        else:
            for cond, body in node.branches:
                if cond is None or _truthy(_evaluate(cond, data)):
                    _run(body, data, out)
                    break


def render(source: str, data: dict[str, Any]) -> str:
    """Render `source` with `data` as `.`.

    Raises:
        TemplateError: unsupported or malformed template.
    """
    if "{{" not in source:
        return source
    out: list[str] = []
    _run(_parse(source), data, out)
    return "".join(out)
