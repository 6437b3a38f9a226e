"""A `udp://HOST:PORT/POOL` ref as a follow source (core.follow.FollowSource) for `follow` and `duplex`.

`live_edge` fixes where the live part starts before anything is printed or sent: with a
history selection it reads the history first (a finite subscription) and opens the live
subscription at that history's upper bound + 1, so the two meet without a hole; without
one, the opening PROGRESS of a `new` subscription says where it starts. UDP is best
effort: missing sequences arrive as `UdpGap`s and are reported through `on_gap`, never
waited for.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from typing import Any

from toolkit_plasmite.core import lite3
from toolkit_plasmite.core.codec import envelope
from toolkit_plasmite.core.follow import StoredEnvelope
from toolkit_plasmite.core.lite3_api import pack_stream_frame
from toolkit_plasmite.errors import CorruptError
from toolkit_plasmite.udp.client import (
    UdpClient,
    UdpEvent,
    UdpFollow,
    UdpFollowOptions,
    UdpFrame,
    UdpGap,
    UdpPool,
    UdpProgress,
    UdpStart,
)

__all__ = ["UdpSource"]

#: How long one wait for a packet lasts before `should_stop` and the timeout are checked again.
_SLICE_MS = 50
#: After `should_stop` says stop, how long to wait for messages we sent and have not seen yet.
SETTLE_S = 1.0


def _key(data: Any, tags: list[str]) -> str:
    """How a message we sent is recognised when it comes back (data and tags, canonical JSON)."""
    return json.dumps([data, tags], sort_keys=True, separators=(",", ":"))


class UdpSource:
    """A pool behind a UDP listener as a follow source.

    Args:
        client: The endpoint's client (owned by the caller).
        pool: The pool name.
        history_start: Where the history selection starts (`last(N)` for `--tail N`,
            `since_ns(T)` for `--since`); None: no history, except for a finite source,
            which reads everything retained.
        on_gap: Called with each gap (lost datagrams, or messages evicted before they were sent).
        finite: Only history will be read (`--no-follow`): no live subscription is opened.
        lite3: Yield `StoredEnvelope`s keeping each datagram's Lite3 document (`--format lite3`).

    After a run, `had_gap` and `retention_gap` say whether sequences were skipped (a finite
    read exits 1 or 9 for them).
    """

    def __init__(
        self,
        client: UdpClient,
        pool: str,
        history_start: UdpStart | None = None,
        on_gap: Callable[[UdpGap], None] | None = None,
        finite: bool = False,
        lite3: bool = False,
    ) -> None:
        self.pool: UdpPool = client.open_pool(pool)
        self.lite3 = lite3
        self.history_start = history_start
        self.on_gap = on_gap
        self.finite = finite
        self.had_gap = False
        self.retention_gap = False
        self._live: UdpFollow | None = None
        self._edge: int | None = None
        self._early: deque[UdpEvent] = deque()
        self._history: list[tuple[int, dict[str, Any]]] | None = None
        self._unseen: Counter[str] = Counter()  # sent by `send` (another thread), not seen yet
        self._unseen_lock = threading.Lock()

    # ------------------------------------------------------------------ sending (duplex)
    def send(self, data: Any, tags: list[str] | None = None) -> None:
        """Send one message and expect it back on the live stream (see `live`)."""
        tag_list = tags or []
        with self._unseen_lock:
            self._unseen[_key(data, tag_list)] += 1
        self.pool.send_json(data, tag_list)

    # ------------------------------------------------------------------ FollowSource
    def live_edge(self) -> int | None:
        """Where the live part starts; opens the live subscription.

        With a history selection, the history is read first (a finite subscription) and
        the live one starts right after its upper bound, so nothing falls between them
        and nothing appended later (our own sends) is taken for history. None for a
        finite source: its history stream stops at its own opening bound.
        """
        if self.finite:
            return None
        if self._edge is not None:
            return self._edge
        if self.history_start is not None:
            self._history = []
            end = self._read_history(self._history.append)
            self._edge = end + 1
            self._live = self.pool.follow(UdpFollowOptions(UdpStart.sequence(self._edge), live=True))
            return self._edge
        self._live = self.pool.follow(UdpFollowOptions(UdpStart.new(), live=True))
        while self._edge is None:
            event = self._live.next_event()
            if event is None:
                raise CorruptError("UDP follow ended before it started")
            if isinstance(event, UdpProgress):
                self._edge = event.start_seq
            else:
                self._early.append(event)
        return self._edge

    def history(self, before_seq: int | None, last: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
        """Retained messages of the history selection before `before_seq`, oldest first (all: see `last` below).

        `last` is not used: the history subscription is chosen when the source is opened.
        """
        if self._history is None:
            found: list[tuple[int, dict[str, Any]]] = []
            self._read_history(found.append)
            self._history = found
        for item in self._history:
            if before_seq is not None and item[1]["seq"] >= before_seq:
                return
            yield item

    def _read_history(self, put: Callable[[tuple[int, dict[str, Any]]], None]) -> int:
        """Run the finite history subscription into `put`; return its upper bound (the newest seq then)."""
        end = 0
        start = self.history_start or UdpStart.since_ns(0)
        with self.pool.follow(UdpFollowOptions(start, live=False)) as stream:
            for event in stream:
                if isinstance(event, UdpFrame):
                    put((event.timestamp_ns, self._envelope(event)[0]))
                elif isinstance(event, UdpGap):
                    self._report(event)
                else:
                    end = event.end_seq or 0
                    if event.retention_gap:
                        self.had_gap = self.retention_gap = True
        return end

    def live(
        self, since_seq: int | None, timeout: float | None, should_stop: Callable[[], bool] | None
    ) -> Iterator[dict[str, Any]]:
        """Messages from `since_seq` on; ends after `timeout` idle seconds or once `should_stop` holds.

        `should_stop` is asked while no packet is waiting; when it says stop, messages this
        source sent and has not seen come back are still waited for, up to `SETTLE_S`
        seconds without a packet (a lost datagram never arrives).
        """
        stream = self._open_live(since_seq)
        deadline = None if timeout is None else time.monotonic() + timeout
        settle_until: float | None = None
        while True:
            event = self._early.popleft() if self._early else stream.next_event(timeout_ms=_SLICE_MS)
            now = time.monotonic()
            if isinstance(event, UdpFrame):
                env, key = self._envelope(event)
                self._seen(key)
                settle_until = None if settle_until is None else now + SETTLE_S
                deadline = None if timeout is None else now + timeout
                yield env
            elif isinstance(event, UdpGap):
                self._report(event)
            elif event is None:  # idle for one slice (or the stream was closed)
                if deadline is not None and now >= deadline:
                    return
                if should_stop is not None and should_stop():
                    with self._unseen_lock:
                        waiting = bool(self._unseen)
                    if not waiting or (settle_until is not None and now >= settle_until):
                        return
                    settle_until = settle_until or now + SETTLE_S

    def _open_live(self, since_seq: int | None) -> UdpFollow:
        """The live subscription, re-opened at `since_seq` when that is not its start."""
        edge = self.live_edge()
        if self._live is None:
            raise CorruptError("UDP live follow was not opened")
        if since_seq is not None and since_seq != edge:
            self._live.close()
            self._live = self.pool.follow(UdpFollowOptions(UdpStart.sequence(since_seq), live=True))
            self._early.clear()
        return self._live

    def _envelope(self, frame: UdpFrame) -> tuple[dict[str, Any], str]:
        """The frame's envelope (a StoredEnvelope with `lite3`) and its `_key`."""
        data, tags = lite3.decode_message(frame.payload)
        env = envelope(frame.seq, frame.timestamp_ns, data, tags)
        if self.lite3:
            env = StoredEnvelope(env, pack_stream_frame(frame.seq, frame.timestamp_ns, frame.payload))
        return env, _key(data, tags)

    def _seen(self, key: str) -> None:
        with self._unseen_lock:
            if self._unseen[key]:
                self._unseen[key] -= 1
                if not self._unseen[key]:
                    del self._unseen[key]

    def _report(self, gap: UdpGap) -> None:
        self.had_gap = True
        if gap.reason == "retention":
            self.retention_gap = True
        if self.on_gap is not None:
            self.on_gap(gap)

    def close(self) -> None:
        """Close the live subscription (one best-effort CLOSE)."""
        if self._live is not None:
            self._live.close()
            self._live = None
