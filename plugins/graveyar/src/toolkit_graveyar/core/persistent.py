"""Persistent subscriptions: server-side consumer groups with acks, retries and parking (KurrentDB's model).

A group reads its source (one stream or `$all`) from its checkpoint and hands each message to
one of its consumers, chosen by the group's strategy (RoundRobin, DispatchToSingle, Pinned), at
most `buffer_size` unacknowledged messages per consumer. A message is done when acked, skipped
or parked; nacked for retry or timed out it is delivered again with its retry count raised, and
parked once the count reaches `max_retry_count`. The checkpoint is the last source key below
which everything is done, so after a restart delivery resumes there (at least once).
Where the state lives is in `persistent_state`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from toolkit_graveyar.core.codec import decode_record
from toolkit_graveyar.core.errors import ServerBusy, WrongExpectedVersion
from toolkit_graveyar.core.links import LINK_EVENT, resolve_link
from toolkit_graveyar.core.periodic import Periodic
from toolkit_graveyar.core.persistent_state import (
    FROM_END,
    GroupConfig,
    GroupExists,
    GroupNotFound,
    GroupStore,
    MaxSubscribersReached,
    SubscriptionDropped,
)
from toolkit_kernel.errors import ToolkitError

if TYPE_CHECKING:
    from toolkit_graveyar.core.service import EventStoreService

__all__ = ["Consumer", "GroupInfo", "Message", "NackAction", "PersistentSubscriptions"]

log = logging.getLogger("graveyar.persistent")

NackAction = str  # "park" | "retry" | "skip" | "stop" | "unknown"
#: How often the group looks for timed-out messages and a due checkpoint (seconds).
TICK = 0.5
#: Seconds `stop` waits for the group's tasks to end.
STOP_WAIT = 5.0
#: Seconds between checks that the running groups are the recorded ones (other servers change them).
SYNC_EVERY = 1.0
#: Attempts a Create/Update/Delete makes to record its change while other servers keep recording theirs.
RECORD_ATTEMPTS = 10
#: Longest pause (seconds) between two of those attempts; each pause is random up to a doubling bound.
RECORD_BACKOFF_MAX = 0.2


@dataclass(slots=True)
class Message:
    """One delivery: the event record, the link it came through (if any) and its retry count.

    `key` is the source key (a 1-based version, or a `$all` position) the checkpoint counts, None
    for a replayed parked message (it is outside the source's order).
    """

    ack_id: str
    event: bytes
    link: bytes | None
    key: int | None
    stream: str
    retry_count: int = 0
    deadline: float = 0.0
    consumer: Consumer | None = None


@dataclass(eq=False)
class Consumer:
    """One connected reader of a group."""

    group: Group
    name: str
    slots: int
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    inflight: dict[str, Message] = field(default_factory=dict)
    #: Messages to send; an error ends the read with it, None ends it cleanly (the reader left).
    queue: asyncio.Queue[Message | ToolkitError | None] = field(default_factory=asyncio.Queue)
    delivered: int = 0

    @property
    def free(self) -> int:
        """Messages this consumer may still receive before it acks some."""
        return self.slots - len(self.inflight)

    async def next(self) -> Message | None:
        """The next message for this consumer; None once `end` was called.

        Raises:
            SubscriptionDropped: the group was deleted, updated or stopped.
        """
        item = await self.queue.get()
        if isinstance(item, ToolkitError):
            raise item
        return item

    def end(self, error: ToolkitError | None = None) -> None:
        """End this consumer's read: cleanly, or with `error` (a bad request on its side)."""
        self.queue.put_nowait(error)

    async def ack(self, ids: Iterable[str]) -> None:
        """The consumer processed these messages."""
        await self.group.settle(self, ids, "ack")

    async def nack(self, ids: Iterable[str], action: NackAction, reason: str = "") -> None:
        """The consumer failed these messages; `action` says what happens to them."""
        await self.group.settle(self, ids, action, reason)

    def close(self) -> None:
        """The consumer went away: its unacknowledged messages go to the others."""
        self.group.leave(self)


@dataclass(frozen=True)
class GroupInfo:
    """A group's definition and live statistics (what `GetInfo` and `List` answer)."""

    config: GroupConfig
    status: str
    consumers: list[tuple[str, str, int, int, int]]  # (id, name, delivered, free slots, in flight)
    total_items: int
    last_checkpoint: int | None
    last_known: int | None
    retry_buffer_count: int
    read_buffer_count: int
    in_flight: int
    outstanding: int
    parked: int


class Group:
    """The running state of one group: its reader task, buffers, consumers and checkpoint."""

    def __init__(self, config: GroupConfig, store: GroupStore) -> None:
        self.config = config
        self.store = store
        self.svc = store.svc
        #: Made while this server led: only such a group reads its source and records checkpoints
        #: (a follower's copy only describes the group; see GroupStore.leads).
        self.on_leader = store.leads()
        self.writing = asyncio.Lock()
        self.room = asyncio.Event()
        self._reset()

    def _reset(self) -> None:
        """Forget everything in memory: the next read starts again from the stored checkpoint."""
        self.consumers: list[Consumer] = []
        self.pending: deque[Message] = deque()  # read from the source, not yet delivered
        self.retry: deque[Message] = deque()  # to deliver again, before `pending`
        #: Source keys read and not done yet, in ascending order (dict keeps insertion order).
        self.outstanding: dict[int, None] = {}
        self.last_read: int = 0  # highest source key read (filtered-out events included)
        self.checkpoint: int | None = None
        self.done_since_checkpoint = 0
        self.checkpoint_time = time.monotonic()
        self.total_items = 0
        self.live = False
        self.round_robin = 0
        self.tasks: list[asyncio.Task[None]] = []
        self.checkpointing: asyncio.Task[None] | None = None

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Start reading the source and watching timeouts (on the leader; a follower's copy stays idle)."""
        if not self.on_leader:
            return
        name = self.config.subscription_id
        self.tasks = [
            asyncio.create_task(self._read_source(), name=f"persistent-read {name}"),
            asyncio.create_task(self._tick(), name=f"persistent-tick {name}"),
        ]

    async def stop(self, why: str, *, checkpoint: bool = True) -> None:
        """Drop every consumer, stop the tasks, and record the checkpoint (unless the group is deleted)."""
        for task in self.tasks:
            task.cancel()
        if self.tasks:
            # Bounded: a reader parked deep in a live subscription may take a poll interval to go.
            _, stuck = await asyncio.wait(self.tasks, timeout=STOP_WAIT)
            for task in stuck:
                log.warning("persistent subscription %s: task %s did not stop", self.config.subscription_id, task)
        self.tasks = []
        if self.checkpointing is not None:
            with contextlib.suppress(Exception):
                await self.checkpointing
        for consumer in list(self.consumers):
            consumer.queue.put_nowait(SubscriptionDropped(self.config.source, self.config.group, why))
        self.consumers.clear()
        if checkpoint:
            with contextlib.suppress(ToolkitError):
                await self._write_checkpoint()

    # -- consumers ----------------------------------------------------------------------------------
    def join(self, name: str, buffer_size: int) -> Consumer:
        """A new consumer (raises MaxSubscribersReached)."""
        limit = self.config.settings.max_subscriber_count
        if limit and len(self.consumers) >= limit:
            raise MaxSubscribersReached(self.config.source, self.config.group)
        consumer = Consumer(self, name, max(1, buffer_size))
        self.consumers.append(consumer)
        self._drain()
        return consumer

    def leave(self, consumer: Consumer) -> None:
        """Remove a consumer; its in-flight messages are delivered to others (retry count kept)."""
        if consumer not in self.consumers:
            return
        self.consumers.remove(consumer)
        for msg in consumer.inflight.values():
            msg.consumer = None
            self.retry.append(msg)
        consumer.inflight.clear()
        self._drain()

    # -- reading the source -------------------------------------------------------------------------
    async def _start_after(self) -> int:
        """The source key to read after: the checkpoint, else the configured start."""
        cfg = self.config
        self.checkpoint = await self.store.load_checkpoint(cfg)
        if self.checkpoint is not None:
            return self.checkpoint
        if cfg.start != FROM_END:
            return cfg.start if not cfg.is_all else max(0, cfg.start - 1)
        if cfg.is_all:
            end = await self.svc.store.head()
        else:
            info = await self.svc.store.stream_info(cfg.source)
            end = info.version if info else 0
        # Recorded at once: "the end" means the end when the group started, also after a restart.
        self.last_read = end
        await self._write_checkpoint()
        return end

    async def _read_source(self) -> None:
        try:
            after = await self._start_after()
            self.last_read = after
            cfg = self.config
            async for item in self.svc.subscribe(cfg.source, after):
                if item.kind == "caught_up":
                    self.live = True
                if item.kind != "events":
                    continue
                for raw in item.records:
                    await self._take(raw)
        except asyncio.CancelledError:
            raise
        except ToolkitError as exc:
            level = logging.INFO if self.svc.closed else logging.WARNING
            log.log(level, "persistent subscription %s stopped reading: %s", self.config.subscription_id, exc)

    async def _take(self, raw: bytes) -> None:
        cfg = self.config
        ev = decode_record(raw)
        key = ev.position if cfg.is_all else ev.version
        if key <= self.last_read:
            return
        self.last_read = key
        if cfg.filter is not None and not cfg.filter.matches(ev.stream, ev.event_type):
            self._maybe_checkpoint()
            return
        event, link = raw, None
        if cfg.settings.resolve_links and ev.event_type == LINK_EVENT:
            target = await resolve_link(self.svc.store, ev)
            if target is not None:
                event, link = target, raw
        shown = decode_record(event) if link is not None else ev
        self.outstanding[key] = None
        self.pending.append(Message((decode_record(link) if link else ev).event_id, event, link, key, shown.stream))
        self._drain()
        while len(self.pending) >= cfg.settings.live_buffer_size:
            self.room.clear()
            await self.room.wait()

    # -- delivery -----------------------------------------------------------------------------------
    def _pick(self, msg: Message) -> Consumer | None:
        ready = [c for c in self.consumers if c.free > 0]
        if not ready:
            return None
        strategy = self.config.settings.consumer_strategy
        if strategy == "DispatchToSingle":
            return ready[0]
        if strategy == "Pinned":
            # The same stream goes to the same consumer while the set of consumers is stable.
            target = self.consumers[zlib.crc32(msg.stream.encode()) % len(self.consumers)]
            return target if target.free > 0 else None
        self.round_robin %= len(self.consumers)
        for offset in range(len(self.consumers)):
            candidate = self.consumers[(self.round_robin + offset) % len(self.consumers)]
            if candidate.free > 0:
                self.round_robin = (self.round_robin + offset + 1) % len(self.consumers)
                return candidate
        return None

    def _drain(self) -> None:
        """Deliver buffered messages (retries first) while some consumer has room."""
        timeout = self.config.settings.message_timeout_ms / 1000
        while self.consumers:
            source = self.retry if self.retry else self.pending
            if not source:
                break
            consumer = self._pick(source[0])
            if consumer is None:
                break
            msg = source.popleft()
            msg.consumer = consumer
            msg.deadline = time.monotonic() + timeout if timeout else 0.0
            consumer.inflight[msg.ack_id] = msg
            consumer.delivered += 1
            self.total_items += 1
            consumer.queue.put_nowait(msg)
        if len(self.pending) < self.config.settings.live_buffer_size:
            self.room.set()

    async def settle(self, consumer: Consumer, ids: Iterable[str], action: str, reason: str = "") -> None:
        """Apply an ack or a nack action to the consumer's in-flight messages `ids` (unknown ids are ignored)."""
        if action == "stop":
            # KurrentDB stops the subscription: every consumer is dropped; unacked messages are
            # delivered again (from the checkpoint) to whoever reads the group next.
            await self.stop("a consumer asked to stop the subscription")
            self._reset()
            self.start()
            return
        for ack_id in ids:
            msg = consumer.inflight.pop(ack_id, None)
            if msg is None:
                continue
            msg.consumer = None
            if action in ("ack", "skip"):
                self._done(msg)
            elif action == "park":
                await self._park(msg, reason or "client explicitly nacked the message")
            else:  # retry, and KurrentDB's "unknown"
                await self._retry(msg)
        self._drain()
        self._maybe_checkpoint()

    async def _retry(self, msg: Message) -> None:
        if msg.retry_count >= self.config.settings.max_retry_count:
            await self._park(msg, f"retried {msg.retry_count} times (max_retry_count)")
            return
        msg.retry_count += 1
        self.retry.append(msg)

    async def _park(self, msg: Message, reason: str) -> None:
        await self.store.park(self.config, decode_record(msg.event), reason)
        self._done(msg)

    def _done(self, msg: Message) -> None:
        if msg.key is not None:
            self.outstanding.pop(msg.key, None)
            self.done_since_checkpoint += 1

    # -- checkpoints and timeouts -------------------------------------------------------------------
    def _checkpoint_key(self) -> int:
        """Everything up to this source key is done."""
        if self.outstanding:
            return next(iter(self.outstanding)) - 1
        return self.last_read

    def _maybe_checkpoint(self, *, timer: bool = False) -> None:
        s = self.config.settings
        n = self.done_since_checkpoint
        due = n >= s.max_checkpoint_count or (
            timer and n >= max(1, s.min_checkpoint_count) and self._checkpoint_age() >= s.checkpoint_after_ms / 1000
        )
        if due and (self.checkpointing is None or self.checkpointing.done()):
            self.checkpointing = asyncio.create_task(self._checkpoint_now(), name="persistent-checkpoint")

    async def _checkpoint_now(self) -> None:
        try:
            await self._write_checkpoint()
        except ToolkitError as exc:  # the backend is away: the next due checkpoint tries again
            log.warning("persistent subscription %s: checkpoint not written: %s", self.config.subscription_id, exc)

    def _checkpoint_age(self) -> float:
        return time.monotonic() - self.checkpoint_time

    async def _write_checkpoint(self) -> None:
        if not self.on_leader:
            return
        async with self.writing:
            key = self._checkpoint_key()
            if self.checkpoint is not None and key <= self.checkpoint:
                return
            await self.store.save_checkpoint(self.config, key)
            self.checkpoint, self.done_since_checkpoint = key, 0
            self.checkpoint_time = time.monotonic()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            now = time.monotonic()
            for consumer in list(self.consumers):
                late = [m for m in consumer.inflight.values() if m.deadline and m.deadline <= now]
                for msg in late:
                    consumer.inflight.pop(msg.ack_id, None)
                    msg.consumer = None
                    try:
                        await self._retry(msg)
                    except ToolkitError as exc:
                        log.warning("cannot park a timed-out message: %s", exc)
            self._drain()
            self._maybe_checkpoint(timer=True)

    # -- statistics ---------------------------------------------------------------------------------
    async def info(self) -> GroupInfo:
        """Definition and statistics."""
        if self.checkpoint is None:  # the reader may not have loaded it yet (just started)
            self.checkpoint = await self.store.load_checkpoint(self.config)
        consumers = [(c.id, c.name, c.delivered, c.free, len(c.inflight)) for c in self.consumers]
        in_flight = sum(len(c.inflight) for c in self.consumers)
        return GroupInfo(
            config=self.config,
            status="Live" if self.live else "Behind",
            consumers=consumers,
            total_items=self.total_items,
            last_checkpoint=self.checkpoint,
            last_known=self.last_read or None,
            retry_buffer_count=len(self.retry),
            read_buffer_count=len(self.pending),
            in_flight=in_flight,
            outstanding=len(self.outstanding),
            parked=await self.store.parked_count(self.config),
        )

    async def replay_parked(self, limit: int | None) -> int:
        """Deliver parked messages again (before new ones); return how many."""
        parked = await self.store.take_parked(self.config, limit)
        for p in parked:
            if p.event is None:
                continue  # the event is gone (deleted or truncated): nothing to deliver
            stream = decode_record(p.event).stream
            self.retry.append(Message(decode_record(p.link).event_id, p.event, p.link, None, stream))
        self._drain()
        return len(parked)


class PersistentSubscriptions:
    """Every group of one store: create, update, delete, read, info, list, replay parked.

    The set of groups is the one `$persistentSubscriptionConfig` records, which other servers on
    the same store change too: before each operation, and every `SYNC_EVERY` seconds, the running
    groups are brought in line with it (`_sync`).
    """

    def __init__(self, svc: EventStoreService) -> None:
        self.store = GroupStore(svc)
        self.groups: dict[tuple[str, str], Group] = {}
        self.lock = asyncio.Lock()
        self.loaded = False
        #: The version of the recorded set the running groups match (0: none recorded).
        self.version = 0
        #: Whether this server led when the groups were last brought in line.
        self.led = False
        self._watch = Periodic("graveyar-persistent-sync", SYNC_EVERY, self.load)

    async def load(self) -> None:
        """Run the groups the store records now (at server start, before each operation, periodically)."""
        async with self.lock:
            await self._sync()
            if not self.loaded:
                self.loaded = True
                self._watch.start()

    async def _sync(self, *, force: bool = False) -> None:
        """Bring the running groups in line with the recorded set (the caller holds the lock).

        A group another server deleted or updated stops without a checkpoint (that server wrote
        the group's); when this server became the leader (or stopped being it) every group restarts
        from its stored checkpoint, its readers dropped: a follower's copies neither read their sources
        nor record checkpoints.
        """
        leads = self.store.leads()
        switched = self.loaded and leads != self.led
        if self.loaded and not force and not switched and await self.store.configs_version() == self.version:
            return
        version, configs = await self.store.load_configs()
        stored = {cfg.key: cfg for cfg in configs}
        for key, group in list(self.groups.items()):
            cfg = stored.get(key)
            if cfg is not None and cfg == group.config and not switched:
                continue
            del self.groups[key]
            why = "the group was deleted" if cfg is None else "the group was updated"
            await group.stop("the cluster's leader changed" if switched else why, checkpoint=False)
        for key, cfg in stored.items():
            if key not in self.groups:
                self._start(cfg)
        self.version, self.led = version, leads

    def _start(self, cfg: GroupConfig) -> Group:
        group = Group(cfg, self.store)
        self.groups[cfg.key] = group
        group.start()
        return group

    def _get(self, source: str, name: str) -> Group:
        group = self.groups.get((source, name))
        if group is None:
            raise GroupNotFound(source, name)
        return group

    async def _record(self, change: Callable[[dict[tuple[str, str], GroupConfig]], None]) -> None:
        """Apply `change` to the recorded set and record it; applied again if another server recorded first.

        The caller holds the lock; the running groups match the recorded set afterwards. After
        `RECORD_ATTEMPTS` refusals in a row raises ServerBusy, having recorded nothing.
        """
        for attempt in range(RECORD_ATTEMPTS):
            await self._sync()
            configs = {key: g.config for key, g in self.groups.items()}
            change(configs)
            try:
                self.version = await self.store.save_configs(list(configs.values()), self.version)
            except WrongExpectedVersion:
                await self._sync(force=True)
                # Random pauses up to a doubling bound, so that servers racing each other stop
                # colliding (every one of them would otherwise retry at once, and again).
                await asyncio.sleep(random.uniform(0, min(RECORD_BACKOFF_MAX, 0.005 * 2**attempt)))
                continue
            return
        raise ServerBusy(
            f"the persistent subscription definitions changed {RECORD_ATTEMPTS} times while this change was "
            "being recorded (other servers keep changing them); nothing was changed",
            hint="retry the operation",
            details={"attempts": RECORD_ATTEMPTS},
        )

    async def create(self, cfg: GroupConfig) -> None:
        """Create a group (raises GroupExists)."""
        cfg.check()
        await self.load()

        def add(configs: dict[tuple[str, str], GroupConfig]) -> None:
            if cfg.key in configs:
                raise GroupExists(cfg.source, cfg.group)
            configs[cfg.key] = cfg

        async with self.lock:
            await self._record(add)
            self._start(cfg)

    async def update(self, source: str, name: str, change: GroupConfig) -> None:
        """Replace a group's settings and start; its consumers are dropped and read again from the checkpoint."""
        change.check()
        await self.load()

        def replace(configs: dict[tuple[str, str], GroupConfig]) -> None:
            if (source, name) not in configs:
                raise GroupNotFound(source, name)
            configs[(source, name)] = change

        async with self.lock:
            await self._record(replace)
            old = self.groups.pop((source, name))
            await old.stop("the group was updated")
            self._start(change)

    async def delete(self, source: str, name: str) -> None:
        """Delete a group with its checkpoint and parked messages; its consumers are dropped."""
        await self.load()

        def remove(configs: dict[tuple[str, str], GroupConfig]) -> None:
            if configs.pop((source, name), None) is None:
                raise GroupNotFound(source, name)

        async with self.lock:
            await self._record(remove)
            group = self.groups.pop((source, name))
            await group.stop("the group was deleted", checkpoint=False)
            await self.store.forget(group.config)

    async def connect(self, source: str, name: str, consumer_name: str, buffer_size: int) -> Consumer:
        """A new consumer of a group (raises GroupNotFound, MaxSubscribersReached)."""
        await self.load()
        return self._get(source, name).join(consumer_name, buffer_size)

    async def info(self, source: str, name: str) -> GroupInfo:
        """One group's definition and statistics."""
        await self.load()
        return await self._get(source, name).info()

    async def list(self, source: str | None = None) -> list[GroupInfo]:
        """Every group, or those of one source (`$all` included by name)."""
        await self.load()
        groups = [g for g in self.groups.values() if source is None or g.config.source == source]
        return [await g.info() for g in sorted(groups, key=lambda g: g.config.key)]

    async def replay_parked(self, source: str, name: str, limit: int | None = None) -> int:
        """Deliver up to `limit` (None = all) parked messages of a group again."""
        await self.load()
        return await self._get(source, name).replay_parked(limit)

    async def close(self, why: str = "the server is shutting down") -> None:
        """Stop every group, recording its checkpoint (server shutdown)."""
        await self._watch.stop()
        async with self.lock:
            for group in list(self.groups.values()):
                await group.stop(why)
            self.groups.clear()
            self.loaded = False
            self.version = 0

    async def restart(self) -> None:
        """Stop every group and start them again from the store (KurrentDB's RestartSubsystem)."""
        await self.close("the persistent subscriptions subsystem restarted")
        await self.load()
