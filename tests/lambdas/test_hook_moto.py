"""Fault tests: the canary hook's real `run` against moto in server mode, one server per module.

Each test's docstring names the AWS behaviour it stands in for. moto differences, made explicit:
moto alarms start OK (AWS starts INSUFFICIENT_DATA) and are never evaluated from metrics, so tests
set states with set_alarm_state; moto weight updates return straight to InService and never answer
"Cannot update in-progress endpoint", so that error and non-InService statuses are injected with
botocore event hooks on the hook's own clients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sagemaker_rollouts.lambdas.store import RolloutNotFound, read_outcome, record_intent
from tests.moto_fixtures import (
    T0,
    World,
    alarm_event,
    crash,
    fail,
    fresh_clients,
    patch_response,
    throttle_wire,
)

MakeWorld = Callable[..., World]
BAKE = 301.0  # the steps bake 300 s


def updates(w: World) -> int:
    return w.recorder.ops().count("sagemaker.UpdateEndpointWeightsAndCapacities")


def subjects(w: World) -> list[str]:
    return [p["body"]["Subject"] for p in w.recorder.published]


def test_first_tick_stores_step_zero_and_happy_path_completes(make_world: MakeWorld) -> None:
    """AWS: the schedule fires every minute; alarms stay OK; each step bakes then steps up."""
    w = make_world()
    first = w.tick(T0)
    assert (first["decision"], first["step_index"], first["version"]) == ("hold", 0, 1)
    assert w.candidate() == 10.0
    r = w.tick(T0 + BAKE)
    assert (r["decision"], r["step_index"], w.candidate()) == ("advance", 1, 50.0)
    r = w.tick(T0 + 2 * BAKE)
    assert (r["decision"], w.candidate()) == ("advance", 100.0)
    r = w.tick(T0 + 3 * BAKE)
    assert (r["decision"], r["status"]) == ("complete", "completed")
    assert subjects(w) == [f"Canary completed: {w.spec.endpoint_name}"]
    assert [h.kind for h in reversed(w.history())] == [
        "hold",
        "advance",
        "advance",
        "complete",
        "notify",  # the completion notice left the outbox
    ]
    outcome = read_outcome(w.admin.dynamodb, w.table, w.spec.rollout_id)
    assert outcome is not None and outcome.status == "completed" and outcome.alarm is None


def test_alarm_event_rolls_back_within_the_same_invocation(make_world: MakeWorld) -> None:
    """AWS: EventBridge delivers "CloudWatch Alarm State Change" for a gate alarm going ALARM."""
    w = make_world()
    w.tick(T0)
    w.tick(T0 + BAKE)
    assert w.candidate() == 50.0
    gate = w.spec.gate_alarms[0]
    w.set_alarm(gate, "ALARM")
    r = w.tick(T0 + BAKE + 5, alarm_event(gate))
    assert (r["decision"], r["status"], r["weights_applied"]) == ("rollback", "rolled_back", True)
    assert w.live() == {"stable": 100.0, "candidate": 0.0}
    state = w.state()
    assert state is not None and state.rollback_alarm == gate and not state.pending_rollback
    assert subjects(w) == [f"Canary rolled back: {w.spec.endpoint_name}"]
    outcome = read_outcome(w.admin.dynamodb, w.table, w.spec.rollout_id)
    assert outcome is not None
    assert (outcome.status, outcome.alarm, outcome.at) == ("rolled_back", gate, T0 + BAKE + 5)


def test_alarm_event_is_trusted_even_if_describe_alarms_still_says_ok(
    make_world: MakeWorld,
) -> None:
    """AWS: DescribeAlarms can lag the state-change event by a moment; the event wins for ALARM."""
    w = make_world()
    w.tick(T0)
    r = w.tick(T0 + 10, alarm_event(w.spec.gate_alarms[1]))
    assert r["decision"] == "rollback" and w.candidate() == 0.0


def test_rollback_while_endpoint_updating_is_pending_then_applied_next_tick(
    make_world: MakeWorld,
) -> None:
    """AWS: UpdateEndpointWeightsAndCapacities answers ValidationException "Cannot update
    in-progress endpoint" while a previous update is still rolling out (moto never does)."""
    w = make_world()
    w.tick(T0)
    w.tick(T0 + BAKE)
    gate = w.spec.gate_alarms[0]
    w.set_alarm(gate, "ALARM")
    fail(
        w.clients.sagemaker,
        "UpdateEndpointWeightsAndCapacities",
        "ValidationException",
        "Cannot update in-progress endpoint",
        times=1,
    )
    r = w.tick(T0 + BAKE + 5, alarm_event(gate))
    assert (r["decision"], r["weights_applied"], r["status"]) == ("rollback", False, "rolled_back")
    state = w.state()
    assert state is not None and state.pending_rollback
    assert w.candidate() == 50.0  # nothing changed yet
    w.set_alarm(gate, "OK")  # even if the alarm clears, the decided rollback keeps priority
    r = w.tick(T0 + BAKE + 60)
    assert (r["decision"], r["weights_applied"]) == ("rollback", True)
    assert w.candidate() == 0.0
    state = w.state()
    assert state is not None and not state.pending_rollback and state.rollback_alarm == gate
    assert subjects(w) == [
        f"Canary rolled back: {w.spec.endpoint_name}",
        f"Canary rollback applied: {w.spec.endpoint_name}",
    ]


