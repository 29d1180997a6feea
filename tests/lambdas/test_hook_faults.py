"""Fault matrix: the real hook (`canary_hook.run`) against moto in server mode, with one fault
injected at every AWS call the hook makes, in the two ticks that call them all: a rollback (gate
alarm event at 50%) and an advance (step 1 baked, every alarm OK).

Faults, injected with botocore's event system on the hook's own clients (nothing in the code under
test is patched), each standing in for a real AWS behaviour:
- throttle: `ThrottlingException` as the caller sees it once botocore's retries are spent (the
  short-circuit happens above the retry loop, so it is the final answer);
- 5xx: HTTP 500 `InternalFailure` (a service-side failure, after retries);
- timeout: `ReadTimeoutError` (the connection went quiet past the client's read timeout);
- denied: `AccessDeniedException` / `AccessDenied` / `AuthorizationError` (IAM, SCP, KMS);
- crash: the call succeeds, then the Lambda dies (timeout, OOM) before doing anything else.

Each cell asserts the defined outcome of the faulty tick (what was decided, what is stored, what is
pending), then runs more ticks with the fault gone and checks that the rollout converges to where
the same ticks without a fault would have left it, and the invariants on every tick: weights never
negative and some variant serving, never an advance while a gate is not OK, a rollback never lost
and never undone, the same event twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

from sagemaker_rollouts.lambdas import store
from sagemaker_rollouts.lambdas.controller import RolloutState, step_weights
from tests.moto_fixtures import T0, World, alarm_event, fork, injected_error, new_world

BAKE = 301.0


@pytest.fixture(scope="module")
def shared(moto_url: str) -> World:
    """One endpoint, alarm set, table and topic for the whole matrix; each cell forks its own
    rollout (a fresh rollout id) on it."""
    del moto_url
    return new_world()


def seeded(base: World, step: int, at: float) -> World:
    """A forked rollout already on `step` since `at` (stored as version 1, weights set), as the
    hook's own earlier ticks would have left it."""
    w = fork(base)
    pct = w.spec.steps[step].candidate_percent
    state = RolloutState(
        status="in_progress", step_index=step, step_started_at=at, version=1, evidence_since=at
    )
    row = store.HistoryRow(1, at, "advance", "seeded", "in_progress", step, pct, None, None)
    assert store.write_state(w.admin.dynamodb, w.table, w.spec.rollout_id, 0, state, row)
    w.set_weights(dict(step_weights(w.spec, step)))
    return w


OPS: dict[str, str] = {
    "DescribeEndpoint": "sagemaker",
    "DescribeAlarms": "cloudwatch",
    "GetItem": "dynamodb",
    "TransactWriteItems": "dynamodb",
    "UpdateEndpointWeightsAndCapacities": "sagemaker",
    "Publish": "sns",
}
FAULTS = ("throttle", "5xx", "timeout", "denied", "crash")


class Crash(BaseException):
    """The Lambda runtime killing the invocation: not an Exception, so nothing in the hook can
    catch it (as with a real timeout or OOM, the process is gone)."""


