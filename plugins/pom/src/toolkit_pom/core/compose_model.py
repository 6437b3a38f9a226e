"""process-compose's file schema (v1.85.0) as one typed model.

Field names and types follow process-compose's YAML keys. Keys starting with `x-` are
extensions and are dropped before validation; every other unknown key is an error whose
location names the key (specs/pom/process-compose.md).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "ComposeProcess",
    "ComposeProject",
    "Dependency",
    "ExecProbe",
    "HttpProbe",
    "ProbeModel",
]

Condition = Literal[
    "process_started",
    "process_healthy",
    "process_completed",
    "process_completed_successfully",
    "process_log_ready",
]
RestartPolicy = Literal["no", "always", "on_failure", "exit_on_failure"]


class _Strict(BaseModel):
    """Unknown keys are errors, `x-*` keys are extensions; YAML scalars coerce to strings like yaml.v3."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _like_yaml_v3(cls, data: Any) -> Any:
        """Drop `x-*` keys and nulls (Go's zero value); a bool in a string field reads as its text."""
        if not isinstance(data, dict):
            return data
        out = {}
        for key, value in data.items():
            if value is None or (isinstance(key, str) and key.startswith("x-")):
                continue
            field = cls.model_fields.get(key) if isinstance(key, str) else None
            text_field = field is not None and field.annotation in (str, "str")
            out[key] = ("true" if value else "false") if isinstance(value, bool) and text_field else value
        return out


class ExecProbe(_Strict):
    """An `exec` probe: a shell command that must exit 0."""

    command: str = ""
    working_dir: str = ""


class HttpProbe(_Strict):
    """An `http_get` probe."""

    host: str = ""
    path: str = ""
    scheme: str = ""
    port: str = ""
    num_port: int = 0
    headers: dict[str, str] = Field(default_factory=dict)
    status_code: int = 0


class ProbeModel(_Strict):
    """`readiness_probe` / `liveness_probe`."""

    exec: ExecProbe | None = None
    http_get: HttpProbe | None = None
    initial_delay_seconds: int = 0
    period_seconds: int = 0
    timeout_seconds: int = 0
    success_threshold: int = 0
    failure_threshold: int = 0


class Availability(_Strict):
    restart: RestartPolicy = "no"
    backoff_seconds: int = 0
    max_restarts: int = Field(default=0, ge=0)
    exit_on_end: bool = False
    exit_on_skipped: bool = False


class Shutdown(_Strict):
    command: str = ""
    timeout_seconds: int = 0
    signal: int = 0
    parent_only: bool = False


class Dependency(BaseModel):
    """One `depends_on` entry; process-compose keeps unknown keys here (inline extensions)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    #: process-compose's zero value is `process_completed` when the key is absent.
    condition: Condition = "process_completed"


class LogRotation(_Strict):
    directory: str = ""
    filename: str = ""
    max_size_mb: int = 0
    max_backups: int = 0
    max_age_days: int = 0
    compress: bool = False


class LoggerConfig(_Strict):
    rotation: LogRotation | None = None
    fields_order: list[str] = Field(default_factory=list)
    disable_json: bool = False
    timestamp_format: str = ""
    no_color: bool = False
    no_metadata: bool = False
    add_timestamp: bool = False
    flush_each_line: bool = False


class Shell(_Strict):
    shell_command: str = ""
    shell_argument: str = ""
    elevated_shell_command: str = ""
    elevated_shell_argument: str = ""


class ComposeProcess(_Strict):
    """One entry of `processes`."""

    name: str = ""
    disabled: bool = False
    is_daemon: bool = False
    command: str = ""
    entrypoint: list[str] = Field(default_factory=list)
    log_location: str = ""
    log_configuration: LoggerConfig | None = None
    environment: list[str] = Field(default_factory=list)
    availability: Availability = Field(default_factory=Availability)
    depends_on: dict[str, Dependency] = Field(default_factory=dict)
    liveness_probe: ProbeModel | None = None
    readiness_probe: ProbeModel | None = None
    ready_log_line: str = ""
    shutdown: Shutdown = Field(default_factory=Shutdown)
    disable_ansi_colors: bool = False
    working_dir: str = ""
    namespace: str = ""
    replicas: int = Field(default=0, ge=0)
    description: str = ""
    vars: dict[str, Any] = Field(default_factory=dict)
    is_foreground: bool = False
    is_tty: bool = False
    is_elevated: bool = False
    is_interactive: bool = False
    launch_timeout_seconds: int = 0
    is_disabled: str = ""
    is_dotenv_disabled: bool = False


class ComposeProject(_Strict):
    """A whole process-compose file."""

    version: str = ""
    name: str = ""
    log_location: str = ""
    log_level: str = ""
    log_length: int = 0
    log_configuration: LoggerConfig | None = None
    log_format: str = ""
    processes: dict[str, ComposeProcess] = Field(default_factory=dict)
    environment: list[str] = Field(default_factory=list)
    shell: Shell | None = None
    is_strict: bool = False
    vars: dict[str, Any] = Field(default_factory=dict)
    disable_env_expansion: bool = False
    is_tui_disabled: bool = False
    extends: str = ""
    env_cmds: dict[str, str] = Field(default_factory=dict)
    ordered_shutdown: bool = False
