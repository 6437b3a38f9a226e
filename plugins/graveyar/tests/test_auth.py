"""Users and Basic authentication (`graveyar serve --auth`): KurrentDB's admin:changeit by default."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import grpc
import pytest

from toolkit_graveyar.client import GraveyarClient, new_event
from toolkit_graveyar.core.errors import Unauthenticated
from toolkit_graveyar.core.users import UserDirectory


def test_the_default_admin_and_nobody_else() -> None:
    users = UserDirectory()
    assert users.authenticate("admin", "changeit").is_admin
    for login, password in (("admin", "changeme"), ("root", "changeit"), ("admin", "")):
        with pytest.raises(Unauthenticated, match="bad username or password"):
            users.authenticate(login, password)
    encoded = base64.b64encode(b"admin:changeit").decode()
    assert users.authenticate_header(f"Basic {encoded}").login == "admin"
    assert users.authenticate_header(f"BASIC {encoded}").login == "admin"  # the scheme is case-insensitive
    for bad in (None, "", "Bearer abc", "Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode()):
        with pytest.raises(Unauthenticated):
            users.authenticate_header(bad)


def test_another_admin_password_replaces_the_default() -> None:
    users = UserDirectory("s3cret")
    assert users.authenticate("admin", "s3cret").login == "admin"
    with pytest.raises(Unauthenticated):
        users.authenticate("admin", "changeit")


def test_every_service_needs_credentials_when_auth_is_on(make_server: Any, tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    srv = make_server(tls_cert=cert, tls_key=key, admin_password="changeit")
    with GraveyarClient(srv.address, tls_ca=cert, user="admin", password="changeit") as c:
        assert c.append("s", [new_event("T")]).version == 1
        assert [e.version for e in c.read("s")] == [1]
    for user, password in ((None, None), ("admin", "wrong"), ("eve", "changeit")):
        with (
            GraveyarClient(srv.address, tls_ca=cert, retries=0, user=user, password=password) as c,
            pytest.raises(Unauthenticated),
        ):
            c.append("s", [new_event("T")])
    # graveyar_db's service and KurrentDB's too; health stays open for probes.
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from toolkit_graveyar._proto import eventstore_pb2 as es
    from toolkit_graveyar._proto import eventstore_pb2_grpc as es_grpc

    channel_creds = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
    with grpc.secure_channel(srv.address, channel_creds) as channel:
        with pytest.raises(grpc.RpcError) as err:
            es_grpc.EventStoreStub(channel).GetSchema(es.GetSchemaRequest(name="x"), timeout=30)  # type: ignore[no-untyped-call]
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=30)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
    # Nothing was written by the refused calls.
    with GraveyarClient(srv.address, tls_ca=cert, user="admin", password="changeit") as c:
        assert c.stream_info("s").version == 1


def test_the_token_still_works_beside_users(make_server: Any) -> None:
    srv = make_server(token="t0k", admin_password="pw")
    with GraveyarClient(srv.address, token="t0k") as c:
        assert c.append("s", [new_event("T")]).version == 1
    with GraveyarClient(srv.address, user="admin", password="pw") as c:
        assert c.append("s", [new_event("T")]).version == 2
    with GraveyarClient(srv.address, token="nope", retries=0) as c, pytest.raises(Unauthenticated):
        c.append("s", [new_event("T")])


def test_cli_user_options_and_serve_validation(cli: Any, proc_server: Any, tmp_path: Path) -> None:
    r = cli("graveyar", "serve", "--data-dir", str(tmp_path / "d0"), "--admin-password", "x", "--bind", "127.0.0.1:0")
    assert r.exit_code == 2
    assert "--auth" in r.stderr
    srv = proc_server("--data-dir", str(tmp_path / "d1"), "--bind", "127.0.0.1:0", "--auth")
    ok = cli("graveyar", "--server", srv.address, "--user", "admin", "--password", "changeit", "--json",
             "append", "x", "--type", "T")  # fmt: skip
    assert ok.assert_success().json()["version"] == 1
    refused = cli("graveyar", "--server", srv.address, "--json", "append", "x", "--type", "T")
    assert refused.exit_code != 0
    assert "authentication required" in refused.stderr
