"""Pulumi ESC environments of a stack file, evaluated as far as they can be offline.

A stack file's `environment:` is a list of environment names or an inline environment definition
(Pulumi's stack settings file reference). At `pulumi up` the CLI opens them in Pulumi Cloud and
the evaluated `values.pulumiConfig` becomes stack config; a key set in the stack file itself wins
("pulumiConfig resolves against explicit stack configuration: there, the explicit stack value
wins", ESC reserved properties reference). Later environments override earlier ones; `imports`
merge with JSON Merge Patch (RFC 7396), the importing environment's values winning (ESC imports
docs).

Offline there is no Pulumi Cloud. This module evaluates what it can see: inline definitions and
definitions a `load` callback finds (e.g. files exported with `esc env get NAME --definition`),
`${path}` interpolation, `fn::join`, `fn::concat`, `fn::toJSON`, `fn::fromJSON`, `fn::toString`,
`fn::toBase64`, `fn::fromBase64`. `fn::secret` values are secrets (planned as `[secret]`, never
shown). Everything else, `fn::open::*` providers (credentials, secrets managers), rotators,
environments whose definition is not available, is reported as unresolved with its config key
path and the reason, instead of being silently ignored. Pure: no I/O, no Pulumi.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

SECURE_MARKER: dict[str, str] = {"secure": "esc"}  # read by `strip_secure` as an encrypted value
"""What an ESC secret becomes in stack config: an encrypted-looking value (`[secret]` offline)."""

Loader = Callable[[str], Mapping[str, Any] | None]
"""Environment name (`project/env`) -> its definition (`imports`, `values`), or None if unknown."""

_INTERPOLATION = re.compile(r"\$\{([^}]*)\}")
_PATH_PART = re.compile(r"""\.?([A-Za-z_][\w-]*)|\[(\d+)\]|\["([^"]*)"\]""")


@dataclass(frozen=True, slots=True)
class Unresolved:
    """A value the offline evaluation could not produce: `key` is a config key path (or
    `environment NAME`), `reason` says why and what happens at deploy time."""

    key: str
    reason: str

    def line(self) -> str:
        return f"{self.key}: {self.reason}"


@dataclass(frozen=True, slots=True)
class EscResult:
    """`config`: the stack config keys ESC supplies that the stack file does not set, evaluated
    offline (ESC secrets as `SECURE_MARKER`; unknown parts left out). `unresolved`: every value or
    environment that could not be evaluated, in a stable order."""

    environments: tuple[str, ...]
    config: dict[str, Any]
    unresolved: tuple[Unresolved, ...]


@dataclass(frozen=True, slots=True)
class _Unknown:
    reason: str


