"""KurrentDB's Users API on `graveyar serve --auth`: who may manage users, and what a change does."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from toolkit_graveyar._proto.kurrentdb.v1 import users_pb2 as pb
from toolkit_graveyar._proto.kurrentdb.v1 import users_pb2_grpc as pb_grpc
from toolkit_graveyar.client import GraveyarClient, new_event
from toolkit_graveyar.core.errors import Unauthenticated

ADMIN = ("admin", "changeit")


class Users:
    """The Users API as one login sees it."""

    def __init__(self, address: str, login: str, password: str) -> None:
        self.channel = grpc.insecure_channel(address)
        self.stub = pb_grpc.UsersStub(self.channel)  # type: ignore[no-untyped-call]
        basic = base64.b64encode(f"{login}:{password}".encode()).decode()
        self.md = (("authorization", f"Basic {basic}"),)

    def call(self, method: str, request: Any) -> Any:
        fn = getattr(self.stub, method)
        if method == "Details":
            return list(fn(request, metadata=self.md, timeout=30))
        return fn(request, metadata=self.md, timeout=30)

    def create(self, login: str, password: str, groups: tuple[str, ...] = ()) -> None:
        opts = pb.CreateReq.Options(login_name=login, password=password, full_name=login.title(), groups=groups)
        self.call("Create", pb.CreateReq(options=opts))

    def details(self, login: str = "") -> list[Any]:
        return [
            r.user_details for r in self.call("Details", pb.DetailsReq(options=pb.DetailsReq.Options(login_name=login)))
        ]

    def close(self) -> None:
        self.channel.close()


def code_of(fn: Callable[[], Any]) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as err:
        fn()
    code: grpc.StatusCode = err.value.code()
    return code


def can_write(address: str, login: str, password: str) -> bool:
    with GraveyarClient(address, user=login, password=password, retries=0) as c:
        try:
            c.append("probe", [new_event("T")])
        except Unauthenticated:
            return False
        return True


def test_the_user_lifecycle(proc_server: Any, tmp_path: Path) -> None:
    srv = proc_server("--data-dir", str(tmp_path / "data"), "--bind", "127.0.0.1:0", "--auth")
    admin = Users(srv.address, *ADMIN)
    admin.create("ouro", "pw1")
    assert code_of(lambda: admin.create("ouro", "other")) == grpc.StatusCode.ALREADY_EXISTS
    assert can_write(srv.address, "ouro", "pw1")
    assert not can_write(srv.address, "ouro", "wrong")

    ouro = Users(srv.address, "ouro", "pw1")
    (mine,) = ouro.details("ouro")
    assert (mine.login_name, mine.full_name, list(mine.groups), mine.disabled) == ("ouro", "Ouro", [], False)
    assert code_of(lambda: ouro.create("eve", "x")) == grpc.StatusCode.PERMISSION_DENIED
    assert code_of(lambda: ouro.details("admin")) == grpc.StatusCode.PERMISSION_DENIED
    assert sorted(d.login_name for d in admin.details()) == ["admin", "ouro"]
    assert code_of(lambda: admin.details("nobody")) == grpc.StatusCode.NOT_FOUND

    login = pb.DisableReq.Options(login_name="ouro")
    admin.call("Disable", pb.DisableReq(options=login))
    assert not can_write(srv.address, "ouro", "pw1")
    admin.call("Enable", pb.EnableReq(options=pb.EnableReq.Options(login_name="ouro")))
    assert can_write(srv.address, "ouro", "pw1")

    change = pb.ChangePasswordReq.Options(login_name="ouro", current_password="nope", new_password="pw2")
    assert code_of(lambda: ouro.call("ChangePassword", pb.ChangePasswordReq(options=change))) == (
        grpc.StatusCode.UNAUTHENTICATED
    )
    change.current_password = "pw1"
    ouro.call("ChangePassword", pb.ChangePasswordReq(options=change))
    assert not can_write(srv.address, "ouro", "pw1")
    assert can_write(srv.address, "ouro", "pw2")
    reset = pb.ResetPasswordReq.Options(login_name="ouro", new_password="pw3")
    admin.call("ResetPassword", pb.ResetPasswordReq(options=reset))
    assert can_write(srv.address, "ouro", "pw3")

    update = pb.UpdateReq.Options(login_name="ouro", full_name="O. Uro", groups=["$admins"])
    admin.call("Update", pb.UpdateReq(options=update))
    (mine,) = admin.details("ouro")
    assert (mine.full_name, list(mine.groups)) == ("O. Uro", ["$admins"])
    assert can_write(srv.address, "ouro", "pw3")  # an update without a password keeps it

    admin.call("Delete", pb.DeleteReq(options=pb.DeleteReq.Options(login_name="ouro")))
    assert not can_write(srv.address, "ouro", "pw3")
    assert code_of(lambda: admin.create("bad:login", "x")) == grpc.StatusCode.INVALID_ARGUMENT
    ouro.close()
    admin.close()


def test_users_survive_a_restart_and_replace_the_builtin_admin(proc_server: Any, tmp_path: Path) -> None:
    args = ("--data-dir", str(tmp_path / "data"), "--bind", "127.0.0.1:0", "--auth")
    srv = proc_server(*args)
    admin = Users(srv.address, *ADMIN)
    admin.create("kept", "pw")
    reset = pb.ResetPasswordReq.Options(login_name="admin", new_password="n3w")
    admin.call("ResetPassword", pb.ResetPasswordReq(options=reset))
    admin.close()
    assert srv.terminate() == 0
    again = proc_server(*args)
    assert can_write(again.address, "kept", "pw")
    assert can_write(again.address, "admin", "n3w")
    assert not can_write(again.address, *ADMIN)


def _learns(address: str, login: str, password: str) -> None:
    end = time.monotonic() + 60
    while not can_write(address, login, password):
        assert time.monotonic() < end, "the other server never learned the user"
        time.sleep(0.2)


def _is_follower(users: Users, address: str) -> bool:
    """Whether the server at `address` is a follower, as gossip (asked through `users`' channel) says."""
    from toolkit_graveyar._proto.kurrentdb.v1 import gossip_pb2 as gossip
    from toolkit_graveyar._proto.kurrentdb.v1 import gossip_pb2_grpc as gossip_grpc
    from toolkit_graveyar._proto.kurrentdb.v1 import shared_pb2

    stub = gossip_grpc.GossipStub(users.channel)  # type: ignore[no-untyped-call]
    members = stub.Read(shared_pb2.Empty(), metadata=users.md, timeout=30).members
    follower = gossip.MemberInfo.VNodeState.Follower
    return any(
        f"{m.http_end_point.address}:{m.http_end_point.port}" == address and m.state == follower for m in members
    )


def test_servers_on_one_database_share_their_users(proc_server: Any, pg_dsn: str) -> None:
    """Users and operations are served by a follower too, as by KurrentDB's (users reach the others)."""
    from toolkit_graveyar._proto.kurrentdb.v1 import operations_pb2 as ops
    from toolkit_graveyar._proto.kurrentdb.v1 import operations_pb2_grpc as ops_grpc

    first = proc_server("--backend", "postgres", "--dsn", pg_dsn, "--bind", "127.0.0.1:0", "--auth")
    second = proc_server("--backend", "postgres", "--dsn", pg_dsn, "--bind", "127.0.0.1:0", "--auth")
    admin = Users(first.address, *ADMIN)
    admin.create("shared", "pw")
    admin.close()
    _learns(second.address, "shared", "pw")
    on_follower = Users(second.address, *ADMIN)
    try:
        end = time.monotonic() + 60
        while not _is_follower(on_follower, second.address):
            assert time.monotonic() < end, "the second server never became a follower"
            time.sleep(0.2)
        on_follower.create("made-on-follower", "pw2")
        assert [d.login_name for d in on_follower.details("shared")] == ["shared"]
        operations = ops_grpc.OperationsStub(on_follower.channel)  # type: ignore[no-untyped-call]
        started = operations.StartScavenge(ops.StartScavengeReq(), metadata=on_follower.md, timeout=30)
        assert started.scavenge_result in (ops.ScavengeResp.Started, ops.ScavengeResp.InProgress)
    finally:
        on_follower.close()
    _learns(first.address, "made-on-follower", "pw2")


def test_without_auth_there_is_no_users_api(proc_server: Any, tmp_path: Path) -> None:
    srv = proc_server("--data-dir", str(tmp_path / "data"), "--bind", "127.0.0.1:0")
    admin = Users(srv.address, *ADMIN)
    assert code_of(admin.details) == grpc.StatusCode.UNIMPLEMENTED
    admin.close()
