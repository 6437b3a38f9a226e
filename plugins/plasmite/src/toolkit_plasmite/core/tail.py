"""Following a pool: ordered delivery, tag filters, gap policy, timeouts and waiting.

One generator serves the Python API, the CLI and the HTTP server, so they cannot
disagree on gap or timeout semantics.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any, Literal

from toolkit_plasmite.core.codec import decode_payload
from toolkit_plasmite.core.notify import Waiter
from toolkit_plasmite.core.pool import Frame, Gap, PoolFile
from toolkit_plasmite.errors import CorruptError, RetentionGapError, UsageError

__all__ = ["GapPolicy", "Message4", "follow", "follow_frames", "has_tags", "retained", "retained_frames"]

GapPolicy = Literal["continue", "error"]
#: A decoded message: (seq, timestamp_ns, data, tags).
Message4 = tuple[int, int, dict[str, Any], list[str]]


def has_tags(tags: Sequence[str], required: Sequence[str]) -> bool:
    """True when every required tag is present (exact match, AND)."""
    return all(tag in tags for tag in required)


def _decode(
    item: tuple[int, int, bytes, int], path: str, on_corrupt: Callable[[CorruptError], None] | None
) -> tuple[dict[str, Any], list[str]] | None:
    """Decode one frame's payload; None (after `on_corrupt`) when it cannot be decoded."""
    try:
        return decode_payload(item[2], seq=item[0], path=path)
    except CorruptError as exc:
        if on_corrupt is not None:
            on_corrupt(exc)
        return None


def retained(pool: PoolFile, on_corrupt: Callable[[CorruptError], None] | None = None) -> Iterator[Message4]:
    """Yield every retained message once, oldest first, without waiting (skips evicted and undecodable ones)."""
    for frame, data, tags in retained_frames(pool, on_corrupt):
        yield frame[0], frame[1], data, tags


def retained_frames(
    pool: PoolFile, on_corrupt: Callable[[CorruptError], None] | None = None, raw: bool = False
) -> Iterator[tuple[Frame, dict[str, Any], list[str]]]:
    """`retained` as `(frame, data, tags)`: the frame keeps the stored bytes (`raw`: undecoded, `{}` and `[]`)."""
    cursor = pool.cursor()
    path = str(pool.path)
    while True:
        items = cursor.poll(512)
        if not items:
            return
        for item in items:
            if isinstance(item, Gap):
                continue
            decoded = ({}, []) if raw else _decode(item, path, on_corrupt)
            if decoded is not None:
                yield item, decoded[0], decoded[1]


def _report_gap(gap: Gap, policy: GapPolicy, on_gap: Callable[[Gap], None] | None, path: str) -> None:
    if on_gap is not None:
        on_gap(gap)
    if policy == "error":
        raise RetentionGapError(
            f"messages {gap.expected}..{gap.resumed_at - 1} were evicted before delivery",
            path=path,
            seq=gap.expected,
            hint="read faster, use a bigger pool, or resume from the oldest retained seq",
        )


def _idle_wait(interval: float, deadline: float | None, should_stop: Callable[[], bool] | None) -> float | None:
    """How long to sleep before the next poll, or None when the stream should end."""
    if should_stop is not None and should_stop():
        return None
    if deadline is None:
        return interval
    left = deadline - time.monotonic()
    return None if left <= 0 else min(interval, left)


def follow(pool: PoolFile, **options: Any) -> Generator[Message4, None, None]:
    """`follow_frames` as decoded messages `(seq, timestamp_ns, data, tags)`; the same keyword options."""
    for frame, data, tags in follow_frames(pool, **options):
        yield frame[0], frame[1], data, tags


def _check_options(gap_policy: str, raw: bool, tags: Sequence[str]) -> None:
    if gap_policy not in ("continue", "error"):
        raise UsageError(f"invalid gap policy {gap_policy!r}", hint="use continue or error")
    if raw and tags:
        raise UsageError("a raw stream cannot filter by tags", hint="decode the frames, or drop the tags")


def follow_frames(
    pool: PoolFile,
    *,
    since_seq: int | None = None,
    live: bool = False,
    max_messages: int | None = None,
    timeout: float | None = None,
    tags: Sequence[str] = (),
    gap_policy: GapPolicy = "continue",
    notify: bool = True,
    poll_min: float = 0.001,
    poll_max: float = 0.05,
    on_gap: Callable[[Gap], None] | None = None,
    on_corrupt: Callable[[CorruptError], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    raw: bool = False,
) -> Generator[tuple[Frame, dict[str, Any], list[str]], None, None]:
    """Yield `(frame, data, tags)` for messages as they are committed (the frame keeps the stored bytes).

    Args:
        pool: The open pool.
        since_seq: First seq wanted (inclusive); it sets the expected seq.
        live: Without `since_seq`, start after the newest message instead of at the oldest.
        max_messages: Stop after delivering this many.
        timeout: Stop when no message was delivered for this many seconds.
        tags: Deliver only messages carrying all of these tags.
        gap_policy: `continue` skips evicted messages, `error` raises RetentionGapError.
        notify: Use inotify wake-ups (polling decides correctness either way).
        poll_min: First poll interval when idle (doubles up to `poll_max`).
        poll_max: Longest poll interval.
        on_gap: Called for every reported gap (before the policy applies).
        on_corrupt: Called for a message whose payload cannot be decoded; the stream skips
            it and goes on (one bad frame never stops a reader).
        should_stop: Polled while idle; True ends the stream.
        raw: Yield frames undecoded (`{}` and `[]` for data and tags; `tags` must be empty): the
            binding's Lite3 streams hand out the stored bytes.

    Raises:
        RetentionGapError: under `error`, when messages were evicted before delivery.
    """
    _check_options(gap_policy, raw, tags)
    if max_messages is not None and max_messages <= 0:
        return
    cursor = pool.cursor(since_seq, live=live)
    expect_known = since_seq is not None or live
    required = list(tags)
    path = str(pool.path)
    waiter = Waiter(pool, notify)
    delivered = 0
    interval = poll_min
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            waiter.arm()
            items = cursor.poll(256)
            if items:
                interval = poll_min
                for item in items:
                    if isinstance(item, Gap):
                        if expect_known:
                            _report_gap(item, gap_policy, on_gap, path)
                        continue
                    expect_known = True
                    decoded = ({}, []) if raw else _decode(item, path, on_corrupt)
                    if decoded is None or (required and not has_tags(decoded[1], required)):
                        continue
                    yield item, decoded[0], decoded[1]
                    delivered += 1
                    if max_messages is not None and delivered >= max_messages:
                        return
                    if timeout is not None:
                        deadline = time.monotonic() + timeout
                continue
            wait = _idle_wait(interval, deadline, should_stop)
            if wait is None:
                return
            waiter.wait(wait)
            interval = min(interval * 2, poll_max)
    finally:
        waiter.close()
