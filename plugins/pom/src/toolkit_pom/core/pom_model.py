"""pom.toml as a typed model (specs/pom/config.md): types, ranges and unknown keys in one place.

Validation errors become PomConfigError naming file and key path with a hint (see
`config_error`). Semantic checks that need the file system, installed services or the whole
graph stay in `toolkit_pom.core.config`.
"""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from toolkit_pom.core.regex import PatternError, compile_pattern

__all__ = ["PomFile", "PomProbe", "PomProcess", "PomProject", "config_error_parts"]

Condition = Literal["started", "healthy", "completed", "completed_successfully", "log_ready"]
Scalar = str | int | float


class _Table(BaseModel):
    """Unknown keys are errors; `x-*` keys are extensions; values keep their TOML type (strict)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _drop_extensions(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}
        return data


class PomProbe(_Table):
    """A readiness or liveness table: exactly one kind key plus timing."""

    exec: str | None = None
    http: str | None = None
    tcp: str | None = None
    unix: str | None = None
    log: str | None = None
    status: int | None = None
    initial_delay: float = Field(default=0.0, ge=0.0)
    period: float = Field(default=1.0, ge=0.05)
    timeout: float = Field(default=1.0, ge=0.05)
    success_threshold: int = Field(default=1, ge=1)
    failure_threshold: int = Field(default=3, ge=1)

    @field_validator("exec", "http", "tcp", "unix", "log")
    @classmethod
    def _not_empty(cls, value: str | None) -> str | None:
        if value is not None and not value:
            raise ValueError("must not be empty; give the command, URL, address or pattern to check")
        return value

    @field_validator("tcp")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^.+:(\d+|\$\{?\w+\}?)$", value):
            raise ValueError(f'expected host:port, got {value!r}; e.g. tcp = "127.0.0.1:5432"')
        return value

    @field_validator("http")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://", value):
            raise ValueError(f'expected an http:// URL, got {value!r}; e.g. http = "http://127.0.0.1:8000/health"')
        return value

    @field_validator("log")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compile_pattern(value)
            except PatternError as exc:
                raise ValueError(f"bad regular expression: {exc}; escape special characters with \\") from None
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> PomProbe:
        if len(self.kinds) != 1:
            raise ValueError(
                'needs exactly one of exec, http, tcp, unix, log; e.g. readiness = { http = "http://127.0.0.1:8000/" }'
            )
        return self

    @property
    def kinds(self) -> list[str]:
        """The kind keys that are set."""
        return [k for k in ("exec", "http", "tcp", "unix", "log") if getattr(self, k) is not None]


class DependsOn(_Table):
    """`name = { condition = "..." }`."""

    condition: Condition = "started"


class PomProcess(_Table):
    """One `[processes.NAME]` table."""

    command: str | None = None
    argv: list[str] | None = None
    service: str | None = None
    description: str = ""
    cwd: str | None = None
    env: dict[str, Scalar] = Field(default_factory=dict)
    env_files: list[str] = Field(default_factory=list)
    depends_on: list[str] | dict[str, Condition | DependsOn] = Field(default_factory=dict)
    readiness: PomProbe | None = None
    liveness: PomProbe | None = None
    restart: Literal["no", "always", "on_failure", "exit_on_failure"] = "no"
    max_restarts: int = Field(default=0, ge=0)
    backoff_initial: float = Field(default=0.5, ge=0.0)
    backoff_factor: float = Field(default=2.0, ge=1.0)
    backoff_max: float = Field(default=30.0, ge=0.0)
    stable_after: float = Field(default=30.0, ge=0.0)
    success_exit_codes: list[int] = Field(default_factory=lambda: [0])
    shutdown_signal: str | int = "SIGTERM"
    shutdown_timeout: float = Field(default=10.0, ge=0.0)
    replicas: Annotated[int, Field(ge=1, le=64)] = 1
    disabled: bool = False
    interactive: bool = False
    log_max_bytes: int | str | None = None

    @field_validator("env", mode="before")
    @classmethod
    def _env_values(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                    raise ValueError(f'{key}: expected a string, got {item!r}; quote the value: KEY = "value"')
        return value

    @model_validator(mode="after")
    def _one_source(self) -> PomProcess:
        sources = [k for k in ("command", "argv", "service") if getattr(self, k) is not None]
        if len(sources) != 1:
            raise ValueError('needs exactly one of command, argv, service; e.g. command = "python -m http.server"')
        return self


class PomProject(_Table):
    """The `[project]` table."""

    name: str | None = None
    shell: list[str] | None = None
    env: dict[str, Scalar] = Field(default_factory=dict)
    env_files: list[str] | None = None
    log_max_bytes: int | str | None = None
    error_patterns: list[str] = Field(default_factory=list)
    http: str = "127.0.0.1:9876"
    ports: list[str] = Field(default_factory=list)

    @field_validator("http")
    @classmethod
    def _address(cls, value: str) -> str:
        if not re.match(r"^.+:\d+$", value):
            raise ValueError(f'expected host:port, got {value!r}; e.g. http = "127.0.0.1:9876"')
        return value

    @field_validator("error_patterns")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                compile_pattern(pattern)
            except PatternError as exc:
                raise ValueError(f"bad regular expression {pattern!r}: {exc}; fix the pattern") from None
        return value

    @field_validator("ports")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.match(r"^[A-Za-z_]\w*$", name):
                raise ValueError(f'bad variable name {name!r}; e.g. ports = ["API_PORT"]')
        return value


class PomFile(_Table):
    """A whole pom.toml."""

    project: PomProject = Field(default_factory=PomProject)
    processes: dict[str, PomProcess]

    @field_validator("processes")
    @classmethod
    def _some(cls, value: dict[str, PomProcess]) -> dict[str, PomProcess]:
        if not value:
            raise ValueError('no processes defined; add [processes.web] with command = "..."')
        return value


def config_error_parts(exc: ValidationError) -> tuple[str, str, str]:
    """Return (key path, problem, hint) for the first error."""
    # A union reports one error per branch: the deepest names the actual key.
    err = max(exc.errors(), key=lambda e: len(_path(e["loc"])))
    loc = _path(err["loc"])
    key = ".".join(str(p) for p in loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = _valid_keys(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), parent, n=1)
        listing = f"valid keys: {', '.join(parent)}"
        return key, "unknown key", (f"did you mean {close[0]!r}? " + listing) if close else listing
    message = str(err["msg"]).removeprefix("Value error, ")
    if "; " in message and kind == "value_error":
        problem, _, hint = message.partition("; ")
        return key, problem, hint
    got = err.get("input")
    if kind == "literal_error":
        return key, f"unknown value {got!r}", str(err["msg"]).replace("Input should be", "use one of:")
    if kind in ("greater_than_equal", "less_than_equal"):
        low, high = _bounds(loc)
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        return key, f"must be {bound}, got {got!r}", f"use a value {bound}"
    return key, f"{message} (got {got!r})", _type_hint(str(kind))


def _path(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The key path without pydantic's union-branch and validator labels."""
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in _BRANCH_LABELS)))


