"""The dependency graph of process groups (the `Graph` shape, specs/pom/control-protocol.md).

Built from `Process` views, so the CLI (`pom graph`), HTTP (`/graph`) and the TUI show the same
graph with the same live states.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["dependency_graph", "graph_lines"]


def dependency_graph(processes: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Group the `Process` views by group and link each group to its dependencies and dependents."""
    groups: dict[str, dict[str, Any]] = {}
    for proc in processes:
        group = groups.setdefault(
            proc["group"],
            {
                "name": proc["group"],
                "namespace": proc["namespace"],
                "depends_on": dict(proc["depends_on"]),
                "dependents": [],
                "instances": {},
            },
        )
        group["instances"][proc["name"]] = proc["state"]
    for name, group in groups.items():
        for dep in group["depends_on"]:
            if dep in groups and name not in groups[dep]["dependents"]:
                groups[dep]["dependents"].append(name)
    roots = [name for name, group in groups.items() if not group["dependents"]]
    return {"groups": list(groups.values()), "roots": roots}


def _states(group: Mapping[str, Any] | None) -> str:
    if group is None:
        return "[unknown]"
    states = group["instances"].values()
    return "[" + ", ".join(dict.fromkeys(states)) + "]"


def graph_lines(graph: Mapping[str, Any]) -> list[str]:
    """Render `graph` as an indented tree: each root, then what it depends on (`pom graph`)."""
    by_name = {g["name"]: g for g in graph["groups"]}
    lines: list[str] = []

    def walk(name: str, condition: str | None, prefix: str, last: bool, branch: tuple[str, ...]) -> None:
        group = by_name.get(name)
        joint = "" if condition is None else ("└─ " if last else "├─ ")
        label = f"{name} {_states(group)}"
        if condition is not None:
            label += f" ({condition})"
        if name in branch:
            lines.append(f"{prefix}{joint}{label} (cycle)")
            return
        lines.append(f"{prefix}{joint}{label}")
        if group is None:
            return
        deps = list(group["depends_on"].items())
        child_prefix = prefix if condition is None else prefix + ("   " if last else "│  ")
        for i, (dep, cond) in enumerate(deps):
            walk(dep, cond, child_prefix, i == len(deps) - 1, (*branch, name))

    # Every group in a cycle has a dependent, so a graph of only cycles has no root: start anywhere.
    for root in graph["roots"] or [g["name"] for g in graph["groups"][:1]]:
        walk(root, None, "", True, ())
    return lines
