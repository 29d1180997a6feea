"""A/B testing: several variants with fixed weights; a winner is picked from their metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sagemaker_rollouts.strategies import common
from sagemaker_rollouts.strategies.common import Context
from sagemaker_rollouts.strategies.config import AbConfig, MetricRefConfig
from sagemaker_rollouts.strategies.plan import EndpointPlan, Profile

if TYPE_CHECKING:  # the evaluator's module is imported only when a stack has an A/B endpoint
    from sagemaker_rollouts.strategies.ab_winner import EvaluatorSpec, MetricRef


def _ref(m: MetricRefConfig) -> MetricRef:
    from sagemaker_rollouts.strategies.ab_winner import MetricRef

    return MetricRef(
        namespace=m.namespace,
        metric=m.metric,
        dimensions=tuple(sorted(m.dimensions.items())),
        variant_dimension=m.variant_dimension,
        endpoint_dimension=m.endpoint_dimension,
    )


def evaluator(ab: AbConfig, endpoint_name: str, order: list[str]) -> EvaluatorSpec | None:
    """The evaluator's spec, or None when `successes` is not configured (nothing is declared)."""
    if ab.successes is None:
        return None
    from sagemaker_rollouts.strategies.ab_winner import INVOCATIONS, EvaluatorSpec

    return EvaluatorSpec(
        endpoint_name=endpoint_name,
        variants=tuple(v for v in order if ab.weights[v] > 0),
        weights=tuple((v, ab.weights[v]) for v in order),
        successes=_ref(ab.successes),
        trials=INVOCATIONS if ab.trials is None else _ref(ab.trials),
        min_samples=ab.min_samples,
        significance=ab.significance,
        on_winner=ab.on_winner,
        window_hours=ab.window_hours,
        every_minutes=ab.evaluate_every_minutes,
        baseline_rate=ab.baseline_rate,
        minimum_detectable_lift=ab.minimum_detectable_lift,
        srm_alpha=ab.srm_alpha,
        expected_trials_per_hour=ab.expected_trials_per_hour,
    )


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
        production_variants=tuple(
            common.variant(v, ab.weights[v.name], endpoint_name=ctx.endpoint_name) for v in variants
        ),
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
        ab_evaluator=evaluator(ab, ctx.endpoint_name, [v.name for v in variants]),
    )
