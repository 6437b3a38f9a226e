"""process-compose's `ProcessConfig` over pom's processes: the view and the update (`POST /process`).

process-compose's struct has only YAML tags, so its JSON uses the Go field names; its decoder
matches them case-insensitively and ignores unknown ones, and so does pom. The view is built in
YAML keys first (so process-compose's typed model in `compose_model` validates an update) and
renamed to Go names at the edge. An update applies only the fields whose value differs from the
view (specs/pom/process-compose-api.md): what a view cannot express (pom-only probe kinds,
backoff growth) is kept as long as the client sends it back unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from toolkit_pom.core.config import DEFAULT_SHELL, Probe, ProcessSpec
from toolkit_pom.core.instance import Instance
from toolkit_pom.core.record import replace
from toolkit_pom.core.regex import escape
from toolkit_pom.core.supervisor import MAX_REPLICAS, Supervisor
from toolkit_pom.errors import UnknownProcess, UsageError

__all__ = ["go_config", "update_process"]

#: Go's `RestartPolicy` and `ProcessCondition` are ints in JSON (their order in process-compose).
RESTARTS = ("no", "always", "on_failure", "exit_on_failure")
CONDITIONS = ("completed", "completed_successfully", "healthy", "started", "log_ready")

_PROCESS = {
    "Name": "name", "Disabled": "disabled", "IsDaemon": "is_daemon", "Command": "command",
    "Entrypoint": "entrypoint", "LogLocation": "log_location", "Environment": "environment",
    "RestartPolicy": "availability", "DependsOn": "depends_on", "LivenessProbe": "liveness_probe",
    "ReadinessProbe": "readiness_probe", "ReadyLogLine": "ready_log_line", "ShutDownParams": "shutdown",
    "DisableAnsiColors": "disable_ansi_colors", "WorkingDir": "working_dir", "Namespace": "namespace",
    "Replicas": "replicas", "Description": "description", "Vars": "vars", "IsForeground": "is_foreground",
    "IsTty": "is_tty", "IsElevated": "is_elevated", "IsInteractive": "is_interactive",
    "LaunchTimeout": "launch_timeout_seconds", "IsDisabled": "is_disabled", "DisableDotEnv": "is_dotenv_disabled",
}  # fmt: skip
_NESTED: dict[str, dict[str, str]] = {
    "availability": {"Restart": "restart", "BackoffSeconds": "backoff_seconds", "MaxRestarts": "max_restarts",
                     "ExitOnEnd": "exit_on_end", "ExitOnSkipped": "exit_on_skipped"},
    "shutdown": {"ShutDownCommand": "command", "ShutDownTimeout": "timeout_seconds", "Signal": "signal",
                 "ParentOnly": "parent_only"},
    "probe": {"Exec": "exec", "HttpGet": "http_get", "InitialDelay": "initial_delay_seconds",
              "PeriodSeconds": "period_seconds", "TimeoutSeconds": "timeout_seconds",
              "SuccessThreshold": "success_threshold", "FailureThreshold": "failure_threshold"},
    "exec": {"Command": "command", "WorkingDir": "working_dir"},
    "http_get": {"Host": "host", "Path": "path", "Scheme": "scheme", "Port": "port", "NumPort": "num_port",
                 "Headers": "headers", "StatusCode": "status_code"},
}  # fmt: skip
#: Fields pom applies; a change to any other field is refused (nothing would honour it).
_APPLIED = frozenset(
    {"command", "entrypoint", "environment", "availability", "depends_on", "liveness_probe", "readiness_probe",
     "ready_log_line", "shutdown", "working_dir", "namespace", "replicas", "description", "disabled",
     "is_daemon", "is_interactive", "name"}
)  # fmt: skip
_LEAVES = ("availability", "shutdown")  # compared field by field, the others as whole values
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)


def _shell_run(spec: ProcessSpec) -> bool:
    return len(spec.argv) >= 3 and spec.argv[-1] == spec.command


def _probe_view(probe: Probe | None) -> dict[str, Any] | None:
    if probe is None or probe.kind not in ("exec", "http"):
        return None  # pom-only kinds (tcp, unix; log is `ready_log_line`) have no process-compose form
    view: dict[str, Any] = {
        "initial_delay_seconds": round(probe.initial_delay),
        "period_seconds": round(probe.period),
        "timeout_seconds": round(probe.timeout),
        "success_threshold": probe.success_threshold,
        "failure_threshold": probe.failure_threshold,
    }
    if probe.kind == "exec":
        return {**view, "exec": {"command": probe.target, "working_dir": ""}, "http_get": None}
    url = urlsplit(probe.target)
    http: dict[str, Any] = {"host": url.hostname or "", "path": url.path, "scheme": url.scheme}
    http.update(port=str(url.port or ""), num_port=0, headers={}, status_code=probe.status or 200)
    return {**view, "exec": None, "http_get": http}


def _log_line(probe: Probe | None) -> str:
    """The literal text of a `ready_log_line` probe (a pattern that is no plain literal: as written)."""
    if probe is None or probe.kind != "log":
        return ""
    text = _UNESCAPE.sub(r"\1", probe.target)
    return text if escape(text) == probe.target else probe.target


def _view(spec: ProcessSpec, replicas: int) -> dict[str, Any]:
    """The process in process-compose's YAML keys (what `GET /process/info` shows, renamed)."""
    shell = _shell_run(spec)
    return {
        "name": spec.name,
        "disabled": spec.disabled,
        "is_daemon": spec.is_daemon,
        "command": spec.command if shell else "",
        "entrypoint": [] if shell else list(spec.argv),
        "log_location": "",
        "environment": [f"{k}={v}" for k, v in spec.env.items()],
        "availability": {
            "restart": spec.restart,
            "backoff_seconds": round(spec.backoff_initial),
            "max_restarts": spec.max_restarts,
            "exit_on_end": spec.exit_on_end,
            "exit_on_skipped": spec.exit_on_skipped,
        },
        "depends_on": {dep: {"condition": f"process_{cond}"} for dep, cond in spec.depends_on.items()},
        "liveness_probe": _probe_view(spec.liveness),
        "readiness_probe": _probe_view(spec.readiness),
        "ready_log_line": _log_line(spec.readiness),
        "shutdown": {
            "command": spec.shutdown_command or "",
            "timeout_seconds": round(spec.shutdown_timeout),
            "signal": spec.shutdown_signal,
            "parent_only": spec.shutdown_parent_only,
        },
        "disable_ansi_colors": False,
        "working_dir": str(spec.cwd),
        "namespace": spec.namespace,
        "replicas": replicas,
        "description": spec.description,
        "vars": {},
        "is_foreground": False,
        "is_tty": spec.interactive,
        "is_elevated": False,
        "is_interactive": spec.interactive,
        "launch_timeout_seconds": 5,
        "is_disabled": "",
        "is_dotenv_disabled": False,
    }


