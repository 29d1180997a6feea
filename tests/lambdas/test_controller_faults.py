"""Issue 9's kinds of controller fault, as tables over the pure controller: each row is one way the
kind can happen, and each asserts what the decision must (not) do and what the state keeps."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sagemaker_rollouts.lambdas.controller import (
    INTENT_TTL_SECONDS,
    Advance,
    AlarmView,
    Decision,
    EndpointView,
    Hold,
    LastRecord,
    Rollback,
    RolloutState,
    apply,
    changes_weights,
    decide,
    recover_state,
)
from sagemaker_rollouts.lambdas.rollout import RolloutSpec
from tests.lambdas.test_controller import BAKED, SPEC, T0, alarms, endpoint, intent, state

BASE = replace(SPEC, baseline_alarms=("ep-stable-5xx",))


def base_alarms(stable: str = "OK", **kw: str | None) -> AlarmView:
    view = alarms(**kw)  # type: ignore[arg-type]
    return AlarmView.of({**dict(view.states), "ep-stable-5xx": stable}, view.unreadable)  # type: ignore[dict-item]


def run(
    spec: RolloutSpec,
    st: RolloutState,
    ticks: list[tuple[float, AlarmView, EndpointView]],
) -> tuple[RolloutState, list[Decision]]:
    """Drive decide + apply through (now, alarms, endpoint) ticks, no intents."""
    out: list[Decision] = []
    for now, al, ep in ticks:
        d = decide(spec, st, al, ep, st.intent, now)
        out.append(d)
        st = apply(st, d, now)
    return st, out


# --------------------------------------------------------------------------- kind 3: intents


@pytest.mark.parametrize(
    ("name", "al", "ep", "kind", "why"),
    [
        (
            "promote_full while low traffic",
            alarms(ep_sample="ALARM"),
            endpoint(),
            "promote_full",
            "low traffic",
        ),
        (
            "promote while INSUFFICIENT_DATA",
            alarms(ep_5xx="INSUFFICIENT_DATA"),
            endpoint(),
            "promote",
            "INSUFFICIENT_DATA",
        ),
        ("promote while updating", alarms(), endpoint(status="Updating"), "promote", "back off"),
        (
            "promote while alarms unreadable",
            AlarmView(unreadable="denied"),
            endpoint(),
            "promote_full",
            "unreadable",
        ),
        (
            "promote while a gate alarm fires",
            alarms(ep_latency="ALARM"),
            endpoint(),
            "promote",
            "ALARM",
        ),
        ("abort on a missing endpoint", alarms(), endpoint(status="Missing"), "abort", "Missing"),
        (
            "promote while low traffic, default reason",
            alarms(ep_sample="ALARM"),
            endpoint(),
            "promote",
            "low traffic",
        ),
    ],
)
def test_an_intent_that_cannot_apply_is_refused_now_and_never_fires_later(
    name: str, al: AlarmView, ep: EndpointView, kind: str, why: str
) -> None:
    st = state(intent=intent(kind, "x1"))  # type: ignore[arg-type]
    d = decide(SPEC, st, al, ep, st.intent, T0 + 100)
    assert not isinstance(d, Advance), name
    assert d.intent_id == "x1" and d.refused is not None and why in d.refused, d
    held = apply(st, d, T0 + 100)
    assert held.last_intent_id == "x1" and held.intent_refused == d.refused
    # Later, the world recovers and the same (recorded) intent is still on the item: it must not
    # fire. The rollout goes on at its own pace: one step after a full bake, never a jump. (The
    # INSUFFICIENT_DATA spell closed at once: a spell left open until the bake would rightly roll
    # back, its total past the limit.)
    well = replace(
        held, evidence_since=None, status="in_progress", insufficient_since=None, missing_alarm=None
    )
    d2 = decide(SPEC, well, alarms(), endpoint(), well.intent, T0 + 200)
    assert isinstance(d2, Hold) and d2.intent_id is None
    d3 = decide(
        SPEC, replace(well, evidence_since=T0), alarms(), endpoint(), well.intent, BAKED + 1500
    )
    assert isinstance(d3, Advance) and d3.step_index == 1 and d3.intent_id is None


def test_an_intent_first_seen_after_its_ttl_is_refused_as_expired_but_abort_never_expires() -> None:
    late = T0 + INTENT_TTL_SECONDS + 1
    old = replace(intent("promote_full", "old"), at=T0)
    d = decide(SPEC, state(), alarms(), endpoint(), old, late)
    # The rollout goes on at its own pace (its bake is done: one step), the intent is refused.
    assert isinstance(d, Advance) and d.step_index == 1
    assert d.intent_id == "old" and d.refused is not None and "expired" in d.refused
    abort = replace(intent("abort", "ab"), at=T0)
    assert isinstance(decide(SPEC, state(), alarms(), endpoint(), abort, late), Rollback)


# --------------------------------------------------------------------------- kind 4: evidence


def test_the_bake_counts_only_evidence_time_through_an_insufficient_data_sawtooth() -> None:
    """INSUFFICIENT_DATA for 840 s, OK for a few seconds, again and again (each spell under the
    limit): never a step, and the step's total missing time rolls it back."""
    st = state(evidence_since=None)
    ticks: list[tuple[float, AlarmView, EndpointView]] = []
    t = T0
    for _ in range(3):
        ticks += [
            (t + s, alarms(ep_5xx="INSUFFICIENT_DATA"), endpoint()) for s in range(0, 841, 60)
        ]
        ticks.append((t + 845, alarms(), endpoint()))
        t += 850
    _, decisions = run(SPEC, st, ticks)
    assert not any(isinstance(d, Advance) for d in decisions)
    first = next(i for i, d in enumerate(decisions) if isinstance(d, Rollback))
    assert "missing this step" in decisions[first].reason
    assert ticks[first][0] - T0 < 2 * 850  # during the second spell: the total counts


