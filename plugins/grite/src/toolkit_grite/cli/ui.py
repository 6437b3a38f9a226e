"""`grite tui` and `grite webui`: the interactive front ends (adapters over the core operations)."""

from __future__ import annotations

import click

from toolkit_grite.cli.base import common_options, get_grite

__all__ = ["register"]


def register(group: click.Group) -> None:
    """Add `tui` and `webui`."""

    @group.command("tui")
    @click.argument("query", nargs=-1)
    @common_options
    def tui(query: tuple[str, ...]) -> None:
        """Browse and change issues in the terminal; QUERY as `issue list` (default status:open)."""
        import sys

        from toolkit_grite.errors import InvalidArgs

        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise InvalidArgs("grite tui needs a terminal", hint="use `grite issue list` and friends in scripts")
        from toolkit_grite.tui.app import GriteApp

        GriteApp(get_grite(), query=" ".join(query) or "status:open").run()

    @group.command("webui")
    @click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
    @click.option("--port", type=click.IntRange(0, 65535), default=0, help="TCP port (default: a free one).")
    @click.option(
        "--token-file",
        type=click.Path(dir_okay=False),
        help="File holding the bearer token the API requires (needed off loopback).",
    )
    @common_options
    def webui(host: str, port: int, token_file: str | None) -> None:
        """Serve a web UI for this repository (loopback by default) until interrupted."""
        from toolkit.cliutil import json_mode, write_json
        from toolkit_grite.errors import InvalidArgs
        from toolkit_grite.web.server import serve

        token = None
        if token_file is not None:
            try:
                with open(token_file, encoding="utf-8") as fh:
                    token = fh.read().strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise InvalidArgs(f"cannot read --token-file {token_file}: {exc}") from None

        def ready(url: str) -> None:
            if json_mode():
                write_json({"schema_version": 1, "ok": True, "data": {"url": url, "token": token is not None}})
            else:
                click.echo(f"grite web UI at {url} (ctrl+c to stop)")

        serve(get_grite(), host, port, token=token, ready=ready)
