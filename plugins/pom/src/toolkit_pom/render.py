"""Human renderings of the control protocol's JSON shapes (terminal output only)."""

from __future__ import annotations

import time

TYPE_CHECKING = False  # `pom logs` renders with this: typing is not worth its import there
if TYPE_CHECKING:
    from typing import Any

__all__ = ["fmt_bytes", "fmt_duration", "log_text", "ps_table", "results_text", "status_text"]


def fmt_duration(seconds: float | None) -> str:
    """`1h02m`, `3m07s`, `12.3s` or `-`."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def fmt_bytes(size: int | None) -> str:
    """`12.3M`-style sizes, or `-`."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "K", "M", "G"):
        if value < 1024 or unit == "G":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{value:.1f}G"


def _row(p: dict[str, Any]) -> list[str]:
    return [
        p["name"],
        p["state"],
        p["health"] or "-",
        str(p["pid"]) if p["pid"] else "-",
        str(p["restarts"]),
        fmt_duration(p["uptime_s"]),
        "-" if p["cpu_percent"] is None else f"{p['cpu_percent']:.1f}%",
        fmt_bytes(p["memory_rss"]),
        "-" if p["exit_code"] is None else str(p["exit_code"]),
    ]


def ps_table(data: dict[str, Any]) -> str:
    """The `pom ps` table."""
    header = ["NAME", "STATE", "HEALTH", "PID", "RESTARTS", "UPTIME", "CPU", "MEM", "EXIT"]
    rows = [header] + [_row(p) for p in data["processes"]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in rows)


def status_text(p: dict[str, Any]) -> str:
    """`pom status NAME` as `key: value` lines."""
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(p["started_at"])) if p["started_at"] else "-"
    log = p["log"]
    lines = [
        f"name:      {p['name']} (group {p['group']}, replica {p['replica']})",
        f"state:     {p['state']}" + (f" ({p['message']})" if p.get("message") else ""),
        f"health:    {p['health'] or '-'}",
        f"pid:       {p['pid'] or '-'}",
        f"exit code: {'-' if p['exit_code'] is None else p['exit_code']}",
        f"restarts:  {p['restarts']}",
        f"started:   {started}",
        f"uptime:    {fmt_duration(p['uptime_s'])}",
        f"cpu / mem: {'-' if p['cpu_percent'] is None else p['cpu_percent']}% / {fmt_bytes(p['memory_rss'])}",
        f"command:   {p['command']}",
        f"namespace: {p['namespace']}",
        "depends:   " + (", ".join(f"{dep} ({cond})" for dep, cond in p["depends_on"].items()) or "-"),
        f"log:       lines {log['first_id']}..{log['last_id']} ({log['lines']} kept, {log['evicted_lines']} evicted)",
    ]
    if p["blocked_by"]:
        lines.append(f"waiting:   {', '.join(p['blocked_by'])}")
    return "\n".join(lines)


def results_text(data: dict[str, Any]) -> str:
    """One line per `Result`."""
    out = []
    for r in data["results"]:
        suffix = f" ({r['error']})" if r.get("error") else ""
        out.append(f"{r['name']}: {r['state']}{suffix}")
    return "\n".join(out) or "nothing to do"


def log_text(data: dict[str, Any], multi: bool, timestamps: bool = False) -> tuple[str, str]:
    """Render a `logs` answer as (gap notices for stderr, lines for stdout), each without a final newline.

    pom's own lines get `[pom] ` as in the headless output; `multi` (or several cursors) prefixes
    each line with `process | `; `timestamps` with the time pom read it.
    """
    multi = multi or len(data["cursors"]) > 1
    gaps = "\n".join(
        f"pom: {gap['process']}: {gap['missed']} lines after id {gap['after_id']} were evicted" for gap in data["gaps"]
    )
    out = []
    for line in data["lines"]:
        body = ("[pom] " if line["stream"] == "pom" else "") + line["text"]
        text = f"{line['process']} | {body}" if multi else body
        if timestamps:
            stamp = time.strftime("%H:%M:%S", time.localtime(line["ts"])) + f".{int(line['ts'] * 1000) % 1000:03d}"
            text = f"{stamp} {text}"
        out.append(text)
    return gaps, "\n".join(out)
