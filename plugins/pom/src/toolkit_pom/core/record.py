"""Typed records for the start path: what `@dataclass` gives, without compiling code at import.

`dataclasses` writes each class's `__init__`, `__repr__` and `__eq__` (a frozen class also its
`__setattr__`, `__delattr__` and `__hash__`) as source text and compiles it when the module is
imported: ~1 ms of CPU per class (~2 ms for `ProcessSpec`'s 35 fields), paid by every `pom up`
for the ten classes on its path while the processes it started boot on the same cores. A
`Record` subclass gets the same behaviour from the methods below, written once; type checkers
see a dataclass (`typing.dataclass_transform`), so constructors and frozen fields stay checked.

    class Probe(Record, frozen=True):
        kind: str
        period: float = 1.0
        env: Mapping[str, str] = field(default_factory=dict)

Fields are the class's own annotations in order (no inheritance between records, no
`ClassVar`s); `__init__` takes them positionally or by name; `==` compares the fields made
with `compare=True` (the default) of records of the same class; a frozen record refuses
assignment (`FrozenRecordError`, an `AttributeError` like dataclasses') and hashes its
compared fields; `replace` is `dataclasses.replace`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, dataclass_transform

__all__ = ["FrozenRecordError", "Record", "field", "replace"]

_R = TypeVar("_R", bound="Record")
_MISSING: Any = object()


class FrozenRecordError(AttributeError):
    """Assignment to a field of a frozen record."""


class _Field:
    __slots__ = ("compare", "default", "factory", "repr")

    def __init__(self, default: Any, factory: Callable[[], Any] | None, compare: bool, repr: bool) -> None:
        self.default, self.factory, self.compare, self.repr = default, factory, compare, repr


def field(
    *,
    default: Any = _MISSING,
    default_factory: Callable[[], Any] | None = None,
    compare: bool = True,
    repr: bool = True,
) -> Any:
    """A field's default (or a factory of fresh ones), and whether `==` and `repr` include it."""
    return _Field(default, default_factory, compare, repr)


@dataclass_transform(field_specifiers=(field,))
class Record:
    """Base of a record class (see the module docstring)."""

    _fields: ClassVar[tuple[str, ...]] = ()
    _specs: ClassVar[tuple[_Field, ...]] = ()
    _compared: ClassVar[tuple[str, ...]] = ()
    _shown: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, *, frozen: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("__annotations__", {})  # noqa: RUF063  # inspect: not before the processes start
        names = [name for name, kind in own.items() if "ClassVar" not in kind]
        specs: list[_Field] = []
        for name in names:
            value = cls.__dict__.get(name, _MISSING)
            spec = value if isinstance(value, _Field) else _Field(value, None, True, True)
            if spec.default is _MISSING and spec.factory is None and specs and not _required(specs[-1]):
                raise TypeError(f"{cls.__name__}.{name}: a field without a default follows one with a default")
            if isinstance(value, _Field):
                if spec.default is _MISSING:
                    delattr(cls, name)
                else:
                    setattr(cls, name, spec.default)  # as dataclasses: the class attribute is the default
            specs.append(spec)
        cls._fields, cls._specs = tuple(names), tuple(specs)
        cls._compared = tuple(n for n, s in zip(names, specs, strict=True) if s.compare)
        cls._shown = tuple(n for n, s in zip(names, specs, strict=True) if s.repr)
        if frozen:  # only frozen classes pay for a Python-level `__setattr__`
            cls.__setattr__ = _refuse_set  # type: ignore[assignment,method-assign]
            cls.__delattr__ = _refuse_delete  # type: ignore[assignment,method-assign]
        else:
            cls.__hash__ = None  # type: ignore[assignment]  # mutable and compared by value: unhashable

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = type(self)
        if len(args) > len(cls._fields):
            raise TypeError(f"{cls.__name__}() takes {len(cls._fields)} arguments, {len(args)} given")
        for i, (name, spec) in enumerate(zip(cls._fields, cls._specs, strict=True)):
            if i < len(args):
                if name in kwargs:
                    raise TypeError(f"{cls.__name__}() got multiple values for argument {name!r}")
                value = args[i]
            elif name in kwargs:
                value = kwargs.pop(name)
            elif spec.factory is not None:
                value = spec.factory()
            elif spec.default is not _MISSING:
                value = spec.default
            else:
                raise TypeError(f"{cls.__name__}() missing argument {name!r}")
            object.__setattr__(self, name, value)
        if kwargs:
            raise TypeError(f"{cls.__name__}() got an unexpected keyword argument {next(iter(kwargs))!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self._compared)

    def __hash__(self) -> int:  # frozen records only: `__init_subclass__` unsets it for the others
        return hash(tuple(getattr(self, n) for n in self._compared))

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._shown)
        return f"{type(self).__qualname__}({shown})"


def _refuse_set(record: Record, name: str, value: Any) -> None:
    if name in record._fields:
        raise FrozenRecordError(f"cannot assign to field {name!r}")
    object.__setattr__(record, name, value)


def _refuse_delete(record: Record, name: str) -> None:
    if name in record._fields:
        raise FrozenRecordError(f"cannot delete field {name!r}")
    object.__delattr__(record, name)


def _required(spec: _Field) -> bool:
    return spec.default is _MISSING and spec.factory is None


def replace(record: _R, /, **changes: Any) -> _R:
    """A copy of `record` with `changes` (field names) applied, made through its `__init__`."""
    unknown = set(changes) - set(record._fields)
    if unknown:
        raise TypeError(f"{type(record).__name__} has no field {sorted(unknown)[0]!r}")
    return type(record)(**{n: changes.get(n, getattr(record, n)) for n in record._fields})
