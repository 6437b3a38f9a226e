"""gRPC adapter: KurrentDB's `persistent_subscriptions.PersistentSubscriptions` over `core.persistent`.

Translation only: options to `GroupConfig`, acks and nacks to `Consumer` calls, messages to
`ReadResp` events, group statistics to `SubscriptionInfo`. Semantics: specs/graveyar/kurrentdb.md.
"""

# ruff: noqa: TID253 - this module is only imported when a server starts
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import grpc

from toolkit_graveyar._proto.kurrentdb.v1 import persistent_pb2 as pp
from toolkit_graveyar._proto.kurrentdb.v1 import shared_pb2
from toolkit_graveyar.core import errors as E
from toolkit_graveyar.core.codec import record_position
from toolkit_graveyar.core.persistent import Consumer, GroupInfo, Message, PersistentSubscriptions
from toolkit_graveyar.core.persistent_state import (
    FROM_END,
    GroupConfig,
    GroupExists,
    GroupSettings,
    MaxSubscribersReached,
    SourceFilter,
    SubscriptionDropped,
)
from toolkit_graveyar.core.validation import ALL_STREAM
from toolkit_graveyar.grpc.kurrentdb import (
    PERSISTENT,
    LeaderGate,
    _Handlers,
    recorded_fields,
    stream_name,
    uuid_text,
)
from toolkit_kernel.errors import ToolkitError

if TYPE_CHECKING:
    from toolkit_graveyar.grpc.guard import Guard

__all__ = ["PERSISTENT", "PersistentApi"]

#: .NET ticks (100 ns) per millisecond, the unit of the `*_ticks` settings.
TICKS_PER_MS = 10_000
_NACK = {
    pp.ReadReq.Nack.Park: "park",
    pp.ReadReq.Nack.Retry: "retry",
    pp.ReadReq.Nack.Skip: "skip",
    pp.ReadReq.Nack.Stop: "stop",
    pp.ReadReq.Nack.Unknown: "unknown",
}
_STRATEGY_NAMES = {v: k for k, v in pp.CreateReq.ConsumerStrategy.items()}
#: Messages a consumer may hold unacknowledged when its options say 0.
DEFAULT_BUFFER = 10


# -- options to core ----------------------------------------------------------------------------
def _source_of(options: Any, oneof: str = "stream_option") -> str:
    which = options.WhichOneof(oneof)
    if which == "all":
        return ALL_STREAM
    if which in ("stream_identifier", "stream"):
        return stream_name(getattr(options, which))
    raise E.InvalidRequest("options name neither a stream nor $all")


