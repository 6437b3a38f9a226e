"""The host's own commands (`plugins`, `services`, `completion`, `mcp`), registered as a built-in plugin.

The host gets its commands the way every plugin does, through `pm.hook.toolkit_commands`,
so a plugin that claims one of these names meets the same duplicate check as any other.
"""

from __future__ import annotations

import click

from toolkit.cliutil import emit, json_option
from toolkit.hookspecs import hookimpl

#: The plugin name the built-in plugin is registered under.
NAME = "toolkit"


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


@click.command("plugins")
@json_option
def plugins_command() -> None:
    """List installed plugins with their distribution, version, commands and services."""
    from toolkit.plugins import get_plugins

    plugins = get_plugins()
    plugins.commands()
    plugins.services()
    data = {
        "plugins": [info.to_dict() for _, info in sorted(plugins.infos.items())],
        "broken": [broken.to_dict() for broken in plugins.broken],
    }
    emit(data, _plugins_text)


@click.command("services")
@json_option
def services_command() -> None:
    """List the servers plugins offer (a supervisor can run them by name)."""
    from toolkit.plugins import get_plugins

    specs = [spec.to_dict() for spec in get_plugins().services()]

    def text(data: dict[str, list[dict[str, object]]]) -> str:
        rows = [f"{s['name']:<12} {s['default_address']:<28} {s['description']}" for s in data["services"]]
        return "\n".join(rows) if rows else "no services offered"

    emit({"services": specs}, text)


@click.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion_command(shell: str) -> None:
    """Print the shell completion script.

    Enable it with `eval "$(toolkit completion bash)"` (or zsh, fish).
    """
    from click.shell_completion import get_completion_class

    completion_class = get_completion_class(shell)
    if completion_class is None:  # click knows the three choices above; guard anyway
        raise click.BadParameter(f"unsupported shell {shell}")
    ctx = click.get_current_context()
    root = ctx.find_root().command
    click.echo(completion_class(root, {}, "toolkit", "_TOOLKIT_COMPLETE").source())


@click.command("mcp")
@json_option
@click.option("--list", "list_only", is_flag=True, help="Print the tools as JSON and exit instead of serving.")
def mcp_command(list_only: bool) -> None:
    """Serve every installed plugin's tools to an agent: one MCP server over stdio.

    Configure your MCP client to run `toolkit mcp` (no arguments). Tools are named
    `<system>_<action>` (grite_create, pom_ps, plasmite_feed, graveyar_append, ...).
    """
    from toolkit.plugins import get_plugins

    tools = get_plugins().mcp_tools()
    if list_only:
        rows = [
            {"name": t.name, "description": (t.description or t.function.__doc__ or "").strip().split("\n")[0],
             "read_only": t.read_only}
            for t in sorted(tools, key=lambda t: t.name)
        ]  # fmt: skip
        emit({"tools": rows}, lambda d: "\n".join(f"{r['name']:<24} {r['description']}" for r in d["tools"]))
        return
    from toolkit.mcp_server import serve_stdio

    serve_stdio(tools)


@hookimpl
def toolkit_commands() -> list[click.Command]:
    """Return the host's own commands."""
    return [completion_command, mcp_command, plugins_command, services_command]
