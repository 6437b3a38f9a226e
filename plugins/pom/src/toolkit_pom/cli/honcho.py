"""honcho's command shape on the `pom` group: global -e/-d/-f, `start`, `run`, `export`.

specs/pom/honcho.md. Registered by `cli.py`; `start` reuses `pom up` (headless, no HTTP).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click

from toolkit_pom.core import record
from toolkit_pom.core.dotenv import load_env_file
from toolkit_pom.errors import UsageError

__all__ = ["AppOptions", "app_options", "honcho_start", "register"]


@dataclass(frozen=True)
class AppOptions:
    """honcho's global options."""

    env: str = ".env"
    app_root: str = "."
    procfile: str | None = None
    no_colour: bool = False
    no_prefix: bool = False

    def env_files(self) -> list[Path]:
        """The env files that exist (honcho ignores missing ones)."""
        paths = [Path(self.app_root) / part.strip() for part in self.env.split(",") if part.strip()]
        return [p for p in paths if p.is_file()]

    def read_env(self) -> dict[str, str]:
        """The merged variables of the env files, later files winning."""
        merged: dict[str, str] = {}
        for path in self.env_files():
            merged.update(load_env_file(path))
        return merged

    def procfile_path(self) -> Path:
        """`-f`, else `PROCFILE` from the env files, else `Procfile`, under the app root."""
        name = self.procfile or self.read_env().get("PROCFILE") or "Procfile"
        return Path(self.app_root) / name


def app_options() -> AppOptions:
    """The global options of the current invocation (defaults outside one)."""
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        found = ctx.meta.get("pom.app")
        if isinstance(found, AppOptions):
            return found
        ctx = ctx.parent
    return AppOptions()


def _load_procfile(opts: AppOptions, concurrency: str | None, port: int | None) -> Any:
    from toolkit_pom.core.config import load_config

    path = opts.procfile_path()
    if not path.is_file():
        raise UsageError(f"no Procfile at {path}", hint="pass -f PROCFILE or -d APP_ROOT")
    env = opts.read_env()
    base = port if port is not None else int(env.get("PORT") or os.environ.get("PORT") or 5000)
    return load_config(path, env_files=opts.env_files(), formation=concurrency, port=base)


def honcho_start(processes: tuple[str, ...], port: int | None, concurrency: str | None, quiet: str | None) -> None:
    """Start the Procfile; when one process exits, stop the rest and exit with its status."""
    from toolkit_pom.cli.main import run_foreground
    from toolkit_pom.daemon.runner import UpOptions

    opts = app_options()
    config = _load_procfile(opts, concurrency, port)
    unknown = [p for p in processes if p not in config.processes]
    if unknown:
        raise UsageError(f"Process type '{unknown[0]}' does not exist in Procfile", hint=", ".join(config.processes))
    silenced = {q.strip() for q in (quiet or "").split(",") if q.strip()}
    specs = {n: record.replace(s, exit_on_end=True) for n, s in config.processes.items()}
    config = record.replace(config, processes=specs)
    options = UpOptions(names=processes, http=None, tui=False, prefix=not opts.no_prefix, silenced=silenced)
    run_foreground(config, options)


def _run(argv: tuple[str, ...]) -> None:
    """Run a command with the env files' variables; exit with its status."""
    args = list(argv)
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        raise UsageError("nothing to run", hint="pom run COMMAND [ARG...]")
    env = {**os.environ, **app_options().read_env()}
    command = " ".join(shlex.quote(a) for a in args)
    code = subprocess.call(["/bin/sh", "-c", command], env=env)
    sys.exit(code if code >= 0 else 128 - code)


def _export(
    fmt: str, location: str, app: str | None, log: str | None, port: int | None, concurrency: str | None,
    user: str | None, shell: str,
) -> None:  # fmt: skip
    from toolkit_pom.core.export import ExportContext, ExportProcess, render

    opts = app_options()
    config = _load_procfile(opts, concurrency, port)
    root = Path(opts.app_root).resolve()
    app_name = app or root.name
    ctx = ExportContext(
        app=app_name,
        app_root=str(root),
        log=log or f"/var/log/{app_name}",
        shell=shell,
        user=user or app_name,
    )
    variables = opts.read_env()
    processes = []
    for spec in config.processes.values():
        if spec.disabled:
            continue
        for number in range(1, spec.replicas + 1):
            env = {**variables, "PORT": str((spec.port or 5000) + number - 1)}
            processes.append(ExportProcess(spec.name, number, spec.command, env))
    out = Path(location)
    out.mkdir(parents=True, exist_ok=True)
    for file in render(fmt, processes, ctx):
        target = out / file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        click.echo(f"Writing '{target}'", err=True)
        target.write_text(file.content)
        if file.executable:
            target.chmod(0o755)


def register(group: click.Group) -> None:
    """Add honcho's global options and its `start`, `run` and `export` commands to `group`."""
    from toolkit_pom.core.export import FORMATS

    for param in (
        click.Option(["-e", "--env"], default=".env", help="honcho: env file[,file] (default: .env)."),
        click.Option(["-d", "--app-root"], default=".", metavar="DIR", help="honcho: Procfile directory."),
        click.Option(["-f", "--procfile"], default=None, metavar="FILE", help="honcho: Procfile path."),
        click.Option(["--no-colour"], is_flag=True, help="honcho: no coloured output."),
        click.Option(["--no-prefix"], is_flag=True, help="honcho: no `time name |` prefix."),
    ):
        param.expose_value = False
        param.callback = _store
        group.params.append(param)

    @group.command("run", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
    @click.argument("argv", nargs=-1, type=click.UNPROCESSED)
    def run_cmd(argv: tuple[str, ...]) -> None:
        """honcho: run a command with the env files' variables."""
        _run(argv)

    @group.command("export")
    @click.option("-a", "--app", default=None, help="App name (default: the app root's name).")
    @click.option("-l", "--log", default=None, metavar="DIR", help="Log directory (default /var/log/APP).")
    @click.option("-p", "--port", type=int, default=None, help="Starting PORT.")
    @click.option("-c", "--concurrency", default=None, metavar="process=num,...", help="Instances per type.")
    @click.option("-u", "--user", default=None, help="User to run as (default: APP).")
    @click.option("-s", "--shell", default="/bin/sh", show_default=True, help="Shell that runs the commands.")
    @click.argument("fmt", metavar="FORMAT", type=click.Choice(sorted(FORMATS)))
    @click.argument("location")
    def export_cmd(
        fmt: str, location: str, app: str | None, log: str | None, port: int | None, concurrency: str | None,
        user: str | None, shell: str,
    ) -> None:  # fmt: skip
        """honcho: export the Procfile as supervisord, upstart, systemd or runit services."""
        _export(fmt, location, app, log, port, concurrency, user, shell)


def _store(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    current = ctx.meta.get("pom.app", AppOptions())
    key = {"env": "env", "app_root": "app_root", "procfile": "procfile", "no_colour": "no_colour"}.get(
        param.name or "", "no_prefix"
    )
    ctx.meta["pom.app"] = replace(current, **{key: value})
    return value
