"""Agent views: recent error lines per process and a one-call summary (specs/pom/http.md)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from toolkit_pom.core.regex import compile_pattern

if TYPE_CHECKING:
    from toolkit_pom.core.supervisor import Supervisor

__all__ = ["ErrorDetector", "errors", "summary"]

_BUILTIN: tuple[tuple[str, str], ...] = (
    ("panic", r"\bpanic(ked)?\b|Traceback \(most recent call last\)|\bFATAL\b|Segmentation fault"),
    ("error", r"\bERROR\b|\berror[:\[]|\b\w*(Exception|Error)\b:|\bfailed\b"),
    ("warning", r"\bWARN(ING)?\b|\bwarning:"),
)


class ErrorDetector:
    """Classifies a line as panic / error / warning, or None.

    Args:
        extra: Project `error_patterns` (severity `error`).
    """

    def __init__(self, extra: Iterable[str] = ()) -> None:
        self.rules = [(sev, compile_pattern(pat, ignore_case=sev != "warning")) for sev, pat in _BUILTIN]
        self.rules += [("error", compile_pattern(p)) for p in extra]
        self.any = compile_pattern("|".join(f"(?:{r.pattern})" for _, r in self.rules), ignore_case=True)

    def severity(self, text: str) -> str | None:
        """Return the severity of the first rule matching `text`."""
        if not self.any.search(text):
            return None
        for sev, rule in self.rules:
            if rule.search(text):
                return sev
        return None


def errors(sup: Supervisor, names: Iterable[str] | None, limit: int) -> list[dict[str, Any]]:
    """Return the most recent `limit` error lines of each named process, oldest first."""
    detector = ErrorDetector(sup.config.error_patterns)
    targets = sup.resolve(names) if names else list(sup.instances.values())
    out: list[dict[str, Any]] = []
    for inst in targets:
        found: list[dict[str, Any]] = []
        for block, j in inst.log.snapshot().iter_back():
            if block.streams[j] == 0:
                continue  # pom's own lines are not the program's errors
            line = block.line(j)
            sev = detector.severity(line.text)
            if sev is not None:
                found.append({**line.to_dict(inst.name), "severity": sev})
                if len(found) >= limit:
                    break
        found.reverse()
        out.extend(found)
    return out


def summary(sup: Supervisor) -> dict[str, Any]:
    """Return the `Summary` shape: states, last lines and recent errors for an agent."""
    counts: dict[str, int] = {}
    procs = []
    recent = errors(sup, None, 10)
    per_process: dict[str, int] = {}
    for err in recent:
        per_process[err["process"]] = per_process.get(err["process"], 0) + 1
    for inst in sup.instances.values():
        counts[inst.state] = counts.get(inst.state, 0) + 1
        tail = inst.log.snapshot().query(limit=5)
        procs.append(
            {
                "name": inst.name,
                "state": inst.state,
                "health": inst.health,
                "restarts": inst.restarts,
                "exit_code": inst.exit_code,
                "uptime_s": None if inst.uptime is None else round(inst.uptime, 3),
                "message": inst.message,
                "last_lines": [line.text for line in tail.lines],
                "error_count": per_process.get(inst.name, 0),
            }
        )
    recent.sort(key=lambda e: (e["ts"], e["process"], e["id"]))
    return {"project": sup.info(), "counts": counts, "processes": procs, "recent_errors": recent[-10:]}
