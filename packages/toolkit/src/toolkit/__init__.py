"""The toolkit command host: one click command, systems loaded as pluggy plugins.

Plugin authors need only `hookimpl`, `ServiceSpec` and `Readiness` from here, plus
`toolkit.cliutil` for the output and error conventions every command follows.
"""

from __future__ import annotations

from toolkit.hookspecs import hookimpl
from toolkit.services import Readiness, ServiceSpec

__all__ = ["Readiness", "ServiceSpec", "__version__", "hookimpl"]

from toolkit_kernel import __version__  # one version for every toolkit distribution
