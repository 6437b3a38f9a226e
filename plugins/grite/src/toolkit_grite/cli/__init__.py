"""Console entry point for `grite` and the group the toolkit host mounts.

`main` first forwards the command line to the repository's daemon (`toolkit_grite.daemon.client`),
which spares the short-lived process the import of click, pygit2 and LMDB; when there is no
daemon (or `--no-daemon`/`GRITE_NO_DAEMON=1`), it runs `standalone_main(grite)`, exactly
what `toolkit grite ...` runs.
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
    from toolkit_grite.daemon.client import route

    code = route(sys.argv[1:])
    if code is not None:
        _exit_now(code)
    from toolkit.cliutil import standalone_main
    from toolkit_grite.cli.commands import grite

    standalone_main(grite)()


def _exit_now(code: int) -> None:
    """Exit after a forwarded command without the interpreter's teardown.

    Nothing in the forwarding path needs finalizers (the IPC connection is closed already),
    and tearing down the modules the kernel client imported (typing via cbor2, pathlib,
    hashlib) measured ~5 ms, about an eighth of a forwarded `issue create`. If the output
    cannot be flushed (a closed pipe), exit the ordinary way so Python reports it as usual.
    """
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        raise SystemExit(code) from None
    os._exit(code)
