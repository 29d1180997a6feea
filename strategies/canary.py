"""canary: a small share of live requests goes to the candidate and steps up while alarms are quiet.

SageMaker's managed canary shifts by instance count in at most two steps; here the stable and the
candidate are two production variants and the hook Lambda moves their weights through any list of
steps, rolling back to candidate 0 the moment a gate alarm fires (see strategies/controller.py).
"""

from __future__ import annotations

from dataclasses import replace

from sagemaker_rollouts.strategies import autoscaling, common, scale_down
from sagemaker_rollouts.strategies.common import Context
from sagemaker_rollouts.strategies.config import canary_steps
from sagemaker_rollouts.strategies.plan import AlarmPlan, EndpointPlan, Profile
from sagemaker_rollouts.strategies.relative_gates import relative_alarms
from sagemaker_rollouts.strategies.rollout import RolloutSpec, Step, rollout_id


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
        strategy="canary",
        models=models,
        production_variants=(stable_plan, cand_plan),
        shadow_variants=(),
        deployment=None,
        replace_on_change=False,
        alarms=tuple(alarms),
        data_capture=common.data_capture(ctx, default_on=False),
        endpoint_kms=common.endpoint_kms(ctx, [stable, cand]),
        canary=spec,
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
        hook_reserved_concurrency=ctx.ep.hook.reserved_concurrency,
        timeline=tuple(timeline),
        relative_alarms=relative,
    )
