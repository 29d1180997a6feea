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

from sagemaker_rollouts.simulator.mockrun import OfflineRun, RecordedResource
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


# --------------------------------------------------------------------------- SageMaker's rules

ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
TARGET = "aws:appautoscaling/target:Target"
POLICY = "aws:appautoscaling/policy:Policy"


def _variants(run: OfflineRun, endpoint: RecordedResource) -> set[str]:
    name = endpoint.inputs["endpointConfigName"]
    (config,) = [c for c in run.of_type(ENDPOINT_CONFIG) if c.id == name]
    return {v["variantName"] for v in config.inputs["productionVariants"]}


def replay(
    before: OfflineRun,
    after: OfflineRun,
    steps: list[Step],
    deregistered_first: Iterable[str] = (),
) -> list[str]:
    """Apply `steps` to SageMaker and Application Auto Scaling; every precondition they break.

    The rules (each is AWS's documented behaviour):
    - UpdateEndpoint fails when it removes a variant registered with Application Auto Scaling
      (SageMaker Developer Guide, "Update endpoints that use auto scaling";
      terraform-provider-aws #14337).
    - RegisterScalableTarget needs the variant to exist on the endpoint; PutScalingPolicy needs
      the scalable target to be registered (Application Auto Scaling API reference).
    - DeleteEndpoint deregisters its variants' scalable targets (SageMaker Developer Guide,
      "Delete endpoints configured for auto scaling").
    - Deleting a Target that is already gone succeeds (the provider ignores
      ObjectNotFoundException).
    - After the `up`, every Target the program declares is registered (else Pulumi's state
      claims autoscaling that AWS no longer has).
    `deregistered_first`: resource ids the program deregistered before declaring anything.
    """
    live: dict[str, set[str]] = {
        e.inputs["name"]: _variants(before, e) for e in before.of_type(ENDPOINT)
    }
    registered = {t.inputs["resourceId"] for t in before.of_type(TARGET)}
    registered -= set(deregistered_first)
    broken: list[str] = []
    for step in steps:
        r = step.resource
        if r.type == ENDPOINT:
            name = r.inputs["name"]
            if step.op == "delete":
                live.pop(name, None)
                registered = {x for x in registered if not x.startswith(f"endpoint/{name}/")}
            elif step.op in ("create", "update"):
                new = _variants(after, r)
                for gone in sorted(live.get(name, set()) - new):
                    if f"endpoint/{name}/variant/{gone}" in registered:
                        broken.append(
                            f"{step!r}: removes variant {gone!r} still registered with "
                            "Application Auto Scaling"
                        )
                live[name] = new
        elif r.type == TARGET:
            rid = r.inputs["resourceId"]
            if step.op == "delete":
                registered.discard(rid)
            elif step.op in ("create", "update"):
                _, endpoint, _, variant = rid.split("/")
                if variant not in live.get(endpoint, set()):
                    broken.append(f"{step!r}: variant {variant!r} is not on {endpoint!r}")
                registered.add(rid)
        elif (
            r.type == POLICY
            and step.op in ("create", "update")
            and r.inputs["resourceId"] not in registered
        ):
            broken.append(f"{step!r}: {r.inputs['resourceId']} is not a scalable target")
    for t in after.of_type(TARGET):
        if t.inputs["resourceId"] not in registered:
            broken.append(f"after the up: {t.name} is declared but not registered")
    return broken
