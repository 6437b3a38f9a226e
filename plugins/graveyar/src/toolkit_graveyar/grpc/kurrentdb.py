"""gRPC adapter: KurrentDB's v1 API (`event_store.client.*`) over graveyar's core.

KurrentDB clients (kurrentdbclient, the .NET/Java/Go/Node SDKs) talk to `graveyar serve` unchanged.
Revisions are 0-based (graveyar version - 1); commit and prepare positions are both graveyar's
global position. The semantics are specified in specs/graveyar/kurrentdb.md.
"""

# ruff: noqa: TID253 - this module is only imported when a server starts
from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import grpc
from google.protobuf.message import DecodeError, Message

from toolkit_graveyar._proto.graveyar.v1 import graveyar_pb2 as gpb
from toolkit_graveyar._proto.kurrentdb.v1 import gossip_pb2, serverfeatures_pb2, shared_pb2, status_pb2, streams_pb2
from toolkit_graveyar.core import errors as E
from toolkit_graveyar.core.cluster import Cluster, ClusterMember
from toolkit_graveyar.core.codec import decode_record
from toolkit_graveyar.core.links import LINK_EVENT, resolve_link
from toolkit_graveyar.core.model import AppendResult, Expected, ExpectedKind, RecordedEvent
from toolkit_graveyar.core.validation import ALL_STREAM
from toolkit_graveyar.grpc.kurrentdb_metadata import (
    DELETED_STREAM,
    METADATA_EVENT_TYPE,
    metadata_target,
    retention_of,
    with_truncate_before,
)
from toolkit_kernel.errors import ToolkitError

if TYPE_CHECKING:
    from toolkit_graveyar.core.service import EventStoreService
    from toolkit_graveyar.grpc.guard import Guard

__all__ = ["KURRENT_SERVICES", "KurrentApi", "LeaderGate", "LeaderRule", "Member"]

STREAMS = "event_store.client.streams.Streams"
GOSSIP = "event_store.client.gossip.Gossip"
FEATURES = "event_store.client.server_features.ServerFeatures"
KURRENT_SERVICES = (STREAMS, GOSSIP, FEATURES)
#: Served by grpc/persistent.py and grpc/projections.py; named here for ServerFeatures.
PERSISTENT = "event_store.client.persistent_subscriptions.PersistentSubscriptions"
PROJECTIONS = "event_store.client.projections.Projections"

#: .NET ticks (100 ns) per millisecond: KurrentDB's "created" metadata is ticks since the Unix epoch.
TICKS_PER_MS = 10_000
OCTET_STREAM = "application/octet-stream"
R = streams_pb2.ReadReq.Options
#: KurrentDB's wire numbers for expected states in error messages.
_EXPECTED_NUMBER = {ExpectedKind.ANY: -2, ExpectedKind.NO_STREAM: -1, ExpectedKind.STREAM_EXISTS: -4}


@dataclass
class Member:
    """How this server appears in gossip."""

    instance_id: uuid.UUID
    host: str
    port: int = 0


#: What a follower refuses for one method (see `LeaderGate`).
LeaderRule = Literal["header", "always", "ready"]


class LeaderGate:
    """What a follower refuses, as KurrentDB's follower does (ClusterVNodeController).

    Rules per method: `header` refuses when the call says `requires-leader: true` (reads,
    subscriptions, appends, deletes: without the header KurrentDB serves the read and forwards the
    write; graveyar's servers share the store, so the follower does it itself); `always` refuses
    whatever the header says (persistent-subscription operations and projections run on the
    leader only);
    `ready` answers "Server Is Not Ready" (group statistics live on the leader only).
    """

    def __init__(self) -> None:
        #: Set once the server is listening; None (or a cluster of one) refuses nothing.
        self.cluster: Cluster | None = None

    def leads(self) -> bool:
        """True unless another server leads (as of this server's last heartbeat)."""
        return self.cluster is None or self.cluster.leader_elsewhere() is None

    def check(self, context: grpc.aio.ServicerContext, rule: LeaderRule) -> None:
        """Raise NotLeader or Unavailable when this follower must not serve the call."""
        leader = self.cluster.leader_elsewhere() if self.cluster is not None else None
        if leader is None:
            return
        if rule == "ready":
            raise E.Unavailable("Server Is Not Ready")
        if rule == "always" or _requires_leader(context):
            raise E.NotLeader(leader.host, leader.port)


