"""The A/B winner under continuous monitoring: A/A rehearsals hold the false-winner rate at the
configured significance, a lift of the configured size is found, the sample-ratio check refuses
to decide on a broken split, and `rollout plan`'s design agrees with simulation.

Simulations (tests/ab_simulation.py) run the real `decide` at every look of the shipped schedule
with the shipped defaults (AbConfig's: significance 0.05, min_samples 1000, baseline 5%, lift
0.2, hourly looks, 168 h) and 100 trials per variant per hour; seeded, a few seconds each.
The bigger version is bench/bench_ab.py."""

from __future__ import annotations

import math

import pytest

from sagemaker_rollouts.lambdas.ab_winner import (
    Arm,
    EvaluatorSpec,
    MetricRef,
    NoDecision,
    Winner,
    boundary_z,
    decide,
    design,
)
from sagemaker_rollouts.strategies.ab import evaluator
from sagemaker_rollouts.strategies.config import AbConfig
from tests.ab_simulation import simulate

SUCCESSES = {"namespace": "Shop/Business", "metric": "Orders"}


def shipped(weights: dict[str, int], **edit: object) -> EvaluatorSpec:
    """The evaluator spec the planner builds from AbConfig's defaults."""
    ab = AbConfig.model_validate({"weights": weights, "successes": SUCCESSES, **edit})
    spec = evaluator(ab, "ep", list(weights))
    assert spec is not None
    return spec


def test_an_aa_test_names_a_false_winner_no_more_often_than_the_significance() -> None:
    spec = shipped({"control": 50, "challenger": 50})
    assert (spec.significance, spec.every_minutes, spec.window_hours) == (0.05, 60, 168)
    sim = simulate(
        spec, {"control": 0.05, "challenger": 0.05}, trials_per_hour=200, runs=400, seed=7
    )
    bound = spec.significance + 2 * sim.standard_error(spec.significance)
    assert sim.any_winner_rate <= bound, sim
    # The same draws read by a one-look z-test at every hourly look: the old rule, far above.
    assert sim.naive_rate > 0.2, sim


def test_an_aa_test_with_three_variants_and_uneven_weights_holds_the_rate() -> None:
    spec = shipped({"a": 50, "b": 25, "c": 25})
    sim = simulate(
        spec, dict.fromkeys(("a", "b", "c"), 0.05), trials_per_hour=400, runs=200, seed=11
    )
    assert sim.any_winner_rate <= spec.significance + 2 * sim.standard_error(0.05), sim


def test_a_lift_of_the_configured_size_is_found_with_the_planned_power() -> None:
    spec = shipped({"control": 50, "challenger": 50}, expected_trials_per_hour=200)
    plan = design(spec)
    assert plan.planned_hours is not None and plan.planned_hours <= spec.window_hours
    lifted = spec.baseline_rate * (1 + spec.minimum_detectable_lift)
    sim = simulate(
        spec, {"control": 0.05, "challenger": lifted}, trials_per_hour=200, runs=200, seed=3
    )
    assert sim.rate("challenger") >= plan.power - 2 * sim.standard_error(plan.power), sim
    assert sim.rate("control") <= 0.01, sim  # the wrong direction is a false winner


def test_the_planned_sample_size_is_conservative_and_the_median_is_near() -> None:
    """Half the runs should have stopped by the planned median; most by the planned size."""
    spec = shipped({"control": 50, "challenger": 50}, expected_trials_per_hour=200)
    plan = design(spec)
    assert plan.median_hours is not None and plan.planned_hours is not None
    lifted = spec.baseline_rate * (1 + spec.minimum_detectable_lift)
    by_median = simulate(
        spec,
        {"control": 0.05, "challenger": lifted},
        trials_per_hour=200,
        runs=200,
        seed=5,
        hours=plan.median_hours,
    )
    assert 0.4 <= by_median.rate("challenger") <= 0.75, (plan, by_median)


def _spec(weights: dict[str, int], **kw: object) -> EvaluatorSpec:
    ref = MetricRef("N", "M")
    fields: dict[str, object] = {
        "endpoint_name": "ep",
        "variants": tuple(weights),
        "weights": tuple(weights.items()),
        "successes": ref,
        "trials": ref,
        "min_samples": 1000,
        "significance": 0.05,
        "on_winner": "notify",
        "window_hours": 168,
        "every_minutes": 60,
    }
    fields.update(kw)
    return EvaluatorSpec(**fields)  # type: ignore[arg-type]


