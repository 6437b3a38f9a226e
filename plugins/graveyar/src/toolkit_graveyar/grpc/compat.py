"""gRPC adapter: graveyar_db's `eventstore.EventStore`, with its semantics and without its defects."""

# ruff: noqa: TID253 - this module is only imported when a server starts
from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import grpc

from toolkit_graveyar._proto import eventstore_pb2 as es
from toolkit_graveyar.core import errors as E
from toolkit_graveyar.core.convert import schema_to_dict, schema_to_pb, snapshot_from_pb, snapshot_to_pb
from toolkit_graveyar.core.model import Expected
from toolkit_graveyar.core.service import EventStoreService
from toolkit_graveyar.grpc.guard import Guard

__all__ = ["COMPAT_SERVICE", "CompatService"]

COMPAT_SERVICE = "eventstore.EventStore"


class CompatService:
    """graveyar_db's `eventstore.EventStore`, with its semantics and without its defects."""

    def __init__(self, svc: EventStoreService) -> None:
        self.svc = svc

    async def append_event(self, req: es.AppendEventRequest) -> es.AppendEventResponse:
        """EventStore.AppendEvent."""
        # graveyar_db 0.3 takes exactly one event; several are appended atomically here (the
        # superset its first issue asked for breaks no client).
        if req.expected_version < -1:
            raise E.InvalidRequest(f"expected_version {req.expected_version} is invalid (-1 = any, >= 0 = exact)")
        expected = Expected.any() if req.expected_version == -1 else Expected.exact(req.expected_version)
        for i, ev in enumerate(req.events):
            if not ev.id:
                raise E.InvalidRequest(f"event {i}: event id is empty", hint="graveyar_db events carry a UUID id")
        await self.svc.append_wire(req.stream_id, req.events, expected, require_transition=True)
        return es.AppendEventResponse(success=True)

    async def get_events(self, req: es.GetEventsRequest) -> AsyncIterator[bytes]:
        """EventStore.GetEvents."""
        # A stored record is an Event plus fields 7-9, which graveyar_db clients skip as unknown.
        # Pages are streamed as they are read (graveyar_db loaded the whole stream first).
        try:
            async for page in self.svc.read_pages(req.stream_id, None, False, 0):
                for raw in page:
                    yield raw
        except E.StreamNotFound:
            return

    async def upsert_schema(self, req: es.UpsertSchemaRequest) -> es.UpsertSchemaResponse:
        """EventStore.UpsertSchema."""
        name = await self.svc.upsert_schema(schema_to_dict(req.schema))
        return es.UpsertSchemaResponse(success=True, message=f"schema {name} stored")

    async def get_schema(self, req: es.GetSchemaRequest) -> es.GetSchemaResponse:
        """EventStore.GetSchema."""
        doc = await self.svc.schema(req.name) if req.name else None
        if doc is None:
            return es.GetSchemaResponse(found=False)
        return es.GetSchemaResponse(schema=schema_to_pb(doc), found=True)

    async def save_snapshot(self, req: es.SaveSnapshotRequest) -> es.SaveSnapshotResponse:
        """EventStore.SaveSnapshot."""
        await self.svc.save_snapshot(snapshot_from_pb(req.snapshot), exact=True)
        return es.SaveSnapshotResponse(success=True)

    async def get_snapshot(self, req: es.GetSnapshotRequest) -> es.GetSnapshotResponse:
        """EventStore.GetSnapshot."""
        snap = await self.svc.get_snapshot(req.stream_id)
        if snap is None:
            return es.GetSnapshotResponse(found=False)
        return es.GetSnapshotResponse(snapshot=snapshot_to_pb(snap), found=True)

    def handlers(self, guard: Guard) -> grpc.GenericRpcHandler:
        """Generic handlers of the service's RPCs."""
        u, s = functools.partial(guard.unary, compat=True), functools.partial(guard.stream, compat=True)
        return grpc.method_handlers_generic_handler(
            COMPAT_SERVICE,
            {
                "AppendEvent": u(es.AppendEventRequest, self.append_event),
                "GetEvents": s(es.GetEventsRequest, self.get_events),
                "UpsertSchema": u(es.UpsertSchemaRequest, self.upsert_schema),
                "GetSchema": u(es.GetSchemaRequest, self.get_schema),
                "SaveSnapshot": u(es.SaveSnapshotRequest, self.save_snapshot),
                "GetSnapshot": u(es.GetSnapshotRequest, self.get_snapshot),
            },
        )