def _requires_leader(context: grpc.aio.ServicerContext) -> bool:
    # .NET's bool.TryParse: "true" in any case; absent or unparsable is false.
    for key, value in context.invocation_metadata() or ():
        if key == "requires-leader":
            text = value.decode() if isinstance(value, bytes) else value
            return text.strip().lower() == "true"
    return False


# -- conversions --------------------------------------------------------------------------------
def stream_name(ident: shared_pb2.StreamIdentifier) -> str:
    """The UTF-8 stream name of a StreamIdentifier."""
    try:
        name = ident.stream_name.decode("utf-8")
    except UnicodeDecodeError:
        raise E.InvalidRequest("stream name is not UTF-8") from None
    if not name:
        raise E.InvalidRequest("stream name is empty", hint="set options.stream_identifier")
    return name


def expected_of(msg: Message, oneof: str) -> Expected:
    """The expected state of an options message (`revision`/`stream_position`, `no_stream`, `any`, `stream_exists`)."""
    which = msg.WhichOneof(oneof)
    if which in ("revision", "stream_position"):
        return Expected.exact(int(getattr(msg, which)) + 1)
    if which == "no_stream":
        return Expected.no_stream()
    if which == "stream_exists":
        return Expected.stream_exists()
    if which == "any":
        return Expected.any()
    raise E.InvalidRequest(f"{oneof} is not set", hint="send revision, no_stream, any or stream_exists")


def uuid_text(value: shared_pb2.UUID) -> str:
    """A UUID message as text (either form)."""
    which = value.WhichOneof("value")
    if which == "string":
        return value.string
    if which == "structured":
        msb = value.structured.most_significant_bits & (2**64 - 1)
        lsb = value.structured.least_significant_bits & (2**64 - 1)
        return str(uuid.UUID(int=(msb << 64) | lsb))
    raise E.InvalidRequest("event id is missing", hint="every proposed message needs an id")


def uuid_message(text: str, structured: bool) -> shared_pb2.UUID:
    """A UUID message in the form a read asked for."""
    if not structured:
        return shared_pb2.UUID(string=text)
    n = uuid.UUID(text).int
    msb, lsb = n >> 64, n & (2**64 - 1)
    return shared_pb2.UUID(
        structured=shared_pb2.UUID.Structured(
            most_significant_bits=msb - 2**64 if msb >= 2**63 else msb,
            least_significant_bits=lsb - 2**64 if lsb >= 2**63 else lsb,
        )
    )


def proposed_to_event(i: int, msg: Any) -> gpb.RecordedEvent:
    """A proposed message (Append or BatchAppend) as the event graveyar stores."""
    meta = msg.metadata
    event_type = meta.get("type", "")
    content_type = meta.get("content-type", "")
    if not event_type or not content_type:
        missing = "type" if not event_type else "content-type"
        raise E.InvalidRequest(
            f"event {i}: required metadata property {missing!r} is missing",
            details={"exception": "missing-required-metadata-property", "property": missing},
        )
    return gpb.RecordedEvent(
        id=uuid_text(msg.id),
        event_type=event_type,
        payload=msg.data,
        custom_metadata=msg.custom_metadata,
        content_type=content_type,
    )


def recorded_fields(record: bytes, structured: bool) -> dict[str, Any]:
    """A stored record as the fields of KurrentDB's RecordedEvent (Streams and PersistentSubscriptions share them)."""
    r = gpb.RecordedEvent.FromString(record)
    return {
        "id": uuid_message(r.id, structured),
        "stream_identifier": shared_pb2.StreamIdentifier(stream_name=r.stream.encode("utf-8")),
        "stream_revision": r.version - 1,
        "prepare_position": r.position,
        "commit_position": r.position,
        "metadata": {
            "type": r.event_type,
            "content-type": r.content_type or OCTET_STREAM,
            "created": str(r.timestamp * TICKS_PER_MS),
        },
        "custom_metadata": r.custom_metadata,
        "data": r.payload,
    }


def recorded_event(record: bytes, structured: bool) -> streams_pb2.ReadResp:
    """A stored record as a ReadResp event."""
    fields = recorded_fields(record, structured)
    ev = streams_pb2.ReadResp.ReadEvent.RecordedEvent(**fields)
    return streams_pb2.ReadResp(
        event=streams_pb2.ReadResp.ReadEvent(event=ev, commit_position=fields["commit_position"])
    )


