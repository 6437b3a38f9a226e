"""Readiness and liveness checks: exec, http, tcp, unix socket and log line.

Each `check_*` returns True when the target is healthy right now; none raises for an
unhealthy target. Log probes are not polled here: the process actor scans its own log.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from toolkit_pom.core.config import Probe
from toolkit_pom.core.lazyssl import asyncio_ssl
from toolkit_pom.core.proc import kill_group, spawn, wait_exit

__all__ = ["check"]


async def _exec(command: str, timeout: float, cwd: Path, env: Mapping[str, str]) -> bool:
    try:
        proc, out_r, err_r = spawn(("/bin/sh", "-c", command), cwd=cwd, env=env)
    except OSError:
        return False
    os.close(out_r)
    os.close(err_r)
    try:
        code = await asyncio.wait_for(wait_exit(proc), timeout)
    except TimeoutError:
        kill_group(proc.pid, signal.SIGKILL)
        await wait_exit(proc)
        return False
    finally:
        kill_group(proc.pid, signal.SIGKILL)
    return code == 0


async def _http(url: str, status: int | None, timeout: float) -> bool:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    context = asyncio_ssl().create_default_context() if secure else None  # ssl only for https
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=context), timeout)
    try:
        request = f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUser-Agent: pom-probe\r\nConnection: close\r\n\r\n"
        writer.write(request.encode())
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
    finally:
        writer.close()
        with contextlib.suppress(OSError):  # ssl.SSLError is an OSError
            await writer.wait_closed()
    fields = line.split()
    if len(fields) < 2 or not fields[1].isdigit():
        return False
    code = int(fields[1])
    return code == status if status is not None else 200 <= code < 300


async def _tcp(target: str, timeout: float) -> bool:
    host, _, port = target.rpartition(":")
    _reader, writer = await asyncio.wait_for(asyncio.open_connection(host.strip("[]"), int(port)), timeout)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def _unix(path: str, timeout: float) -> bool:
    _reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(path), timeout)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def check(probe: Probe, *, cwd: Path, env: Mapping[str, str]) -> bool:
    """Run one non-log probe once, honouring its timeout."""
    try:
        if probe.kind == "exec":
            return await _exec(probe.target, probe.timeout, cwd, env)
        if probe.kind == "http":
            return await _http(probe.target, probe.status, probe.timeout)
        if probe.kind == "tcp":
            return await _tcp(probe.target, probe.timeout)
        if probe.kind == "unix":
            return await _unix(probe.target, probe.timeout)
    except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError):  # OSError covers ssl.SSLError
        return False
    return False
