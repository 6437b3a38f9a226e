"""The `toolkit` command: the host's own commands plus one group per plugin."""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

from toolkit import __version__
from toolkit.cliutil import HELP_OPTIONS, ToolkitGroup, emit, json_option, standalone_main
from toolkit.plugins import get_plugins

__all__ = ["cli", "main"]


class RootGroup(ToolkitGroup):
    """The root group: plugin commands are looked up lazily, so `--version` loads no plugin."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return the host's commands and every plugin's, sorted."""
        return sorted([*super().list_commands(ctx), *get_plugins().commands()])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Return a host command, else the plugin command of that name."""
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        return get_plugins().commands().get(cmd_name)


@click.group(cls=RootGroup, context_settings={"help_option_names": HELP_OPTIONS})
@click.version_option(__version__, "-V", "--version", prog_name="toolkit", message="%(prog)s %(version)s")
@json_option
def cli() -> None:
    """Local-first infrastructure: one command, many systems.

    Each system is a plugin: `toolkit plugins` lists them, `toolkit <system> --help` shows
    its commands. Every command accepts --json for scripts and agents.
    """


def _plugins_text(data: dict[str, list[dict[str, object]]]) -> str:
    lines = []
    for info in data["plugins"]:
        commands = ", ".join(str(c) for c in info["commands"]) or "-"  # type: ignore[attr-defined]
        version = info["version"] or "?"
        dist = info["distribution"] or "(registered)"
        lines.append(f"{info['name']:<12} {dist} {version}  commands: {commands}")
    for broken in data["broken"]:
        lines.append(f"{broken['name']:<12} BROKEN: {broken['error']}")
    return "\n".join(lines) if lines else "no plugins installed"


@cli.command("plugins")
@json_option
def plugins_command() -> None:
    """List installed plugins with their distribution, version, commands and services."""
    plugins = get_plugins()
    plugins.commands()
    plugins.services()
    data = {
        "plugins": [info.to_dict() for _, info in sorted(plugins.infos.items())],
        "broken": [broken.to_dict() for broken in plugins.broken],
    }
    emit(data, _plugins_text)


@cli.command("services")
@json_option
def services_command() -> None:
    """List the servers plugins offer (a supervisor can run them by name)."""
    specs = [spec.to_dict() for spec in get_plugins().services()]

    def text(data: dict[str, list[dict[str, object]]]) -> str:
        rows = [f"{s['name']:<12} {s['default_address']:<28} {s['description']}" for s in data["services"]]
        return "\n".join(rows) if rows else "no services offered"

    emit({"services": specs}, text)


@cli.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion_command(shell: str) -> None:
    """Print the shell completion script.

    Enable it with `eval "$(toolkit completion bash)"` (or zsh, fish).
    """
    completion_class = get_completion_class(shell)
    if completion_class is None:  # click knows the three choices above; guard anyway
        raise click.BadParameter(f"unsupported shell {shell}")
    ctx = click.get_current_context()
    root = ctx.find_root().command
    click.echo(completion_class(root, {}, "toolkit", "_TOOLKIT_COMPLETE").source())


main = standalone_main(cli, "toolkit")
