"""Rehearsals of the strategies our controller does not drive, and what every rehearsal reports.

- blue/green and rolling: SageMaker moves the traffic, so the rehearsal runs the guardrails emulator
  (`strategies.guardrails`, a model of SageMaker's documented behaviour) on the scenario's alarm
  events; nothing of ours acts.
- recreate: the endpoint is deleted before its replacement is created: nothing serves for
  `sagemaker.provisioning_seconds` (the downtime window), then the new model has 100%.
- shadow: users only ever get the production variant's answers; the shadow sees a sampled copy.
- A/B: fixed weights; every variant but the first (the control) counts as a candidate.

Every rehearsal, canary included, ends in a `Summary`: outcome, time to 100%, extra instance-hours,
exposure (requests the candidate answered, in total and from `bad_from` on) and downtime, which is
what `rollout rehearse --compare` puts side by side.

Extension point for evidence (shadow and A/B reports): `register_evidence(strategy, hook)`; each hook
gets the endpoint plan, the scenario and the summary and returns extra (label, value) rows, printed
under the summary and kept in `Summary.evidence`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sagemaker_rollouts.cli.errors import UsageError
from sagemaker_rollouts.simulator.scenario import (
    AlarmEvent,
    CommandEvent,
    LoadedScenario,
    MetricEvent,
)
from sagemaker_rollouts.strategies.exposure import exposure
from sagemaker_rollouts.strategies.guardrails import AlarmChange, GuardrailRun, emulate
from sagemaker_rollouts.strategies.plan import BlueGreenPlan, EndpointPlan, RollingPlan

NO_TRAFFIC = (0.0,) * 24


@dataclass(frozen=True, slots=True)
class NativeStep:
    """One thing that happened in a non-canary rehearsal (SageMaker's move, or a window)."""

    at: int
    decision: str  # provision | shift | rollback | complete | terminate | downtime | serve
    reason: str
    status: str
    candidate_percent: float
    weights: dict[str, float]

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "trigger": "sagemaker",
            "decision": self.decision,
            "reason": self.reason,
            "status": self.status,
            "candidate_percent": self.candidate_percent,
            "weights": self.weights,
        }


