"""The `pom` click group: `pom up` runs a supervisor; every other command talks to it.

Kept light on purpose (no textual, fastapi or asyncio at import) so `pom logs` answers fast.
The contract is specs/pom/cli.md.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from toolkit.cliutil import ToolkitGroup, emit, json_mode, json_option, standalone_main, write_json
from toolkit_pom import render
from toolkit_pom.client import PomClient
from toolkit_pom.errors import UsageError

__all__ = ["main", "pom"]

F = TypeVar("F", bound=Callable[..., Any])


def file_option(func: F) -> F:
    """Add `-f/--file` (env POM_FILE) to a command."""
    return click.option(
        "-f",
        "--file",
        "file",
        envvar="POM_FILE",
        show_envvar=True,
        help="pom.toml or Procfile (default: the nearest one in this directory or a parent).",
    )(func)


def files_option(func: F) -> F:
    """Add a repeatable `-f/--file` (env POM_FILE): process-compose files merge in the order given."""
    return click.option(
        "-f",
        "--file",
        "files",
        multiple=True,
        envvar="POM_FILE",
        show_envvar=True,
        help="pom.toml, Procfile or process-compose YAML; repeat -f to merge YAML files (default: discovered).",
    )(func)


def dotenv_option(func: F) -> F:
    """Add `--disable-dotenv` (process-compose files do not read `.env`)."""
    return click.option("--disable-dotenv", is_flag=True, help="process-compose files: do not read .env.")(func)


def _load(files: tuple[str, ...], env_files: tuple[str, ...], formation: str | None, port: int, no_dotenv: bool) -> Any:
    from toolkit_pom.cli.fast_up import load_project

    return load_project(files, _env_paths(env_files), formation, port, no_dotenv)


def _env_paths(values: tuple[str, ...]) -> list[Path]:
    """`-e a.env -e b.env` or honcho's `-e a.env,b.env`."""
    return [Path(part) for value in values for part in value.split(",") if part]


@contextmanager
def _client(file: str | None) -> Iterator[PomClient]:
    client = PomClient.for_config(file)
    try:
        yield client
    finally:
        client.close()


