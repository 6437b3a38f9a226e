"""Resumable batch reads (`read`) and bounded waits (`wait`), as plasmite's agent tools define them.

A batch is `{messages, next_after_seq, last_returned_seq, oldest_available_seq,
newest_available_seq, fell_behind}` (plus `timed_out` for a wait). Without `after_seq` a read
returns the newest `count` matches; with it, the first `count` matches after that seq, and
`next_after_seq` is where to resume. `fell_behind` says retention overwrote messages after the
cursor (they are gone; reading resumed at the oldest retained one).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from toolkit_plasmite.core.codec import decode_payload, envelope
from toolkit_plasmite.core.notify import Waiter
from toolkit_plasmite.core.pool import Gap, PoolFile
from toolkit_plasmite.core.tail import has_tags
from toolkit_plasmite.errors import CorruptError, UsageError

__all__ = ["DEFAULT_COUNT", "DEFAULT_WAIT_MS", "MAX_COUNT", "MAX_WAIT_MS", "read_batch", "wait_batch"]

DEFAULT_COUNT = 20
MAX_COUNT = 200
DEFAULT_WAIT_MS = 10_000
MAX_WAIT_MS = 60_000
#: Longest sleep between checks when no wake-up arrives (wake-ups cut it short).
_WAIT_SLICE = 0.25


def _check_count(count: int) -> None:
    if not 1 <= count <= MAX_COUNT:
        raise UsageError(f"count must be between 1 and {MAX_COUNT}")


def _batch(
    messages: Sequence[dict[str, Any]], next_after: int | None, oldest: int | None, newest: int | None, fell: bool
) -> dict[str, Any]:
    return {
        "messages": list(messages),
        "next_after_seq": next_after,
        "last_returned_seq": messages[-1]["seq"] if messages else None,
        "oldest_available_seq": oldest,
        "newest_available_seq": newest,
        "fell_behind": fell,
    }


def read_batch(
    pool: PoolFile,
    count: int = DEFAULT_COUNT,
    after_seq: int | None = None,
    since_ns: int | None = None,
    tags: Sequence[str] = (),
) -> dict[str, Any]:
    """Read one batch without waiting (see the module docstring for its shape).

    Raises:
        UsageError: `count` is outside 1..200 or `after_seq` is negative.
    """
    _check_count(count)
    if after_seq is not None and after_seq < 0:
        raise UsageError("after_seq must be >= 0")
    st = pool.state()
    if not st.oldest:
        return _batch([], after_seq, None, None, False)
    oldest, newest = st.oldest, st.newest
    fell = after_seq is not None and after_seq + 1 < oldest
    start = oldest if after_seq is None else max(oldest, after_seq + 1)
    if start > newest:
        return _batch([], after_seq, oldest, newest, fell)
    # Without a cursor keep the newest `count` matches; with one, the first `count`.
    found: deque[dict[str, Any]] = deque(maxlen=count if after_seq is None else None)
    next_after = after_seq
    cursor = pool.cursor(start)
    path = str(pool.path)
    while True:
        items = cursor.poll(256)
        if not items:
            break
        for item in items:
            if isinstance(item, Gap):
                continue
            seq = item[0]
            if seq > newest:
                return _batch(list(found), next_after, oldest, newest, fell)
            next_after = seq
            try:
                data, mtags = decode_payload(item[2], seq=seq, path=path)
            except CorruptError:
                continue  # one undecodable frame never stops a reader
            if (tags and not has_tags(mtags, tags)) or (since_ns is not None and item[1] < since_ns):
                continue
            found.append(envelope(seq, item[1], data, mtags))
            if after_seq is not None and len(found) >= count:
                return _batch(list(found), next_after, oldest, newest, fell)
    return _batch(list(found), next_after, oldest, newest, fell)


def wait_batch(
    pool: PoolFile,
    after_seq: int | None = None,
    count: int = DEFAULT_COUNT,
    timeout_ms: int = DEFAULT_WAIT_MS,
    tags: Sequence[str] = (),
) -> dict[str, Any]:
    """Wait up to `timeout_ms` for matches after `after_seq` (default: only future messages).

    Returns as soon as a batch has messages (`timed_out` false), or the last empty batch at the
    deadline (`timed_out` true).

    Raises:
        UsageError: `count` outside 1..200, or `timeout_ms` outside 0..60000.
    """
    _check_count(count)
    if not 0 <= timeout_ms <= MAX_WAIT_MS:
        raise UsageError(f"timeout_ms must be between 0 and {MAX_WAIT_MS}")
    cursor = after_seq if after_seq is not None else pool.state().newest
    deadline = time.monotonic() + timeout_ms / 1000
    fell = False
    waiter = Waiter(pool)
    try:
        while True:
            waiter.arm()
            batch = read_batch(pool, count, cursor, None, tags)
            fell = fell or batch["fell_behind"]
            batch["fell_behind"] = fell
            if batch["next_after_seq"] is not None:
                cursor = batch["next_after_seq"]
            left = deadline - time.monotonic()
            if batch["messages"] or left <= 0:
                batch["timed_out"] = not batch["messages"]
                return batch
            waiter.wait(min(left, _WAIT_SLICE))
    finally:
        waiter.close()
