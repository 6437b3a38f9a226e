"""Service definitions for a Procfile's processes: supervisord, upstart, systemd, runit.

Pure functions from (processes, context) to files; the CLI writes them (specs/pom/honcho.md).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["FORMATS", "ExportContext", "ExportFile", "ExportProcess", "render"]


@dataclass(frozen=True)
class ExportProcess:
    """One instance to export: `web.1` is type `web`, number 1."""

    type: str
    number: int
    command: str
    env: Mapping[str, str]

    @property
    def name(self) -> str:
        """The instance name, `web.1`."""
        return f"{self.type}.{self.number}"


@dataclass(frozen=True)
class ExportContext:
    """What every format needs besides the processes."""

    app: str
    app_root: str
    log: str
    shell: str
    user: str


@dataclass(frozen=True)
class ExportFile:
    """A file to write, relative to the export location."""

    path: str
    content: str
    executable: bool = False


def _instance_id(ctx: ExportContext, proc: ExportProcess) -> str:
    return f"{ctx.app}-{proc.type}-{proc.number}"


def _types(processes: Sequence[ExportProcess]) -> list[str]:
    return list(dict.fromkeys(p.type for p in processes))


def _supervisord(processes: Sequence[ExportProcess], ctx: ExportContext) -> list[ExportFile]:
    sections = []
    for proc in processes:
        env = ",".join(f'{k}="{v}"' for k, v in proc.env.items())
        sections.append(
            f"[program:{_instance_id(ctx, proc)}]\n"
            f"command={ctx.shell} -c {shlex.quote(proc.command)}\n"
            "autostart=true\nautorestart=true\nstopsignal=QUIT\n"
            f"stdout_logfile={ctx.log}/{proc.name}.log\n"
            f"stderr_logfile={ctx.log}/{proc.name}.error.log\n"
            f"user={ctx.user}\ndirectory={ctx.app_root}\n"
            f"environment={env}\n"
        )
    group = f"[group:{ctx.app}]\nprograms={','.join(_instance_id(ctx, p) for p in processes)}\n"
    return [ExportFile(f"{ctx.app}.conf", "\n".join([*sections, group]))]


def _upstart(processes: Sequence[ExportProcess], ctx: ExportContext) -> list[ExportFile]:
    files = [
        ExportFile(
            f"{ctx.app}.conf",
            'pre-start script\n\nbash << "EOF"\n'
            f"  mkdir -p {ctx.log}\n  chown -R {ctx.user} {ctx.log}\nEOF\n\nend script\n\n"
            "start on runlevel [2345]\n\nstop on runlevel [!2345]\n",
        )
    ]
    for kind in _types(processes):
        files.append(ExportFile(f"{ctx.app}-{kind}.conf", f"start on starting {ctx.app}\nstop on stopping {ctx.app}\n"))
    for proc in processes:
        env = "".join(f"env {k}={shlex.quote(v)}\n" for k, v in proc.env.items())
        files.append(
            ExportFile(
                f"{_instance_id(ctx, proc)}.conf",
                f"start on starting {ctx.app}-{proc.type}\nstop on stopping {ctx.app}-{proc.type}\n"
                f"respawn\n\n{env}\nsetuid {ctx.user}\nchdir {ctx.app_root}\n\n"
                f"exec {ctx.shell} -c {shlex.quote(proc.command)} >> {ctx.log}/{proc.name}.log 2>&1\n",
            )
        )
    return files


def _systemd(processes: Sequence[ExportProcess], ctx: ExportContext) -> list[ExportFile]:
    kinds = _types(processes)
    files = [
        ExportFile(
            f"{ctx.app}.target",
            f"[Unit]\nWants={' '.join(f'{ctx.app}-{k}.target' for k in kinds)}\n\n"
            "[Install]\nWantedBy=multi-user.target\n",
        )
    ]
    for kind in kinds:
        units = " ".join(f"{_instance_id(ctx, p)}.service" for p in processes if p.type == kind)
        files.append(ExportFile(f"{ctx.app}-{kind}.target", f"[Unit]\nPartOf={ctx.app}.target\nWants={units}\n"))
    for proc in processes:
        env = "".join(f'Environment="{k}={v}"\n' for k, v in proc.env.items())
        files.append(
            ExportFile(
                f"{_instance_id(ctx, proc)}.service",
                f"[Unit]\nPartOf={ctx.app}-{proc.type}.target\n\n[Service]\nUser={ctx.user}\n"
                f"WorkingDirectory={ctx.app_root}\n{env}"
                f"ExecStart={ctx.shell} -c {shlex.quote(proc.command)}\nRestart=always\n"
                "StandardInput=null\nStandardOutput=journal\nStandardError=journal\n"
                f"SyslogIdentifier={proc.name}\nKillMode=mixed\nTimeoutStopSec=5\n",
            )
        )
    return files


def _runit(processes: Sequence[ExportProcess], ctx: ExportContext) -> list[ExportFile]:
    files = []
    for proc in processes:
        base = _instance_id(ctx, proc)
        files.append(
            ExportFile(
                f"{base}/run",
                f"#!/bin/sh\ncd {shlex.quote(ctx.app_root)}\nexec 2>&1\n"
                f"exec chpst -u {ctx.user} -e {shlex.quote(ctx.app_root)}/{base}/env "
                f"{ctx.shell} -c {shlex.quote(proc.command)}\n",
                executable=True,
            )
        )
        files.append(
            ExportFile(
                f"{base}/log/run",
                f"#!/bin/sh\nset -e\nLOG={ctx.log}/{proc.name}\nmkdir -p $LOG\nchown {ctx.user} $LOG\n"
                f"exec chpst -u {ctx.user} svlogd $LOG\n",
                executable=True,
            )
        )
        files.extend(ExportFile(f"{base}/env/{k}", f"{v}\n") for k, v in proc.env.items())
    return files


FORMATS: dict[str, Callable[[Sequence[ExportProcess], ExportContext], list[ExportFile]]] = {
    "runit": _runit,
    "supervisord": _supervisord,
    "systemd": _systemd,
    "upstart": _upstart,
}


def render(fmt: str, processes: Sequence[ExportProcess], ctx: ExportContext) -> list[ExportFile]:
    """Return the files of format `fmt` (a key of FORMATS)."""
    return FORMATS[fmt](processes, ctx)