class EventFilter:
    """A server-side $all filter: stream-name or event-type regex (searched) or prefixes."""

    def __init__(self, options: R.FilterOptions) -> None:
        which = options.WhichOneof("filter")
        if which is None:
            raise E.InvalidRequest("filter needs stream_identifier or event_type")
        self.by_stream = which == "stream_identifier"
        expr = getattr(options, which)
        self.prefixes = tuple(expr.prefix)
        self.regex: re.Pattern[str] | None = None
        if expr.regex:
            try:
                self.regex = re.compile(expr.regex)
            except re.error as exc:
                raise E.InvalidRequest(f"filter regex {expr.regex!r} is invalid: {exc}") from None
        window = options.max if options.WhichOneof("window") == "max" else 1
        self.checkpoint_every = max(1, window) * max(1, options.checkpointIntervalMultiplier)

    def matches(self, stream: str, event_type: str) -> bool:
        """True when an event of `stream` with `event_type` passes."""
        subject = stream if self.by_stream else event_type
        if self.prefixes and not subject.startswith(self.prefixes):
            return False
        return self.regex is None or self.regex.search(subject) is not None


# -- the services -------------------------------------------------------------------------------
class KurrentApi:
    """`streams.Streams`, `gossip.Gossip` and `server_features.ServerFeatures`."""

    def __init__(self, svc: EventStoreService, member: Member, version: str) -> None:
        self.svc = svc
        self.member = member
        self.version = version
        #: Shared with the persistent-subscription service: both refuse as a follower.
        self.gate = LeaderGate()

    @property
    def cluster(self) -> Cluster | None:
        """The servers sharing the store, once the server is listening (None: this one alone)."""
        return self.gate.cluster

    # -- appends ----------------------------------------------------------------------------------
    async def append(self, requests: AsyncIterator[streams_pb2.AppendReq]) -> streams_pb2.AppendResp:
        """Streams.Append: options, then proposed messages; one atomic append."""
        first = await anext(requests, None)
        if first is None or first.WhichOneof("content") != "options":
            raise E.InvalidRequest("the first AppendReq must carry options")
        options = first.options
        name = stream_name(options.stream_identifier)
        expected = expected_of(options, "expected_stream_revision")
        events: list[gpb.RecordedEvent] = []
        async for req in requests:
            if req.WhichOneof("content") != "proposed_message":
                raise E.InvalidRequest("only the first AppendReq may carry options")
            events.append(proposed_to_event(len(events), req.proposed_message))
        try:
            result = await self._append(name, events, expected)
        except E.WrongExpectedVersion as exc:
            return streams_pb2.AppendResp(wrong_expected_version=_append_wev(exc, expected))
        pos = streams_pb2.AppendResp.Position(commit_position=result.position, prepare_position=result.position)
        return streams_pb2.AppendResp(
            success=streams_pb2.AppendResp.Success(current_revision=result.version - 1, position=pos)
        )

    async def _append(self, name: str, events: list[gpb.RecordedEvent], expected: Expected) -> AppendResult:
        if name.startswith("$") and not name.startswith("$$"):
            raise E.InvalidRequest(f"stream names starting with '$' are reserved: {name!r}")
        target = metadata_target(name)
        if target is not None and target.startswith("$"):
            target = None  # `$$$all` and system streams: stored, no rules to enforce
        rules = retention_of(events) if target is not None else None
        try:
            result = await self.svc.append_wire(name, events, expected, metastream_ok=True)
            if target is not None and rules is not None:
                # The metastream keeps the document; the target stream's state enforces its rules.
                await self.svc.set_stream_metadata(target, rules)
            if result.revived and target is None:
                # As KurrentDB undeletes: `$tb` moves from the delete mark to the first new revision.
                await self._record_truncate_before(name, result.first_version - 1)
            return result
        except E.DuplicateEventId as exc:
            if "event_id" in exc.details:  # an id recorded in another stream or with other content
                raise
            # Some ids of this append are recorded in this stream, some are new: KurrentDB answers
            # that as a wrong expected version (the earlier append moved the stream on).
            info = await self.svc.store.stream_info(name)
            raise E.WrongExpectedVersion(name, expected.describe(), info.version if info else 0) from None

    async def batch_append(self, requests: AsyncIterator[streams_pb2.BatchAppendReq]) -> AsyncIterator[Any]:
        """Streams.BatchAppend: one atomic append per correlation id, answered when is_final."""
        pending: dict[str, tuple[Any, list[gpb.RecordedEvent]]] = {}
        async for req in requests:
            cid = uuid_text(req.correlation_id) if req.HasField("correlation_id") else ""
            options, events = pending.get(cid) or (req.options, [])
            if req.HasField("options") and not events:
                options = req.options
            pending[cid] = (options, events)
            try:
                for m in req.proposed_messages:
                    events.append(proposed_to_event(len(events), m))
            except E.InvalidRequest as exc:
                pending.pop(cid, None)
                yield _batch_error(req.correlation_id, options, exc)
                continue
            if not req.is_final:
                continue
            pending.pop(cid, None)
            yield await self._batch_one(req.correlation_id, options, events)

    async def _batch_one(
        self, cid: shared_pb2.UUID, options: Any, events: list[gpb.RecordedEvent]
    ) -> streams_pb2.BatchAppendResp:
        try:
            name = stream_name(options.stream_identifier)
            expected = expected_of(options, "expected_stream_position")
            result = await self._append(name, events, expected)
        except ToolkitError as exc:
            return _batch_error(cid, options, exc)
        pos = shared_pb2.AllStreamPosition(commit_position=result.position, prepare_position=result.position)
        return streams_pb2.BatchAppendResp(
            correlation_id=cid,
            success=streams_pb2.BatchAppendResp.Success(current_revision=result.version - 1, position=pos),
            stream_identifier=options.stream_identifier,
        )

    # -- deletes ------------------------------------------------------------------------------------
    async def delete(self, req: streams_pb2.DeleteReq) -> streams_pb2.DeleteResp:
        """Streams.Delete: soft delete."""
        await self._delete(req.options, tombstone=False)
        head = await self.svc.store.head()
        return streams_pb2.DeleteResp(
            position=streams_pb2.DeleteResp.Position(commit_position=head, prepare_position=head)
        )

    async def tombstone(self, req: streams_pb2.TombstoneReq) -> streams_pb2.TombstoneResp:
        """Streams.Tombstone: permanent delete."""
        await self._delete(req.options, tombstone=True)
        head = await self.svc.store.head()
        return streams_pb2.TombstoneResp(
            position=streams_pb2.TombstoneResp.Position(commit_position=head, prepare_position=head)
        )

    async def _delete(self, options: Any, *, tombstone: bool) -> None:
        name = stream_name(options.stream_identifier)
        expected = expected_of(options, "expected_stream_revision")
        state = await self.svc.store.stream_state(name)
        if not tombstone and state is not None and state.deleted and not state.tombstoned:
            # KurrentDB: deleting a soft-deleted stream again passes (nothing changes) unless the
            # expected state says otherwise; "stream exists" is answered "stream is deleted".
            if expected.kind is ExpectedKind.STREAM_EXISTS:
                raise E.StreamDeleted(name)
            if expected.kind is ExpectedKind.EXACT and expected.version != state.version:
                raise KurrentWrongVersion(name, expected, state.version)
            return
        try:
            await self.svc.delete_stream(name, expected, tombstone=tombstone)
        except E.WrongExpectedVersion as exc:
            raise KurrentWrongVersion(name, expected, int(exc.details["actual"])) from None
        if not tombstone:
            await self._record_truncate_before(name, DELETED_STREAM)

    async def _record_truncate_before(self, name: str, tb: int) -> None:
        """Write `$tb` into the stream's metastream, as KurrentDB does on soft delete and undelete."""
        try:
            last = await self.svc.store.read_stream(f"$${name}", None, True, 1)
        except E.StreamNotFound:
            last = []
        previous = decode_record(last[0]).data if last else None
        doc = with_truncate_before(previous, tb)
        event = gpb.RecordedEvent(
            id=str(uuid.uuid4()), event_type=METADATA_EVENT_TYPE, payload=doc, content_type="application/json"
        )
        await self._append(f"$${name}", [event], Expected.any())

    # -- reads and subscriptions --------------------------------------------------------------------
    async def read(self, req: streams_pb2.ReadReq) -> AsyncIterator[streams_pb2.ReadResp]:
        """Streams.Read: a read of a stream or $all, or a catch-up subscription."""
        o = req.options
        which = o.WhichOneof("stream_option")
        if which is None:
            raise E.InvalidRequest("read options need stream or all")
        structured = o.uuid_option.WhichOneof("content") == "structured"
        backward = o.read_direction == R.Backwards
        subscribe = o.WhichOneof("count_option") == "subscription"
        flt = EventFilter(o.filter) if o.WhichOneof("filter_option") == "filter" else None
        if subscribe and backward:
            raise E.InvalidRequest("subscriptions read forwards only")
        if which == "stream":
            if flt is not None:
                raise E.InvalidRequest("filters apply to $all only")
            name = stream_name(o.stream.stream_identifier)
            if name == ALL_STREAM:
                raise E.InvalidRequest("read $all with options.all")
            source = self._subscribe_stream(name, o.stream, structured) if subscribe else None
            if source is None:
                source = self._read_stream(name, o.stream, backward, o.count, structured)
        elif subscribe:
            source = self._subscribe_all(o.all, flt, structured)
        else:
            source = self._read_all(o.all, backward, o.count, flt, structured)
        if o.resolve_links:
            source = self._resolved(source, structured)
        async for item in source:
            yield item

    async def _resolved(
        self, source: AsyncIterator[streams_pb2.ReadResp], structured: bool
    ) -> AsyncIterator[streams_pb2.ReadResp]:
        """`source` with each `$>` link event replaced by the event it points at, the link beside it."""
        async for resp in source:
            if resp.WhichOneof("content") != "event" or resp.event.event.metadata["type"] != LINK_EVENT:
                yield resp
                continue
            link = resp.event.event
            target = await resolve_link(self.svc.store, _as_link(link))
            if target is None:
                yield resp  # the event is gone: the link itself
                continue
            ev = streams_pb2.ReadResp.ReadEvent.RecordedEvent(**recorded_fields(target, structured))
            read_event = streams_pb2.ReadResp.ReadEvent(event=ev, link=link, commit_position=resp.event.commit_position)
            yield streams_pb2.ReadResp(event=read_event)

    async def _read_stream(
        self, name: str, so: R.StreamOptions, backward: bool, count: int, structured: bool
    ) -> AsyncIterator[streams_pb2.ReadResp]:
        rev = so.WhichOneof("revision_option")
        start: int | None = None
        if rev == "revision":
            start = so.revision + 1
        elif rev == "end" and not backward:
            start = 2**62  # nothing after the end, but a missing stream is still reported
        elif rev == "start" and backward:
            start = 1
        try:
            if count == 0:
                await self.svc.stream_info(name)
                return
            pages = self.svc.read_pages(name, start, backward, min(count, 2**62))
            async for page in pages:
                for record in page:
                    yield recorded_event(record, structured)
        except E.StreamNotFound:
            yield streams_pb2.ReadResp(
                stream_not_found=streams_pb2.ReadResp.StreamNotFound(stream_identifier=so.stream_identifier)
            )

    async def _read_all(
        self, ao: R.AllOptions, backward: bool, count: int, flt: EventFilter | None, structured: bool
    ) -> AsyncIterator[streams_pb2.ReadResp]:
        which = ao.WhichOneof("all_option")
        start: int | None = None
        if which == "position":
            # Forwards from a position includes it; backwards from a position excludes it.
            start = ao.position.commit_position if not backward else ao.position.commit_position - 1
            if not backward:
                start = max(start, 1)
            elif start < 1:
                return
        elif (which == "end" and not backward) or (which == "start" and backward):
            return
        sent = 0
        if count == 0:
            return
        async for page in self.svc.read_pages(ALL_STREAM, start, backward, 0 if flt else min(count, 2**62)):
            for record in page:
                if flt is not None:
                    r = gpb.RecordedEvent.FromString(record)
                    if not flt.matches(r.stream, r.event_type):
                        continue
                yield recorded_event(record, structured)
                sent += 1
                if sent >= count:
                    return

    async def _subscribe_stream(
        self, name: str, so: R.StreamOptions, structured: bool
    ) -> AsyncIterator[streams_pb2.ReadResp]:
        rev = so.WhichOneof("revision_option")
        if rev == "revision":
            after = so.revision + 1
        elif rev == "end":
            info = await self.svc.store.stream_info(name)
            after = info.version if info else 0
        else:
            after = 0
        yield _confirmation()
        async for item in self.svc.subscribe(name, after):
            if item.kind == "events":
                for record in item.records:
                    yield recorded_event(record, structured)
            elif item.kind == "caught_up":
                resp = streams_pb2.ReadResp(caught_up=streams_pb2.ReadResp.CaughtUp(stream_revision=item.at - 1))
                resp.caught_up.timestamp.GetCurrentTime()
                yield resp

    async def _subscribe_all(
        self, ao: R.AllOptions, flt: EventFilter | None, structured: bool
    ) -> AsyncIterator[streams_pb2.ReadResp]:
        which = ao.WhichOneof("all_option")
        if which == "position":
            after = ao.position.commit_position
        elif which == "end":
            after = await self.svc.store.head()
        else:
            after = 0
        yield _confirmation()
        scanned = 0
        async for item in self.svc.subscribe(ALL_STREAM, after):
            if item.kind == "events":
                for record in item.records:
                    if flt is None:
                        yield recorded_event(record, structured)
                        continue
                    r = gpb.RecordedEvent.FromString(record)
                    if flt.matches(r.stream, r.event_type):
                        yield recorded_event(record, structured)
                    scanned += 1
                    if scanned >= flt.checkpoint_every:
                        scanned = 0
                        yield _checkpoint(r.position)
            elif item.kind == "caught_up":
                if flt is not None and scanned:
                    # Everything up to here was scanned: a filtered consumer may resume from here.
                    scanned = 0
                    yield _checkpoint(item.at)
                pos = streams_pb2.ReadResp.Position(commit_position=item.at, prepare_position=item.at)
                resp = streams_pb2.ReadResp(caught_up=streams_pb2.ReadResp.CaughtUp(position=pos))
                resp.caught_up.timestamp.GetCurrentTime()
                yield resp

    # -- gossip and features ------------------------------------------------------------------------
    async def gossip(self, _req: shared_pb2.Empty) -> gossip_pb2.ClusterInfo:
        """Gossip.Read: every live server of the store (core.cluster), one of them the leader."""
        if self.cluster is None:
            m = self.member
            members = [ClusterMember(str(m.instance_id), m.host, m.port, True, time.time_ns() // 1_000_000)]
        else:
            members = await self.cluster.members()
        return gossip_pb2.ClusterInfo(
            members=[
                gossip_pb2.MemberInfo(
                    instance_id=shared_pb2.UUID(string=m.instance_id),
                    time_stamp=m.heartbeat_ms * TICKS_PER_MS + 621_355_968_000_000_000,
                    state=gossip_pb2.MemberInfo.Leader if m.leader else gossip_pb2.MemberInfo.Follower,
                    is_alive=True,
                    http_end_point=gossip_pb2.EndPoint(address=m.host, port=m.port),
                )
                for m in members
            ]
        )

    async def features(self, _req: shared_pb2.Empty) -> serverfeatures_pb2.SupportedMethods:
        """ServerFeatures.GetSupportedMethods."""

        def method(service: str, name: str, *features: str) -> serverfeatures_pb2.SupportedMethod:
            return serverfeatures_pb2.SupportedMethod(
                method_name=name.lower(), service_name=service.lower(), features=list(features)
            )

        methods = [
            method(STREAMS, "Read", "position", "events", "filtered"),
            method(STREAMS, "Append"),
            method(STREAMS, "BatchAppend"),
            method(STREAMS, "Delete"),
            method(STREAMS, "Tombstone"),
            method(GOSSIP, "Read"),
            method(FEATURES, "GetSupportedMethods"),
            *(
                method(PERSISTENT, name, "stream", "all")
                for name in (
                    "Create",
                    "Update",
                    "Delete",
                    "Read",
                    "GetInfo",
                    "ReplayParked",
                    "List",
                    "RestartSubsystem",
                )
            ),
            method(PERSISTENT, "RestartSubsystem"),
            *(
                method(PROJECTIONS, name)
                for name in ("Statistics", "Enable", "Disable", "Reset", "State", "Result", "RestartSubsystem")
            ),
        ]
        return serverfeatures_pb2.SupportedMethods(methods=methods, event_store_server_version=self.version)

    # -- handler table ------------------------------------------------------------------------------
    def handlers(self, guard: Guard) -> list[grpc.GenericRpcHandler]:
        """Generic handlers for the three services."""
        h = _Handlers(guard, self.gate)
        return [
            grpc.method_handlers_generic_handler(
                STREAMS,
                {
                    "Read": h.unary_stream(streams_pb2.ReadReq, self.read, leader="header"),
                    "Append": h.stream_unary(streams_pb2.AppendReq, self.append, leader="header"),
                    "BatchAppend": h.stream_stream(streams_pb2.BatchAppendReq, self.batch_append, leader="header"),
                    "Delete": h.unary(streams_pb2.DeleteReq, self.delete, leader="header"),
                    "Tombstone": h.unary(streams_pb2.TombstoneReq, self.tombstone, leader="header"),
                },
            ),
            grpc.method_handlers_generic_handler(GOSSIP, {"Read": h.unary(shared_pb2.Empty, self.gossip)}),
            grpc.method_handlers_generic_handler(
                FEATURES, {"GetSupportedMethods": h.unary(shared_pb2.Empty, self.features)}
            ),
        ]


# -- errors -------------------------------------------------------------------------------------
class KurrentWrongVersion(ToolkitError):
    """A Delete/Tombstone expected-version failure, in the message form KurrentDB clients parse."""

    kind = "conflict"
    code = "wrong-expected-version"

    def __init__(self, stream: str, expected: Expected, actual_version: int) -> None:
        exp = expected.version - 1 if expected.kind is ExpectedKind.EXACT else _EXPECTED_NUMBER[expected.kind]
        super().__init__(
            f"WrongExpectedVersion. Stream: {stream}, Expected version: {exp}, Actual version: {actual_version - 1}",
            details={"stream": stream, "expected": exp, "actual": actual_version - 1},
        )


def _append_wev(exc: E.WrongExpectedVersion, expected: Expected) -> streams_pb2.AppendResp.WrongExpectedVersion:
    actual = int(exc.details["actual"])
    wev = streams_pb2.AppendResp.WrongExpectedVersion()
    if actual > 0:
        wev.current_revision = actual - 1
        wev.current_revision_20_6_0 = actual - 1
    else:
        wev.current_no_stream.SetInParent()
        wev.no_stream_20_6_0.SetInParent()
    kind = expected.kind
    if kind is ExpectedKind.EXACT:
        wev.expected_revision = expected.version - 1
        wev.expected_revision_20_6_0 = expected.version - 1
    elif kind is ExpectedKind.ANY:
        wev.expected_any.SetInParent()
        wev.any_20_6_0.SetInParent()
    elif kind is ExpectedKind.STREAM_EXISTS:
        wev.expected_stream_exists.SetInParent()
        wev.stream_exists_20_6_0.SetInParent()
    else:
        wev.expected_no_stream.SetInParent()
    return wev


def _batch_error(cid: shared_pb2.UUID, options: Any, exc: ToolkitError) -> streams_pb2.BatchAppendResp:
    """A BatchAppendResp error: a google.rpc.Status with one packed event_store.client detail."""
    detail: Message
    code = grpc.StatusCode.INTERNAL
    if isinstance(exc, E.WrongExpectedVersion):
        code = grpc.StatusCode.FAILED_PRECONDITION
        detail = shared_pb2.WrongExpectedVersion()
        actual = int(exc.details["actual"])
        if actual > 0:
            detail.current_stream_revision = actual - 1
        else:
            detail.current_no_stream.SetInParent()
        which = options.WhichOneof("expected_stream_position")
        if which == "stream_position":
            detail.expected_stream_position = options.stream_position
        elif which == "no_stream":
            detail.expected_no_stream.SetInParent()
        elif which == "stream_exists":
            detail.expected_stream_exists.SetInParent()
        else:
            detail.expected_any.SetInParent()
    elif isinstance(exc, E.StreamDeleted):
        code = grpc.StatusCode.FAILED_PRECONDITION
        detail = shared_pb2.StreamDeleted(stream_identifier=options.stream_identifier)
    elif isinstance(exc, E.InvalidRequest):
        code = grpc.StatusCode.INVALID_ARGUMENT
        detail = shared_pb2.BadRequest(message=exc.message)
    elif isinstance(exc, E.AccessDenied):
        code = grpc.StatusCode.PERMISSION_DENIED
        detail = shared_pb2.AccessDenied()
    else:
        detail = shared_pb2.Unknown()
    # Fields of well-known types are filled in place: the messages live in a private pool (see pool.py).
    status = status_pb2.Status(code=code.value[0], message=exc.message)
    status.details.Pack(detail)
    return streams_pb2.BatchAppendResp(correlation_id=cid, error=status, stream_identifier=options.stream_identifier)


def _as_link(ev: streams_pb2.ReadResp.ReadEvent.RecordedEvent) -> RecordedEvent:
    """The core view of a link read from the store (what `resolve_link` needs: its type and data)."""
    return RecordedEvent(
        stream=ev.stream_identifier.stream_name.decode("utf-8", "replace"),
        version=ev.stream_revision + 1,
        position=ev.commit_position,
        event_id="",
        event_type=LINK_EVENT,
        data=ev.data,
        metadata={},
        timestamp=0,
    )


def _confirmation() -> streams_pb2.ReadResp:
    return streams_pb2.ReadResp(
        confirmation=streams_pb2.ReadResp.SubscriptionConfirmation(subscription_id=str(uuid.uuid4()))
    )


def _checkpoint(position: int) -> streams_pb2.ReadResp:
    resp = streams_pb2.ReadResp(
        checkpoint=streams_pb2.ReadResp.Checkpoint(commit_position=position, prepare_position=position)
    )
    resp.checkpoint.timestamp.GetCurrentTime()
    return resp


def _status_for(err: ToolkitError) -> grpc.StatusCode | None:
    """KurrentDB's status for errors whose mapping differs from graveyar.v1's (None = the same)."""
    if isinstance(err, KurrentWrongVersion | E.StreamDeleted):
        return grpc.StatusCode.FAILED_PRECONDITION
    if isinstance(err, E.StreamNotFound | E.NotLeader):
        return grpc.StatusCode.NOT_FOUND
    if isinstance(err, E.SettingsRefused):
        # KurrentDB refuses these with an unhandled exception: kurrentdbclient raises InternalError.
        return grpc.StatusCode.INTERNAL
    return None


class _Handlers:
    """Authentication, request parsing and KurrentDB error mapping around every handler kind."""

    def __init__(self, guard: Guard, gate: LeaderGate | None = None) -> None:
        self.guard = guard
        self.gate = gate

    def _admit(self, context: grpc.aio.ServicerContext, leader: LeaderRule | None) -> None:
        # Credentials first, then the follower's refusal: KurrentDB authorises before it routes.
        self.guard.check_auth(context)
        if leader is not None and self.gate is not None:
            self.gate.check(context, leader)

    async def _fail(self, context: grpc.aio.ServicerContext, err: BaseException) -> None:
        if isinstance(err, ToolkitError):
            code = _status_for(err)
            if code is not None:
                trailers = [("exception", str(getattr(err, "code", "internal")))]
                if isinstance(err, E.StreamDeleted):
                    trailers.append(("stream-name", _ascii(str(err.details.get("stream", "")))))
                elif isinstance(err, E.NotLeader):
                    trailers += [("leader-endpoint-host", _ascii(err.host)), ("leader-endpoint-port", str(err.port))]
                await context.abort(code, err.message, trailing_metadata=tuple(trailers))
        await self.guard.fail(context, err, False)

    @staticmethod
    def _parse(request_type: Any, raw: bytes) -> Any:
        try:
            return request_type.FromString(raw)
        except DecodeError as exc:
            raise E.InvalidRequest(f"undecodable {request_type.DESCRIPTOR.name}: {exc}") from None

    async def _parsed(self, request_type: Any, raws: AsyncIterator[bytes]) -> AsyncIterator[Any]:
        async for raw in raws:
            yield self._parse(request_type, raw)

    def unary(
        self, request_type: Any, fn: Callable[[Any], Awaitable[Message]], *, leader: LeaderRule | None = None
    ) -> Any:
        async def handler(raw: bytes, context: grpc.aio.ServicerContext) -> Any:
            try:
                self._admit(context, leader)
                return await fn(self._parse(request_type, raw))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._fail(context, exc)

        return grpc.unary_unary_rpc_method_handler(handler, response_serializer=_serialize)

    def unary_stream(
        self, request_type: Any, fn: Callable[[Any], AsyncIterator[Message]], *, leader: LeaderRule | None = None
    ) -> Any:
        async def handler(raw: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            try:
                self._admit(context, leader)
                async for item in fn(self._parse(request_type, raw)):
                    yield item
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._fail(context, exc)

        return grpc.unary_stream_rpc_method_handler(handler, response_serializer=_serialize)

    def stream_unary(
        self,
        request_type: Any,
        fn: Callable[[AsyncIterator[Any]], Awaitable[Message]],
        *,
        leader: LeaderRule | None = None,
    ) -> Any:
        async def handler(raws: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> Any:
            try:
                self._admit(context, leader)
                return await fn(self._parsed(request_type, raws))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._fail(context, exc)

        return grpc.stream_unary_rpc_method_handler(handler, response_serializer=_serialize)

    def stream_stream(
        self,
        request_type: Any,
        fn: Callable[[AsyncIterator[Any]], AsyncIterator[Message]],
        *,
        leader: LeaderRule | None = None,
    ) -> Any:
        async def handler(raws: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            try:
                self._admit(context, leader)
                async for item in fn(self._parsed(request_type, raws)):
                    yield item
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._fail(context, exc)

        return grpc.stream_stream_rpc_method_handler(handler, response_serializer=_serialize)


def _serialize(msg: Message) -> bytes:
    return msg.SerializeToString()


def _ascii(value: str) -> str:
    return value if value.isascii() and value.isprintable() else value.encode("ascii", "backslashreplace").decode()
