"""Pulumi's step order, replayed from two offline runs: what the engine would do, in its order.

Stands in for the Pulumi engine's step generation (pulumi/pulumi `pkg/resource/deploy/
step_generator.go`, `step_executor.go`), as far as these tests need it:

- `pulumi up`: resources are processed in registration order, each after its dependencies: a new
  one is created, a changed one updated in place, or replaced (an input the provider marks
  ForceNew, `replaceOnChanges`, a `replacement_trigger`). A replacement creates the new resource
  first and deletes the old one at the end, unless `deleteBeforeReplace` (then delete, then
  create, at that point). Resources the program no longer declares are deleted last, dependents
  before what they depend on. A `retainOnDelete` resource is forgotten, never deleted.
- `pulumi destroy`: every resource is deleted, dependents first, except `retainOnDelete` ones.

Replacement and update come from `tests.resource_diff` (the provider's ForceNew fields).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sagemaker_rollouts.infra.mockrun import OfflineRun, RecordedResource
from tests import resource_diff

Op = Literal["create", "update", "delete", "forget"]


@dataclass(frozen=True, slots=True)
class Step:
    """One engine step: `op` on `resource` (`before` for delete/forget, `after` otherwise)."""

    op: Op
    resource: RecordedResource
    replacing: bool = False  # part of a replacement (create of the new / delete of the old)

    def __repr__(self) -> str:
        return f"{self.op}{'(replace)' if self.replacing else ''} {self.resource.name}"


def _delete(r: RecordedResource, *, replacing: bool = False) -> Step:
    return Step("forget" if r.retain_on_delete else "delete", r, replacing)


def _dependents_first(resources: Iterable[RecordedResource]) -> list[RecordedResource]:
    return list(reversed(resource_diff.ordered(resources)))


def up_steps(before: OfflineRun, after: OfflineRun) -> list[Step]:
    """The steps of a `pulumi up` from `before`'s state to `after`'s program, in engine order."""
    effects = resource_diff.diff(before, after)
    old = {(r.type, r.name): r for r in before.resources if r.custom}
    steps: list[Step] = []
    pending: list[RecordedResource] = []  # old halves of create-before-delete replacements
    for r in resource_diff.ordered(x for x in after.resources if x.custom):
        prev = old.pop((r.type, r.name), None)
        if prev is None:
            steps.append(Step("create", r))
            continue
        match effects[r.name]:
            case "none":
                pass
            case "update":
                steps.append(Step("update", r))
            case "replace" if r.delete_before_replace:
                steps += [_delete(prev, replacing=True), Step("create", r, replacing=True)]
            case "replace":
                steps.append(Step("create", r, replacing=True))
                pending.append(prev)
    steps += [_delete(r, replacing=True) for r in _dependents_first(pending)]
    steps += [_delete(r) for r in _dependents_first(old.values())]
    return steps


def destroy_steps(state: OfflineRun) -> list[Step]:
    """`pulumi destroy` of a stack whose state is `state`: dependents first."""
    return [_delete(r) for r in _dependents_first(x for x in state.resources if x.custom)]
