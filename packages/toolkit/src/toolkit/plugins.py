"""Finding, loading and asking plugins.

The manager is built on first use, never at import, so `import toolkit` stays free.
Order: hookspecs, the host's built-in plugin (`toolkit.builtin`: `plugins`, `services`,
`completion`), then each entry point of the `toolkit` group (skipping the names in
`TOOLKIT_DISABLE_PLUGINS`, and all names not in `TOOLKIT_LOAD_PLUGINS` when that is
set), then `check_pending()`. Hooks are always called through `pm.hook` (one plugin at a
time, with `subset_hook_caller`, so a failure is attributed to its plugin). A plugin that
fails to import or to answer a hook is reported on stderr and skipped; with
`TOOLKIT_STRICT_PLUGINS=1` it is an error.

A full load also writes the entry-point index (`toolkit.index`), which lets `toolkit --help`
list every command without importing any plugin.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

from toolkit_kernel.errors import Conflict, ToolkitError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    import click

    from toolkit.services import ServiceSpec
    from toolkit.tools import McpTool

__all__ = [
    "BrokenPlugin",
    "PluginError",
    "PluginInfo",
    "ToolkitPlugins",
    "get_plugins",
    "iter_services",
    "plugins_overridden",
    "reset_plugins",
]

#: pluggy's project name, the entry-point group plugins register in, and the built-in plugin's name.
PROJECT = ENTRY_POINT_GROUP = BUILTIN = "toolkit"


class PluginError(ToolkitError):
    """A plugin could not be loaded or broke a host rule (strict mode, duplicate names)."""

    kind = "plugin"
    exit_code = 1


@dataclass
class PluginInfo:
    """What `toolkit plugins` says about one loaded plugin."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    commands: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "commands": self.commands,
            "services": self.services,
        }


@dataclass
class BrokenPlugin:
    """A plugin that failed to load or to answer a hook, and why."""

    name: str
    error: str

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {"name": self.name, "error": self.error}


def env_names(var: str) -> set[str] | None:
    raw = os.environ.get(var)
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def _strict() -> bool:
    return os.environ.get("TOOLKIT_STRICT_PLUGINS", "") not in ("", "0", "false", "no")


