"""`core.record`: the start path's records behave as the dataclasses they replaced."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from toolkit_pom.core.record import FrozenRecordError, Record, field, replace


class Point(Record, frozen=True):
    x: int
    y: int = 0
    tags: dict[str, str] = field(default_factory=dict)
    note: Callable[[], None] | None = field(default=None, compare=False, repr=False)


class Counter(Record):
    name: str
    count: int = 0


def test_arguments_by_position_or_name_with_defaults_and_fresh_factories() -> None:
    a, b = Point(1), Point(x=1, y=2)
    assert (a.x, a.y, b.y) == (1, 0, 2)
    assert a.tags == {}
    assert a.tags is not b.tags
    assert Point.y == 0  # the class attribute is the default, as with dataclasses


@pytest.mark.parametrize(
    ("make", "message"),
    [  # what a type checker also reports (hence the ignores)
        (Point, "missing argument 'x'"),
        (lambda: Point(1, x=2), "multiple values for argument 'x'"),  # type: ignore[misc]
        (lambda: Point(1, z=2), "unexpected keyword argument 'z'"),  # type: ignore[call-arg]
        (lambda: Point(1, 2, {}, None, 5), "takes 4 arguments, 5 given"),  # type: ignore[call-arg]
    ],
)
def test_bad_arguments_raise_type_error(make: Callable[[], object], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        make()


def test_equality_repr_and_hash_follow_the_field_flags() -> None:
    assert Point(1, note=lambda: None) == Point(1)  # `note` is not compared
    assert Point(1) != Point(2)
    assert Point(1) != Counter("x")
    assert repr(Point(1, 2)) == "Point(x=1, y=2, tags={})"
    assert hash(Point(1, tags=None)) == hash(Point(1, tags=None))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        hash(Counter("x"))  # mutable records are unhashable, as mutable dataclasses


def test_frozen_records_refuse_assignment_mutable_ones_allow_it() -> None:
    point = Point(1)
    with pytest.raises(FrozenRecordError):
        point.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del point.y
    counter = Counter("x")
    counter.count += 1
    assert counter == Counter("x", 1)


def test_replace_copies_with_changes_and_rejects_unknown_fields() -> None:
    point = Point(1, 2, {"a": "b"})
    moved = replace(point, y=3)
    assert moved == Point(1, 3, {"a": "b"})
    assert point.y == 2
    with pytest.raises(TypeError, match="no field 'z'"):
        replace(point, z=1)


def test_a_required_field_after_a_default_is_refused() -> None:
    with pytest.raises(TypeError, match="without a default follows"):

        class Bad(Record):
            a: int = 0
            b: int  # type: ignore[misc]
