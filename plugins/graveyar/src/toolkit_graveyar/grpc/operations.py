"""gRPC adapter: KurrentDB's `event_store.client.operations.Operations` (the scavenge pair).

The scavenge itself is core (`core.scavenge`); this module only translates. Shutdown,
MergeIndexes, ResignNode, SetNodePriority and RestartPersistentSubscriptions are not served
(UNIMPLEMENTED): see specs/graveyar/kurrentdb/v1/operations.proto.
"""

# ruff: noqa: TID253 - this module is only imported when a server starts
from __future__ import annotations

import functools

import grpc

from toolkit_graveyar._proto.kurrentdb.v1 import operations_pb2 as ops
from toolkit_graveyar.core.errors import InvalidRequest
from toolkit_graveyar.core.service import EventStoreService
from toolkit_graveyar.grpc.guard import Guard

__all__ = ["OPERATIONS_SERVICE", "OperationsService"]

OPERATIONS_SERVICE = "event_store.client.operations.Operations"
_RESULT = ops.ScavengeResp.ScavengeResult


class OperationsService:
    """StartScavenge and StopScavenge over the server's scavenger."""

    def __init__(self, svc: EventStoreService) -> None:
        self.svc = svc

    async def start_scavenge(self, _req: ops.StartScavengeReq) -> ops.ScavengeResp:
        """Operations.StartScavenge: a new scavenge (Started) or the running one (InProgress)."""
        run, started = self.svc.scavenger.start()
        return ops.ScavengeResp(
            scavenge_id=run.scavenge_id, scavenge_result=_RESULT.Started if started else _RESULT.InProgress
        )

    async def stop_scavenge(self, req: ops.StopScavengeReq) -> ops.ScavengeResp:
        """Operations.StopScavenge: the running scavenge with this id stops after its current chunk."""
        scavenge_id = req.options.scavenge_id
        if not scavenge_id:
            raise InvalidRequest("options.scavenge_id is empty", hint="pass the id StartScavenge returned")
        run = self.svc.scavenger.stop(scavenge_id)
        return ops.ScavengeResp(scavenge_id=run.scavenge_id, scavenge_result=_RESULT.Stopped)

    def handlers(self, guard: Guard) -> grpc.GenericRpcHandler:
        """Generic handlers of the service's RPCs."""
        u = functools.partial(guard.unary, compat=False)
        return grpc.method_handlers_generic_handler(
            OPERATIONS_SERVICE,
            {
                "StartScavenge": u(ops.StartScavengeReq, self.start_scavenge),
                "StopScavenge": u(ops.StopScavengeReq, self.stop_scavenge),
            },
        )
