"""Table tests for the pure canary controller: decide() follows docs/design.md §4 row by row, and apply()
changes nothing (not even the version) when nothing should change."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from sagemaker_rollouts.lambdas import controller
from sagemaker_rollouts.lambdas.controller import (
    RULES,
    Advance,
    AlarmStateValue,
    AlarmView,
    Complete,
    Decision,
    EndpointStatus,
    EndpointView,
    Hold,
    Intent,
    IntentKind,
    Reconcile,
    Rollback,
    RolloutState,
    apply,
    changes_weights,
    decide,
    decided_by,
    decision_table,
    initial_state,
    step_weights,
)
from sagemaker_rollouts.lambdas.rollout import RolloutSpec, Step

SPEC = RolloutSpec(
    rollout_id="ep/fp/1",
    endpoint_name="ep",
    stable_variant="stable",
    candidate_variant="candidate",
    steps=(Step(10, 300), Step(50, 300), Step(100, 300)),
    gate_alarms=("ep-5xx", "ep-latency"),
    min_invocations=50,
    insufficient_data_limit_seconds=600,
    sample_alarm="ep-sample",
)
T0 = 1_000_000.0
ROOT = Path(__file__).resolve().parents[2]


def alarms(unreadable: str | None = None, **states: AlarmStateValue | None) -> AlarmView:
    """All OK unless overridden; a value of None removes the alarm (missing)."""
    base: dict[str, AlarmStateValue | None] = {
        "ep-5xx": "OK",
        "ep-latency": "OK",
        "ep-sample": "OK",
    }
    base.update({k.replace("_", "-"): v for k, v in states.items()})
    return AlarmView.of({k: v for k, v in base.items() if v is not None}, unreadable)


def endpoint(
    candidate: float = 10.0, status: EndpointStatus = "InService", stable: float | None = None
) -> EndpointView:
    if status == "Missing":
        return EndpointView("Missing")
    return EndpointView.of(
        status, {"stable": 100.0 - candidate if stable is None else stable, "candidate": candidate}
    )


def state(step: int = 0, started: float = T0, version: int = 3, **kw: object) -> RolloutState:
    """A stored state on `step`, entered at `started` and seeing evidence ever since."""
    return replace(
        RolloutState(
            status="in_progress",
            step_index=step,
            step_started_at=started,
            version=version,
            evidence_since=started,
        ),
        **kw,  # type: ignore[arg-type]
    )


def intent(kind: IntentKind, id: str = "i1") -> Intent:
    return Intent(kind=kind, who="ops@example.com", at=T0, reason="test", id=id)


BAKED = T0 + 301
BAKING = T0 + 100

# (name, state, alarms, endpoint, intent, now, expected decision type, reason fragment)
TABLE: list[tuple[str, RolloutState, AlarmView, EndpointView, Intent | None, float, type, str]] = [
    (
        "gate ALARM rolls back",
        state(),
        alarms(ep_5xx="ALARM"),
        endpoint(),
        None,
        BAKING,
        Rollback,
        "ep-5xx is ALARM",
    ),
    (
        "ALARM beats a promote",
        state(),
        alarms(ep_latency="ALARM"),
        endpoint(),
        intent("promote"),
        BAKED,
        Rollback,
        "ep-latency",
    ),
    (
        "abort rolls back",
        state(),
        alarms(),
        endpoint(),
        intent("abort"),
        BAKING,
        Rollback,
        "aborted by ops@example.com",
    ),
    (
        "INSUFFICIENT_DATA holds",
        state(),
        alarms(ep_5xx="INSUFFICIENT_DATA"),
        endpoint(),
        None,
        BAKED,
        Hold,
        "INSUFFICIENT_DATA",
    ),
    (
        "INSUFFICIENT_DATA past the limit rolls back",
        state(insufficient_since=T0),
        alarms(ep_5xx="INSUFFICIENT_DATA"),
        endpoint(),
        None,
        T0 + 601,
        Rollback,
        "> limit 600s",
    ),
    (
        "INSUFFICIENT_DATA at the limit still holds",
        state(insufficient_since=T0),
        alarms(ep_5xx="INSUFFICIENT_DATA"),
        endpoint(),
        None,
        T0 + 600,
        Hold,
        "INSUFFICIENT_DATA",
    ),
    (
        "gate alarm missing holds",
        state(),
        alarms(ep_latency=None),
        endpoint(),
        None,
        BAKED,
        Hold,
        "ep-latency is missing",
    ),
    (
        "sample alarm missing holds",
        state(),
        alarms(ep_sample=None),
        endpoint(),
        None,
        BAKED,
        Hold,
        "ep-sample is missing",
    ),
    (
        "DescribeAlarms denied holds",
        state(),
        AlarmView(unreadable="AccessDenied"),
        endpoint(),
        None,
        BAKED,
        Hold,
        "unreadable",
    ),
    (
        "low traffic holds",
        state(),
        alarms(ep_sample="ALARM"),
        endpoint(),
        None,
        BAKED,
        Hold,
        "low traffic",
    ),
    (
        "low traffic holds a promote",
        state(),
        alarms(ep_sample="ALARM"),
        endpoint(),
        intent("promote"),
        BAKED,
        Hold,
        "low traffic",
    ),
    (
        "endpoint Updating backs off",
        state(),
        alarms(),
        endpoint(status="Updating"),
        None,
        BAKED,
        Hold,
        "back off",
    ),
    (
        "endpoint Updating defers a rollback",
        state(),
        alarms(ep_5xx="ALARM"),
        endpoint(status="Updating"),
        None,
        BAKED,
        Rollback,
        "ep-5xx",
    ),
    (
        "pending rollback keeps priority over alarms unreadable",
        state(status="rolled_back", pending_rollback=True, rollback_reason="x", rollback_alarm="a"),
        AlarmView(unreadable="denied"),
        endpoint(),
        None,
        BAKED,
        Rollback,
        "pending rollback",
    ),
    (
        "endpoint Failed stops",
        state(),
        alarms(),
        endpoint(status="Failed"),
        None,
        BAKED,
        Hold,
        "endpoint is Failed",
    ),
    (
        "endpoint UpdateRollbackFailed stops",
        state(),
        alarms(ep_5xx="ALARM"),
        endpoint(status="UpdateRollbackFailed"),
        None,
        BAKED,
        Hold,
        "UpdateRollbackFailed",
    ),
    (
        "endpoint missing stops",
        state(),
        alarms(),
        endpoint(status="Missing"),
        None,
        BAKED,
        Hold,
        "endpoint is Missing",
    ),
    (
        "candidate variant missing stops",
        state(),
        alarms(),
        EndpointView.of("InService", {"stable": 1.0}),
        None,
        BAKED,
        Hold,
        "candidate is missing",
    ),
    (
        "drifted weights reconcile",
        state(),
        alarms(),
        endpoint(candidate=30.0),
        None,
        BAKING,
        Reconcile,
        "differs from step 1",
    ),
    (
        "all-zero weights reconcile",
        state(),
        alarms(),
        endpoint(candidate=0.0, stable=0.0),
        None,
        BAKING,
        Reconcile,
        "nothing serves",
    ),
    ("paused holds", state(status="paused"), alarms(), endpoint(), None, BAKED, Hold, "paused"),
    (
        "pause intent pauses",
        state(),
        alarms(ep_5xx="INSUFFICIENT_DATA"),
        endpoint(),
        intent("pause"),
        BAKED,
        Hold,
        "paused by",
    ),
    (
        "resume intent resumes",
        state(status="paused"),
        alarms(),
        endpoint(),
        intent("resume"),
        BAKED,
        Hold,
        "resumed by",
    ),
    ("bake not over holds", state(), alarms(), endpoint(), None, BAKING, Hold, "baking step 1"),
    ("bake over advances", state(), alarms(), endpoint(), None, BAKED, Advance, "to 50%"),
    (
        "promote skips the bake",
        state(),
        alarms(),
        endpoint(),
        intent("promote"),
        BAKING,
        Advance,
        "promote by",
    ),
    (
        "promote while paused advances",
        state(status="paused"),
        alarms(),
        endpoint(),
        intent("promote"),
        BAKING,
        Advance,
        "to 50%",
    ),
    (
        "promote_full goes to 100",
        state(),
        alarms(),
        endpoint(),
        intent("promote_full"),
        BAKING,
        Advance,
        "to 100%",
    ),
    (
        "last step baked completes",
        state(step=2),
        alarms(),
        endpoint(candidate=100.0),
        None,
        BAKED,
        Complete,
        "last step baked",
    ),
    (
        "a consumed intent is ignored",
        state(last_intent_id="i1"),
        alarms(),
        endpoint(),
        intent("promote"),
        BAKING,
        Hold,
        "baking",
    ),
    (
        "completed never moves",
        state(status="completed", step=2),
        alarms(ep_5xx="ALARM"),
        endpoint(candidate=100.0),
        None,
        BAKED,
        Hold,
        "rollout is completed",
    ),
    (
        "rolled back never moves",
        state(status="rolled_back"),
        alarms(),
        endpoint(candidate=0.0),
        intent("promote"),
        BAKED,
        Hold,
        "rollout is rolled_back",
    ),
]


@pytest.mark.parametrize(
    ("st", "al", "ep", "it", "now", "expected", "fragment"),
    [pytest.param(*row[1:], id=row[0]) for row in TABLE],
)
def test_decision_table(
    st: RolloutState,
    al: AlarmView,
    ep: EndpointView,
    it: Intent | None,
    now: float,
    expected: type,
    fragment: str,
) -> None:
    decision = decide(SPEC, st, al, ep, it, now)
    assert isinstance(decision, expected), decision
    assert fragment in decision.reason


# The row of the decision table (`controller.RULES`, numbered as in the module docstring and
# README.md "How a canary runs") that decides each TABLE case.
RULE_OF: dict[str, int] = {
    "gate ALARM rolls back": 4,
    "ALARM beats a promote": 4,
    "abort rolls back": 3,
    "INSUFFICIENT_DATA holds": 8,
    "INSUFFICIENT_DATA past the limit rolls back": 4,
    "INSUFFICIENT_DATA at the limit still holds": 8,
    "gate alarm missing holds": 7,
    "sample alarm missing holds": 7,
    "DescribeAlarms denied holds": 7,
    "low traffic holds": 8,
    "low traffic holds a promote": 8,
    "endpoint Updating backs off": 8,
    "endpoint Updating defers a rollback": 4,
    "pending rollback keeps priority over alarms unreadable": 2,
    "endpoint Failed stops": 7,
    "endpoint UpdateRollbackFailed stops": 4,
    "endpoint missing stops": 7,
    "candidate variant missing stops": 7,
    "drifted weights reconcile": 9,
    "all-zero weights reconcile": 9,
    "paused holds": 10,
    "pause intent pauses": 6,
    "resume intent resumes": 6,
    "bake not over holds": 11,
    "bake over advances": 13,
    "promote skips the bake": 13,
    "promote while paused advances": 13,
    "promote_full goes to 100": 13,
    "last step baked completes": 12,
    "a consumed intent is ignored": 11,
    "completed never moves": 1,
    "rolled back never moves": 1,
}
BASELINE_SPEC = replace(SPEC, baseline_alarms=("ep-stable-5xx",))


@pytest.mark.parametrize(
    ("name", "st", "al", "ep", "it", "now"),
    [pytest.param(*row[:6], id=row[0]) for row in TABLE],
)
def test_each_case_is_decided_by_its_numbered_row(
    name: str, st: RolloutState, al: AlarmView, ep: EndpointView, it: Intent | None, now: float
) -> None:
    rule = decided_by(SPEC, st, al, ep, it, now)
    assert rule.number == RULE_OF[name], rule.name


def test_a_rollback_onto_an_alarming_baseline_is_decided_by_row_5() -> None:
    al = alarms(ep_5xx="ALARM", ep_stable_5xx="ALARM")
    rule = decided_by(BASELINE_SPEC, state(), al, endpoint(), None, BAKING)
    decision = decide(BASELINE_SPEC, state(), al, endpoint(), None, BAKING)
    assert rule.number == 5
    assert isinstance(decision, Hold) and decision.stuck_kind == "baseline:ep-stable-5xx"


def test_every_row_of_the_decision_table_is_exercised_and_numbered_in_order() -> None:
    assert [r.number for r in RULES] == list(range(1, len(RULES) + 1))
    assert len({r.name for r in RULES}) == len(RULES)
    assert {*RULE_OF.values(), 5} == {r.number for r in RULES}


@pytest.mark.parametrize(
    "where",
    [
        pytest.param(lambda: controller.__doc__ or "", id="controller docstring"),
        pytest.param(lambda: (ROOT / "README.md").read_text(encoding="utf-8"), id="README"),
    ],
)
def test_the_prose_prints_the_decision_table_as_the_code_has_it(where: Callable[[], str]) -> None:
    """Regenerate with `controller.decision_table()` when a row changes."""
    assert decision_table() in where()


def test_never_stored_state_is_written_even_when_holding() -> None:
    st = initial_state(SPEC, T0)
    assert (st.version, st.step_index, st.status) == (0, 0, "in_progress")
    new = apply(st, decide(SPEC, st, alarms(), endpoint(), None, T0), T0)
    assert new.version == 1 and new.step_started_at == T0


@pytest.mark.parametrize(
    ("st", "al", "ep", "now"),
    [
        pytest.param(state(), alarms(), endpoint(), BAKING, id="baking"),
        pytest.param(state(status="paused"), alarms(), endpoint(), BAKED, id="paused"),
        pytest.param(
            state(evidence_since=None),
            alarms(ep_sample="ALARM"),
            endpoint(),
            BAKED,
            id="low-traffic",
        ),
        pytest.param(
            state(evidence_since=None),
            alarms(),
            endpoint(status="Updating"),
            BAKED,
            id="updating",
        ),
        pytest.param(
            state(status="completed", step=2), alarms(), endpoint(100.0), BAKED, id="completed"
        ),
    ],
)
def test_a_hold_that_changes_nothing_leaves_the_state_identical(
    st: RolloutState, al: AlarmView, ep: EndpointView, now: float
) -> None:
    decision = decide(SPEC, st, al, ep, None, now)
    assert isinstance(decision, Hold)
    assert changes_weights(decision) is None
    assert apply(st, decision, now) is st


def test_advance_moves_one_step_sets_its_weights_and_restarts_the_bake() -> None:
    st = state()
    decision = decide(SPEC, st, alarms(), endpoint(), None, BAKED)
    assert isinstance(decision, Advance)
    assert decision.step_index == 1
    assert dict(decision.weights) == {"stable": 50.0, "candidate": 50.0}
    new = apply(st, decision, BAKED)
    assert (new.step_index, new.step_started_at, new.version) == (1, BAKED, st.version + 1)
    assert new.evidence_since == BAKED
    # The same input again: the new step cannot be left at the instant it was entered.
    again = decide(SPEC, new, alarms(), endpoint(50.0), None, BAKED)
    assert isinstance(again, Hold) and apply(new, again, BAKED) is new


def test_promote_full_targets_the_last_step_and_consumes_the_intent() -> None:
    st = state()
    decision = decide(SPEC, st, alarms(), endpoint(), intent("promote_full", "p9"), BAKING)
    assert isinstance(decision, Advance) and decision.step_index == 2
    assert dict(decision.weights)["candidate"] == 100.0
    new = apply(st, decision, BAKING)
    assert new.last_intent_id == "p9" and new.status == "in_progress"


def test_rollback_sets_candidate_zero_and_records_alarm_and_time_once() -> None:
    st = state(step=1)
    d = decide(SPEC, st, alarms(ep_5xx="ALARM"), endpoint(50.0), None, BAKING)
    assert isinstance(d, Rollback) and not d.deferred
    assert dict(d.weights) == {"stable": 100.0, "candidate": 0.0}
    new = apply(st, d, BAKING)
    assert (new.status, new.pending_rollback, new.rollback_alarm, new.rollback_at) == (
        "rolled_back",
        False,
        "ep-5xx",
        BAKING,
    )
    # Rolled back and applied: nothing moves it any more, even a fresh alarm or a promote.
    later = decide(SPEC, new, alarms(ep_latency="ALARM"), endpoint(0.0), None, BAKED)
    assert isinstance(later, Hold) and apply(new, later, BAKED) is new
    # A promote is consumed as refused (it must never fire later); nothing else changes.
    refused = decide(SPEC, new, alarms(), endpoint(0.0), intent("promote"), BAKED)
    assert isinstance(refused, Hold) and changes_weights(refused) is None
    after = apply(new, refused, BAKED)
    assert (after.status, after.last_intent_id, after.intent_refused) == (
        "rolled_back",
        "i1",
        "rollout is rolled_back",
    )


def test_deferred_rollback_is_pending_then_retried_first_and_keeps_its_first_reason() -> None:
    st = state(step=1)
    d = decide(SPEC, st, alarms(ep_5xx="ALARM"), endpoint(50.0, status="Updating"), None, BAKING)
    assert isinstance(d, Rollback) and d.deferred and changes_weights(d) is None
    pending = apply(st, d, BAKING)
    assert pending.pending_rollback and pending.status == "rolled_back"
    # Still updating: the same pending rollback again changes nothing.
    again = decide(SPEC, pending, alarms(), endpoint(50.0, status="Updating"), None, BAKING + 60)
    assert isinstance(again, Rollback) and again.deferred
    assert apply(pending, again, BAKING + 60) is pending
    # InService: retried even though the alarm is OK again, and beats a promote.
    retry = decide(SPEC, pending, alarms(), endpoint(50.0), intent("promote"), BAKING + 120)
    assert isinstance(retry, Rollback) and not retry.deferred
    done = apply(pending, retry, BAKING + 120)
    assert not done.pending_rollback
    assert (done.rollback_alarm, done.rollback_at) == ("ep-5xx", BAKING)


def test_insufficient_data_start_is_recorded_once_and_cleared_when_ok() -> None:
    st = state()
    d1 = decide(SPEC, st, alarms(ep_5xx="INSUFFICIENT_DATA"), endpoint(), None, T0 + 10)
    s1 = apply(st, d1, T0 + 10)
    assert s1.insufficient_since == T0 + 10 and s1.version == st.version + 1
    d2 = decide(SPEC, s1, alarms(ep_5xx="INSUFFICIENT_DATA"), endpoint(), None, T0 + 70)
    assert apply(s1, d2, T0 + 70) is s1
    d3 = decide(SPEC, s1, alarms(), endpoint(), None, T0 + 130)
    assert apply(s1, d3, T0 + 130).insufficient_since is None


def test_stuck_notifies_once_per_reason() -> None:
    st = state()
    d1 = decide(SPEC, st, alarms(ep_5xx=None), endpoint(), None, BAKED)
    assert isinstance(d1, Hold) and d1.stuck and d1.notify
    s1 = apply(st, d1, BAKED)
    d2 = decide(SPEC, s1, alarms(ep_5xx=None), endpoint(), None, BAKED + 60)
    assert isinstance(d2, Hold) and d2.stuck and not d2.notify
    assert apply(s1, d2, BAKED + 60) is s1
    d3 = decide(SPEC, s1, alarms(), endpoint(status="Failed"), None, BAKED + 120)
    assert isinstance(d3, Hold) and d3.notify


def test_pause_is_recorded_whatever_else_holds_and_resume_restarts_the_bake() -> None:
    st = state()
    p = decide(SPEC, st, alarms(ep_sample="ALARM"), endpoint(), intent("pause", "a"), BAKING)
    paused = apply(st, p, BAKING)
    assert paused.status == "paused" and paused.last_intent_id == "a"
    r = decide(SPEC, paused, alarms(), endpoint(), intent("resume", "b"), BAKED)
    resumed = apply(paused, r, BAKED)
    assert (resumed.status, resumed.evidence_since) == ("in_progress", BAKED)
    again = decide(SPEC, resumed, alarms(), endpoint(), intent("resume", "b"), BAKED)
    assert apply(resumed, again, BAKED) is resumed


def test_reconcile_restores_the_step_weights_and_restarts_the_bake() -> None:
    st = state(step=1)
    d = decide(SPEC, st, alarms(), endpoint(10.0), None, BAKED)
    assert isinstance(d, Reconcile) and d.weights == step_weights(SPEC, 1)
    new = apply(st, d, BAKED)
    assert (new.step_index, new.evidence_since) == (1, BAKED)


def test_candidate_found_at_zero_is_recorded_as_rolled_back_not_reconciled_up() -> None:
    d = decide(SPEC, state(step=1), alarms(), endpoint(candidate=0.0), None, BAKED)
    assert isinstance(d, Rollback) and d.alarm is None
    assert dict(d.weights)["candidate"] == 0.0
    after = apply(state(step=1), d, BAKED)
    assert after.status == "rolled_back" and not after.pending_rollback


def test_decision_types_are_frozen() -> None:
    d: Decision = Hold("x")
    with pytest.raises(AttributeError):
        d.reason = "y"  # type: ignore[misc]
