"""`tap POOL -- CMD...`: capture a process's output into a pool."""

from __future__ import annotations

import click

from toolkit_plasmite.cli.ui import binary_stream, dir_option, get_settings
from toolkit_plasmite.core.values import parse_remote_ref
from toolkit_plasmite.errors import UsageError

__all__ = ["tap_command"]


@click.command("tap", context_settings={"ignore_unknown_options": True})
@click.argument("pool")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("--create", is_flag=True, help="Create the pool if it does not exist.")
@click.option("--create-size", help="Size for --create (default 1M).")
@click.option("--tag", "tags", multiple=True, help="Tag for every line message (repeatable).")
@click.option("-q", "--quiet", is_flag=True, help="Do not pass the child's output through.")
@click.option("--durability", type=click.Choice(["fast", "flush"]), default="fast", show_default=True)
@dir_option
def tap_command(
    pool: str,
    command: tuple[str, ...],
    create: bool,
    create_size: str | None,
    tags: tuple[str, ...],
    quiet: bool,
    durability: str,
) -> None:
    """Run COMMAND, recording start, each output line and exit in POOL; exit with its status."""
    from toolkit_plasmite.cli.feed import open_local_pool
    from toolkit_plasmite.core.tap import run_tap

    if parse_remote_ref(pool) is not None:
        raise UsageError("`tap` works on local pools only")
    argv = list(command)
    if argv and argv[0] == "--":
        argv = argv[1:]
    pf = open_local_pool(pool, get_settings(), create, create_size)
    try:
        code = run_tap(
            pf,
            argv,
            tags=tags,
            quiet=quiet,
            flush=durability == "flush",
            stdout_sink=binary_stream("stdout"),
            stderr_sink=binary_stream("stderr"),
        )
    finally:
        pf.close()
    raise click.exceptions.Exit(code)
