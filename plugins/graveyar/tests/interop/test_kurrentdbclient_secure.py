"""kurrentdbclient over TLS, with and without users, against `graveyar serve --tls-cert/--tls-key [--auth]`.

The insecure configuration (`Tls=false`) is what the rest of the interop suite runs.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from kurrentdbclient import KurrentDBClient, NewEvent, StreamState
from kurrentdbclient.exceptions import AccessDeniedError, KurrentDBClientError, UnauthenticatedError

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


def _create_user(address: str, cert: Path, login: str, password: str, groups: tuple[str, ...] = ()) -> None:
    import base64

    import grpc

    from toolkit_graveyar._proto.kurrentdb.v1 import users_pb2 as pb
    from toolkit_graveyar._proto.kurrentdb.v1 import users_pb2_grpc as pb_grpc

    basic = base64.b64encode(b"admin:changeit").decode()
    with grpc.secure_channel(address, grpc.ssl_channel_credentials(cert.read_bytes())) as channel:
        opts = pb.CreateReq.Options(login_name=login, password=password, groups=groups)
        stub = pb_grpc.UsersStub(channel)  # type: ignore[no-untyped-call]
        stub.Create(pb.CreateReq(options=opts), metadata=(("authorization", f"Basic {basic}"),), timeout=30)


def test_stream_acls_from_metadata(secure_server: Any) -> None:
    from toolkit_graveyar.client import GraveyarClient, new_event
    from toolkit_graveyar.core.errors import AccessDenied

    address, cert = secure_server("--auth")
    _create_user(address, cert, "alice", "a")
    _create_user(address, cert, "bob", "b", ("auditors",))

    def as_(login: str, password: str) -> GraveyarClient:
        return GraveyarClient(address, tls_ca=cert, user=login, password=password, retries=0)

    # Without an $acl, users may use user streams; system streams and $all are for $admins.
    with as_("alice", "a") as alice:
        alice.append("open", [new_event("T")])
        assert len(alice.read("open")) == 1
        with pytest.raises(AccessDenied, match="may not read stream '\\$all'"):
            alice.read_all()
    # An admin restricts a stream: $r to the auditors group, $w to alice alone.
    acl = {"$acl": {"$r": ["auditors", "alice"], "$w": "alice", "$d": [], "$mr": "$admins", "$mw": "$admins"}}
    with as_("admin", "changeit") as root:
        root.append("ledger", [new_event("T")])
    kurrent = KurrentDBClient(f"kurrentdb://admin:changeit@{address}?Tls=true&TlsCaFile={cert}")
    try:
        kurrent.set_stream_metadata("ledger", metadata=acl)
    finally:
        kurrent.close()
    # kurrentdbclient as bob: KurrentDB's PERMISSION_DENIED is its AccessDeniedError.
    bob_kurrent = KurrentDBClient(f"kurrentdb://bob:b@{address}?Tls=true&TlsCaFile={cert}")
    try:
        assert len(bob_kurrent.get_stream("ledger")) == 1
        with pytest.raises(AccessDeniedError):
            bob_kurrent.append_to_stream(
                "ledger", current_version=StreamState.ANY, events=[NewEvent(type="X", data=b"{}")]
            )
    finally:
        bob_kurrent.close()
    with as_("alice", "a") as alice:
        assert alice.append("ledger", [new_event("T")]).version == 2
        with pytest.raises(AccessDenied, match="may not delete"):
            alice.delete_stream("ledger")
    with as_("bob", "b") as bob:
        assert [e.version for e in bob.read("ledger")] == [1, 2]  # via his group
        with pytest.raises(AccessDenied, match="may not write to stream 'ledger'"):
            bob.append("ledger", [new_event("T")])
        with pytest.raises(AccessDenied):
            list(bob.subscribe("$all", resume=False))
        with pytest.raises(AccessDenied, match="may scavenge"):
            bob.start_scavenge()
    with as_("admin", "changeit") as root:
        assert root.stream_info("ledger").version == 2  # the refused calls changed nothing
        assert len(root.read_all()) >= 3  # admins read $all
