"""canary: a small share of live requests goes to the candidate and steps up while alarms are quiet.

SageMaker's managed canary shifts by instance count in at most two steps; here the stable and the
candidate are two production variants and the hook Lambda moves their weights through any list of
steps, rolling back to candidate 0 the moment a gate alarm fires (see lambdas/controller.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Annotated, Any, cast

from pydantic import BeforeValidator, Field

from sagemaker_rollouts.lambdas import scale_down
from sagemaker_rollouts.lambdas.rollout import RolloutSpec, Step, rollout_id
from sagemaker_rollouts.strategies import autoscaling, common
from sagemaker_rollouts.strategies.common import Context
from sagemaker_rollouts.strategies.config_errors import given
from sagemaker_rollouts.strategies.config_rules import (
    EndpointChecks,
    check_alarm_windows,
    gate_alarm_count,
)
from sagemaker_rollouts.strategies.config_shapes import RelativeGatesConfig
from sagemaker_rollouts.strategies.config_values import (
    Bool,
    ConfigModel,
    Int,
    Seconds,
    Text,
    describe_value,
)
from sagemaker_rollouts.strategies.plan import AlarmPlan, CanaryPlan, EndpointPlan, Profile
from sagemaker_rollouts.strategies.relative_gates import relative_alarms


class CanaryStep(ConfigModel):
    percent: Int
    """Candidate share of traffic, percent (1..100)."""
    bake_seconds: Seconds | None = None
    """This step's bake in seconds (default: the canary's bake_seconds)."""


def _step(value: Any) -> Any:
    """A bare number is a step's percent: `5` (or "5", as `pulumi config set` may store it) means
    `{percent: 5}`."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"percent": value}
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
        return {"percent": value}
    if isinstance(value, Mapping):
        return cast(Mapping[str, Any], value)
    raise ValueError(
        f"must be a percent (1..100) or a mapping {{percent, bake_seconds}}, got {describe_value(value)}"
    )


ConfigStep = Annotated[CanaryStep, BeforeValidator(_step)]


class CanaryConfig(ConfigModel):
    stable: Text
    """The variant serving today (weight 100 before the rollout)."""
    candidate: Text
    """The variant being rolled out."""
    steps: list[ConfigStep] = Field(min_length=1)
    """Candidate percents in increasing order (1..100), each a number or {percent, bake_seconds}; 100 is added when missing."""
    bake_seconds: Seconds = 600
    """Seconds each step bakes with quiet alarms before the next (0..86400)."""
    min_invocations: Annotated[Int, Field(ge=0)] = 100
    """Requests the candidate must get per alarm window, or the step holds (low-traffic alarm)."""
    insufficient_data_limit_seconds: Seconds = 900
    """Seconds a gate alarm may stay INSUFFICIENT_DATA before the canary rolls back."""
    attempt: Annotated[Int, Field(ge=1)] = 1
    """Raise to run the canary again after a rollback."""
    # The stable variant's standard alarms watch the fleet a rollback would send all traffic to:
    # in ALARM they hold the rollout and notify; they never roll the candidate back.
    baseline_alarms: Bool = False
    """Watch the stable fleet too: its alarms hold the rollout and notify, never roll back."""
    # After completion the stable variant (weight 0) keeps its full fleet this long, a fast way
    # back, then the hook scales it to one instance (like Argo Rollouts' scaleDownDelaySeconds).
    # null: keep it at full size until the next `pulumi up` removes it.
    scale_down_delay_seconds: Seconds | None = 600
    """After completion the stable fleet keeps its size this long, then shrinks to one instance (null: until the next `pulumi up`)."""
    # Gates on the candidate judged against the live stable variant (strategies/relative_gates.py).
    relative_gates: RelativeGatesConfig | None = None
    """Gate alarms on the candidate relative to the stable variant (5xx rate difference, p99 ratio)."""


def canary_steps(c: CanaryConfig) -> list[tuple[int, int]]:
    """The config's steps as (percent, bake seconds); a step without its own bake uses `bake_seconds`."""
    return [
        (s.percent, c.bake_seconds if s.bake_seconds is None else s.bake_seconds) for s in c.steps
    ]


