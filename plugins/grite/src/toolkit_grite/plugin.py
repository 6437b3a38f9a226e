"""grite's toolkit plugin: contributes the `grite` command group (imports nothing heavy)."""

from __future__ import annotations

from typing import Any

from toolkit import hookimpl


@hookimpl
def toolkit_commands() -> list[Any]:
    """Return the `grite` group."""
    from toolkit_grite.cli import grite

    return [grite]
