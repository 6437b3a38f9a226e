"""Human renderings of grite's results: plain functions from JSON data to text (no click).

The click commands and the `grite` fast path (`toolkit_grite.cli.fast`) print the same text
through these. Every field that came from a replica passes `terminal_safe`.
"""

from __future__ import annotations

import time

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: the fast path imports this module (startup cost)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["done", "show", "table", "terminal_safe", "timestamp"]


def _escapes(codes: list[int]) -> dict[int, str]:
    return {c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}" for c in codes}


# C0 controls but tab and newline, DEL, C1 controls, and the bidi overrides that reorder a line.
# (`str.translate` tables, not regular expressions: the fast path prints without importing `re`.)
_BIDI = [0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_CONTROLS = _escapes([*range(0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0), *_BIDI])
_LINE_CONTROLS = _escapes([*range(0x20), *range(0x7F, 0xA0), *_BIDI, 0x2028, 0x2029])


def terminal_safe(text: str, *, single_line: bool = False) -> str:
    """`text` with terminal control characters (ANSI sequences, carriage returns, bidi) shown as escapes.

    Titles, bodies and comments come from any replica, so a hostile one could otherwise clear the
    screen, rewrite earlier lines or hide text. `single_line` also escapes newlines and tabs (for
    fields printed on one line, such as titles in a table).
    """
    return text.translate(_LINE_CONTROLS if single_line else _CONTROLS)


def timestamp(ms: int | None) -> str:
    """A ms timestamp as UTC `YYYY-MM-DD HH:MM` (`-` when unset)."""
    if not ms:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ms / 1000))


def table(data: dict[str, Any]) -> str:
    """Issue summaries as a table (`issue list`, `dep topo`)."""
    rows = data["issues"]
    if not rows:
        return "no issues"
    lines = [f"{'ID':<8}  {'STATE':<6}  {'CREATED':<16}  TITLE"]
    for s in rows:
        labels = f"  [{', '.join(s['labels'])}]" if s["labels"] else ""
        title = terminal_safe(s["title"] + labels, single_line=True)  # one row per issue, whatever the title holds
        lines.append(f"{s['issue_id'][:8]}  {s['state']:<6}  {timestamp(s['created_ts']):<16}  {title}")
    if data.get("total", len(rows)) > len(rows):
        lines.append(f"({len(rows)} of {data['total']} shown)")
    return "\n".join(lines)


def show(data: dict[str, Any]) -> str:
    """One issue with its comments (`issue show`)."""
    i = data["issue"]
    lines = [
        f"{i['issue_id']}  [{i['state']}]  {terminal_safe(i['title'], single_line=True)}",
        f"created {timestamp(i['created_ts'])}  updated {timestamp(i['updated_ts'])}",
    ]
    if i["labels"]:
        lines.append(f"labels: {', '.join(i['labels'])}")
    if i["assignees"]:
        lines.append(f"assignees: {', '.join(i['assignees'])}")
    for dep in i["dependencies"]:
        lines.append(f"{dep['dep_type']}: {dep['target']}")
    if i["body"]:
        lines += ["", i["body"]]
    for link in i["links"]:
        lines.append(f"link: {link['url']}" + (f" ({link['note']})" if link["note"] else ""))
    for att in i["attachments"]:
        lines.append(f"attachment: {att['name']} {att['mime']} sha256:{att['sha256']}")
    for c in i["comments"]:
        lines += ["", f"--- {c['actor'][:8]} at {timestamp(c['ts'])}", c["body"]]
    return "\n".join(lines)


def done(verb: str) -> Callable[[dict[str, Any]], str]:
    """`<verb> <issue_id>`: the human line of a write."""
    return lambda d: f"{verb} {d['issue_id']}"
