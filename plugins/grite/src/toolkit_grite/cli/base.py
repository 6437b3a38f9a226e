"""Shared CLI plumbing: the grite group class, global options, output envelope."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

import click

from toolkit.cliutil import ToolkitClickError, ToolkitGroup, json_mode, json_option, write_json
from toolkit_grite import errors as gerr
from toolkit_kernel import errors as kerr

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "GriteGroup",
    "common_options",
    "fail_with_report",
    "get_grite",
    "output",
    "terminal_safe",
    "wants_json",
]

_CONVERT: dict[str, type[gerr.GriteError]] = {
    "usage": gerr.InvalidArgs,
    "config": gerr.InvalidArgs,
    "not_found": gerr.GriteNotFound,
    "conflict": gerr.GriteConflict,
    "busy": gerr.DbBusy,
    "lock_timeout": gerr.DbBusy,
    "io": gerr.GriteIoError,
    "corrupt": gerr.DbError,
    "snapshot_corrupt": gerr.DbError,
    "ipc": gerr.GriteIpcError,
    "internal": gerr.GriteInternal,
}


def to_grite_error(err: kerr.ToolkitError) -> gerr.GriteError:
    """Re-type any toolkit error as the grite error with the same kind (keeps message, hint, details)."""
    if isinstance(err, gerr.GriteError):
        return err
    cls = _CONVERT.get(err.kind, gerr.GriteInternal)
    return cls(err.message, hint=err.hint, details=err.details)


def wants_json(ctx: click.Context | None, line_has_json: bool = False) -> bool:
    """JSON mode for a usage error, which can come before `--json` is parsed: the flag on the line, or env."""
    if line_has_json or json_mode(ctx) or os.environ.get("TOOLKIT_JSON", "") not in ("", "0", "false"):
        return True
    if _PARSING_JSON_LINE.get():
        return True
    return ctx is not None and bool(ctx.meta.get(_JSON_ON_LINE))


_JSON_ON_LINE = "grite.json_on_line"
_PARSING_JSON_LINE: ContextVar[bool] = ContextVar("grite_parsing_json_line", default=False)


def _usage_error(err: click.UsageError) -> ToolkitClickError:
    """A click usage error as grite's `invalid_args` JSON error (exit 2)."""
    detail = {"usage": err.ctx.get_usage()} if err.ctx is not None else None
    return ToolkitClickError(gerr.InvalidArgs(err.format_message(), details=detail), as_json=True)


class GriteGroup(ToolkitGroup):
    """The host's group with grite's error codes, exit codes and JSON envelope.

    Under `--json` (or TOOLKIT_JSON) a usage error (unknown command or option, missing value)
    is printed as the JSON error `invalid_args` on stderr with exit 2, like every other error;
    0.5.3 printed clap's text there.
    """

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        """Parse arguments; a usage error under `--json` leaves as JSON."""
        line_has_json = "--json" in args  # parsing consumes `args`
        token = _PARSING_JSON_LINE.set(line_has_json)  # seen by eager callbacks (`--version --json`)
        try:
            ctx = super().make_context(info_name, args, parent, **extra)
        except click.UsageError as err:
            if wants_json(parent, line_has_json):
                raise _usage_error(err) from None
            raise
        finally:
            _PARSING_JSON_LINE.reset(token)
        if line_has_json:
            ctx.meta[_JSON_ON_LINE] = True  # a subcommand may still fail before its own `--json` is parsed
        return ctx

    def render_usage_error(self, ctx: click.Context, err: click.UsageError) -> click.ClickException | None:
        """Usage errors under `--json` as JSON `invalid_args`; click's text otherwise."""
        return _usage_error(err) if wants_json(ctx) else None

    def render_error(self, ctx: click.Context | None, err: kerr.ToolkitError) -> click.ClickException:
        """Re-type kernel errors as grite errors (grite's codes and exit codes), then render as the host does."""
        return super().render_error(ctx, to_grite_error(err))


def _meta_setter(key: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value:
            ctx.meta[key] = value

    return callback


def common_options(func: F) -> F:
    """Add the global flags (`--json --quiet --data-dir --actor --no-daemon`) to a command."""
    func = click.option(
        "--no-daemon",
        is_flag=True,
        expose_value=False,
        callback=_meta_setter("grite.no_daemon"),
        help="Never route through the daemon (GRITE_NO_DAEMON=1).",
    )(func)
    func = click.option(
        "--actor",
        metavar="ID",
        expose_value=False,
        callback=_meta_setter("grite.actor"),
        help="Act as this actor: 32 hex or a local actor's label (GRITE_ACTOR).",
    )(func)
    func = click.option(
        "--data-dir",
        metavar="PATH",
        expose_value=False,
        callback=_meta_setter("grite.data_dir"),
        help="Use the actor stored in PATH (GRITE_HOME).",
    )(func)
    func = click.option(
        "--quiet",
        "-q",
        is_flag=True,
        expose_value=False,
        callback=_meta_setter("grite.quiet"),
        help="Print nothing on success (GRITE_QUIET=1).",
    )(func)
    return json_option(func)


def meta(key: str) -> Any:
    """A global flag's value from the current context."""
    ctx = click.get_current_context()
    return ctx.meta.get(key)


def quiet() -> bool:
    """True when `--quiet` or GRITE_QUIET is set and `--json` is not (0.5.3 prints JSON even when quiet)."""
    if json_mode():
        return False
    return bool(meta("grite.quiet")) or os.environ.get("GRITE_QUIET", "") not in ("", "0")


def get_grite() -> Any:
    """Open the repository of the current directory with the global actor options."""
    from toolkit_grite.core.grite import Grite

    data_dir = meta("grite.data_dir") or os.environ.get("GRITE_HOME") or None
    g = Grite(actor_flag=meta("grite.actor"), data_dir=data_dir)
    ctx = click.get_current_context()
    ctx.call_on_close(g.close)
    return g


# C0 controls but tab and newline, DEL, C1 controls, and the bidi overrides that reorder a line.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_LINE_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str, *, single_line: bool = False) -> str:
    """`text` with terminal control characters (ANSI sequences, carriage returns, bidi) shown as escapes.

    Titles, bodies and comments come from any replica, so a hostile one could otherwise clear the
    screen, rewrite earlier lines or hide text. `single_line` also escapes newlines and tabs (for
    fields printed on one line, such as titles in a table).
    """
    return (_LINE_CONTROLS if single_line else _CONTROLS).sub(_escape, text)


def output(
    data: dict[str, Any], human: Callable[[dict[str, Any]], str] | None = None, warnings: list[str] | None = None
) -> None:
    """Print a success: the envelope in JSON mode, else the human rendering; warnings on stderr."""
    if warnings:
        if json_mode():
            data = dict(data, warnings=list(warnings))
        else:
            for warning in warnings:
                click.echo(f"warning: {terminal_safe(warning)}", err=True)
    if quiet():
        return
    if json_mode():
        write_json({"schema_version": 1, "ok": True, "data": data})
        return
    if human is None:
        click.echo(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))
        return
    text = human(data)
    if text:
        click.echo(terminal_safe(text))


def fail_with_report(
    data: dict[str, Any], human: Callable[[dict[str, Any]], str] | None, message: str, hint: str
) -> None:
    """End a checking command that found problems: exit 5 (`db_error`) with the full report.

    JSON: the error envelope on stderr with the report as `details.report`. Human: the report
    on stdout, then the error line on stderr.
    """
    if not json_mode() and human is not None:
        click.echo(terminal_safe(human(data)))
    raise gerr.DbError(message, hint=hint, details={"report": data})
