"""Scavenging: physically remove the events no read can return any more.

Deleted and tombstoned streams, events below a stream's `$tb`, beyond its `$maxCount` or older
than its `$maxAge` are invisible from the moment the rule applies; a scavenge takes their bytes
out of the store (see `storage.base.doomed` for the rule, applied inside each backend's write
transaction). One scavenge runs at a time per server; it walks the streams by name, each in
short transactions, so appends and reads go on meanwhile and stay correct.

Like KurrentDB, a scavenge reports through a stream: `$scavenges-<id>` gets `$scavengeStarted`
and then `$scavengeCompleted` (JSON: scavengeId, result Success|Stopped|Failed, streamsScanned,
eventsRemoved, bytesRemoved, error).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from toolkit_graveyar.core.errors import StreamNotFound
from toolkit_graveyar.core.model import Expected, ProposedEvent
from toolkit_graveyar.core.users import CALLER, require_admin

if TYPE_CHECKING:
    from toolkit_graveyar.core.service import EventStoreService

__all__ = ["COMPLETED_TYPE", "STARTED_TYPE", "Scavenge", "Scavenger", "scavenge_stream_name"]

log = logging.getLogger("graveyar.scavenge")

STARTED_TYPE = "$scavengeStarted"
COMPLETED_TYPE = "$scavengeCompleted"
#: Streams listed per page while walking the store.
_PAGE = 500


def scavenge_stream_name(scavenge_id: str) -> str:
    """The stream a scavenge reports to."""
    return f"$scavenges-{scavenge_id}"


@dataclass
class Scavenge:
    """One scavenge run and what it did so far."""

    scavenge_id: str
    streams: int = 0
    events: int = 0
    bytes: int = 0
    result: str = "InProgress"  # then Success, Stopped or Failed
    error: str = ""
    stop_requested: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def report(self) -> dict[str, Any]:
        """The `$scavengeCompleted` payload."""
        return {
            "scavengeId": self.scavenge_id,
            "result": self.result,
            "streamsScanned": self.streams,
            "eventsRemoved": self.events,
            "bytesRemoved": self.bytes,
            "error": self.error,
        }


class Scavenger:
    """Starts, stops and runs the server's scavenges (one at a time)."""

    def __init__(self, service: EventStoreService) -> None:
        self.service = service
        self.current: Scavenge | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> tuple[Scavenge, bool]:
        """Start a scavenge; (the scavenge, True) or, if one is running, (that one, False). Admins only."""
        require_admin(CALLER.get(), "scavenge")
        if self.current is not None and not self.current.done.is_set():
            return self.current, False
        run = Scavenge(str(uuid.uuid4()))
        self.current = run
        self._task = asyncio.create_task(self._run(run), name=f"graveyar-scavenge-{run.scavenge_id}")
        return run, True

    def stop(self, scavenge_id: str) -> Scavenge:
        """Ask the running scavenge `scavenge_id` to stop after the chunk it is on. Admins only."""
        require_admin(CALLER.get(), "scavenge")
        run = self.current
        if run is None or run.scavenge_id != scavenge_id or run.done.is_set():
            raise StreamNotFound(
                f"no scavenge {scavenge_id!r} is running",
                hint="start one with StartScavenge (`graveyar scavenge`)",
                details={"scavenge_id": scavenge_id},
            )
        run.stop_requested = True
        return run

    async def _run(self, run: Scavenge) -> None:
        store = self.service.store
        try:
            await self._record(run, STARTED_TYPE, {"scavengeId": run.scavenge_id})
            after = ""
            while not run.stop_requested:
                infos = await store.list_streams("", after, _PAGE)
                if not infos:
                    break
                for info in infos:
                    if run.stop_requested:
                        break
                    purged = await store.scavenge_stream(info.stream, lambda: not run.stop_requested)
                    run.streams += 1
                    run.events += purged.events
                    run.bytes += purged.bytes
                after = infos[-1].stream
            run.result = "Stopped" if run.stop_requested else "Success"
        except Exception as exc:  # reported in $scavengeCompleted and the log; the server goes on
            log.warning("scavenge %s failed: %s", run.scavenge_id, exc)
            run.result, run.error = "Failed", f"{type(exc).__name__}: {exc}"
        log.info("scavenge %s: %s", run.scavenge_id, run.report())
        try:
            await self._record(run, COMPLETED_TYPE, run.report())
        except Exception as exc:
            log.warning("scavenge %s: cannot record its outcome: %s", run.scavenge_id, exc)
        finally:
            run.done.set()

    async def _record(self, run: Scavenge, event_type: str, data: dict[str, Any]) -> None:
        payload = json.dumps(data, sort_keys=True).encode()
        event = ProposedEvent(str(uuid.uuid4()), event_type, payload, {}, 0, None)
        prepared = await self.service.prepare([event])
        await self.service.store.append(scavenge_stream_name(run.scavenge_id), prepared, Expected.any())

    async def close(self) -> None:
        """Stop a running scavenge and wait for it (server shutdown)."""
        if self.current is not None and self._task is not None and not self.current.done.is_set():
            self.current.stop_requested = True
            await asyncio.gather(self._task, return_exceptions=True)
