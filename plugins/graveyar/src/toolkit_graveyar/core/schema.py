"""graveyar_db's schema language: definitions as proto3-JSON dicts, and payload validation.

A schema is the proto3 JSON form (original field names) of `eventstore.Schema`, e.g.
`{"name": "UserCreated", "fields": {"age": {"field_type": {"primitive": "NUMBER"},
"constraints": {"required": true, "min_value": 0}}}}`. Payloads are JSON objects.
"""

from __future__ import annotations

import json
import re
from typing import Any

from toolkit_graveyar.core.errors import InvalidRequest

__all__ = ["check_schema", "validate_payload"]

_PRIMITIVES = {"NUMBER", "STRING", "BOOLEAN"}
_MAX_DEPTH = 32


def check_schema(schema: dict[str, Any]) -> str:
    """Validate a schema definition; return its name.

    Raises:
        InvalidRequest: empty name, no fields, a field without a type, a bad regex, min above max,
            too deep, and what graveyar_db 0.3 rejects: required and nullable together,
            overrides_on_null without nullable, numeric limits on a non-number, a regex on a
            non-string, negative lengths, duplicate enum variants, regex features Rust's regex
            crate lacks (lookaround, backreferences, atomic groups, possessive quantifiers).
    """
    name = schema.get("name", "")
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequest("schema name is empty")
    _check_fields(schema.get("fields", {}), f"schema {name}", 0)
    return name


