"""Terminal-vs-pipe output rules, notices and plasmite-style error rendering for the CLI."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import click

from toolkit.cliutil import json_mode
from toolkit_kernel.errors import ToolkitError
from toolkit_plasmite.core.codec import dumps_compact, dumps_pretty, format_time
from toolkit_plasmite.errors import PlasmiteError

__all__ = ["PlasmiteClickError", "Settings", "dir_option", "format_option", "get_settings", "late_globals"]

_KEY = "plasmite.settings"
#: `--format` values that write Lite3 bytes (`fetch`, `follow`); their errors are human lines.
LITE3_FORMATS = ("lite3", "lite3-raw")


def _isatty(stream: IO[Any]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@dataclass
class Settings:
    """Global options and output decisions for one CLI invocation."""

    pool_dir: Path | None = None
    color: str = "auto"
    #: `--format pretty|json|yaml` when given (plasmite 1.2.1's switch); None decides by the terminal.
    fmt: str | None = None
    #: The last `--format` given anywhere (global, after the command, or `follow`/`duplex`'s own):
    #: it decides how errors print, as in plasmite 1.2.1.
    error_fmt: str | None = None
    cmd: str = ""
    last_drop_notice: float = field(default=0.0)

    @property
    def machine(self) -> bool:
        """True when output is for programs: `--format json`, `--json`, or stdout is not a terminal."""
        if self.fmt is not None:
            return self.fmt in ("json", "yaml")
        if json_mode():
            return True
        if self.color == "always":
            return False
        return not _isatty(sys.stdout)

    @property
    def plain(self) -> bool:
        """`--format pretty` into a pipe: plasmite 1.2.1's plain layouts instead of the terminal ones."""
        return self.fmt == "pretty" and not _isatty(sys.stdout)

    @property
    def stderr_human(self) -> bool:
        """True when notices and errors should be human lines (always beside binary Lite3 output, as plasmite)."""
        if json_mode():
            return False
        return self.color == "always" or self.fmt in LITE3_FORMATS or _isatty(sys.stderr)

    @property
    def error_style(self) -> str:
        """How errors print: `human` lines, one `json` line or a `yaml` document.

        As plasmite 1.2.1: `--format pretty` (and Lite3) human, `--format json` JSON and
        `--format yaml` YAML, terminal or not; without `--format`, human on a terminal only.
        Our `--json` forces JSON.
        """
        if json_mode():
            return "json"
        fmt = self.error_fmt
        if fmt in ("json", "jsonl"):
            return "json"
        if fmt == "yaml":
            return "yaml"
        if fmt == "pretty" or fmt in LITE3_FORMATS:
            return "human"
        return "human" if self.stderr_human else "json"

    def out(self, value: Any, *, pretty: bool | None = None) -> None:
        """Print one document: YAML with `--format yaml`, else JSON, pretty on a terminal, compact otherwise."""
        if self.fmt == "yaml":
            from toolkit_plasmite.cli.yaml import dump_yaml

            click.echo(dump_yaml(value), nl=False)
            return
        use_pretty = (not self.machine) if pretty is None else pretty
        click.echo(dumps_pretty(value) if use_pretty else dumps_compact(value))

    def stream_format(self, fmt: str | None) -> str | None:
        """`follow`/`duplex`'s format: their own `--format`, else a global `--format yaml`.

        A global json or pretty already decides through `machine`.
        """
        return fmt if fmt is not None or self.fmt != "yaml" else "yaml"

    def notice(self, kind: str, pool: str | None, message: str, details: dict[str, Any] | None = None) -> None:
        """Print a notice on stderr (JSON off a terminal)."""
        if self.stderr_human:
            click.echo(f"notice: {message}", err=True)
            return
        body = {
            "notice": {
                "kind": kind,
                "time": format_time(time.time_ns()),
                "cmd": self.cmd,
                "pool": pool,
                "message": message,
                "details": details or {},
            }
        }
        click.echo(dumps_compact(body), err=True)


