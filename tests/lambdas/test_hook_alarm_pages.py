"""The hook reads every alarm it watches even when CloudWatch answers DescribeAlarms in pages.

A rollout may watch up to 100 alarms (the planner's limit, the most DescribeAlarms takes by
name), but CloudWatch returns them in pages (`NextToken`; `MaxRecords` 1..100): a tick that reads
only the first answer sees the alarms of the later pages as missing. moto answers everything at
once, so `page_describe_alarms` stands in for CloudWatch's paging on the hook's own client.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from tests.moto_fixtures import T0, World, aws_error, new_world, page_describe_alarms, put_alarm

GATES = 60  # more than one default page, fewer than the planner's 100


@pytest.fixture
def world(moto_url: str) -> World:
    del moto_url
    w = new_world(create_alarms=False, sample_alarm=None)
    gates = tuple(f"{w.spec.endpoint_name}-gate-{i:03d}" for i in range(GATES))
    spec = replace(w.spec, gate_alarms=gates)
    w.spec = spec
    w.env["ROLLOUT_SPEC"] = spec.to_json()
    for name in gates:
        put_alarm(w.admin, name, spec.endpoint_name, "candidate", "Invocation5XXErrors")
        w.set_alarm(name, "OK")
    page_describe_alarms(w.clients.cloudwatch, w.admin.cloudwatch)
    return w


def test_a_gate_in_alarm_on_a_later_page_rolls_back(world: World) -> None:
    first = world.tick(T0)
    assert first["decision"] != "rollback"
    world.set_alarm(world.spec.gate_alarms[-1], "ALARM", at=T0 + 30)
    result: dict[str, Any] = world.tick(T0 + 60)
    assert result["decision"] == "rollback", result["reason"]
    assert world.candidate() == 0.0
    state = world.state()
    assert state is not None and state.rollback_alarm == world.spec.gate_alarms[-1]


def test_every_gate_ok_across_pages_lets_the_canary_advance(world: World) -> None:
    world.tick(T0)
    result = world.tick(T0 + world.spec.steps[0].bake_seconds + 1)
    assert result["decision"] == "advance", result["reason"]
    assert world.candidate() == float(world.spec.steps[1].candidate_percent)
    assert "missing" not in result["reason"]


def test_a_later_page_that_fails_makes_the_alarms_unreadable_not_missing(world: World) -> None:
    """The second DescribeAlarms page throttled past botocore's retries: the tick must not read
    the alarms it did not get as deleted ("missing"), nor advance on the first page alone."""
    world.tick(T0)
    calls = [0]

    def second_page_throttled(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        calls[0] += 1
        if calls[0] % 2:
            return None  # first pages: the stand-in answers
        return aws_error("ThrottlingException", "Rate exceeded")

    events = world.clients.cloudwatch.meta.events
    events.register_first("before-call.cloudwatch.DescribeAlarms", second_page_throttled)
    result = world.tick(T0 + world.spec.steps[0].bake_seconds + 1)
    assert result["decision"] == "hold"
    assert "ThrottlingException" in result["reason"] and "missing" not in result["reason"]
    assert world.candidate() == float(world.spec.steps[0].candidate_percent)