def _check_fields(fields: Any, where: str, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise InvalidRequest(f"{where}: schema nesting deeper than {_MAX_DEPTH}")
    if not isinstance(fields, dict):
        raise InvalidRequest(f"{where}: fields must be an object")
    if not fields:
        raise InvalidRequest(f"{where}: a schema needs at least one field")
    for fname, field in fields.items():
        if not fname:
            raise InvalidRequest(f"{where}: a field has an empty name")
        if not isinstance(field, dict):
            raise InvalidRequest(f"{where}.{fname}: field must be an object")
        ftype = field.get("field_type")
        _check_type(ftype, f"{where}.{fname}", depth)
        _check_constraints(field, ftype or {}, f"{where}.{fname}")


def _check_constraints(field: dict[str, Any], ftype: dict[str, Any], where: str) -> None:
    c = field.get("constraints") or {}
    nullable = bool(field.get("nullable"))
    if c.get("required") and nullable:
        raise InvalidRequest(f"{where}: a field cannot be both required and nullable")
    if field.get("overrides_on_null") and not nullable:
        raise InvalidRequest(f"{where}: overrides_on_null needs nullable")
    primitive = ftype.get("primitive")
    if ("min_value" in c or "max_value" in c) and primitive != "NUMBER":
        raise InvalidRequest(f"{where}: min_value/max_value apply to NUMBER fields only")
    for key in ("min_length", "max_length"):
        if key in c and int(c[key]) < 0:
            raise InvalidRequest(f"{where}: {key} is negative")
    if "regex" in c:
        if primitive != "STRING":
            raise InvalidRequest(f"{where}: a regex applies to STRING fields only")
        _check_regex(c["regex"], where)
    for lo, hi in (("min_value", "max_value"), ("min_length", "max_length")):
        if lo in c and hi in c and float(c[lo]) > float(c[hi]):
            raise InvalidRequest(f"{where}: {lo} is above {hi}")


#: sre opcodes of features Rust's regex crate (graveyar_db's engine) does not have.
_NON_RUST = {"ASSERT": "lookaround", "ASSERT_NOT": "lookaround", "GROUPREF": "a backreference"}
_NON_RUST |= {"GROUPREF_EXISTS": "a conditional", "ATOMIC_GROUP": "an atomic group"}
_NON_RUST |= {"POSSESSIVE_REPEAT": "a possessive quantifier"}


def _check_regex(pattern: Any, where: str) -> None:
    """The regex must compile here and use nothing Rust's engine rejects (so graveyar_db clients agree)."""
    try:
        re.compile(pattern)
        tree = re._parser.parse(pattern)  # type: ignore[attr-defined]
    except (re.error, TypeError) as exc:
        raise InvalidRequest(f"{where}: bad regex: {exc}") from None
    feature = _rust_unsupported(tree)
    if feature:
        raise InvalidRequest(f"{where}: regex uses {feature}, which graveyar_db's regex engine rejects")


def _rust_unsupported(node: Any) -> str | None:
    """The first feature of a parsed pattern (sre SubPattern) that Rust's engine lacks."""
    if hasattr(node, "data"):  # a SubPattern: (opcode, argument) pairs
        for op, arg in node.data:
            found = _NON_RUST.get(str(op)) or _rust_unsupported(arg)
            if found:
                return found
    elif isinstance(node, list | tuple):
        for item in node:
            found = _rust_unsupported(item)
            if found:
                return found
    return None


def _check_type(ftype: Any, where: str, depth: int) -> None:
    if not isinstance(ftype, dict) or not ftype:
        raise InvalidRequest(f"{where}: field_type is missing", hint="set primitive, enum_def, sub_schema or array_def")
    if "primitive" in ftype:
        if ftype["primitive"] not in _PRIMITIVES:
            raise InvalidRequest(f"{where}: unknown primitive {ftype['primitive']!r}")
    elif "enum_def" in ftype:
        variants = (ftype["enum_def"] or {}).get("variants") or []
        if not variants:
            raise InvalidRequest(f"{where}: enum has no variants")
        if len(set(variants)) != len(variants):
            raise InvalidRequest(f"{where}: enum variants repeat")
    elif "sub_schema" in ftype:
        _check_fields((ftype["sub_schema"] or {}).get("fields", {}), where, depth + 1)
    elif "array_def" in ftype:
        _check_type((ftype["array_def"] or {}).get("element_type"), f"{where}[]", depth + 1)
    else:
        raise InvalidRequest(f"{where}: field_type has no kind")


def validate_payload(schema: dict[str, Any], payload: bytes) -> list[str]:
    """Return the list of violations of `payload` against `schema` (empty = valid)."""
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        return [f"payload is not JSON: {exc}"]
    if not isinstance(doc, dict):
        return ["payload is not a JSON object"]
    errors: list[str] = []
    _validate_object(schema.get("fields", {}), doc, "$", errors)
    return errors


def _validate_object(fields: dict[str, Any], doc: dict[str, Any], path: str, errors: list[str]) -> None:
    for fname, field in fields.items():
        c = field.get("constraints") or {}
        where = f"{path}.{fname}"
        if fname not in doc:
            if c.get("required"):
                errors.append(f"{where}: required field is missing")
            continue
        value = doc[fname]
        if value is None:
            if not field.get("nullable"):
                errors.append(f"{where}: null is not allowed")
            continue
        _validate_value(field.get("field_type") or {}, c, value, where, errors)


def _validate_value(ftype: dict[str, Any], c: dict[str, Any], value: Any, where: str, errors: list[str]) -> None:
    if "primitive" in ftype:
        _validate_primitive(ftype["primitive"], c, value, where, errors)
    elif "enum_def" in ftype:
        variants = (ftype["enum_def"] or {}).get("variants", [])
        if value not in variants:
            errors.append(f"{where}: {value!r} is not one of {variants}")
    elif "sub_schema" in ftype:
        if not isinstance(value, dict):
            errors.append(f"{where}: expected an object")
        else:
            _validate_object((ftype["sub_schema"] or {}).get("fields", {}), value, where, errors)
    elif "array_def" in ftype:
        if not isinstance(value, list):
            errors.append(f"{where}: expected an array")
            return
        _check_length(c, len(value), where, errors)
        element = (ftype["array_def"] or {}).get("element_type") or {}
        for i, item in enumerate(value):
            _validate_value(element, {}, item, f"{where}[{i}]", errors)


def _validate_primitive(kind: str, c: dict[str, Any], value: Any, where: str, errors: list[str]) -> None:
    if kind == "NUMBER":
        if isinstance(value, bool) or not isinstance(value, int | float):
            errors.append(f"{where}: expected a number")
            return
        if "min_value" in c and value < float(c["min_value"]):
            errors.append(f"{where}: {value} is below the minimum {c['min_value']}")
        if "max_value" in c and value > float(c["max_value"]):
            errors.append(f"{where}: {value} is above the maximum {c['max_value']}")
    elif kind == "STRING":
        if not isinstance(value, str):
            errors.append(f"{where}: expected a string")
            return
        _check_length(c, len(value), where, errors)
        if "regex" in c and re.search(c["regex"], value) is None:
            errors.append(f"{where}: {value!r} does not match {c['regex']!r}")
    elif kind == "BOOLEAN" and not isinstance(value, bool):
        errors.append(f"{where}: expected a boolean")


def _check_length(c: dict[str, Any], n: int, where: str, errors: list[str]) -> None:
    if "min_length" in c and n < int(c["min_length"]):
        errors.append(f"{where}: length {n} is below the minimum {c['min_length']}")
    if "max_length" in c and n > int(c["max_length"]):
        errors.append(f"{where}: length {n} is above the maximum {c['max_length']}")
