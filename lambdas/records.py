"""Frozen dataclasses whose methods are not compiled at import: `dataclass(frozen=True, ...)`.

`dataclasses.dataclass` writes each class's `__init__`, `__repr__`, `__eq__`, `__hash__`,
`__setattr__` and `__delattr__` as source text and compiles it with `exec` when the class is
created: six compilations per class at every import, bytecode cache or not. For the canary
hook's 19 classes that was 10-11 ms of its 13-14 ms import on CPython 3.11 (cProfile: 114
`dataclasses._create_fn` calls), on top of boto3's 160-185 ms.

Here the standard decorator still makes the class (`dataclasses.fields`, `__match_args__`,
`__slots__`; so `dataclasses.replace`, `fields`, `asdict`, `is_dataclass` and class patterns in
`match` work as before) with its generated methods turned off, and this module installs the
same methods as closures over the field names: nothing is compiled. What the standard ones do,
these do (tests/lambdas/test_records.py compares them class for class): positional and keyword
arguments with defaults and default factories, `TypeError` for a missing, repeated or unknown
argument; `repr` as `Name(field=value, ...)`; equality only between instances of the same class,
field tuples compared; the hash of the field tuple; `FrozenInstanceError` on assignment and
deletion; pickling and copying of slotted instances. Supported: `frozen=True` (required) and
`slots`; fields with init, repr, compare and hash at their defaults, not keyword-only; no
ClassVar or InitVar annotation, no `__post_init__` and none of the generated methods written by
the class itself (anything else raises TypeError at class creation: a class never silently
differs).

Type checkers see `dataclasses.dataclass` itself: modules import this one under
`if not TYPE_CHECKING`. Standard library only: ships in the Lambda zips.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform

_C = TypeVar("_C", bound=type)


@dataclass_transform(frozen_default=True)
def dataclass(*, frozen: bool = False, slots: bool = False) -> Callable[[_C], _C]:
    """A class decorator equal in behaviour to `dataclasses.dataclass(frozen=True, slots=...)`.

    Raises TypeError when `frozen` is not True, or a field or the class uses what this does not
    implement (see the module docstring).
    """
    if not frozen:
        raise TypeError("records.dataclass makes frozen classes only: pass frozen=True")

    def wrap(cls: _C) -> _C:
        if "__post_init__" in cls.__dict__:
            raise TypeError(f"{cls.__name__}: __post_init__ is not supported by records.dataclass")
        make: Any = dataclasses.dataclass(init=False, repr=False, eq=False, slots=slots)
        made: _C = make(cls)
        _install(made, slots)
        return made

    return wrap


def _install(cls: Any, slots: bool) -> None:
    fields = dataclasses.fields(cls)
    for f in fields:
        if not (f.init and f.repr and f.compare and f.hash is None and not f.kw_only):
            raise TypeError(f"{cls.__name__}.{f.name}: field() flags are not supported here")
    if len(fields) != len(cls.__dataclass_fields__):
        raise TypeError(f"{cls.__name__}: ClassVar and InitVar annotations are not supported here")
    names = tuple(f.name for f in fields)
    defaults: dict[str, Any] = {}
    factories: dict[str, Callable[[], Any]] = {}
    for f in fields:
        if f.default is not dataclasses.MISSING:
            defaults[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            factories[f.name] = f.default_factory
    key = _key(names)
    methods: dict[str, Callable[..., Any]] = {
        "__init__": _init(f"{cls.__qualname__}.__init__", names, defaults, factories),
        "__repr__": _repr(names),
        "__eq__": _eq(key),
        "__hash__": _hash(key),
        "__setattr__": _frozen_setattr(cls, names),
        "__delattr__": _frozen_delattr(cls, names),
    }
    if slots:  # as dataclasses does for frozen slotted classes: pickle and copy set the fields
        methods["__getstate__"] = _getstate(key)
        methods["__setstate__"] = _setstate(names)
    for attr, fn in methods.items():
        if attr in cls.__dict__ and attr != "__hash__":  # __hash__ = None: set by eq=False
            raise TypeError(f"{cls.__name__} defines {attr}: not supported by records.dataclass")
        fn.__qualname__ = f"{cls.__qualname__}.{attr}"
        setattr(cls, attr, fn)


def _key(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The field tuple of an instance (`attrgetter` returns a bare value for one name)."""
    if len(names) >= 2:
        return attrgetter(*names)
    if len(names) == 1:
        one = names[0]

        def single(obj: Any) -> tuple[Any, ...]:
            return (getattr(obj, one),)

        return single

    def empty(obj: Any) -> tuple[Any, ...]:
        del obj
        return ()

    return empty