@dataclass(slots=True)
class Summary:
    """One rehearsal, as the comparison table shows it. Requests are counts, times seconds."""

    stack: str
    endpoint: str
    strategy: str
    outcome: str
    final_percent: float | None
    time_to_full_seconds: int | None
    extra_instance_hours: float
    served: float
    served_bad: float
    downtime_seconds: int
    timeline: list[tuple[float, float]]  # (seconds, candidate %) step points
    markers: list[tuple[int, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # (start, end, kind) seconds: "provisioning" (capacity starting) or "downtime" (recreate).
    spans: list[tuple[float, float, str]] = field(default_factory=list)
    evidence: list[tuple[str, str]] = field(default_factory=list)
    steps: list[NativeStep] = field(default_factory=list)


EvidenceHook = Callable[[EndpointPlan, LoadedScenario, Summary], Sequence[tuple[str, str]]]
_EVIDENCE: dict[str, list[EvidenceHook]] = {}


def register_evidence(strategy: str, hook: EvidenceHook) -> None:
    """Add rows to every rehearsal of `strategy` (e.g. "shadow", "ab") from `hook`."""
    _EVIDENCE.setdefault(strategy, []).append(hook)


def add_evidence(endpoint: EndpointPlan, loaded: LoadedScenario, summary: Summary) -> None:
    for hook in _EVIDENCE.get(endpoint.strategy, []):
        summary.evidence.extend(hook(endpoint, loaded, summary))


def hourly(loaded: LoadedScenario) -> tuple[float, ...]:
    traffic = loaded.scenario.traffic
    return NO_TRAFFIC if traffic is None else traffic.hourly()


def time_to_full(points: Sequence[tuple[float, float]]) -> int | None:
    for t, p in points:
        if p >= 100.0 - 1e-9:
            return int(t)
    return None


# Why a non-canary endpoint takes no pause/resume/promote/abort, by strategy.
_NO_COMMANDS_WHY = {
    "blue_green": "SageMaker's deployment guardrails drive the traffic shifts",
    "rolling": "SageMaker's deployment guardrails drive the batches",
    "recreate": "the endpoint update runs to its end once started",
    "shadow": "the shadow variant answers no users; its traffic copy is fixed in the "
    "endpoint config",
    "ab": "the A/B weights are fixed in the endpoint config",
}


def _alarm_changes(loaded: LoadedScenario, endpoint: EndpointPlan) -> list[AlarmChange]:
    """The scenario's alarm events as changes of the endpoint's rollback (gate) alarms.

    An alarm is named by its full name, its config key, or `candidate.<key>` (the one variant's
    alarm: the green fleet, the new batches, the recreated endpoint). Operator commands and metric
    events are UsageErrors naming their line: SageMaker has no pause or promote, and metric events
    feed canary alarms only."""
    variant = endpoint.production_variants[0].name if endpoint.production_variants else ""
    by_ref: dict[str, str] = {}
    for a in endpoint.alarms:
        by_ref[a.name] = a.name
        by_ref[a.key] = a.name
        if a.variant is not None and a.key.startswith(f"{a.variant}."):
            short = a.key.removeprefix(f"{a.variant}.")
            if a.variant == variant:
                by_ref.setdefault(f"candidate.{short}", a.name)
    gates = {a.name for a in endpoint.gate_alarms}
    errors: list[str] = []
    changes: list[AlarmChange] = []
    what = endpoint.strategy.replace("_", "/")
    for i, e in enumerate(loaded.scenario.events):
        match e:
            case AlarmEvent(alarm=ref, state=state, at=at):
                name = by_ref.get(ref)
                if name is None:
                    known = ", ".join(sorted({a.key for a in endpoint.alarms}))
                    errors.append(
                        f"{loaded.where(f'events[{i}].alarm')}: unknown alarm {ref!r} on endpoint "
                        f"{endpoint.key}; use an alarm name, `candidate.<key>` or a config key: "
                        f"{known}"
                    )
                elif name in gates:
                    changes.append(AlarmChange(at, name, state))
            case CommandEvent(command=c):
                errors.append(
                    f"{loaded.where(f'events[{i}].command')}: {c!r}: a {what} endpoint has no "
                    f"operator commands ({_NO_COMMANDS_WHY.get(endpoint.strategy, 'no hook')}); "
                    "commands are for canary rehearsals"
                )
            case MetricEvent():
                errors.append(
                    f"{loaded.where(f'events[{i}].metric')}: metric events feed canary alarms "
                    f"only; on a {what} endpoint give the alarm's state as an alarm event"
                )
    if errors:
        raise UsageError(*errors)
    return changes


def first_serving(points: Sequence[tuple[float, float]], since: float) -> float | None:
    """The first time at or after `since` that the share timeline is above 0."""
    for i, (t, p) in enumerate(points):
        nxt = points[i + 1][0] if i + 1 < len(points) else float("inf")
        if p > 0 and nxt > since:
            return max(t, since)
    return None


def with_detection(loaded: LoadedScenario, first: float | None) -> LoadedScenario:
    return dataclasses.replace(loaded, scenario=loaded.scenario.with_detection(first))


def check_native(loaded: LoadedScenario, endpoint: EndpointPlan) -> None:
    """Raise UsageError (every problem, with its line) if the scenario cannot run on `endpoint`."""
    _alarm_changes(loaded, endpoint)


@dataclass(slots=True)
class _Played:
    """What one strategy's emulation produced, before exposure and evidence are added."""

    outcome: str
    points: list[tuple[float, float]]  # (seconds, candidate %) step points
    full: int | None  # seconds to 100%, None if never
    hours: float  # extra instance-hours
    final: float  # candidate % at the end
    steps: list[NativeStep] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    spans: list[tuple[float, float, str]] = field(default_factory=list)
    markers: list[tuple[int, str, str]] = field(default_factory=list)
    downtime: int = 0


def rehearse_native(stack: str, endpoint: EndpointPlan, loaded: LoadedScenario) -> Summary:
    """Rehearse a blue/green, rolling, recreate, shadow or A/B endpoint through the scenario."""
    scenario = loaded.scenario
    horizon = scenario.duration
    rate = hourly(loaded)
    changes = _alarm_changes(loaded, endpoint)
    deployment = endpoint.strategy_plan
    if isinstance(deployment, BlueGreenPlan | RollingPlan):
        played = _guardrails(endpoint, deployment, loaded, changes)
    elif endpoint.strategy == "recreate":
        played = _recreate(loaded, changes)
    else:
        if endpoint.strategy == "shadow":
            played = _shadow(endpoint, loaded, rate)
        else:  # A/B and anything with fixed weights
            played = _fixed_weights(endpoint, horizon)
        played.markers = _change_markers(changes)
        if endpoint.data_capture is not None:
            played.notes.append(
                f"data capture: {endpoint.data_capture.sampling_percent}% of requests and answers"
            )

    if endpoint.strategy == "shadow":
        served = exposure([(0.0, 0.0)], rate, horizon, scenario.bad_from)
    else:
        served = exposure(played.points, rate, horizon, scenario.bad_from)
    downtime = played.downtime
    if downtime:
        dropped = exposure([(0.0, 100.0), (float(downtime), 0.0)], rate, horizon, None).served
        played.notes.append(f"requests failed during the downtime window: {dropped:,.0f}")
    summary = Summary(
        stack=stack,
        endpoint=endpoint.endpoint_name,
        strategy=endpoint.strategy,
        outcome=played.outcome,
        final_percent=played.final,
        time_to_full_seconds=played.full,
        extra_instance_hours=round(played.hours, 3),
        served=served.served,
        served_bad=served.served_bad,
        downtime_seconds=downtime,
        timeline=played.points,
        markers=played.markers,
        notes=played.notes,
        steps=played.steps,
        spans=played.spans,
    )
    add_evidence(endpoint, loaded, summary)
    return summary


def _change_markers(changes: Sequence[AlarmChange]) -> list[tuple[int, str, str]]:
    return [
        (c.at, f"{c.name} {c.state}", "tab:red" if c.state == "ALARM" else "tab:green")
        for c in changes
    ]


def _guardrails(
    endpoint: EndpointPlan,
    deployment: BlueGreenPlan | RollingPlan,
    loaded: LoadedScenario,
    changes: list[AlarmChange],
) -> _Played:
    """Blue/green or rolling: SageMaker's deployment guardrails (`strategies.guardrails`)."""
    scenario = loaded.scenario
    horizon = scenario.duration
    timing = scenario.sagemaker
    fleet = endpoint.production_variants[0].instance_count if endpoint.production_variants else 0

    def go(chs: Sequence[AlarmChange]) -> GuardrailRun:
        return emulate(
            deployment,
            fleet,
            [a.name for a in endpoint.gate_alarms],
            chs,
            horizon,
            provisioning_seconds=timing.provisioning_seconds,
            alarm_reaction_seconds=timing.alarm_reaction_seconds,
        )

    run = go(changes)
    markers = _change_markers(changes)
    if scenario.detect is not None and scenario.bad_from is not None:
        # the detecting alarm fires once the bad green fleet has served for a while
        seen = first_serving([(float(t), float(p)) for t, p in run.timeline], scenario.bad_from)
        detected = with_detection(loaded, seen)
        if detected is not loaded and detected.scenario is not scenario:
            changes = _alarm_changes(detected, endpoint)
            run = go(changes)
            markers = _change_markers(changes)
    status = "in_progress"
    steps: list[NativeStep] = []
    for ev in run.events:
        if ev.kind == "rollback":
            status = "rolled_back"
        elif ev.kind == "complete":
            status = "completed"
        pct = ev.candidate_percent
        weights = {"blue": round(100.0 - pct, 6), "green": round(pct, 6)}
        steps.append(NativeStep(ev.at, ev.kind, ev.reason, status, pct, weights))
    until = horizon if run.ended_at is None else min(run.ended_at, horizon)
    if run.rollback_reason is not None:
        rb = next(e for e in run.events if e.kind == "rollback")
        markers.append((rb.at, "SageMaker rollback", "tab:red"))
    spans: list[tuple[float, float, str]] = []
    for i, ev in enumerate(run.events):
        if ev.kind == "provision":
            end = run.events[i + 1].at if i + 1 < len(run.events) else horizon
            if end > ev.at:
                spans.append((float(ev.at), float(min(end, horizon)), "provisioning"))
    return _Played(
        outcome=run.outcome,
        points=[(float(t), float(p)) for t, p in run.timeline],
        full=run.time_to_full_seconds,
        hours=run.extra_instance_seconds(until) / 3600.0,
        final=float(run.timeline[-1][1]),
        steps=steps,
        spans=spans,
        markers=markers,
    )


def _recreate(loaded: LoadedScenario, changes: list[AlarmChange]) -> _Played:
    """Recreate: the old endpoint is deleted, the new one serves once it is created."""
    horizon = loaded.scenario.duration
    down = loaded.scenario.sagemaker.provisioning_seconds
    downtime = min(down, horizon)
    played = _Played(
        outcome="in_progress",
        points=[(0.0, 0.0), (float(down), 100.0)],
        full=down if down <= horizon else None,
        hours=0.0,
        final=100.0 if down <= horizon else 0.0,
        markers=_change_markers(changes),
        downtime=downtime,
    )
    played.steps.append(
        NativeStep(
            0,
            "downtime",
            "old endpoint deleted before the new one is created",
            "in_progress",
            0.0,
            {},
        )
    )
    if down <= horizon:
        played.steps.append(
            NativeStep(
                down, "complete", "new endpoint InService", "completed", 100.0, {"new": 100.0}
            )
        )
        played.outcome = "completed"
    if down == 0:
        played.notes.append(
            "recreate downtime is the new endpoint's creation time: set "
            "sagemaker.provisioning_seconds in the scenario to see it"
        )
    if changes:
        played.notes.append(
            "recreate has no automatic rollback: alarms only notify; redeploying the old model means downtime again"
        )
    played.markers.append((downtime, "downtime ends", "tab:orange"))
    if downtime > 0:
        played.spans.append((0.0, float(downtime), "downtime"))
    return played


def _shadow(endpoint: EndpointPlan, loaded: LoadedScenario, rate: Any) -> _Played:
    """Shadow: users get production's answers; the shadow variant gets a sampled copy."""
    scenario = loaded.scenario
    horizon = scenario.duration
    shadow = endpoint.shadow_variants[0] if endpoint.shadow_variants else None
    sampled = 0 if shadow is None else shadow.weight
    copies = exposure([(0.0, float(sampled))], rate, horizon, scenario.bad_from)
    return _Played(
        outcome="in_progress",
        points=[(0.0, 0.0)],
        full=None,
        hours=0.0 if shadow is None else shadow.instance_count * horizon / 3600.0,
        final=0.0,
        steps=[
            NativeStep(
                0,
                "serve",
                f"shadow variant receives a {sampled}% copy; users get production answers",
                "in_progress",
                0.0,
                {"production": 100.0},
            )
        ],
        notes=[
            f"shadow copies: {copies.served:,.0f} requests ({copies.served_bad:,.0f} while bad); none answered users"
        ],
    )


def _fixed_weights(endpoint: EndpointPlan, horizon: int) -> _Played:
    """A/B (and anything with fixed weights): the planned weights until a winner is chosen."""
    variants = endpoint.production_variants
    total = sum(v.weight for v in variants)
    cand = sum(v.weight for v in variants[1:])
    pct = 0.0 if total <= 0 else 100.0 * cand / total
    weights = {v.name: (0.0 if total <= 0 else 100.0 * v.weight / total) for v in variants}
    return _Played(
        outcome="in_progress",
        points=[(0.0, pct)],
        full=None,
        hours=sum(v.instance_count for v in variants[1:]) * horizon / 3600.0,
        final=pct,
        steps=[
            NativeStep(
                0, "serve", "fixed weights until a winner is chosen", "in_progress", pct, weights
            )
        ],
    )


def summarize_canary(stack: str, result: Any, loaded: LoadedScenario) -> Summary:
    """A canary `Rehearsal` (simulator/rehearsal.py) as a Summary: its hook decisions give the share."""
    points: list[tuple[float, float]] = []
    for s in result.steps:
        if s.candidate_percent is not None and (not points or points[-1][1] != s.candidate_percent):
            points.append((float(s.at), float(s.candidate_percent)))
    horizon = loaded.scenario.duration
    end = next(
        (s.at for s in result.steps if s.decision in ("complete", "rollback")),
        horizon,
    )
    spec = result.spec
    cand = next(v for v in result.endpoint.production_variants if v.name == spec.candidate_variant)
    ex = exposure(points, hourly(loaded), horizon, loaded.scenario.bad_from)
    markers = list(result.markers)
    summary = Summary(
        stack=stack,
        endpoint=result.endpoint.endpoint_name,
        strategy="canary",
        outcome=result.final_status,
        final_percent=result.final_percent,
        time_to_full_seconds=time_to_full(points),
        extra_instance_hours=round(cand.instance_count * end / 3600.0, 3),
        served=ex.served,
        served_bad=ex.served_bad,
        downtime_seconds=0,
        timeline=points,
        markers=markers,
    )
    add_evidence(result.endpoint, loaded, summary)
    return summary
