"""A/B testing: several variants with fixed weights; a winner is picked from their metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from sagemaker_rollouts.strategies import common
from sagemaker_rollouts.strategies.common import Context
from sagemaker_rollouts.strategies.config_errors import given
from sagemaker_rollouts.strategies.config_rules import EndpointChecks
from sagemaker_rollouts.strategies.config_values import (
    ConfigModel,
    Int,
    MapValue,
    Number,
    Text,
    aws_length,
    aws_limit,
)
from sagemaker_rollouts.strategies.plan import ABPlan, EndpointPlan, Profile

if TYPE_CHECKING:  # the evaluator's module is imported only when a stack has an A/B endpoint
    from sagemaker_rollouts.lambdas.ab_winner import EvaluatorSpec, MetricRef


class MetricRefConfig(ConfigModel):
    """A CloudWatch metric summed per variant (A/B evaluator): the variant's name goes under
    `variant_dimension`, the endpoint's under `endpoint_dimension` (null: none), plus `dimensions`."""

    namespace: Annotated[Text, aws_length("cloudwatch.Namespace")]
    """CloudWatch namespace."""
    metric: Annotated[Text, aws_length("cloudwatch.MetricName")]
    """CloudWatch metric name (summed per variant)."""
    dimensions: dict[
        Annotated[str, aws_length("cloudwatch.DimensionName")],
        Annotated[MapValue, aws_length("cloudwatch.DimensionValue")],
    ] = Field(default_factory=dict)
    """Extra dimensions of the metric."""
    variant_dimension: Annotated[Text, aws_length("cloudwatch.DimensionName")] = "VariantName"
    """Dimension that holds the variant's name."""
    endpoint_dimension: Annotated[Text, aws_length("cloudwatch.DimensionName")] | None = (
        "EndpointName"
    )
    """Dimension that holds the endpoint's name (null: none)."""


class AbConfig(ConfigModel):
    weights: dict[Text, Int] = Field(min_length=2)
    """Traffic weight per variant (0: a dark variant); at least one positive."""
    # The evaluator Lambda is declared only when `successes` is set.
    successes: MetricRefConfig | None = None
    """The success metric per variant; with it the evaluator Lambda is declared."""
    trials: MetricRefConfig | None = None  # default: AWS/SageMaker Invocations
    """The trials metric per variant (default: AWS/SageMaker Invocations)."""
    min_samples: Annotated[Int, Field(ge=30)] = 1000
    """Fewest trials per variant before a winner may be named."""
    significance: Annotated[Number, Field(gt=0, le=0.2)] = 0.05
    """Significance level of the winner test (0..0.2)."""
    on_winner: Literal["notify", "promote"] = "notify"
    """notify: tell the topic; promote: also set the winner's weight to 100."""
    evaluate_every_minutes: Annotated[Int, Field(ge=1, le=1440)] = 60
    """Minutes between evaluations (1..1440)."""
    # The test's horizon: counts are cumulative from its start; no winner is named after it.
    window_hours: Annotated[Int, Field(ge=1, le=24 * 63)] = 168
    """The test's horizon in hours (1..1512): counts are cumulative from its start; no winner is named after it."""
    # Planning and the sequential test's tau (lambdas/ab_winner.py): the control's expected
    # rate and the smallest relative lift worth finding (0.2: 5% -> 6%).
    baseline_rate: Annotated[Number, Field(gt=0, lt=1)] = 0.05
    """The control's expected success rate (0..1), for planning and the sequential test."""
    minimum_detectable_lift: Annotated[Number, Field(gt=0, le=10)] = 0.2
    """The smallest relative lift worth finding (0.2: a 5% rate becomes 6%)."""
    # Trials per hour across the serving variants, for `rollout plan`'s duration and MDE only.
    expected_trials_per_hour: Annotated[Number, Field(gt=0)] | None = None
    """Trials per hour across the serving variants, for `rollout plan`'s duration and MDE only."""
    # Sample-ratio-mismatch check: hold while the split of trials contradicts the weights at p <.
    srm_alpha: Annotated[Number, Field(gt=0, le=0.05)] = 0.001
    """Sample-ratio-mismatch check: hold while the split of trials contradicts the weights at p below this."""


