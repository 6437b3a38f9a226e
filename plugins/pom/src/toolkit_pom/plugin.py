"""pom's hook implementations (the only hookimpl module; imports nothing heavy)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from toolkit import hookimpl

if TYPE_CHECKING:
    import click


@hookimpl
def toolkit_commands() -> Sequence[click.Command]:
    """Return the `pom` group."""
    from toolkit_pom.cli import pom

    return [pom]
