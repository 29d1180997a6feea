"""A/B winner: decide, at every scheduled look, whether one variant is clearly best.

Method: a mixture sequential probability ratio test (mSPRT; Johari, Pekelis, Walsh, "Always
Valid Inference: Continuous Monitoring of A/B Tests", Operations Research 70(3), 2022, section 4
and its normal-mixture example) on the difference of two proportions, the observed leader against
every other serving variant. For arms a and b with rates observed as x/n, the difference
theta^ = x_a/n_a - x_b/n_b has (pooled, as under the null) variance
V = p(1 - p)(1/n_a + 1/n_b). With a normal mixing distribution N(0, tau^2) over the true
difference, the mixture likelihood ratio is

    Lambda = sqrt(V / (V + tau^2)) * exp(tau^2 * theta^^2 / (2 V (V + tau^2)))

and a look rejects "no difference" when Lambda >= 1/alpha. Under the null, Lambda is (in the
normal approximation) a non-negative martingale with mean 1, so by Ville's inequality the chance
that it EVER reaches 1/alpha is at most alpha: the test may be read at every look of the
`evaluate_every_minutes` schedule, for as long as the test runs, and stop at the first crossing.
1/Lambda (capped at 1) is the always-valid p-value at that look. A fixed-horizon z-test read at
every look is not: hourly for a week it names a false winner in about 35-40% of A/A tests
(bench/ab_aa_simulation.py measures both).

tau is fixed before any data: the absolute minimum detectable effect, `baseline_rate` x
`minimum_detectable_lift` (Johari et al. advise matching tau to the effect sizes one expects).

Several serving variants: every one of the k(k-1)/2 pairs is tested at
`significance / (k(k-1)/2)` (Bonferroni), so the chance of any false "x beats y" claim, and hence
of a false winner, stays within `significance` whichever pair leads at whichever look.

Counts must be cumulative from the test's start (the evaluator records it): a sliding window
drops old trials and breaks the martingale. The normal approximation needs enough samples:
`min_samples` per variant (default 1000) is enforced before any test.

Theory of the decision (no winner beats a wrong winner):
- successes > trials or negative counts -> no decision ("inconsistent metrics");
- fewer than two serving variants -> no decision;
- the observed split of trials contradicts the configured weights (chi-square goodness of fit,
  p < `srm_alpha`, default 0.001) -> no decision ("sample ratio mismatch"): the arms do not see
  the traffic they should, so their comparison is not an experiment;
- any serving variant with fewer than `min_samples` trials -> no decision ("too few samples");
- leader not significantly different from some variant -> no decision ("indistinguishable");
- otherwise -> Winner(leader) with the evidence.
Dark variants (weight 0) receive no traffic and are not compared.

Everything here is standard library only (the evaluator Lambda ships with it); the tests check
each number against scipy and statsmodels.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
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
    """What the A/B evaluator Lambda needs, serialised into its environment as JSON.

    `window_hours` is the test's horizon: counts are cumulative from the test's start and no winner
    is named after `window_hours`. `baseline_rate` x `minimum_detectable_lift` is the mSPRT's tau.
    """

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
    baseline_rate: float = 0.05
    minimum_detectable_lift: float = 0.2
    srm_alpha: float = 0.001
    expected_trials_per_hour: float | None = None  # planning only (`rollout plan`)

    @property
    def tau(self) -> float:
        """The mixing distribution's standard deviation: the absolute minimum detectable effect."""
        return self.baseline_rate * self.minimum_detectable_lift

    @property
    def serving_weights(self) -> dict[str, int]:
        """Configured weight of each serving variant."""
        w = dict(self.weights)
        return {v: w[v] for v in self.variants}

    def fingerprint(self) -> str:
        """What defines one test: a change restarts it (old counts followed other weights)."""
        return json.dumps(
            {
                "variants": self.variants,
                "weights": self.weights,
                "successes": asdict(self.successes),
                "trials": asdict(self.trials),
                "tau": self.tau,
            },
            sort_keys=True,
        )

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
            baseline_rate=float(d["baseline_rate"]),
            minimum_detectable_lift=float(d["minimum_detectable_lift"]),
            srm_alpha=float(d["srm_alpha"]),
            expected_trials_per_hour=None
            if d.get("expected_trials_per_hour") is None
            else float(d["expected_trials_per_hour"]),
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
    """Leader vs one other variant at one look.

    `z`: the pooled two-proportion z statistic (for reading; not what decides); `log_lr`: the
    mSPRT's log mixture likelihood ratio; `p_value`: the always-valid p-value at this look,
    min(1, 1/Lambda); `significant`: log_lr >= ln(1/alpha_per_test). None where the pooled rate is
    0 or 1 (no variance: the rates are identical)."""

    leader: str
    other: str
    z: float | None
    log_lr: float | None
    p_value: float | None
    significant: bool