@dataclass(frozen=True, slots=True)
class _Secret:
    pass


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch: maps merge key by key, `None` deletes, anything else replaces."""
    if not isinstance(patch, Mapping):
        return patch
    out: dict[str, Any] = (
        dict(cast(Mapping[str, Any], target)) if isinstance(target, Mapping) else {}
    )
    for key, value in cast(Mapping[str, Any], patch).items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def environment_names(stack_yaml: Mapping[str, Any]) -> tuple[list[str], Mapping[str, Any] | None]:
    """The environments a stack file imports, and its inline definition (None for a list)."""
    env = stack_yaml.get("environment")
    if env is None:
        return [], None
    if isinstance(env, list):
        return [str(n) for n in cast(list[Any], env)], None
    if isinstance(env, Mapping):
        inline = cast(Mapping[str, Any], env)
        imports: Any = inline.get("imports") or []
        names = [str(n) for n in cast(list[Any], imports)] if isinstance(imports, list) else []
        return names, inline
    raise ValueError("environment: must be a list of environment names or a definition")


class _Evaluator:
    def __init__(self, load: Loader) -> None:
        self.load = load
        self.missing: list[str] = []
        self.cycles: list[str] = []

    def values_of(
        self, names: list[str], own: Mapping[str, Any] | None, seen: tuple[str, ...]
    ) -> Any:
        """Merged raw `values` of `names` (in order), then `own` on top."""
        merged: Any = {}
        for name in names:
            if name in seen:
                self.cycles.append(" -> ".join((*seen, name)))
                continue
            definition = self.load(name)
            if definition is None:
                if name not in self.missing:
                    self.missing.append(name)
                continue
            sub_imports: Any = definition.get("imports") or []
            sub_names = (
                [str(n) for n in cast(list[Any], sub_imports)]
                if isinstance(sub_imports, list)
                else []
            )
            merged = merge_patch(merged, self.values_of(sub_names, definition, (*seen, name)))
        if own is not None:
            merged = merge_patch(merged, own.get("values") or {})
        return merged

    def evaluate(self, node: Any, root: Any, depth: int = 0) -> Any:
        if depth > 50:
            return _Unknown("interpolation nested too deeply (a reference cycle?)")
        if isinstance(node, Mapping):
            items = cast(Mapping[str, Any], node)
            fns = [k for k in items if str(k).startswith("fn::")]
            if len(items) == 1 and fns:
                return self.function(fns[0], items[fns[0]], root, depth)
            return {k: self.evaluate(v, root, depth) for k, v in items.items()}
        if isinstance(node, list):
            return [self.evaluate(v, root, depth) for v in cast(list[Any], node)]
        if isinstance(node, str):
            return self.interpolate(node, root, depth)
        return node

    def interpolate(self, text: str, root: Any, depth: int) -> Any:
        escaped = text.replace("$${", "\0")
        whole = _INTERPOLATION.fullmatch(escaped)
        if whole is not None:
            return self.reference(whole.group(1), root, depth)
        parts: list[str] = []
        pos = 0
        for m in _INTERPOLATION.finditer(escaped):
            parts.append(escaped[pos : m.start()])
            value = self.reference(m.group(1), root, depth)
            if isinstance(value, _Unknown | _Secret):
                return value
            parts.append(value if isinstance(value, str) else json.dumps(value))
            pos = m.end()
        parts.append(escaped[pos:])
        return "".join(parts).replace("\0", "${")

    def reference(self, path: str, root: Any, depth: int) -> Any:
        if path.startswith("environments."):
            return _Unknown(f"${{{path}}} reads another environment (not evaluated offline)")
        node: Any = root
        pos = 0
        while pos < len(path):
            m = _PATH_PART.match(path, pos)
            if m is None or m.end() == pos:
                return _Unknown(f"${{{path}}} is not a property path this evaluator reads")
            key: str | int = m.group(1) or m.group(3) or int(m.group(2))
            if _is_call(node):
                node = self.evaluate(node, root, depth + 1)  # e.g. a provider's output object
                if isinstance(node, _Unknown | _Secret):
                    return node
            if isinstance(key, int) and isinstance(node, list) and key < len(cast(list[Any], node)):
                node = cast(list[Any], node)[key]
            elif isinstance(key, str) and isinstance(node, Mapping) and key in node:
                node = cast(Mapping[str, Any], node)[key]
            else:
                return _Unknown(f"${{{path}}} names nothing in the environment's values")
            pos = m.end()
        return self.evaluate(node, root, depth + 1)

    def function(self, name: str, arg: Any, root: Any, depth: int) -> Any:
        if name == "fn::secret":
            return _Secret()
        if name.startswith("fn::open"):
            provider = name.removeprefix("fn::open::") if name != "fn::open" else "a provider"
            return _Unknown(f"{name} runs {provider} when Pulumi ESC opens the environment")
        if name.startswith("fn::rotate"):
            return _Unknown(f"{name} is a rotated secret, read only when ESC opens the environment")
        value = self.evaluate(arg, root, depth)
        blocked = _first_blocked(value)
        if blocked is not None:
            return blocked
        try:
            match name:
                case "fn::join":
                    sep, items = value
                    return str(sep).join(str(i) for i in items)
                case "fn::concat":
                    return [x for part in value for x in part]
                case "fn::toJSON":
                    return json.dumps(value, separators=(",", ":"))
                case "fn::fromJSON":
                    return json.loads(value)
                case "fn::toString":
                    return value if isinstance(value, str) else json.dumps(value)
                case "fn::toBase64":
                    return base64.b64encode(str(value).encode()).decode()
                case "fn::fromBase64":
                    return base64.b64decode(str(value)).decode()
                case _:
                    return _Unknown(f"{name} is not evaluated offline")
        except (ValueError, TypeError) as exc:
            return _Unknown(f"{name} failed offline: {exc}")


def _is_call(node: Any) -> bool:
    if not isinstance(node, Mapping):
        return False
    keys = list(cast(Mapping[str, Any], node))
    return len(keys) == 1 and str(keys[0]).startswith("fn::")


def _first_blocked(value: Any) -> _Unknown | _Secret | None:
    if isinstance(value, _Unknown | _Secret):
        return value
    if isinstance(value, Mapping):
        for v in cast(Mapping[str, Any], value).values():
            found = _first_blocked(v)
            if found is not None:
                return found
    if isinstance(value, list):
        for v in cast(list[Any], value):
            found = _first_blocked(v)
            if found is not None:
                return found
    return None


def _split(key: str, value: Any, path: str, out: list[Unresolved]) -> tuple[Any, bool]:
    """`value` with unknown parts dropped (each reported) and secrets as `SECURE_MARKER`.

    Returns (value, known): `known` is False when the whole value is unknown.
    """
    if isinstance(value, _Unknown):
        out.append(Unresolved(f"{key}{path}", value.reason))
        return None, False
    if isinstance(value, _Secret):
        out.append(
            Unresolved(f"{key}{path}", "an ESC secret: planned as [secret], never read offline")
        )
        return dict(SECURE_MARKER), True
    if isinstance(value, Mapping):
        kept: dict[str, Any] = {}
        for k, v in cast(Mapping[str, Any], value).items():
            sub, known = _split(key, v, f"{path}.{k}", out)
            if known:
                kept[k] = sub
        return kept, True
    if isinstance(value, list):
        items: list[Any] = []
        for i, v in enumerate(cast(list[Any], value)):
            sub, known = _split(key, v, f"{path}[{i}]", out)
            items.append(sub if known else "[unresolved]")
        return items, True
    return value, True


def resolve(stack_yaml: Mapping[str, Any], load: Loader, *, project: str) -> EscResult:
    """Evaluate a stack file's ESC environments offline (see the module docstring).

    `project` namespaces `pulumiConfig` keys written without one (`greeting` -> `<project>:greeting`).
    Raises ValueError when `environment:` is neither a list nor a mapping.
    """
    names, inline = environment_names(stack_yaml)
    if not names and inline is None:
        return EscResult((), {}, ())
    ev = _Evaluator(load)
    root = ev.values_of(names, inline, ())
    unresolved: list[Unresolved] = []
    for cycle in ev.cycles:
        unresolved.append(
            Unresolved(f"environment {cycle.split(' -> ')[-1]}", f"import cycle {cycle}")
        )
    for name in ev.missing:
        unresolved.append(
            Unresolved(
                f"environment {name}",
                "its definition is not available offline, so none of its pulumiConfig values are "
                f"known here (export it: esc env get {name} --definition > esc/{name}.yaml)",
            )
        )
    raw_config: Any = (
        cast(Mapping[str, Any], root).get("pulumiConfig") if isinstance(root, Mapping) else None
    )
    stack_config: Any = stack_yaml.get("config") or {}
    explicit = (
        {str(k) for k in cast(Mapping[str, Any], stack_config)}
        if isinstance(stack_config, Mapping)
        else set[str]()
    )
    config: dict[str, Any] = {}
    if isinstance(raw_config, Mapping):
        for k, node in cast(Mapping[str, Any], raw_config).items():
            key = k if ":" in k else f"{project}:{k}"
            if key in explicit:
                continue  # the stack file's own value wins
            value, known = _split(key, ev.evaluate(node, root), "", unresolved)
            if known:
                config[key] = value
    shown = tuple(names) if inline is None else (*names, "(inline definition)")
    return EscResult(shown, config, tuple(unresolved))
