"""Fixtures of the graveyar interop tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kurrentdbclient import KurrentDBClient


@pytest.fixture
def client(backend: str, proc_server: Any, tmp_path: Any, request: pytest.FixtureRequest) -> Iterator[KurrentDBClient]:
    if backend == "lmdb":
        srv = proc_server("--data-dir", str(tmp_path / "data"), "--bind", "127.0.0.1:0")
    else:
        dsn = request.getfixturevalue("pg_dsn")
        srv = proc_server("--backend", "postgres", "--dsn", dsn, "--bind", "127.0.0.1:0")
    c = KurrentDBClient(f"kurrentdb://{srv.address}?Tls=false")
    yield c
    c.close()


@pytest.fixture
def store_args(backend: str, tmp_path: Any, request: pytest.FixtureRequest) -> list[str]:
    """`graveyar serve` arguments of this test's store, the same on every (re)start."""
    if backend == "lmdb":
        return ["--data-dir", str(tmp_path / "data")]
    return ["--backend", "postgres", "--dsn", request.getfixturevalue("pg_dsn")]
