"""Payload and envelope encoding: canonical CBOR inside the pool, sorted JSON outside."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import cbor2

from toolkit_plasmite.core import lite3
from toolkit_plasmite.errors import CorruptError, UsageError

__all__ = [
    "decode_payload",
    "dumps_compact",
    "dumps_pretty",
    "encode_payload",
    "envelope",
    "format_time",
    "parse_time",
]

_PREFIX = b"\xa2\x64data"
_META = b"\x64meta"
_NO_TAGS = cbor2.dumps({"tags": []}, canonical=True)


def _check_tags(tags: Iterable[str]) -> list[str]:
    out = list(tags)
    for tag in out:
        if type(tag) is not str:
            raise UsageError(f"tags must be strings, got {type(tag).__name__}")
    return out


def encode_payload(data: Any, tags: Sequence[str] = ()) -> bytes:
    """Return the canonical CBOR of `{"data": data, "meta": {"tags": tags}}`.

    Raises:
        UsageError: `data` is not an object (a dict) or a tag is not a string.
    """
    if type(data) is not dict:
        if not isinstance(data, dict):
            raise UsageError("data must be object", hint='wrap the value: {"value": ...}')
        data = dict(data)
    try:
        body = cbor2.dumps(data, canonical=True)
    except (TypeError, ValueError, cbor2.CBOREncodeError) as exc:
        raise UsageError(f"data cannot be stored: {exc}") from None
    if not tags:
        return _PREFIX + body + _META + _NO_TAGS
    return _PREFIX + body + _META + cbor2.dumps({"tags": _check_tags(tags)}, canonical=True)


def decode_payload(
    payload: bytes, *, seq: int | None = None, path: str | None = None
) -> tuple[dict[str, Any], list[str]]:
    """Decode a stored payload (Lite3 or CBOR, told apart by the first byte) into `(data, tags)`.

    Raises:
        CorruptError: the bytes are not a payload of the documented shape.
    """
    if payload[:1] == b"\x06":  # a Lite3 object node (format 3); CBOR maps start at 0xa0
        try:
            return lite3.decode_message(payload)
        except CorruptError as exc:
            raise CorruptError(exc.message, seq=seq, path=path) from None
    try:
        value = cbor2.loads(payload)
    except Exception as exc:
        raise CorruptError(f"undecodable message payload: {exc}", seq=seq, path=path) from None
    if type(value) is dict:
        data = value.get("data")
        meta = value.get("meta")
        if type(data) is dict and type(meta) is dict and len(value) == 2:
            tags = meta.get("tags")
            if type(tags) is list and all(type(t) is str for t in tags):
                return data, tags
    raise CorruptError("message payload has the wrong shape", seq=seq, path=path)


def format_time(ts_ns: int) -> str:
    """Format Unix nanoseconds as RFC 3339 UTC with a `Z` and trimmed fractional digits."""
    secs, frac = divmod(ts_ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    if frac:
        return f"{base}.{frac:09d}".rstrip("0") + "Z"
    return base + "Z"


def parse_time(text: str) -> int:
    """Parse an RFC 3339 timestamp into Unix nanoseconds (nanosecond digits kept).

    Raises:
        ValueError: the text is not RFC 3339 with a timezone.
    """
    raw = text.strip()
    frac_ns = 0
    main = raw
    if "." in raw:
        head, rest = raw.split(".", 1)
        digits = ""
        for ch in rest:
            if ch.isdigit():
                digits += ch
            else:
                break
        tz = rest[len(digits) :]
        if not digits:
            raise ValueError(f"bad timestamp {text!r}")
        frac_ns = int((digits + "000000000")[:9])
        main = head + tz
    main = main.replace("Z", "+00:00").replace("z", "+00:00")
    parsed = datetime.fromisoformat(main)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no timezone")
    return int(parsed.timestamp()) * 1_000_000_000 + frac_ns


def envelope(seq: int, ts_ns: int, data: dict[str, Any], tags: list[str]) -> dict[str, Any]:
    """Return the message envelope `{data, meta: {tags}, seq, time}`."""
    return {"data": data, "meta": {"tags": tags}, "seq": seq, "time": format_time(ts_ns)}


def dumps_compact(value: Any) -> str:
    """Compact JSON with sorted keys (the non-terminal output form)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def dumps_pretty(value: Any) -> str:
    """2-space pretty JSON with sorted keys (the terminal output form)."""
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)
