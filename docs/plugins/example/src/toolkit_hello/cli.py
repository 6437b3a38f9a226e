"""The `hello` command group: follows toolkit's output and error conventions."""

from __future__ import annotations

import socketserver

import click

from toolkit.cliutil import ToolkitGroup, emit, json_option, standalone_main
from toolkit_kernel.errors import UsageError


@click.group(cls=ToolkitGroup)
@json_option
def hello() -> None:
    """Say hello, the toolkit way."""


@hello.command()
@click.argument("name")
@json_option
def greet(name: str) -> None:
    """Greet NAME (`--json` for scripts)."""
    if not name.strip():
        raise UsageError("NAME must not be blank", hint="pass a name, e.g. `toolkit hello greet ada`")
    emit({"greeting": f"hello, {name}"}, lambda data: data["greeting"])


class _Hello(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        self.wfile.write(b"hello\n")


@hello.command()
@click.option("--port", default=8765, show_default=True, help="TCP port on 127.0.0.1.")
def serve(port: int) -> None:
    """Answer 'hello' to every TCP connection on 127.0.0.1:PORT until interrupted."""
    with socketserver.TCPServer(("127.0.0.1", port), _Hello) as server:
        server.serve_forever()


main = standalone_main(hello)