def _rename(data: Mapping[str, Any], table: Mapping[str, str]) -> dict[str, Any]:
    """YAML keys to Go names, recursively (the inverse of `_from_go`)."""
    out: dict[str, Any] = {}
    for go, key in table.items():
        value: Any = data.get(key)
        if key in ("availability", "shutdown", "exec", "http_get"):
            value = None if value is None else _rename(value, _NESTED[key])
        elif key in ("liveness_probe", "readiness_probe"):
            value = None if value is None else _rename(value, _NESTED["probe"])
        elif key == "restart":
            value = RESTARTS.index(value)
        elif key == "depends_on" and value:
            value = {
                dep: {"Condition": CONDITIONS.index(c["condition"].removeprefix("process_")), "Extensions": None}
                for dep, c in value.items()
            }
        out[go] = None if value in ({}, []) else value  # Go's nil slices and maps
    return out


def go_config(sup: Supervisor, inst: Instance) -> dict[str, Any]:
    """`GET /process/info`: the instance's `ProcessConfig` with Go field names."""
    view = _rename(_view(inst.spec, len(sup.groups.get(inst.spec.name, ()))), _PROCESS)
    argv = inst.spec.argv
    extra = {"LoggerConfig": None, "Extensions": None, "OriginalConfig": "", "ReplicaNum": inst.replica - 1}
    return {**view, **extra, "ReplicaName": inst.name, "Executable": argv[0], "Args": list(argv[1:])}


def _bad(key: str, problem: str) -> UsageError:
    return UsageError(f"ProcessConfig {key}: {problem}", hint="see specs/pom/process-compose-api.md")


def _enum(value: Any, names: tuple[str, ...], key: str, prefix: str = "") -> str:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names):
        return prefix + names[value]
    if isinstance(value, str) and value.removeprefix(prefix) in names:
        return prefix + value.removeprefix(prefix)
    raise _bad(key, f"expected one of {', '.join(prefix + n for n in names)} (or 0..{len(names) - 1}), got {value!r}")