_BRANCH_LABELS = frozenset({"str", "int", "float", "bool", "DependsOn"})


def _bounds(loc: tuple[Any, ...]) -> tuple[Any, Any]:
    if loc and loc[-1] == "replicas":
        return 1, 64
    names = {"backoff_factor": 1.0, "period": 0.05, "timeout": 0.05, "success_threshold": 1, "failure_threshold": 1}
    return names.get(str(loc[-1]) if loc else "", 0), None


def _type_hint(kind: str) -> str:
    if kind.startswith(("float", "int")):
        return "expected a number"
    if kind.startswith("bool"):
        return "expected true or false"
    if kind.startswith("list"):
        return 'expected a list, e.g. ["a", "b"]'
    if kind.startswith(("dict", "model")):
        return "expected a table: [section] or { key = value }"
    return "see specs/pom/config.md"


def _valid_keys(loc: tuple[Any, ...]) -> list[str]:
    if not loc:
        return list(PomFile.model_fields)
    if loc[0] == "project":
        return list(PomProject.model_fields)
    if loc[0] == "processes":
        if len(loc) >= 3 and loc[2] in ("readiness", "liveness"):
            return list(PomProbe.model_fields)
        if len(loc) >= 4 and loc[2] == "depends_on":
            return list(DependsOn.model_fields)
        return list(PomProcess.model_fields)
    return []
