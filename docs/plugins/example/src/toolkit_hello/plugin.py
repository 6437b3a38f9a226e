"""The only hookimpl module: cheap to import, so `toolkit --help` stays fast."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from toolkit import Readiness, ServiceSpec, hookimpl

if TYPE_CHECKING:
    import click


@hookimpl
def toolkit_commands() -> Sequence[click.Command]:
    """Offer the `hello` group."""
    from toolkit_hello.cli import hello

    return [hello]


@hookimpl
def toolkit_services() -> Sequence[ServiceSpec]:
    """Offer `hello serve` as a service a supervisor can run."""
    return [
        ServiceSpec(
            name="hello",
            argv=("toolkit", "hello", "serve", "--port", "8765"),
            description="answers 'hello' on a TCP port",
            default_address="127.0.0.1:8765",
            readiness=Readiness(kind="tcp", target="127.0.0.1:8765"),
        )
    ]