def _from_go(data: Any, table: Mapping[str, str], where: str) -> dict[str, Any]:
    """Go names (any case, unknown ones ignored like Go's decoder) to YAML keys; null is left out."""
    if not isinstance(data, dict):
        raise _bad(where or "body", f"expected a JSON object, got {data!r}")
    lower = {go.lower(): key for go, key in table.items()}
    out: dict[str, Any] = {}
    for name, value in data.items():
        key = lower.get(str(name).lower())
        if key is not None and value is not None:
            out[key] = _from_go_value(key, value, f"{where}.{name}" if where else str(name))
    return out


def _from_go_value(key: str, value: Any, path: str) -> Any:
    if key in ("availability", "shutdown", "exec", "http_get"):
        return _from_go(value, _NESTED[key], path)
    if key in ("liveness_probe", "readiness_probe"):
        return _from_go(value, _NESTED["probe"], path)
    if key == "restart":
        return _enum(value, RESTARTS, path)
    if key == "depends_on":
        if not isinstance(value, dict):
            raise _bad(path, "expected an object of process names")
        return {
            dep: {"condition": _enum(_from_go(d, {"Condition": "c"}, f"{path}.{dep}").get("c", 0), CONDITIONS,
                                     f"{path}.{dep}.Condition", "process_")}
            for dep, d in value.items()
        }  # fmt: skip
    return value


