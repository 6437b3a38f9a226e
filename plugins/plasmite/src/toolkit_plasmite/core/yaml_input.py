"""`feed` YAML input, as plasmite 1.2.1 reads it (`-i yaml`, or `auto` on a `---` start).

Framing: marked documents, each from a `---` line to a `...` line (only blank lines
between them); with `-i yaml` an input that does not start with `---` is one unmarked
document through the end. Values follow YAML 1.2's core schema as plasmite does: `yes` is
a string, `0o10`/`0x10`/`0b10` are integers but `010` a string, dates stay strings, `!!binary` its text; keys
must be strings; duplicate keys, aliases and non-finite floats are refused. A framing or
parse error stops the feed (Usage), after the documents before it were appended.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

from toolkit_plasmite.core.ingest import Record
from toolkit_plasmite.errors import UsageError

__all__ = ["YamlParser", "starts_marked"]

_BOUNDARIES = "YAML messages require explicit document boundaries"


def starts_marked(head: bytes) -> bool:
    """True when the first non-blank line is `---` (what `auto` takes for YAML)."""
    for raw in head[:8192].split(b"\n"):
        line = raw.strip()
        if line:
            return line == b"---" or line.startswith(b"--- ")
    return False


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema scalars and plasmite's refusals."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("aliases are not supported")
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, yaml.MappingNode):
            raise yaml.YAMLError(f"expected a mapping, found {node.id}")
        self.flatten_mapping(node)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if type(key) is not str:
                raise UsageError("YAML object keys must be strings")
            if key in out:
                raise yaml.YAMLError(f"duplicate mapping key: {key}")
            out[key] = self.construct_object(value_node, deep=True)
        return out


def _int(loader: yaml.SafeLoader, node: Any) -> int:
    text = str(loader.construct_scalar(node)).replace("_", "")
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    base = {"0x": 16, "0o": 8, "0b": 2}.get(digits[:2].lower(), 10)
    return sign * int(digits[2:] if base != 10 else digits, base)


def _float(loader: yaml.SafeLoader, node: Any) -> float:
    text = str(loader.construct_scalar(node))
    special = text.lstrip("+-").lower() in (".inf", ".nan")  # YAML's spellings, which float() does not read
    value = math.nan if special else float(text)
    if not math.isfinite(value):  # also an overflow such as 1e999
        raise yaml.YAMLError(f"non-finite float `{text}` rejected")
    return value


def _text(loader: yaml.SafeLoader, node: Any) -> str:
    """`!!binary` and dates: their text, as plasmite stores them."""
    return str(loader.construct_scalar(node))


_Loader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^[-+]?(?:0|[1-9][0-9]*|0x[0-9a-fA-F]+|0o[0-7]+|0b[01]+)$", list("-+0123456789")),
    (
        "tag:yaml.org,2002:float",
        # a point or an exponent: `010` matches neither this nor an int, so it stays a string (as plasmite)
        r"^[-+]?(?:\.[0-9]+(?:[eE][-+]?[0-9]+)?|[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+)$"
        r"|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$",
        list("-+.0123456789"),
    ),
):
    _Loader.add_implicit_resolver(_tag, re.compile(_pattern), _first)
_Loader.add_constructor("tag:yaml.org,2002:int", _int)
_Loader.add_constructor("tag:yaml.org,2002:float", _float)
_Loader.add_constructor("tag:yaml.org,2002:binary", _text)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _text)


def load_document(text: str) -> Any:
    """One YAML document's value (Usage error when it is not valid or supported YAML)."""
    try:
        return yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader: no arbitrary objects
    except UsageError:
        raise
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        raise UsageError("invalid or unsupported YAML message", causes=[str(exc)]) from None


class YamlParser:
    """Incremental YAML framing (RecordParser's interface); a framing error is kept in `failure`.

    Args:
        explicit: `-i yaml` (an unmarked start means one document through EOF); False for `auto`.
    """

    def __init__(self, explicit: bool) -> None:
        self.explicit = explicit
        self.failure: UsageError | None = None
        self._buf = b""
        self._line = 0
        self._marked: bool | None = None  # decided by the first non-blank line
        self._doc: list[str] | None = None  # the open marked document's lines
        self._doc_line = 0
        self._unmarked: list[str] = []
        self._index = 0

    def _fail(self, message: str) -> None:
        if self.failure is None:
            self.failure = UsageError(message)

    def _record(self, text: str, line: int) -> Record:
        idx = self._index
        self._index += 1
        snippet = text.strip()[:120]
        value = load_document(text)
        if type(value) is not dict:
            return Record(idx, None, "data must be object", line, snippet)
        return Record(idx, value, None, line, snippet)

    def _line_in(self, text: str) -> list[Record]:
        self._line += 1
        stripped = text.strip()
        if self._marked is None:
            if not stripped:
                return []
            if text.startswith("--- "):
                self._fail(_BOUNDARIES)
                return []
            self._marked = text.rstrip() == "---"
            if not self._marked and not self.explicit:
                self._fail("YAML messages require a --- start marker")
                return []
        if not self._marked:
            if text.rstrip() in ("---", "...") or text.startswith(("--- ", "... ")):
                self._fail(_BOUNDARIES)
                return []
            self._unmarked.append(text)
            return []
        if self._doc is None:
            if not stripped:
                return []
            if text.rstrip() != "---":
                boundary = text.startswith(("--- ", "..."))
                self._fail(_BOUNDARIES if boundary else "YAML messages require a --- start marker")
                return []
            self._doc, self._doc_line = [], self._line
            return []
        if text.rstrip() == "...":
            doc, self._doc = self._doc, None
            return [self._record("\n".join(doc) + "\n", self._doc_line)]
        if text.rstrip() == "---" or text.startswith("--- "):
            self._fail(_BOUNDARIES)
            return []
        self._doc.append(text)
        return []

    def feed(self, chunk: bytes) -> list[Record]:
        """Add input; return the documents it completed (stops at the first failure)."""
        self._buf += chunk
        lines = self._buf.split(b"\n")
        self._buf = lines.pop()
        out: list[Record] = []
        for raw in lines:
            if self.failure is not None:
                break
            try:
                out.extend(self._line_in(raw.decode("utf-8", "replace").rstrip("\r")))
            except UsageError as exc:
                self.failure = exc
        return out

    def finish(self) -> list[Record]:
        """End of input: the last documents, or the failure of an unterminated one."""
        out = self.feed(b"\n") if self._buf else []
        if self.failure is not None:
            return out
        if self._doc is not None:
            self._fail("YAML document is missing its ... end marker")
        elif self._marked is False and "".join(self._unmarked).strip():
            try:
                out.append(self._record("\n".join(self._unmarked) + "\n", 1))
            except UsageError as exc:
                self.failure = exc
        return out
