"""Shared CLI plumbing: the grite group class, global options, output envelope."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

import click

from toolkit.cliutil import ToolkitClickError, ToolkitGroup, json_mode, json_option, write_json
from toolkit_grite import errors as gerr
from toolkit_grite.cli.render import terminal_safe
from toolkit_grite.error_codes import CODE_BY_KIND
from toolkit_kernel import errors as kerr

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "GriteGroup",
    "call",
    "common_options",
    "emit_call",
    "fail_with_report",
    "get_grite",
    "output",
    "terminal_safe",
    "wants_json",
]

_CLASS_BY_CODE: dict[str, type[gerr.GriteError]] = {
    cls.code: cls
    for cls in (
        gerr.InvalidArgs,
        gerr.GriteNotFound,
        gerr.GriteConflict,
        gerr.DbBusy,
        gerr.GriteIoError,
        gerr.DbError,
        gerr.GriteIpcError,
        gerr.GriteInternal,
    )
}


def to_grite_error(err: kerr.ToolkitError) -> gerr.GriteError:
    """Re-type any toolkit error as the grite error with the same kind (keeps message, hint, details)."""
    if isinstance(err, gerr.GriteError):
        return err
    cls = _CLASS_BY_CODE[CODE_BY_KIND.get(err.kind, "internal_error")]
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
    """The repository of the current directory with the global actor options, opened once per command.

    A command that makes several calls (`context index`) shares one: LMDB refuses to open the
    same view twice in one process.
    """
    from toolkit_grite.core.grite import Grite

    root = click.get_current_context().find_root()
    g = root.meta.get("grite.open")
    if g is None:
        g = root.meta["grite.open"] = Grite(actor_flag=meta("grite.actor"), data_dir=_data_dir())
        root.call_on_close(g.close)
    return g


def _data_dir() -> str | None:
    return meta("grite.data_dir") or os.environ.get("GRITE_HOME") or None


#: Set by the `grite` console script (`toolkit_grite.cli.main`): core calls go to the repository's
#: daemon when one serves it. `toolkit grite ...` and in-process callers (tests) run them here.
ROUTE_THROUGH_DAEMON = False


def call(name: str, /, **args: Any) -> tuple[dict[str, Any], list[str]]:
    """Run the core call `name` (`toolkit_grite.core.calls`): through the daemon when routing, else here.

    Returns:
        The call's JSON data and its warnings.

    Raises:
        GriteError: the call's own error (from the daemon or local), or `ipc_error` when the
            daemon failed after the request was sent (never re-run here: it may have been applied).
    """
    if ROUTE_THROUGH_DAEMON and not meta("grite.no_daemon"):
        from toolkit_grite.daemon import client

        try:
            result = client.forward(name, args, actor=meta("grite.actor"), data_dir=_data_dir())
        except client.RemoteError as exc:
            raise to_grite_error(kerr.error_from_dict(exc.error)) from None
        except client.Lost as exc:
            raise gerr.GriteIpcError(client.failure_message(str(exc)), hint=client.FAILURE_HINT) from None
        if result is not None:
            return json.loads(result["json"]), list(result["warnings"])
    from toolkit_grite.core.calls import run

    g = get_grite()
    return run(g, name, args, check=False), g.warnings  # click typed the arguments already


def emit_call(name: str, human: Callable[[dict[str, Any]], str] | None = None, /, **args: Any) -> None:
    """Run the core call `name` (see `call`) and print its result with `output`."""
    data, warnings = call(name, **args)
    output(data, human, warnings)


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
