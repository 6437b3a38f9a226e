"""The `toolkit` command: every command comes from a plugin, the host's own included.

`toolkit --help` lists commands from the entry-point index (`toolkit.index`) when it can,
so it imports neither pluggy, nor `importlib.metadata`, nor any plugin; `toolkit <cmd> ...`
then loads only the plugin that owns `<cmd>`.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click

from toolkit.cliutil import HELP_OPTIONS, ToolkitGroup, json_option, standalone_main
from toolkit_kernel import __version__

if TYPE_CHECKING:
    from toolkit.index import Index
    from toolkit.plugins import ToolkitPlugins

__all__ = ["cli", "main"]


def _usable_index() -> Index | None:
    """Return the index when it may stand in for loading plugins, else None."""
    from toolkit.plugins import plugins_overridden

    if plugins_overridden() or os.environ.get("TOOLKIT_STRICT_PLUGINS", "") not in ("", "0", "false", "no"):
        return None
    from toolkit.index import load_index

    return load_index()


def _enabled(plugin: str) -> bool:
    """Apply TOOLKIT_DISABLE_PLUGINS / TOOLKIT_LOAD_PLUGINS to an indexed plugin (never the host's own)."""
    from toolkit.plugins import BUILTIN, env_names

    if plugin == BUILTIN:
        return True
    allow = env_names("TOOLKIT_LOAD_PLUGINS")
    return plugin not in (env_names("TOOLKIT_DISABLE_PLUGINS") or set()) and (allow is None or plugin in allow)


class RootGroup(ToolkitGroup):
    """The root group: commands are looked up lazily, so `--version` loads no plugin."""

    _single: dict[str, ToolkitPlugins]

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return every command's name, from the index when it is usable."""
        index = _usable_index()
        if index is not None:
            return sorted(name for name, c in index.commands.items() if _enabled(c.plugin))
        from toolkit.plugins import get_plugins

        return sorted(get_plugins().commands())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Return the command, loading only its plugin when the index says which one owns it.

        Any miss of the index (a command it does not know, a plugin that no longer loads or no
        longer has the command) means a full load, which rewrites the index, and one more lookup:
        installing or removing a plugin never needs a manual step.
        """
        from toolkit.plugins import ToolkitPlugins, get_plugins

        index = _usable_index()
        owner = index.commands.get(cmd_name) if index is not None else None
        if index is None or owner is None or not _enabled(owner.plugin) or owner.plugin not in index.plugins:
            return get_plugins().commands().get(cmd_name)
        from importlib.metadata import EntryPoint

        from toolkit.plugins import ENTRY_POINT_GROUP

        entry_point = EntryPoint(owner.plugin, index.plugins[owner.plugin], ENTRY_POINT_GROUP)
        found = ToolkitPlugins(entry_points=[entry_point], quiet=True).commands().get(cmd_name)
        return found if found is not None else get_plugins().commands().get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List commands with their short help, from the index when usable (no plugin is imported)."""
        index = _usable_index()
        if index is None:
            super().format_commands(ctx, formatter)
            return
        for broken in index.broken:
            if _enabled(broken["name"]):
                print(f"warning: plugin {broken['name']!r} skipped: {broken['error']}", file=sys.stderr)
        shown = [c for name, c in sorted(index.commands.items()) if _enabled(c.plugin) and not c.hidden]
        if not shown:
            return
        limit = formatter.width - 6 - max(len(c.name) for c in shown)
        rows = []
        for entry in shown:
            stand_in = click.Command(entry.name, help=entry.help, short_help=entry.short_help)
            stand_in.deprecated = entry.deprecated
            rows.append((entry.name, stand_in.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=RootGroup, context_settings={"help_option_names": HELP_OPTIONS})
@click.version_option(__version__, "-V", "--version", prog_name="toolkit", message="%(prog)s %(version)s")
@json_option
def cli() -> None:
    """Local-first infrastructure: one command, many systems.

    Each system is a plugin: `toolkit plugins` lists them, `toolkit <system> --help` shows
    its commands. Every command accepts --json for scripts and agents.
    """


main = standalone_main(cli, "toolkit")
