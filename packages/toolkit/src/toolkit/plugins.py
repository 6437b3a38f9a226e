"""Finding, loading and asking plugins.

The manager is built on first use, never at import, so `import toolkit` stays free.
Order: hookspecs, then each entry point of the `toolkit` group (skipping the names in
`TOOLKIT_DISABLE_PLUGINS`, and all names not in `TOOLKIT_LOAD_PLUGINS` when that is
set), then `check_pending()`. A plugin that fails to import or to answer a hook is
reported on stderr and skipped; with `TOOLKIT_STRICT_PLUGINS=1` it is an error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from toolkit import hookspecs
from toolkit.hookspecs import PROJECT
from toolkit_kernel.errors import Conflict, ToolkitError

if TYPE_CHECKING:
    import click

    from toolkit.services import ServiceSpec

__all__ = [
    "BrokenPlugin",
    "PluginError",
    "PluginInfo",
    "ToolkitPlugins",
    "get_plugins",
    "iter_services",
    "reset_plugins",
]

ENTRY_POINT_GROUP = PROJECT
#: Names the host's own commands use; a plugin may not take them.
RESERVED_COMMANDS = frozenset({"plugins", "services", "completion"})


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


def _env_names(var: str) -> set[str] | None:
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
    """

    def __init__(self, modules: Sequence[ModuleType] = (), *, load_entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.broken: list[BrokenPlugin] = []
        self._commands: dict[str, click.Command] | None = None
        self._services: list[ServiceSpec] | None = None
        blocked = _env_names("TOOLKIT_DISABLE_PLUGINS") or set()
        for name in blocked:
            self.pm.set_blocked(name)
        if load_entry_points:
            self._load_entry_points(blocked, _env_names("TOOLKIT_LOAD_PLUGINS"))
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
        print(f"warning: plugin {name!r} skipped: {message}", file=sys.stderr)

    def _load_entry_points(self, blocked: set[str], allow: set[str] | None) -> None:
        for ep in _toolkit_entry_points():
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
        """Call a hook plugin by plugin, so one failing plugin is attributed and skipped."""
        for name, plugin in list(self.pm.list_name_plugin()):
            impl = getattr(plugin, hook_name, None)
            if impl is None:
                continue
            try:
                result = impl()
            except Exception as exc:
                self._report(name, exc)
                self.pm.unregister(plugin)
                self.infos.pop(name, None)
                continue
            yield name, list(result or ())

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
                    if name in RESERVED_COMMANDS or name in found:
                        other = owners.get(name, "the toolkit host")
                        raise Conflict(
                            f"plugin {plugin_name!r} and {other} both provide the command {name!r}",
                            hint=f"uninstall one of them, or disable it with TOOLKIT_DISABLE_PLUGINS={plugin_name}",
                            details={"command": name, "plugins": [plugin_name, other]},
                        )
                    add_version_option(command, name)  # `toolkit grite --version` as `grite --version`
                    found[name] = command
                    owners[name] = plugin_name
                    if plugin_name in self.infos:
                        self.infos[plugin_name].commands.append(name)
            self._commands = found
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


def _toolkit_entry_points() -> list[EntryPoint]:
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


def reset_plugins(plugins: ToolkitPlugins | None = None) -> None:
    """Forget (or replace) the process-wide plugins; tests use it to isolate themselves."""
    global _PLUGINS
    _PLUGINS = plugins


def iter_services() -> list[ServiceSpec]:
    """Return the services every installed plugin offers."""
    return list(get_plugins().services())
