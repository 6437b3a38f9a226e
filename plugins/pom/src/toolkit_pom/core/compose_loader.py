"""Load process-compose files into pom's project model (specs/pom/process-compose.md).

Reading, `extends`, `$VAR` expansion and merging work on plain dicts; the merged dict is then
validated by the typed model in `compose_model`, and each process becomes a `ProcessSpec`.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from toolkit_pom.core.compose_model import ComposeProcess, ComposeProject, ProbeModel
from toolkit_pom.core.config import Probe, ProcessSpec, ProjectConfig, check_graph
from toolkit_pom.core.discovery import COMPOSE_NAMES, OVERRIDE_NAMES, find_override, is_compose_file
from toolkit_pom.core.dotenv import load_env_file
from toolkit_pom.core.envsubst import expand
from toolkit_pom.core.gotemplate import TemplateError, render
from toolkit_pom.core.record import replace
from toolkit_pom.core.regex import escape
from toolkit_pom.errors import PomConfigError

__all__ = ["COMPOSE_NAMES", "OVERRIDE_NAMES", "build_probe", "find_override", "is_compose_file", "load_compose"]

CONDITIONS = {
    "process_started": "started",
    "process_healthy": "healthy",
    "process_completed": "completed",
    "process_completed_successfully": "completed_successfully",
    "process_log_ready": "log_ready",
}
_ESCAPED = "\x00PC_ENV_ESCAPED\x00"


class _Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 booleans (only true/false), as yaml.v3 reads them: `restart: no` stays a string."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _fail(file: Path, key: str, problem: str, hint: str = "") -> PomConfigError:
    return PomConfigError(
        f"{file}: {key}: {problem}" if key else f"{file}: {problem}",
        hint=hint or None,
        details={"file": str(file), "key": key},
    )


def _validation_error(file: Path, exc: ValidationError) -> PomConfigError:
    err = exc.errors()[0]
    key = ".".join(str(part) for part in err["loc"])
    if err["type"] == "extra_forbidden":
        return _fail(file, key, "unknown key", "check the spelling; extension keys start with x-")
    return _fail(file, key, f"{err['msg']} (got {err.get('input')!r})", "see specs/pom/process-compose.md")


def _read(file: Path, lookup: Callable[[str], str | None]) -> dict[str, Any]:
    try:
        raw = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PomConfigError(f"cannot read {file}: {exc}", details={"file": str(file)}) from None
    text = expand(raw.replace("$$", _ESCAPED), lookup).replace(_ESCAPED, "$")
    data = _parse_yaml(file, text)
    if data.get("disable_env_expansion") is True:
        data = _parse_yaml(file, raw)
    try:
        ComposeProject.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(file, exc) from None
    return data


def _parse_yaml(file: Path, text: str) -> dict[str, Any]:
    try:
        data = yaml.load(text, Loader=_Yaml12Loader)
    except yaml.YAMLError as exc:
        raise _fail(file, "", f"not valid YAML: {exc}", "check indentation and quoting") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise _fail(file, "", "the top level must be a mapping", "start with `processes:`")
    return data


def _is_zero(value: Any) -> bool:
    return value is None or value is False or value in (0, "", [], {})


def _env_map(items: Iterable[Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, _, value = str(item).partition("=")
        out[key] = value
    return out


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Merge like process-compose (mergo with override and append): set values win, lists append."""
    out = dict(base)
    for key, value in over.items():
        if _is_zero(value):
            continue
        old = out.get(key)
        if key == "environment" and isinstance(old, list) and isinstance(value, list):
            merged = {**_env_map(old), **_env_map(value)}
            out[key] = sorted(f"{k}={v}" for k, v in merged.items())
        elif isinstance(old, dict) and isinstance(value, dict):
            out[key] = _merge(old, value)
        elif isinstance(old, list) and isinstance(value, list):
            out[key] = old + value
        else:
            out[key] = value
    return out


