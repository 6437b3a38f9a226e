"""Write docs/reference/cli/*.md: every command's --help, generated from the click commands themselves.

Run: .venv/bin/python tools/gen_cli_reference.py [--check]

`--check` writes nothing and exits 1 when a committed page differs from what the commands say
today (tests/test_docs_site.py runs it, so the reference never drifts from the code).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "reference" / "cli"
WIDTH = 100
NOTE = "Generated from the click commands by `tools/gen_cli_reference.py`; do not edit."


def _walk(
    command: click.Command, path: list[str], parent: click.Context | None, out: list[str], *, deep: bool = True
) -> click.Context:
    """Append `command`'s help, then its subcommands' (depth first, in listing order) when `deep`."""
    from toolkit.cliutil import HELP_OPTIONS

    ctx = click.Context(
        command, info_name=path[-1], parent=parent, terminal_width=WIDTH, max_content_width=WIDTH,
        help_option_names=HELP_OPTIONS,
    )  # fmt: skip
    heading = "#" * min(len(path) + 1, 6)
    out += [f"{heading} `{' '.join(path)}`", "", "```text", command.get_help(ctx), "```", ""]
    if deep and isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                _walk(sub, [*path, name], ctx, out)
    return ctx


def pages() -> dict[str, str]:
    """Return {file name: markdown}: one page for the host's commands, one per installed system."""
    from toolkit import builtin
    from toolkit.cli import cli
    from toolkit.plugins import get_plugins

    commands = get_plugins().commands()
    host_names = {command.name for command in builtin.toolkit_commands()}
    host = ["# toolkit", "", NOTE, "Each system's commands have their own page.", ""]
    root = _walk(cli, ["toolkit"], None, host, deep=False)
    for name in sorted(host_names):
        _walk(commands[name], ["toolkit", name], root, host)
    result = {"toolkit.md": "\n".join(host)}
    for name, command in sorted(commands.items()):
        if name not in host_names:
            body = [f"# {name}", "", f"`{name} ...` and `toolkit {name} ...` are the same command. {NOTE}", ""]
            _walk(command, [name], None, body)
            result[f"{name}.md"] = "\n".join(body)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="Exit 1 if a committed page is out of date.")
    args = parser.parse_args()
    wanted = pages()
    stale = [name for name, text in wanted.items() if not (OUT / name).exists() or (OUT / name).read_text() != text]
    extra = [p.name for p in OUT.glob("*.md") if p.name not in wanted]
    if args.check:
        for name in stale + extra:
            print(f"out of date: docs/reference/cli/{name} (run tools/gen_cli_reference.py)", file=sys.stderr)
        return 1 if stale or extra else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in wanted.items():
        (OUT / name).write_text(text)
    for name in extra:
        (OUT / name).unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
