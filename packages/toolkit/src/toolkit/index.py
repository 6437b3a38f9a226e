"""The entry-point index: what `toolkit --help` needs, without importing a single plugin.

Finding plugins means scanning every installed distribution's metadata (`importlib.metadata`),
importing pluggy and every plugin's CLI modules: most of the 100+ ms `toolkit --help` used to
take. After each full load the host writes what it learnt (every command's name, plugin and
help text, and which entry point provides it) to `$TOOLKIT_CACHE_DIR/entry-points-<env>.marshal`.
The next `toolkit --help` lists commands from it, and `toolkit <cmd> ...` loads only the plugin
that owns `<cmd>`.

The index is trusted only while nothing it was built from changed: the modification times of
every `sys.path` entry (installing or removing a distribution changes its directory) and of
every module file of every plugin (editing a plugin in a development checkout). Anything else
(a missing, unreadable or stale file, strict mode) means a full load, which rewrites it.
"""

from __future__ import annotations

import marshal
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.fastpath import FORMAT, index_file, load_raw, mtime, path_fingerprint

if TYPE_CHECKING:
    import click

    from toolkit.plugins import ToolkitPlugins

__all__ = ["Index", "IndexedCommand", "load_index", "write_index"]


@dataclass(frozen=True)
class IndexedCommand:
    """One top-level command as `toolkit --help` shows it."""

    name: str
    plugin: str
    help: str | None
    short_help: str | None
    hidden: bool
    deprecated: bool | str


@dataclass(frozen=True)
class Index:
    """A trusted index: commands by name, and the entry point (`module`) of each plugin."""

    commands: dict[str, IndexedCommand]
    plugins: dict[str, str]
    broken: list[dict[str, str]]
    #: console script name -> its real main (`module:function`), from the `toolkit.scripts` group
    scripts: dict[str, str]
    #: program name -> {"width": help width, "text": the help click printed}
    helps: dict[str, dict[str, Any]]


def load_index() -> Index | None:
    """Return the index if it exists and everything it was built from is unchanged, else None."""
    data = load_raw()
    if data is None:
        return None
    try:
        commands = {c["name"]: IndexedCommand(**c) for c in data["commands"]}
        return Index(
            commands=commands,
            plugins=dict(data["plugins"]),
            broken=list(data["broken"]),
            scripts=dict(data["scripts"]),
            helps=dict(data["helps"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _plugin_files(plugins: ToolkitPlugins) -> dict[str, int | None]:
    """Every loaded module file of every plugin package (the hook calls imported their CLIs)."""
    packages = {info.module.split(".")[0].split(":")[0] for info in plugins.infos.values()}
    files: dict[str, int | None] = {}
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in packages:
            path = getattr(module, "__file__", None)
            if path:
                files[path] = mtime(path)
    return files


def _scripts() -> dict[str, str]:
    from importlib.metadata import entry_points

    from toolkit.scripts import SCRIPTS_GROUP

    scripts: dict[str, str] = {}
    for entry_point in entry_points(group=SCRIPTS_GROUP):
        scripts.setdefault(entry_point.name, entry_point.value)
    return scripts


def _render_help(command: click.Command, prog: str) -> str:
    """Return exactly what `prog --help` prints (click's own rendering, at this terminal's width)."""
    from toolkit.cliutil import HELP_OPTIONS

    settings = {**command.context_settings, "help_option_names": HELP_OPTIONS}
    ctx = command.context_class(command, info_name=prog, **settings)
    with ctx:
        return command.get_help(ctx) + "\n"


def _helps(plugins: ToolkitPlugins, found: dict[str, click.Command], scripts: dict[str, str]) -> dict[str, Any]:
    from toolkit.fastpath import help_width
    from toolkit.plugins import get_plugins, plugins_overridden

    width = help_width()
    helps = {name: {"width": width, "text": _render_help(found[name], name)} for name in scripts if name in found}
    if plugins_overridden() and get_plugins() is plugins:  # the root help lists exactly these plugins' commands
        from toolkit.cli import cli

        helps["toolkit"] = {"width": width, "text": _render_help(cli, "toolkit")}
    return helps


def write_index(plugins: ToolkitPlugins, found: dict[str, click.Command], owners: dict[str, str]) -> None:
    """Record what a full load found; failing to write (read-only cache) is not an error."""
    commands = []
    for name, command in sorted(found.items()):
        commands.append(
            {
                "name": name,
                "plugin": owners[name],
                "help": command.help,
                "short_help": command.short_help,
                "hidden": bool(command.hidden),
                "deprecated": command.deprecated,
            }
        )
    scripts = _scripts()
    data = {
        "scripts": scripts,
        "helps": _helps(plugins, found, scripts),
        "format": FORMAT,
        "sys_path": path_fingerprint(),
        "files": _plugin_files(plugins),
        "commands": commands,
        "plugins": {name: info.module for name, info in plugins.infos.items()},
        "broken": [broken.to_dict() for broken in plugins.broken],
    }
    path = Path(index_file())
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(marshal.dumps(data))
        os.replace(tmp, path)
    except (OSError, ValueError):  # ValueError: marshal met a value it cannot store
        tmp.unlink(missing_ok=True)
