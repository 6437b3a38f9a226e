"""Fixtures: a real PostgreSQL server (initdb in a temp dir), stores of both backends, servers.

PostgreSQL tests never skip: if the server cannot start, they fail with initdb's/postgres's log.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

ROOT = Path(__file__).resolve().parents[3]
_counter = itertools.count()


def _load_pg_helper() -> Any:
    path = ROOT / "tools" / "pg_test_server.py"
    spec = importlib.util.spec_from_file_location("graveyar_pg_test_server", path)
    assert spec is not None, f"missing {path}"
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def pg_helper() -> Any:
    """tools/pg_test_server.py, for tests that need a PostgreSQL server of their own."""
    return _load_pg_helper()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    helper = _load_pg_helper()
    try:
        server = helper.start_server(fsync=False)
    except (RuntimeError, OSError) as exc:
        pytest.fail(f"PostgreSQL could not start (run tools/pg_test_server.py --ensure): {exc}")
    yield server
    server.stop()


@pytest.fixture
def pg_dsn(pg_server: Any) -> str:
    """A fresh database per test."""
    import psycopg

    name = f"gy_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return str(pg_server.dsn_for(name))


@pytest.fixture(params=["lmdb", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def open_store(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    if backend == "lmdb":
        from toolkit_graveyar.storage.lmdb_store import LmdbStore

        return await LmdbStore.open(tmp_path / "data")
    from toolkit_graveyar.storage.pg_store import PgStore

    dsn = request.getfixturevalue("pg_dsn")
    return await PgStore.open(dsn, poll_interval=0.5)


@pytest.fixture
def store_opener(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    """A function opening (again) the same store of this test's backend."""
    if backend == "postgres":
        request.getfixturevalue("pg_dsn")

    async def opener() -> Any:
        return await open_store(backend, tmp_path, request)

    return opener


@pytest_asyncio.fixture
async def store(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    s = await open_store(backend, tmp_path, request)
    yield s
    await s.close()


@pytest_asyncio.fixture
async def service(store: Any) -> AsyncIterator[Any]:
    from toolkit_graveyar.core.service import EventStoreService

    svc = EventStoreService(store, poll_interval=0.5)
    yield svc
    svc.shutdown()


class ThreadServer:
    """A graveyar server on its own event loop in a background thread (so sync clients can call it)."""

    def __init__(self, make_store: Any, **config: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.running: Any = None
        self.make_store = make_store
        self.config = config
        self.service: Any = None

    def start(self) -> ThreadServer:
        from toolkit_graveyar.core.service import EventStoreService
        from toolkit_graveyar.core.validation import Limits
        from toolkit_graveyar.grpc.server import ServerConfig, build_server

        limits = self.config.pop("limits", Limits())
        hard = self.config.pop("schema_hard_fail", False)

        async def go() -> Any:
            store = await self.make_store()
            self.service = EventStoreService(store, limits=limits, schema_hard_fail=hard, poll_interval=0.5)
            bind = self.config.pop("bind", "127.0.0.1:0")
            cfg = ServerConfig(bind=bind, limits=limits, schema_hard_fail=hard, **self.config)
            return await build_server(self.service, cfg)

        self.running = asyncio.run_coroutine_threadsafe(go(), self.loop).result(30)
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.running.port}"

    def run(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self, grace: float = 2.0) -> None:
        if self.running is not None:
            self.run(self.running.stop(grace))
            self.running = None
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Any]:
    servers: list[ThreadServer] = []

    def make(make_store: Any = None, **config: Any) -> ThreadServer:
        if make_store is None:
            from toolkit_graveyar.storage.lmdb_store import LmdbStore

            def make_store() -> Any:
                return LmdbStore.open(tmp_path / f"data{len(servers)}")

        srv = ThreadServer(make_store, **config).start()
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.stop()


@pytest.fixture
def server(make_server: Any) -> Any:
    return make_server()


class ProcServer:
    """`graveyar serve` in a subprocess (for CLI, SIGKILL and restart tests)."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.args = args
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[str] | None = None
        self.address = ""

    def start(self, timeout: float = 30.0) -> ProcServer:
        cmd = [sys.executable, "-c", "from toolkit_graveyar.cli import main; main()", "serve", *self.args]
        with self.log_path.open("a") as log:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=self.env)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = re.search(r"listening on grpcs?://([\d.]+:\d+)", line)
            if m:
                self.address = m.group(1)
                return self
        self.kill()
        raise RuntimeError(f"server did not start: {line!r} {self.log_path.read_text()}")

    def _reap(self) -> int:
        assert self.proc is not None
        code = self.proc.wait(30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return code

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            if self.proc.poll() is None:
                self.proc.kill()
            self._reap()

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.terminate()
        return self._reap()


@pytest.fixture(scope="session")
def proc_server_class() -> type[ProcServer]:
    """The subprocess server class, for fixtures wider than one test."""
    return ProcServer


@pytest.fixture
def proc_server(tmp_path: Path) -> Iterator[Any]:
    procs: list[ProcServer] = []

    def make(*args: str, env: dict[str, str] | None = None) -> ProcServer:
        full_env = {**os.environ, **(env or {})}
        p = ProcServer(list(args), full_env, tmp_path / f"server{len(procs)}.log").start()
        procs.append(p)
        return p

    yield make
    for p in procs:
        p.kill()


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key (made by the openssl CLI)."""
    import shutil

    # Never a skip: a TLS test that does not run proves nothing. ensure-system-deps installs openssl.
    assert shutil.which("openssl"), "the openssl CLI is needed: run `bash tools/ci/ensure-system-deps.sh`"
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key