@pytest.mark.parametrize("status", ["Updating", "SystemUpdating", "Creating", "RollingBack"])
def test_a_long_update_spell_restarts_the_bake(status: str) -> None:
    st = state()  # evidence since T0
    ticks = [(T0 + s, alarms(), endpoint(status=status)) for s in range(60, 1200, 60)]  # type: ignore[arg-type]
    ticks += [(T0 + 1200, alarms(), endpoint()), (T0 + 1260, alarms(), endpoint())]
    after, decisions = run(SPEC, st, ticks)
    assert not any(isinstance(d, Advance) for d in decisions)
    assert after.evidence_since == T0 + 1200 and after.step_index == 0
    again, more = run(SPEC, after, [(T0 + 1200 + 301, alarms(), endpoint())])
    assert isinstance(more[0], Advance) and again.step_index == 1


@pytest.mark.parametrize(
    "gap",
    [
        alarms(ep_5xx="INSUFFICIENT_DATA"),
        alarms(ep_latency="INSUFFICIENT_DATA"),
        alarms(ep_sample="ALARM"),
        alarms(ep_sample="INSUFFICIENT_DATA"),
        AlarmView(unreadable="Throttling"),
    ],
)
def test_any_tick_without_evidence_restarts_the_bake(gap: AlarmView) -> None:
    st, _ = run(SPEC, state(), [(T0 + 290, gap, endpoint()), (T0 + 295, alarms(), endpoint())])
    _, decisions = run(SPEC, st, [(BAKED, alarms(), endpoint())])
    assert isinstance(decisions[0], Hold) and "baking" in decisions[0].reason


def test_missing_time_accumulates_across_spells_within_a_step_and_resets_on_advance() -> None:
    st = state(missing_seconds=550.0, insufficient_since=T0 + 100)
    assert isinstance(
        decide(SPEC, st, alarms(ep_5xx="INSUFFICIENT_DATA"), endpoint(), None, T0 + 150), Hold
    )
    d = decide(SPEC, st, alarms(ep_5xx="INSUFFICIENT_DATA"), endpoint(), None, T0 + 151)
    assert isinstance(d, Rollback) and "601s missing" in d.reason
    adv = apply(st, Advance("x", 1, ()), T0 + 10)
    assert (adv.missing_seconds, adv.insufficient_since) == (0.0, None)


# --------------------------------------------------------------------------- kind 5: dedup


def test_stuck_notices_are_deduplicated_by_kind_not_by_wording() -> None:
    """Endpoint missing and an alarm past its INSUFFICIENT_DATA limit: the reason embeds a
    growing counter; one notice and one write in 30 ticks."""
    st = state(insufficient_since=T0)
    notices = writes = 0
    for i in range(30):
        now = T0 + 700 + 60 * i
        d = decide(
            SPEC, st, alarms(ep_5xx="INSUFFICIENT_DATA"), endpoint(status="Missing"), None, now
        )
        assert isinstance(d, Hold) and d.stuck and changes_weights(d) is None
        notices += d.notify
        new = apply(st, d, now)
        writes += new.version != st.version
        st = new
    assert (notices, writes) == (1, 1)


# --------------------------------------------------------------------------- kind 6: attribution


