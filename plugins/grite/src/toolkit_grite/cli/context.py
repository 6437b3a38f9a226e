"""`grite context index|show|query|project|set` and `grite install-skill`: adapters over core calls."""

from __future__ import annotations

import os

import click

from toolkit_grite.cli.base import GriteGroup, call, common_options, emit_call, output

__all__ = ["register", "register_skill"]


def register(group: click.Group) -> None:
    """Add the `context` group."""

    @group.group("context", cls=GriteGroup)
    @common_options
    def context() -> None:
        """File and project context shared through the WAL (grite 0.5.3's context store)."""

    @context.command("index")
    @click.option("--path", "paths", multiple=True, help="Index only these tracked paths (default: all tracked files).")
    @click.option("--force", is_flag=True, help="Re-index files whose content hash is unchanged.")
    @click.option("--pattern", help="Index only files matching this glob (`*` crosses `/`).")
    @common_options
    def index(paths: tuple[str, ...], force: bool, pattern: str | None) -> None:
        """Extract symbols (tree-sitter) from tracked files into the context store."""
        from toolkit_grite.core.symbols import scan

        def recorded(candidates: list[str]) -> dict[str, str]:
            hashes: dict[str, str] = call("context.hashes", paths=candidates)[0]["hashes"]
            return hashes

        # Files are read here, in the caller's directory; only the extracted contexts are recorded.
        entries, not_sent, total = scan(os.getcwd(), list(paths), pattern, None if force else recorded)
        data, warnings = call("context.record", files=entries, force=force)
        result = {"indexed": data["indexed"], "skipped": data["skipped"] + not_sent, "total_files": total}
        output(result, lambda d: f"indexed {d['indexed']}, skipped {d['skipped']} of {d['total_files']}", warnings)

    @context.command("show")
    @click.argument("path")
    @common_options
    def show(path: str) -> None:
        """Show a file's indexed context (symbols, summary)."""
        emit_call("context.show", path=path)

    @context.command("query")
    @click.argument("text")
    @common_options
    def query(text: str) -> None:
        """Find symbols whose name starts with TEXT."""
        emit_call("context.query", lambda d: "\n".join(f"{m['symbol']}  {m['path']}" for m in d["matches"]), text=text)

    @context.command("project")
    @click.argument("key", required=False)
    @common_options
    def project(key: str | None) -> None:
        """Show one project context key, or all of them."""
        emit_call("context.project", key=key)

    @context.command("set")
    @click.argument("key")
    @click.argument("value")
    @common_options
    def set_(key: str, value: str) -> None:
        """Set a project context key."""
        emit_call("context.set", lambda d: f"set {d['key']}", key=key, value=value)


def register_skill(group: click.Group) -> None:
    """Add `install-skill`."""

    @group.command("install-skill")
    @click.option("--global", "global_", is_flag=True, help="Install into ~/.claude/skills instead of the repository.")
    @click.option("--force", is_flag=True, help="Overwrite an existing skill file.")
    @common_options
    def install_skill(global_: bool, force: bool) -> None:
        """Write a Claude skill (.claude/skills/grite.md) that teaches agents to use grite."""
        from toolkit_grite.core.repo import discover
        from toolkit_grite.core.skill import install

        output(install(discover(), global_=global_, force=force), lambda d: f"{d['action']} skill at {d['path']}")
