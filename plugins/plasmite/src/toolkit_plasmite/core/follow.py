"""Follow sessions: which retained messages come first, then which live ones (`follow`, `duplex`).

The selection (`--tail`, `--since`, `--one`, `--where`, `--tag`, `--replay`, `--no-follow`,
self-hiding) exists once here. Where the messages come from is a `FollowSource`: a local pool
file (`LocalSource`, below) or a server (the HTTP adapter's remote source), so a local and a
remote follow cannot disagree.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from toolkit_plasmite.core.codec import envelope
from toolkit_plasmite.core.pool import Frame, Gap, PoolFile
from toolkit_plasmite.core.tail import follow_frames, has_tags, retained_frames
from toolkit_plasmite.core.values import parse_duration, parse_since
from toolkit_plasmite.core.where import WhereFilter
from toolkit_plasmite.errors import CorruptError, UsageError

__all__ = ["Envelope", "FollowRun", "FollowSource", "FollowSpec", "LocalSource", "StopCheck", "StoredEnvelope", "Timed"]

#: A message envelope `{data, meta: {tags}, seq, time}`.
Envelope = dict[str, Any]
#: An envelope with its timestamp in Unix nanoseconds (for --since and --replay).
Timed = tuple[int, Envelope]
#: Polled while a live stream is idle; True ends it.
StopCheck = Callable[[], bool]


class FollowSource(Protocol):
    """Where a follow reads from."""

    def live_edge(self) -> int | None:
        """The seq the live part starts at (None: the source's own newest + 1, decided when it starts)."""

    def history(self, before_seq: int | None, last: int = 0) -> Iterator[Timed]:
        """Retained messages with seq < `before_seq` (all when None), oldest first, without waiting.

        With `last` > 0 only the last `last` of them are needed (`--tail N`): a source may
        skip reading older ones (a server is asked for just those), or yield them anyway.
        """

    def live(self, since_seq: int | None, timeout: float | None, should_stop: StopCheck | None) -> Iterator[Envelope]:
        """Messages from `since_seq` on as they are committed; ends after `timeout` idle seconds or on `should_stop`."""


@dataclass
class FollowSpec:
    """What a follow selects (the flags shared by `follow` and `duplex`, local or remote)."""

    tail: int = 0
    since: str | None = None
    where: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    one: bool = False
    timeout: str | None = None
    replay: float | None = None
    no_follow: bool = False
    hide_from: str | None = None
    filters: WhereFilter | None = field(default=None, repr=False)

    def validate(self) -> None:
        """Check flag combinations and compile `--where` (Usage errors)."""
        if self.tail < 0:
            raise UsageError("--tail must be >= 0")
        if self.since is not None and self.tail:
            raise UsageError("--since and --tail exclude each other")
        if self.timeout:
            parse_duration(self.timeout)
        if self.replay is not None:
            if not math.isfinite(self.replay) or self.replay < 0:
                raise UsageError("--replay SPEED must be a finite number >= 0")
            if not self.tail and self.since is None:
                raise UsageError("--replay needs --tail or --since", hint="plasmite follow POOL --tail 100 --replay 2")
        self.filters = WhereFilter(self.where)

    @property
    def reads_content(self) -> bool:
        """True when the selection looks inside messages (`--tag`, `--where`, self-hiding)."""
        return bool(self.tags or self.where or self.hide_from is not None)

    def matches(self, env: Envelope) -> bool:
        """True when `env` passes --tag, --where and self-hiding."""
        if self.tags and not has_tags(env["meta"]["tags"], self.tags):
            return False
        if self.hide_from is not None and isinstance(env["data"], dict) and env["data"].get("from") == self.hide_from:
            return False
        return not (self.filters and not self.filters.matches(env))


class FollowRun:
    """Iterate for the envelopes to print, in order; afterwards `timed_out` says whether `--timeout` ended it.

    Args:
        source: Where messages come from.
        spec: The selection (validated here).
        start_seq: First live seq (default: the source's live edge when the run starts).
        should_stop: Ends the live part when it returns True (checked while idle).
    """

    def __init__(
        self,
        source: FollowSource,
        spec: FollowSpec,
        start_seq: int | None = None,
        should_stop: StopCheck | None = None,
    ) -> None:
        spec.validate()
        self.source = source
        self.spec = spec
        self.start_seq = start_seq
        self.should_stop = should_stop
        self.timed_out = False

    def _backlog(self, start: int | None) -> list[Timed] | None:
        """Retained matches chosen by --since or --tail (None: --since lies in the future, nothing to do).

        As plasmite 1.2.1, `--tail N` takes the last N retained messages, then filters them.
        """
        spec = self.spec
        if spec.since is not None:
            since_ns = parse_since(spec.since)
            if since_ns > time.time_ns():
                return None
            return [(ts, env) for ts, env in self.source.history(start) if ts >= since_ns and spec.matches(env)]
        if not spec.tail and not spec.no_follow:
            return []
        window: deque[Timed] = deque(self.source.history(start, spec.tail), maxlen=spec.tail or None)
        return [item for item in window if spec.matches(item[1])]

    def __iter__(self) -> Iterator[Envelope]:
        spec = self.spec
        start = self.start_seq if self.start_seq is not None else self.source.live_edge()
        backlog = self._backlog(start)
        if backlog is None:
            return
        if spec.one and backlog:  # the first match, history first (as plasmite 1.2.1)
            yield backlog[0][1]
            return
        if spec.replay is not None:
            yield from _replay(backlog, spec.replay)
            return
        for _, env in backlog:
            yield env
        if spec.no_follow:
            return
        timeout = parse_duration(spec.timeout) if spec.timeout else None
        for env in self.source.live(start, timeout, self.should_stop):
            if not spec.matches(env):
                continue
            yield env
            if spec.one:
                return
        self.timed_out = timeout is not None and not (self.should_stop is not None and self.should_stop())


def _replay(backlog: list[Timed], speed: float) -> Iterator[Envelope]:
    """The backlog again with its original gaps divided by `speed` (0: no pauses)."""
    prev: int | None = None
    for ts, env in backlog:
        if prev is not None and speed > 0:
            delay = (ts - prev) / 1e9 / speed
            if delay > 0:
                time.sleep(delay)
        prev = ts
        yield env


class StoredEnvelope(dict[str, Any]):
    """An envelope that also carries its message as a frame of plasmite's Lite3 stream.

    `lite3_frame` is `[u64be seq][u64be time_ns][u32be length]` and the Lite3 document: the
    stored bytes of a format-3 pool, untouched (`follow --format lite3`).
    """

    __slots__ = ("lite3_frame",)

    def __init__(self, env: Envelope, lite3_frame: bytes) -> None:
        super().__init__(env)
        self.lite3_frame = lite3_frame


class LocalSource:
    """A pool file as a follow source.

    Args:
        pool: The open pool.
        notify: Use the wake-ups (polling decides correctness either way).
        on_gap: Called when messages were evicted before they were read.
        on_corrupt: Called for a message that cannot be decoded (the follow skips it).
        lite3: Yield `StoredEnvelope`s, which keep each message's Lite3 stream frame.
        decode: With `lite3`, False skips decoding when nothing reads the content: the
            envelopes then hold only `seq` (stored documents pass through as stored).
    """

    def __init__(
        self,
        pool: PoolFile,
        notify: bool = True,
        on_gap: Callable[[Gap], None] | None = None,
        on_corrupt: Callable[[CorruptError], None] | None = None,
        lite3: bool = False,
        decode: bool = True,
    ) -> None:
        self.pool = pool
        self.notify = notify
        self.on_gap = on_gap
        self.on_corrupt = on_corrupt
        self.lite3 = lite3
        self.raw = lite3 and not decode

    def _envelope(self, frame: Frame, data: dict[str, Any], tags: list[str]) -> Envelope:
        env = {"seq": frame[0]} if self.raw else envelope(frame[0], frame[1], data, tags)
        if not self.lite3:
            return env
        from toolkit_plasmite.core.lite3_api import stream_frame

        return StoredEnvelope(env, stream_frame(self.pool, frame))

    def live_edge(self) -> int:
        """The seq after the newest committed one."""
        return self.pool.last_seq() + 1

    def history(self, before_seq: int | None, last: int = 0) -> Iterator[Timed]:
        """Retained messages before `before_seq`, oldest first (`last` is not used: frames are read lazily)."""
        for frame, data, tags in retained_frames(self.pool, self.on_corrupt, raw=self.raw):
            if before_seq is not None and frame[0] >= before_seq:
                return
            yield frame[1], self._envelope(frame, data, tags)

    def live(self, since_seq: int | None, timeout: float | None, should_stop: StopCheck | None) -> Iterator[Envelope]:
        """Committed messages from `since_seq` on, waking on the pool's notifications."""
        stream = follow_frames(
            self.pool,
            since_seq=since_seq,
            live=since_seq is None,
            timeout=timeout,
            notify=self.notify,
            on_gap=self.on_gap,
            on_corrupt=self.on_corrupt,
            should_stop=should_stop,
            raw=self.raw,
        )
        for frame, data, tags in stream:
            yield self._envelope(frame, data, tags)
