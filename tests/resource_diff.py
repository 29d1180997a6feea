"""Compare two offline runs the way the Pulumi engine and the AWS provider would.

A resource is replaced when an input the provider marks ForceNew changes
(`strategies.lifecycle.FORCE_NEW`, read from terraform-provider-aws) or one named in its
`replaceOnChanges` option; updated in place when any other input changes. Under mocks a replaced
resource keeps its autoname, while on AWS it gets a new one: so every input that mentions a
replaced resource's physical name or ARN counts as changed (processed in dependency order).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sagemaker_rollouts.simulator.mockrun import OfflineRun, RecordedResource, redact
from sagemaker_rollouts.strategies.lifecycle import ALL_BUT_TAGS, FORCE_NEW, Effect

_TAGS = {"tags", "tagsAll"}
_RANK: dict[Effect, int] = {"none": 0, "update": 1, "replace": 2}


def _lookup(inputs: dict[str, Any], path: str) -> Any:
    node: Any = inputs
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]  # type: ignore[reportUnknownVariableType]
    return node  # type: ignore[reportUnknownVariableType]


def _mark(value: Any, replaced: set[str]) -> Any:
    if isinstance(value, str):
        low = value.lower()
        return f"<new>{value}" if any(r in low for r in replaced) else value
    if isinstance(value, dict):
        return {k: _mark(v, replaced) for k, v in value.items()}  # type: ignore[reportUnknownVariableType]
    if isinstance(value, list):
        return [_mark(v, replaced) for v in value]  # type: ignore[reportUnknownVariableType]
    return value


def _ordered(resources: Iterable[RecordedResource]) -> list[RecordedResource]:
    by_urn = {r.urn: r for r in resources}
    done: set[str] = set()
    out: list[RecordedResource] = []

    def visit(r: RecordedResource) -> None:
        if r.urn in done:
            return
        done.add(r.urn)
        for dep in r.depends_on:
            if dep in by_urn:
                visit(by_urn[dep])
        out.append(r)

    for r in by_urn.values():
        visit(r)
    return out


def effect_of(type_: str, before: RecordedResource, after_inputs: dict[str, Any],
              replace_on_changes: tuple[str, ...]) -> Effect:  # fmt: skip
    b = redact(before.inputs)
    after_inputs = redact(after_inputs)
    forced = FORCE_NEW.get(type_, ())
    keys = (set(b) | set(after_inputs)) - _TAGS
    if ALL_BUT_TAGS in forced and any(b.get(k) != after_inputs.get(k) for k in keys):
        return "replace"
    paths = [p for p in (*forced, *replace_on_changes) if p != ALL_BUT_TAGS]
    if any(_lookup(b, p) != _lookup(after_inputs, p) for p in paths):
        return "replace"
    if any(b.get(k) != after_inputs.get(k) for k in set(b) | set(after_inputs)):
        return "update"
    return "none"


def diff(before: OfflineRun, after: OfflineRun) -> dict[str, Effect]:
    """Effect per logical resource name (custom resources only). Created or deleted: replace."""
    old = {(r.type, r.name): r for r in before.resources if r.custom}
    replaced: set[str] = set()
    out: dict[str, Effect] = {}
    for r in _ordered(x for x in after.resources if x.custom):
        prev = old.pop((r.type, r.name), None)
        if prev is None:
            out[r.name] = "replace"
            continue
        effect = effect_of(r.type, prev, _mark(r.inputs, replaced), r.replace_on_changes)
        if _mark(r.replacement_trigger, replaced) != prev.replacement_trigger:
            effect = "replace"  # the `replacement_trigger` resource option
        # A replacement gets a new physical name only when it was autonamed: an explicit name
        # (an endpoint's `name`) is the same after it, so inputs that spell it do not change.
        if effect == "replace" and prev.id is not None and prev.inputs.get("name") != prev.id:
            replaced.add(prev.id.lower())
        out[r.name] = effect
    for _, name in old:
        out[name] = "replace"
    return out


def by_type(before: OfflineRun, after: OfflineRun, types: dict[str, str]) -> dict[str, Effect]:
    """The strongest effect per role (`types`: resource token -> role name)."""
    effects = diff(before, after)
    kinds = {r.name: r.type for r in (*before.resources, *after.resources)}
    out: dict[str, Effect] = dict.fromkeys(types.values(), "none")
    for name, effect in effects.items():
        role = types.get(kinds[name])
        if role is not None and _RANK[effect] > _RANK[out[role]]:
            out[role] = effect
    return out


def ordered(resources: Iterable[RecordedResource]) -> list[RecordedResource]:
    """Resources in an order the engine may process them: each after its dependencies."""
    return _ordered(resources)
