"""rolling: SageMaker replaces the fleet batch by batch, for fleets too large to double.

Only one batch of extra capacity at a time; rollback is batch by batch too, so it is slow.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from sagemaker_rollouts.strategies import common
from sagemaker_rollouts.strategies.blue_green import capacity
from sagemaker_rollouts.strategies.common import Context
from sagemaker_rollouts.strategies.config_rules import (
    EndpointChecks,
    check_rollback_alarm_count,
    check_timeout,
    size_args,
    size_percent,
)
from sagemaker_rollouts.strategies.config_values import (
    ConfigModel,
    Int,
    Size,
    Timeout,
    WaitSeconds,
)
from sagemaker_rollouts.strategies.guardrails import (
    capacity_size,
    instances_of,
    planned_timeline,
    update_waits,
)
from sagemaker_rollouts.strategies.plan import EndpointPlan, Profile, RollingPlan


class RollingConfig(ConfigModel):
    maximum_batch_size: Size
    """Instances replaced per batch (5..50% of the fleet)."""
    wait_seconds: WaitSeconds = 300
    """Seconds each batch bakes with quiet alarms."""
    rollback_maximum_batch_size: Size | None = None
    """Batch size when SageMaker rolls back (default: all at once)."""
    max_execution_timeout_seconds: Timeout | None = None
    """Longest the whole update may take, seconds (provider: 600..14400)."""
    # Raised to deploy again after SageMaker rolled a deployment back (strategies/native.py).
    attempt: Annotated[Int, Field(ge=1)] = 1
    """Raise to deploy again after SageMaker rolled a deployment back."""


def check(chk: EndpointChecks, sp: str, cfg: RollingConfig) -> None:
    """One variant; a batch of 5..50% of the fleet; a timeout longer than every wait together."""
    n = len(chk.variants)
    # deployment-guardrails-exclusions.html: rolling deployments exclude "Multi-variant
    # inference endpoints".
    if chk.variants_ok and n != 1:
        chk.errs.append(
            f"{chk.path}.variants: rolling needs exactly one variant (SageMaker rejects rolling "
            f"updates on multi-variant endpoints), got {n}"
        )
    if not chk.bad.ok(f"{sp}.maximum_batch_size"):
        return
    count, count_ok = chk.count, chk.count_ok
    batch = cfg.maximum_batch_size
    pct = size_percent(batch, count)
    # RollingUpdatePolicy MaximumBatchSize: "Value must be between 5% to 50% of the variant's
    # total instance count" (botocore sagemaker model). A one-instance fleet can only take a
    # batch of 1 (100%): the docs do not say AWS refuses it, so it is allowed with a warning
    # (config_warnings).
    if batch.type == "capacity_percent" and not 5 <= pct <= 50:
        chk.errs.append(
            f"{sp}.maximum_batch_size: must be 5..50 capacity_percent, got {batch.value}"
        )
    if count_ok and batch.type == "instance_count" and not 1 <= batch.value <= max(1, count // 2):
        chk.errs.append(
            f"{sp}.maximum_batch_size: must be 1..{max(1, count // 2)} instances "
            f"(at most 50% of {count}), got {batch.value}"
        )
    if count_ok and chk.bad.ok(
        f"{sp}.wait_seconds",
        f"{sp}.max_execution_timeout_seconds",
        f"{sp}.rollback_maximum_batch_size",
    ):
        check_timeout(sp, _policy(cfg), count, chk.errs)


def _policy(ro: RollingConfig) -> RollingPlan:
    """The update policy the config asks for, as the guardrails emulator counts its waits."""
    rb = ro.rollback_maximum_batch_size
    return RollingPlan(
        maximum_batch_size=capacity_size(*size_args(ro.maximum_batch_size)),
        wait_seconds=ro.wait_seconds,
        rollback_maximum_batch_size=None if rb is None else capacity_size(*size_args(rb)),
        max_execution_timeout_seconds=ro.max_execution_timeout_seconds,
    )


def check_gates(chk: EndpointChecks) -> None:
    """SageMaker's auto-rollback takes 1..10 alarms."""
    check_rollback_alarm_count(chk, "rolling")


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
        strategy_plan=deployment,
        models=common.models(ctx, [v]),
        production_variants=(common.variant(v, 100, endpoint_name=ctx.endpoint_name),),
        shadow_variants=(),
        alarms=tuple(alarms),
        data_capture=common.data_capture(ctx, default_on=False),
        endpoint_kms=common.endpoint_kms(ctx, [v]),
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
