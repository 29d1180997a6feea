"""A/B testing: several variants with fixed weights; a winner is picked from their metrics."""

from __future__ import annotations

from sagemaker_rollouts.strategies import common
from sagemaker_rollouts.strategies.common import Context
from sagemaker_rollouts.strategies.plan import EndpointPlan, Profile


def plan(ctx: Context) -> EndpointPlan:
    """Every variant at its configured weight (0 stays 0: a dark variant), alarms per variant."""
    ab = ctx.ep.strategy.ab
    assert ab is not None
    variants = ctx.ep.variants
    alarms = [a for v in variants for a in common.variant_alarms(ctx, v.name, gate=False)]
    alarms += common.custom_alarms(ctx, gates_allowed=False)
    total = sum(ab.weights.values())
    challengers = sum(ab.weights[v.name] for v in variants[1:])
    share = round(100 * challengers / total)
    return EndpointPlan(
        key=ctx.key,
        endpoint_name=ctx.endpoint_name,
        strategy="ab",
        models=common.models(ctx, variants),
        production_variants=tuple(common.variant(v, ab.weights[v.name]) for v in variants),
        shadow_variants=(),
        deployment=None,
        replace_on_change=False,
        alarms=tuple(alarms),
        data_capture=common.data_capture(ctx, default_on=False),
        endpoint_kms=common.endpoint_kms(ctx, variants),
        canary=None,
        profile=Profile(
            downtime=False,
            rollback_speed="instant",
            rollback_note="set the losing variant's weight to 0 (one weights call, no redeploy)",
            live_traffic_test=True,
            extra_instances=sum(v.instance_count for v in variants[1:]),
            time_to_full_seconds=None,
            extra_instance_hours=None,
        ),
        tags=common.tags(ctx, "ab"),
        timeline=((0, share),),
    )
