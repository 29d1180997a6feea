"""Issue 9 kinds 2 and 5 through the real hook against moto in server mode: a lost, malformed or
stale state item is recovered (re-derived from live weights and history, recorded, notified) and
never spun on; stuck notices are deduplicated by kind; a failed Publish is retried."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sagemaker_rollouts.lambdas import store
from tests.moto_fixtures import T0, World, alarm_event, fail, fork, new_world

BAKE = 301.0


@pytest.fixture(scope="module")
def shared(moto_url: str) -> World:
    del moto_url
    return new_world()


def key(w: World) -> dict[str, Any]:
    return {"pk": {"S": w.spec.rollout_id}, "sk": {"S": store.STATE_SK}}


def delete_state(w: World) -> None:
    """An operator (or a bad script) deletes the state item by hand; the history stays."""
    w.admin.dynamodb.delete_item(TableName=w.table, Key=key(w))


def break_state(w: World) -> None:
    """The state item edited by hand into something the hook cannot read."""
    w.admin.dynamodb.update_item(
        TableName=w.table,
        Key=key(w),
        UpdateExpression="SET #s = :s REMOVE step_index",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "exploded"}},
    )


def stale_state(w: World) -> Callable[[], None]:
    """Capture the item now; the returned function puts it back later (a restore from backup):
    its version is then behind the history's newest row."""
    item = w.admin.dynamodb.get_item(TableName=w.table, Key=key(w))["Item"]
    return lambda: w.admin.dynamodb.put_item(TableName=w.table, Item=item)


def subjects(w: World) -> list[str]:
    return [p["body"]["Subject"] for p in w.recorder.published]


@pytest.mark.parametrize("damage", ["deleted", "malformed", "stale"])
def test_lost_or_broken_state_is_recovered_recorded_notified_and_the_rollout_goes_on(
    shared: World, damage: str
) -> None:
    w = fork(shared)
    w.tick(T0)
    restore = stale_state(w)
    w.tick(T0 + BAKE)  # to 50%
    w.tick(T0 + BAKE + 60)
    assert w.candidate() == 50.0
    match damage:
        case "deleted":
            delete_state(w)
        case "malformed":
            break_state(w)
        case _:
            restore()
    w.recorder.clear()
    r = w.tick(T0 + BAKE + 120)
    assert r["recovered"] and not r["conflict"], r
    st = w.state()
    assert st is not None and st.step_index == 1 and st.status == "in_progress"
    kinds = [h.kind for h in w.history()]
    assert "recover" in kinds
    recover = next(h for h in w.history() if h.kind == "recover")
    assert "step 2 (50%) from live weights" in recover.reason  # numbered from 1
    assert any("state recovered" in s for s in subjects(w))
    # Never spinning: the following ticks decide normally and the canary steps after a full bake.
    for i in range(1, 4):
        r = w.tick(T0 + BAKE + 120 + 60 * i)
        assert not r["conflict"] and not r["recovered"]
    r = w.tick(T0 + BAKE + 120 + BAKE)
    assert r["decision"] == "advance" and w.candidate() == 100.0


def test_state_deleted_after_an_unapplied_rollback_keeps_the_rollback(shared: World) -> None:
    """AWS: the weights call was refused ("Cannot update in-progress endpoint"), the rollback is
    pending; then the state item is lost. The history still says rolled back: it is applied."""
    w = fork(shared)
    w.tick(T0)
    gate = w.spec.gate_alarms[0]
    w.set_alarm(gate, "ALARM")
    remove = fail(
        w.clients.sagemaker,
        "UpdateEndpointWeightsAndCapacities",
        "ValidationException",
        "Cannot update in-progress endpoint",
    )
    w.tick(T0 + 10, alarm_event(gate))
    remove()
    assert w.candidate() == 10.0
    delete_state(w)
    w.set_alarm(gate, "OK")
    r = w.tick(T0 + 70)
    assert r["recovered"] and r["decision"] == "rollback" and r["weights_applied"]
    st = w.state()
    assert st is not None and st.status == "rolled_back" and st.rollback_alarm == gate
    assert w.candidate() == 0.0


def test_endpoint_missing_and_no_data_past_the_limit_notifies_once_in_30_ticks(
    moto_url: str,
) -> None:
    """AWS: the endpoint was deleted out of band while a gate alarm lost its metric."""
    del moto_url  # its own world (the endpoint is deleted), on the module's server
    w = new_world()
    w.tick(T0)
    w.admin.sagemaker.delete_endpoint(EndpointName=w.spec.endpoint_name)
    w.set_alarm(w.spec.gate_alarms[0], "INSUFFICIENT_DATA")
    w.recorder.clear()
    for i in range(30):
        r = w.tick(T0 + 60 + 60 * i)
        assert r["decision"] == "hold"
    assert len(w.recorder.published) == 1 and "stuck" in subjects(w)[0]
    writes = w.recorder.ops().count("dynamodb.TransactWriteItems")
    assert writes <= 3  # the stuck hold, its notice cleared, the spell's start: not one per tick


def test_a_failed_publish_stays_pending_and_is_retried_until_sent(shared: World) -> None:
    """AWS: SNS Publish throttled (or the topic's KMS key denied) after the rollback was applied
    and recorded."""
    w = fork(shared)
    w.tick(T0)
    gate = w.spec.gate_alarms[1]
    w.set_alarm(gate, "ALARM")
    remove = fail(w.clients.sns, "Publish", "Throttling", "Rate exceeded")
    for i in range(3):
        r = w.tick(T0 + 10 + 60 * i, alarm_event(gate) if i == 0 else None)
        assert r["notices_pending"] == 1 and not r["notified"]
    remove()
    r = w.tick(T0 + 200)
    assert r["notified"] and r["notices_pending"] == 0
    # Three refused attempts, one per tick (no storm of writes meanwhile), then the one that went.
    assert subjects(w) == [f"Canary rolled back: {w.spec.endpoint_name}"] * 4
    st = w.state()
    assert st is not None and st.outbox == () and w.candidate() == 0.0
