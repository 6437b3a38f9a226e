"""The `plasmite` click group (also `toolkit plasmite`): global options, errors, small commands."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from toolkit.cliutil import ToolkitGroup, json_option, standalone_main
from toolkit_kernel.errors import ToolkitError
from toolkit_plasmite import __version__
from toolkit_plasmite.cli.ui import PlasmiteClickError, format_option, get_settings
from toolkit_plasmite.errors import UsageError

__all__ = ["main", "plasmite"]


class PlasmiteGroup(ToolkitGroup):
    """The host's error handling, rendered in plasmite's stderr format with its exit codes."""

    def render_error(self, ctx: click.Context | None, err: ToolkitError) -> click.ClickException:
        """Render as plasmite does: per `--format`, else human on a terminal and JSON otherwise."""
        terminal = "human" if sys.stderr.isatty() else "json"
        return PlasmiteClickError(err, style=get_settings(ctx).error_style if ctx is not None else terminal)

    def render_usage_error(self, ctx: click.Context, err: click.UsageError) -> click.ClickException | None:
        """Usage errors from click in plasmite's format too (click's own text on a terminal without `--format`)."""
        settings = get_settings(ctx)
        style = settings.error_style
        if style == "human" and settings.stderr_human and settings.error_fmt is None:
            return None
        hint = f"run `{err.ctx.command_path if err.ctx else 'plasmite'} --help`"
        return PlasmiteClickError(UsageError(err.format_message(), hint=hint), style=style)


@click.group(cls=PlasmiteGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--dir",
    "pool_dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="TOOLKIT_PLASMITE_DIR",
    show_envvar=True,
    help="Pool directory (default ~/.plasmite/pools).",
)
@click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    envvar="TOOLKIT_PLASMITE_COLOR",
    show_envvar=True,
    help="Terminal rendering: always forces pretty output even when piped.",
)
@json_option
@format_option
@click.pass_context
def plasmite(ctx: click.Context, pool_dir: Path | None, color: str) -> None:
    """Local-first message pools: mmap'd ring-buffer files you feed, fetch and follow.

    Pools are referenced by name (in --dir) or by path; `feed` and `follow` also take
    http://host:port/pool refs served by `plasmite serve`.
    """
    settings = get_settings(ctx)
    settings.pool_dir = pool_dir
    settings.color = color
    settings.cmd = ctx.invoked_subcommand or ""


@plasmite.command("version")
@json_option
def version_command() -> None:
    """Print the version (JSON when piped)."""
    settings = get_settings()
    if settings.machine:
        settings.out({"name": "plasmite", "version": __version__})
    else:
        click.echo(f"plasmite {__version__}")


@plasmite.command("help")
@click.argument("command", nargs=-1)
@click.pass_context
def help_command(ctx: click.Context, command: tuple[str, ...]) -> None:
    """Print the help of COMMAND (e.g. `plasmite help pool create`), or the main help."""
    root = ctx.find_root()
    target: click.Command = root.command
    target_ctx = root
    for name in command:
        sub = target.get_command(target_ctx, name) if isinstance(target, click.Group) else None
        if sub is None:
            raise UsageError(f"no such command {' '.join(command)!r}", hint="run `plasmite help`")
        target, target_ctx = sub, click.Context(sub, info_name=name, parent=target_ctx)
    click.echo(target.get_help(target_ctx))


@plasmite.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion_command(shell: str) -> None:
    """Print the shell completion script for SHELL (`eval "$(plasmite completion bash)"`)."""
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    if cls is None:  # pragma: no cover - click ships all three
        raise UsageError(f"unsupported shell {shell}")
    click.echo(cls(plasmite, {}, "plasmite", "_PLASMITE_COMPLETE").source())


def _register() -> None:
    from toolkit_plasmite.cli.duplex import duplex_command
    from toolkit_plasmite.cli.feed import feed_command
    from toolkit_plasmite.cli.follow import follow_command
    from toolkit_plasmite.cli.mcp import mcp_command
    from toolkit_plasmite.cli.pool import doctor_command, fetch_command, pool_group
    from toolkit_plasmite.cli.serve import serve_group
    from toolkit_plasmite.cli.tap import tap_command

    for command in (
        pool_group,
        feed_command,
        fetch_command,
        follow_command,
        duplex_command,
        tap_command,
        serve_group,
        doctor_command,
        mcp_command,
    ):
        plasmite.add_command(command)


_register()

main = standalone_main(plasmite, "plasmite")
