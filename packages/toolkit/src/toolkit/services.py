"""What a plugin tells the host about a server it can run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Readiness", "ServiceSpec"]

ReadinessKind = Literal["tcp", "http", "unix", "log"]


@dataclass(frozen=True)
class Readiness:
    """How a supervisor knows the service is serving.

    Attributes:
        kind: `tcp` (target `host:port` accepts a connection), `http` (target URL answers 2xx),
            `unix` (target socket path accepts a connection) or `log` (target is a regular
            expression a line of the service's output matches).
        target: What to probe, in the form `kind` implies.
    """

    kind: ReadinessKind
    target: str

    def __post_init__(self) -> None:
        if self.kind not in ("tcp", "http", "unix", "log"):
            raise ValueError(f"unknown readiness kind {self.kind!r}")
        if not self.target:
            raise ValueError("readiness target must not be empty")


@dataclass(frozen=True)
class ServiceSpec:
    """A long-running server a plugin offers.

    Attributes:
        name: Unique service name, usually the plugin's name.
        argv: The command that runs it in the foreground, e.g. `("toolkit", "graveyar", "serve")`.
        description: One line for `toolkit services`.
        default_address: Where it listens by default (`127.0.0.1:50051`, a URL or a socket path).
        readiness: How to tell it is ready.
        env: Extra environment variables for the process.
    """

    name: str
    argv: tuple[str, ...]
    description: str
    default_address: str
    readiness: Readiness
    env: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.name or not self.argv:
            raise ValueError("a service needs a name and a non-empty argv")

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form used by `toolkit services --json`."""
        return {
            "name": self.name,
            "argv": list(self.argv),
            "description": self.description,
            "default_address": self.default_address,
            "readiness": {"kind": self.readiness.kind, "target": self.readiness.target},
            "env": dict(self.env),
        }
