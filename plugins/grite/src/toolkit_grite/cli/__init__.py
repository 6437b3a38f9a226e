"""Console entry point for `grite` and the group the toolkit host mounts.

`main` first tries the fast path (`toolkit_grite.cli.fast`): the everyday issue commands go to
the repository's daemon as core calls before click, pygit2 or LMDB are imported. Every other
command line runs `standalone_main(grite)`, exactly what `toolkit grite ...` runs, except that
its core calls still go to the daemon when one serves the repository (`cli.base.call`), unless
`--no-daemon`/`GRITE_NO_DAEMON=1`.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: this module must not import typing (startup cost)
if TYPE_CHECKING:
    from typing import Any

__all__ = ["grite", "main"]


def __getattr__(name: str) -> Any:
    if name == "grite":
        from toolkit_grite.cli.commands import grite

        return grite
    raise AttributeError(name)


def main() -> None:
    """Run `grite ...` (through the daemon when possible)."""
    from toolkit_grite.cli import fast

    code = fast.run(sys.argv[1:])
    if code is not None:
        _exit_now(code)
    from toolkit.cliutil import standalone_main
    from toolkit_grite.cli import base
    from toolkit_grite.cli.commands import grite

    base.ROUTE_THROUGH_DAEMON = os.environ.get("GRITE_NO_DAEMON", "") in ("", "0")

    standalone_main(grite)()


def _exit_now(code: int) -> None:
    """Exit after a forwarded command without the interpreter's teardown.

    Nothing in the fast path needs finalizers (the daemon connection is closed already), and
    the interpreter's teardown is a measurable part of a forwarded `issue create`. If the output
    cannot be flushed (a closed pipe), exit the ordinary way so Python reports it as usual.
    """
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        raise SystemExit(code) from None
    os._exit(code)
