"""`core.lazyssl`: asyncio imported without ssl, then made whole, in fresh interpreters."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
from toolkit_pom.core.lazyssl import asyncio_ssl, import_asyncio

import_asyncio()
import asyncio

assert "ssl" not in sys.modules, "ssl was imported"
binders = sorted(n for n, m in sys.modules.items() if n.startswith("asyncio.") and hasattr(m, "ssl"))
assert all(getattr(sys.modules[n], "ssl") is None for n in binders), binders

async def echo() -> bytes:  # plain sockets work without ssl
    server = await asyncio.start_server(lambda r, w: (w.write(b"hi"), w.close()), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = await reader.read()
    writer.close()
    server.close()
    return data

assert asyncio.run(echo()) == b"hi"
ssl = asyncio_ssl()
assert ssl is sys.modules["ssl"]
# Every asyncio module that binds `ssl` now has it, as after a normal import.
assert all(getattr(sys.modules[n], "ssl") is ssl for n in binders), binders
assert sys.modules["asyncio.sslproto"].SSLAgainErrors == (ssl.SSLWantReadError, ssl.SSLSyscallError)
assert asyncio_ssl() is ssl
print("ok", len(binders))
"""


def _python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_asyncio_without_ssl_then_whole() -> None:
    out = _python(SCRIPT)
    assert out.startswith("ok ")
    assert int(out.split()[1]) >= 3  # base_events, selector_events, sslproto


def test_nothing_changes_when_asyncio_or_ssl_came_first() -> None:
    code = (
        "import sys, {first}\n"
        "from toolkit_pom.core.lazyssl import import_asyncio\n"
        "import_asyncio()\n"
        "import asyncio.base_events as b\n"
        "assert b.ssl is sys.modules['ssl'], b.ssl\n"
        "print('ok')\n"
    )
    for first in ("ssl", "asyncio"):
        assert _python(code.format(first=first)) == "ok\n"
