"""Property test: random sequences of alarm states, clock jumps, operator intents, endpoint statuses,
failed weight calls and outside weight changes, driven through decide() + apply() and a small pure
simulated endpoint. The invariants are docs/design.md §4's."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sagemaker_rollouts.lambdas.controller import (
    ALARM_STATES,
    ENDPOINT_STATUSES,
    INTENT_KINDS,
    Advance,
    AlarmStateValue,
    AlarmView,
    EndpointStatus,
    EndpointView,
    Hold,
    Intent,
    LastRecord,
    Reconcile,
    Rollback,
    apply,
    changes_weights,
    decide,
    initial_state,
    recover_state,
)
from sagemaker_rollouts.lambdas.rollout import RolloutSpec, Step, sagemaker_weights

# CI runs 1,000 examples; the whole test stays a few seconds (decide() is microseconds).
settings.register_profile(
    "controller",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = settings.get_profile("controller")


@st.composite
def specs(draw: st.DrawFn) -> RolloutSpec:
    cuts = sorted(draw(st.sets(st.integers(1, 99), max_size=3)))
    percents = [*cuts, 100]
    steps = tuple(Step(p, draw(st.sampled_from([0, 60, 300, 600]))) for p in percents)
    gates = tuple(f"gate{i}" for i in range(draw(st.integers(1, 3))))
    return RolloutSpec(
        rollout_id="ep/fp/1",
        endpoint_name="ep",
        stable_variant="stable",
        candidate_variant="candidate",
        steps=steps,
        gate_alarms=gates,
        min_invocations=10,
        insufficient_data_limit_seconds=draw(st.sampled_from([0, 120, 600])),
        sample_alarm=draw(st.sampled_from([None, "sample"])),
    )


OK: AlarmStateValue = "OK"
# OK three times in four; otherwise any state or missing.
ALARM_CHOICES: list[AlarmStateValue | None] = [*ALARM_STATES, None, *(OK for _ in range(9))]
ALARM: st.SearchStrategy[AlarmStateValue | None] = st.sampled_from(ALARM_CHOICES)
STATUS = st.one_of(
    st.just("InService"),
    st.just("InService"),
    st.just("InService"),
    st.sampled_from(ENDPOINT_STATUSES),
)


@dataclass(frozen=True, slots=True)
class Tick:
    dt: float
    alarms: tuple[AlarmStateValue | None, ...]  # gates then sample
    unreadable: bool
    status: EndpointStatus
    intent: int | None  # index into INTENT_KINDS
    intent_id: int  # small range: replays of an old id happen
    call_fails: bool  # the weights call gets "Cannot update in-progress endpoint"
    drift: tuple[float, float] | None  # someone else sets (stable, candidate)


ticks = st.builds(
    Tick,
    dt=st.sampled_from([0.0, 0.0, 30.0, 60.0, 61.0, 300.0, 301.0, 700.0]),
    alarms=st.lists(ALARM, min_size=4, max_size=4).map(tuple),
    unreadable=st.sampled_from([False] * 9 + [True]),
    status=STATUS,
    intent=st.one_of(st.none(), st.none(), st.none(), st.integers(0, len(INTENT_KINDS) - 1)),
    intent_id=st.integers(0, 3),
    call_fails=st.sampled_from([False] * 9 + [True]),
    drift=st.one_of(
        *[st.none()] * 9,
        st.tuples(st.floats(0, 100), st.floats(0, 100)).filter(lambda w: w[0] + w[1] > 0),
    ),
)


def _serving(weights: dict[str, float]) -> None:
    assert all(w >= 0 for w in weights.values()), weights
    assert math.fsum(weights.values()) > 0, weights


@PROFILE
@given(spec=specs(), seq=st.lists(ticks, min_size=1, max_size=25))
def test_controller_invariants_hold_over_random_histories(
    spec: RolloutSpec, seq: list[Tick]
) -> None:
    now = 1_000_000.0
    state = initial_state(spec, now)
    live = sagemaker_weights(spec, spec.steps[0].candidate_percent)
    for tick in seq:
        now += tick.dt
        if tick.drift is not None:
            live = {"stable": tick.drift[0], "candidate": tick.drift[1]}
        names = (*spec.gate_alarms, *(() if spec.sample_alarm is None else (spec.sample_alarm,)))
        states: dict[str, AlarmStateValue] = {
            n: s for n, s in zip(names, tick.alarms, strict=False) if s is not None
        }
        alarms = AlarmView.of(states, "AccessDenied" if tick.unreadable else None)
        view = (
            EndpointView("Missing")
            if tick.status == "Missing"
            else EndpointView.of(tick.status, live)
        )
        intent = (
            None
            if tick.intent is None
            else Intent(INTENT_KINDS[tick.intent], "ops", now, "why", f"i{tick.intent_id}")
        )

        decision = decide(spec, state, alarms, view, intent, now)

        # Never advance unless every gate (and the sample alarm) is readable and OK.
        if isinstance(decision, Advance):
            assert not tick.unreadable
            assert all(states.get(n) == "OK" for n in names)
            assert tick.status == "InService"
            assert decision.step_index > state.step_index
        target = changes_weights(decision)
        if target is not None:
            _serving(dict(target))

        # The simulated endpoint: SageMaker refuses weight calls unless InService.
        applied = False
        if target is not None and tick.status == "InService" and not tick.call_fails:
            live = dict(target)
            applied = True
        if isinstance(decision, Rollback) and target is not None and not applied:
            decision = replace(decision, deferred=True)
        new = apply(state, decision, now)

        assert 0 <= new.step_index < len(spec.steps)
        assert new.version in (state.version, state.version + 1)
        assert (new.version == state.version) == (new == state)
        if new.pending_rollback:
            assert new.status == "rolled_back"
        if isinstance(decision, Rollback) and applied:
            assert live[spec.candidate_variant] == 0.0
            assert new.status == "rolled_back" and not new.pending_rollback
        if tick.status != "Missing":
            _serving(live)

        # The same input again (after a fully applied action) changes nothing.
        if target is None or applied:
            again_view = view if tick.status == "Missing" else EndpointView.of(tick.status, live)
            again = decide(spec, new, alarms, again_view, intent, now)
            assert apply(new, again, now) == new, (decision, again)
            again_target = changes_weights(again)
            assert again_target is None or dict(again_target) == live, (decision, again)
        state = new


# --------------------------------------------------------------------------- issue 9 sequences

PATTERNS = ("ok", "ok", "ok", "insufficient", "sample_low", "updating", "unreadable", "baseline")


@dataclass(frozen=True, slots=True)
class Event:
    dt: float
    pattern: str  # what the world looks like at this tick (see PATTERNS)
    intent: int | None  # an operator intent given at this tick (index into INTENT_KINDS)
    delete_state: bool  # the state item is lost before this tick (recovered from history)


events = st.builds(
    Event,
    dt=st.sampled_from([5.0, 60.0, 60.0, 60.0, 120.0, 300.0, 840.0]),
    pattern=st.sampled_from(PATTERNS),
    intent=st.one_of(*[st.none()] * 6, st.integers(0, len(INTENT_KINDS) - 1)),
    delete_state=st.sampled_from([False] * 15 + [True]),
)


def _world(
    spec: RolloutSpec, pattern: str, live: dict[str, float]
) -> tuple[AlarmView, EndpointView]:
    states: dict[str, AlarmStateValue] = dict.fromkeys(
        (*spec.gate_alarms, "sample", "stable-5xx"), "OK"
    )
    match pattern:
        case "insufficient":
            states[spec.gate_alarms[0]] = "INSUFFICIENT_DATA"
        case "sample_low":
            states["sample"] = "ALARM"
        case "baseline":
            states["stable-5xx"] = "ALARM"
        case _:
            pass
    alarms = AlarmView.of(states, "Throttling" if pattern == "unreadable" else None)
    status: EndpointStatus = "Updating" if pattern == "updating" else "InService"
    return alarms, EndpointView.of(status, live)


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(seq=st.lists(events, min_size=1, max_size=40))
@example(  # a deferred rollback for missing data, then the state item lost: retried, not doubted
    seq=[
        Event(dt=5.0, pattern="insufficient", intent=None, delete_state=False),
        Event(dt=840.0, pattern="insufficient", intent=None, delete_state=False),
        Event(dt=120.0, pattern="updating", intent=None, delete_state=False),
        Event(dt=5.0, pattern="ok", intent=None, delete_state=True),
    ]
)
def test_sequences_bake_only_on_evidence_consume_intents_at_once_and_survive_state_loss(
    seq: list[Event],
) -> None:
    """Event sequences with INSUFFICIENT_DATA sawtooths, long Updating spells, low traffic, a broken
    baseline, unreadable alarms, intents given while held, and the state item lost and recovered.
    An independent oracle keeps the evidence clock and the step's missing time."""
    spec = RolloutSpec(
        rollout_id="ep/fp/1",
        endpoint_name="ep",
        stable_variant="stable",
        candidate_variant="candidate",
        steps=(Step(5, 300), Step(25, 300), Step(100, 300)),
        gate_alarms=("gate0", "gate1"),
        min_invocations=10,
        insufficient_data_limit_seconds=900,
        sample_alarm="sample",
        baseline_alarms=("stable-5xx",),
    )
    now = 1_000_000.0
    state = initial_state(spec, now)
    live = sagemaker_weights(spec, 5)
    ev_start: float | None = None  # oracle: first tick of the current unbroken evidence spell
    miss_closed, miss_open = 0.0, None  # oracle: the step's closed missing time, open spell start
    rolled_back_at_zero = False
    missing_rollback_decided = False  # oracle: a rollback for missing data was decided
    for n, e in enumerate(seq):
        now += e.dt
        alarms, view = _world(spec, e.pattern, live)
        if e.delete_state and state.version > 0:
            last = LastRecord(
                state.version,
                state.status,
                state.step_index,
                state.rollback_alarm,
                state.rollback_reason,
                state.rollback_at,
            )
            state, _ = recover_state(spec, last, view, now, "deleted")
            state = replace(state, version=last.version + 1)
            ev_start, miss_closed, miss_open = None, 0.0, None
        intent = None
        if e.intent is not None and state.version > 0:
            intent = Intent(INTENT_KINDS[e.intent], "ops", now, "why", f"i{n}")
            state = replace(state, intent=intent, version=state.version + 1)

        evidence = e.pattern in ("ok",)
        ev_start = (now if ev_start is None else ev_start) if evidence else None
        if e.pattern == "insufficient":
            miss_open = now if miss_open is None else miss_open
        elif e.pattern != "unreadable" and miss_open is not None:
            miss_closed, miss_open = miss_closed + (now - miss_open), None
        missing = miss_closed + (0.0 if miss_open is None else now - miss_open)

        decision = decide(spec, state, alarms, view, state.intent, now)

        # Intents are consumed (applied or refused) by the decision of the tick they are given.
        if intent is not None:
            assert decision.intent_id == intent.id, decision
        if isinstance(decision, Advance):
            assert e.pattern == "ok"
            if decision.intent_id is None:
                assert (
                    ev_start is not None
                    and now - ev_start >= spec.steps[state.step_index].bake_seconds
                )
                assert decision.step_index == state.step_index + 1
            else:
                assert intent is not None and intent.kind in ("promote", "promote_full")
        if isinstance(decision, Rollback) and "missing this step" in decision.reason:
            if decision.reason.startswith("retrying pending rollback"):
                # Rule 2: a rollback decided earlier (on enough missing time, checked then) and
                # not applied yet is retried first, even after the state item was lost and
                # recovered from its last record (which resets the oracle's missing time).
                assert missing_rollback_decided, decision
            else:
                assert missing > spec.insufficient_data_limit_seconds, (missing, decision)
                missing_rollback_decided = True
        if e.pattern == "baseline" and isinstance(decision, Rollback):
            assert decision.alarm is None or state.pending_rollback  # abort / pending only

        target = changes_weights(decision)
        applied = target is not None and view.status == "InService"
        if applied and target is not None:
            live = dict(target)
        if isinstance(decision, Rollback) and target is not None and not applied:
            decision = replace(decision, deferred=True)
        new = apply(state, decision, now)
        _serving(live)
        if rolled_back_at_zero:
            assert live["candidate"] == 0.0 and new.status == "rolled_back"  # never undone
        if new.status == "rolled_back" and not new.pending_rollback:
            rolled_back_at_zero = live["candidate"] == 0.0 or rolled_back_at_zero
        if new.step_index != state.step_index or isinstance(decision, Reconcile):
            ev_start = now
            miss_closed, miss_open = 0.0, None
        if (
            isinstance(decision, Hold)
            and decision.status == "in_progress"
            and state.status == "paused"
        ):
            ev_start = now if evidence else None  # a resume restarts the evidence clock
        state = new
