"""Real plugin modules used by the host tests (registered directly, no entry points)."""

from __future__ import annotations

import types

import click

from toolkit import Readiness, ServiceSpec, hookimpl
from toolkit.cliutil import ToolkitGroup, emit, json_option
from toolkit_kernel.errors import Conflict, NotFound


def make_plugin(name: str, command_name: str | None = None, *, service: bool = False) -> types.ModuleType:
    """Build a plugin module offering one group (and optionally one service)."""
    module = types.ModuleType(f"fake_{name}.plugin")

    @click.group(command_name or name, cls=ToolkitGroup)
    @json_option
    def group() -> None:
        """A fake system."""

    @group.command()
    @click.argument("who", default="world")
    @json_option
    def greet(who: str) -> None:
        """Greet someone."""
        emit({"greeting": f"hello {who}"}, lambda d: d["greeting"])

    @group.command()
    @click.argument("what")
    def find(what: str) -> None:
        """Fail the way a lookup fails."""
        raise NotFound(f"no {what} here", hint="try `greet`", details={"what": what})

    @group.command()
    def clash() -> None:
        """Fail with a conflict."""
        raise Conflict("it changed")

    @group.command()
    def interrupted() -> None:
        """Be interrupted the way Ctrl-C does."""
        raise KeyboardInterrupt

    @group.command()
    def crash() -> None:
        """Fail the way a bug does."""
        raise RuntimeError("boom")

    def toolkit_commands() -> list[click.Command]:
        return [group]

    module.toolkit_commands = hookimpl(toolkit_commands)  # type: ignore[attr-defined]
    if service:

        def toolkit_services() -> list[ServiceSpec]:
            return [
                ServiceSpec(
                    name=name,
                    argv=("toolkit", name, "serve"),
                    description=f"{name} server",
                    default_address="127.0.0.1:9999",
                    readiness=Readiness(kind="tcp", target="127.0.0.1:9999"),
                )
            ]

        module.toolkit_services = hookimpl(toolkit_services)  # type: ignore[attr-defined]
    return module


import pytest  # noqa: E402 - the fixture below wraps the builder above


@pytest.fixture(name="make_plugin")
def make_plugin_fixture():
    return make_plugin
