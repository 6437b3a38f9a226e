"""asyncio without `ssl` until a TLS connection needs it.

Importing `ssl` loads and initialises OpenSSL: ~10 ms of CPU, a tenth of what a headless
`pom up` spends before it serves, on a machine its just-started processes need too. asyncio
imports it eagerly (`base_events`, `selector_events`, `sslproto`), yet on plain sockets only
asks whether a socket is an `SSLSocket`. pom's only TLS use is an https readiness or liveness
probe (`core.probes`).

`import_asyncio()` imports asyncio while `ssl` is hidden, so asyncio's modules hold `ssl = None`
exactly as on a Python built without it; `asyncio_ssl()` imports `ssl` and hands it to those
modules before the first TLS connection. After it, asyncio is as if imported normally.
"""

from __future__ import annotations

import sys
from types import ModuleType

__all__ = ["asyncio_ssl", "import_asyncio"]

#: asyncio's modules that bind `ssl` (None when it did not import) at import time (3.11-3.13).
_BINDERS = ("asyncio.base_events", "asyncio.selector_events", "asyncio.sslproto")


def import_asyncio() -> None:
    """Import asyncio without `ssl` (nothing happens when either is imported already)."""
    if "asyncio" in sys.modules or "ssl" in sys.modules:
        return
    sys.modules["ssl"] = None  # type: ignore[assignment]  # `import ssl` raises ImportError meanwhile
    try:
        import asyncio  # noqa: F401
    finally:
        if "ssl" in sys.modules and sys.modules["ssl"] is None:
            del sys.modules["ssl"]


def asyncio_ssl() -> ModuleType:
    """Return the `ssl` module, first handing it to asyncio if `import_asyncio` left it out."""
    import ssl

    for name in _BINDERS:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "ssl", ssl) is None:
            module.ssl = ssl  # type: ignore[attr-defined]
    sslproto = sys.modules.get("asyncio.sslproto")
    if sslproto is not None and not hasattr(sslproto, "SSLAgainErrors"):
        # sslproto defines this only `if ssl is not None` at import time.
        sslproto.SSLAgainErrors = (ssl.SSLWantReadError, ssl.SSLSyscallError)  # type: ignore[attr-defined]
    return ssl
