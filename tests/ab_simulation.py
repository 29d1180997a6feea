"""Simulated A/B tests for the evaluator's decision rule (tests and bench/bench_ab.py).

Each run draws, at every look of the schedule (`every_minutes`), the requests since the previous
look: `trials_per_hour` x interval requests split among the serving variants at random by their
weights (as SageMaker routes each request), each converting with its variant's true rate. At every
look the real `lambdas.ab_winner.decide` sees the cumulative counts with the spec's settings,
sample-ratio check included; a run ends at its first winner. Alongside, on the same draws, the
old rule: a one-look pooled z-test at `significance` read at every look (two variants only).
Seeded (numpy's PCG64): the same arguments give the same answer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from sagemaker_rollouts.lambdas.ab_winner import Arm, EvaluatorSpec, Winner, decide


@dataclass(frozen=True)
class SimResult:
    runs: int
    winners: dict[str, int]  # winner -> runs that named it (sequential test)
    naive_winner_runs: int  # runs in which the repeated one-look z-test named a winner
    mean_looks_to_winner: float | None

    @property
    def any_winner_rate(self) -> float:
        return sum(self.winners.values()) / self.runs

    def rate(self, variant: str) -> float:
        return self.winners.get(variant, 0) / self.runs

    @property
    def naive_rate(self) -> float:
        return self.naive_winner_runs / self.runs

    def standard_error(self, p: float) -> float:
        """Binomial standard error of a rate near p over these runs."""
        return math.sqrt(p * (1.0 - p) / self.runs)


def simulate(
    spec: EvaluatorSpec,
    true_rates: Mapping[str, float],
    *,
    trials_per_hour: float,
    runs: int,
    seed: int,
    hours: float | None = None,
) -> SimResult:
    """Run `runs` simulated tests of `spec` for `hours` (default: its window_hours)."""
    rng = np.random.default_rng(seed)
    variants = list(spec.variants)
    weights = spec.serving_weights
    shares = np.array([weights[v] for v in variants], dtype=float)
    shares /= shares.sum()
    rates = np.array([true_rates[v] for v in variants], dtype=float)
    looks = int((spec.window_hours if hours is None else hours) * 60 // spec.every_minutes)
    per_look = round(trials_per_hour * spec.every_minutes / 60.0)
    z_crit = float(np.abs(np.array([_z_crit(spec.significance)]))[0])
    winners: dict[str, int] = {}
    naive = 0
    looks_to_win: list[int] = []
    for _ in range(runs):
        split = rng.multinomial(per_look, shares, size=looks)  # (looks, k)
        conv = rng.binomial(split, rates)
        n = np.cumsum(split, axis=0)
        x = np.cumsum(conv, axis=0)
        if len(variants) == 2:
            naive += int(_naive_any(n, x, spec.min_samples, z_crit))
        for look in range(looks):
            arms = [Arm(v, int(x[look, i]), int(n[look, i])) for i, v in enumerate(variants)]
            if min(a.trials for a in arms) < spec.min_samples:
                continue
            d = decide(
                arms,
                min_samples=spec.min_samples,
                significance=spec.significance,
                tau=spec.tau,
                weights=weights,
                srm_alpha=spec.srm_alpha,
            )
            if isinstance(d, Winner):
                winners[d.variant] = winners.get(d.variant, 0) + 1
                looks_to_win.append(look + 1)
                break
    mean = None if not looks_to_win else sum(looks_to_win) / len(looks_to_win)
    return SimResult(runs, winners, naive, mean)


def _z_crit(alpha: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(1.0 - alpha / 2.0)


def _naive_any(n: np.ndarray, x: np.ndarray, min_samples: int, z_crit: float) -> bool:
    """Did a pooled two-proportion z-test at one-look alpha reject at any look?"""
    ok = n.min(axis=1) >= min_samples
    p = (x[:, 0] + x[:, 1]) / (n[:, 0] + n[:, 1])
    var = p * (1 - p) * (1 / np.maximum(n[:, 0], 1) + 1 / np.maximum(n[:, 1], 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (x[:, 0] / np.maximum(n[:, 0], 1) - x[:, 1] / np.maximum(n[:, 1], 1)) / np.sqrt(var)
    return bool(np.any(ok & (var > 0) & (np.abs(z) >= z_crit)))