def check(chk: EndpointChecks, sp: str, cfg: CanaryConfig) -> None:
    """A stable and a distinct candidate; steps 1..100, increasing, each bake at most a day."""
    stable = chk.variant(f"{sp}.stable", cfg.stable)
    cand = chk.variant(f"{sp}.candidate", cfg.candidate)
    if stable is not None and stable is cand:
        chk.errs.append(f"{sp}.candidate: must differ from stable")
    if chk.variants_ok and len(chk.variants) != 2:
        chk.errs.append(
            f"{chk.path}.variants: canary takes a stable and a candidate variant, "
            f"got {len(chk.variants)}"
        )
    if chk.bad.ok(f"{sp}.steps", f"{sp}.bake_seconds"):
        prev = 0
        for i, (pct, bake) in enumerate(canary_steps(cfg)):
            if not 1 <= pct <= 100 or pct <= prev:
                chk.errs.append(f"{sp}.steps[{i}]: must be 1..100 and increasing, got {pct}")
            elif bake > 86400:
                chk.errs.append(f"{sp}.steps[{i}].bake_seconds: must be 0..86400, got {bake}")
            prev = max(prev, pct)
    elif given(cfg.steps):
        # Some steps failed their shape check: still order-check the ones that passed.
        prev = 0
        for i, st in enumerate(cfg.steps):
            if not given(st) or not chk.bad.ok(f"{sp}.steps[{i}]"):
                continue
            if not 1 <= st.percent <= 100 or st.percent <= prev:
                chk.errs.append(f"{sp}.steps[{i}]: must be 1..100 and increasing, got {st.percent}")
            prev = max(prev, st.percent)
    _check_relative_gates(chk, sp, cfg)


def _check_relative_gates(chk: EndpointChecks, sp: str, cfg: CanaryConfig) -> None:
    """Each relative gate's alarm window, and `relative_gates.config_problems`."""
    rg = cfg.relative_gates
    if not given(rg) or rg is None:
        return
    from sagemaker_rollouts.strategies.relative_gates import config_problems

    for key in ("error_rate", "latency_p99"):
        gate = getattr(rg, key)
        if given(gate):
            check_alarm_windows(f"{sp}.relative_gates.{key}", gate, chk.errs, chk.bad)
    if chk.bad.ok(f"{sp}.relative_gates"):
        chk.errs.extend(config_problems(f"{sp}.relative_gates", rg))


def check_gates(chk: EndpointChecks) -> None:
    """At least one alarm gates the candidate."""
    if gate_alarm_count(chk.ep) < 1:
        chk.errs.append(
            f"{chk.path}.alarms: a canary needs at least one gate alarm on the candidate "
            "(an enabled standard alarm or a custom alarm with gate: true), got 0"
        )


def steps(ctx: Context) -> tuple[Step, ...]:
    """The config's steps, ending at 100: a list that stops short gets a final full shift."""
    c = ctx.ep.strategy.canary
    assert c is not None
    out = [Step(p, b) for p, b in canary_steps(c)]
    if out[-1].candidate_percent != 100:
        out.append(Step(100, c.bake_seconds))
    return tuple(out)


def sample_alarm(ctx: Context, candidate: str, window: int) -> AlarmPlan:
    """In ALARM while the candidate gets fewer than `min_invocations` requests per window.

    Missing data counts as breaching: no traffic is the lowest traffic. The controller holds on it
    (never rolls back): a quiet candidate has not proven anything yet.
    """
    c = ctx.ep.strategy.canary
    assert c is not None
    return AlarmPlan(
        key=f"{candidate}.low_traffic",
        name=f"{ctx.endpoint_name}-{candidate}-low-traffic",
        namespace=common.SAGEMAKER_NS,
        metric="Invocations",
        statistic="Sum",
        extended_statistic=None,
        threshold=float(c.min_invocations),
        comparison="LessThanThreshold",
        period_seconds=window,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        treat_missing_data="breaching",
        dimensions=(("EndpointName", ctx.endpoint_name), ("VariantName", candidate)),
        variant=candidate,
        gate=False,
        description=f"candidate {candidate} saw fewer than {c.min_invocations} requests in "
        f"{window} s ({ctx.path}.strategy.canary.min_invocations)",
    )


