"""Terminal renderings of pool commands, laid out as plasmite 1.2.1 prints them (JSON stays the contract)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from toolkit_plasmite.core.codec import parse_time

__all__ = [
    "ago_text",
    "all_healthy_text",
    "created_text",
    "deleted_text",
    "healthy_text",
    "pool_info_text",
    "pool_table",
    "shown_path",
]

_UNITS = (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10))


def size_text(n: int) -> str:
    """1024-based size as plasmite shows it: `1M`, `956K`, `1.5M`, `512`."""
    for suffix, unit in _UNITS:
        if n >= unit:
            value = n / unit
            return f"{value:.0f}{suffix}" if n % unit == 0 else f"{value:.1f}{suffix}"
    return str(n)


def ago_text(ts_ns: int, now_ns: int) -> str:
    """How long ago `ts_ns` was, as plasmite shows it: `5s ago`, `3m ago`, `2h ago`, `1d ago`."""
    secs = max(0, (now_ns - ts_ns) // 1_000_000_000)
    for unit, span in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= span:
            return f"{secs // span}{unit} ago"
    return f"{secs}s ago"


def _when(text: str | None, now_ns: int) -> str:
    if not text:
        return "—"
    ts = parse_time(text)
    return f"{ago_text(ts, now_ns)} ({time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(ts // 1_000_000_000))})"


def shown_path(path: str, pool_dir: Path) -> str:
    """The path relative to the pool directory when the pool lives there (as plasmite shows it)."""
    p = Path(path)
    try:
        return str(p.relative_to(pool_dir))
    except ValueError:
        return path


def pool_info_text(ref: str, info: dict[str, Any], pool_dir: Path) -> str:
    """`pool info` on a terminal."""
    metrics = info["metrics"]
    util = metrics["utilization"]
    bounds = info["bounds"]
    now = time.time_ns()
    messages = f"{metrics['message_count']} (seq {bounds['oldest']}..{bounds['newest']})" if bounds else "empty"
    rows = [
        ("path", shown_path(info["path"], pool_dir)),
        ("size", f"{size_text(info['file_size'])} ({util['used_bytes']} used, {util['used_percent']:.2f}%)"),
        ("messages", messages),
        ("oldest", _when(metrics["age"]["oldest_time"], now)),
        ("newest", _when(metrics["age"]["newest_time"], now)),
        ("index", f"{info['index_capacity']} slots ({size_text(info['index_size_bytes'])})"),
        ("ring", size_text(info["ring_size"])),
    ]
    return "\n".join([ref, *(f"  {k + ':':<10} {v}" for k, v in rows)])


def pool_table(entries: list[dict[str, Any]], pool_dir: Path) -> str:
    """`pool list` on a terminal: NAME SIZE MSGS MODIFIED PATH."""
    now = time.time_ns()
    rows = [["NAME", "SIZE", "MSGS", "MODIFIED", "PATH"]]
    for e in entries:
        path = shown_path(e["path"], pool_dir)
        if "error" in e:
            rows.append([e["name"], "?", "?", "error", f"{path} ({e['error']['message']})"])
            continue
        b = e["bounds"]
        count = str(b["newest"] - b["oldest"] + 1) if b else "0"
        rows.append([e["name"], size_text(e["file_size"]), count, ago_text(parse_time(e["mtime"]), now), path])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)


def created_text(created: list[dict[str, Any]], pool_dir: Path) -> str:
    """`pool create` on a terminal."""
    return "\n".join(
        f"Created {info['name']} ({size_text(info['file_size'])}, {info['index_capacity']} index slots)\n"
        f"  path: {shown_path(info['path'], pool_dir)}"
        for info in created
    )


def deleted_text(deleted: list[dict[str, Any]]) -> str:
    """`pool delete` on a terminal (failures are reported as errors)."""
    return "\n".join(f'Deleted pool "{d["pool"]}".' for d in deleted)


def _messages(info: dict[str, Any]) -> str:
    b = info["bounds"]
    return f"{info['metrics']['message_count']} (seq {b['oldest']}..{b['newest']})" if b else "empty"


def healthy_text(ref: str, info: dict[str, Any]) -> str:
    """`doctor POOL` on a terminal when the pool is healthy."""
    return f"{ref}: healthy\n  messages:  {_messages(info)}\n  checked:   header, index, ring — 0 issues"


def all_healthy_text(infos: list[dict[str, Any]]) -> str:
    """`doctor --all` on a terminal when every pool is healthy: a count, then one line per pool."""
    name_w = max((len(i["name"]) for i in infos), default=0)
    count_w = max((len(str(i["metrics"]["message_count"])) for i in infos), default=0)
    lines = [f"All {len(infos)} pools healthy.", ""]
    lines += [
        f"  {i['name']:<{name_w}}   {i['metrics']['message_count']:>{count_w}} messages   0 issues" for i in infos
    ]
    return "\n".join(lines)
