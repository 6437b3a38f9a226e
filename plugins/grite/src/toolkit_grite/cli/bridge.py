"""`grite bridge git-bug import|export`: adapters over `toolkit_grite.core.bridge_gitbug`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from toolkit_grite.cli.base import GriteGroup, common_options, get_grite, output

__all__ = ["register"]


def _direction(group: click.Group, name: str, help_text: str, human: Callable[[dict[str, Any]], str]) -> None:
    @group.command(name, help=help_text)
    @click.option("--repo", "where", default=".", show_default=True, help="Repository holding the git-bug data.")
    @click.option("--git-bug", "binary", metavar="PATH", help="The git-bug executable (default: git-bug on PATH).")
    @common_options
    def command(where: str, binary: str | None) -> None:
        from toolkit_grite.core import bridge_gitbug

        run = bridge_gitbug.import_bugs if name == "import" else bridge_gitbug.export_issues
        output(run(get_grite(), Path(where), binary), human)


def register(group: click.Group) -> None:
    """Add the `bridge` group."""

    @group.group("bridge", cls=GriteGroup)
    @common_options
    def bridge() -> None:
        """Exchange issues with other trackers."""

    @bridge.group("git-bug", cls=GriteGroup)
    @common_options
    def git_bug() -> None:
        """git-bug (v0.10) repositories, through the git-bug command."""

    _direction(
        git_bug,
        "import",
        "Import (or update) every git-bug bug as a grite issue.",
        lambda d: f"imported {d['bugs']} bugs ({d['events']} new events)",
    )
    _direction(
        git_bug,
        "export",
        "Create or update a git-bug bug for every grite issue that did not come from git-bug.",
        lambda d: f"exported: {d['created']} created, {d['updated']} updated",
    )
