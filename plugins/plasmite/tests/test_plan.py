"""The pure placement planner against a model of the ring."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit_plasmite.core.plan import plan_append
from toolkit_plasmite.errors import UsageError


class ModelRing:
    """Frames as (seq, start, length) in retention order, driven only by plan_append."""

    def __init__(self, ring: int) -> None:
        self.ring = ring
        self.frames: list[tuple[int, int, int]] = []
        self.head = 0
        self.newest = 0

    def walk(self, off: int) -> int:
        idx = [f[1] for f in self.frames].index(off)
        return self.frames[idx + 1][1]

    def append(self, length: int) -> None:
        tail = self.frames[0][1] if self.frames else self.head
        tail_next = self.frames[1][1] if len(self.frames) > 1 else self.head
        oldest = self.frames[0][0] if self.frames else 0
        plan = plan_append(self.head, tail, tail_next, oldest, self.newest, self.ring, length, self.walk)
        self.frames = self.frames[plan.evicted :]
        if self.frames:
            assert plan.tail == self.frames[0][1]
            assert plan.oldest == self.frames[0][0]
        else:
            assert plan.oldest == 0
        end = plan.start + length
        assert end <= self.ring
        for _, s, ln in self.frames:  # the new frame never overlaps a retained one
            assert end <= s or s + ln <= plan.start
        if plan.wrapped:  # the wasted end never holds a retained frame either
            for _, s, ln in self.frames:
                assert s + ln <= self.head or s >= self.ring
        self.newest += 1
        self.frames.append((self.newest, plan.start, length))
        self.head = 0 if end >= self.ring else end


@settings(max_examples=300, deadline=None)
@given(ring_units=st.integers(16, 300), lengths=st.lists(st.integers(9, 60), min_size=1, max_size=120))
def test_plan_never_overlaps_and_evicts_oldest_first(ring_units: int, lengths: list[int]) -> None:
    ring = ring_units * 8
    model = ModelRing(ring)
    for units in lengths:
        length = units * 8
        if length > ring:
            with pytest.raises(UsageError):
                model.append(length)
            continue
        model.append(length)
        seqs = [f[0] for f in model.frames]
        assert seqs == list(range(seqs[0], model.newest + 1))  # contiguous, newest kept


def test_plan_too_big_is_usage() -> None:
    with pytest.raises(UsageError, match="ring holds"):
        plan_append(0, 0, 0, 0, 0, 1024, 1032, lambda off: 0)


def test_plan_fits_without_eviction() -> None:
    plan = plan_append(80, 0, 80, 1, 1, 1024, 80, lambda off: 0)
    assert plan.start == 80
    assert plan.evicted == 0
    assert not plan.wrapped
