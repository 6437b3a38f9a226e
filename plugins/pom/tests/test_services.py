from __future__ import annotations

import asyncio
import socket
import sys
import time
import types
from pathlib import Path
from typing import Any

import pytest

from toolkit import Readiness, ServiceSpec, hookimpl
from toolkit_pom.core.config import load_config
from toolkit_pom.core.supervisor import Supervisor
from toolkit_pom.errors import PomConfigError
from toolkit_pom.testing import write_project


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def service_plugin(port: int) -> types.ModuleType:
    """A real plugin module offering one service: a TCP echo server on `port`."""
    module = types.ModuleType("echo_service_plugin")
    server = (
        "import socketserver,sys\n"
        "class H(socketserver.StreamRequestHandler):\n"
        "    def handle(self): self.wfile.write(self.rfile.readline())\n"
        f"s = socketserver.TCPServer(('127.0.0.1', {port}), H)\n"
        "print('echo serving', flush=True)\n"
        "s.serve_forever()\n"
    )

    @hookimpl
    def toolkit_services() -> list[ServiceSpec]:
        return [
            ServiceSpec(
                name="echo",
                argv=(sys.executable, "-c", server),
                description="an echo server for tests",
                default_address=f"127.0.0.1:{port}",
                readiness=Readiness(kind="tcp", target=f"127.0.0.1:{port}"),
                env=(("ECHO_MODE", "test"),),
            )
        ]

    module.toolkit_services = toolkit_services  # type: ignore[attr-defined]
    return module


@pytest.mark.asyncio
async def test_service_from_a_plugin_runs_with_its_readiness(tmp_path: Path, plugin_manager: Any) -> None:
    port = free_port()
    plugin_manager(service_plugin(port))
    config = load_config(
        write_project(
            tmp_path,
            """
            [processes.echo]
            service = "echo"
            [processes.client]
            command = "echo client saw $ECHO_MODE"
            depends_on = { echo = "healthy" }
            """,
        )
    )
    spec = config.processes["echo"]
    assert spec.service == "echo"
    assert spec.readiness is not None
    assert spec.readiness.kind == "tcp"
    assert spec.env["ECHO_MODE"] == "test"
    sup = Supervisor(config)
    try:
        sup.begin()
        deadline = time.monotonic() + 30
        while sup.instances["client"].state != "exited":
            assert time.monotonic() < deadline, sup.processes()
            await asyncio.sleep(0.05)
        assert sup.instances["echo"].state == "ready"
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"ping\n")
        assert await reader.readline() == b"ping\n"
        writer.close()
        await writer.wait_closed()
    finally:
        await sup.close()


def test_unknown_service_lists_available(tmp_path: Path, plugin_manager: Any) -> None:
    plugin_manager(service_plugin(free_port()))
    path = write_project(tmp_path, '[processes.x]\nservice = "graveyard"\n')
    with pytest.raises(PomConfigError) as info:
        load_config(path)
    assert info.value.hint == "available services: echo"


def test_service_program_resolves_beside_the_interpreter(
    tmp_path: Path, plugin_manager: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A service whose argv starts with `toolkit` runs from pom's venv even when that venv is not on PATH."""
    module = types.ModuleType("bare_name_plugin")

    @hookimpl
    def toolkit_services() -> list[ServiceSpec]:
        return [
            ServiceSpec(
                name="bare",
                argv=("toolkit", "plugins"),
                description="a service named by a bare program name",
                default_address="-",
                readiness=Readiness(kind="log", target="."),
            )
        ]

    module.toolkit_services = toolkit_services  # type: ignore[attr-defined]
    plugin_manager(module)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    config = load_config(write_project(tmp_path, '[processes.x]\nservice = "bare"\n'))
    argv = config.processes["x"].argv
    assert argv[0] == str(Path(sys.executable).parent / "toolkit")
    assert argv[1:] == ("plugins",)


@pytest.mark.asyncio
async def test_log_readiness_sees_a_line_printed_at_once(tmp_path: Path) -> None:
    """A child that prints its ready line immediately is never missed by the log probe."""
    config = load_config(
        write_project(
            tmp_path,
            """
            [processes.quick]
            command = "echo up-and-listening; exec sleep 60"
            readiness = { log = "listening", period = 0.05 }
            replicas = 20
            """,
        )
    )
    sup = Supervisor(config)
    try:
        sup.begin()
        deadline = time.monotonic() + 60
        while not all(inst.state == "ready" for inst in sup.instances.values()):
            assert time.monotonic() < deadline, {n: i.state for n, i in sup.instances.items()}
            await asyncio.sleep(0.05)
    finally:
        await sup.close()
