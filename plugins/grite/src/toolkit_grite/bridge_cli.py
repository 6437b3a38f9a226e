"""`grite bridge git-bug import`: an adapter over `toolkit_grite.bridge_gitbug`."""

from __future__ import annotations

from pathlib import Path

import click

from toolkit_grite.clibase import GriteGroup, common_options, get_grite, output

__all__ = ["register"]


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

    @git_bug.command("import")
    @click.option("--repo", "source", default=".", show_default=True, help="Repository holding the git-bug data.")
    @click.option("--git-bug", "binary", metavar="PATH", help="The git-bug executable (default: git-bug on PATH).")
    @common_options
    def import_cmd(source: str, binary: str | None) -> None:
        """Import (or update) every git-bug bug as a grite issue."""
        from toolkit_grite.bridge_gitbug import import_bugs

        data = import_bugs(get_grite(), Path(source), binary)
        output(data, lambda d: f"imported {d['bugs']} bugs ({d['events']} new events)")

    _export(git_bug)


def _export(git_bug: click.Group) -> None:
    @git_bug.command("export")
    @click.option("--repo", "target", default=".", show_default=True, help="Repository receiving the git-bug data.")
    @click.option("--git-bug", "binary", metavar="PATH", help="The git-bug executable (default: git-bug on PATH).")
    @common_options
    def export_cmd(target: str, binary: str | None) -> None:
        """Create or update a git-bug bug for every grite issue that did not come from git-bug."""
        from toolkit_grite.bridge_gitbug import export_issues

        data = export_issues(get_grite(), Path(target), binary)
        output(data, lambda d: f"exported: {d['created']} created, {d['updated']} updated")