class ToolkitPlugins:
    """A typed facade over the pluggy manager: commands, services and what was loaded.

    Args:
        modules: Plugin modules to register directly instead of reading entry points
            (what tests and embedders use).
        load_entry_points: Read the `toolkit` entry-point group.
        entry_points: Load only these entry points (what the index names for one command).
        quiet: Record plugins that fail to load in `broken` without warning on stderr (the
            index-guided load, which falls back to a full load that reports them).
    """

    def __init__(
        self,
        modules: Sequence[ModuleType] = (),
        *,
        load_entry_points: bool = True,
        entry_points: Sequence[EntryPoint] | None = None,
        quiet: bool = False,
    ) -> None:
        import pluggy  # here, not at import: `toolkit --help` from the index never needs it

        from toolkit import builtin, hookspecs

        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.pm.register(builtin, name=builtin.NAME)
        self.infos: dict[str, PluginInfo] = {}
        self.broken: list[BrokenPlugin] = []
        self._quiet = quiet
        self._commands: dict[str, click.Command] | None = None
        self._services: list[ServiceSpec] | None = None
        self._tools: list[McpTool] | None = None
        #: True when every installed plugin was considered: only then may the index be written.
        self.complete = load_entry_points and entry_points is None
        blocked = env_names("TOOLKIT_DISABLE_PLUGINS") or set()
        for name in blocked:
            self.pm.set_blocked(name)
        allow = env_names("TOOLKIT_LOAD_PLUGINS")
        self.complete = self.complete and not blocked and allow is None
        if entry_points is not None:
            self._load_entry_points(blocked, allow, entry_points)
        elif load_entry_points:
            self._load_entry_points(blocked, allow, _toolkit_entry_points())
        for module in modules:
            name = module.__name__.split(".")[0]
            self.pm.register(module, name=name)
            self.infos[name] = PluginInfo(name=name, module=module.__name__)
        self.pm.check_pending()

    def _report(self, name: str, exc: BaseException) -> None:
        message = f"{type(exc).__name__}: {exc}"
        if _strict():
            raise PluginError(
                f"plugin {name!r} failed: {message}",
                hint="fix or uninstall the plugin, or unset TOOLKIT_STRICT_PLUGINS to skip it",
            ) from exc
        self.broken.append(BrokenPlugin(name, message))
        if not self._quiet:
            print(f"warning: plugin {name!r} skipped: {message}", file=sys.stderr)

    def _load_entry_points(self, blocked: set[str], allow: set[str] | None, eps: Sequence[EntryPoint]) -> None:
        for ep in eps:
            if ep.name in blocked or (allow is not None and ep.name not in allow):
                continue
            if self.pm.get_plugin(ep.name) is not None:
                continue
            try:
                module = ep.load()
                self.pm.register(module, name=ep.name)
            except Exception as exc:
                self._report(ep.name, exc)
                continue
            dist = ep.dist
            self.infos[ep.name] = PluginInfo(
                name=ep.name,
                module=ep.value,
                distribution=dist.name if dist else None,
                version=dist.version if dist else None,
            )

    def _call_per_plugin(self, hook_name: str) -> Iterable[tuple[str, Sequence[Any]]]:
        """Call a hook through `pm.hook`, one plugin at a time, so a failing plugin is attributed and skipped."""
        for name, plugin in list(self.pm.list_name_plugin()):
            if plugin is None or not any(
                impl.plugin is plugin for impl in getattr(self.pm.hook, hook_name).get_hookimpls()
            ):
                continue
            others = [other for other in self.pm.get_plugins() if other is not plugin]
            caller = self.pm.subset_hook_caller(hook_name, remove_plugins=others)
            try:
                results = caller()
            except Exception as exc:
                if name == BUILTIN:
                    raise  # the host's own hook failing is a bug, never a plugin to skip
                self._report(name, exc)
                self.pm.unregister(plugin)
                self.infos.pop(name, None)
                continue
            yield name, [item for result in results for item in (result or ())]

    def commands(self) -> dict[str, click.Command]:
        """Return every plugin command by name.

        Raises:
            Conflict: two plugins (or a plugin and the host) claim the same command name.
        """
        if self._commands is None:
            from toolkit.cliutil import add_version_option

            found: dict[str, click.Command] = {}
            owners: dict[str, str] = {}
            for plugin_name, commands in self._call_per_plugin("toolkit_commands"):
                for command in commands:
                    name = command.name or ""
                    if name in found:
                        other = "the toolkit host" if owners[name] == BUILTIN else repr(owners[name])
                        raise Conflict(
                            f"plugin {plugin_name!r} and {other} both provide the command {name!r}",
                            hint=f"uninstall one of them, or disable it with TOOLKIT_DISABLE_PLUGINS={plugin_name}",
                            details={"command": name, "plugins": [plugin_name, owners[name]]},
                        )
                    if plugin_name != BUILTIN:
                        add_version_option(command, name)  # `toolkit grite --version` as `grite --version`
                    found[name] = command
                    owners[name] = plugin_name
                    if plugin_name in self.infos:
                        self.infos[plugin_name].commands.append(name)
            self._commands = found
            if self.complete:
                from toolkit import index

                index.write_index(self, found, owners)
        return self._commands

    def services(self) -> list[ServiceSpec]:
        """Return every service every plugin offers, refusing duplicate names."""
        if self._services is None:
            seen: dict[str, str] = {}
            services: list[ServiceSpec] = []
            for plugin_name, specs in self._call_per_plugin("toolkit_services"):
                for spec in specs:
                    if spec.name in seen:
                        raise Conflict(
                            f"plugins {seen[spec.name]!r} and {plugin_name!r} both offer the service {spec.name!r}",
                            hint=f"disable one with TOOLKIT_DISABLE_PLUGINS={plugin_name}",
                        )
                    seen[spec.name] = plugin_name
                    services.append(spec)
                    if plugin_name in self.infos:
                        self.infos[plugin_name].services.append(spec.name)
            self._services = services
        return self._services

    def mcp_tools(self) -> list[McpTool]:
        """Return every tool every plugin offers to agents, refusing duplicate names."""
        if self._tools is None:
            owners: dict[str, str] = {}
            tools: list[McpTool] = []
            for plugin_name, offered in self._call_per_plugin("toolkit_mcp_tools"):
                for tool in offered:
                    if tool.name in owners:
                        raise Conflict(
                            f"plugins {owners[tool.name]!r} and {plugin_name!r} both offer the MCP tool {tool.name!r}",
                            hint=f"disable one with TOOLKIT_DISABLE_PLUGINS={plugin_name}",
                        )
                    owners[tool.name] = plugin_name
                    tools.append(tool)
            self._tools = tools
        return self._tools


def _toolkit_entry_points() -> list[EntryPoint]:
    from importlib.metadata import entry_points

    # Several copies of one distribution on sys.path yield duplicates; keep the first.
    seen: set[str] = set()
    out: list[EntryPoint] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in seen:
            seen.add(ep.name)
            out.append(ep)
    return out


_PLUGINS: ToolkitPlugins | None = None


def get_plugins() -> ToolkitPlugins:
    """Return the process-wide plugins, built on first use."""
    global _PLUGINS
    if _PLUGINS is None:
        _PLUGINS = ToolkitPlugins()
    return _PLUGINS


def plugins_overridden() -> bool:
    """Return True when the process-wide plugins were already built or set (tests, embedders)."""
    return _PLUGINS is not None


def reset_plugins(plugins: ToolkitPlugins | None = None) -> None:
    """Forget (or replace) the process-wide plugins; tests use it to isolate themselves."""
    global _PLUGINS
    _PLUGINS = plugins


def iter_services() -> list[ServiceSpec]:
    """Return the services every installed plugin offers."""
    return list(get_plugins().services())
