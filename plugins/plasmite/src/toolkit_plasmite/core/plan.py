"""Placement planning: where the next frame goes and which frames must be evicted.

`plan_append` is a pure function of the published state, the ring size, the frame
length and a frame walker (`walk(off)` returns the normalised offset of the frame that
follows the retained frame at `off`). It never touches the file, so it is tested
exhaustively on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from toolkit_plasmite.errors import UsageError

__all__ = ["Plan", "plan_append"]


class Plan(NamedTuple):
    """The outcome of planning one append.

    Attributes:
        start: Ring offset of the new frame.
        wrapped: True when the frame goes to offset 0 and the ring end from `head` is wasted.
        tail: The tail after evictions.
        tail_next: The frame after the tail after evictions.
        oldest: The oldest retained seq after evictions (0 = empty).
        evicted: How many frames were evicted.
    """

    start: int
    wrapped: bool
    tail: int
    tail_next: int
    oldest: int
    evicted: int


def plan_append(
    head: int,
    tail: int,
    tail_next: int,
    oldest: int,
    newest: int,
    ring_size: int,
    length: int,
    walk: Callable[[int], int],
) -> Plan:
    """Plan one append of a `length`-byte frame.

    Args:
        head: Published head (next write offset).
        tail: Published offset of the oldest frame.
        tail_next: Published offset of the frame after the oldest.
        oldest: Oldest retained seq, 0 when empty.
        newest: Newest seq ever written.
        ring_size: Ring size in bytes.
        length: Aligned frame length.
        walk: Returns the offset of the frame after the (retained, non-newest) frame at an offset.

    Returns:
        The placement and the state after evictions.

    Raises:
        UsageError: the frame is larger than the ring.
    """
    if length > ring_size:
        raise UsageError(
            f"message needs {length} bytes but the pool ring holds {ring_size}", hint="create a bigger pool (--size)"
        )
    # Every iteration either places the frame or evicts one frame; at most newest-oldest+1 evictions.
    limit = (newest - oldest + 2) if oldest else 1
    for evicted in range(limit + 1):
        if oldest == 0:
            if head + length <= ring_size:
                return Plan(head, False, head, head, 0, evicted)
            return Plan(0, True, head, head, 0, evicted)
        if head > tail:
            if head + length <= ring_size:
                return Plan(head, False, tail, tail_next, oldest, evicted)
            if length <= tail:
                return Plan(0, True, tail, tail_next, oldest, evicted)
        elif head < tail and head + length <= tail:
            return Plan(head, False, tail, tail_next, oldest, evicted)
        # Evict the oldest frame (the loop counter counts evictions).
        if oldest == newest:
            oldest, tail, tail_next = 0, head, head
        else:
            oldest += 1
            tail = tail_next
            tail_next = head if oldest == newest else walk(tail)
    raise AssertionError("plan_append did not converge")  # pragma: no cover - bounded by the frame count
