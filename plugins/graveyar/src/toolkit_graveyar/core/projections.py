"""KurrentDB's system projections `$by_category`, `$by_event_type` and `$streams`.

Each reads `$all` from its checkpoint and writes `$>` link events (data `<revision>@<stream>`):

- `$by_category`: every event of a stream `<category>-<rest>` to `$ce-<category>`;
- `$by_event_type`: every event to `$et-<event type>`;
- `$streams`: the first event of every stream to `$streams`.

Events of system streams (`$...`) and events whose type starts with `$` are not projected, so the
projections never feed on their own links. Link ids are derived from the projection and the
event's position: re-projecting after a crash between the links and the checkpoint appends
nothing twice (the store answers the repeated append as a duplicate).

State lives in the store: `$projections-<name>` (`$ProjectionUpdated`, `{"enabled": bool}`, the
last counts; KurrentDB's default is disabled) and `$projections-<name>-checkpoint`
(`$ProjectionCheckpoint`, `{"position": n}`, `$maxCount` 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from toolkit_graveyar.core import errors as E
from toolkit_graveyar.core.codec import decode_record
from toolkit_graveyar.core.errors import StreamNotFound
from toolkit_graveyar.core.links import LINK_EVENT, link_data
from toolkit_graveyar.core.model import Expected, ProposedEvent, RecordedEvent, StreamMetadata
from toolkit_graveyar.core.periodic import Periodic
from toolkit_graveyar.core.validation import ALL_STREAM
from toolkit_kernel.errors import NotFound, ToolkitError

if TYPE_CHECKING:
    from collections.abc import Callable

    from toolkit_graveyar.core.service import EventStoreService

__all__ = ["SYSTEM_PROJECTIONS", "ProjectionNotFound", "ProjectionStats", "SystemProjections", "links_of"]

log = logging.getLogger("graveyar.projections")

SYSTEM_PROJECTIONS = ("$by_category", "$by_event_type", "$streams")
#: Events read without writing a link after which the checkpoint is written anyway.
CHECKPOINT_EVERY = 1000
#: Seconds `disable`, `reset` and shutdown wait for a projection's reader to end.
STOP_WAIT = 5.0
#: Seconds between checks whether this server (still) leads (projections run on the leader only).
LEADER_CHECK = 1.0
#: The namespace of link ids: uuid5(LINKS, "<projection>:<position>").
LINKS = uuid.UUID("5f0c6a8e-3b1d-4c6e-9a57-2f4b8d1e7c30")


class ProjectionNotFound(NotFound):
    """No projection of that name (gRPC NOT_FOUND)."""

    code: ClassVar[str] = "projection-not-found"

    def __init__(self, name: str) -> None:
        super().__init__(
            f"projection {name!r} not found",
            hint=f"graveyar serves the system projections {', '.join(SYSTEM_PROJECTIONS)}",
            details={"name": name},
        )


def links_of(name: str, ev: RecordedEvent) -> list[str]:
    """The streams projection `name` links event `ev` into (none for system streams and `$` types)."""
    if ev.stream.startswith("$") or ev.event_type.startswith("$"):
        return []
    if name == "$by_category":
        category, sep, _ = ev.stream.partition("-")
        return [f"$ce-{category}"] if sep and category else []
    if name == "$by_event_type":
        return [f"$et-{ev.event_type}"]
    return ["$streams"] if ev.version == 1 else []


@dataclass(frozen=True)
class ProjectionStats:
    """What `Statistics` reports of one projection."""

    name: str
    enabled: bool
    running: bool
    position: int  # the checkpoint: every event of $all up to here is projected
    head: int  # the last position of $all when asked
    processed: int  # events read since the server started


class _Runner:
    """One enabled projection: reads `$all` after its checkpoint and appends links."""

    def __init__(self, owner: SystemProjections, name: str, position: int) -> None:
        self.owner = owner
        self.name = name
        self.position = position
        self.processed = 0
        self.task = asyncio.create_task(self._run(), name=f"projection {name}")

    async def _run(self) -> None:
        unsaved = 0
        try:
            async for item in self.owner.svc.subscribe(ALL_STREAM, self.position):
                if item.kind != "events":
                    continue
                wrote = await self._project([decode_record(r) for r in item.records])
                self.position = max(self.position, decode_record(item.records[-1]).position)
                unsaved += len(item.records)
                # A checkpoint is itself an event of $all: writing one per batch regardless would
                # feed the projection its own checkpoints forever.
                if wrote or unsaved >= CHECKPOINT_EVERY:
                    await self.owner.save_checkpoint(self.name, self.position)
                    unsaved = 0
        except asyncio.CancelledError:
            raise
        except ToolkitError as exc:
            log.warning("projection %s stopped: %s", self.name, exc)

    async def _project(self, events: list[RecordedEvent]) -> bool:
        """Append the links of `events`; True when there were any."""
        targets: dict[str, list[ProposedEvent]] = {}
        for ev in events:
            self.processed += 1
            for target in links_of(self.name, ev):
                link_id = str(uuid.uuid5(LINKS, f"{self.name}:{ev.position}"))
                targets.setdefault(target, []).append(ProposedEvent(link_id, LINK_EVENT, link_data(ev), {}, 0, None))
        for target, links in targets.items():
            try:
                await self.owner.append(target, links)
            except (E.DuplicateEventId, E.WrongExpectedVersion):
                # Part of this batch was projected before a restart: append the rest one by one.
                for link in links:
                    with contextlib.suppress(E.DuplicateEventId, E.WrongExpectedVersion):
                        await self.owner.append(target, [link])
        return bool(targets)

    async def stop(self) -> None:
        self.task.cancel()
        # Bounded, like a persistent subscription's tasks (see core.persistent.Group.stop).
        _, stuck = await asyncio.wait({self.task}, timeout=STOP_WAIT)
        if stuck:
            log.warning("projection %s did not stop in %s s", self.name, STOP_WAIT)


class SystemProjections:
    """The three system projections of one store: enable, disable, reset, statistics."""

    def __init__(self, svc: EventStoreService) -> None:
        self.svc = svc
        self.runners: dict[str, _Runner] = {}
        self.lock = asyncio.Lock()
        self.loaded = False
        #: Whether this server leads its cluster (set by the gRPC adapter; a cluster of one leads).
        self.leads: Callable[[], bool] = lambda: True
        #: Whether it led when the projections were last brought in line (`load`).
        self.led = False
        self._watch = Periodic("graveyar-projections-leader", LEADER_CHECK, self.load)

    # -- the store ------------------------------------------------------------------------------
    async def append(self, stream: str, events: list[ProposedEvent]) -> int:
        """Append system events (the service keeps `$` names reserved for clients)."""
        result = await self.svc.store.append(stream, await self.svc.prepare(events), Expected.any())
        return result.version

    async def _last(self, stream: str) -> dict[str, object] | None:
        try:
            recs = await self.svc.store.read_stream(stream, None, True, 1)
        except StreamNotFound:
            return None
        return json.loads(decode_record(recs[0]).data) if recs else None

    async def _enabled(self, name: str) -> bool:
        doc = await self._last(f"$projections-{name}")
        return bool(doc and doc.get("enabled"))

    async def _checkpoint(self, name: str) -> int:
        doc = await self._last(f"$projections-{name}-checkpoint")
        value = doc.get("position", 0) if doc else 0
        return int(value) if isinstance(value, int) else 0

    async def save_checkpoint(self, name: str, position: int) -> None:
        """Record that every event of `$all` up to `position` is projected."""
        stream = f"$projections-{name}-checkpoint"
        event = ProposedEvent(str(uuid.uuid4()), "$ProjectionCheckpoint", json.dumps({"position": position}).encode())
        if await self.append(stream, [event]) == 1:
            await self.svc.store.set_stream_metadata(stream, StreamMetadata(max_count=1))

    async def _record_enabled(self, name: str, enabled: bool) -> None:
        doc = json.dumps({"enabled": enabled}).encode()
        await self.append(f"$projections-{name}", [ProposedEvent(str(uuid.uuid4()), "$ProjectionUpdated", doc)])

    # -- operations ------------------------------------------------------------------------------
    @staticmethod
    def check(name: str) -> str:
        """`name`, or raise ProjectionNotFound."""
        if name not in SYSTEM_PROJECTIONS:
            raise ProjectionNotFound(name)
        return name

    async def load(self) -> None:
        """Run the projections recorded as enabled when this server leads, none when it does not.

        Called at server start, before each operation and every `LEADER_CHECK` seconds: the
        projections follow the leadership (KurrentDB runs them on its leader only).
        """
        async with self.lock:
            leads = self.leads()
            if self.loaded and leads == self.led:
                return
            if leads:
                for name in SYSTEM_PROJECTIONS:
                    if name not in self.runners and await self._enabled(name):
                        self.runners[name] = _Runner(self, name, await self._checkpoint(name))
            else:
                for name in list(self.runners):
                    await self._stop(name)
            self.led = leads
            if not self.loaded:
                self.loaded = True
                self._watch.start()

    async def enable(self, name: str) -> None:
        """Record a projection as enabled and start it from its checkpoint when this server leads."""
        self.check(name)
        await self.load()
        async with self.lock:
            if name not in self.runners:
                await self._record_enabled(name, True)
                if self.led:
                    self.runners[name] = _Runner(self, name, await self._checkpoint(name))

    async def disable(self, name: str, *, write_checkpoint: bool = True) -> None:
        """Stop a projection; it resumes from its checkpoint when enabled again."""
        self.check(name)
        await self.load()
        async with self.lock:
            runner = await self._stop(name)
            if runner is not None and write_checkpoint:
                await self.save_checkpoint(name, runner.position)
            await self._record_enabled(name, False)

    async def reset(self, name: str) -> None:
        """Project `$all` again from the start (links already written are not written twice)."""
        self.check(name)
        await self.load()
        async with self.lock:
            runner = await self._stop(name)
            await self.save_checkpoint(name, 0)
            if runner is not None:
                self.runners[name] = _Runner(self, name, 0)

    async def _stop(self, name: str) -> _Runner | None:
        """Stop and forget the runner of `name`, if it runs (the caller holds the lock)."""
        runner = self.runners.pop(name, None)
        if runner is not None:
            await runner.stop()
        return runner

    async def statistics(self, names: tuple[str, ...] = SYSTEM_PROJECTIONS) -> list[ProjectionStats]:
        """Statistics of the named projections."""
        for name in names:
            self.check(name)
        await self.load()
        head = await self.svc.store.head()
        out = []
        for name in names:
            runner = self.runners.get(name)
            running = runner is not None and not runner.task.done()
            position = runner.position if runner is not None else await self._checkpoint(name)
            processed = runner.processed if runner is not None else 0
            out.append(ProjectionStats(name, runner is not None, running, position, head, processed))
        return out

    async def close(self) -> None:
        """Stop every projection (server shutdown); each resumes from its checkpoint."""
        await self._watch.stop()
        async with self.lock:
            for runner in self.runners.values():
                await runner.stop()
            self.runners.clear()
            self.loaded = False