def get_settings(ctx: click.Context | None = None) -> Settings:
    """Return this invocation's Settings (created on first use)."""
    ctx = ctx or click.get_current_context()
    root = ctx.find_root()
    settings = root.meta.get(_KEY)
    if settings is None:
        settings = Settings()
        root.meta[_KEY] = settings
    assert isinstance(settings, Settings)
    return settings


def _remember_format(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        settings = get_settings(ctx)
        settings.fmt = settings.error_fmt = value


def remember_lite3_format(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """A command's own `--format` (`follow`, `duplex`): decides the errors' format; Lite3 is recorded globally."""
    if value is not None:
        settings = get_settings(ctx)
        settings.error_fmt = value
        if value in LITE3_FORMATS:
            settings.fmt = value
    return value


def format_option(func: Any, *, binary: bool = False) -> Any:
    """`--format pretty|json|yaml`, accepted before the command (global) or after it, as plasmite 1.2.1 does.

    With `binary` (after `fetch`), also `lite3` (a framed message) and `lite3-raw` (its bytes).
    """
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(["pretty", "json", "yaml", *(LITE3_FORMATS if binary else ())]),
        default=None,
        expose_value=False,
        callback=_remember_format,
        help="Output: pretty (readable), json (compact) or yaml; default pretty on a terminal, json in a pipe.",
    )(func)


def _remember_dir(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        get_settings(ctx).pool_dir = value


def _remember_color(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        get_settings(ctx).color = value


def dir_option(func: Any) -> Any:
    """`--dir` and `--color` after the command too (`plasmite follow chat --dir ./pools`), as plasmite 1.2.1."""
    func = click.option(
        "--color",
        "late_color",
        type=click.Choice(["auto", "always", "never"]),
        default=None,
        expose_value=False,
        callback=_remember_color,
        help="Same as the global --color.",
    )(func)
    return click.option(
        "--dir",
        "late_pool_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        expose_value=False,
        callback=_remember_dir,
        help="Pool directory (same as the global --dir).",
    )(func)


def late_globals(func: Any) -> Any:
    """`--format`, `--dir` and `--color` accepted after the command."""
    return dir_option(format_option(func))


class PlasmiteClickError(click.ClickException):
    """A ToolkitError rendered the plasmite way: human lines, one JSON line or a YAML document (`error_style`)."""

    def __init__(self, error: ToolkitError, *, style: str) -> None:
        super().__init__(error.message)
        self.error = error
        self.style = style
        self.exit_code = error.exit_code if error.exit_code is not None else 1  # type: ignore[misc]  # click reads the instance value

    def show(self, file: IO[Any] | None = None) -> None:
        """Print the error on stderr."""
        err = self.error
        if isinstance(err, PlasmiteError):
            body = err.error_body()
        else:
            body = {"kind": err.kind, "message": err.message, **({"hint": err.hint} if err.hint else {})}
        if self.style == "json":
            click.echo(json.dumps({"error": body}, sort_keys=True, separators=(",", ":"), ensure_ascii=False), err=True)
            return
        if self.style == "yaml":
            from toolkit_plasmite.cli.yaml import dump_yaml

            click.echo(dump_yaml({"error": body}), err=True, nl=False)
            return
        click.echo(f"error: {body['message']}", err=True)
        for key in ("hint", "path", "seq", "offset"):
            if key in body:
                value = _display_path(body[key]) if key == "path" else body[key]
                click.echo(f"{key}: {value}", err=True)
        for cause in body.get("causes", []):
            click.echo(f"caused by: {cause}", err=True)


def _display_path(path: Any) -> Any:
    """A path under the working directory as `./REL` (plasmite's human errors), any other as is."""
    if not isinstance(path, str):
        return path
    if not path.startswith("/"):  # relative: plasmite anchors it at the working directory
        return path if path.startswith(("./", "../")) else "./" + path
    try:
        cwd = str(Path.cwd())
    except OSError:
        return path
    prefix = cwd.rstrip("/") + "/"
    return "./" + path[len(prefix) :] if path.startswith(prefix) and len(path) > len(prefix) else path


def binary_stream(name: str) -> Any:
    """The binary side of sys.stdin/stdout/stderr (click's helper is deprecated)."""
    stream = getattr(sys, name)
    return getattr(stream, "buffer", stream)
