"""gRPC adapter: our own `graveyar.v1.Graveyar` service."""

# ruff: noqa: TID253 - this module is only imported when a server starts
from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import grpc

from toolkit_graveyar._proto.graveyar.v1 import graveyar_pb2 as pb
from toolkit_graveyar.core import errors as E
from toolkit_graveyar.core.codec import frame_repeated, varint
from toolkit_graveyar.core.convert import (
    expected_from_pb,
    info_to_pb,
    metadata_from_pb,
    schema_to_dict,
    schema_to_pb,
    snapshot_from_pb,
    snapshot_to_pb,
)
from toolkit_graveyar.core.service import EventStoreService
from toolkit_graveyar.core.validation import ALL_STREAM
from toolkit_graveyar.grpc.guard import Guard, chunk_by_size

__all__ = ["V1_SERVICE", "V1Service"]

V1_SERVICE = "graveyar.v1.Graveyar"


class V1Service:
    """Our own service: batches, expected states, reads, subscriptions, streams, snapshots, schemas."""

    def __init__(self, svc: EventStoreService) -> None:
        self.svc = svc

    async def append(self, req: pb.AppendRequest) -> pb.AppendResponse:
        """Graveyar.Append."""
        expected = expected_from_pb(req.expected_state, req.expected_version)
        r = await self.svc.append_wire(req.stream, req.events, expected)
        return pb.AppendResponse(
            first_version=r.first_version,
            version=r.version,
            first_position=r.first_position,
            position=r.position,
            duplicate=r.duplicate,
        )

    async def append_multi(self, req: pb.AppendMultiRequest) -> pb.AppendMultiResponse:
        """Graveyar.AppendMulti."""
        items = [(a.stream, a.events, expected_from_pb(a.expected_state, a.expected_version)) for a in req.appends]
        results = await self.svc.append_multi_wire(items)
        return pb.AppendMultiResponse(
            results=[
                pb.AppendResponse(
                    first_version=r.first_version,
                    version=r.version,
                    first_position=r.first_position,
                    position=r.position,
                    duplicate=r.duplicate,
                )
                for r in results
            ]
        )

    async def read(self, req: pb.ReadRequest) -> AsyncIterator[bytes]:
        """Graveyar.Read."""
        start = req.__getattribute__("from") if req.HasField("from") else None
        backward = req.direction == pb.DIRECTION_BACKWARD
        if req.exclude_stream_prefixes:
            if req.stream != ALL_STREAM:
                raise E.InvalidRequest("exclude_stream_prefixes only apply to '$all' reads")
            pages = self.svc.read_all_excluding(start, backward, req.limit, list(req.exclude_stream_prefixes))
        else:
            pages = self.svc.read_pages(req.stream, start, backward, req.limit)
        async for page in pages:
            for chunk in chunk_by_size(page):
                yield frame_repeated(chunk)

    async def subscribe(self, req: pb.SubscribeRequest) -> AsyncIterator[bytes]:
        """Graveyar.Subscribe."""
        after = req.after if req.HasField("after") else None
        items = self.svc.subscribe(
            req.stream,
            after,
            stream_prefixes=list(req.stream_prefixes),
            event_types=list(req.event_types),
            exclude_prefixes=list(req.exclude_stream_prefixes),
        )
        async for item in items:
            if item.kind == "events":
                for chunk in chunk_by_size(item.records):
                    inner = frame_repeated(chunk)
                    yield b"\x0a" + varint(len(inner)) + inner
            elif item.kind == "caught_up":
                yield pb.SubscribeResponse(caught_up=pb.CaughtUp(at=item.at)).SerializeToString()
            else:
                yield pb.SubscribeResponse(checkpoint=pb.Checkpoint(position=item.at)).SerializeToString()

    async def delete_stream(self, req: pb.DeleteStreamRequest) -> pb.DeleteStreamResponse:
        """Graveyar.DeleteStream."""
        version = await self.svc.delete_stream(req.stream, expected_from_pb(req.expected_state, req.expected_version))
        return pb.DeleteStreamResponse(version=version)

    async def set_stream_metadata(self, req: pb.SetStreamMetadataRequest) -> pb.StreamInfo:
        """Graveyar.SetStreamMetadata."""
        return info_to_pb(await self.svc.set_stream_metadata(req.stream, metadata_from_pb(req.metadata)))

    async def get_stream(self, req: pb.GetStreamRequest) -> pb.StreamInfo:
        """Graveyar.GetStream."""
        return info_to_pb(await self.svc.stream_info(req.stream))

    async def list_streams(self, req: pb.ListStreamsRequest) -> pb.ListStreamsResponse:
        """Graveyar.ListStreams."""
        infos = await self.svc.list_streams(req.prefix, req.after, req.limit)
        return pb.ListStreamsResponse(streams=[info_to_pb(i) for i in infos])

    async def save_snapshot(self, req: pb.SaveSnapshotRequest) -> pb.SaveSnapshotResponse:
        """Graveyar.SaveSnapshot."""
        snap = await self.svc.save_snapshot(snapshot_from_pb(req.snapshot))
        return pb.SaveSnapshotResponse(version=snap.version)

    async def get_snapshot(self, req: pb.GetSnapshotRequest) -> pb.GetSnapshotResponse:
        """Graveyar.GetSnapshot."""
        snap = await self.svc.get_snapshot(req.stream)
        if snap is None:
            raise E.StreamNotFound(f"no snapshot for stream {req.stream!r}", details={"stream": req.stream})
        return pb.GetSnapshotResponse(snapshot=snapshot_to_pb(snap))

    async def upsert_schema(self, req: pb.UpsertSchemaRequest) -> pb.UpsertSchemaResponse:
        """Graveyar.UpsertSchema."""
        return pb.UpsertSchemaResponse(name=await self.svc.upsert_schema(schema_to_dict(req.schema)))

    async def get_schema(self, req: pb.GetSchemaRequest) -> pb.GetSchemaResponse:
        """Graveyar.GetSchema."""
        doc = await self.svc.schema(req.name) if req.name else None
        if doc is None:
            raise E.StreamNotFound(f"no schema named {req.name!r}", details={"name": req.name})
        return pb.GetSchemaResponse(schema=schema_to_pb(doc))

    def handlers(self, guard: Guard) -> grpc.GenericRpcHandler:
        """Generic handlers of the service's RPCs."""
        u, s = functools.partial(guard.unary, compat=False), functools.partial(guard.stream, compat=False)
        return grpc.method_handlers_generic_handler(
            V1_SERVICE,
            {
                "Append": u(pb.AppendRequest, self.append),
                "AppendMulti": u(pb.AppendMultiRequest, self.append_multi),
                "Read": s(pb.ReadRequest, self.read),
                "Subscribe": s(pb.SubscribeRequest, self.subscribe),
                "DeleteStream": u(pb.DeleteStreamRequest, self.delete_stream),
                "SetStreamMetadata": u(pb.SetStreamMetadataRequest, self.set_stream_metadata),
                "GetStream": u(pb.GetStreamRequest, self.get_stream),
                "ListStreams": u(pb.ListStreamsRequest, self.list_streams),
                "SaveSnapshot": u(pb.SaveSnapshotRequest, self.save_snapshot),
                "GetSnapshot": u(pb.GetSnapshotRequest, self.get_snapshot),
                "UpsertSchema": u(pb.UpsertSchemaRequest, self.upsert_schema),
                "GetSchema": u(pb.GetSchemaRequest, self.get_schema),
            },
        )
