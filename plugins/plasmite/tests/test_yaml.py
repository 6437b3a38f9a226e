"""`--format yaml`: every JSON value prints as YAML that a YAML reader turns back into the same value."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit_plasmite.cli.yaml import dump_yaml

_KEY_ALPHABET = st.characters(codec="utf-8", exclude_categories=["Cs"])
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(_KEY_ALPHABET, max_size=12)
    | st.sampled_from(["yes", "No", "null", "~", "1e3", ".inf", "0x1", "- a", "a: b", "#", "'", "\\", "\x85"])
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(_KEY_ALPHABET, max_size=8), inner, max_size=4),
    max_leaves=20,
)


class _Yaml12IntLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 core integers (the YAML that plasmite's serde_yaml writes).

    YAML 1.1 also reads `0_`, `1_000`, `0b1`, `010` (octal) and `1:30` as integers; YAML 1.2 and
    plasmite 1.2.1 leave such keys plain (`0_: null`), so the 1.1 reading is not the contract.
    """


_Yaml12IntLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:int"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12IntLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(_KEY_ALPHABET, max_size=8), _VALUES, max_size=6))
def test_yaml_reads_back_as_the_same_value(value: dict[str, Any]) -> None:
    text = dump_yaml(value)
    assert text.startswith("---\n")
    assert text.endswith("\n...\n")
    assert _same(yaml.load(text, Loader=_Yaml12IntLoader), value), text


def test_marked_document_layout() -> None:
    doc = {"b": [1, {"x": []}], "a": {"k": "v"}, "n": 1e16}
    assert dump_yaml(doc) == "---\na:\n  k: 'v'\nb:\n- 1\n- x: []\n\"n\": 1.0e+16\n...\n"
    assert json.loads(json.dumps(yaml.safe_load(dump_yaml(doc)))) == doc
