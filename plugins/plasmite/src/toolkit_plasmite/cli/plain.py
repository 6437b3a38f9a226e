"""The plain layouts plasmite 1.2.1 prints for `--format pretty` into a pipe (no terminal).

On a terminal `--format pretty` gives the readable layouts in `human.py`; into a pipe plasmite
switches to these line-oriented ones: `Key: value` lines for `pool info`, `OK: ref` for a
healthy `doctor`, and space-aligned tables (every column padded, the last one too).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from toolkit_plasmite.cli.human import ago_text, shown_path
from toolkit_plasmite.core.codec import parse_time

__all__ = ["created_plain", "deleted_plain", "doctor_plain", "pool_info_plain", "pool_list_plain"]


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)


def _dash(value: Any) -> str:
    return "-" if value is None else str(value)


def _stamp(text: str | None, now_ns: int) -> str:
    return f"{text} ({ago_text(parse_time(text), now_ns)})" if text else "- (-)"


def pool_info_plain(ref: str, info: dict[str, Any]) -> str:
    """`pool info --format pretty` into a pipe."""
    metrics = info["metrics"]
    util = metrics["utilization"]
    bounds = info["bounds"]
    now = time.time_ns()
    return "\n".join(
        [
            f"Pool: {ref}",
            f"Path: {info['path']}",
            f"Size: {info['file_size']} bytes (index: offset={info['index_offset']} slots={info['index_capacity']} "
            f"bytes={info['index_size_bytes']}, ring: offset={info['ring_offset']} size={info['ring_size']})",
            f"Bounds: oldest={_dash(bounds.get('oldest'))} newest={_dash(bounds.get('newest'))} "
            f"count={metrics['message_count']}",
            f"Utilization: used={util['used_bytes']}B free={util['free_bytes']}B ({util['used_percent']:.2f}%)",
            f"Oldest: {_stamp(metrics['age']['oldest_time'], now)}",
            f"Newest: {_stamp(metrics['age']['newest_time'], now)}",
        ]
    )


def pool_list_plain(entries: list[dict[str, Any]], pool_dir: Path) -> str:
    """`pool list --format pretty` into a pipe: NAME STATUS SIZE OLDEST NEWEST MTIME PATH DETAIL."""
    rows = [["NAME", "STATUS", "SIZE", "OLDEST", "NEWEST", "MTIME", "PATH", "DETAIL"]]
    for e in entries:
        path = shown_path(e["path"], pool_dir)
        if "error" in e:
            rows.append([e["name"], "ERR", "-", "-", "-", "-", path, e["error"]["message"]])
            continue
        b = e["bounds"]
        size = str(e["file_size"])
        rows.append([e["name"], "OK", size, _dash(b.get("oldest")), _dash(b.get("newest")), e["mtime"], path, ""])
    return _table(rows)


def created_plain(created: list[dict[str, Any]], pool_dir: Path) -> str:
    """`pool create --format pretty` into a pipe: NAME SIZE INDEX PATH."""
    rows = [["NAME", "SIZE", "INDEX", "PATH"]]
    rows += [
        [i["name"], str(i["file_size"]), str(i["index_capacity"]), shown_path(i["path"], pool_dir)] for i in created
    ]
    return _table(rows)


def deleted_plain(deleted: list[dict[str, Any]], failed: list[dict[str, Any]], pool_dir: Path) -> str:
    """`pool delete --format pretty` into a pipe: NAME STATUS PATH DETAIL, deletions then failures."""
    rows = [["NAME", "STATUS", "PATH", "DETAIL"]]
    rows += [[d["pool"], "OK", shown_path(d["path"], pool_dir), ""] for d in deleted]
    rows += [[f["pool"], "ERR", shown_path(f["path"], pool_dir), f["error"]["message"]] for f in failed]
    return _table(rows)


def doctor_plain(reports: list[dict[str, Any]]) -> str:
    """A healthy `doctor --format pretty` into a pipe: `OK: ref` per pool."""
    return "\n".join(f"OK: {r['pool_ref']}" for r in reports)
