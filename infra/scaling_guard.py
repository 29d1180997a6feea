"""Deregister autoscaling of variants this `pulumi up` removes, before anything is declared.

Why the program does it. SageMaker refuses an UpdateEndpoint that removes (or changes the
instance type of) a variant still registered with Application Auto Scaling: "Before you update
the endpoint, delete any scaling policies configured for it and deregister the variant as a
scalable target by calling DeregisterScalableTarget" (SageMaker Developer Guide, "Update
endpoints that use auto scaling"; terraform-provider-aws #14337). Pulumi updates the endpoint
when it reaches it and deletes the resources the program stopped declaring (the variant's
`aws.appautoscaling.Target` and policies) last, after every create and update. So an `up` that
drops a variant with autoscaling (a completed canary's stable, an A/B arm, a renamed variant)
would fail at the endpoint update. No resource option reorders that: `deleted_with` only skips
deletes, `delete_before_replace` applies to replacements, not to resources that are gone.

So before declaring anything, for each endpoint the program compares the live variants
(DescribeEndpoint, read by deploy-time awareness) with the variants this run declares, and
deregisters the leaving ones (DeregisterScalableTarget also deletes their scaling policies:
Application Auto Scaling API reference). During `pulumi preview` nothing is changed: a warning
says what `up` will deregister. Pulumi's later delete of the Target finds it gone, which the
provider treats as deleted (appautoscaling target.go: ObjectNotFoundException -> no error).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from sagemaker_rollouts.infra import awareness
from sagemaker_rollouts.infra.errors import AwsReadError
from sagemaker_rollouts.strategies import autoscaling
from sagemaker_rollouts.strategies.plan import DeploymentPlan


class ScalingRegistry(Protocol):
    """The Application Auto Scaling calls the guard makes (resource ids of SageMaker variants)."""

    def registered(self, resource_ids: list[str]) -> set[str]: ...

    def deregister(self, resource_id: str) -> None: ...


class Boto3Registry:
    """Application Auto Scaling with the deployer's credentials (the stack's `aws:profile`)."""

    def __init__(self, region: str | None, profile: str | None, client: Any = None) -> None:
        self._region, self._profile, self._client = region, profile, client

    def _aas(self) -> Any:
        if self._client is None:
            self._client = awareness.aws_client(
                "application-autoscaling", self._region, self._profile
            )
        return self._client

    def registered(self, resource_ids: list[str]) -> set[str]:
        pages = (
            self._aas()
            .get_paginator("describe_scalable_targets")
            .paginate(
                ServiceNamespace=autoscaling.SERVICE_NAMESPACE,
                ResourceIds=resource_ids,
                ScalableDimension=autoscaling.SCALABLE_DIMENSION,
            )
        )
        return {t["ResourceId"] for page in pages for t in page.get("ScalableTargets", [])}

    def deregister(self, resource_id: str) -> None:
        self._aas().deregister_scalable_target(
            ServiceNamespace=autoscaling.SERVICE_NAMESPACE,
            ResourceId=resource_id,
            ScalableDimension=autoscaling.SCALABLE_DIMENSION,
        )


class NoScaling:
    """The registry of offline runs: nothing registered, nothing called."""

    def registered(self, resource_ids: list[str]) -> set[str]:
        del resource_ids
        return set()

    def deregister(self, resource_id: str) -> None:
        raise AssertionError(f"nothing is registered offline, asked to deregister {resource_id}")


_OVERRIDE: contextvars.ContextVar[ScalingRegistry | None] = contextvars.ContextVar(
    "sagemaker_rollouts_scaling_registry", default=None
)


def set_override(registry: ScalingRegistry | None) -> None:
    """Use `registry` in the current context (offline runs: `simulator.mockrun`)."""
    _OVERRIDE.set(registry)


def default_registry(region: str | None, profile: str | None) -> ScalingRegistry:
    override = _OVERRIDE.get()
    return override if override is not None else Boto3Registry(region, profile)


def leaving(endpoint_name: str, live_variants: Iterable[str], declared: Iterable[str]) -> list[str]:
    """Resource ids of the live variants this run no longer declares (sorted)."""
    kept = set(declared)
    return sorted(autoscaling.resource_id(endpoint_name, v) for v in set(live_variants) - kept)


def release(
    changes: Mapping[str, list[str]],
    registry: ScalingRegistry,
    *,
    dry_run: bool,
    profile: str | None,
) -> list[str]:
    """Deregister every registered resource id in `changes` (endpoint name -> leaving ids).

    Returns one line per deregistration (or, with `dry_run`, per one that `up` will make).
    AWS errors stop the run as `AwsReadError` (a `pulumi.RunError`): the update would fail anyway.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    lines: list[str] = []
    for endpoint, ids in changes.items():
        if not ids:
            continue
        try:
            found = registry.registered(ids)
            for rid in sorted(found):
                if not dry_run:
                    registry.deregister(rid)
                verb = "will deregister" if dry_run else "deregistered"
                lines.append(
                    f"endpoint {endpoint!r}: {verb} {rid} from Application Auto Scaling before "
                    "the update removes the variant (SageMaker refuses to remove a registered one)"
                )
        except (BotoCoreError, ClientError) as exc:
            what = f"the autoscaling of variants leaving endpoint {endpoint!r}"
            raise AwsReadError(what, exc, profile=profile) from None
    return lines


def guard(plan: DeploymentPlan, aware: awareness.Awareness) -> list[str]:
    """`release` for every endpoint of `plan` whose live variants this run drops; logs each line
    (a warning in `pulumi preview`, info in `up`). Call before anything is declared."""
    import pulumi

    from sagemaker_rollouts.infra.endpoint import rendering

    changes: dict[str, list[str]] = {}
    for e in plan.endpoints:
        live = aware.live.get(e.key)
        if live is None:
            continue
        declared = [v.name for v in rendering(e, completed=aware.completed(e)).production_variants]
        changes[e.endpoint_name] = leaving(e.endpoint_name, [n for n, _ in live.weights], declared)
    if not any(changes.values()):
        return []
    profile = pulumi.Config("aws").get("profile")
    dry_run = pulumi.runtime.is_dry_run()
    lines = release(
        changes, default_registry(plan.region, profile), dry_run=dry_run, profile=profile
    )
    for line in lines:
        (pulumi.log.warn if dry_run else pulumi.log.info)(line)
    return lines
