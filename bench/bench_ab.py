"""A/A and lift simulations of the A/B evaluator's decision rule at scale (the CI version is
tests/lambdas/test_ab_sequential.py).

    python bench/bench_ab.py [--runs 10000] [--seed 1]

Shipped defaults (AbConfig: significance 0.05, min_samples 1000, baseline 5%, lift 0.2, hourly
looks for 168 h), 100 trials per variant per hour, 50/50 weights. For each scenario it prints the
share of runs that named a winner with the sequential test (the real `decide`) and with the old
rule (a one-look z-test read at every look) on the same draws, with the simulation's standard
error. Exit 1 when the A/A false-winner rate exceeds significance + 3 standard errors or the lift
is found less often than the planned power - 3 standard errors.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sagemaker_rollouts.lambdas.ab_winner import design
from sagemaker_rollouts.strategies.ab import evaluator
from sagemaker_rollouts.strategies.config import AbConfig
from tests.ab_simulation import simulate


def main() -> int:
    parser = argparse.ArgumentParser(
        description="A/A and lift simulations of the A/B decision rule"
    )
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    ab = AbConfig.model_validate(
        {
            "weights": {"control": 50, "challenger": 50},
            "successes": {"namespace": "Shop/Business", "metric": "Orders"},
            "expected_trials_per_hour": 200,
        }
    )
    spec = evaluator(ab, "bench", ["control", "challenger"])
    assert spec is not None
    plan = design(spec)
    lifted = spec.baseline_rate * (1 + spec.minimum_detectable_lift)
    ok = True
    print(
        f"defaults: significance {spec.significance}, min_samples {spec.min_samples}, "
        f"every {spec.every_minutes} min for {spec.window_hours} h, 100 trials/variant/hour; "
        f"design: {plan.planned_hours:.0f} h for {plan.power:.0%} power at +"
        f"{spec.minimum_detectable_lift:.0%}"
    )
    print("| scenario | runs | sequential: winner rate (SE) | old repeated z-test | wall s |")
    print("|---|---|---|---|---|")
    for name, rates, target in (
        ("A/A 5% vs 5%", {"control": 0.05, "challenger": 0.05}, "aa"),
        (f"lift 5% vs {100 * lifted:.0f}%", {"control": 0.05, "challenger": lifted}, "lift"),
    ):
        t0 = time.perf_counter()
        sim = simulate(spec, rates, trials_per_hour=200, runs=args.runs, seed=args.seed)
        wall = time.perf_counter() - t0
        rate = sim.any_winner_rate if target == "aa" else sim.rate("challenger")
        se = sim.standard_error(rate if rate > 0 else spec.significance)
        print(
            f"| {name} | {sim.runs} | {rate:.4f} ({se:.4f}) | {sim.naive_rate:.4f} | {wall:.1f} |"
        )
        if target == "aa" and rate > spec.significance + 3 * sim.standard_error(0.05):
            ok = False
        if target == "lift" and rate < plan.power - 3 * sim.standard_error(plan.power):
            ok = False
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
