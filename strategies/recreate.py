"""recreate: the old endpoint goes down, the new one comes up. Downtime accepted, no extra cost."""

from __future__ import annotations

from sagemaker_rollouts.strategies import common
from sagemaker_rollouts.strategies.common import Context
from sagemaker_rollouts.strategies.config_rules import EndpointChecks
from sagemaker_rollouts.strategies.config_values import ConfigModel
from sagemaker_rollouts.strategies.plan import EndpointPlan, Profile, RecreatePlan


class RecreateConfig(ConfigModel):
    pass  # `strategy: {recreate: {}}`: no settings


def check(chk: EndpointChecks, sp: str, cfg: RecreateConfig) -> None:
    """One variant: the endpoint is replaced by one variant."""
    n = len(chk.variants)
    if chk.variants_ok and n != 1:
        chk.errs.append(
            f"{chk.path}.variants: recreate needs exactly one variant "
            f"(recreate replaces the endpoint with one variant), got {n}"
        )


def check_gates(chk: EndpointChecks) -> None:
    """No gate alarms: nothing moves traffic."""


def plan(ctx: Context) -> EndpointPlan:
    """One variant at weight 100; the endpoint is deleted before its replacement is created."""
    v = ctx.ep.variants[0]
    alarms = common.variant_alarms(ctx, v.name, gate=False) + common.custom_alarms(
        ctx, gates_allowed=False
    )
    return EndpointPlan(
        key=ctx.key,
        endpoint_name=ctx.endpoint_name,
        strategy_plan=RecreatePlan(),
        models=common.models(ctx, [v]),
        production_variants=(common.variant(v, 100, endpoint_name=ctx.endpoint_name),),
        shadow_variants=(),
        alarms=tuple(alarms),
        data_capture=common.data_capture(ctx, default_on=False),
        endpoint_kms=common.endpoint_kms(ctx, [v]),
        profile=Profile(
            downtime=True,
            rollback_speed="redeploy",
            rollback_note="redeploy the previous model: the endpoint is recreated (downtime again)",
            live_traffic_test=False,
            extra_instances=0,
            time_to_full_seconds=0,
            extra_instance_hours=0.0,
        ),
        tags=common.tags(ctx, "recreate"),
        timeline=((0, 0), (0, 100)),
    )
