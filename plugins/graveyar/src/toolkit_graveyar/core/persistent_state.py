"""What a persistent subscription group is, and where its state lives in the store.

The state lives in system streams, the way KurrentDB keeps it, so it survives a restart on both
backends and a KurrentDB client can read it:

- `$persistentSubscriptionConfig`: each `$PersistentConfig` event holds every group's
  definition (JSON); the last event is the current set.
- `$persistentsubscription-<source>::<group>-checkpoint`: `$SubscriptionCheckpoint` events, the
  last one says up to where every message was acked, skipped or parked (a stream revision as a
  JSON number, or `"C:<commit>/P:<prepare>"` for `$all`). `$maxCount` 1 keeps only the last.
- `$persistentsubscription-<source>::<group>-parked`: one `$>` link event per parked message
  (data `<revision>@<stream>`); replaying raises the stream's `$tb` past the replayed links.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from toolkit_graveyar.core.codec import decode_record
from toolkit_graveyar.core.errors import InvalidRequest, SettingsRefused, StorageFailure, StreamNotFound
from toolkit_graveyar.core.links import LINK_EVENT, link_data, resolve_link
from toolkit_graveyar.core.model import Expected, ProposedEvent, RecordedEvent, StreamMetadata
from toolkit_graveyar.core.service import now_ms
from toolkit_graveyar.core.validation import ALL_STREAM, check_stream_name
from toolkit_kernel.errors import NotFound, ToolkitError

if TYPE_CHECKING:
    from collections.abc import Callable

    from toolkit_graveyar.core.service import EventStoreService

__all__ = [
    "CONFIG_STREAM",
    "STRATEGIES",
    "GroupConfig",
    "GroupExists",
    "GroupNotFound",
    "GroupSettings",
    "GroupStore",
    "MaxSubscribersReached",
    "SourceFilter",
    "SubscriptionDropped",
]

CONFIG_STREAM = "$persistentSubscriptionConfig"
CONFIG_EVENT = "$PersistentConfig"
CHECKPOINT_EVENT = "$SubscriptionCheckpoint"
STRATEGIES = ("RoundRobin", "DispatchToSingle", "Pinned")
#: The start of a group that begins at the end of its source (KurrentDB's `-1`).
FROM_END = -1


# -- errors (KurrentDB's conditions; the gRPC adapter maps them to its status codes) ---------------
class _GroupCondition(ToolkitError):
    """A condition of one group; `details` carry `stream` and `group` (and `reason` when dropped)."""

    template: ClassVar[str] = ""
    advice: ClassVar[str | None] = None

    def __init__(self, source: str, group: str, reason: str = "") -> None:
        details = {"stream": source, "group": group, **({"reason": reason} if reason else {})}
        super().__init__(self.template.format(g=group, s=source, r=reason), hint=self.advice, details=details)


class GroupNotFound(_GroupCondition, NotFound):
    """No such group on that source (gRPC NOT_FOUND)."""

    code: ClassVar[str] = "persistent-subscription-does-not-exist"
    template = "Subscription group {g} on stream {s} does not exist."
    advice = "create it first"


class GroupExists(_GroupCondition):
    """The group already exists on that source (gRPC ALREADY_EXISTS)."""

    kind = "conflict"
    code: ClassVar[str] = "persistent-subscription-exists"
    template = "Subscription group {g} on stream {s} exists."
    advice = "update it, or delete it first"


class MaxSubscribersReached(_GroupCondition):
    """The group has `max_subscriber_count` consumers already (gRPC FAILED_PRECONDITION)."""

    kind = "conflict"
    code: ClassVar[str] = "maximum-subscribers-reached"
    template = "Maximum subscriptions reached for subscription group {g} on stream {s}."


class SubscriptionDropped(_GroupCondition):
    """The group was deleted, updated or stopped while a consumer read it (gRPC CANCELLED)."""

    kind = "conflict"
    code: ClassVar[str] = "persistent-subscription-dropped"
    template = "Subscription group {g} on stream {s} was dropped: {r}."
    advice = "read the group again"


# -- definitions --------------------------------------------------------------------------------
@dataclass(frozen=True)
class GroupSettings:
    """A group's settings, with KurrentDB's names, units and defaults (0 subscribers = no limit)."""

    resolve_links: bool = False
    extra_statistics: bool = False
    max_retry_count: int = 10
    min_checkpoint_count: int = 10
    max_checkpoint_count: int = 1000
    max_subscriber_count: int = 0
    live_buffer_size: int = 500
    read_batch_size: int = 20
    history_buffer_size: int = 500
    message_timeout_ms: int = 30_000
    checkpoint_after_ms: int = 2_000
    consumer_strategy: str = "RoundRobin"

    def check(self) -> GroupSettings:
        """Return self, or raise SettingsRefused naming the first bad setting."""
        if self.consumer_strategy not in STRATEGIES:
            raise SettingsRefused(
                f"unknown consumer strategy {self.consumer_strategy!r}", hint=f"use one of {', '.join(STRATEGIES)}"
            )
        for name in ("max_retry_count", "min_checkpoint_count", "max_checkpoint_count", "max_subscriber_count"):
            if getattr(self, name) < 0:
                raise SettingsRefused(f"{name} must not be negative")
        for name in ("live_buffer_size", "read_batch_size", "history_buffer_size"):
            if getattr(self, name) <= 0:
                raise SettingsRefused(f"{name} must be positive")
        if self.message_timeout_ms < 0 or self.checkpoint_after_ms < 0:
            raise SettingsRefused("message_timeout and checkpoint_after must not be negative")
        if self.min_checkpoint_count > self.max_checkpoint_count:
            raise SettingsRefused("min_checkpoint_count is above max_checkpoint_count")
        if self.read_batch_size >= self.history_buffer_size:
            # KurrentDB refuses this too: one history read would overflow the buffer it fills.
            raise SettingsRefused(
                f"read_batch_size ({self.read_batch_size}) must be below history_buffer_size "
                f"({self.history_buffer_size})"
            )
        return self


@dataclass(frozen=True)
class SourceFilter:
    """A server-side filter of a `$all` group: stream-name or event-type regex (searched) or prefixes."""

    by_stream: bool
    regex: str = ""
    prefixes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "_compiled", re.compile(self.regex) if self.regex else None)
        except re.error as exc:
            raise InvalidRequest(f"filter regex {self.regex!r} is invalid: {exc}") from None

    def matches(self, stream: str, event_type: str) -> bool:
        """True when an event of `stream` with `event_type` passes."""
        subject = stream if self.by_stream else event_type
        if self.prefixes and not subject.startswith(self.prefixes):
            return False
        compiled: re.Pattern[str] | None = getattr(self, "_compiled")  # noqa: B009 - set in __post_init__
        return compiled is None or compiled.search(subject) is not None


@dataclass(frozen=True)
class GroupConfig:
    """One group: its source (a stream or `$all`), name, start, filter and settings.

    `start` is KurrentDB's: a 0-based revision of the stream, or a commit position of `$all`;
    -1 = the end of the source when the group was created.
    """

    source: str
    group: str
    start: int = 0
    settings: GroupSettings = field(default_factory=GroupSettings)
    filter: SourceFilter | None = None

    @property
    def is_all(self) -> bool:
        """True for a group on `$all`."""
        return self.source == ALL_STREAM

    @property
    def key(self) -> tuple[str, str]:
        """(source, group): what names a group."""
        return self.source, self.group

    @property
    def subscription_id(self) -> str:
        """KurrentDB's id of the group: `<source>::<group>`."""
        return f"{self.source}::{self.group}"

    @property
    def checkpoint_stream(self) -> str:
        """The stream of this group's checkpoints."""
        return f"$persistentsubscription-{self.subscription_id}-checkpoint"

    @property
    def parked_stream(self) -> str:
        """The stream of this group's parked messages."""
        return f"$persistentsubscription-{self.subscription_id}-parked"

    def position_text(self, key: int) -> str:
        """KurrentDB's text of a source key: a 0-based revision, or `C:<commit>/P:<prepare>` for `$all`."""
        if self.is_all:
            return f"C:{key}/P:{key}"
        return str(key - 1)

    def start_text(self) -> str:
        """KurrentDB's `start_from`: a revision, or `C:<commit>/P:<prepare>` for `$all` (-1 = the end)."""
        return f"C:{self.start}/P:{self.start}" if self.is_all else str(self.start)

    def check(self) -> GroupConfig:
        """Return self, or raise InvalidRequest."""
        if not self.group:
            raise InvalidRequest("group name is empty")
        check_stream_name(self.source, allow_all=True, writable=False)
        if self.filter is not None and not self.is_all:
            raise InvalidRequest("filters apply to $all groups only")
        if self.start < FROM_END:
            raise InvalidRequest(f"start {self.start} is invalid (-1 = end)")
        self.settings.check()
        return self

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in `$persistentSubscriptionConfig`."""
        out: dict[str, Any] = {"stream": self.source, "group": self.group, "start": self.start}
        out["settings"] = asdict(self.settings)
        if self.filter is not None:
            out["filter"] = {"by_stream": self.filter.by_stream, "regex": self.filter.regex}
            out["filter"]["prefixes"] = list(self.filter.prefixes)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GroupConfig:
        """Inverse of `to_dict`."""
        f = d.get("filter")
        flt = SourceFilter(bool(f["by_stream"]), str(f["regex"]), tuple(f["prefixes"])) if f else None
        # Settings this version does not know (written by a newer one) are ignored, not fatal.
        known = {k: v for k, v in d["settings"].items() if k in GroupSettings.__dataclass_fields__}
        return cls(str(d["stream"]), str(d["group"]), int(d["start"]), GroupSettings(**known), flt)


def _system_event(event_type: str, data: bytes, metadata: dict[str, str] | None = None) -> ProposedEvent:
    return ProposedEvent(str(uuid.uuid4()), event_type, data, metadata or {}, 0, None)


@dataclass(frozen=True)
class Parked:
    """A parked message: its link in the parked stream and the event it points at (None if gone)."""

    link: bytes
    event: bytes | None


class GroupStore:
    """Reads and writes a group's definitions, checkpoints and parked messages in the store."""

    def __init__(self, svc: EventStoreService) -> None:
        self.svc = svc
        #: Whether this server leads its cluster. Groups are served by the leader only, but every
        #: server reads their sources; a follower's groups have no readers, so their progress is not
        #: the group's and their checkpoints would move the leader's back: only the leader records.
        self.leads: Callable[[], bool] = lambda: True

    async def _append(self, stream: str, events: list[ProposedEvent]) -> int:
        # System streams are written through the store (the service keeps `$` names reserved for clients).
        result = await self.svc.store.append(stream, await self.svc.prepare(events), Expected.any())
        return result.version

    async def _last(self, stream: str) -> RecordedEvent | None:
        try:
            recs = await self.svc.store.read_stream(stream, None, True, 1)
        except StreamNotFound:
            return None
        return decode_record(recs[0]) if recs else None

    # -- definitions --------------------------------------------------------------------------------
    async def configs_version(self) -> int:
        """The version of `$persistentSubscriptionConfig` (0: no group was ever recorded)."""
        state = await self.svc.store.stream_state(CONFIG_STREAM)
        return 0 if state is None else state.version

    async def load_configs(self) -> tuple[int, list[GroupConfig]]:
        """Every group, as the last `$PersistentConfig` event lists them, with that event's version."""
        last = await self._last(CONFIG_STREAM)
        if last is None:
            return 0, []
        try:
            return last.version, [GroupConfig.from_dict(d) for d in json.loads(last.data)["entries"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise StorageFailure(f"{CONFIG_STREAM} holds an unreadable definition: {exc}") from None

    async def save_configs(self, configs: list[GroupConfig], version: int) -> int:
        """Record the whole set of groups in place of the set at `version`; return the new version.

        Raises:
            WrongExpectedVersion: another server recorded a set since `version`.
        """
        doc = {"version": 2, "entries": [c.to_dict() for c in configs]}
        event = _system_event(CONFIG_EVENT, json.dumps(doc, sort_keys=True).encode())
        result = await self.svc.store.append(CONFIG_STREAM, await self.svc.prepare([event]), Expected.exact(version))
        return result.version

    # -- checkpoints --------------------------------------------------------------------------------
    async def load_checkpoint(self, cfg: GroupConfig) -> int | None:
        """The last checkpointed source key (a 1-based version or a position), or None."""
        last = await self._last(cfg.checkpoint_stream)
        if last is None:
            return None
        value = json.loads(last.data)
        if cfg.is_all:
            return int(str(value).split("/")[0].removeprefix("C:"))
        return int(value) + 1

    async def save_checkpoint(self, cfg: GroupConfig, key: int) -> None:
        """Record that every message up to source key `key` is done (on the leader; see `leads`)."""
        if not self.leads():
            return
        value: int | str = cfg.position_text(key) if cfg.is_all else key - 1  # a JSON string or number
        stream = cfg.checkpoint_stream
        version = await self._append(stream, [_system_event(CHECKPOINT_EVENT, json.dumps(value).encode())])
        if version == 1:
            await self.svc.store.set_stream_metadata(stream, StreamMetadata(max_count=1))

    # -- parking ------------------------------------------------------------------------------------
    async def park(self, cfg: GroupConfig, event: RecordedEvent, reason: str) -> None:
        """Append a link to `event` to the group's parked stream."""
        meta = {"reason": reason, "added": str(now_ms())}
        link = _system_event(LINK_EVENT, link_data(event), meta)
        await self._append(cfg.parked_stream, [link])

    async def parked_count(self, cfg: GroupConfig) -> int:
        """Parked messages not yet replayed."""
        state = await self.svc.store.stream_state(cfg.parked_stream)
        if state is None or not state.exists:
            return 0
        return max(0, state.version - max(state.truncate_before, 1) + 1)

    async def take_parked(self, cfg: GroupConfig, limit: int | None) -> list[Parked]:
        """Up to `limit` (None = all) parked messages, oldest first; they leave the parked stream."""
        state = await self.svc.store.stream_state(cfg.parked_stream)
        if state is None or not state.exists:
            return []
        try:
            links = await self.svc.store.read_stream(cfg.parked_stream, None, False, limit or 0)
        except StreamNotFound:
            return []
        if not links:
            return []
        out = [Parked(link, await resolve_link(self.svc.store, decode_record(link))) for link in links]
        upto = decode_record(links[-1]).version + 1
        await self.svc.store.set_stream_metadata(cfg.parked_stream, StreamMetadata(truncate_before=upto))
        return out

    async def forget(self, cfg: GroupConfig) -> None:
        """Delete the group's checkpoint and parked streams (the group is being deleted)."""
        for stream in (cfg.checkpoint_stream, cfg.parked_stream):
            state = await self.svc.store.stream_state(stream)
            if state is not None and state.exists:
                await self.svc.store.delete_stream(stream, Expected.any())


def with_settings(cfg: GroupConfig, settings: GroupSettings, start: int) -> GroupConfig:
    """`cfg` with new settings and start (an update keeps the source, name and filter)."""
    return replace(cfg, settings=settings, start=start).check()
