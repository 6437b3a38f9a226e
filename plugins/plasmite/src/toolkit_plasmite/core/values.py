"""Parsing of CLI/API values: pool refs, sizes, durations, `--since`."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from toolkit_plasmite.core.codec import parse_time
from toolkit_plasmite.errors import UsageError

__all__ = [
    "RemoteRef",
    "default_pool_dir",
    "parse_duration",
    "parse_remote_ref",
    "parse_since",
    "parse_size",
    "resolve_pool_path",
]

_SIZE = re.compile(r"^\s*(\d+)\s*([kKmMgG]?)\s*$")
_DURATION = re.compile(r"^\s*(\d+)\s*(ms|s|m|h)\s*$")
_AGO = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")


def default_pool_dir() -> Path:
    """`$TOOLKIT_PLASMITE_DIR`, else `~/.plasmite/pools` (plasmite's default)."""
    env = os.environ.get("TOOLKIT_PLASMITE_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("HOME", str(Path.home()))) / ".plasmite" / "pools"


def resolve_pool_path(ref: str, pool_dir: Path | str | None = None) -> Path:
    """Resolve a local pool reference (name or path) to a file path.

    Raises:
        UsageError: an empty ref or a URI.
    """
    if not ref:
        raise UsageError("pool reference is empty")
    if "://" in ref:
        raise UsageError(f"{ref!r} is a URI; this command takes a local pool name or path")
    if "/" in ref:
        return Path(ref)
    base = Path(pool_dir) if pool_dir is not None else default_pool_dir()
    if ref.endswith(".plasmite"):
        return base / ref
    return base / f"{ref}.plasmite"


def check_pool_name(name: str) -> str:
    """Validate a bare pool name (HTTP routes, remote refs).

    Raises:
        UsageError: empty, contains `/`, or other characters outside `[A-Za-z0-9._-]`.
    """
    if not name or "/" in name or not _NAME.match(name) or name in (".", ".."):
        raise UsageError(f"invalid pool name {name!r}", hint="use letters, digits, '.', '_' and '-' (no '/')")
    return name


@dataclass(frozen=True)
class RemoteRef:
    """A remote pool: `base_url` (scheme://host:port) and the pool name."""

    base_url: str
    pool: str


def parse_remote_ref(ref: str) -> RemoteRef | None:
    """Return the RemoteRef for an `http(s)://host:port/pool` ref, None for local refs.

    Raises:
        UsageError: another scheme, or an http ref that is not exactly host:port/pool.
    """
    if "://" not in ref:
        return None
    parts = urlsplit(ref)
    if parts.scheme not in ("http", "https"):
        raise UsageError(
            f"unsupported pool URI scheme {parts.scheme!r}", hint="use http://host:port/pool or a local name"
        )
    hint = "remote refs look like http://127.0.0.1:9700/mypool"
    if parts.query or parts.fragment or "%" in parts.path or not parts.hostname:
        raise UsageError(f"invalid remote pool ref {ref!r}", hint=hint)
    try:
        port = parts.port
    except ValueError:
        raise UsageError(f"invalid port in {ref!r}", hint=hint) from None
    if port is None:
        raise UsageError(f"remote pool ref {ref!r} needs an explicit port", hint=hint)
    segments = parts.path.split("/")
    if len(segments) != 2 or segments[0] != "" or not segments[1]:
        raise UsageError(f"remote pool ref {ref!r} must have exactly one path segment", hint=hint)
    check_pool_name(segments[1])
    return RemoteRef(f"{parts.scheme}://{parts.netloc}", segments[1])


def parse_size(text: str) -> int:
    """Parse `N[K|M|G]` (1024-based, case-insensitive).

    Raises:
        UsageError: anything else.
    """
    m = _SIZE.match(str(text))
    if not m:
        raise UsageError(f"invalid size {text!r}", hint="use an integer with an optional K, M or G suffix, e.g. 1M")
    mult = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[m.group(2).lower()]
    return int(m.group(1)) * mult


def parse_duration(text: str) -> float:
    """Parse `N(ms|s|m|h)` into seconds.

    Raises:
        UsageError: anything else.
    """
    m = _DURATION.match(str(text))
    if not m:
        raise UsageError(f"invalid duration {text!r}", hint="use an integer with ms, s, m or h, e.g. 500ms or 5s")
    mult = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[m.group(2)]
    return int(m.group(1)) * mult


def parse_since(text: str, *, now_ns: int | None = None) -> int:
    """Parse `--since`: `N(s|m|h|d)` ago, or an RFC 3339 timestamp; return Unix ns.

    Raises:
        UsageError: anything else.
    """
    now = time.time_ns() if now_ns is None else now_ns
    m = _AGO.match(text)
    if m:
        mult = {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
        return now - int(m.group(1)) * mult * 1_000_000_000
    try:
        return parse_time(text)
    except ValueError:
        raise UsageError(
            f"invalid --since {text!r}", hint="use 30s, 5m, 2h, 1d or an RFC 3339 time like 2026-01-02T03:04:05Z"
        ) from None