@click.group(cls=ToolkitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@json_option
def pom() -> None:
    """Dev-session process supervisor: Procfile or pom.toml, logs, restarts, HTTP API and TUI."""


# ---------------------------------------------------------------- up / down


@pom.command()
@click.argument("names", nargs=-1)
@files_option
@dotenv_option
@click.option("-d", "--detach", is_flag=True, help="Run in the background; return once it answers.")
@click.option(
    "--tui/--headless", "tui", default=None, help="Force the TUI or plain log output (default: TUI on a terminal)."
)
@click.option("-q", "--quiet", is_flag=True, help="Headless: print only pom's own event lines.")
@click.option(
    "--http", "http", default=None, help="HTTP API address host:port (default: project.http, 127.0.0.1:9876)."
)
@click.option("--no-http", is_flag=True, help="Do not serve the HTTP API.")
@click.option("-w", "--watch", is_flag=True, help="Reload (as `pom reload`) whenever a config file changes.")
@click.option(
    "--pc-api",
    default=None,
    metavar="HOST:PORT",
    help="Also serve process-compose's REST API (loopback; port 0: free).",
)
@click.option(
    "--token", envvar="POM_TOKEN", show_envvar=True, default=None, help="HTTP API token (needed off loopback)."
)
@click.option("--exit-when-ready", is_flag=True, help="Start, wait until every process is ready, stop cleanly, exit.")
@click.option(
    "--timeout", type=float, default=60.0, show_default=True, help="--exit-when-ready: give up after S seconds."
)
@click.option(
    "--settle",
    type=float,
    default=1.0,
    show_default=True,
    help="Seconds a process without a readiness probe must stay up to count as ready.",
)
@click.option("-e", "--env-file", "env_files", multiple=True, help="Dotenv file(s) instead of .env.")
@click.option("-m", "-c", "--formation", default=None, help="Procfile: instances per process, e.g. web=2,all=1.")
@click.option("-p", "--port", type=int, default=5000, show_default=True, help="Procfile: base PORT.")
@json_option
def up(
    names: tuple[str, ...],
    files: tuple[str, ...],
    disable_dotenv: bool,
    detach: bool,
    tui: bool | None,
    quiet: bool,
    http: str | None,
    no_http: bool,
    watch: bool,
    pc_api: str | None,
    token: str | None,
    exit_when_ready: bool,
    timeout: float,
    settle: float,
    env_files: tuple[str, ...],
    formation: str | None,
    port: int,
) -> None:
    """Run the supervisor for this project (NAMES and their dependencies, or everything)."""
    config = _load(files, env_files, formation, port, disable_dotenv)
    unknown = [n for n in names if n != "all" and _group_of(config, n) is None]
    if unknown:
        raise UsageError(f"unknown process {unknown[0]!r}", hint="processes: " + ", ".join(config.processes))
    if detach:
        child = ["up", "--headless", *(a for f in config.inputs for a in ("-f", str(f))), "--timeout", str(timeout)]
        child += [*names, "--disable-dotenv"] if disable_dotenv else list(names)
        child += ["--no-http"] if no_http else (["--http", http] if http else [])
        child += ["--quiet"] if quiet else []
        child += ["--watch"] if watch else []
        child += ["--pc-api", pc_api] if pc_api else []
        child += [a for e in _env_paths(env_files) for a in ("-e", str(e.resolve()))]
        child += ["-m", formation] if formation else []
        child += ["-p", str(port)] if config.kind == "procfile" else []
        _detach(config.file, child, token)
        return
    from toolkit_pom.daemon.runner import UpOptions

    use_tui = (
        tui
        if tui is not None
        else (sys.stdin.isatty() and sys.stdout.isatty() and not exit_when_ready and not json_mode())
    )
    options = UpOptions(
        names=names,
        http=None if no_http else (http or config.http),
        pc_api=pc_api,
        token=token,
        tui=bool(use_tui),
        quiet=quiet,
        exit_when_ready=exit_when_ready,
        timeout=timeout,
        settle=settle,
        reload=lambda other=(): _load(tuple(other) or files, env_files, formation, port, disable_dotenv),
        watch=watch,
    )
    run_foreground(config, options)


def _group_of(config: Any, name: str) -> str | None:
    """The configured process an instance or group name belongs to (`web.2`, `web-1`), or None."""
    for spec in config.processes.values():
        if name == spec.name or name in spec.instance_names():
            return str(spec.name)
    return None


def run_foreground(config: Any, options: Any) -> None:
    """Run `pom up` in this process with `options`; exit with its status."""
    import asyncio

    from toolkit_pom.cli.fast_up import finish_up
    from toolkit_pom.daemon.runner import run_up

    code, reason, final = asyncio.run(run_up(config, options))
    finish_up(options, code, reason, final, write_json if json_mode() else None)


def _detach(file: Path, args: list[str], token: str | None) -> None:
    import subprocess

    from toolkit_kernel.ipc.daemon import lock_file_is_held
    from toolkit_kernel.paths import socket_path
    from toolkit_pom.daemon.listeners import AlreadyRunning, lock_path

    directory = file.parent
    if lock_file_is_held(lock_path(directory)):
        raise AlreadyRunning(
            f"a pom is already running for {directory}", hint="use `pom ps`, or stop it with `pom down`"
        )
    out_path = socket_path("pom", str(directory)).with_suffix(".out")
    argv = [sys.executable, "-m", "toolkit_pom", *args]
    env = dict(os.environ)
    if token:
        env["POM_TOKEN"] = token  # through the environment, not argv: `ps` shows argv to everyone
    with open(out_path, "ab") as out:
        child = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True, close_fds=True, env=env
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if child.poll() is not None:
            tail = out_path.read_text(errors="replace")[-2000:]
            raise UsageError(
                f"pom exited during start-up (code {child.returncode}):\n{tail}", hint=f"full output in {out_path}"
            )
        client = PomClient(directory, timeout=2)
        try:
            info = client.call("info")
        except Exception:  # not answering yet
            time.sleep(0.1)
            continue
        finally:
            client.close()
        if info.get("pid") == child.pid:
            info["output"] = str(out_path)
            emit(info, _detached_text)
            child.returncode = 0  # detached on purpose: never reap it here
            return
        time.sleep(0.1)
    raise UsageError("pom did not answer within 30s", hint=f"see {out_path}")


def _detached_text(d: dict[str, Any]) -> str:
    return f"pom running in the background (pid {d['pid']}), http {d['http_url'] or 'off'}; output in {d['output']}"


@pom.command()
@file_option
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds to wait for pom to exit.")
@json_option
def down(file: str | None, timeout: float) -> None:
    """Stop every process and the supervisor."""
    with _client(file) as client:
        info = client.call("info")
        client.call("down")
    pid = int(info["pid"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        if _is_zombie(pid):
            break
        time.sleep(0.05)
    else:
        raise UsageError(f"pom (pid {pid}) still running after {timeout:g}s", hint="check `pom ps`; kill it if stuck")
    emit({"ok": True, "pid": pid}, f"pom (pid {pid}) stopped")


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rpartition(b")")[2].split()[0] == b"Z"
    except OSError:
        return False


# ---------------------------------------------------------------- views


@pom.command()
@file_option
@json_option
def info(file: str | None) -> None:
    """Show the running pom: project, pid, HTTP URL."""
    with _client(file) as client:
        data = client.call("info")
    emit(data, lambda d: "\n".join(f"{k}: {v}" for k, v in sorted(d.items())))


@pom.command()
@file_option
@json_option
def ps(file: str | None) -> None:
    """List processes with state, health, restarts, uptime, CPU and memory."""
    with _client(file) as client:
        data = client.call("ps")
    emit(data, render.ps_table)


@pom.command()
@file_option
@json_option
def reload(file: str | None) -> None:
    """Read the config files again: restart changed processes, start added ones, stop removed ones."""
    with _client(file) as client:
        data = client.call("reload")
    emit(
        data,
        lambda d: "\n".join(f"{k}: {', '.join(d[k]) or '-'}" for k in ("changed", "added", "removed", "unchanged")),
    )


@pom.command()
@click.argument("name")
@file_option
@json_option
def status(name: str, file: str | None) -> None:
    """Show one process; exit 1 unless it is up (starting, running or ready)."""
    with _client(file) as client:
        data = client.call("status", name=name)
    emit(data, render.status_text)
    if data["state"] not in ("starting", "running", "ready"):
        raise SystemExit(1)


def _print_logs(data: dict[str, Any], multi: bool, timestamps: bool = False) -> None:
    if json_mode():
        write_json(data)
        return
    gaps, text = render.log_text(data, multi, timestamps)
    if gaps:
        click.echo(gaps, err=True)
    if text:
        click.echo(text)


@pom.command()
@click.argument("names", nargs=-1, required=True)
@file_option
@click.option(
    "-n", "--lines", "lines", type=click.IntRange(0, 100_000), default=None, help="How many lines (default 100)."
)
@click.option("--stdout", "stream", flag_value="stdout", default=None, help="Only stdout.")
@click.option("--stderr", "stream", flag_value="stderr", help="Only stderr.")
@click.option("--grep", default=None, help="Only lines containing TEXT.")
@click.option("--regex", default=None, help="Only lines matching a Python regular expression.")
@click.option("--after-id", type=click.IntRange(0), default=None, help="Lines after this id (oldest first).")
@click.option("-F", "--follow", is_flag=True, help="Keep printing new lines until pom stops or Ctrl-C.")
@click.option("-t", "--timestamps", is_flag=True, help="Prefix each line with the time pom read it.")
@json_option
def logs(
    names: tuple[str, ...],
    file: str | None,
    lines: int | None,
    stream: str | None,
    grep: str | None,
    regex: str | None,
    after_id: int | None,
    follow: bool,
    timestamps: bool,
) -> None:
    """Print stored log lines of one or more processes."""
    args: dict[str, Any] = {"names": list(names), "stream": stream, "grep": grep, "regex": regex}
    multi = len(names) > 1 or names == ("all",)
    with _client(file) as client:
        if not follow:
            data = client.call(
                "logs",
                after_id=after_id,
                limit=lines if lines is not None else (None if after_id is not None else 100),
                **args,
            )
            _print_logs(data, multi, timestamps)
            return
        cursors = None
        if after_id is None:
            # Show the tail first, then follow each process from exactly where its tail ended.
            data = client.call("logs", limit=lines if lines is not None else 10, **args)
            _print_logs(data, multi, timestamps)
            cursors = data["cursors"]
        try:
            for frame in client.stream("follow", after_id=after_id, cursors=cursors, **args):
                if frame["lines"] or frame["gaps"]:
                    _print_logs(frame, multi, timestamps)
                    sys.stdout.flush()
        except KeyboardInterrupt:
            return


# ---------------------------------------------------------------- control


def _control(op: str, names: tuple[str, ...], file: str | None, **extra: Any) -> None:
    with _client(file) as client:
        data = client.call(op, names=list(names), **extra)
    emit(data, render.results_text)
    if not all(r["ok"] for r in data["results"]):
        raise SystemExit(1)


@pom.command()
@click.argument("names", nargs=-1)
@file_option
@click.option("-p", "--port", type=int, default=None, help="honcho: starting PORT (default 5000 or $PORT).")
@click.option("-c", "--concurrency", default=None, metavar="process=num,...", help="honcho: instances per type.")
@click.option("-q", "--quiet", default=None, metavar="process1,process2", help="honcho: suppress their output.")
@json_option
def start(
    names: tuple[str, ...], file: str | None, port: int | None, concurrency: str | None, quiet: str | None
) -> None:
    """Start processes in the running pom; with none running, run the Procfile like honcho start."""
    from toolkit_pom.cli.honcho import app_options, honcho_start
    from toolkit_pom.errors import NotRunning

    procfile = app_options().procfile_path()
    try:
        if names:
            _control("start", names, file)
            return
    except NotRunning:
        if not procfile.is_file():
            raise
    honcho_start(names, port, concurrency, quiet)


@pom.command()
@click.argument("names", nargs=-1, required=True)
@file_option
@json_option
def stop(names: tuple[str, ...], file: str | None) -> None:
    """Stop processes: signal the whole group, SIGKILL after the timeout."""
    _control("stop", names, file)


@pom.command()
@click.argument("names", nargs=-1, required=True)
@file_option
@json_option
def restart(names: tuple[str, ...], file: str | None) -> None:
    """Restart processes."""
    _control("restart", names, file)


@pom.command()
@click.argument("name")
@file_option
def attach(name: str, file: str | None) -> None:
    """Attach this terminal to an interactive process: its output, your keys (Ctrl-] detaches)."""
    from toolkit_pom.cli.attach import attach_terminal

    with _client(file) as output, _client(file) as keys:
        check = keys.call("input", name=name, data="")  # errors if unknown or not interactive
        if not check["ok"]:
            raise UsageError(f"{name} is not running", hint=f"start it with `pom start {name}`")
        why = attach_terminal(output, keys, name)
    click.echo(f"pom: {why} ({name})", err=True)


@pom.command("signal")
@click.argument("sig", metavar="SIGNAL")
@click.argument("names", nargs=-1, required=True)
@file_option
@json_option
def signal_cmd(sig: str, names: tuple[str, ...], file: str | None) -> None:
    """Send SIGNAL (HUP, SIGUSR1, 15, ...) to processes' groups."""
    _control("signal", names, file, signal=sig)


@pom.command()
@click.argument("name")
@click.argument("replicas", type=click.IntRange(0, 64))
@file_option
@json_option
def scale(name: str, replicas: int, file: str | None) -> None:
    """Set the number of replicas of a process group."""
    with _client(file) as client:
        data = client.call("scale", name=name, replicas=replicas)
    emit(data, render.results_text)


@pom.command()
@click.argument("names", nargs=-1, required=True)
@file_option
@json_option
def truncate(names: tuple[str, ...], file: str | None) -> None:
    """Drop the stored log lines of processes (ids go on; followers see a gap)."""
    _control("truncate", names, file)


@pom.command()
@file_option
@json_option
def graph(file: str | None) -> None:
    """Show the dependency graph: each root group, then what it depends on, with live states."""
    from toolkit_pom.core.graph import graph_lines

    with _client(file) as client:
        data = client.call("graph")
    emit(data, lambda d: "\n".join(graph_lines(d)))


@pom.command()
@file_option
@json_option
def summary(file: str | None) -> None:
    """Everything an agent needs in one call: states, last lines, recent errors."""
    with _client(file) as client:
        data = client.call("summary")
    emit(data, _summary_text)


def _summary_text(data: dict[str, Any]) -> str:
    lines = [f"{data['project']['name']}: " + ", ".join(f"{n} {s}" for s, n in sorted(data["counts"].items()))]
    for p in data["processes"]:
        lines.append(f"- {p['name']}: {p['state']} (restarts {p['restarts']}, errors {p['error_count']})")
    for e in data["recent_errors"]:
        lines.append(f"  {e['process']} [{e['severity']}] {e['text']}")
    return "\n".join(lines)


@pom.command()
@click.argument("names", nargs=-1)
@file_option
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="Per process.")
@json_option
def errors(names: tuple[str, ...], file: str | None, limit: int) -> None:
    """Recent error lines per process (panic, error, warning patterns)."""
    with _client(file) as client:
        data = client.call("errors", names=list(names) or None, limit=limit)
    emit(
        data,
        lambda d: (
            "\n".join(f"{e['process']} #{e['id']} [{e['severity']}] {e['text']}" for e in d["errors"]) or "no errors"
        ),
    )


@pom.command()
@files_option
@dotenv_option
@click.option("-e", "--env-file", "env_files", multiple=True, help="Dotenv file(s) instead of .env.")
@click.option("-m", "-c", "--formation", default=None, help="Procfile: instances per process.")
@click.option("-p", "--port", type=int, default=5000, show_default=True, help="Procfile: base PORT.")
@json_option
def check(
    files: tuple[str, ...], disable_dotenv: bool, env_files: tuple[str, ...], formation: str | None, port: int
) -> None:
    """Validate the configuration and show the processes it defines."""
    config = _load(files, env_files, formation, port, disable_dotenv)
    if config.kind == "procfile" and not json_mode():
        click.echo(f"Valid procfile detected ({', '.join(config.processes)})", err=True)  # honcho's line
    data = config.to_dict()
    emit(
        data,
        lambda d: (
            f"{d['file']}: ok, {len(d['processes'])} processes\n"
            + "\n".join(
                f"- {p['name']}: {p['command']}" + (" (disabled)" if p["disabled"] else "") for p in d["processes"]
            )
        ),
    )


def _register_honcho() -> None:
    from toolkit_pom.cli.honcho import register

    register(pom)


_register_honcho()
main = standalone_main(pom)