DESIGNS = [
    # (weights, trials/hour, significance, lift, planned hours range, mde range)
    ({"a": 50, "b": 50}, 200, 0.05, 0.2, (140, 168), (0.18, 0.2)),
    ({"a": 70, "b": 30}, 200, 0.05, 0.2, (168, 200), (0.2, 0.22)),
    ({"a": 50, "b": 50}, 200, 0.01, 0.2, (168, 260), (0.2, 0.26)),
    ({"a": 50, "b": 50}, 2000, 0.05, 0.05, (168, 400), (0.05, 0.08)),
]


@pytest.mark.parametrize(("weights", "rate", "sig", "lift", "hours", "mde"), DESIGNS)
def test_design_numbers_follow_traffic_split_significance_and_lift(
    weights: dict[str, int],
    rate: int,
    sig: float,
    lift: float,
    hours: tuple[float, float],
    mde: tuple[float, float],
) -> None:
    plan = design(
        _spec(
            weights, significance=sig, minimum_detectable_lift=lift, expected_trials_per_hour=rate
        )
    )
    assert plan.planned_hours is not None and hours[0] <= plan.planned_hours <= hours[1], plan
    assert plan.mde_lift is not None and mde[0] <= plan.mde_lift <= mde[1], plan
    assert plan.median_trials < plan.planned_trials
    assert sum(n for _, n in plan.per_variant) >= plan.planned_trials


def test_design_against_scipy_power_at_the_planned_size() -> None:
    """At the planned size, the drift of the z statistic minus the mSPRT boundary is the
    power's normal quantile (scipy's)."""
    from scipy.stats import norm

    spec = _spec({"a": 50, "b": 50}, expected_trials_per_hour=200)
    plan = design(spec)
    n = plan.planned_trials / 2
    p0, p1 = 0.05, 0.06
    pooled = (p0 + p1) / 2
    var = pooled * (1 - pooled) * 2 / n
    drift = (p1 - p0) / math.sqrt(var)
    power = float(norm.cdf(drift - boundary_z(var, spec.tau, spec.significance)))
    assert power == pytest.approx(0.8, abs=0.002)


def test_design_without_expected_traffic_has_sizes_but_no_hours() -> None:
    plan = design(_spec({"a": 50, "b": 50}))
    assert (plan.planned_hours, plan.median_hours, plan.mde_lift) == (None, None, None)
    assert plan.planned_trials > 0


SRM_CASES = [
    # (trials per variant, weights, holds)
    ({"control": 7000, "challenger": 3000}, {"control": 70, "challenger": 30}, False),
    ({"control": 7100, "challenger": 2900}, {"control": 70, "challenger": 30}, False),
    ({"control": 5000, "challenger": 5000}, {"control": 70, "challenger": 30}, True),
    ({"control": 7300, "challenger": 2700}, {"control": 70, "challenger": 30}, True),
    ({"a": 3400, "b": 3300, "c": 3300}, {"a": 1, "b": 1, "c": 1}, False),
    ({"a": 4000, "b": 3000, "c": 3000}, {"a": 1, "b": 1, "c": 1}, True),
]


@pytest.mark.parametrize(("trials", "weights", "holds"), SRM_CASES)
def test_a_split_that_contradicts_the_weights_decides_nothing_and_says_so(
    trials: dict[str, int], weights: dict[str, int], holds: bool
) -> None:
    # The last variant converts far better: without the check it would win.
    arms = [
        Arm(v, n // 5 if i == len(trials) - 1 else n // 20, n)
        for i, (v, n) in enumerate(trials.items())
    ]
    d = decide(arms, min_samples=1000, significance=0.05, tau=0.01, weights=weights)
    assert d.sample_ratio is not None and d.sample_ratio.mismatch == holds
    if holds:
        assert isinstance(d, NoDecision)
        assert d.reason.startswith("sample ratio mismatch: trials split")
        assert "do not get the traffic their weights say" in d.reason
        assert d.comparisons == ()
    else:
        assert isinstance(d, Winner)
