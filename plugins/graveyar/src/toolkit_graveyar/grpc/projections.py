"""gRPC adapter: KurrentDB's `projections.Projections` for the system projections (`core.projections`).

Served (by the leader of a cluster): Statistics, Enable, Disable, Reset, State, Result,
RestartSubsystem. Create, Update and Delete (user-defined JavaScript projections) are not
registered, so gRPC answers UNIMPLEMENTED.
"""

# ruff: noqa: TID253 - this module is only imported when a server starts
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import grpc

from toolkit_graveyar._proto.kurrentdb.v1 import projections_pb2 as pj
from toolkit_graveyar._proto.kurrentdb.v1 import shared_pb2
from toolkit_graveyar.core.projections import SYSTEM_PROJECTIONS, ProjectionStats, SystemProjections
from toolkit_graveyar.grpc.kurrentdb import PROJECTIONS, LeaderGate, _Handlers

if TYPE_CHECKING:
    from toolkit_graveyar.grpc.guard import Guard

__all__ = ["PROJECTIONS", "ProjectionsApi"]


def _details(s: ProjectionStats) -> pj.StatisticsResp.Details:
    status = "Stopped" if not s.enabled else "Running" if s.running else "Faulted"
    position = f"C:{s.position}/P:{s.position}"
    progress = 100.0 if s.position >= s.head else 100.0 * s.position / s.head
    return pj.StatisticsResp.Details(
        name=s.name,
        effectiveName=s.name,
        mode="Continuous",
        status=status,
        position=position,
        lastCheckpoint=position,
        progress=progress,
        eventsProcessedAfterRestart=s.processed,
        version=1,
        epoch=-1,
        partitionsCached=1,
    )


class ProjectionsApi:
    """`Projections` for `$by_category`, `$by_event_type` and `$streams`."""

    def __init__(self, projections: SystemProjections, gate: LeaderGate | None = None) -> None:
        self.projections = projections
        self.gate = gate
        if gate is not None:
            projections.leads = gate.leads  # projections run on the leader only

    async def statistics(self, req: pj.StatisticsReq) -> AsyncIterator[pj.StatisticsResp]:
        """One answer per projection: the named one, or all (system projections are continuous)."""
        mode = req.options.WhichOneof("mode")
        if mode == "name":
            names: tuple[str, ...] = (req.options.name,)
        elif mode in (None, "all", "continuous"):
            names = SYSTEM_PROJECTIONS
        else:  # transient, one_time: graveyar runs none
            return
        for stats in await self.projections.statistics(names):
            yield pj.StatisticsResp(details=_details(stats))

    async def enable(self, req: pj.EnableReq) -> pj.EnableResp:
        """Start a projection."""
        await self.projections.enable(req.options.name)
        return pj.EnableResp()

    async def disable(self, req: pj.DisableReq) -> pj.DisableResp:
        """Stop a projection."""
        await self.projections.disable(req.options.name, write_checkpoint=req.options.write_checkpoint)
        return pj.DisableResp()

    async def reset(self, req: pj.ResetReq) -> pj.ResetResp:
        """Project `$all` again from the start."""
        await self.projections.reset(req.options.name)
        return pj.ResetResp()

    async def state(self, req: pj.StateReq) -> pj.StateResp:
        """A system projection's state: an empty object (its output is the link streams)."""
        SystemProjections.check(req.options.name)
        resp = pj.StateResp()
        resp.state.struct_value.SetInParent()  # filled in place: the message lives in the private pool
        return resp

    async def result(self, req: pj.ResultReq) -> pj.ResultResp:
        """A system projection's result: an empty object, like its state."""
        SystemProjections.check(req.options.name)
        resp = pj.ResultResp()
        resp.result.struct_value.SetInParent()
        return resp

    async def restart_subsystem(self, _req: shared_pb2.Empty) -> shared_pb2.Empty:
        """Stop every projection and start the enabled ones again from their checkpoints."""
        await self.projections.close()
        await self.projections.load()
        return shared_pb2.Empty()

    def handlers(self, guard: Guard) -> list[grpc.GenericRpcHandler]:
        """The generic handler of the service; a follower refuses every method (see LeaderGate)."""
        h = _Handlers(guard, self.gate)
        return [
            grpc.method_handlers_generic_handler(
                PROJECTIONS,
                {
                    "Statistics": h.unary_stream(pj.StatisticsReq, self.statistics, leader="always"),
                    "Enable": h.unary(pj.EnableReq, self.enable, leader="always"),
                    "Disable": h.unary(pj.DisableReq, self.disable, leader="always"),
                    "Reset": h.unary(pj.ResetReq, self.reset, leader="always"),
                    "State": h.unary(pj.StateReq, self.state, leader="always"),
                    "Result": h.unary(pj.ResultReq, self.result, leader="always"),
                    "RestartSubsystem": h.unary(shared_pb2.Empty, self.restart_subsystem, leader="always"),
                },
            )
        ]