def _with_default_dirs(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """An extended file's processes run in its directory unless they say otherwise."""
    procs = data.get("processes")
    if not isinstance(procs, dict):
        return data
    fixed = {}
    for name, raw in procs.items():
        body = dict(raw or {})
        wd = str(body.get("working_dir") or "")
        body["working_dir"] = str(folder / wd) if wd else str(folder)
        fixed[name] = body
    return {**data, "processes": fixed}


def _load_chain(
    file: Path, lookup: Callable[[str], str | None], loading: list[Path]
) -> list[tuple[Path, dict[str, Any]]]:
    """Return `file` and, before it, the files it extends (transitively)."""
    data = _read(file, lookup)
    extends = data.get("extends")
    if not extends:
        return [(file, data)]
    target = (file.parent / str(extends)).resolve()
    if target in loading:
        raise _fail(file, "extends", f"{target} is already being loaded", "a file cannot extend itself")
    if not target.is_file():
        raise _fail(file, "extends", f"{target} does not exist", "extends takes a path relative to this file")
    chain = _load_chain(target, lookup, [*loading, target])
    base = [(f, _with_default_dirs(d, target.parent)) for f, d in chain]
    return [*base, (file, data)]


def _shell() -> tuple[str, str]:
    shell = os.environ.get("COMPOSE_SHELL") or "bash"
    return (shell if shutil.which(shell) else "/bin/sh"), "-c"


def build_probe(model: ProbeModel | None, where: str, file: Path, tpl: Callable[[str], str]) -> Probe | None:
    """Build a probe; `tpl` renders the templated fields (exec command, http host/path/scheme/port)."""
    if model is None:
        return None
    timing = Probe(
        kind="exec",
        target="",
        initial_delay=float(max(model.initial_delay_seconds, 0)),
        period=float(model.period_seconds if model.period_seconds >= 1 else 10),
        timeout=float(model.timeout_seconds if model.timeout_seconds >= 1 else 1),
        success_threshold=model.success_threshold if model.success_threshold >= 1 else 1,
        failure_threshold=model.failure_threshold if model.failure_threshold >= 1 else 3,
    )
    if model.exec is not None:
        return replace(timing, target=tpl(model.exec.command))
    if model.http_get is not None:
        h = model.http_get
        port_text = tpl(h.port).strip()
        port = h.num_port or (int(port_text) if port_text.isdigit() else 0)
        netloc = (tpl(h.host).strip() or "127.0.0.1") + (f":{port}" if 0 < port < 65536 else "")
        status = h.status_code if 0 < h.status_code < 400 else 200
        url = f"{tpl(h.scheme).strip() or 'http'}://{netloc}{tpl(h.path).strip() or '/'}"
        return replace(timing, kind="http", target=url, status=status)
    raise _fail(file, where, "needs exec or http_get", "e.g. readiness_probe: {exec: {command: 'true'}}")


class _Renderer:
    """Renders one process's templated fields for one replica (0-based)."""

    def __init__(self, file: Path, name: str, project_vars: Mapping[str, Any], proc: ComposeProcess) -> None:
        self.file = file
        self.name = name
        self.vars = {**project_vars, **proc.vars}

    def __call__(self, text: str, key: str, replica: int) -> str:
        if not text:
            return text
        try:
            return render(text, {**self.vars, "PC_REPLICA_NUM": replica})
        except TemplateError as exc:
            raise _fail(self.file, f"processes.{self.name}.{key}", f"template error: {exc}") from None


def _replica_name(name: str, replicas: int, index: int) -> str:
    if replicas <= 1:
        return name
    width = 1 + int(math.log10(replicas))
    return f"{name}-{index:0{width}d}"


def _process(
    name: str,
    proc: ComposeProcess,
    project: ComposeProject,
    file: Path,
    base_dir: Path,
    dotenv: Mapping[str, str],
) -> ProcessSpec:
    tpl = _Renderer(file, name, project.vars, proc)
    shell = project.shell
    default_shell = _shell()
    shell_cmd = (shell.shell_command if shell and shell.shell_command else default_shell[0],)
    shell_arg = shell.shell_argument if shell and shell.shell_argument else default_shell[1]
    disabled = proc.disabled
    if proc.is_disabled in ("true", "false"):
        disabled = proc.is_disabled == "true"
    if name in (os.environ.get("PC_DISABLED_PROCESSES") or "").split(","):
        disabled = True
    if proc.readiness_probe is not None and proc.ready_log_line:
        raise _fail(file, f"processes.{name}.ready_log_line", "cannot be combined with readiness_probe")
    replicas = max(proc.replicas, 1)

    def build(replica: int) -> ProcessSpec:
        index = replica - 1
        command = tpl(proc.command, "command", index)
        if command or not proc.entrypoint:
            argv: tuple[str, ...] = (*shell_cmd, shell_arg, *([command] if command else []))
        else:
            argv = tuple(proc.entrypoint)
        wd = tpl(proc.working_dir, "working_dir", index)
        cwd = (base_dir / wd) if wd else base_dir
        env = {} if proc.is_dotenv_disabled else {k: v for k, v in dotenv.items() if k not in os.environ}
        env.update(_env_map(tpl(item, "environment", index) for item in project.environment))
        env.update(_env_map(tpl(item, "environment", index) for item in proc.environment))
        env["PC_PROC_NAME"] = name
        env["PC_REPLICA_NUM"] = str(index)
        key = f"processes.{name}"
        readiness = build_probe(
            proc.readiness_probe, f"{key}.readiness_probe", file, lambda t: tpl(t, "readiness_probe", index)
        )
        if proc.ready_log_line:
            readiness = Probe(kind="log", target=escape(proc.ready_log_line), period=0.1)
        avail = proc.availability
        backoff = float(avail.backoff_seconds if avail.backoff_seconds > 0 else 1)
        return ProcessSpec(
            name=name,
            argv=argv,
            command=command or " ".join(proc.entrypoint),
            cwd=cwd.resolve() if cwd.is_absolute() else cwd,
            env=env,
            description=tpl(proc.description, "description", index),
            depends_on={dep: CONDITIONS[d.condition] for dep, d in proc.depends_on.items()},
            readiness=readiness,
            liveness=build_probe(
                proc.liveness_probe, f"{key}.liveness_probe", file, lambda t: tpl(t, "liveness_probe", index)
            ),
            restart=avail.restart,
            max_restarts=avail.max_restarts,
            backoff_initial=backoff,
            backoff_factor=1.0,
            backoff_max=backoff,
            stable_after=math.inf,
            shutdown_signal=proc.shutdown.signal or 15,
            shutdown_timeout=float(proc.shutdown.timeout_seconds or 10),
            shutdown_command=proc.shutdown.command or None,
            shutdown_parent_only=proc.shutdown.parent_only,
            replicas=replicas,
            disabled=disabled,
            namespace=proc.namespace or "default",
            exit_on_end=avail.exit_on_end,
            exit_on_skipped=avail.exit_on_skipped,
            is_daemon=proc.is_daemon,
            interactive=proc.is_interactive,
            replica_style="compose",
            numbered=replicas > 1,
        )

    first = build(1)
    return replace(first, variant=build)


def _dotenv(folder: Path, env_files: Sequence[Path], disable_dotenv: bool) -> dict[str, str]:
    if disable_dotenv:
        return {}
    if env_files:
        merged: dict[str, str] = {}
        for path in env_files:
            merged.update(load_env_file(path))
        return merged
    return load_env_file(folder / ".env", required=False)


def load_compose(
    files: Sequence[Path], *, env_files: Sequence[Path] = (), disable_dotenv: bool = False
) -> ProjectConfig:
    """Load and merge process-compose files (in order) into one validated project.

    Raises:
        PomConfigError: a file is missing, malformed, or the merged project is inconsistent.
    """
    paths = [Path(f).resolve() for f in files]
    for path in paths:
        if not path.is_file():
            raise PomConfigError(f"config file {path} does not exist", hint="pass -f FILE with an existing file")
    folder = paths[0].parent
    dotenv = _dotenv(folder, env_files, disable_dotenv)

    def lookup(name: str) -> str | None:
        return dotenv[name] if name in dotenv else os.environ.get(name)

    chain: list[tuple[Path, dict[str, Any]]] = []
    for path in paths:
        chain.extend(_load_chain(path, lookup, [path]))
    merged: dict[str, Any] = {}
    origin: dict[str, Path] = {}
    for path, data in chain:
        merged = _merge(merged, data)
        for name in data.get("processes") or {}:
            origin[name] = path
    try:
        project = ComposeProject.model_validate(merged)
    except ValidationError as exc:
        raise _validation_error(paths[-1], exc) from None
    if not project.processes:
        raise _fail(paths[0], "processes", "no processes defined", "add processes: {web: {command: ...}}")
    processes = {
        name: _process(name, proc, project, origin.get(name, paths[0]), folder, dotenv)
        for name, proc in project.processes.items()
    }
    check_graph(paths[0], processes, origin)
    return ProjectConfig(
        name=project.name or folder.name,
        dir=folder,
        file=paths[0],
        kind="compose",
        processes=processes,
        files=tuple(p for p, _ in chain),
    )
