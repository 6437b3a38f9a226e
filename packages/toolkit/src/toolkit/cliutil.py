"""Conventions every toolkit command follows: JSON mode, output, errors and exit codes.

Library code raises `toolkit_kernel.errors.ToolkitError`; this module is the one
place that turns it into a message on stderr and an exit code. Plugin groups use
`ToolkitGroup` so the same rules hold under `toolkit <system>` and under the
system's own console script.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from enum import IntEnum
from typing import IO, Any, TypeVar

import click

from toolkit_kernel.errors import Internal, ToolkitError

__all__ = [
    "ExitCode",
    "ToolkitGroup",
    "add_version_option",
    "emit",
    "exit_code_for",
    "json_mode",
    "json_option",
    "standalone_main",
    "write_json",
]

F = TypeVar("F", bound=Callable[..., Any])

_JSON_KEY = "toolkit.json"
HELP_OPTIONS = ["-h", "--help"]


class ExitCode(IntEnum):
    """Default exit codes by error kind; a system may pin its own on its error classes."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    NOT_FOUND = 3
    CONFLICT = 4
    BUSY = 5
    IPC = 6
    CORRUPT = 7


_BY_KIND = {
    "usage": ExitCode.USAGE,
    "config": ExitCode.USAGE,
    "not_found": ExitCode.NOT_FOUND,
    "conflict": ExitCode.CONFLICT,
    "busy": ExitCode.BUSY,
    "lock_timeout": ExitCode.BUSY,
    "io": ExitCode.BUSY,
    "ipc": ExitCode.IPC,
    "corrupt": ExitCode.CORRUPT,
    "snapshot_corrupt": ExitCode.CORRUPT,
    "internal": ExitCode.INTERNAL,
}


def exit_code_for(err: ToolkitError) -> int:
    """Return the exit code for `err`: its pinned `exit_code`, else the default for its kind."""
    if err.exit_code is not None:
        return err.exit_code
    return int(_BY_KIND.get(err.kind, ExitCode.INTERNAL))


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[_JSON_KEY] = True


def json_option(func: F) -> F:
    """Add `--json` to a command or group; the flag turns JSON mode on for the whole command chain."""
    option = click.option(
        "--json",
        "json_output",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        envvar="TOOLKIT_JSON",
        show_envvar=True,
        callback=_set_json,
        help="Print machine-readable JSON (errors as JSON on stderr).",
    )
    return option(func)


def json_mode(ctx: click.Context | None = None) -> bool:
    """Return True when `--json` (or TOOLKIT_JSON) is in force for the current command."""
    ctx = ctx or click.get_current_context(silent=True)
    if ctx is None:
        return False
    return bool(ctx.meta.get(_JSON_KEY))


def write_json(data: Any, *, err: bool = False, pretty: bool = False) -> None:
    """Print `data` as JSON with sorted keys (compact unless `pretty`)."""
    if pretty:
        text = json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False)
    else:
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    click.echo(text, err=err)


def emit(data: Any, human: str | Callable[[Any], str] | None = None) -> None:
    """Print a command's result: JSON in JSON mode, otherwise the human rendering.

    Args:
        data: The JSON-safe result.
        human: The text for a terminal, or a function of `data` producing it; when
            omitted, humans get indented JSON too.
    """
    if json_mode() or human is None:
        write_json(data, pretty=not json_mode())
        return
    text = human(data) if callable(human) else human
    if text:
        click.echo(text)


class ToolkitClickError(click.ClickException):
    """A ToolkitError on its way out: printed without a traceback, with its exit code."""

    def __init__(self, error: ToolkitError, *, as_json: bool) -> None:
        super().__init__(error.message)
        self.error = error
        self.as_json = as_json
        self.exit_code = exit_code_for(error)  # type: ignore[misc] # click reads it per instance

    def show(self, file: IO[Any] | None = None) -> None:
        if self.as_json:
            text = json.dumps(self.error.json_payload(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            click.echo(text, err=True)
            return
        click.secho(f"error: {self.error.message}", err=True, fg="red")
        if self.error.hint:
            click.echo(f"hint: {self.error.hint}", err=True)


class ToolkitGroup(click.Group):
    """A click group that reports ToolkitError (and unexpected bugs) without a traceback.

    Set `TOOLKIT_DEBUG=1` to let unexpected exceptions through with their traceback.
    """

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        """Parse arguments; `--help` lists plugin commands here, so plugin errors can surface here too."""
        try:
            return super().make_context(info_name, args, parent, **extra)
        except ToolkitError as err:
            raise ToolkitClickError(err, as_json="--json" in args) from None

    def render_error(self, ctx: click.Context | None, err: ToolkitError) -> click.ClickException:
        """Return how `err` leaves this group; a system with its own stderr format overrides it."""
        return ToolkitClickError(err, as_json=json_mode(ctx))

    def render_usage_error(self, ctx: click.Context, err: click.UsageError) -> click.ClickException | None:
        """Return a replacement for click's own usage error, or None to let click print it."""
        return None

    def invoke(self, ctx: click.Context) -> Any:
        """Run the chosen subcommand, turning errors into messages and exit codes."""
        try:
            return super().invoke(ctx)
        except ToolkitError as err:
            raise self.render_error(ctx, err) from None
        except click.UsageError as err:
            replacement = self.render_usage_error(ctx, err)
            if replacement is None:
                raise
            raise replacement from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            # Output piped into `head` and closed: not an error worth reporting.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise click.exceptions.Exit(0) from None
        except KeyboardInterrupt:
            raise click.exceptions.Exit(130) from None
        except Exception as exc:
            if os.environ.get("TOOLKIT_DEBUG"):
                raise
            bug = Internal(
                f"internal error: {type(exc).__name__}: {exc}",
                hint="this is a bug; rerun with TOOLKIT_DEBUG=1 for a traceback and report it",
            )
            raise self.render_error(ctx, bug) from None


def add_version_option(command: click.Command, prog_name: str) -> None:
    """Give `command` a `--version` printing `<prog_name> <the toolkit version>`, unless it has one."""
    if not any("--version" in param.opts for param in command.params):
        from toolkit_kernel import __version__

        click.version_option(__version__, "--version", prog_name=prog_name, message="%(prog)s %(version)s")(command)


def standalone_main(group: click.Command, prog_name: str | None = None) -> Callable[[], None]:
    """Return a console-script `main()` that runs `group` exactly as `toolkit <group>` would.

    The group gains a `--version` option (unless it has one) printing the one toolkit version.
    """
    name = prog_name or group.name or "toolkit"
    add_version_option(group, name)

    def main() -> None:
        # The same help options as under `toolkit`, so both entry points behave alike.
        group.main(prog_name=name, standalone_mode=True, help_option_names=HELP_OPTIONS)

    main.__doc__ = f"Run the `{name}` command."
    return main
