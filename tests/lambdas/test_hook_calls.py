"""What one hook tick costs in AWS calls, in every state a rollout can be in: a tick that changes
nothing reads the endpoint, the alarms and the state item, once each (AWS bills and throttles
every call; the hook runs every minute on every canary endpoint)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sagemaker_rollouts.lambdas.scale_down import MIN_INSTANCES
from sagemaker_rollouts.lambdas.store import STATE_SK
from tests.moto_fixtures import T0, World, patch_response

MakeWorld = Callable[..., World]
BAKE = 301.0
STEADY = ["sagemaker.DescribeEndpoint", "cloudwatch.DescribeAlarms", "dynamodb.GetItem"]


def _stable_fleet(w: World, count: int) -> list[int]:
    """AWS reports each variant's CurrentInstanceCount and applies a DesiredInstanceCount;
    moto drops the count after a weight update, so both are stood in for here."""
    fleet = [count]

    def edit(r: dict[str, Any]) -> None:
        for v in r["ProductionVariants"]:
            if v["VariantName"] == w.spec.stable_variant:
                v["CurrentInstanceCount"] = fleet[0]

    def update(params: dict[str, Any], **_: Any) -> None:
        for v in params.get("DesiredWeightsAndCapacities", []):
            if v["VariantName"] == w.spec.stable_variant and "DesiredInstanceCount" in v:
                fleet[0] = int(v["DesiredInstanceCount"])

    patch_response(w.clients.sagemaker, "DescribeEndpoint", edit)
    w.clients.sagemaker.meta.events.register(
        "provide-client-params.sagemaker.UpdateEndpointWeightsAndCapacities", update
    )
    return fleet


def _until_last_step(w: World) -> float:
    now = T0
    w.tick(now)
    while True:
        state = w.state()
        assert state is not None and state.status == "in_progress"
        if state.step_index == len(w.spec.steps) - 1:
            return now
        now += BAKE
        w.tick(now)


def _until_completed(w: World) -> float:
    now = _until_last_step(w) + BAKE
    w.tick(now)
    state = w.state()
    assert state is not None and state.status == "completed"
    return now


def _rolling_out(w: World) -> float:
    w.tick(T0)
    return T0 + 60  # step 0, baking its first step


def _baking_the_last_step(w: World) -> float:
    return _until_last_step(w) + 60


def _completed(w: World) -> float:
    return _until_completed(w) + 60  # within the scale-down delay: the full stable fleet kept


def _scaled_down(w: World) -> float:
    done = _until_completed(w)
    assert w.tick(done + 600)["scaled_down"] == MIN_INSTANCES
    return done + 660


def _rolled_back(w: World) -> float:
    w.tick(T0)
    w.set_alarm(w.spec.gate_alarms[0], "ALARM")
    assert w.tick(T0 + 60)["decision"] == "rollback"
    return T0 + 120


@pytest.mark.parametrize(
    ("reach", "status"),
    [
        (_rolling_out, "in_progress"),
        (_baking_the_last_step, "in_progress"),
        (_completed, "completed"),
        (_scaled_down, "completed"),
        (_rolled_back, "rolled_back"),
    ],
    ids=["rolling out", "baking the last step", "completed", "scaled down", "rolled back"],
)
def test_a_tick_that_changes_nothing_costs_three_reads_in_every_state(
    make_world: MakeWorld, reach: Callable[[World], float], status: str
) -> None:
    w = make_world(scale_down_delay_seconds=600)
    _stable_fleet(w, 3)
    now = reach(w)
    before = w.state()
    w.recorder.clear()
    result = w.tick(now)
    assert w.recorder.calls == STEADY
    assert result["status"] == status
    assert w.state() == before  # nothing written


def test_the_scale_down_tick_reuses_the_ticks_describe_and_the_stored_completion_time(
    make_world: MakeWorld,
) -> None:
    w = make_world(scale_down_delay_seconds=600)
    fleet = _stable_fleet(w, 3)
    done = _until_completed(w)
    state = w.state()
    assert state is not None and state.completed_at == done
    w.recorder.clear()
    assert w.tick(done + 600)["scaled_down"] == MIN_INSTANCES
    assert w.recorder.calls == [*STEADY, "sagemaker.UpdateEndpointWeightsAndCapacities"]
    assert fleet == [MIN_INSTANCES]


def test_a_state_item_stored_before_completed_at_existed_reads_the_history_until_scaled_down(
    make_world: MakeWorld,
) -> None:
    """Items written by an older hook have no `completed_at`: the completion time comes from the
    history (one Query per tick while the stable fleet is above its minimum, never after)."""
    w = make_world(scale_down_delay_seconds=600)
    _stable_fleet(w, 3)
    done = _until_completed(w)
    w.admin.dynamodb.update_item(
        TableName=w.table,
        Key={"pk": {"S": w.spec.rollout_id}, "sk": {"S": STATE_SK}},
        UpdateExpression="REMOVE completed_at",
    )
    state = w.state()
    assert state is not None and state.completed_at is None
    w.recorder.clear()
    assert w.tick(done + 600)["scaled_down"] == MIN_INSTANCES
    assert w.recorder.ops("dynamodb") == ["dynamodb.GetItem", "dynamodb.Query"]
    w.recorder.clear()
    w.tick(done + 660)
    assert w.recorder.calls == STEADY
