"""Generate the CLI reference (docs/reference/cli/*.md) from the click commands themselves.

    python tools/gen_cli_docs.py            rewrite the pages
    python tools/gen_cli_docs.py --check    exit 1 (naming the pages) if they drifted

One page for the host's own commands and one per installed plugin. The pages are committed
so the site builds without running anything, and `--check` (in the `docs` nox session and a
test) keeps them equal to what the code says. Output is deterministic: sorted commands, a
fixed terminal width, no environment-dependent defaults.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "reference" / "cli"
WIDTH = 100


def _context(command: click.Command, name: str, parent: click.Context | None) -> click.Context:
    ctx = click.Context(command, info_name=name, parent=parent, terminal_width=WIDTH, max_content_width=WIDTH)
    ctx.resilient_parsing = True
    return ctx


def _options_table(command: click.Command, ctx: click.Context) -> list[str]:
    rows = []
    for param in command.get_params(ctx):
        if isinstance(param, click.Argument):
            continue
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, help_text = record
        cell = " ".join(help_text.split()).replace("|", "\\|")
        rows.append(f"| `{names.replace('|', '&#124;')}` | {cell} |")
    if not rows:
        return []
    return ["| option | meaning |", "|---|---|", *rows, ""]


def _arguments(command: click.Command) -> list[str]:
    args = [p for p in command.params if isinstance(p, click.Argument)]
    if not args:
        return []
    return ["Arguments: " + ", ".join(f"`{a.human_readable_name}`" for a in args), ""]


def _render(
    command: click.Command,
    path: list[str],
    parent: click.Context | None,
    depth: int,
    skip: frozenset[str] = frozenset(),
) -> list[str]:
    ctx = _context(command, path[-1], parent)
    heading = "#" * min(depth, 6)
    lines = [f"{heading} `{' '.join(path)}`", ""]
    help_text = (command.help or command.short_help or "").strip()
    if help_text:
        lines += [inspect.cleandoc(click.unstyle(help_text).split("\f")[0]), ""]
    usage = command.collect_usage_pieces(ctx)
    lines += ["```text", f"Usage: {' '.join(path)} {' '.join(usage)}".rstrip(), "```", ""]
    lines += _arguments(command)
    lines += _options_table(command, ctx)
    if isinstance(command, click.Group):
        for name in sorted(command.list_commands(ctx)):
            sub = command.get_command(ctx, name)
            if sub is None or getattr(sub, "hidden", False) or name in skip:
                continue
            lines += _render(sub, [*path, name], ctx, depth + 1)
    return lines


def pages() -> dict[str, str]:
    """Page file name -> markdown: the host's own commands, then one page per plugin group."""
    os.environ.setdefault("TOOLKIT_STRICT_PLUGINS", "1")
    from toolkit import builtin
    from toolkit.cli import cli
    from toolkit.plugins import get_plugins

    root_ctx = _context(cli, "toolkit", None)
    host_names = {command.name for command in builtin.toolkit_commands()}  # the host's own, built-in plugin
    plugin_names = sorted(name for name in get_plugins().commands() if name not in host_names)
    note = "Generated from the click commands by `tools/gen_cli_docs.py`; a test keeps it current."
    out: dict[str, str] = {}
    for name in plugin_names:
        command = cli.get_command(root_ctx, name)
        assert command is not None
        body = [
            f"# CLI reference: {name}",
            "",
            f"`toolkit {name} ...` and the `{name}` console script are the same command.",
            note,
            "",
        ]
        body += _render(command, ["toolkit", name], root_ctx, 2)
        out[f"{name}.md"] = "\n".join(body).rstrip() + "\n"
    host = ["# CLI reference: toolkit", "", note, ""]
    host += _render(cli, ["toolkit"], None, 1, skip=frozenset(plugin_names))[2:]
    host += ["## Systems", "", *(f"- [`toolkit {name}`]({name}.md)" for name in plugin_names)]
    out["toolkit.md"] = "\n".join(host).rstrip() + "\n"
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if the committed pages differ")
    args = parser.parse_args()
    wanted = pages()
    if args.check:
        stale = [name for name, text in wanted.items() if not (OUT / name).exists() or (OUT / name).read_text() != text]
        extra = sorted(p.name for p in OUT.glob("*.md") if p.name not in wanted) if OUT.exists() else []
        if stale or extra:
            print(
                f"CLI reference out of date: {', '.join(stale + extra)}; run `python tools/gen_cli_docs.py`",
                file=sys.stderr,
            )
            return 1
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    for stale_page in OUT.glob("*.md"):
        if stale_page.name not in wanted:
            stale_page.unlink()
    for name, text in wanted.items():
        (OUT / name).write_text(text)
    print(f"wrote {len(wanted)} pages to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
