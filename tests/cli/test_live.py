"""The live commands through the entry point against moto in server mode: the stack is provisioned
with the rehearsal's provisioning code, then `status`, `pause`, `resume`, `promote [--full]` and
`abort` run exactly as an operator would run them, with `AWS_ENDPOINT_URL` pointing at moto."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from sagemaker_rollouts.cli.main import main
from sagemaker_rollouts.cli.stack import LoadedStack
from sagemaker_rollouts.lambdas import store
from sagemaker_rollouts.simulator.moto_server import moto_server
from sagemaker_rollouts.simulator.provision import AwsClients
from tests.moto_deploy import canary_of, rollout_state
from tests.plan_fixtures import rollout_of

ROOT = Path(__file__).resolve().parents[2]
STACK = ["--stack", "canary", "--dir", str(ROOT)]


def _status(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict]:
    code = main(["status", *STACK, "--json", *extra])
    return code, json.loads(capsys.readouterr().out)["endpoints"][0]


def _op(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main([*argv, *STACK, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_status_of_a_fresh_rollout_is_in_progress_exit_3(deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    code, ep = _status(capsys)
    assert code == 3
    assert ep["verdict"] == "in_progress"
    assert ep["weights"] == {"stable": 95.0, "candidate": 5.0}
    assert set(ep["alarms"].values()) == {"OK"}
    assert ep["dashboard_url"].endswith("#dashboards/dashboard/fraud-detector-us-east-1-rollout")
    assert main(["status", *STACK]) == 3
    out = capsys.readouterr().out
    assert "fraud-detector" in out and f"dashboard: {ep['dashboard_url']}" in out


def test_status_shows_the_hooks_errors_alarm_as_a_watch_alarm_that_gates_nothing(
    deployed: tuple[LoadedStack, AwsClients], capsys: pytest.CaptureFixture[str]
) -> None:
    """The hook's own errors alarm (`<function>-errors`, AWS/Lambda Errors) is in the endpoint's
    alarm table with role watch; in ALARM it is shown so, and it neither gates nor ends the
    rollout (a failing hook decides nothing: the alarm tells a human)."""
    stack, aws = deployed
    name = "fraud-detector-canary-hook-errors"
    code, ep = _status(capsys)
    assert (code, ep["alarms"][name]) == (3, "OK")
    aws.cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="test")
    code, ep = _status(capsys)
    assert (code, ep["verdict"], ep["alarms"][name]) == (3, "in_progress", "ALARM")
    assert main(["status", *STACK]) == 3
    out = capsys.readouterr().out
    (row,) = [line for line in out.splitlines() if name in line]
    assert row.split("│")[2:4] == [" watch ", " ALARM "]
    gates = next(line for line in out.splitlines() if "gates: " in line)
    assert name not in gates
    spec, _ = canary_of(stack)
    assert name not in spec.watched_alarms()  # the hook never reads it


def test_pause_records_who_and_why_and_holds(deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    stack, aws = deployed
    code, out = _op(capsys, "pause", "--reason", "traffic spike")
    assert code == 0
    assert out["applied"] and out["after"]["status"] == "paused"
    assert out["after"]["weights"] == out["before"]["weights"]  # a pause moves no traffic
    state = rollout_state(stack, aws)
    assert state is not None and state.status == "paused"
    assert state.intent is not None
    assert (state.intent.who, state.intent.reason) == ("alice", "traffic spike")
    _, ep = _status(capsys)
    assert any(r["who"] == "alice" and "traffic spike" in r["reason"] for r in ep["history"])
    code, out = _op(capsys, "resume")
    assert code == 0 and out["after"]["status"] == "in_progress"


def test_promote_advances_one_step_and_promote_full_goes_to_100(deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out = _op(capsys, "promote")
    assert code == 0
    assert (out["before"]["step_index"], out["after"]["step_index"]) == (0, 1)
    assert out["after"]["weights"]["candidate"] == 25.0
    code, out = _op(capsys, "promote", "--full")
    assert code == 0
    assert out["after"]["weights"] == {"candidate": 100.0, "stable": 0.0}
    # promoting the last step completes the rollout; status then gates green
    code, out = _op(capsys, "promote")
    assert code == 0 and out["after"]["status"] == "completed"
    code, ep = _status(capsys)
    assert code == 0 and ep["verdict"] == "completed"


def test_abort_rolls_back_at_once_and_status_exits_1(deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    stack, aws = deployed
    code, out = _op(capsys, "abort", "--reason", "bad scores")
    assert code == 0
    assert out["after"]["status"] == "rolled_back"
    assert out["after"]["weights"]["candidate"] == 0.0
    live = aws.sagemaker.describe_endpoint(EndpointName=stack.plan.endpoints[0].endpoint_name)
    assert {v["VariantName"]: v["CurrentWeight"] for v in live["ProductionVariants"]}[
        "candidate"
    ] == 0.0
    code, ep = _status(capsys)
    assert code == 1 and ep["verdict"] == "rolled_back"
    # a finished rollout cannot be paused: the command says so and fails
    assert main(["pause", *STACK]) == 1
    assert "has no effect" in capsys.readouterr().out


def test_status_wait_gives_up_at_the_timeout_with_exit_3(deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    code = main(["status", *STACK, "--wait", "--timeout", "0.3", "--interval", "0.1"])
    assert code == 3
    assert time.monotonic() - started >= 0.3
    assert "still in progress" in capsys.readouterr().out


def test_unknown_endpoint_exits_2(deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    for argv in (["status", "--endpoint", "nope"], ["pause", "--endpoint", "nope"]):
        assert main([*argv, *STACK]) == 2
        assert "unknown endpoint 'nope'" in capsys.readouterr().err


def test_operator_command_on_a_non_canary_endpoint_exits_2(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["abort", "--stack", "bluegreen", "--dir", str(ROOT)]) == 2
    assert "canary" in capsys.readouterr().err


def test_missing_stack_file_exits_2(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    for cmd in ("status", "pause", "resume", "promote", "abort"):
        assert main([cmd, "--stack", "canary", "--dir", str(tmp_path)]) == 2
        assert "stack file not found" in capsys.readouterr().err


def test_command_against_an_undeployed_stack_exits_2(capsys) -> None:  # type: ignore[no-untyped-def]
    """An empty account (moto with nothing provisioned): the state table does not exist."""
    with moto_server():
        assert main(["pause", *STACK]) == 2
    assert "not found" in capsys.readouterr().err


def test_command_refuses_when_the_live_endpoint_is_not_the_planned_rollout(
    deployed, capsys
) -> None:  # type: ignore[no-untyped-def]
    """No state item for the local plan's rollout id while live traffic is past step 0: the
    stack file differs from what was deployed; a first tick must not pull traffic back."""
    stack, aws = deployed
    name = stack.plan.endpoints[0].endpoint_name
    aws.sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=name,
        DesiredWeightsAndCapacities=[
            {"VariantName": "stable", "DesiredWeight": 50.0},
            {"VariantName": "candidate", "DesiredWeight": 50.0},
        ],
    )
    assert main(["pause", *STACK]) == 2
    assert "not at the plan's first step" in capsys.readouterr().err
    assert rollout_state(stack, aws) is None  # nothing recorded
    live = aws.sagemaker.describe_endpoint(EndpointName=name)["ProductionVariants"]
    assert {v["VariantName"]: v["CurrentWeight"] for v in live} == {
        "stable": 50.0,
        "candidate": 50.0,
    }


def test_unreachable_aws_is_a_clear_error_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """AWS: no route to the API (wrong endpoint, no network). Nothing listens on port 9 here."""
    for k, v in {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_MAX_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(k, v)
    assert main(["status", *STACK]) == 2
    err = capsys.readouterr().err
    assert "status: AWS call failed" in err and "AWS_ENDPOINT_URL" in err


@pytest.mark.parametrize("wait", [[], ["--wait", "--timeout", "5", "--interval", "0.1"]])
def test_status_of_a_never_deployed_stack_says_not_deployed_and_exits_2(
    wait: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """AWS: a CI job pointed at the wrong account or region: no endpoint, no state table. Waiting
    cannot change that, so --wait returns at once."""
    with moto_server():
        started = time.monotonic()
        assert main(["status", *STACK, *wait]) == 2
        assert time.monotonic() - started < 5
        assert "not deployed" in capsys.readouterr().out
        code, ep = _status(capsys)
    assert (code, ep["verdict"]) == (2, "not_deployed")


def test_promote_while_held_is_refused_with_the_reason_not_kept_for_later(deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    """AWS: the low-traffic sample alarm is in ALARM (too few candidate requests)."""
    stack, aws = deployed
    ep = stack.plan.endpoints[0]
    assert rollout_of(ep).sample_alarm is not None
    main(["status", *STACK])  # read only; the first promote creates the state item
    capsys.readouterr()
    aws.cloudwatch.set_alarm_state(
        AlarmName=rollout_of(ep).sample_alarm, StateValue="ALARM", StateReason="test"
    )
    code, out = _op(capsys, "promote", "--full")
    assert code == 1 and not out["applied"]
    assert "low traffic" in out["refused"]
    assert out["after"]["weights"] == out["before"]["weights"]
    state = rollout_state(stack, aws)
    assert state is not None and state.intent_refused is not None
    assert state.last_intent_id == state.intent.id  # consumed: it can never fire later


def test_an_operator_command_after_the_state_item_was_lost_recovers_it(deployed, capsys) -> None:  # type: ignore[no-untyped-def]
    """The state item deleted by hand mid-rollout (the history stays) while live traffic is past
    step 0: the command lets the hook recover the state instead of refusing."""
    stack, aws = deployed
    code, _ = _op(capsys, "promote")
    assert code == 0
    spec = rollout_of(stack.plan.endpoints[0])
    aws.dynamodb.delete_item(
        TableName=stack.plan.state_table_name,
        Key={"pk": {"S": spec.rollout_id}, "sk": {"S": store.STATE_SK}},
    )
    code, out = _op(capsys, "pause")
    assert code == 0 and out["after"]["status"] == "paused"
    assert out["after"]["step_index"] == 1  # re-derived from the live weights (25%)
    rows = store.read_history(aws.dynamodb, stack.plan.state_table_name, spec.rollout_id, 10)
    assert any(r.kind == "recover" for r in rows)
