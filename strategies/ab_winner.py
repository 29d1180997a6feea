"""A/B winner: decide from per-variant successes and trials whether one variant is clearly best.

Method: two-proportion z-tests (pooled standard error), the observed leader against every other
serving variant, each at `significance / (k - 1)` (Bonferroni, k = serving variants), two-sided.
The leader wins only when it differs significantly from every other variant; then, having the
highest observed rate, it is the better one in each comparison.

Why a z-test rather than a Bayesian probability of being best: the `significance` key then means
what a team's analysts expect (the false-winner rate, bounded across the k - 1 comparisons by
Bonferroni); the statistic is closed-form (`math.erfc`), so the standard-library-only Lambda
computes it exactly, where P(best) over k Beta posteriors needs numerical integration or Monte
Carlo (run-to-run noise in a decision that moves traffic); and it is reproducible with
statsmodels' `proportions_ztest`, which the tests check it against. The normal approximation
needs enough samples: `min_samples` per variant (default 1000) is enforced before any test.

Theory of the decision (no winner beats a wrong winner):
- any serving variant with fewer than `min_samples` trials -> no decision ("too few samples");
- successes > trials or negative counts -> no decision ("inconsistent metrics");
- fewer than two serving variants -> no decision;
- leader not significantly different from some variant -> no decision ("indistinguishable");
- otherwise -> Winner(leader) with the evidence.
Dark variants (weight 0) receive no traffic and are not compared.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

OnWinner = Literal["notify", "promote"]


@dataclass(frozen=True, slots=True)
class MetricRef:
    """A CloudWatch metric summed per variant: `dimensions` plus the variant's name under
    `variant_dimension` and, when `endpoint_dimension` is set, the endpoint's name under it."""

    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...] = ()
    variant_dimension: str = "VariantName"
    endpoint_dimension: str | None = "EndpointName"

    def dims(self, endpoint: str, variant: str) -> list[dict[str, str]]:
        """CloudWatch `Dimensions` for one variant."""
        out = [{"Name": k, "Value": v} for k, v in self.dimensions]
        if self.endpoint_dimension is not None:
            out.append({"Name": self.endpoint_dimension, "Value": endpoint})
        out.append({"Name": self.variant_dimension, "Value": variant})
        return out


INVOCATIONS = MetricRef(namespace="AWS/SageMaker", metric="Invocations")


@dataclass(frozen=True, slots=True)
class EvaluatorSpec:
    """What the A/B evaluator Lambda needs, serialised into its environment as JSON."""

    endpoint_name: str
    variants: tuple[str, ...]  # serving variants (weight > 0), in config order
    weights: tuple[tuple[str, int], ...]  # every variant's configured weight
    successes: MetricRef
    trials: MetricRef
    min_samples: int
    significance: float
    on_winner: OnWinner
    window_hours: int
    every_minutes: int

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @staticmethod
    def from_json(text: str) -> EvaluatorSpec:
        d: dict[str, Any] = json.loads(text)

        def ref(r: dict[str, Any]) -> MetricRef:
            return MetricRef(
                namespace=str(r["namespace"]),
                metric=str(r["metric"]),
                dimensions=tuple((str(k), str(v)) for k, v in r["dimensions"]),
                variant_dimension=str(r["variant_dimension"]),
                endpoint_dimension=None
                if r["endpoint_dimension"] is None
                else str(r["endpoint_dimension"]),
            )

        on_winner: OnWinner = "promote" if d["on_winner"] == "promote" else "notify"
        return EvaluatorSpec(
            endpoint_name=str(d["endpoint_name"]),
            variants=tuple(str(v) for v in d["variants"]),
            weights=tuple((str(k), int(v)) for k, v in d["weights"]),
            successes=ref(d["successes"]),
            trials=ref(d["trials"]),
            min_samples=int(d["min_samples"]),
            significance=float(d["significance"]),
            on_winner=on_winner,
            window_hours=int(d["window_hours"]),
            every_minutes=int(d["every_minutes"]),
        )


@dataclass(frozen=True, slots=True)
class Arm:
    """One variant's counts. `rate` is None with no trials."""

    variant: str
    successes: int
    trials: int

    @property
    def rate(self) -> float | None:
        return None if self.trials == 0 else self.successes / self.trials


@dataclass(frozen=True, slots=True)
class Comparison:
    """Leader vs one other variant: z statistic and two-sided p-value (None: no variance)."""

    leader: str
    other: str
    z: float | None
    p_value: float | None
    significant: bool


