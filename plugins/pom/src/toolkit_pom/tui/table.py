"""What the TUI's process table and stats header show, from `Process` views (no widgets here).

Kept apart from the app so the choice of rows (namespace, name filter, sort) and the text of
each cell are plain functions of the supervisor's snapshot.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from rich.text import Text

from toolkit_pom.render import fmt_bytes, fmt_duration

__all__ = ["COLUMNS", "SORT_KEYS", "cells", "stats_line", "visible"]

COLUMNS = ("NAME", "NAMESPACE", "STATE", "HEALTH", "PID", "RESTARTS", "EXIT", "AGE", "CPU", "MEM")
STATE_STYLE = {
    "ready": "green",
    "running": "green",
    "starting": "yellow",
    "pending": "yellow",
    "restarting": "yellow",
    "stopping": "yellow",
    "crashed": "bold red",
    "exited": "dim",
    "stopped": "dim",
    "disabled": "dim",
    "skipped": "dim",
}
_UP = ("starting", "running", "ready", "stopping")


def _number(value: float | None) -> tuple[bool, float]:
    # Missing values sort after every number, whichever the direction of the rest.
    return (value is None, value or 0.0)


#: Sort keys by column, in the order `o` cycles through them (process-compose's sort columns).
SORT_KEYS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "NAME": lambda p: p["name"],
    "NAMESPACE": lambda p: (p["namespace"], p["name"]),
    "STATE": lambda p: p["state"],
    "HEALTH": lambda p: p["health"] or "",
    "PID": lambda p: _number(p["pid"]),
    "RESTARTS": lambda p: p["restarts"],
    "EXIT": lambda p: _number(p["exit_code"]),
    "AGE": lambda p: _number(p["uptime_s"]),
    "CPU": lambda p: _number(p["cpu_percent"]),
    "MEM": lambda p: _number(p["memory_rss"]),
}


def visible(
    procs: Sequence[dict[str, Any]], *, namespace: str | None, name_filter: str, sort: str, reverse: bool
) -> list[dict[str, Any]]:
    """The rows to show: in `namespace` (all when None), names containing `name_filter`, sorted."""
    needle = name_filter.casefold()
    rows = [p for p in procs if (namespace is None or p["namespace"] == namespace) and needle in p["name"].casefold()]
    # sorted() is stable: ties keep configuration order.
    return sorted(rows, key=SORT_KEYS[sort], reverse=reverse)


def cells(p: dict[str, Any]) -> list[Any]:
    """One table row, in `COLUMNS` order."""
    return [
        p["name"],
        p["namespace"],
        Text(p["state"], style=STATE_STYLE.get(p["state"], "")),
        p["health"] or "-",
        str(p["pid"] or "-"),
        str(p["restarts"]),
        "-" if p["exit_code"] is None else str(p["exit_code"]),
        fmt_duration(p["uptime_s"]),
        "-" if p["cpu_percent"] is None else f"{p['cpu_percent']:.1f}%",
        fmt_bytes(p["memory_rss"]),
    ]


def stats_line(project: str, procs: Sequence[dict[str, Any]], uptime_s: float, http_url: str | None) -> str:
    """The stats header: process count, count per state, CPU and memory of what is up, uptime."""
    counts = Counter(p["state"] for p in procs)
    up = [p for p in procs if p["state"] in _UP]
    cpu = sum(p["cpu_percent"] or 0.0 for p in up)
    mem = sum(p["memory_rss"] or 0 for p in up)
    parts = [
        project,
        f"{len(procs)} processes: " + (", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "none"),
        f"cpu {cpu:.1f}%",
        f"mem {fmt_bytes(mem)}",
        f"up {fmt_duration(uptime_s)}",
    ]
    if http_url:
        parts.append(http_url)
    return "  |  ".join(parts)