def _validated(body: dict[str, Any]) -> dict[str, Any]:
    """Type-check the update with process-compose's model; errors name the YAML key."""
    from pydantic import ValidationError  # the model: only when an update arrives

    from toolkit_pom.core.compose_model import ComposeProcess

    try:
        model = ComposeProcess.model_validate(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise _bad(".".join(map(str, err["loc"])), f"{err['msg']} (got {err.get('input')!r})") from None
    # Unset leaves stay out, so `{"RestartPolicy": {"Restart": 1}}` changes the policy only.
    return model.model_dump(include=set(body), exclude_unset=True)


def _norm_probe(value: dict[str, Any] | None) -> dict[str, Any] | None:
    from toolkit_pom.core.compose_model import ProbeModel

    return ProbeModel.model_validate(value).model_dump() if value else None


def _changes(view: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The YAML keys (`availability.restart` for leaves) whose value differs from the view."""
    changed: dict[str, Any] = {}
    for key, value in body.items():
        if key in _LEAVES:
            for leaf, leaf_value in value.items():
                if leaf in view[key] and leaf_value != view[key][leaf]:
                    changed[f"{key}.{leaf}"] = leaf_value
        elif key in ("liveness_probe", "readiness_probe"):
            if _norm_probe(value) != _norm_probe(view[key]):
                changed[key] = value
        elif value != view[key] and not (not value and not view[key]):
            changed[key] = value
    refused = sorted(k for k in changed if k.partition(".")[0] not in _APPLIED)
    if refused:
        raise _bad(refused[0], "pom does not apply this field")
    if "name" in changed:
        raise _bad("Name", f"cannot rename {view['name']!r} (find the process by ReplicaName)")
    return changed


def _probe(data: dict[str, Any] | None, key: str, base: Path) -> Probe | None:
    from toolkit_pom.core.compose_loader import build_probe
    from toolkit_pom.core.compose_model import ProbeModel

    if data is None:
        return None
    return build_probe(ProbeModel.model_validate(data), key, base, lambda text: text)


def _applier(
    spec: ProcessSpec, changed: dict[str, Any], view: dict[str, Any], base: Path
) -> Callable[[ProcessSpec], ProcessSpec]:
    """A function that applies the changes to one replica's spec (environment: as a difference)."""

    def final(key: str) -> Any:
        return changed.get(key, view[key])

    if final("readiness_probe") and final("ready_log_line"):
        raise _bad("ReadyLogLine", "cannot be combined with ReadinessProbe")
    fields: dict[str, Any] = {}
    if "command" in changed or "entrypoint" in changed:
        command, entry = final("command"), final("entrypoint")
        shell = spec.argv[:-1] if _shell_run(spec) else DEFAULT_SHELL
        argv = (*shell, command) if command or not entry else tuple(entry)
        fields.update(argv=argv, command=command or " ".join(entry))
    for key, value in changed.items():
        if key not in ("command", "entrypoint", "environment"):
            fields.update(_field(key, value, base))
    env_new = dict(item.partition("=")[::2] for item in final("environment"))
    env_old = dict(item.partition("=")[::2] for item in view["environment"])
    env_set = {k: v for k, v in env_new.items() if env_old.get(k) != v}
    env_drop = set(env_old) - set(env_new)

    def apply(replica: ProcessSpec) -> ProcessSpec:
        env = {k: v for k, v in replica.env.items() if k not in env_drop} | env_set
        return replace(replica, **fields, env=env)

    return apply


def _field(key: str, value: Any, base: Path) -> dict[str, Any]:
    """One changed YAML key as ProcessSpec fields."""
    if key == "ready_log_line":
        return {"readiness": Probe(kind="log", target=escape(value), period=0.1) if value else None}
    if key in ("readiness_probe", "liveness_probe"):
        go = "ReadinessProbe" if key == "readiness_probe" else "LivenessProbe"
        return {key.partition("_")[0]: _probe(value, go, base)}
    if key == "depends_on":
        return {"depends_on": {dep: d["condition"].removeprefix("process_") for dep, d in value.items()}}
    if key == "working_dir":
        return {"cwd": base / value if value else base}
    if key == "namespace":
        return {"namespace": value or "default"}
    if key == "replicas":
        if not 0 <= value <= MAX_REPLICAS:
            raise _bad("Replicas", f"must be between 0 and {MAX_REPLICAS}")
        return {}
    if key.startswith(("availability.", "shutdown.")):
        return _policy(key, value)
    return {{"is_interactive": "interactive"}.get(key, key): value}


def _policy(key: str, value: Any) -> dict[str, Any]:
    """One changed `availability` or `shutdown` leaf as ProcessSpec fields (process-compose's defaults for 0)."""
    from toolkit_pom.core.config import parse_signal

    if key == "shutdown.signal":
        try:
            return {"shutdown_signal": parse_signal(value) if value else 15}
        except ValueError as exc:
            raise _bad("ShutDownParams.Signal", str(exc)) from None
    table: dict[str, Callable[[Any], dict[str, Any]]] = {
        "availability.restart": lambda v: {"restart": v},
        "availability.backoff_seconds": lambda v: {
            "backoff_initial": float(v or 1), "backoff_max": float(v or 1), "backoff_factor": 1.0},
        "availability.max_restarts": lambda v: {"max_restarts": max(v, 0)},
        "availability.exit_on_end": lambda v: {"exit_on_end": v},
        "availability.exit_on_skipped": lambda v: {"exit_on_skipped": v},
        "shutdown.command": lambda v: {"shutdown_command": v or None},
        "shutdown.timeout_seconds": lambda v: {"shutdown_timeout": float(v if v > 0 else 10)},
        "shutdown.parent_only": lambda v: {"shutdown_parent_only": v},
    }  # fmt: skip
    return table[key](value)


async def update_process(sup: Supervisor, body: Any) -> dict[str, Any]:
    """`POST /process`: apply a `ProcessConfig` to the process named by its `ReplicaName`.

    An unchanged config does nothing. Otherwise the process's group is defined anew (the
    changed fields over its definition) and its instances removed and added again, running
    unless disabled; a changed `Replicas` sets their number. Returns the new `go_config`.

    Raises:
        UnknownProcess: no instance is named `ReplicaName` (nothing changes).
        UsageError: the body is malformed or changes a field pom cannot apply (nothing changes).
        PomConfigError: the new dependencies name no process or make a cycle (nothing changes).
    """
    if not isinstance(body, dict):
        raise _bad("body", "expected a JSON object (process-compose's ProcessConfig)")
    replica = next((v for k, v in body.items() if str(k).lower() == "replicaname"), None)
    inst = sup.instances.get(replica) if isinstance(replica, str) else None
    if inst is None:
        raise UnknownProcess(f"no such process: {replica or ''}", details={"name": replica})
    group = inst.spec.name
    count = len(sup.groups[group])
    view = _view(inst.spec, count)
    changed = _changes(view, _validated(_from_go(body, _PROCESS, "")))
    if not changed:
        return go_config(sup, inst)
    old = sup.config.processes[group]
    apply = _applier(inst.spec, changed, view, sup.config.dir)
    variant = old.variant
    replicas = changed.get("replicas", count)
    numbered = replicas > 1 if old.replica_style == "compose" else old.numbered
    new = replace(
        apply(old),
        replicas=replicas,
        numbered=numbered,
        variant=(lambda n: apply(variant(n))) if variant is not None else None,
    )
    await sup.redefine(new)
    names = sup.groups[group]
    target = sup.instances.get(inst.name) or (sup.instances[names[0]] if names else None)
    return go_config(sup, target) if target is not None else {**go_config(sup, inst), "Replicas": 0}
