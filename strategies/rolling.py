"""rolling: SageMaker replaces the fleet batch by batch, for fleets too large to double.

Only one batch of extra capacity at a time; rollback is batch by batch too, so it is slow.
"""

from __future__ import annotations

from sagemaker_rollouts.strategies import common
from sagemaker_rollouts.strategies.blue_green import capacity
from sagemaker_rollouts.strategies.common import Context
from sagemaker_rollouts.strategies.guardrails import (
    instances_of,
    planned_timeline,
    update_waits,
)
from sagemaker_rollouts.strategies.plan import EndpointPlan, Profile, RollingPlan


def plan(ctx: Context) -> EndpointPlan:
    ro = ctx.ep.strategy.rolling
    assert ro is not None
    v = ctx.ep.variants[0]
    deployment = RollingPlan(
        maximum_batch_size=capacity(ro.maximum_batch_size),
        wait_seconds=ro.wait_seconds,
        rollback_maximum_batch_size=None
        if ro.rollback_maximum_batch_size is None
        else capacity(ro.rollback_maximum_batch_size),
        max_execution_timeout_seconds=ro.max_execution_timeout_seconds,
        attempt=ro.attempt,
    )
    batch_instances = instances_of(deployment.maximum_batch_size, v.instance_count)
    # One source with the guardrails emulator: whole-instance batches, each baked (S5, S7).
    timeline = planned_timeline(deployment, v.instance_count)
    to_full = timeline[-1][0]
    alarms = common.variant_alarms(ctx, v.name, gate=True) + common.custom_alarms(
        ctx, gates_allowed=True
    )
    extra_seconds, _ = update_waits(deployment, v.instance_count)
    return EndpointPlan(
        key=ctx.key,
        endpoint_name=ctx.endpoint_name,
        strategy="rolling",
        models=common.models(ctx, [v]),
        production_variants=(common.variant(v, 100, endpoint_name=ctx.endpoint_name),),
        shadow_variants=(),
        deployment=deployment,
        replace_on_change=False,
        alarms=tuple(alarms),
        data_capture=common.data_capture(ctx, default_on=False),
        endpoint_kms=common.endpoint_kms(ctx, [v]),
        canary=None,
        profile=Profile(
            downtime=False,
            rollback_speed="slow",
            rollback_note="SageMaker rolls back batch by batch (rollback_maximum_batch_size)",
            live_traffic_test=True,
            extra_instances=batch_instances,
            time_to_full_seconds=to_full,
            extra_instance_hours=common.hours(batch_instances, extra_seconds),
        ),
        tags=common.tags(ctx, "rolling"),
        timeline=timeline,
    )
