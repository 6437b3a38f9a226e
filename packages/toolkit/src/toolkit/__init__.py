"""The toolkit command host: one click command, systems loaded as pluggy plugins.

Plugin authors need only `hookimpl`, `ServiceSpec`, `Readiness` and `McpTool` from here, plus
`toolkit.cliutil` for the output and error conventions every command follows.

The names are loaded on first use: a console script that imports `toolkit.cliutil`
must not pay for pluggy (every `--help` would).
"""

from __future__ import annotations

from toolkit_kernel import __version__

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs every command start ~3 ms
if TYPE_CHECKING:
    from typing import Any

    from toolkit.hookspecs import hookimpl
    from toolkit.services import Readiness, ServiceSpec
    from toolkit.tools import McpTool

__all__ = ["McpTool", "Readiness", "ServiceSpec", "__version__", "hookimpl"]


def __getattr__(name: str) -> Any:
    if name == "hookimpl":
        from toolkit.hookspecs import hookimpl

        return hookimpl
    if name == "McpTool":
        from toolkit.tools import McpTool

        return McpTool
    if name in ("Readiness", "ServiceSpec"):
        from toolkit import services

        return getattr(services, name)
    raise AttributeError(f"module 'toolkit' has no attribute {name!r}")