def check(chk: EndpointChecks, sp: str, cfg: AbConfig) -> None:
    """A weight per variant (>= 0, one positive); an evaluator needs two serving variants."""
    if chk.bad.ok(f"{sp}.weights"):
        _check_weights(chk, sp, cfg)
    serving = [k for k, w in cfg.weights.items() if w > 0] if chk.bad.ok(f"{sp}.weights") else []
    checkable = chk.bad.ok(f"{sp}.weights", f"{sp}.successes")
    if checkable and cfg.successes is not None and len(serving) < 2:
        chk.errs.append(
            f"{sp}.successes: the evaluator compares serving variants; needs at least two "
            f"with a positive weight, got {len(serving)}"
        )
    dmax = aws_limit("cloudwatch.Dimensions", "max")
    for ref_key in ("successes", "trials"):
        ref = getattr(cfg, ref_key) if chk.bad.ok(f"{sp}.{ref_key}") else None
        if ref is not None and len(ref.dimensions) + 2 > dmax:
            chk.errs.append(
                f"{sp}.{ref_key}.dimensions: CloudWatch allows at most {dmax} dimensions "
                f"(2 are added: variant and endpoint), got {len(ref.dimensions)}"
            )
    if (
        chk.bad.ok(f"{sp}.successes", f"{sp}.trials", f"{sp}.on_winner")
        and cfg.successes is None
        and (cfg.trials is not None or cfg.on_winner == "promote")
    ):
        chk.errs.append(f"{sp}.successes: required to evaluate a winner (trials or on_winner set)")
    if (
        chk.bad.ok(f"{sp}.baseline_rate", f"{sp}.minimum_detectable_lift")
        and cfg.baseline_rate * (1 + cfg.minimum_detectable_lift) >= 1
    ):
        chk.errs.append(
            f"{sp}.minimum_detectable_lift: baseline_rate x (1 + minimum_detectable_lift) "
            f"must stay below 1 (a rate), got {cfg.baseline_rate:g} x "
            f"(1 + {cfg.minimum_detectable_lift:g})"
        )


def _check_weights(chk: EndpointChecks, sp: str, cfg: AbConfig) -> None:
    for vname in cfg.weights:
        chk.variant(f"{sp}.weights.{vname}", vname)
    if chk.names_ok:
        for v in chk.variants:
            if given(v) and v.name not in cfg.weights:
                chk.errs.append(f"{sp}.weights: missing a weight for variant {v.name!r}")
    for vname, w in cfg.weights.items():
        if w < 0:
            chk.errs.append(f"{sp}.weights.{vname}: must be >= 0 (0 is a dark variant), got {w}")
    if sum(w for w in cfg.weights.values() if w > 0) == 0:
        chk.errs.append(
            f"{sp}.weights: at least one weight must be positive so some variant serves"
        )


def check_gates(chk: EndpointChecks) -> None:
    """No gate alarms: weights are fixed; the evaluator only reports."""


def _ref(m: MetricRefConfig) -> MetricRef:
    from sagemaker_rollouts.lambdas.ab_winner import MetricRef

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
    from sagemaker_rollouts.lambdas.ab_winner import INVOCATIONS, EvaluatorSpec

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
        strategy_plan=ABPlan(evaluator(ab, ctx.endpoint_name, [v.name for v in variants])),
        models=common.models(ctx, variants),
        production_variants=tuple(
            common.variant(v, ab.weights[v.name], endpoint_name=ctx.endpoint_name) for v in variants
        ),
        shadow_variants=(),
        alarms=tuple(alarms),
        data_capture=common.data_capture(ctx, default_on=False),
        endpoint_kms=common.endpoint_kms(ctx, variants),
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
