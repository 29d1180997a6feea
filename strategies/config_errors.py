"""Error translation: pydantic's errors as `key.path: message` lines in this project's words.

`ConfigError` carries every problem at once. pydantic's error locations become key paths as a user
would type them for `pulumi config set --path` (`endpoints.fraud.strategy.canary.steps[2]`); unknown
keys get a did-you-mean from the model's own field names; ranges are read back from the model.
When a shape check fails, `lenient` rebuilds the value with the failed parts as None and `BadPaths`
remembers them, so the relation rules still run on every part that passed (no error hides another,
none causes a follow-on error of its own).
"""

from __future__ import annotations

import difflib
import functools
import types
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Union, cast, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from sagemaker_rollouts.strategies.config_values import describe_value, is_unknown


class ConfigError(ValueError):
    """Every problem in a stack config, each as `key.path: message`. Raised before any resource."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        super().__init__(
            f"{len(self.errors)} problem(s) in the stack config:\n"
            + "\n".join(f"  - {e}" for e in self.errors)
        )


Loc = tuple[int | str, ...]


def key_path(loc: Iterable[int | str]) -> str:
    """`("endpoints", "fraud", "variants", 0, "name")` -> `endpoints.fraud.variants[0].name`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types an annotation can hold (Annotated, Optional and unions removed)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [t for a in get_args(annotation) for t in _unwrap(a)]
    return [annotation]


