"""`lambdas.records.dataclass` behaves as `dataclasses.dataclass(frozen=True, ...)`, class for class.

Each case declares the same class body twice, once with each decorator, and drives both through
the same operations; every observable result (value, repr, exception type and message) must match.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from sagemaker_rollouts.lambdas import records

Deco = Callable[[type], type]


def _shapes(deco: Callable[..., Deco], slots: bool) -> dict[str, type]:
    @deco(frozen=True, slots=slots)
    class Empty:
        """No fields."""

    @deco(frozen=True, slots=slots)
    class One:
        """One field."""

        x: float

    @deco(frozen=True, slots=slots)
    class Many:
        """Required fields, defaults, a factory, a method and a property."""

        a: int
        b: str
        c: float | None = None
        d: tuple[int, ...] = ()
        e: list[int] = dataclasses.field(default_factory=lambda: [1])

        def total(self) -> float:
            return self.a + (self.c or 0.0)

        @property
        def twice(self) -> int:
            return 2 * self.a

    return {"Empty": Empty, "One": One, "Many": Many}


CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("Empty", (), {}),
    ("Empty", (1,), {}),
    ("Empty", (), {"z": 1}),
    ("One", (1.5,), {}),
    ("One", (), {"x": float("nan")}),
    ("One", (2.0, 3.0), {}),
    ("One", (), {}),
    ("One", (1.0,), {"x": 2.0}),
    ("Many", (1, "b"), {}),
    ("Many", (1,), {"b": "b", "c": 2.0, "d": (3,)}),
    ("Many", (), {"a": 1, "b": "b", "e": [9]}),
    ("Many", (1,), {}),
    ("Many", (), {}),
    ("Many", (), {"a": 1}),
    ("Many", (1, "b", 2.0, (), [], 7), {}),
    ("Many", (1, "b"), {"nope": 1}),
    ("Many", (1, "b"), {"a": 2}),
]


def _outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return ("ok", fn())
    except Exception as err:  # the type and message are what is compared
        return (type(err).__name__, str(err).replace("records.", ""))


def _field_names(obj: Any) -> list[str]:
    return [f.name for f in dataclasses.fields(obj)]


def _observe(cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
    made = _outcome(lambda: cls(*args, **kwargs))
    if made[0] != "ok":
        return [made]
    obj = made[1]
    same = cls(*args, **kwargs)
    seen: list[Any] = [
        repr(obj),
        obj == same,
        obj != same,
        obj == object(),
        _outcome(lambda: hash(obj) == hash(same)),
        _outcome(lambda: hash(obj)),
        dataclasses.is_dataclass(obj),
        [f.name for f in dataclasses.fields(obj)],
        getattr(type(obj), "__match_args__", None),
        hasattr(obj, "__dict__"),
        [_outcome(lambda n=n: setattr(obj, n, 1)) for n in _field_names(obj)],
        [_outcome(lambda n=n: delattr(obj, n)) for n in _field_names(obj)],
        dataclasses.asdict(obj),
        repr(copy.copy(obj)),
        repr(copy.deepcopy(obj)),
        repr(pickle.loads(pickle.dumps(obj))),
    ]
    if dataclasses.fields(obj):
        first = dataclasses.fields(obj)[0].name
        seen.append(repr(dataclasses.replace(obj, **{first: 42})))
        seen.append(_outcome(lambda: dataclasses.replace(obj, bogus=1)))
    if hasattr(obj, "total"):
        seen += [obj.total(), obj.twice]
    return seen


def _pickleable(slots: bool) -> tuple[dict[str, type], dict[str, type]]:
    # pickle finds classes by qualified name: register each under its own module-level name.
    ours, theirs = _shapes(records.dataclass, slots), _shapes(dataclasses.dataclass, slots)
    for tag, shapes in (("ours", ours), ("theirs", theirs)):
        for name, cls in shapes.items():
            cls.__qualname__ = f"{name}_{tag}_{slots}"
            globals()[cls.__qualname__] = cls
    return ours, theirs


@pytest.mark.parametrize("slots", [True, False])
@pytest.mark.parametrize(("shape", "args", "kwargs"), CALLS)
def test_every_operation_matches_the_standard_frozen_dataclass(
    slots: bool, shape: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    ours, theirs = _pickleable(slots)
    mine = _observe(ours[shape], args, kwargs)
    expected = _observe(theirs[shape], args, kwargs)
    # repr and messages carry the class name, which differs only by its registration tag
    tag = f"_ours_{slots}"
    assert [str(v).replace(tag, "") for v in mine] == [
        str(v).replace(f"_theirs_{slots}", "") for v in expected
    ]


@pytest.mark.parametrize("slots", [True, False])
def test_assigning_any_name_raises_frozen_instance_error(slots: bool) -> None:
    """A name that is not a field too. (CPython 3.11's own frozen slotted dataclasses raise
    TypeError from `super()` there instead: their generated `__setattr__` closes over the class
    that `slots=True` replaced, so that case is not compared above.)"""
    obj = _shapes(records.dataclass, slots)["One"](1.0)
    for act in (lambda: setattr(obj, "other", 1), lambda: delattr(obj, "other")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            act()


def test_class_patterns_match_fields_by_position_and_name() -> None:
    @records.dataclass(frozen=True, slots=True)
    class Point:
        """Two fields."""

        x: int
        y: int = 0

    match Point(1, 2):
        case Point(1, y=y):
            assert y == 2
        case _:
            pytest.fail("the class pattern did not match")


@pytest.mark.parametrize(
    "body",
    [
        "frozen_false",
        "kw_only",
        "no_compare",
        "post_init",
        "own_eq",
        "classvar",
    ],
)
def test_what_it_does_not_implement_is_refused_at_class_creation(body: str) -> None:
    with pytest.raises(TypeError):
        if body == "frozen_false":
            records.dataclass(slots=True)
        elif body == "kw_only":

            @records.dataclass(frozen=True)
            class A:
                """Keyword-only field."""

                x: int = dataclasses.field(kw_only=True)
        elif body == "no_compare":

            @records.dataclass(frozen=True)
            class B:
                """A field left out of equality."""

                x: int = dataclasses.field(compare=False)
        elif body == "post_init":

            @records.dataclass(frozen=True)
            class C:
                """A __post_init__."""

                x: int

                def __post_init__(self) -> None:
                    pass
        elif body == "own_eq":

            @records.dataclass(frozen=True)
            class D:
                """Its own __eq__."""

                x: int

                def __eq__(self, other: object) -> bool:
                    return True

                __hash__ = object.__hash__
        else:

            @records.dataclass(frozen=True)
            class E:
                """A ClassVar."""

                x: int
                k: ClassVar[int] = 1