@dataclass(frozen=True, slots=True)
class SampleRatio:
    """Observed split of trials against the configured weights: Pearson's chi-square statistic,
    its degrees of freedom and p-value; `mismatch` when p < the configured `srm_alpha`."""

    chi2: float
    dof: int
    p_value: float
    alpha: float
    mismatch: bool


@dataclass(frozen=True, slots=True)
class Winner:
    variant: str
    arms: tuple[Arm, ...]
    comparisons: tuple[Comparison, ...]
    alpha_per_test: float
    reason: str
    sample_ratio: SampleRatio | None = None


@dataclass(frozen=True, slots=True)
class NoDecision:
    arms: tuple[Arm, ...]
    comparisons: tuple[Comparison, ...]
    reason: str
    sample_ratio: SampleRatio | None = None


Decision = Winner | NoDecision

_N = NormalDist()


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def chi2_sf(x: float, dof: int) -> float:
    """P(X > x) for X chi-square with `dof` (>= 1) degrees of freedom, in closed form.

    Even dof = 2m: exp(-x/2) * sum_{i<m} (x/2)^i / i!; odd dof = 2m+1:
    erfc(sqrt(x/2)) + exp(-x/2) * sum_{i<m} (x/2)^(i+1/2) / Gamma(i + 3/2)
    (Abramowitz and Stegun 26.4.4 and 26.4.5). Raises ValueError for dof < 1."""
    if dof < 1:
        raise ValueError(f"dof must be >= 1, got {dof}")
    if x <= 0.0:
        return 1.0
    h = x / 2.0
    if dof % 2 == 0:
        term, total = 1.0, 1.0
        for i in range(1, dof // 2):
            term *= h / i
            total += term
        return min(1.0, math.exp(-h) * total)
    total = math.erfc(math.sqrt(h))
    log_h = math.log(h)
    for i in range((dof - 1) // 2):
        total += math.exp(-h + (i + 0.5) * log_h - math.lgamma(i + 1.5))
    return min(1.0, total)


def sample_ratio(arms: Sequence[Arm], weights: Mapping[str, float], alpha: float) -> SampleRatio:
    """Pearson's chi-square goodness of fit of the arms' trials to the configured weights
    (expected trials_i = total x weight_i / sum of weights). Needs two or more arms, each with a
    positive weight."""
    total = sum(a.trials for a in arms)
    wsum = sum(weights[a.variant] for a in arms)
    chi2 = 0.0
    if total > 0:
        for a in arms:
            expected = total * weights[a.variant] / wsum
            chi2 += (a.trials - expected) ** 2 / expected
    p = chi2_sf(chi2, len(arms) - 1)
    return SampleRatio(chi2, len(arms) - 1, p, alpha, p < alpha)


def two_proportion_z(a: Arm, b: Arm) -> tuple[float | None, float | None]:
    """Pooled two-proportion z statistic of a's rate minus b's, and its one-look two-sided p-value.

    (None, None) when the pooled rate is 0 or 1 (no variance: the rates are identical)."""
    var = _pooled_var(a, b)
    if var is None:
        return None, None
    z = (a.successes / a.trials - b.successes / b.trials) / math.sqrt(var)
    return z, 2.0 * normal_sf(abs(z))


def _pooled_var(a: Arm, b: Arm) -> float | None:
    if a.trials == 0 or b.trials == 0:
        return None
    pooled = (a.successes + b.successes) / (a.trials + b.trials)
    var = pooled * (1.0 - pooled) * (1.0 / a.trials + 1.0 / b.trials)
    return None if var <= 0.0 else var


def msprt_log_lr(diff: float, var: float, tau: float) -> float:
    """log of the normal-mixture likelihood ratio for an observed difference `diff` with variance
    `var` (> 0) and mixing N(0, tau^2) (tau > 0): see the module doc."""
    t2 = tau * tau
    return 0.5 * math.log(var / (var + t2)) + t2 * diff * diff / (2.0 * var * (var + t2))


def msprt(a: Arm, b: Arm, tau: float) -> tuple[float | None, float | None]:
    """(log mixture likelihood ratio, always-valid p-value at this look) of a against b, or
    (None, None) with no variance."""
    var = _pooled_var(a, b)
    if var is None:
        return None, None
    llr = msprt_log_lr(a.successes / a.trials - b.successes / b.trials, var, tau)
    return llr, min(1.0, math.exp(-llr))


def pairs(k: int) -> int:
    """Number of pairwise comparisons among k serving variants (Bonferroni's divisor)."""
    return k * (k - 1) // 2


def decide(
    arms: Sequence[Arm],
    *,
    min_samples: int,
    significance: float,
    tau: float,
    weights: Mapping[str, float] | None = None,
    srm_alpha: float = 0.001,
) -> Decision:
    """The winner among `arms` (serving variants, counts cumulative from the test's start), or
    why there is none. See the module doc. `weights`: each arm's configured weight (None: skip
    the sample-ratio check). Raises ValueError for significance or srm_alpha outside (0, 1) or
    tau <= 0."""
    arms_t = tuple(arms)
    if not 0.0 < significance < 1.0:
        raise ValueError(f"significance must be in (0, 1), got {significance}")
    if not 0.0 < srm_alpha < 1.0:
        raise ValueError(f"srm_alpha must be in (0, 1), got {srm_alpha}")
    if not tau > 0.0:
        raise ValueError(f"tau must be > 0, got {tau}")
    bad = [a.variant for a in arms_t if a.trials < 0 or a.successes < 0 or a.successes > a.trials]
    if bad:
        return NoDecision(
            arms_t, (), f"inconsistent metrics for {', '.join(bad)}: successes must be 0..trials"
        )
    if len(arms_t) < 2:
        return NoDecision(arms_t, (), "fewer than two serving variants to compare")
    srm = None if weights is None else sample_ratio(arms_t, weights, srm_alpha)
    if srm is not None and srm.mismatch:
        total = sum(a.trials for a in arms_t)
        wsum = sum(weights[a.variant] for a in arms_t) if weights is not None else 1
        split = ", ".join(
            f"{a.variant} {100 * a.trials / total:.1f}% (weight "
            f"{100 * (weights[a.variant] if weights is not None else 0) / wsum:.1f}%)"
            for a in arms_t
        )
        return NoDecision(
            arms_t,
            (),
            f"sample ratio mismatch: trials split {split}; chi-square p={srm.p_value:.3g} < "
            f"{srm_alpha:g}: the variants do not get the traffic their weights say (a weight "
            "changed mid-test, a variant failing requests, or a metric missing for one variant), "
            "so no comparison is trusted",
            srm,
        )
    few = [a for a in arms_t if a.trials < min_samples]
    if few:
        listed = ", ".join(f"{a.variant} {a.trials}" for a in few)
        return NoDecision(arms_t, (), f"too few samples: {listed} < min_samples {min_samples}", srm)
    # Leader: the highest observed rate; ties broken by the variant order in config.
    leader = max(arms_t, key=lambda a: a.successes / a.trials)
    alpha = significance / pairs(len(arms_t))
    threshold = math.log(1.0 / alpha)
    comps: list[Comparison] = []
    for other in arms_t:
        if other is leader:
            continue
        z, _ = two_proportion_z(leader, other)
        llr, p = msprt(leader, other, tau)
        comps.append(
            Comparison(
                leader.variant, other.variant, z, llr, p, llr is not None and llr >= threshold
            )
        )
    unclear = [c for c in comps if not c.significant]
    if unclear:
        listed = ", ".join(
            f"{c.other} (p={'n/a' if c.p_value is None else f'{c.p_value:.4g}'})" for c in unclear
        )
        return NoDecision(
            arms_t,
            tuple(comps),
            f"indistinguishable: {leader.variant} vs {listed} at alpha {alpha:.4g} "
            "(always-valid p-values)",
            srm,
        )
    rate = leader.successes / leader.trials
    return Winner(
        leader.variant,
        arms_t,
        tuple(comps),
        alpha,
        f"{leader.variant} converts at {100 * rate:.2f}%, significantly above every other "
        f"variant (max always-valid p={max(c.p_value or 0.0 for c in comps):.3g} < alpha "
        f"{alpha:.4g})",
        srm,
    )


def evidence(decision: Decision) -> dict[str, Any]:
    """The decision as plain JSON data, for the rollout history and notifications."""
    base: dict[str, Any] = {
        "arms": [{**asdict(a), "rate": a.rate} for a in decision.arms],
        "comparisons": [asdict(c) for c in decision.comparisons],
        "sample_ratio": None if decision.sample_ratio is None else asdict(decision.sample_ratio),
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


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True, slots=True)
class Design:
    """What the test can see, planned before it starts (shown by `rollout plan`).

    `planned_trials`: total trials (all serving variants) by which a lift of
    `minimum_detectable_lift` over `baseline_rate` on every challenger is found with probability
    `power`; `median_trials`: by which it is found half the time; `per_variant`: each serving
    variant's share of `planned_trials` (and at least `min_samples`). With
    `expected_trials_per_hour`: the hours to each, and `mde_lift`, the smallest relative lift
    found with probability `power` within `window_hours` (None: not within a lift of 10x).
    The power bound counts a crossing at the last look only, so the real test is at least as
    powerful (it may also stop earlier); bench/ab_aa_simulation.py checks it by simulation."""

    alpha_per_test: float
    tau: float
    power: float
    planned_trials: int
    median_trials: int
    per_variant: tuple[tuple[str, int], ...]
    expected_trials_per_hour: float | None
    planned_hours: float | None
    median_hours: float | None
    horizon_hours: int
    mde_lift: float | None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "per_variant": dict(self.per_variant)}


def boundary_z(var: float, tau: float, alpha: float) -> float:
    """|z| at which the mSPRT rejects, for a difference with variance `var`: solves
    log Lambda = ln(1/alpha) for theta^/sqrt(var)."""
    t2 = tau * tau
    return math.sqrt(
        2.0 * (var + t2) / t2 * (math.log(1.0 / alpha) + 0.5 * math.log((var + t2) / var))
    )


def _margin(
    total: float, shares: Sequence[float], p0: float, lift: float, tau: float, alpha: float
) -> float:
    """Smallest, over challengers, of (drift in z units) - (rejection boundary) at `total`
    trials: shares[0] is the control's share, the rest the challengers'."""
    p1 = p0 * (1.0 + lift)
    worst = math.inf
    for share in shares[1:]:
        pooled = (p0 * shares[0] + p1 * share) / (shares[0] + share)
        var = pooled * (1.0 - pooled) * (1.0 / (total * shares[0]) + 1.0 / (total * share))
        worst = min(worst, (p1 - p0) / math.sqrt(var) - boundary_z(var, tau, alpha))
    return worst


def _trials_for(
    target: float, shares: Sequence[float], p0: float, lift: float, tau: float, alpha: float
) -> int:
    """Smallest total trials (to 0.1%) at which the margin reaches `target` (z units)."""
    lo, hi = 1.0, 1.0
    while _margin(hi, shares, p0, lift, tau, alpha) < target:
        lo, hi = hi, hi * 2.0
        if hi > 1e13:
            raise ValueError("the planned effect is too small to detect with any sample size")
    while hi - lo > max(1.0, hi * 1e-3):
        mid = (lo + hi) / 2.0
        if _margin(mid, shares, p0, lift, tau, alpha) >= target:
            hi = mid
        else:
            lo = mid
    return math.ceil(hi)


def design(spec: EvaluatorSpec, *, power: float = 0.8) -> Design:
    """Plan the test `spec` describes: the first serving variant is the control, each other one a
    challenger converting at baseline_rate x (1 + minimum_detectable_lift). Raises ValueError when
    the rates leave (0, 1) or fewer than two variants serve."""
    weights = spec.serving_weights
    if len(weights) < 2:
        raise ValueError("an A/B test needs two or more serving variants")
    p0, lift = spec.baseline_rate, spec.minimum_detectable_lift
    if not (0.0 < p0 < 1.0 and 0.0 < p0 * (1.0 + lift) < 1.0):
        raise ValueError("baseline_rate x (1 + minimum_detectable_lift) must stay below 1")
    wsum = sum(weights.values())
    shares = [w / wsum for w in weights.values()]
    alpha = spec.significance / pairs(len(shares))
    z_power = _N.inv_cdf(power)
    planned = _trials_for(z_power, shares, p0, lift, spec.tau, alpha)
    median = _trials_for(0.0, shares, p0, lift, spec.tau, alpha)
    smallest = min(shares)
    planned = max(planned, math.ceil(spec.min_samples / smallest))
    median = max(median, math.ceil(spec.min_samples / smallest))
    per_variant = tuple((v, math.ceil(planned * s)) for v, s in zip(weights, shares, strict=True))
    rate = spec.expected_trials_per_hour
    mde: float | None = None
    if rate is not None and rate > 0:
        horizon_total = rate * spec.window_hours
        hi = min(10.0, (1.0 - 1e-9) / p0 - 1.0)
        if horizon_total * smallest >= spec.min_samples and (
            _margin(horizon_total, shares, p0, hi, spec.tau, alpha) >= z_power
        ):
            lo = 0.0
            while hi - lo > 1e-4:
                mid = (lo + hi) / 2.0
                if _margin(horizon_total, shares, p0, mid, spec.tau, alpha) >= z_power:
                    hi = mid
                else:
                    lo = mid
            mde = hi
    return Design(
        alpha_per_test=alpha,
        tau=spec.tau,
        power=power,
        planned_trials=planned,
        median_trials=median,
        per_variant=per_variant,
        expected_trials_per_hour=rate,
        planned_hours=None if not rate else planned / rate,
        median_hours=None if not rate else median / rate,
        horizon_hours=spec.window_hours,
        mde_lift=mde,
    )