def _init(
    where: str,
    names: tuple[str, ...],
    defaults: dict[str, Any],
    factories: dict[str, Callable[[], Any]],
) -> Callable[..., None]:
    count = len(names)
    required = sum(1 for n in names if n not in defaults and n not in factories)
    takes = (
        f"{count + 1} positional argument{'' if count == 0 else 's'}"
        if required == count
        else f"from {required + 1} to {count + 1} positional arguments"
    )
    put = object.__setattr__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        # Checked in CPython's order, with its messages: too many positionals, unknown or
        # repeated keywords, then missing arguments.
        given = len(args)
        if given > count:
            raise TypeError(f"{where}() takes {takes} but {given + 1} were given")
        for name, value in zip(names, args, strict=False):
            put(self, name, value)
        missing: list[str] = []
        for name in names[given:]:
            if name in kwargs:
                put(self, name, kwargs.pop(name))
            elif name in defaults:
                put(self, name, defaults[name])
            elif name in factories:
                put(self, name, factories[name]())
            else:
                missing.append(name)
        if kwargs:
            name = next(iter(kwargs))
            if name in names:
                raise TypeError(f"{where}() got multiple values for argument {name!r}")
            raise TypeError(f"{where}() got an unexpected keyword argument {name!r}")
        if missing:
            raise TypeError(
                f"{where}() missing {len(missing)} required positional "
                f"argument{'s' if len(missing) > 1 else ''}: {_listed(missing)}"
            )

    return __init__


def _listed(names: list[str]) -> str:
    """CPython's listing of missing arguments: 'a', 'a' and 'b', 'a', 'b', and 'c'."""
    quoted = [repr(n) for n in names]
    if len(quoted) == 1:
        return quoted[0]
    if len(quoted) == 2:
        return f"{quoted[0]} and {quoted[1]}"
    return f"{', '.join(quoted[:-1])}, and {quoted[-1]}"


def _hash(key: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any], int]:
    def __hash__(self: Any) -> int:
        return hash(key(self))

    return __hash__


def _getstate(key: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any], list[Any]]:
    def __getstate__(self: Any) -> list[Any]:
        return list(key(self))

    return __getstate__


def _repr(names: tuple[str, ...]) -> Callable[[Any], str]:
    def __repr__(self: Any) -> str:
        body = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{self.__class__.__qualname__}({body})"

    return __repr__


def _eq(key: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any, object], Any]:
    def __eq__(self: Any, other: object) -> Any:
        if other.__class__ is self.__class__:
            return key(self) == key(other)
        return NotImplemented

    return __eq__


def _frozen_setattr(cls: type, names: tuple[str, ...]) -> Callable[[Any, str, Any], None]:
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)  # pyright: ignore[reportUnknownMemberType]

    return __setattr__


def _frozen_delattr(cls: type, names: tuple[str, ...]) -> Callable[[Any, str], None]:
    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)  # pyright: ignore[reportUnknownMemberType]

    return __delattr__


def _setstate(names: tuple[str, ...]) -> Callable[[Any, list[Any]], None]:
    put = object.__setattr__

    def __setstate__(self: Any, state: list[Any]) -> None:
        for name, value in zip(names, state, strict=False):
            put(self, name, value)

    return __setstate__
