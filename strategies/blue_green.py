"""blue/green: SageMaker's own guardrails. A green fleet comes up beside blue, traffic shifts all
at once, as a canary or linearly, and SageMaker rolls back by itself if an alarm fires during a bake.
Nothing of ours moves traffic: we only configure `deployment_config` and the alarms it watches.
"""

from __future__ import annotations

from typing import Annotated, Literal, cast

from pydantic import Field

from sagemaker_rollouts.strategies import common
from sagemaker_rollouts.strategies.common import Context
from sagemaker_rollouts.strategies.config_rules import (
    EndpointChecks,
    check_rollback_alarm_count,
    check_timeout,
    size_args,
    size_percent,
)
from sagemaker_rollouts.strategies.config_values import (
    TERMINATION_WAIT,
    ConfigModel,
    Int,
    Size,
    Timeout,
    WaitSeconds,
)
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


class TrafficRouting(ConfigModel):
    type: Literal["all_at_once", "canary", "linear"] = "all_at_once"
    """all_at_once, canary (one share, then the rest) or linear (equal steps)."""
    wait_seconds: WaitSeconds = 300
    """Seconds each shift bakes with quiet alarms."""
    canary_size: Size | None = None
    """The first shift's size (type canary; at most 50% of the fleet)."""
    linear_step: Size | None = None
    """Each step's size (type linear; 10..50% of the fleet)."""


class BlueGreenConfig(ConfigModel):
    traffic_routing: TrafficRouting = Field(default_factory=TrafficRouting)
    """How traffic shifts from blue to green."""
    termination_wait_seconds: Annotated[
        Int, Field(ge=TERMINATION_WAIT["min"], le=TERMINATION_WAIT["max"])
    ] = 0
    """Seconds blue stays up after the shift (a fast way back)."""
    max_execution_timeout_seconds: Timeout | None = None
    """Longest the whole deployment may take, seconds (provider: 600..14400)."""
    # Raised to deploy again after SageMaker rolled a deployment back (strategies/native.py).
    attempt: Annotated[Int, Field(ge=1)] = 1
    """Raise to deploy again after SageMaker rolled a deployment back."""


def check(chk: EndpointChecks, sp: str, cfg: BlueGreenConfig) -> None:
    """One variant; canary/linear sizes only with their routing type and within SageMaker's
    ranges; a max execution timeout longer than every wait together."""
    n = len(chk.variants)
    if chk.variants_ok and n != 1:
        chk.errs.append(
            f"{chk.path}.variants: blue_green needs exactly one variant (blue/green shifts one "
            f"variant, kept under the same name across updates), got {n}"
        )
    if not chk.bad.ok(f"{sp}.traffic_routing"):
        return
    sizes_ok = _check_routing(chk, f"{sp}.traffic_routing", cfg.traffic_routing)
    if (
        sizes_ok
        and chk.count_ok
        and chk.bad.ok(f"{sp}.termination_wait_seconds", f"{sp}.max_execution_timeout_seconds")
    ):
        check_timeout(sp, _policy(cfg), chk.count, chk.errs)


def _check_routing(chk: EndpointChecks, rp: str, r: TrafficRouting) -> bool:
    """Checks the routing's sizes; False when a size the routing needs is missing."""
    count, count_ok, errs = chk.count, chk.count_ok, chk.errs
    sizes_ok = True
    if r.type == "canary":
        # TrafficRoutingConfig CanarySize: "less than or equal to 50% of the variant's total
        # instance count" (botocore sagemaker model).
        if r.canary_size is None:
            errs.append(f"{rp}.canary_size: required for canary traffic routing")
            sizes_ok = False
        elif count_ok and size_percent(r.canary_size, count) > 50:
            errs.append(
                f"{rp}.canary_size: must be at most 50% of the variant's {count} instance(s), "
                f"got {r.canary_size.value} {r.canary_size.type}"
            )
    elif r.canary_size is not None:
        errs.append(f"{rp}.canary_size: only for type canary, got type {r.type}")
    if r.type == "linear":
        # TrafficRoutingConfig LinearStepSize: "must be 10-50% of the variant's total
        # instance count" (botocore sagemaker model).
        if r.linear_step is None:
            errs.append(f"{rp}.linear_step: required for linear traffic routing")
            sizes_ok = False
        elif count_ok:
            pct = size_percent(r.linear_step, count)
            if not 10 <= pct <= 50:
                errs.append(
                    f"{rp}.linear_step: must be 10..50% of the variant's {count} instance(s), "
                    f"got {r.linear_step.value} {r.linear_step.type}"
                )
    elif r.linear_step is not None:
        errs.append(f"{rp}.linear_step: only for type linear, got type {r.type}")
    return sizes_ok


def _policy(bg: BlueGreenConfig) -> BlueGreenPlan:
    """The update policy the config asks for, as the guardrails emulator counts its waits."""
    r = bg.traffic_routing
    return BlueGreenPlan(
        routing=cast(RoutingType, r.type.upper()),
        wait_seconds=r.wait_seconds,
        canary_size=None if r.canary_size is None else capacity_size(*size_args(r.canary_size)),
        linear_step=None if r.linear_step is None else capacity_size(*size_args(r.linear_step)),
        termination_wait_seconds=bg.termination_wait_seconds,
        max_execution_timeout_seconds=bg.max_execution_timeout_seconds,
    )


def check_gates(chk: EndpointChecks) -> None:
    """SageMaker's auto-rollback takes 1..10 alarms."""
    check_rollback_alarm_count(chk, "blue_green")


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
        strategy_plan=deployment,
        models=common.models(ctx, [v]),
        production_variants=(common.variant(v, 100, endpoint_name=ctx.endpoint_name),),
        shadow_variants=(),
        alarms=tuple(alarms),
        data_capture=common.data_capture(ctx, default_on=False),
        endpoint_kms=common.endpoint_kms(ctx, [v]),
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
