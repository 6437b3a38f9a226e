"""gRPC adapter: KurrentDB's `event_store.client.users.Users` over `core.users` (served with `--auth`)."""

# ruff: noqa: TID253 - this module is only imported when a server starts
from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import grpc

from toolkit_graveyar._proto.kurrentdb.v1 import users_pb2 as pb
from toolkit_graveyar.core.users import CALLER, UserDirectory
from toolkit_graveyar.grpc.guard import Guard

__all__ = ["USERS_SERVICE", "UsersService"]

USERS_SERVICE = "event_store.client.users.Users"
#: .NET ticks (100 ns) between 0001-01-01 and the Unix epoch; KurrentDB dates are ticks.
_EPOCH_TICKS = 621_355_968_000_000_000


class UsersService:
    """Create, update, delete, enable, disable, details, change and reset password."""

    def __init__(self, users: UserDirectory) -> None:
        self.users = users

    async def create(self, req: pb.CreateReq) -> pb.CreateResp:
        """Users.Create."""
        o = req.options
        await self.users.create(CALLER.get(), o.login_name, o.password, o.full_name, list(o.groups))
        return pb.CreateResp()

    async def update(self, req: pb.UpdateReq) -> pb.UpdateResp:
        """Users.Update."""
        o = req.options
        await self.users.update(CALLER.get(), o.login_name, o.password, o.full_name, list(o.groups))
        return pb.UpdateResp()

    async def delete(self, req: pb.DeleteReq) -> pb.DeleteResp:
        """Users.Delete."""
        await self.users.delete(CALLER.get(), req.options.login_name)
        return pb.DeleteResp()

    async def disable(self, req: pb.DisableReq) -> pb.DisableResp:
        """Users.Disable."""
        await self.users.set_disabled(CALLER.get(), req.options.login_name, True)
        return pb.DisableResp()

    async def enable(self, req: pb.EnableReq) -> pb.EnableResp:
        """Users.Enable."""
        await self.users.set_disabled(CALLER.get(), req.options.login_name, False)
        return pb.EnableResp()

    async def details(self, req: pb.DetailsReq) -> AsyncIterator[pb.DetailsResp]:
        """Users.Details: one user, or every user when the login is empty."""
        for r in self.users.details(CALLER.get(), req.options.login_name):
            yield pb.DetailsResp(
                user_details=pb.DetailsResp.UserDetails(
                    login_name=r.login,
                    full_name=r.full_name,
                    groups=list(r.groups),
                    last_updated=pb.DetailsResp.UserDetails.DateTime(
                        ticks_since_epoch=r.updated_ms * 10_000 + _EPOCH_TICKS
                    ),
                    disabled=r.disabled,
                )
            )

    async def change_password(self, req: pb.ChangePasswordReq) -> pb.ChangePasswordResp:
        """Users.ChangePassword."""
        o = req.options
        await self.users.change_password(CALLER.get(), o.login_name, o.current_password, o.new_password)
        return pb.ChangePasswordResp()

    async def reset_password(self, req: pb.ResetPasswordReq) -> pb.ResetPasswordResp:
        """Users.ResetPassword."""
        await self.users.reset_password(CALLER.get(), req.options.login_name, req.options.new_password)
        return pb.ResetPasswordResp()

    def handlers(self, guard: Guard) -> grpc.GenericRpcHandler:
        """Generic handlers of the service's RPCs."""
        u = functools.partial(guard.unary, compat=False)
        return grpc.method_handlers_generic_handler(
            USERS_SERVICE,
            {
                "Create": u(pb.CreateReq, self.create),
                "Update": u(pb.UpdateReq, self.update),
                "Delete": u(pb.DeleteReq, self.delete),
                "Disable": u(pb.DisableReq, self.disable),
                "Enable": u(pb.EnableReq, self.enable),
                "Details": guard.stream(pb.DetailsReq, self.details, compat=False),
                "ChangePassword": u(pb.ChangePasswordReq, self.change_password),
                "ResetPassword": u(pb.ResetPasswordReq, self.reset_password),
            },
        )
