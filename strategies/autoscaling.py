"""Autoscaling of variants as plain decisions: what each variant's scalable target looks like.

Application Auto Scaling drives a SageMaker variant's `DesiredInstanceCount` (resource id
`endpoint/<endpoint>/variant/<variant>`, dimension `sagemaker:variant:DesiredInstanceCount`,
predefined metric `SageMakerVariantInvocationsPerInstance`: Application Auto Scaling API
reference, PredefinedMetricSpecification / RegisterScalableTarget). Stable and candidate are
separate scalable targets and scale independently.

During a canary the candidate carries only its share of the requests, so its minimum follows
that share: `min_capacity_at(plan, share)` = ceil(min_capacity * share / 100), at least 1. A
candidate without its own `autoscaling` inherits the stable variant's settings that way.
"""

from __future__ import annotations

import math
from dataclasses import replace

from sagemaker_rollouts.strategies.config_shapes import AutoscalingConfig
from sagemaker_rollouts.strategies.plan import AutoscalingPlan, ScalingMetricPlan

RESOURCE_ID = "endpoint/{endpoint}/variant/{variant}"
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
SERVICE_NAMESPACE = "sagemaker"
PREDEFINED_METRIC = "SageMakerVariantInvocationsPerInstance"


def resource_id(endpoint_name: str, variant_name: str) -> str:
    """Application Auto Scaling's resource id of a SageMaker variant."""
    return RESOURCE_ID.format(endpoint=endpoint_name, variant=variant_name)


def plan_for(
    cfg: AutoscalingConfig | None, endpoint_name: str, variant_name: str
) -> AutoscalingPlan | None:
    """The variant's autoscaling plan from its (validated) config; None without one."""
    if cfg is None:
        return None
    custom = None
    if cfg.custom_metric is not None:
        m = cfg.custom_metric
        dims = (
            tuple(m.dimensions.items())
            if m.dimensions is not None
            else (("EndpointName", endpoint_name), ("VariantName", variant_name))
        )
        custom = ScalingMetricPlan(m.namespace, m.metric, m.statistic, m.target, dims)
    return AutoscalingPlan(
        min_capacity=cfg.min_capacity,
        max_capacity=cfg.max_capacity,
        invocations_per_instance=cfg.target_invocations_per_instance,
        custom=custom,
        scale_in_cooldown_seconds=cfg.scale_in_cooldown_seconds,
        scale_out_cooldown_seconds=cfg.scale_out_cooldown_seconds,
    )


def candidate_plan(
    own: AutoscalingPlan | None, stable: AutoscalingPlan | None
) -> AutoscalingPlan | None:
    """A canary candidate's plan: its own, else the stable's; either way following its share."""
    base = own if own is not None else stable
    return None if base is None else replace(base, follows_share=True)


def min_capacity_at(plan: AutoscalingPlan, share_percent: int) -> int:
    """The minimum instance count at a traffic share (0-100 %). Invariant: 1 <= result <= max.

    A plan that does not follow its share keeps its configured minimum.
    """
    if not plan.follows_share:
        return plan.min_capacity
    share = min(max(share_percent, 0), 100)
    return min(plan.max_capacity, max(1, math.ceil(plan.min_capacity * share / 100)))