def _settings(s: Any, strategy: str) -> GroupSettings:
    timeout = (
        s.message_timeout_ms
        if s.WhichOneof("message_timeout") != "message_timeout_ticks"
        else (s.message_timeout_ticks // TICKS_PER_MS)
    )
    after = (
        s.checkpoint_after_ms
        if s.WhichOneof("checkpoint_after") != "checkpoint_after_ticks"
        else (s.checkpoint_after_ticks // TICKS_PER_MS)
    )
    return GroupSettings(
        resolve_links=s.resolve_links,
        extra_statistics=s.extra_statistics,
        max_retry_count=s.max_retry_count,
        min_checkpoint_count=s.min_checkpoint_count,
        max_checkpoint_count=s.max_checkpoint_count,
        max_subscriber_count=s.max_subscriber_count,
        live_buffer_size=s.live_buffer_size or GroupSettings.live_buffer_size,
        read_batch_size=s.read_batch_size or GroupSettings.read_batch_size,
        history_buffer_size=s.history_buffer_size or GroupSettings.history_buffer_size,
        message_timeout_ms=int(timeout),
        checkpoint_after_ms=int(after),
        consumer_strategy=strategy,
    )


def _filter(all_options: Any) -> SourceFilter | None:
    if all_options.WhichOneof("filter_option") != "filter":
        return None
    f = all_options.filter
    which = f.WhichOneof("filter")
    if which is None:
        raise E.InvalidRequest("filter needs stream_identifier or event_type")
    expr = getattr(f, which)
    return SourceFilter(which == "stream_identifier", expr.regex, tuple(expr.prefix))


def config_of(options: Any, strategy: str) -> GroupConfig:
    """The group a Create/Update request describes."""
    which = options.WhichOneof("stream_option")
    flt = None
    if which == "all":
        source = ALL_STREAM
        ao = options.all
        pos = ao.WhichOneof("all_option")
        start = ao.position.commit_position if pos == "position" else FROM_END if pos == "end" else 0
        if "filter_option" in ao.DESCRIPTOR.oneofs_by_name:  # Create has filters, Update has none
            flt = _filter(ao)
    elif which == "stream":
        so = options.stream
        source = stream_name(so.stream_identifier)
        rev = so.WhichOneof("revision_option")
        start = so.revision if rev == "revision" else FROM_END if rev == "end" else 0
    else:  # clients before 21.10: the deprecated stream_identifier and settings.revision
        source = stream_name(options.stream_identifier)
        start = options.settings.revision
    return GroupConfig(source, options.group_name, start, _settings(options.settings, strategy), flt)


# -- core to messages ---------------------------------------------------------------------------
def _event(msg: Message, structured: bool) -> pp.ReadResp:
    RecordedEvent = pp.ReadResp.ReadEvent.RecordedEvent
    ev = pp.ReadResp.ReadEvent(event=RecordedEvent(**recorded_fields(msg.event, structured)))
    ev.retry_count = msg.retry_count
    if msg.link is not None:
        ev.link.CopyFrom(RecordedEvent(**recorded_fields(msg.link, structured)))
        ev.commit_position = record_position(msg.link)
    else:
        ev.commit_position = record_position(msg.event)
    return pp.ReadResp(event=ev)


def info_message(info: GroupInfo) -> pp.SubscriptionInfo:
    """A group's statistics as KurrentDB's SubscriptionInfo."""
    cfg, s = info.config, info.config.settings
    connections = []
    for cid, name, delivered, free, inflight in info.consumers:
        conn = pp.SubscriptionInfo.ConnectionInfo(
            connection_name=cid, total_items=delivered, available_slots=free, in_flight_messages=inflight
        )
        setattr(conn, "from", name or cid)  # `from` is a Python keyword
        connections.append(conn)
    return pp.SubscriptionInfo(
        event_source=cfg.source,
        group_name=cfg.group,
        status=info.status,
        connections=connections,
        total_items=info.total_items,
        last_checkpointed_event_position=cfg.position_text(info.last_checkpoint) if info.last_checkpoint else "",
        last_known_event_position=cfg.position_text(info.last_known) if info.last_known else "",
        resolve_link_tos=s.resolve_links,
        start_from=cfg.start_text(),
        message_timeout_milliseconds=s.message_timeout_ms,
        extra_statistics=s.extra_statistics,
        max_retry_count=s.max_retry_count,
        live_buffer_size=s.live_buffer_size,
        buffer_size=s.history_buffer_size,
        read_batch_size=s.read_batch_size,
        check_point_after_milliseconds=s.checkpoint_after_ms,
        min_check_point_count=s.min_checkpoint_count,
        max_check_point_count=s.max_checkpoint_count,
        read_buffer_count=info.read_buffer_count,
        live_buffer_count=info.read_buffer_count,
        retry_buffer_count=info.retry_buffer_count,
        total_in_flight_messages=info.in_flight,
        outstanding_messages_count=info.outstanding,
        named_consumer_strategy=s.consumer_strategy,
        max_subscriber_count=s.max_subscriber_count,
        parked_message_count=info.parked,
    )


# -- the service --------------------------------------------------------------------------------
class PersistentApi:
    """`PersistentSubscriptions`: Create, Update, Delete, Read, GetInfo, ReplayParked, List, RestartSubsystem."""

    def __init__(self, subs: PersistentSubscriptions, gate: LeaderGate | None = None) -> None:
        self.subs = subs
        self.gate = gate
        if gate is not None:
            subs.store.leads = gate.leads  # followers' groups record no checkpoints

    async def create(self, req: pp.CreateReq) -> pp.CreateResp:
        """Create a group."""
        s = req.options.settings
        strategy = s.consumer_strategy or _STRATEGY_NAMES[s.named_consumer_strategy]
        await self.subs.create(config_of(req.options, strategy))
        return pp.CreateResp()

    async def update(self, req: pp.UpdateReq) -> pp.UpdateResp:
        """Replace a group's settings and start."""
        change = config_of(req.options, _STRATEGY_NAMES[req.options.settings.named_consumer_strategy])
        old = (await self.subs.info(change.source, change.group)).config
        # Update has no filter field: a `$all` group keeps the filter it was created with.
        change = GroupConfig(change.source, change.group, change.start, change.settings, old.filter)
        await self.subs.update(change.source, change.group, change)
        return pp.UpdateResp()

    async def delete(self, req: pp.DeleteReq) -> pp.DeleteResp:
        """Delete a group."""
        await self.subs.delete(_source_of(req.options), req.options.group_name)
        return pp.DeleteResp()

    async def get_info(self, req: pp.GetInfoReq) -> pp.GetInfoResp:
        """One group's statistics."""
        info = await self.subs.info(_source_of(req.options), req.options.group_name)
        return pp.GetInfoResp(subscription_info=info_message(info))

    async def list_groups(self, req: pp.ListReq) -> pp.ListResp:
        """Every group, or those of one stream or of `$all`."""
        o = req.options
        source = None if o.WhichOneof("list_option") != "list_for_stream" else _source_of(o.list_for_stream)
        return pp.ListResp(subscriptions=[info_message(i) for i in await self.subs.list(source)])

    async def replay_parked(self, req: pp.ReplayParkedReq) -> pp.ReplayParkedResp:
        """Deliver parked messages again."""
        o = req.options
        limit = o.stop_at if o.WhichOneof("stop_at_option") == "stop_at" and o.stop_at > 0 else None
        await self.subs.replay_parked(_source_of(o), o.group_name, limit)
        return pp.ReplayParkedResp()

    async def restart_subsystem(self, _req: shared_pb2.Empty) -> shared_pb2.Empty:
        """Stop every group (consumers are dropped) and start them again from their checkpoints."""
        await self.subs.restart()
        return shared_pb2.Empty()

    async def read(self, requests: AsyncIterator[pp.ReadReq]) -> AsyncIterator[pp.ReadResp]:
        """Read a group: options first, then acks and nacks; events flow back as they are due."""
        first = await anext(requests, None)
        if first is None or first.WhichOneof("content") != "options":
            raise E.InvalidRequest("the first ReadReq must carry options")
        o = first.options
        source = _source_of(o)
        structured = o.uuid_option.WhichOneof("content") == "structured"
        consumer = await self.subs.connect(source, o.group_name, "", o.buffer_size or DEFAULT_BUFFER)
        acks = asyncio.create_task(_acks(requests, consumer), name="persistent-acks")
        try:
            yield pp.ReadResp(
                subscription_confirmation=pp.ReadResp.SubscriptionConfirmation(
                    subscription_id=consumer.group.config.subscription_id
                )
            )
            while (msg := await consumer.next()) is not None:
                yield _event(msg, structured)
        finally:
            acks.cancel()
            consumer.close()

    def handlers(self, guard: Guard) -> list[grpc.GenericRpcHandler]:
        """The generic handler of the service; groups are served by the leader only (see LeaderGate)."""
        h = _PersistentHandlers(guard, self.gate)
        return [
            grpc.method_handlers_generic_handler(
                PERSISTENT,
                {
                    "Create": h.unary(pp.CreateReq, self.create, leader="always"),
                    "Update": h.unary(pp.UpdateReq, self.update, leader="always"),
                    "Delete": h.unary(pp.DeleteReq, self.delete, leader="always"),
                    "Read": h.stream_stream(pp.ReadReq, self.read, leader="always"),
                    "GetInfo": h.unary(pp.GetInfoReq, self.get_info, leader="ready"),
                    "ReplayParked": h.unary(pp.ReplayParkedReq, self.replay_parked, leader="always"),
                    "List": h.unary(pp.ListReq, self.list_groups, leader="ready"),
                    "RestartSubsystem": h.unary(shared_pb2.Empty, self.restart_subsystem),
                },
            )
        ]


async def _acks(requests: AsyncIterator[pp.ReadReq], consumer: Consumer) -> None:
    """Apply the consumer's acks and nacks until it closes its side, then end its read."""
    try:
        async for req in requests:
            which = req.WhichOneof("content")
            if which == "ack":
                await consumer.ack(uuid_text(u).lower() for u in req.ack.ids)
            elif which == "nack":
                action = _NACK.get(req.nack.action, "unknown")
                await consumer.nack([uuid_text(u).lower() for u in req.nack.ids], action, req.nack.reason)
            else:
                raise E.InvalidRequest("only the first ReadReq may carry options")
    except ToolkitError as exc:
        consumer.end(exc)
        return
    consumer.end()


#: KurrentDB's status codes for the persistent-subscription conditions.
_CODES: dict[type[ToolkitError], grpc.StatusCode] = {
    GroupExists: grpc.StatusCode.ALREADY_EXISTS,
    MaxSubscribersReached: grpc.StatusCode.FAILED_PRECONDITION,
    SubscriptionDropped: grpc.StatusCode.CANCELLED,
}


class _PersistentHandlers(_Handlers):
    """`_Handlers` with KurrentDB's status codes for the persistent-subscription conditions."""

    async def _fail(self, context: grpc.aio.ServicerContext, err: BaseException) -> None:
        code = _CODES.get(type(err)) if isinstance(err, ToolkitError) else None
        if code is not None and isinstance(err, ToolkitError):
            await context.abort(code, err.message, trailing_metadata=(("exception", str(getattr(err, "code", ""))),))
        await super()._fail(context, err)