def plan(ctx: Context) -> EndpointPlan:
    """Stable and candidate variants, the candidate starting at its first step's share."""
    c = ctx.ep.strategy.canary
    assert c is not None
    stable, cand = ctx.variant(c.stable), ctx.variant(c.candidate)
    plan_steps = steps(ctx)
    first = plan_steps[0].candidate_percent
    stable_alarms = common.variant_alarms(ctx, stable.name, gate=False)
    alarms = (
        stable_alarms
        + common.variant_alarms(ctx, cand.name, gate=True)
        + [a for a in common.custom_alarms(ctx, gates_allowed=True) if a.variant != stable.name]
        + common.drift_alarms(ctx, cand.name, gates_allowed=True)
    )
    sample: AlarmPlan | None = None
    if c.min_invocations > 0:
        bakes = [s.bake_seconds for s in plan_steps if s.bake_seconds > 0]
        window = min(86400, max(60, common.ceil_div(min(bakes, default=60), 60) * 60))
        sample = sample_alarm(ctx, cand.name, window)
        alarms.append(sample)
    gates_path = f"{ctx.path}.strategy.canary.relative_gates"
    relative = relative_alarms(
        ctx.endpoint_name, stable.name, cand.name, c.relative_gates, gates_path
    )
    models = common.models(ctx, [stable, cand])
    cand_model = next(m for m in models if m.key == cand.model)
    spec = RolloutSpec(
        rollout_id=rollout_id(ctx.endpoint_name, cand_model.fingerprint, c.attempt),
        endpoint_name=ctx.endpoint_name,
        stable_variant=stable.name,
        candidate_variant=cand.name,
        steps=plan_steps,
        gate_alarms=(*(a.name for a in alarms if a.gate), *(r.name for r in relative)),
        min_invocations=c.min_invocations,
        insufficient_data_limit_seconds=c.insufficient_data_limit_seconds,
        sample_alarm=None if sample is None else sample.name,
        baseline_alarms=tuple(a.name for a in stable_alarms) if c.baseline_alarms else (),
        scale_down_delay_seconds=c.scale_down_delay_seconds,
    )
    stable_plan = common.variant(stable, 100 - first, endpoint_name=ctx.endpoint_name)
    cand_plan = common.variant(cand, first, endpoint_name=ctx.endpoint_name)
    # Stable and candidate scale independently; the candidate's minimum follows its share.
    cand_plan = replace(
        cand_plan,
        autoscaling=autoscaling.candidate_plan(cand_plan.autoscaling, stable_plan.autoscaling),
    )
    timeline: list[tuple[int, int]] = []
    t = 0
    final_bake = 0
    for s in plan_steps:
        timeline.append((t, s.candidate_percent))
        if s.candidate_percent == 100:
            final_bake = s.bake_seconds
            break
        t += s.bake_seconds
    # The final bake at 100% is part of the rollout (the timeline shows it); the stable fleet
    # idles at full size through it and the scale-down delay, then drops to one instance.
    if final_bake > 0:
        timeline.append((t + final_bake, 100))
    idle = scale_down.idle_stable_seconds(final_bake, c.scale_down_delay_seconds)
    extra_hours = None
    if idle is not None:
        extra_hours = round(
            cand.instance_count * t / 3600.0 + stable.instance_count * idle / 3600.0, 3
        )
    return EndpointPlan(
        key=ctx.key,
        endpoint_name=ctx.endpoint_name,
        strategy_plan=CanaryPlan(
            rollout=spec,
            relative_alarms=relative,
            hook_reserved_concurrency=ctx.ep.hook.reserved_concurrency,
        ),
        models=models,
        production_variants=(stable_plan, cand_plan),
        shadow_variants=(),
        alarms=tuple(alarms),
        data_capture=common.data_capture(ctx, default_on=False),
        endpoint_kms=common.endpoint_kms(ctx, [stable, cand]),
        profile=Profile(
            downtime=False,
            rollback_speed="instant",
            rollback_note="the hook sets the candidate's weight to 0 in one call, within a minute "
            "of an alarm",
            live_traffic_test=True,
            extra_instances=cand.instance_count,
            time_to_full_seconds=t,
            # Candidate fleet while it bakes below 100%, then the idle stable fleet until the
            # hook scales it down (None: no scale-down, it idles until the next `pulumi up`).
            extra_instance_hours=extra_hours,
        ),
        tags=common.tags(ctx, "canary"),
        timeline=tuple(timeline),
    )
