"""Exposure: how many requests a candidate answered, in total and while it was bad. Pure.

A share timeline is a step function of (seconds, percent) points (each value holds until the next
point); traffic is requests per minute for each hour of the day (24 values, repeating daily, hour 0
starting at second 0 of the rehearsal). Requests are the exact integral of rate x share / 100.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import assert_never

from sagemaker_rollouts.strategies.plan import (
    ABPlan,
    BlueGreenPlan,
    CanaryPlan,
    EndpointPlan,
    RecreatePlan,
    RollingPlan,
    ShadowPlan,
)

DAY = 86_400
HOUR = 3_600


@dataclass(frozen=True, slots=True)
class Exposure:
    """Requests the candidate answered over the rehearsal, and those from `bad_from` on."""

    served: float
    served_bad: float


def _rate_cuts(start: float, end: float) -> list[float]:
    cuts = {start, end}
    h = (int(start) // HOUR + 1) * HOUR
    while h < end:
        cuts.add(float(h))
        h += HOUR
    return sorted(cuts)


def requests(
    share: Sequence[tuple[float, float]], hourly: Sequence[float], start: float, end: float
) -> float:
    """Requests the candidate answered in [start, end): the integral of rate(t) * share(t) / 100.

    `hourly`: 24 values of requests per minute; `share`: (seconds, percent 0-100) points sorted by
    time, 0% before the first. Raises ValueError for a curve that is not 24 values.
    """
    if len(hourly) != 24:
        raise ValueError(f"hourly traffic needs 24 values, got {len(hourly)}")
    if end <= start or not share:
        return 0.0
    total = 0.0
    cuts = sorted({*_rate_cuts(start, end), *(t for t, _ in share if start < t < end)})
    for a, b in itertools.pairwise(cuts):
        pct = 0.0
        for t, p in share:
            if t > a:
                break
            pct = p
        rate = hourly[int(a % DAY) // HOUR]
        total += rate * (b - a) / 60.0 * pct / 100.0
    return total


def exposure(
    share: Sequence[tuple[float, float]],
    hourly: Sequence[float],
    until: float,
    bad_from: float | None,
) -> Exposure:
    """Requests the candidate served in [0, until), and in [bad_from, until) (0 when never bad)."""
    served = requests(share, hourly, 0.0, until)
    bad = 0.0 if bad_from is None else requests(share, hourly, bad_from, until)
    return Exposure(served=served, served_bad=bad)


def worst_case_step(
    step_percent: float,
    requests_per_minute: float,
    detection_seconds: float,
    reaction_seconds: float,
) -> float:
    """Requests a bad candidate can answer at one step before traffic leaves it: the step's share of
    `requests_per_minute` over the alarm's detection time (period x datapoints to alarm) plus the
    reaction time of whoever moves traffic (the hook's tick, SageMaker's alarm polling)."""
    if min(step_percent, requests_per_minute, detection_seconds, reaction_seconds) < 0:
        raise ValueError("share, rate and times are >= 0")
    return requests_per_minute * (detection_seconds + reaction_seconds) / 60.0 * step_percent / 100


HOOK_TICK_SECONDS = 60  # the canary hook's schedule, rate(1 minute): the slowest it reacts


@dataclass(frozen=True, slots=True)
class StepExposure:
    """Worst case at one step: `requests` a bad candidate answers before traffic leaves it (None:
    nothing moves traffic back by itself, so it is bounded only by a human)."""

    step: int
    percent: int
    detection_seconds: int
    reaction_seconds: int
    requests: float | None


def worst_case_exposure(
    endpoint: EndpointPlan, requests_per_minute: float, sagemaker_reaction_seconds: int = 0
) -> tuple[StepExposure, ...]:
    """Per traffic step of `endpoint`'s plan, the requests a bad candidate can answer before it is
    rolled back, at a constant `requests_per_minute`.

    Detection is the slowest gate alarm's period x datapoints to alarm (a regression only that alarm
    sees). Reaction: the canary hook acts on the alarm-state event at once, and at the latest on its
    next one-minute tick (60 s); SageMaker's guardrails poll the alarms at an undocumented interval
    (`sagemaker_reaction_seconds`, 0 by default, the same assumption as strategies/guardrails.py S2).
    Recreate and A/B have no automatic rollback (requests None); a shadow answers nobody (0).
    Raises ValueError for a negative rate.
    """
    if requests_per_minute < 0:
        raise ValueError(f"requests_per_minute must be >= 0, got {requests_per_minute}")
    gates = endpoint.gate_alarms
    detect = max((a.period_seconds * a.datapoints_to_alarm for a in gates), default=0)
    shares: list[int]
    match endpoint.strategy_plan:
        case CanaryPlan(rollout=rollout):
            shares = [s.candidate_percent for s in rollout.steps]
            react, automatic = HOOK_TICK_SECONDS, True
        case ShadowPlan():
            return (StepExposure(1, 0, 0, 0, 0.0),)
        case RecreatePlan() | ABPlan() | BlueGreenPlan() | RollingPlan() as other:
            shares = []
            for _, p in endpoint.timeline:
                if p > 0 and (not shares or shares[-1] != p):
                    shares.append(p)
            react = sagemaker_reaction_seconds
            automatic = isinstance(other, BlueGreenPlan | RollingPlan)
        case _:
            assert_never(endpoint.strategy_plan)
    return tuple(
        StepExposure(
            i + 1,
            p,
            detect,
            react,
            worst_case_step(p, requests_per_minute, detect, react) if automatic and gates else None,
        )
        for i, p in enumerate(shares)
    )