def test_alarm_while_endpoint_status_updating_records_rollback_without_a_weights_call(
    make_world: MakeWorld,
) -> None:
    """AWS: DescribeEndpoint reports EndpointStatus Updating for minutes after a weights change."""
    w = make_world()
    w.tick(T0)
    patch_response(
        w.clients.sagemaker, "DescribeEndpoint", lambda p: p.update(EndpointStatus="Updating")
    )
    w.set_alarm(w.spec.gate_alarms[0], "ALARM")
    before = updates(w)
    r = w.tick(T0 + 10)
    assert r["decision"] == "rollback" and not r["weights_applied"]
    assert updates(w) == before
    state = w.state()
    assert state is not None and state.pending_rollback


def test_insufficient_data_holds_then_rolls_back_past_the_limit(make_world: MakeWorld) -> None:
    """AWS: a new alarm or a metric with no datapoints sits in INSUFFICIENT_DATA (AWS starts every
    alarm there; moto starts OK, so the test sets it)."""
    w = make_world()
    w.tick(T0)
    gate = w.spec.gate_alarms[1]
    w.set_alarm(gate, "INSUFFICIENT_DATA")
    r = w.tick(T0 + BAKE)
    assert r["decision"] == "hold" and "INSUFFICIENT_DATA" in r["reason"]
    assert w.candidate() == 10.0
    version = r["version"]
    r = w.tick(T0 + BAKE + 300)
    assert r["decision"] == "hold" and r["version"] == version  # nothing written
    r = w.tick(T0 + BAKE + 601)
    assert r["decision"] == "rollback" and "limit 600s" in r["reason"]
    assert w.candidate() == 0.0


def test_missing_alarm_holds_and_notifies_once(make_world: MakeWorld) -> None:
    """AWS: DescribeAlarms silently omits names that do not exist (deleted or never created)."""
    w = make_world()
    w.tick(T0)
    w.admin.cloudwatch.delete_alarms(AlarmNames=[w.spec.gate_alarms[0]])
    for i in range(3):
        r = w.tick(T0 + BAKE + 60 * i)
        assert r["decision"] == "hold" and "is missing" in r["reason"]
    assert w.candidate() == 10.0
    assert subjects(w) == [f"Canary stuck: {w.spec.endpoint_name}"]


