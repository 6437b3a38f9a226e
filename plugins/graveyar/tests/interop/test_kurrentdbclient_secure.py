"""kurrentdbclient over TLS, with and without users, against `graveyar serve --tls-cert/--tls-key [--auth]`.

The insecure configuration (`Tls=false`) is what the rest of the interop suite runs.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from kurrentdbclient import KurrentDBClient, NewEvent, StreamState
from kurrentdbclient.exceptions import KurrentDBClientError, UnauthenticatedError

pytestmark = pytest.mark.interop


@pytest.fixture
def secure_server(proc_server: Any, tmp_path: Path, tls_files: tuple[Path, Path]) -> Any:
    cert, key = tls_files

    def start(*extra: str) -> tuple[str, Path]:
        data = tmp_path / f"data-{uuid.uuid4().hex[:8]}"
        srv = proc_server("--data-dir", str(data), "--bind", "127.0.0.1:0", "--tls-cert", str(cert),
                          "--tls-key", str(key), *extra)  # fmt: skip
        return srv.address, cert

    return start


def _roundtrip(client: KurrentDBClient) -> None:
    s = str(uuid.uuid4())
    client.append_to_stream(s, current_version=StreamState.NO_STREAM, events=[NewEvent(type="A", data=b"{}")])
    assert [e.type for e in client.get_stream(s)] == ["A"]


def test_tls_with_the_default_admin(secure_server: Any) -> None:
    address, cert = secure_server("--auth")
    client = KurrentDBClient(f"kurrentdb://admin:changeit@{address}?Tls=true&TlsCaFile={cert}")
    try:
        _roundtrip(client)
        with client.subscribe_to_all(from_end=False) as sub:
            assert next(iter(sub)).type == "A"
    finally:
        client.close()


# kurrentdbclient never connects over TLS without credentials (it refuses such a URI itself);
# calls without any are refused in tests/test_auth.py.
@pytest.mark.parametrize("userinfo", ["admin:wrong@", "eve:changeit@"])
def test_tls_with_auth_refuses_wrong_or_missing_credentials(secure_server: Any, userinfo: str) -> None:
    address, cert = secure_server("--auth")
    client = KurrentDBClient(f"kurrentdb://{userinfo}{address}?Tls=true&TlsCaFile={cert}")
    try:
        with pytest.raises(UnauthenticatedError):
            client.append_to_stream(str(uuid.uuid4()), current_version=StreamState.ANY,
                                    events=[NewEvent(type="A", data=b"{}")])  # fmt: skip
    finally:
        client.close()


def test_another_admin_password(secure_server: Any) -> None:
    address, cert = secure_server("--auth", "--admin-password", "s3cret")
    # The other way to trust the server: its root certificate passed in (and the esdb:// scheme).
    client = KurrentDBClient(f"esdb://admin:s3cret@{address}?Tls=true", root_certificates=cert.read_text())
    try:
        _roundtrip(client)
    finally:
        client.close()


def test_tls_without_users_ignores_credentials(secure_server: Any) -> None:
    address, cert = secure_server()
    client = KurrentDBClient(f"kurrentdb://admin:changeit@{address}?Tls=true&TlsCaFile={cert}")
    try:
        _roundtrip(client)
    finally:
        client.close()


def test_tls_server_refuses_a_client_that_does_not_trust_it(secure_server: Any) -> None:
    address, _ = secure_server()
    client = KurrentDBClient(f"kurrentdb://admin:changeit@{address}?Tls=true&MaxDiscoverAttempts=1&GossipTimeout=5")
    try:
        with pytest.raises(KurrentDBClientError):
            client.get_stream(str(uuid.uuid4()), timeout=10)
    finally:
        client.close()