def _model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class that holds the key at `loc` (its last part), walking fields and containers."""
    current: list[Any] = [root]
    for part in loc[:-1]:
        nxt: list[Any] = []
        for t in current:
            if isinstance(t, type) and issubclass(t, BaseModel):
                field = t.model_fields.get(str(part))
                if field is not None:
                    nxt += _unwrap(field.annotation)
            elif get_origin(t) is list and isinstance(part, int):
                nxt += _unwrap(get_args(t)[0])
            elif get_origin(t) is dict:
                nxt += _unwrap(get_args(t)[1])
        current = nxt
    for t in current:
        if isinstance(t, type) and issubclass(t, BaseModel):
            return t
    return None


def unknown_key(root: type[BaseModel], loc: Loc) -> str:
    """The "unknown key" message, with a did-you-mean from the fields of the model holding `loc`."""
    model = _model_at(root, loc) if loc else None
    if model is None:
        return "unknown key"
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key; {hint}allowed here: {', '.join(allowed)}"


_TYPE_WORDS = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping of keys to values",
    "model_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values",
    "list_type": "a list",
}


def _bounds(root: type[BaseModel], loc: Loc) -> tuple[Any, Any]:
    """The (ge, le) bounds declared on the field at `loc`, where the model states them."""
    model = _model_at(root, loc) if loc else None
    if model is None or not isinstance(loc[-1], str) or loc[-1] not in model.model_fields:
        return None, None
    lo = hi = None
    todo: list[Any] = [model.model_fields[str(loc[-1])]]
    while todo:
        item = todo.pop()
        lo = getattr(item, "ge", lo)
        hi = getattr(item, "le", hi)
        todo += list(getattr(item, "metadata", ()))
        if isinstance(item, FieldInfo):
            todo.append(item.annotation)
        elif get_origin(item) is Annotated:
            todo += list(get_args(item)[1:])
        elif get_origin(item) in (Union, types.UnionType):
            todo += list(get_args(item))
    return lo, hi


def _message(root: type[BaseModel], err: Any, loc: Loc) -> str:
    kind: str = err["type"]
    ctx: dict[str, Any] = err.get("ctx") or {}
    given = describe_value(err.get("input"))
    if kind == "extra_forbidden":
        return unknown_key(root, loc)
    if kind == "missing":
        return "required key is missing"
    if kind in _TYPE_WORDS:
        return f"must be {_TYPE_WORDS[kind]}, got {given}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        lo, hi = _bounds(root, loc)
        if lo is not None and hi is not None:
            return f"must be {lo}..{hi}, got {given}"
        op = {"greater_than_equal": ">=", "less_than_equal": "<=", "greater_than": ">"}.get(
            kind, "<"
        )
        limit = next(iter(ctx.values())) if ctx else "?"
        return f"must be {op} {limit}, got {given}"
    if kind in ("too_short", "too_long", "string_too_short", "string_too_long"):
        value = err.get("input")
        if isinstance(value, str):
            unit, n = "characters", len(value)
        else:
            unit, n = "items", ctx.get("actual_length", "?")
        if "min_length" in ctx:
            return f"must have at least {ctx['min_length']} {unit}, got {n}"
        return f"must have at most {ctx.get('max_length')} {unit}, got {n}"
    if kind == "literal_error":
        return f"must be {ctx.get('expected')}, got {given}"
    if kind == "string_pattern_mismatch":
        return f"does not have the expected form, got {given}"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    return f"{err['msg']}, got {given}"


def pydantic_errors(
    root: type[BaseModel],
    exc: ValidationError,
    prefix: Loc = (),
    at: Loc = (),
    unknown: Iterable[Loc] = (),
) -> tuple[list[str], list[Loc]]:
    """Readable `path: message` lines, and the failed locations (relative to the validated value).

    `prefix` is the user's key path of the validated value; `at` its location inside `root` (for a
    single field validated on its own). Failures at or under an `unknown` location (a secret,
    `[secret]` offline) are returned as locations but never as messages: an unknown value is
    not checked (`config_load.secret_locations`).
    """
    seen: set[str] = set()
    out: list[str] = []
    locs: list[Loc] = []
    hidden = tuple(unknown)
    for err in exc.errors(include_url=False):
        loc: Loc = tuple(err["loc"])
        # A dict key that fails its own check is reported under the key itself.
        if loc and loc[-1] == "[key]":
            loc = loc[:-1]
        locs.append(loc)
        if any(loc[: len(u)] == u for u in hidden):
            continue
        line = f"{key_path((*prefix, *loc)) or 'config'}: {_message(root, err, (*at, *loc))}"
        if line not in seen:
            seen.add(line)
            out.append(line)
    return out, locs


def describe_validation_error(
    exc: ValidationError, root: type[BaseModel] | None = None, prefix: Loc = ()
) -> list[str]:
    """pydantic's errors as `key.path: message` lines in this module's words.

    `root` is the model that was validated (for "did you mean" and range hints); `prefix` is the
    key path the validated data sits at (e.g. `("endpoints", "fraud")`).
    """
    if root is None:
        from sagemaker_rollouts.strategies.config_model import EndpointConfig

        root = EndpointConfig
    return pydantic_errors(root, exc, prefix)[0]


# --------------------------------------------------------------------------- lenient pass-1 result

# --------------------------------------------------------------------------- lenient pass-1 result


def given(value: object) -> bool:
    """False for a part of a lenient model whose shape check failed (it holds None)."""
    return value is not None


class BadPaths:
    """The key paths whose shape check failed, or whose value is unknown offline (a secret):
    relations that need them are skipped. Only `failed` ones keep the endpoint out of the config."""

    def __init__(self, paths: Iterable[str], unknown: Iterable[str] = ()) -> None:
        self.unknown = set(unknown)
        self.paths = set(paths) | self.unknown

    @property
    def failed(self) -> set[str]:
        return self.paths - self.unknown

    def ok(self, *paths: str) -> bool:
        """True when no failed path is any of `paths` or lies under one."""
        for p in paths:
            for b in self.paths:
                if b == p or b.startswith((p + ".", p + "[")):
                    return False
        return True


@functools.cache
def adapter(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)


def field_type(model: type[BaseModel], name: str) -> Any:
    field = model.model_fields[name]
    return Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation


def lenient(annotation: Any, raw: Any, bad: list[Loc]) -> Any:
    """`raw` validated where it is good; failed parts are None (models built without validation)."""
    if not bad:
        try:
            return adapter(annotation).validate_python(raw)
        except ValidationError:
            return None
    if () in bad:
        return raw if is_unknown(raw) else None
    for t in _unwrap(annotation):
        if isinstance(t, type) and issubclass(t, BaseModel) and isinstance(raw, Mapping):
            values: dict[str, Any] = {}
            items = cast(Mapping[str, Any], raw)
            for name in t.model_fields:
                sub = [loc[1:] for loc in bad if loc[0] == name]
                if name in items:
                    values[name] = lenient(field_type(t, name), items[name], sub)
                elif sub:
                    values[name] = None
            return t.model_construct(**values)
        if get_origin(t) is list and isinstance(raw, list):
            (item,) = get_args(t)
            return [
                lenient(item, v, [loc[1:] for loc in bad if loc[0] == i])
                for i, v in enumerate(cast(list[Any], raw))
            ]
        if get_origin(t) is dict and isinstance(raw, Mapping):
            value_type = get_args(t)[1]
            return {
                str(k): lenient(value_type, v, [loc[1:] for loc in bad if loc[0] == k])
                for k, v in cast(Mapping[Any, Any], raw).items()
            }
    return None


# --------------------------------------------------------------------------- relations (pass 2)
