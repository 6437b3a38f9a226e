"""Load and validate `pom.toml` and Procfiles into one immutable project model.

The rules are specs/pom/config.md. Every error names the file and key and carries a hint;
nothing here starts a process.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from toolkit_pom.core.config_cache import InvalidTables, validated_tables
from toolkit_pom.core.discovery import discover, find_override, is_compose_file
from toolkit_pom.core.dotenv import load_env_file
from toolkit_pom.core.record import Record, field, replace
from toolkit_pom.errors import PomConfigError

__all__ = [
    "CONDITIONS",
    "RESTART_POLICIES",
    "Probe",
    "ProcessSpec",
    "ProjectConfig",
    "check_graph",
    "discover",
    "load_config",
    "parse_signal",
    "parse_size",
]

NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
CONDITIONS = ("started", "healthy", "completed", "completed_successfully", "log_ready")
RESTART_POLICIES = ("no", "always", "on_failure", "exit_on_failure")
PROBE_KINDS = ("exec", "http", "tcp", "unix", "log")
DEFAULT_LOG_MAX_BYTES = 8 * 1024 * 1024
DEFAULT_HTTP = "127.0.0.1:9876"
DEFAULT_SHELL = ("/bin/sh", "-c")

_BRACED = re.compile(r"\$\{(\w+)\}")
_SIZE_RE = re.compile(r"^\s*(\d+)\s*([KMG]i?B?|B)?\s*$", re.IGNORECASE)


class Probe(Record, frozen=True):
    """A readiness or liveness check (specs/pom/config.md#probes)."""

    kind: str
    target: str
    status: int | None = None
    initial_delay: float = 0.0
    period: float = 1.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {"kind": self.kind, "target": self.target, "period": self.period}


class ProcessSpec(Record, frozen=True):
    """One configured process (a group when `replicas > 1`)."""

    name: str
    argv: tuple[str, ...]
    command: str
    cwd: Path
    env: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    service: str | None = None
    depends_on: Mapping[str, str] = field(default_factory=dict)
    readiness: Probe | None = None
    liveness: Probe | None = None
    restart: str = "no"
    max_restarts: int = 0
    backoff_initial: float = 0.5
    backoff_factor: float = 2.0
    backoff_max: float = 30.0
    stable_after: float = 30.0
    success_exit_codes: frozenset[int] = frozenset({0})
    shutdown_signal: int = int(signal.SIGTERM)
    shutdown_timeout: float = 10.0
    replicas: int = 1
    disabled: bool = False
    log_max_bytes: int = DEFAULT_LOG_MAX_BYTES
    #: Procfile only: the PORT of instance 1 (instance n gets port + n - 1).
    port: int | None = None
    #: Instance names are `name.N` even for a single replica (Procfile formation).
    numbered: bool = False
    #: Run instead of the signal on stop (process-compose `shutdown.command`).
    shutdown_command: str | None = None
    #: Signal only the leader, not its process group (process-compose `shutdown.parent_only`).
    shutdown_parent_only: bool = False
    namespace: str = "default"
    #: The project shuts down when this process ends (process-compose `exit_on_end`).
    exit_on_end: bool = False
    #: The project shuts down (exit 1) when this process is skipped.
    exit_on_skipped: bool = False
    #: The command forks a daemon and exits; the daemon is stopped with `shutdown_command`.
    is_daemon: bool = False
    #: Runs on a pseudo-terminal (stdout and stderr merged); `pom attach` types into it.
    interactive: bool = False
    #: "pom": `name`, `name.2`..; "compose": `name` or `name-0`, `name-1`.. (zero-padded).
    replica_style: str = "pom"
    #: Renders this process for replica N (1-based) when fields differ per replica (templates).
    variant: Callable[[int], ProcessSpec] | None = field(default=None, compare=False, repr=False)

    def for_replica(self, replica: int) -> ProcessSpec:
        """Return the spec replica `replica` (1-based) runs with."""
        return self if self.variant is None or replica == 1 else self.variant(replica)

    def instance_names(self, replicas: int | None = None) -> list[str]:
        """Return the instance names for `replicas` (default: the configured count)."""
        count = self.replicas if replicas is None else replicas
        if self.replica_style == "compose":
            if count == 1 and not self.numbered:
                return [self.name]
            width = len(str(max(self.replicas, count)))
            return [f"{self.name}-{i:0{width}d}" for i in range(count)]
        if count == 1 and not self.numbered:
            return [self.name]
        first = [self.name] if not self.numbered else []
        return first + [f"{self.name}.{i}" for i in range(len(first) + 1, count + 1)]


class ProjectConfig(Record, frozen=True):
    """A whole project: where it lives and its processes in file order."""

    name: str
    dir: Path
    file: Path
    kind: str
    processes: Mapping[str, ProcessSpec]
    http: str = DEFAULT_HTTP
    error_patterns: tuple[str, ...] = ()
    #: Every file read, in merge order (process-compose `-f` files and `extends`).
    files: tuple[Path, ...] = ()
    #: The files named by `-f` or discovered (what a detached `pom up` is given again).
    inputs: tuple[Path, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form printed by `pom check`."""
        return {
            "name": self.name,
            "dir": str(self.dir),
            "file": str(self.file),
            "kind": self.kind,
            "http": self.http,
            "processes": [
                {
                    "name": p.name,
                    "instances": p.instance_names(),
                    "command": p.command,
                    "argv": list(p.argv),
                    "cwd": str(p.cwd),
                    "service": p.service,
                    "depends_on": dict(p.depends_on),
                    "readiness": p.readiness.to_dict() if p.readiness else None,
                    "liveness": p.liveness.to_dict() if p.liveness else None,
                    "restart": p.restart,
                    "disabled": p.disabled,
                }
                for p in self.processes.values()
            ],
        }


# ---------------------------------------------------------------- helpers


def _hint_for(key: str, allowed: Sequence[str]) -> str:
    import difflib  # only for an error: not on the start path

    close = difflib.get_close_matches(key, allowed, n=1)
    if close:
        return f"did you mean {close[0]!r}? valid keys: {', '.join(allowed)}"
    return f"valid keys: {', '.join(allowed)}"


def parse_size(value: Any) -> int:
    """Parse a byte size: an int, or a string like `512KiB`, `8MiB`, `1G`.

    Raises:
        ValueError: not a size.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        match = _SIZE_RE.match(value)
        if match:
            unit = (match.group(2) or "b").lower()[:1]
            return int(match.group(1)) * {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]
    raise ValueError(f"not a size: {value!r}")


def parse_signal(value: Any) -> int:
    """Parse a signal given as a number, `TERM` or `SIGTERM`.

    Raises:
        ValueError: no such signal.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if value in {int(s) for s in signal.Signals}:
            return value
        raise ValueError(f"no signal number {value}")
    if isinstance(value, str):
        text = value.strip().upper()
        if text.isdigit():
            return parse_signal(int(text))
        if not text.startswith("SIG"):
            text = "SIG" + text
        try:
            return int(signal.Signals[text])
        except KeyError:
            pass
    raise ValueError(f"unknown signal {value!r}")


def _resolve_program(program: str) -> str:
    """Find a bare program name on PATH, else beside this interpreter (an unactivated venv's bin)."""
    if os.sep in program:
        return program
    import shutil  # here: `pom up`'s start path loads configs before it starts anything

    if shutil.which(program):
        return program
    beside = Path(sys.executable).parent / program
    return str(beside) if beside.exists() else program


def _services() -> dict[str, Any]:
    from toolkit.plugins import iter_services

    return {svc.name: svc for svc in iter_services()}


def _substitute(text: str, env: Mapping[str, str]) -> str:
    return _BRACED.sub(lambda m: env.get(m.group(1), m.group(0)), text) if "${" in text else text


def _free_port() -> int:
    import socket  # here: `pom up`'s start path loads configs before it starts anything

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def check_graph(file: Path, processes: Mapping[str, ProcessSpec], origin: Mapping[str, Path] | None = None) -> None:
    """Reject unknown dependencies, self-dependencies, unsatisfiable conditions and cycles.

    `origin` maps a process name to the file that defined it (errors name that file).
    """
    origin = origin or {}
    for spec in processes.values():
        file = origin.get(spec.name, file)
        for dep, cond in spec.depends_on.items():
            key = f"processes.{spec.name}.depends_on.{dep}"
            details = {"file": str(file), "key": key}
            if dep not in processes:
                hint = _hint_for(dep, list(processes)).replace("valid keys", "processes")
                raise PomConfigError(f"{file}: {key}: no process named {dep!r}", hint=hint, details=details)
            if dep == spec.name:
                raise PomConfigError(
                    f"{file}: {key}: a process cannot depend on itself", hint="remove it", details=details
                )
            target = processes[dep]
            if cond == "healthy" and target.readiness is None:
                raise PomConfigError(
                    f"{file}: {key}: condition 'healthy' but {dep!r} has no readiness probe",
                    hint=f"add readiness = {{ ... }} to [processes.{dep}] or use condition 'started'",
                    details=details,
                )
            if cond == "log_ready" and (target.readiness is None or target.readiness.kind != "log"):
                raise PomConfigError(
                    f"{file}: {key}: condition 'log_ready' but {dep!r} has no log readiness probe",
                    hint=f'add readiness = {{ log = "pattern" }} to [processes.{dep}]',
                    details=details,
                )
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join([*path[path.index(name) :], name])
            raise PomConfigError(
                f"{file}: dependency cycle: {cycle}",
                hint="remove one depends_on edge",
                details={"file": str(file), "key": f"processes.{name}.depends_on"},
            )
        state[name] = 1
        for dep in processes[name].depends_on:
            visit(dep, [*path, name])
        state[name] = 2

    for name in processes:
        visit(name, [])


def _fail(file: Path, key: str, problem: str, hint: str) -> NoReturn:
    raise PomConfigError(f"{file}: {key}: {problem}", hint=hint, details={"file": str(file), "key": key})


def _text(env: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in env.items()}


def _size(file: Path, key: str, value: int | str | None, default: int) -> int:
    if value is None:
        return default
    try:
        size = parse_size(value)
    except ValueError:
        _fail(file, key, f"expected a size, got {value!r}", 'use bytes or a string like "8MiB"')
    if size < 4096:
        _fail(file, key, f"must be at least 4096 bytes, got {size}", 'use a bound like "1MiB"')
    return size


def _probe(table: dict[str, Any] | None) -> Probe | None:
    if table is None:
        return None
    kind = next(k for k in PROBE_KINDS if table[k] is not None)  # the model admits exactly one
    return Probe(
        kind=kind,
        target=str(table[kind]),
        status=table["status"],
        initial_delay=table["initial_delay"],
        period=table["period"],
        timeout=table["timeout"],
        success_threshold=table["success_threshold"],
        failure_threshold=table["failure_threshold"],
    )


def _dependencies(depends_on: list[str] | dict[str, Any]) -> dict[str, str]:
    """`depends_on` (a list of names, or name -> condition or { condition }) as name -> condition."""
    if isinstance(depends_on, list):
        return dict.fromkeys(depends_on, "started")
    return {k: v if isinstance(v, str) else v["condition"] for k, v in depends_on.items()}


def _env_files(base: Path, names: Sequence[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in names:
        env.update(load_env_file((base / item).resolve()))
    return env


def _source(
    file: Path, key: str, body: dict[str, Any], shell: tuple[str, ...]
) -> tuple[tuple[str, ...], str, dict[str, str], Probe | None]:
    """Return (argv, display command, extra env, default readiness) from command / argv / service."""
    if body["service"] is not None:
        services = _services()
        if body["service"] not in services:
            available = ", ".join(sorted(services)) or "none installed"
            _fail(file, f"{key}.service", f"unknown service {body['service']!r}", f"available services: {available}")
        spec = services[body["service"]]
        probe = Probe(kind=spec.readiness.kind, target=spec.readiness.target)
        argv = (_resolve_program(spec.argv[0]), *spec.argv[1:])
        return argv, " ".join(spec.argv), dict(spec.env), probe
    if body["argv"] is not None:
        if not body["argv"]:
            _fail(file, f"{key}.argv", "must not be empty", 'argv = ["python", "app.py"]')
        return (_resolve_program(body["argv"][0]), *body["argv"][1:]), " ".join(body["argv"]), {}, None
    command = body["command"] or ""
    if not command.strip():
        _fail(file, f"{key}.command", "must not be empty", 'command = "python app.py"')
    return (*shell, command), command, {}, None


def _process(
    file: Path, name: str, body: dict[str, Any], project_dir: Path, shell: tuple[str, ...], base_env: dict[str, str],
    log_max: int,
) -> ProcessSpec:  # fmt: skip
    key = f"processes.{name}"
    if not NAME_RE.match(name):
        _fail(file, key, f"bad process name {name!r}", "names use letters, digits, '_' and '-'")
    env = dict(base_env)
    env.update(_env_files(project_dir, body["env_files"]))
    argv, command, service_env, service_probe = _source(file, key, body, shell)
    env.update(service_env)
    env.update(_text(body["env"]))
    # `${NAME}` in env values and argv items: the project's variables (e.g. its allocated ports).
    env = {k: _substitute(v, base_env) for k, v in env.items()}
    argv = tuple(_substitute(a, env) for a in argv)
    try:
        sig = parse_signal(body["shutdown_signal"])
    except ValueError as exc:
        _fail(file, f"{key}.shutdown_signal", str(exc), 'use a name like "SIGINT" or a number')
    cwd = (project_dir / body["cwd"]).resolve() if body["cwd"] else project_dir
    if not cwd.is_dir():
        _fail(file, f"{key}.cwd", f"directory {cwd} does not exist", "create it or fix the path")
    if body["liveness"] is not None and body["liveness"]["log"] is not None:
        _fail(file, f"{key}.liveness.log", "liveness cannot be a log probe", "use exec, http, tcp or unix")
    readiness = _probe(body["readiness"]) or service_probe
    liveness = _probe(body["liveness"])
    for probe_key, probe in (("readiness", readiness), ("liveness", liveness)):
        if (
            body["replicas"] > 1
            and probe is not None
            and probe.kind in ("http", "tcp", "unix")
            and "$" not in probe.target
        ):
            _fail(
                file,
                f"{key}.{probe_key}",
                f"{body['replicas']} replicas would all probe {probe.target!r}",
                "give each replica its own target with a variable, e.g. http://127.0.0.1:${PORT}/ or ${POM_REPLICA}",
            )
    return ProcessSpec(
        name=name,
        argv=argv,
        command=command,
        cwd=cwd,
        env=env,
        description=body["description"],
        service=body["service"],
        depends_on=_dependencies(body["depends_on"]),
        readiness=readiness,
        liveness=liveness,
        restart=body["restart"],
        max_restarts=body["max_restarts"],
        backoff_initial=body["backoff_initial"],
        backoff_factor=body["backoff_factor"],
        backoff_max=body["backoff_max"],
        stable_after=body["stable_after"],
        success_exit_codes=frozenset(body["success_exit_codes"]),
        shutdown_signal=sig,
        shutdown_timeout=body["shutdown_timeout"],
        replicas=body["replicas"],
        disabled=body["disabled"],
        interactive=body["interactive"],
        log_max_bytes=_size(file, f"{key}.log_max_bytes", body["log_max_bytes"], log_max),
        numbered=body["replicas"] > 1,
    )


def _parse_toml(file: Path, raw: bytes) -> dict[str, Any]:
    import tomllib  # here: a validation-cache hit needs no parser (tomllib and datetime: ~4 ms)

    try:
        return tomllib.loads(raw.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PomConfigError(
            f"{file}: not valid TOML: {exc}", hint="check quoting and brackets", details={"file": str(file)}
        ) from None
    except UnicodeDecodeError as exc:
        raise PomConfigError(f"cannot read {file}: {exc}", details={"file": str(file)}) from None


def _load_toml(file: Path) -> ProjectConfig:
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise PomConfigError(f"cannot read {file}: {exc}", details={"file": str(file)}) from None
    tables = _validate(file, raw)
    project_dir = file.parent
    project = tables["project"]
    shell = tuple(project["shell"]) if project["shell"] else DEFAULT_SHELL
    if project["env_files"] is None:
        base_env = load_env_file(project_dir / ".env", required=False)
    else:
        base_env = _env_files(project_dir, project["env_files"])
    base_env.update(_text(project["env"]))
    # Ports are picked on every load, after the (cacheable) validation.
    for port_name in project["ports"]:
        base_env[port_name] = str(_free_port())
    log_max = _size(file, "project.log_max_bytes", project["log_max_bytes"], DEFAULT_LOG_MAX_BYTES)
    processes = {
        name: _process(file, name, body, project_dir, shell, base_env, log_max)
        for name, body in tables["processes"].items()
    }
    check_graph(file, processes)
    return ProjectConfig(
        name=project["name"] or project_dir.name,
        dir=project_dir,
        file=file,
        kind="toml",
        processes=processes,
        http=project["http"],
        error_patterns=tuple(project["error_patterns"]),
    )


def _validate(file: Path, raw: bytes) -> dict[str, Any]:
    """pom.toml's tables checked against the typed model (specs/pom/config.md), defaults filled in."""
    try:
        return validated_tables(raw, lambda: _parse_toml(file, raw))
    except InvalidTables as exc:
        _fail(file, exc.key, exc.problem, exc.hint)


def _parse_formation(text: str | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, count = part.partition("=")
        if not sep or not count.strip().isdigit():
            raise PomConfigError(f"bad formation entry {part!r}", hint="use name=N[,name=N], e.g. web=2,all=1")
        out[name.strip()] = int(count)
    return out


def _load_procfile(file: Path, env_files: Sequence[Path], formation: str | None, port: int) -> ProjectConfig:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PomConfigError(f"cannot read {file}: {exc}", details={"file": str(file)}) from None
    project_dir = file.parent
    env: dict[str, str] = {}
    if env_files:
        for path in env_files:
            env.update(load_env_file(path))
    else:
        env.update(load_env_file(project_dir / ".env", required=False))
    counts = _parse_formation(formation)
    default_count = counts.pop("all", 1)
    entries: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, command = line.partition(":")
        name = name.strip()
        details = {"file": str(file), "line": number, "key": name}
        if not sep or not NAME_RE.match(name) or not command.strip():
            raise PomConfigError(
                f"{file}:{number}: expected 'name: command', got {line.strip()!r}",
                hint="Procfile lines look like `web: python app.py`; names use letters, digits, '_' and '-'",
                details=details,
            )
        if any(n == name for n, _ in entries):
            raise PomConfigError(f"{file}:{number}: duplicate process {name!r}", hint="rename one", details=details)
        entries.append((name, command.strip()))
    if not entries:
        raise PomConfigError(f"{file}: no processes defined", hint="add a line like `web: python app.py`")
    unknown = set(counts) - {n for n, _ in entries}
    if unknown:
        raise PomConfigError(
            f"formation names unknown processes: {', '.join(sorted(unknown))}",
            hint=f"processes in {file.name}: {', '.join(n for n, _ in entries)}",
        )
    processes: dict[str, ProcessSpec] = {}
    for index, (name, command) in enumerate(entries):
        count = counts.get(name, default_count)
        spec = ProcessSpec(
            name=name,
            argv=(*DEFAULT_SHELL, command),
            command=command,
            cwd=project_dir,
            env=dict(env),
            port=port + 100 * index,
            numbered=count > 1,
        )
        processes[name] = replace(spec, replicas=max(count, 1), disabled=count == 0)
    return ProjectConfig(name=project_dir.name, dir=project_dir, file=file, kind="procfile", processes=processes)


def load_config(
    file: Path | Sequence[Path] | None = None,
    *,
    env_files: Sequence[Path] = (),
    formation: str | None = None,
    port: int = 5000,
    disable_dotenv: bool = False,
) -> ProjectConfig:
    """Load a project from `file` (several process-compose files merge in order) and validate it.

    Args:
        file: `pom.toml`, a Procfile, or process-compose YAML file(s); discovered when None.
        env_files: Procfile and process-compose: dotenv files replacing `.env`.
        formation: Procfile only: `name=N,...` instance counts (`all` sets the default).
        port: Procfile only: the base PORT.
        disable_dotenv: process-compose only: do not read `.env`.

    Raises:
        PomConfigError: the file is missing, malformed or inconsistent.
    """
    if file is None:
        found = discover()
        paths = [found]
        if is_compose_file(found):
            override = find_override(found.parent)
            paths += [override] if override else []
    else:
        paths = [Path(file)] if isinstance(file, (str, Path)) else [Path(f) for f in file]
    if not paths:
        raise PomConfigError("no config file given", hint="pass -f FILE")
    if any(is_compose_file(p) for p in paths):
        if not all(is_compose_file(p) for p in paths):
            raise PomConfigError("-f files must all be process-compose YAML", hint="pass only .yaml/.yml files")
        if formation:
            raise PomConfigError("-m applies to Procfiles only", hint="set replicas in the YAML file")
        from toolkit_pom.core.compose_loader import load_compose  # yaml and its models: only for YAML files

        config = load_compose(paths, env_files=[Path(p).resolve() for p in env_files], disable_dotenv=disable_dotenv)
        return replace(config, inputs=tuple(p.resolve() for p in paths))
    if len(paths) > 1:
        raise PomConfigError("several -f files need process-compose YAML", hint="pass one pom.toml or Procfile")
    path = paths[0]
    if not path.is_file():
        raise PomConfigError(f"config file {path} does not exist", hint="pass -f FILE with an existing file")
    path = path.resolve()
    if path.suffix == ".toml":
        if env_files or formation:
            raise PomConfigError("-e and -m apply to Procfiles only", hint="set env_files / replicas in pom.toml")
        return replace(_load_toml(path), inputs=(path,))
    return replace(_load_procfile(path, [Path(p).resolve() for p in env_files], formation, port), inputs=(path,))
