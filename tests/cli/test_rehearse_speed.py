"""Skipping quiet ticks changes nothing: every decision, reason and time of a rehearsal equals a
tick-by-tick run that calls the hook on every one-minute tick (issue 12, speed)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sagemaker_rollouts.lambdas import canary_hook
from sagemaker_rollouts.simulator import rehearsal
from sagemaker_rollouts.strategies.plan import CanaryPlan

ROOT = Path(__file__).resolve().parents[2]
# The shipped scenario whose outcome depends on time alone (INSUFFICIENT_DATA past its limit);
# MIXED below covers every other kind of change. Each runs twice, so the list stays short.
CANARY_SCENARIOS = [ROOT / "scenarios" / "no-data-held.yaml"]

# Every kind of thing that can happen between two ticks: a metric change that moves a fed alarm
# (low traffic, then enough), a baseline alarm moving, a gate alarm going
# INSUFFICIENT_DATA and back, a pause and a resume off the minute, a promote, a gate alarm firing,
# a command after the rollout finished.
MIXED = """\
stack: canary
duration: 5400
events:
  - {at: 0, metric: {variant: candidate, name: Invocations, value: 5}}
  - {at: 1230, metric: {variant: candidate, name: Invocations, value: 40}}
  - {at: 2000, alarm: stable.errors_5xx, state: ALARM}
  - {at: 2500, alarm: stable.errors_5xx, state: OK}
  - {at: 2600, alarm: candidate.latency_p99, state: INSUFFICIENT_DATA}
  - {at: 2890, alarm: candidate.latency_p99, state: OK}
  - {at: 3000, command: pause}
  - {at: 3333, command: resume}
  - {at: 3500, command: promote}
  - {at: 3800, alarm: candidate.errors_4xx, state: ALARM}
  - {at: 4500, command: abort}
"""


def _run(
    path: Path, monkeypatch: pytest.MonkeyPatch, *, skip: bool, baseline: bool = False
) -> tuple[list[Any], int]:
    calls = 0
    real = canary_hook.run

    def counted(*args: Any, **kwargs: Any) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(canary_hook, "run", counted)
    stack, endpoint, loaded, resolved = rehearsal.prepare(ROOT, path)
    if baseline:  # the stable fleet's alarms as baseline alarms: they hold, never roll back
        canary = endpoint.strategy_plan
        assert isinstance(canary, CanaryPlan)
        spec = canary.rollout
        stable = tuple(a.name for a in endpoint.alarms if a.variant == spec.stable_variant)
        rollout = replace(spec, baseline_alarms=stable)
        endpoint = replace(endpoint, strategy_plan=replace(canary, rollout=rollout))
    result = rehearsal.rehearse(stack, endpoint, loaded, resolved, skip_quiet=skip)
    return [s.as_json() for s in result.steps], calls


@pytest.mark.parametrize(
    ("scenario", "baseline"),
    # MIXED once, with the stable fleet's alarms as baseline alarms (read, and holding, too)
    [*((p, False) for p in CANARY_SCENARIOS), (None, True)],
    ids=[p.stem for p in CANARY_SCENARIOS] + ["mixed-baseline-alarms"],
)
def test_skipping_quiet_ticks_gives_the_tick_by_tick_decisions(
    scenario: Path | None, baseline: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if scenario is None:
        scenario = tmp_path / "mixed.yaml"
        scenario.write_text(MIXED)
    fast, fast_calls = _run(scenario, monkeypatch, skip=True, baseline=baseline)
    slow, slow_calls = _run(scenario, monkeypatch, skip=False, baseline=baseline)
    if baseline:
        _MIXED_FAST.extend(fast)
        assert any("baseline" in s["reason"] for s in fast), "the baseline alarm held the rollout"
    assert fast == slow
    assert fast_calls < slow_calls  # the quiet ticks really were skipped


_MIXED_FAST: list[Any] = []  # the skipped-tick run of MIXED the equivalence test made


def test_mixed_scenario_exercises_what_it_claims(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if _MIXED_FAST:
        steps = list(_MIXED_FAST)
    else:  # run alone (-k): rehearse it here
        scenario = tmp_path / "mixed.yaml"
        scenario.write_text(MIXED)
        steps, _ = _run(scenario, monkeypatch, skip=True, baseline=True)
    decisions = {s["decision"] for s in steps}
    assert {"hold", "advance", "rollback"} <= decisions
    reasons = " ".join(s["reason"] for s in steps)
    for needle in ("low traffic", "INSUFFICIENT_DATA", "paused", "promote", "4xx"):
        assert needle in reasons, needle