@dataclass(frozen=True, slots=True)
class Winner:
    variant: str
    arms: tuple[Arm, ...]
    comparisons: tuple[Comparison, ...]
    alpha_per_test: float
    reason: str


@dataclass(frozen=True, slots=True)
class NoDecision:
    arms: tuple[Arm, ...]
    comparisons: tuple[Comparison, ...]
    reason: str


Decision = Winner | NoDecision


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def two_proportion_z(a: Arm, b: Arm) -> tuple[float | None, float | None]:
    """Pooled two-proportion z statistic of a's rate minus b's, and its two-sided p-value.

    (None, None) when the pooled rate is 0 or 1 (no variance: the rates are identical)."""
    if a.trials == 0 or b.trials == 0:
        return None, None
    pooled = (a.successes + b.successes) / (a.trials + b.trials)
    var = pooled * (1.0 - pooled) * (1.0 / a.trials + 1.0 / b.trials)
    if var <= 0.0:
        return None, None
    z = (a.successes / a.trials - b.successes / b.trials) / math.sqrt(var)
    return z, 2.0 * normal_sf(abs(z))


def decide(arms: Sequence[Arm], *, min_samples: int, significance: float) -> Decision:
    """The winner among `arms` (serving variants), or why there is none. See the module doc."""
    arms_t = tuple(arms)
    if not 0.0 < significance < 1.0:
        raise ValueError(f"significance must be in (0, 1), got {significance}")
    bad = [a.variant for a in arms_t if a.trials < 0 or a.successes < 0 or a.successes > a.trials]
    if bad:
        return NoDecision(
            arms_t, (), f"inconsistent metrics for {', '.join(bad)}: successes must be 0..trials"
        )
    if len(arms_t) < 2:
        return NoDecision(arms_t, (), "fewer than two serving variants to compare")
    few = [a for a in arms_t if a.trials < min_samples]
    if few:
        listed = ", ".join(f"{a.variant} {a.trials}" for a in few)
        return NoDecision(arms_t, (), f"too few samples: {listed} < min_samples {min_samples}")
    # Leader: the highest observed rate; ties broken by the variant order in config.
    leader = max(arms_t, key=lambda a: a.successes / a.trials)
    alpha = significance / (len(arms_t) - 1)
    comps: list[Comparison] = []
    for other in arms_t:
        if other is leader:
            continue
        z, p = two_proportion_z(leader, other)
        comps.append(Comparison(leader.variant, other.variant, z, p, p is not None and p < alpha))
    unclear = [c for c in comps if not c.significant]
    if unclear:
        listed = ", ".join(
            f"{c.other} (p={'n/a' if c.p_value is None else f'{c.p_value:.4g}'})" for c in unclear
        )
        return NoDecision(
            arms_t,
            tuple(comps),
            f"indistinguishable: {leader.variant} vs {listed} at alpha {alpha:.4g}",
        )
    rate = leader.successes / leader.trials
    return Winner(
        leader.variant,
        arms_t,
        tuple(comps),
        alpha,
        f"{leader.variant} converts at {100 * rate:.2f}%, significantly above every other "
        f"variant (max p={max(c.p_value or 0.0 for c in comps):.3g} < alpha {alpha:.4g})",
    )


def evidence(decision: Decision) -> dict[str, Any]:
    """The decision as plain JSON data, for the rollout history and notifications."""
    base: dict[str, Any] = {
        "arms": [{**asdict(a), "rate": a.rate} for a in decision.arms],
        "comparisons": [asdict(c) for c in decision.comparisons],
        "reason": decision.reason,
    }
    match decision:
        case Winner():
            return {"decision": "winner", "winner": decision.variant, **base}
        case NoDecision():
            return {"decision": "none", "winner": None, **base}


def arms_from_counts(
    variants: Sequence[str], successes: Mapping[str, float], trials: Mapping[str, float]
) -> tuple[Arm, ...]:
    """Arms from summed metric values (a variant without datapoints has 0)."""
    return tuple(Arm(v, round(successes.get(v, 0.0)), round(trials.get(v, 0.0))) for v in variants)


def promoted_weights(spec: EvaluatorSpec, winner: str) -> dict[str, float]:
    """`on_winner: promote`: all traffic to the winner, every other variant at weight 0 (kept
    deployed, so going back is one weights call)."""
    return {name: (1.0 if name == winner else 0.0) for name, _ in spec.weights}