@pytest.mark.parametrize("gate", ["ep-5xx", "ep-latency"])
def test_a_candidate_found_at_zero_with_its_alarm_on_is_attributed_to_the_alarm(gate: str) -> None:
    d = decide(
        SPEC, state(step=1), alarms(**{gate.replace("-", "_"): "ALARM"}), endpoint(0.0), None, BAKED
    )  # type: ignore[arg-type]
    assert isinstance(d, Rollback) and d.alarm == gate
    assert apply(state(step=1), d, BAKED).rollback_alarm == gate


# --------------------------------------------------------------------------- kind 8: baseline


@pytest.mark.parametrize(
    ("name", "al", "it", "st", "expected", "fragment"),
    [
        ("baseline ALARM holds", base_alarms("ALARM"), None, state(), Hold, "baseline alarm"),
        (
            "baseline ALARM blocks a gate rollback",
            base_alarms("ALARM", ep_5xx="ALARM"),
            None,
            state(),
            Hold,
            "not moving",
        ),
        (
            "baseline ALARM blocks the no-data rollback",
            base_alarms("ALARM", ep_5xx="INSUFFICIENT_DATA"),
            None,
            state(insufficient_since=T0 - 1000),
            Hold,
            "not moving",
        ),
        (
            "baseline ALARM refuses a promote",
            base_alarms("ALARM"),
            intent("promote"),
            state(),
            Hold,
            "refused",
        ),
        (
            "abort still applies",
            base_alarms("ALARM"),
            intent("abort"),
            state(),
            Rollback,
            "aborted",
        ),
        (
            "a pending rollback still applies",
            base_alarms("ALARM"),
            None,
            state(
                status="rolled_back",
                pending_rollback=True,
                rollback_reason="r",
                rollback_alarm="ep-5xx",
            ),
            Rollback,
            "pending",
        ),
        (
            "baseline INSUFFICIENT_DATA does not hold",
            base_alarms("INSUFFICIENT_DATA"),
            None,
            state(),
            Advance,
            "to 50%",
        ),
        (
            "baseline missing holds",
            base_alarms("OK", ep_stable_5xx=None),
            None,
            state(),
            Hold,
            "ep-stable-5xx is missing",
        ),
    ],
)
def test_a_broken_baseline_holds_and_is_never_rolled_back_onto(
    name: str, al: AlarmView, it: object, st: RolloutState, expected: type, fragment: str
) -> None:
    if name == "baseline missing holds":
        al = AlarmView.of({k: v for k, v in al.states if k != "ep-stable-5xx"})
    d = decide(BASE, st, al, endpoint(), it, BAKED)  # type: ignore[arg-type]
    assert isinstance(d, expected), d
    assert fragment in d.reason
    if isinstance(d, Hold) and "baseline alarm" in d.reason:
        assert d.stuck and d.stuck_kind == "baseline:ep-stable-5xx"


# --------------------------------------------------------------------------- kind 2: recovery


@pytest.mark.parametrize(
    ("name", "last", "live", "step", "status", "pending"),
    [
        (
            "live weights name the step",
            LastRecord(7, "in_progress", 0),
            50.0,
            1,
            "in_progress",
            False,
        ),
        (
            "live weights off-step: history's step",
            LastRecord(7, "in_progress", 1),
            33.0,
            1,
            "in_progress",
            False,
        ),
        ("paused stays paused", LastRecord(4, "paused", 0), 10.0, 0, "paused", False),
        ("completed stays completed", LastRecord(9, "completed", 2), 100.0, 2, "completed", False),
        (
            "rolled back and applied",
            LastRecord(5, "rolled_back", 1, "ep-5xx", "r", T0),
            0.0,
            1,
            "rolled_back",
            False,
        ),
        (
            "rolled back, not applied: pending",
            LastRecord(5, "rolled_back", 1, "ep-5xx", "r", T0),
            50.0,
            1,
            "rolled_back",
            True,
        ),
    ],
)
def test_recover_state_rederives_from_history_and_live_weights(
    name: str, last: LastRecord, live: float, step: int, status: str, pending: bool
) -> None:
    st, reason = recover_state(SPEC, last, endpoint(live), T0, "state item missing")
    assert (st.step_index, st.status, st.pending_rollback, st.version) == (
        step,
        status,
        pending,
        last.version,
    ), name
    assert reason.startswith("recovered: state item missing")
    if status == "rolled_back":
        assert st.rollback_alarm == "ep-5xx" and st.rollback_at == T0
    assert st.evidence_since is None  # the bake starts over