def inject(w: World, op: str, fault: str) -> Callable[[], None]:
    """Make the hook's next call of `op` fail with `fault` (once). Returns the remover."""
    service = OPS[op]
    client: Any = getattr(w.clients, service)
    hyphen = client.meta.service_model.service_id.hyphenize()
    left = [1]

    def answer(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if left[0] <= 0:
            return None
        left[0] -= 1
        if fault == "timeout":
            raise ReadTimeoutError(endpoint_url=f"https://{service}.us-east-1.amazonaws.com")
        return injected_error(service, fault)

    def die(**_: Any) -> None:
        if left[0] > 0:
            left[0] -= 1
            raise Crash(f"Lambda died right after {op}")

    if fault == "crash":
        name, handler = f"after-call.{hyphen}.{op}", die
    else:
        name, handler = f"before-call.{hyphen}.{op}", answer
    client.meta.events.register(name, handler)
    return lambda: client.meta.events.unregister(name, handler)


def check_serving(w: World) -> dict[str, float]:
    live = w.live()
    assert all(v >= 0 for v in live.values()), live
    assert sum(live.values()) > 0, live
    return live


def tick(w: World, now: float, event: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """One invocation; None when it failed (raised or crashed), as Lambda would record it."""
    try:
        return w.tick(now, event)
    except (Exception, Crash) as err:
        w.logs.append(f"invocation failed: {type(err).__name__}: {err}")
        return None


def converge_and_check_idempotent(w: World, now: float, event: dict[str, Any] | None) -> None:
    """Two more deliveries with no fault; then the same event again changes nothing."""
    tick(w, now, event)
    tick(w, now + 60)
    before = (w.state(), w.live(), len(w.recorder.ops("sagemaker")))
    again = w.tick(now + 60)
    after = (w.state(), w.live())
    assert after == before[:2], "the same event twice changed something"
    assert again["decision"] == "hold" and not again["weights_applied"]


# ----------------------------------------------------------------------------- rollback tick


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("op", list(OPS))
def test_rollback_tick_fault_matrix(shared: World, op: str, fault: str) -> None:
    w = seeded(shared, 1, T0 + BAKE)
    gate = w.spec.gate_alarms[0]
    w.set_alarm(gate, "ALARM")
    v0 = w.state()
    assert v0 is not None and w.candidate() == 50.0
    w.recorder.clear()
    remove = inject(w, op, fault)
    now = T0 + BAKE + 10
    event = alarm_event(gate)
    out = tick(w, now, event)
    remove()
    live = check_serving(w)
    st = w.state()
    assert st is not None

    # The faulty tick's defined outcome.
    match op, fault:
        case (("DescribeEndpoint" | "GetItem"), _):
            # Nothing decided: the invocation fails and changes nothing; the event is redelivered.
            assert out is None and st == v0 and live["candidate"] == 50.0
        case "DescribeAlarms", "crash":
            assert out is None and st == v0 and live["candidate"] == 50.0
        case "DescribeAlarms", _:
            # Unreadable alarms, but the event's own ALARM is trusted: rolled back at once.
            assert out is not None and out["decision"] == "rollback" and out["weights_applied"]
            assert live["candidate"] == 0.0 and st.rollback_alarm == gate
        case "UpdateEndpointWeightsAndCapacities", "crash":
            # The weights moved, the record did not: the next tick attributes it to the alarm.
            assert out is None and live["candidate"] == 0.0 and st == v0
        case "UpdateEndpointWeightsAndCapacities", _:
            # Decided, not applied: stored as a pending rollback, never lost.
            assert out is not None and out["decision"] == "rollback" and not out["weights_applied"]
            assert live["candidate"] == 50.0
            assert st.status == "rolled_back" and st.pending_rollback and st.rollback_alarm == gate
            w.set_alarm(gate, "OK")  # the alarm clears: the pending rollback still applies
        case "TransactWriteItems", "crash":
            # Recorded, then died before publishing: the notice waits in the outbox.
            assert out is None and live["candidate"] == 0.0
            assert st.status == "rolled_back" and st.rollback_alarm == gate and len(st.outbox) == 1
        case "TransactWriteItems", _:
            # Applied, not recorded: the invocation fails (redelivery) after telling a human.
            assert out is None and live["candidate"] == 0.0 and st == v0
            assert any("not recorded" in p["body"]["Subject"] for p in w.recorder.published)
        case "Publish", "crash":
            assert out is None and live["candidate"] == 0.0 and st.status == "rolled_back"
            assert len(st.outbox) == 1  # published, not yet cleared: sent again (at least once)
        case "Publish", _:
            assert out is not None and out["decision"] == "rollback" and out["weights_applied"]
            assert out["notices_pending"] == 1 and not out["notified"]
            assert live["candidate"] == 0.0 and len(st.outbox) == 1
        case _:
            raise AssertionError((op, fault))

    # Redelivery / later ticks without the fault: the rollback is applied, recorded with its
    # alarm, notified, and never undone; the same event again changes nothing.
    converge_and_check_idempotent(w, now + 30, event)
    final = w.state()
    assert final is not None
    assert final.status == "rolled_back" and not final.pending_rollback
    assert final.rollback_alarm == gate, final
    assert final.outbox == ()
    assert w.candidate() == 0.0
    subjects = [p["body"]["Subject"] for p in w.recorder.published]
    assert any(s.startswith("Canary rolled back") or "rollback applied" in s for s in subjects)
    # Never advanced after the alarm, and the rollback never undone.
    later = [h for h in w.history() if h.version > v0.version]
    assert later and all(h.kind != "advance" and h.candidate_percent == 0 for h in later), later


# ----------------------------------------------------------------------------- advance tick


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize(
    "op", [op for op in OPS if op != "Publish"]
)  # an advance publishes nothing
def test_advance_tick_fault_matrix(shared: World, op: str, fault: str) -> None:
    w = seeded(shared, 0, T0)
    v0 = w.state()
    assert v0 is not None and w.candidate() == 10.0
    remove = inject(w, op, fault)
    now = T0 + BAKE
    out = tick(w, now)
    remove()
    live = check_serving(w)
    st = w.state()
    assert st is not None

    match op, fault:
        case (("DescribeEndpoint" | "GetItem" | "DescribeAlarms"), "crash"):
            assert out is None and st == v0 and live["candidate"] == 10.0
        case (("DescribeEndpoint" | "GetItem"), _):
            assert out is None and st == v0 and live["candidate"] == 10.0
        case "DescribeAlarms", _:
            # Never advance on missing data: hold and tell a human.
            assert out is not None and out["decision"] == "hold" and "unreadable" in out["reason"]
            assert live["candidate"] == 10.0 and st.stuck_kind == "alarms-unreadable"
            assert out["notified"]
        case "TransactWriteItems", "crash":
            # Recorded, weights not set yet: the next tick reconciles to the stored step.
            assert out is None and st.step_index == 1 and live["candidate"] == 10.0
        case "TransactWriteItems", _:
            assert out is None and st == v0 and live["candidate"] == 10.0
        case "UpdateEndpointWeightsAndCapacities", "crash":
            assert out is None and st.step_index == 1 and live["candidate"] == 50.0
        case "UpdateEndpointWeightsAndCapacities", _:
            # Recorded; the weights call failed: the stored step stands and is reconciled to.
            assert out is not None and out["decision"] == "advance" and not out["weights_applied"]
            assert st.step_index == 1 and live["candidate"] == 10.0
        case _:
            raise AssertionError((op, fault))

    converge_and_check_idempotent(w, now + 30, None)
    final = w.state()
    # An unreadable-alarms tick had no evidence: the bake starts over, so no step yet.
    step = 0 if op == "DescribeAlarms" and fault != "crash" else 1
    assert final is not None and final.status == "in_progress" and final.step_index == step
    assert w.candidate() == (10.0, 50.0)[step]
    assert final.outbox == ()
    # At most one step: a fault never makes the hook step twice.
    assert [h.step_index for h in w.history()].count(2) == 0