def test_describe_alarms_access_denied_holds_and_notifies(make_world: MakeWorld) -> None:
    """AWS: DescribeAlarms answers AccessDenied when the role's policy lacks it (or an SCP)."""
    w = make_world()
    w.tick(T0)
    fail(w.clients.cloudwatch, "DescribeAlarms", "AccessDenied", "not authorized")
    r = w.tick(T0 + BAKE)
    assert r["decision"] == "hold" and "AccessDenied" in r["reason"]
    assert w.candidate() == 10.0 and updates(w) == 0
    assert r["notified"]


def test_throttling_is_retried_then_held_when_it_persists(
    make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS: DynamoDB answers ThrottlingException under load (absorbed by botocore's standard
    retries); CloudWatch throttling that outlasts the retries reaches the hook as an error."""
    import botocore.retries.standard as standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda *_a, **_k: 0.0)
    w = make_world()
    w.tick(T0)
    throttle_wire(w.clients.dynamodb, "GetItem", times=2)
    r = w.tick(T0 + BAKE)
    assert r["decision"] == "advance" and w.candidate() == 50.0
    fail(w.clients.cloudwatch, "DescribeAlarms", "Throttling", "Rate exceeded")
    r = w.tick(T0 + 2 * BAKE)
    assert r["decision"] == "hold" and "Throttling" in r["reason"]
    assert w.candidate() == 50.0


def test_endpoint_failed_stops_and_changes_nothing(make_world: MakeWorld) -> None:
    """AWS: an endpoint update that cannot provision ends in EndpointStatus Failed."""
    w = make_world()
    w.tick(T0)
    patch_response(
        w.clients.sagemaker, "DescribeEndpoint", lambda p: p.update(EndpointStatus="Failed")
    )
    w.set_alarm(w.spec.gate_alarms[0], "ALARM")
    r = w.tick(T0 + BAKE)
    assert r["decision"] == "hold" and "Failed" in r["reason"] and r["notified"]
    assert updates(w) == 0 and w.candidate() == 10.0
    state = w.state()
    assert state is not None and state.status == "in_progress"


def test_endpoint_deleted_stops(make_world: MakeWorld) -> None:
    """AWS: DescribeEndpoint answers ValidationException "Could not find endpoint" once deleted."""
    w = make_world()
    w.tick(T0)
    w.admin.sagemaker.delete_endpoint(EndpointName=w.spec.endpoint_name)
    r = w.tick(T0 + BAKE)
    assert r["decision"] == "hold" and "Missing" in r["reason"] and r["notified"]
    assert updates(w) == 0


def test_candidate_variant_missing_stops(make_world: MakeWorld) -> None:
    """AWS: the endpoint was redeployed with a config that lacks the candidate variant."""
    w = make_world(variants={"stable": 1.0})
    r = w.tick(T0)
    assert r["decision"] == "hold" and "candidate is missing" in r["reason"]
    assert updates(w) == 0 and w.live() == {"stable": 1.0}


def test_drifted_weights_are_reconciled(make_world: MakeWorld) -> None:
    """AWS: someone changed the weights by hand (console / CLI) during the rollout."""
    w = make_world()
    w.tick(T0)
    w.set_weights({"stable": 50.0, "candidate": 50.0})
    r = w.tick(T0 + 60)
    assert r["decision"] == "reconcile" and r["weights_applied"]
    assert w.live() == {"stable": 90.0, "candidate": 10.0}
    r = w.tick(T0 + BAKE)  # the bake restarted at the reconcile
    assert r["decision"] == "hold"


def test_duplicate_event_does_not_step_twice(make_world: MakeWorld) -> None:
    """AWS: EventBridge delivers at least once; the same scheduled event can arrive twice."""
    w = make_world()
    w.tick(T0)
    first = w.tick(T0 + BAKE)
    second = w.tick(T0 + BAKE)
    assert first["decision"] == "advance" and second["decision"] == "hold"
    assert second["version"] == first["version"] and second["step_index"] == 1
    assert w.candidate() == 50.0 and updates(w) == 1


def test_two_concurrent_invocations_take_one_step(make_world: MakeWorld) -> None:
    """AWS: two invocations overlap (a schedule tick and an alarm event) despite reserved
    concurrency; both read version N, only the first conditional write wins."""
    w = make_world()
    w.tick(T0)
    other = fresh_clients(w.recorder)
    other_result: list[dict[str, Any]] = []

    def race(**_: Any) -> None:
        if not other_result:  # the other invocation runs to the end between our read and write
            from sagemaker_rollouts.lambdas.canary_hook import run

            other_result.append(run({}, w.env, other, T0 + BAKE, log=w.logs.append))

    w.clients.dynamodb.meta.events.register("before-call.dynamodb.TransactWriteItems", race)
    r = w.tick(T0 + BAKE)
    assert other_result[0]["decision"] == "advance" and not other_result[0]["conflict"]
    assert r["decision"] == "advance" and r["conflict"] and not r["weights_applied"]
    assert updates(w) == 1 and w.candidate() == 50.0
    state = w.state()
    assert state is not None and state.step_index == 1
    assert [h.kind for h in w.history()].count("advance") == 1


def test_crash_after_rollback_weights_before_state_write_converges(make_world: MakeWorld) -> None:
    """AWS: the Lambda times out or is killed after UpdateEndpointWeightsAndCapacities succeeded
    but before DynamoDB recorded it; the next tick must converge."""
    w = make_world()
    w.tick(T0)
    w.set_alarm(w.spec.gate_alarms[0], "ALARM")
    crash(w.clients.dynamodb, "TransactWriteItems")
    with pytest.raises(SystemExit):
        w.tick(T0 + 30)
    assert w.candidate() == 0.0
    state = w.state()
    assert state is not None and state.status == "in_progress"  # not recorded
    r = w.tick(T0 + 90)
    assert r["decision"] == "rollback" and r["status"] == "rolled_back"
    assert w.candidate() == 0.0
    assert w.tick(T0 + 150)["decision"] == "hold"


def test_crash_after_rollback_then_alarm_clears_stays_rolled_back(make_world: MakeWorld) -> None:
    """AWS: the rollback's weights call landed, the Lambda died before DynamoDB recorded it, and
    the alarm went back to OK before the next tick (a short spike). The candidate must stay at 0:
    a lost record is never a reason to send traffic back to a model that fired an alarm."""
    w = make_world()
    w.tick(T0)
    w.set_alarm(w.spec.gate_alarms[0], "ALARM")
    crash(w.clients.dynamodb, "TransactWriteItems")
    with pytest.raises(SystemExit):
        w.tick(T0 + 30)
    w.set_alarm(w.spec.gate_alarms[0], "OK")
    r = w.tick(T0 + 90)
    assert r["decision"] == "rollback" and r["status"] == "rolled_back"
    assert w.candidate() == 0.0
    assert w.tick(T0 + 150)["decision"] == "hold" and w.candidate() == 0.0


def test_crash_after_advance_write_before_weights_call_converges(make_world: MakeWorld) -> None:
    """AWS: the Lambda dies between the conditional state write and the weights call of an
    advance; the next tick sees live weights behind the stored step and reconciles."""
    w = make_world()
    w.tick(T0)
    crash(w.clients.sagemaker, "UpdateEndpointWeightsAndCapacities")
    with pytest.raises(SystemExit):
        w.tick(T0 + BAKE)
    state = w.state()
    assert state is not None and state.step_index == 1 and w.candidate() == 10.0
    r = w.tick(T0 + BAKE + 60)
    assert r["decision"] == "reconcile" and w.candidate() == 50.0
    assert w.tick(T0 + BAKE + 120)["decision"] == "hold"


def test_pause_and_resume(make_world: MakeWorld) -> None:
    """AWS: an operator records intents in DynamoDB (the CLI), then runs one decision."""
    w = make_world()
    w.tick(T0)
    record_intent(w.admin.dynamodb, w.table, w.spec.rollout_id, "pause", "ops", "look", T0 + 10)
    r = w.tick(T0 + 10)
    assert r["status"] == "paused" and "paused by ops" in r["reason"]
    r = w.tick(T0 + 2 * BAKE)
    assert (r["decision"], r["status"], w.candidate()) == ("hold", "paused", 10.0)
    record_intent(
        w.admin.dynamodb, w.table, w.spec.rollout_id, "resume", "ops", "fine", T0 + 2 * BAKE
    )
    r = w.tick(T0 + 2 * BAKE)
    assert r["status"] == "in_progress" and "resumed" in r["reason"]
    assert w.tick(T0 + 3 * BAKE)["decision"] == "advance"
    who = [h.who for h in w.history() if h.kind == "intent"]
    assert who == ["ops", "ops"]


def test_promote_and_promote_full(make_world: MakeWorld) -> None:
    """AWS: an operator skips the bake (promote) or goes straight to 100% (promote --full)."""
    w = make_world()
    w.tick(T0)
    record_intent(w.admin.dynamodb, w.table, w.spec.rollout_id, "promote", "ops", "ok", T0 + 5)
    r = w.tick(T0 + 5)
    assert (r["decision"], r["step_index"], w.candidate()) == ("advance", 1, 50.0)
    assert w.tick(T0 + 6)["decision"] == "hold"  # consumed once
    record_intent(w.admin.dynamodb, w.table, w.spec.rollout_id, "promote_full", "ops", "go", T0 + 7)
    r = w.tick(T0 + 7)
    assert (r["decision"], r["step_index"], w.candidate()) == ("advance", 2, 100.0)


def test_abort_rolls_back(make_world: MakeWorld) -> None:
    """AWS: an operator aborts; the same path as an alarm (candidate 0, notify)."""
    w = make_world()
    w.tick(T0)
    w.tick(T0 + BAKE)
    record_intent(w.admin.dynamodb, w.table, w.spec.rollout_id, "abort", "ops", "bad", T0 + 400)
    r = w.tick(T0 + 400)
    assert (r["decision"], r["status"]) == ("rollback", "rolled_back")
    assert w.candidate() == 0.0 and r["notified"]
    outcome = read_outcome(w.admin.dynamodb, w.table, w.spec.rollout_id)
    assert outcome is not None and outcome.alarm is None and "aborted by ops" in outcome.reason


def test_low_traffic_holds(make_world: MakeWorld) -> None:
    """AWS: the sample alarm (candidate Invocations below the minimum, missing data breaching)
    is in ALARM while the candidate sees too few requests to judge."""
    w = make_world()
    w.tick(T0)
    assert w.spec.sample_alarm is not None
    w.set_alarm(w.spec.sample_alarm, "ALARM")
    r = w.tick(T0 + 2 * BAKE)
    assert r["decision"] == "hold" and "low traffic" in r["reason"]
    assert w.candidate() == 10.0


def test_steady_state_tick_costs_three_calls_and_emits_metrics(make_world: MakeWorld) -> None:
    """AWS: every call is billed and throttled; a bake tick reads three things and writes none."""
    w = make_world()
    w.tick(T0)
    w.recorder.clear()
    w.tick(T0 + 60)
    assert w.recorder.calls == [
        "sagemaker.DescribeEndpoint",
        "cloudwatch.DescribeAlarms",
        "dynamodb.GetItem",
    ]
    assert '"CandidateWeight": 10.0' in w.logs[-1] and '"CloudWatchMetrics"' in w.logs[-1]


def test_intent_without_state_and_outcome_without_table(make_world: MakeWorld) -> None:
    """AWS: ResourceNotFoundException for a table not yet created; no item before the first tick."""
    w = make_world()
    assert read_outcome(w.admin.dynamodb, "no-such-table", "x") is None
    assert read_outcome(w.admin.dynamodb, w.table, w.spec.rollout_id) is None
    with pytest.raises(RolloutNotFound):
        record_intent(w.admin.dynamodb, w.table, w.spec.rollout_id, "pause", "ops", "x", T0)
