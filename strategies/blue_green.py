"""blue/green: SageMaker's own guardrails. A green fleet comes up beside blue, traffic shifts all
at once, as a canary or linearly, and SageMaker rolls back by itself if an alarm fires during a bake.
Nothing of ours moves traffic: we only configure `deployment_config` and the alarms it watches.
"""

from __future__ import annotations

from sagemaker_rollouts.strategies import common
from sagemaker_rollouts.strategies.common import Context
from sagemaker_rollouts.strategies.config import Size
from sagemaker_rollouts.strategies.guardrails import (
    capacity_size,
    planned_timeline,
    update_waits,
)
from sagemaker_rollouts.strategies.plan import (
    BlueGreenPlan,
    CapacitySize,
    EndpointPlan,
    Profile,
    RoutingType,
)

_ROUTING: dict[str, RoutingType] = {
    "all_at_once": "ALL_AT_ONCE",
    "canary": "CANARY",
    "linear": "LINEAR",
}


def capacity(size: Size) -> CapacitySize:
    return capacity_size(size.type, size.value)


def plan(ctx: Context) -> EndpointPlan:
    bg = ctx.ep.strategy.blue_green
    assert bg is not None
    v = ctx.ep.variants[0]
    r = bg.traffic_routing
    deployment = BlueGreenPlan(
        routing=_ROUTING[r.type],
        wait_seconds=r.wait_seconds,
        canary_size=None if r.canary_size is None else capacity(r.canary_size),
        linear_step=None if r.linear_step is None else capacity(r.linear_step),
        termination_wait_seconds=bg.termination_wait_seconds,
        max_execution_timeout_seconds=bg.max_execution_timeout_seconds,
        attempt=bg.attempt,
    )
    # One source with the guardrails emulator: steps in whole instances, a bake between two
    # steps, the termination wait as the bake at full traffic (strategies/guardrails.py S5).
    timeline = planned_timeline(deployment, v.instance_count)
    to_full = timeline[-1][0]
    alarms = common.variant_alarms(ctx, v.name, gate=True) + common.custom_alarms(
        ctx, gates_allowed=True
    )
    # Blue stays up through every bake and the termination wait: that is the extra cost.
    extra_seconds, _ = update_waits(deployment, v.instance_count)
    return EndpointPlan(
        key=ctx.key,
        endpoint_name=ctx.endpoint_name,
        strategy="blue_green",
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
            rollback_speed="fast",
            rollback_note="SageMaker shifts traffic back to the blue fleet, kept until the "
            "termination wait ends",
            live_traffic_test=r.type != "all_at_once",
            extra_instances=v.instance_count,
            time_to_full_seconds=to_full,
            extra_instance_hours=common.hours(v.instance_count, extra_seconds),
        ),
        tags=common.tags(ctx, "blue_green"),
        timeline=tuple(timeline),
    )
