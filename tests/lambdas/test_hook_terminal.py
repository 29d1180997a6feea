"""A finished rollout keeps its terminal weights, and every rollback names what caused it: the real
hook (`canary_hook.run`) on moto in server mode, with concurrent invocations in threads and an
operator's command (through the `rollout` entry point) racing the hook.

Delays are botocore `before-call` hooks that hold one call on the wire until the test releases
it: they stand in for a Lambda whose UpdateEndpointWeightsAndCapacities request is slow to land
(network, retries with backoff, a cold connection) while another actor decides. Nothing in the
code under test is patched.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sagemaker_rollouts.cli.main import main
from sagemaker_rollouts.cli.stack import LoadedStack
from sagemaker_rollouts.lambdas import store
from sagemaker_rollouts.lambdas.aws_adapter import Clients, make_clients
from sagemaker_rollouts.lambdas.canary_hook import run
from sagemaker_rollouts.lambdas.controller import (
    AlarmView,
    EndpointView,
    Hold,
    Reconcile,
    Rollback,
    RolloutState,
    apply,
    decide,
)
from sagemaker_rollouts.lambdas.rollout import RolloutSpec, Step
from sagemaker_rollouts.simulator.provision import AwsClients
from tests.moto_deploy import canary_of, hook_env, rollout_state
from tests.moto_fixtures import T0, World, alarm_event, fail, fresh_clients, schedule_event

MakeWorld = Callable[..., World]
ROOT = Path(__file__).resolve().parents[2]


class Delayed:
    """Hold the first `operation` call of `client` until `release()`: `sent` is set once the call
    is on its way (its parameters are built, the request not yet answered)."""

    def __init__(self, client: Any, operation: str) -> None:
        self.sent = threading.Event()
        self._go = threading.Event()
        self._client = client
        self._name = f"before-call.{client.meta.service_model.service_id.hyphenize()}.{operation}"
        client.meta.events.register(self._name, self._wait)

    def _wait(self, **_: Any) -> None:
        if self.sent.is_set():
            return
        self.sent.set()
        assert self._go.wait(30), "the test never released the delayed call"

    def release(self) -> None:
        self._go.set()
        self._client.meta.events.unregister(self._name, self._wait)


class Invocation(threading.Thread):
    """One hook invocation in its own thread (a concurrent Lambda, its own result or error)."""

    def __init__(self, fn: Callable[[], dict[str, Any]]) -> None:
        super().__init__(daemon=True)
        self._fn = fn
        self.result: dict[str, Any] | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self._fn()
        except BaseException as err:  # reported by the test
            self.error = err


def subjects(w: World) -> list[str]:
    return [p["body"]["Subject"] for p in w.recorder.published]


def decided(w: World) -> list[store.HistoryRow]:
    """History rows of decisions, newest first (without the outbox's "notify" rows)."""
    return [h for h in w.history() if h.kind != "notify"]


def started_advance(w: World, now: float) -> tuple[Invocation, Delayed]:
    """A schedule tick that decides an advance (step 1 baked), recorded it, and whose weights call
    is held on the wire."""
    delayed = Delayed(w.clients.sagemaker, "UpdateEndpointWeightsAndCapacities")
    inv = Invocation(lambda: w.tick(now))
    inv.start()
    assert delayed.sent.wait(30), inv.error
    state = w.state()
    assert state is not None and state.step_index == 1  # the advance is recorded first
    return inv, delayed


def abort_like_the_cli(w: World, now: float) -> dict[str, Any]:
    """What `rollout abort` does: record the intent, then run one decision with its own clients
    (outside the Lambda's reserved concurrency)."""
    clients = fresh_clients()
    store.record_intent(
        clients.dynamodb, w.table, w.spec.rollout_id, "abort", "alice", "bad scores", now
    )
    event = {"source": "rollout.cli", "detail-type": "Operator Command", "detail": {}}
    return run(event, w.env, clients, now, log=lambda _: None)


def second_alarm_invocation(w: World, now: float) -> dict[str, Any]:
    """An alarm-state-change invocation running beside the schedule tick (the CLI path and an
    unreserved hook both run outside reserved concurrency 1)."""
    w.set_alarm(w.spec.gate_alarms[0], "ALARM", at=now)
    return run(alarm_event(w.spec.gate_alarms[0]), w.env, fresh_clients(), now, log=lambda _: None)


@pytest.mark.parametrize(
    ("racer", "alarm"),
    [
        (abort_like_the_cli, None),
        (second_alarm_invocation, "gate"),
    ],
    ids=["operator abort", "second alarm invocation"],
)
def test_a_delayed_advance_landing_after_a_rollback_is_undone_by_the_next_tick(
    make_world: MakeWorld,
    racer: Callable[[World, float], dict[str, Any]],
    alarm: str | None,
) -> None:
    w = make_world()
    w.tick(T0)
    inv, delayed = started_advance(w, T0 + 301)
    raced = racer(w, T0 + 305)
    assert raced["decision"] == "rollback" and raced["weights_applied"]
    assert w.candidate() == 0.0
    delayed.release()
    inv.join(30)
    assert inv.error is None and inv.result is not None
    assert inv.result["decision"] == "advance" and inv.result["weights_applied"]
    assert w.candidate() == 50.0  # the late advance call landed: the rolled-back candidate serves
    w.set_alarm(w.spec.gate_alarms[0], "OK", at=T0 + 320)  # whatever the alarms do meanwhile
    w.recorder.clear()

    r = w.tick(T0 + 360)
    assert r["decision"] == "rollback" and r["weights_applied"] and r["status"] == "rolled_back"
    assert w.candidate() == 0.0
    newest = decided(w)[0]
    assert newest.kind == "rollback" and "serves 50%" in newest.reason
    gate = w.spec.gate_alarms[0] if alarm == "gate" else None
    assert newest.alarm == gate  # the record names the rollback's own cause, as before
    state = w.state()
    assert state is not None and state.rollback_alarm == gate
    assert state.rollback_reason is not None and "serves" not in state.rollback_reason
    assert any("rollback re-applied" in p for p in subjects(w))

    before = (w.state(), w.live())
    again = w.tick(T0 + 420)
    assert again["decision"] == "hold" and not again["weights_applied"]
    assert (w.state(), w.live()) == before


def test_a_completed_rollout_whose_weights_were_moved_is_put_back_to_100(
    make_world: MakeWorld,
) -> None:
    w = make_world(steps=(Step(10, 60), Step(100, 60)))
    w.tick(T0)
    assert w.tick(T0 + 61)["decision"] == "advance"
    assert w.tick(T0 + 122)["decision"] == "complete"
    w.set_weights({"stable": 50.0, "candidate": 50.0})  # a hand edit, or a late reconcile call
    w.recorder.clear()
    r = w.tick(T0 + 180)
    assert r["decision"] == "reconcile" and r["status"] == "completed" and r["weights_applied"]
    assert w.candidate() == 100.0 and w.live()["stable"] == 0.0
    assert decided(w)[0].kind == "reconcile"
    assert any("completion re-applied" in p for p in subjects(w))
    assert w.tick(T0 + 240)["decision"] == "hold"


SPEC_STEPS = (Step(10, 300), Step(50, 300), Step(100, 300))


@pytest.mark.parametrize(
    ("status", "endpoint_status", "candidate", "want", "want_candidate"),
    [
        ("rolled_back", "InService", 0.0, Hold, None),
        ("rolled_back", "InService", 25.0, Rollback, 0.0),
        ("rolled_back", "Updating", 25.0, Hold, None),  # not settled: the next tick looks
        ("completed", "InService", 100.0, Hold, None),
        ("completed", "InService", 60.0, Reconcile, 100.0),
        ("completed", "InService", None, Hold, None),  # stable variant gone after `pulumi up`
        ("failed", "InService", 25.0, Hold, None),
    ],
)
def test_terminal_rollouts_hold_the_endpoint_to_their_terminal_weights(
    status: str,
    endpoint_status: str,
    candidate: float | None,
    want: type,
    want_candidate: float | None,
) -> None:
    """Pure decisions (no AWS): the terminal row of the decision table."""
    spec = RolloutSpec(
        rollout_id="ep/x/1",
        endpoint_name="ep",
        stable_variant="stable",
        candidate_variant="candidate",
        steps=SPEC_STEPS,
        gate_alarms=("ep-5xx",),
        min_invocations=0,
        insufficient_data_limit_seconds=900,
    )
    state = RolloutState(
        status=status,  # type: ignore[arg-type]
        step_index=2 if status == "completed" else 1,
        step_started_at=T0,
        version=7,
        rollback_alarm="ep-5xx" if status == "rolled_back" else None,
        rollback_reason="alarm ep-5xx is ALARM" if status == "rolled_back" else None,
        rollback_at=T0 if status == "rolled_back" else None,
    )
    weights = (
        {"candidate": 100.0}
        if candidate is None
        else {"stable": 100.0 - candidate, "candidate": candidate}
    )
    view = EndpointView.of(endpoint_status, weights)  # type: ignore[arg-type]
    d = decide(spec, state, AlarmView.of({"ep-5xx": "OK"}), view, None, T0 + 100)
    assert isinstance(d, want), d
    after = apply(state, d, T0 + 100)
    if want is Hold:
        assert after == state  # nothing to record
        return
    weights_set = dict(d.weights)  # type: ignore[union-attr]
    share = 100 * weights_set["candidate"] / sum(weights_set.values())
    assert share == want_candidate
    assert after.version == state.version + 1  # every weights call is recorded
    assert (after.status, after.rollback_alarm, after.rollback_at) == (
        state.status,
        state.rollback_alarm,
        state.rollback_at,
    )


@pytest.mark.parametrize(
    ("spell_ends", "rolls_back"),
    [(1250.0, True), (1150.0, False)],
    ids=["950s of 900 closed by OK", "850s of 900 closed by OK"],
)
def test_a_closed_insufficient_data_spell_past_the_limit_rolls_back_naming_its_alarm(
    make_world: MakeWorld, spell_ends: float, rolls_back: bool
) -> None:
    w = make_world(steps=(Step(10, 3600), Step(100, 3600)), insufficient_data_limit_seconds=900)
    gate = w.spec.gate_alarms[1]
    w.tick(T0)
    w.set_alarm(gate, "INSUFFICIENT_DATA", at=T0 + 300)
    at = T0 + 300
    while at < T0 + spell_ends:
        r = w.tick(at)
        assert r["decision"] == "hold", r
        at += 60
    w.set_alarm(gate, "OK", at=T0 + spell_ends)
    r = w.tick(T0 + spell_ends)
    state = w.state()
    assert state is not None
    if rolls_back:
        assert r["decision"] == "rollback" and r["weights_applied"], r
        assert w.candidate() == 0.0
        assert state.status == "rolled_back" and state.rollback_alarm == gate
        assert "950s missing this step > limit 900s" in r["reason"]
    else:
        assert r["decision"] == "hold" and w.candidate() == 10.0
        assert state.status == "in_progress" and state.missing_seconds == 850.0


@pytest.mark.parametrize(
    ("alarm_fired", "named"),
    [(True, True), (False, False)],
    ids=["gate fired then cleared", "candidate zeroed by hand"],
)
def test_a_rollback_whose_record_was_lost_is_recorded_with_the_alarm_that_caused_it(
    make_world: MakeWorld, alarm_fired: bool, named: bool
) -> None:
    """Double fault: the rollback's weights call landed, its state write failed (DynamoDB 5xx
    after retries), and the alarm cleared before the next tick. CloudWatch's alarm history still
    has the transition (stand-in: tests/moto_fixtures.answer_alarm_history)."""
    w = make_world()
    gate = w.spec.gate_alarms[0]
    w.tick(T0)
    if alarm_fired:
        w.set_alarm(gate, "ALARM", at=T0 + 30)
        remove = fail(w.clients.dynamodb, "TransactWriteItems", "InternalServerError", "5xx", 1)
        with pytest.raises(RuntimeError, match="not recorded"):
            w.tick(T0 + 30)
        remove()
        w.set_alarm(gate, "OK", at=T0 + 80)
    else:
        w.set_weights({"stable": 100.0, "candidate": 0.0})
    assert w.candidate() == 0.0
    w.recorder.clear()
    r = w.tick(T0 + 90)
    assert r["decision"] == "rollback" and r["status"] == "rolled_back"
    state = w.state()
    assert state is not None
    if named:
        assert state.rollback_alarm == gate and decided(w)[0].alarm == gate
        assert gate in r["reason"] and "alarm history" in r["reason"]
    else:
        assert state.rollback_alarm is None and "outside the controller" in r["reason"]
    assert w.recorder.ops("cloudwatch").count("cloudwatch.DescribeAlarmHistory") == len(
        w.spec.gate_alarms
    )
    w.recorder.clear()
    assert w.tick(T0 + 150)["decision"] == "hold"
    assert "cloudwatch.DescribeAlarmHistory" not in w.recorder.calls  # rare path only


# ------------------------------------------------------------------ the CLI racing the hook


def _hook(stack: LoadedStack) -> tuple[dict[str, str], Clients]:
    return hook_env(stack), make_clients(stack.plan.region)


def _candidate(stack: LoadedStack, aws: AwsClients) -> float:
    resp = aws.sagemaker.describe_endpoint(EndpointName=stack.plan.endpoints[0].endpoint_name)
    return {v["VariantName"]: float(v["CurrentWeight"]) for v in resp["ProductionVariants"]}[
        "candidate"
    ]


def test_rollout_abort_racing_a_delayed_advance_ends_rolled_back_at_0(
    deployed: tuple[LoadedStack, AwsClients], capsys: pytest.CaptureFixture[str]
) -> None:
    stack, aws = deployed
    env, clients = _hook(stack)
    start = time.time() - 7200
    run(schedule_event(), env, clients, start, log=lambda _: None)  # step 0 since two hours
    delayed = Delayed(clients.sagemaker, "UpdateEndpointWeightsAndCapacities")
    inv = Invocation(lambda: run(schedule_event(), env, clients, time.time(), log=lambda _: None))
    inv.start()
    assert delayed.sent.wait(30), inv.error
    code = main(["abort", "--stack", "canary", "--dir", str(ROOT), "--reason", "bad scores"])
    assert code == 0, capsys.readouterr()
    assert _candidate(stack, aws) == 0.0
    delayed.release()
    inv.join(30)
    assert inv.result is not None and inv.result["decision"] == "advance"
    assert _candidate(stack, aws) > 0.0  # the late call landed
    r = run(schedule_event(), env, clients, time.time(), log=lambda _: None)
    assert r["decision"] == "rollback" and r["weights_applied"]
    assert _candidate(stack, aws) == 0.0
    capsys.readouterr()
    assert main(["status", "--stack", "canary", "--dir", str(ROOT)]) == 1


def test_rollout_abort_on_a_malformed_state_item_recovers_it_and_aborts(
    deployed: tuple[LoadedStack, AwsClients], capsys: pytest.CaptureFixture[str]
) -> None:
    stack, aws = deployed
    env, clients = _hook(stack)
    run(schedule_event(), env, clients, time.time(), log=lambda _: None)
    spec, table = canary_of(stack)
    aws.dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": spec.rollout_id}, "sk": {"S": store.STATE_SK}},
        UpdateExpression="SET #s = :s REMOVE step_index",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "halfway"}},
    )
    code = main(["abort", "--stack", "canary", "--dir", str(ROOT), "--json"])
    out = capsys.readouterr()
    assert code == 0, out
    assert "Traceback" not in out.err
    assert _candidate(stack, aws) == 0.0
    state = rollout_state(stack, aws)
    assert state is not None and state.status == "rolled_back"
    kinds = [r.kind for r in store.read_history(aws.dynamodb, table, spec.rollout_id)]
    assert "recover" in kinds and kinds[0] in ("rollback", "notify")
