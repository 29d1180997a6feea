"""The live commands address an endpoint however it was declared: by its SageMaker endpoint name,
or by the name it was declared under, read back from AWS alone (no stack file).

The endpoints here are declared by the real program code under Pulumi's mocks, a `RolloutEndpoint`
in a user's program (project "platform") and the project's own `Pulumi.canary.yaml`, then created
in moto (server mode) from exactly the inputs they declared (tests/moto_deploy.py stands in for
`pulumi up`). The commands run through the `rollout` entry point from a directory with no stack
file, and the command a notification prints is run exactly as printed.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sagemaker_rollouts import RolloutEndpoint
from sagemaker_rollouts.cli.main import main
from sagemaker_rollouts.lambdas.aws_adapter import make_clients
from sagemaker_rollouts.lambdas.canary_hook import run as hook_run
from sagemaker_rollouts.simulator.mockrun import OfflineRun, run_function_offline, run_offline
from sagemaker_rollouts.simulator.moto_server import _reset  # pyright: ignore[reportPrivateUsage]
from sagemaker_rollouts.simulator.provision import AwsClients
from tests.moto_deploy import deploy
from tests.stackdata import component_canary

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
FUNCTION = "aws:lambda/function:Function"


def component(stack: str, endpoint_name: str, name: str = "fraud") -> OfflineRun:
    """A user's program with one `RolloutEndpoint`, run under Pulumi's mocks."""
    args = component_canary(endpoint_name=endpoint_name)
    run = run_function_offline(
        lambda: RolloutEndpoint(name, args),
        stack=stack,
        project="platform",
        config={"aws:region": REGION},
    )
    run.raise_error()
    return run


@pytest.fixture(scope="module")
def declared() -> OfflineRun:
    return component("prod", "fraud-detector")


def hook_env(run: OfflineRun) -> dict[str, str]:
    (hook,) = [f for f in run.of_type(FUNCTION) if f.inputs["name"].endswith("-canary-hook")]
    return dict(hook.inputs["environment"]["variables"])


@pytest.fixture
def deployed(
    declared: OfflineRun, moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AwsClients]:
    """The component's endpoint in this module's moto server, emptied first; the current
    directory holds no stack file."""
    _reset(moto_url)
    monkeypatch.setenv("USER", "alice")
    monkeypatch.chdir(tmp_path)
    aws = AwsClients.create(REGION)
    deploy(declared, aws)
    yield aws


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_a_component_endpoint_is_addressed_by_its_endpoint_name_or_component_name(
    deployed: AwsClients, capsys: pytest.CaptureFixture[str], declared: OfflineRun
) -> None:
    env = hook_env(declared)
    by_name = cli(capsys, "status", "--endpoint", "fraud-detector", "--region", REGION)
    by_component = cli(capsys, "status", "--endpoint", "fraud")  # region: AWS_REGION
    assert by_name == by_component
    code, doc = by_name
    assert code == 3 and doc["stack"] == "prod"
    (ep,) = doc["endpoints"]
    assert (ep["endpoint"], ep["endpoint_name"], ep["strategy"]) == (
        "fraud",
        "fraud-detector",
        "canary",
    )
    assert ep["rollout_id"] == json.loads(env["ROLLOUT_SPEC"])["rollout_id"]
    assert ep["weights"] == {"stable": 95.0, "candidate": 5.0}
    assert set(ep["alarms"]) == {
        "fraud-detector-candidate-5xx",
        "fraud-detector-candidate-latency-p99",
        "fraud-detector-candidate-low-traffic",
        "fraud-detector-stable-5xx",
        "fraud-detector-stable-latency-p99",
        "fraud-detector-canary-hook-errors",  # the hook's own failures (AWS/Lambda Errors)
    }
    assert ep["rollout"]["step"] == 1 and ep["rollout"]["steps"] == 3
    # the gates are the hook's gates, read from the alarms' role tags
    main(["status", "--endpoint", "fraud-detector"])
    text = capsys.readouterr().out
    gates = next(line for line in text.splitlines() if "gates: " in line)
    spec = json.loads(env["ROLLOUT_SPEC"])
    assert sorted(n.removesuffix(" OK") for n in gates.split("gates: ")[1].split(", ")) == sorted(
        spec["gate_alarms"]
    )


LONG = "fraud-detector-for-the-payments-platform-in-the-us-east-region"  # 63: SageMaker's most


@pytest.mark.parametrize("endpoint_name", ["fraud-detector", LONG])
def test_status_by_endpoint_name_lists_the_hooks_errors_alarm_as_watch(
    moto_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    endpoint_name: str,
) -> None:
    """Read back from AWS by its tags, the hook's errors alarm is listed with the endpoint's own
    alarms, role watch, also when a long endpoint name shortened the hook's name (and so the
    alarm's: it does not start with `<endpoint>-`)."""
    run = component("prod", endpoint_name)
    (hook,) = [f for f in run.of_type(FUNCTION) if f.inputs["name"].endswith("-canary-hook")]
    alarm = f"{hook.inputs['name']}-errors"
    assert alarm.startswith(f"{endpoint_name}-") == (endpoint_name != LONG)
    _reset(moto_url)
    monkeypatch.chdir(tmp_path)
    aws = AwsClients.create(REGION)
    deploy(run, aws)
    aws.cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="test")
    code, doc = cli(capsys, "status", "--endpoint", endpoint_name, "--region", REGION)
    (ep,) = doc["endpoints"]
    assert code == 3 and ep["alarms"][alarm] == "ALARM"
    assert [n for n, state in ep["alarms"].items() if state != "OK"] == [alarm]
    main(["status", "--endpoint", endpoint_name, "--region", REGION])
    text = capsys.readouterr().out
    gates = next(line for line in text.splitlines() if "gates: " in line)
    assert alarm not in gates
    (row,) = [line for line in text.splitlines() if " ALARM " in line]  # a long name folds
    assert row.split("│")[2:4] == [" watch ", " ALARM "] and alarm.startswith(
        row.split("│")[1][1:20]
    )


def test_the_commands_a_component_hooks_notification_prints_work_as_printed(
    deployed: AwsClients, declared: OfflineRun, capsys: pytest.CaptureFixture[str]
) -> None:
    """The hook rolls back and notifies; on-call runs each `rollout` command of the message."""
    env = hook_env(declared)
    sqs = deployed._client("sqs")  # pyright: ignore[reportPrivateUsage]
    queue = sqs.create_queue(QueueName="oncall")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    deployed.sns.subscribe(
        TopicArn=env["TOPIC_ARN"],
        Protocol="sqs",
        Endpoint=queue_arn["Attributes"]["QueueArn"],
        Attributes={"RawMessageDelivery": "true"},
    )
    # `rollout abort`, addressed by the component's name: the hook's decision rolls back and
    # publishes the rollback notice, as the deployed hook would
    assert main(["abort", "--endpoint", "fraud", "--reason", "bad predictions"]) == 0
    capsys.readouterr()
    (msg,) = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    record = json.loads(msg["Body"])
    assert record["decision"] in ("rollback", "rolled_back")
    commands = [c for c in record["commands"] if c.startswith("rollout ")]
    assert commands == [f"rollout status {env['ROLLOUT_TARGET']}"]
    assert env["ROLLOUT_TARGET"] == f"--endpoint fraud-detector --region {REGION}"
    for command in commands:
        code, doc = cli(capsys, *shlex.split(command)[1:])
        assert code == 1  # rolled back
        (ep,) = doc["endpoints"]
        assert ep["rollout_status"] == "rolled_back" and ep["weights"]["candidate"] == 0.0


def test_a_stuck_component_canarys_resume_and_abort_commands_work_as_printed(
    deployed: AwsClients, declared: OfflineRun, capsys: pytest.CaptureFixture[str]
) -> None:
    """A held canary's notification offers status, resume and abort: each runs as printed."""
    from sagemaker_rollouts.lambdas import notify

    env = hook_env(declared)
    hook_run({}, env, make_clients(REGION), time.time(), log=lambda _: None)
    assert main(["pause", "--endpoint", "fraud-detector", "--region", REGION]) == 0
    capsys.readouterr()
    record = notify.record({"endpoint": "fraud-detector", "decision": "stuck"}, "prod", None)
    printed = notify.record(
        {"endpoint": "fraud-detector", "decision": "stuck"},
        env["ROLLOUT_STACK"],
        env["ROLLOUT_TARGET"],
    )["commands"]
    assert printed != record["commands"]  # the target, not the stack-file form
    status, resume, abort = printed
    assert shlex.split(status)[:2] == ["rollout", "status"]
    code, doc = cli(capsys, *shlex.split(resume)[1:])
    assert code == 0 and doc["after"]["status"] == "in_progress"
    code, doc = cli(capsys, *shlex.split(abort)[1:])
    assert code == 0 and doc["after"]["status"] == "rolled_back"
    code, doc = cli(capsys, *shlex.split(status)[1:])
    assert code == 1 and doc["endpoints"][0]["rollout_status"] == "rolled_back"


def test_history_by_endpoint_name_reads_the_components_state_table(
    deployed: AwsClients, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pause", "--endpoint", "fraud-detector", "--reason", "looks odd"]) == 0
    capsys.readouterr()
    code, doc = cli(capsys, "history", "--endpoint", "fraud-detector")
    assert code == 0
    (ep,) = doc["endpoints"]
    intents = [e for e in ep["entries"] if e["kind"] == "intent"]
    assert intents and intents[-1]["who"] == "alice" and "looks odd" in intents[-1]["reason"]


# (argv, the argument the message names, a fragment that says what is allowed)
BAD = [
    (["status", "--endpoint", "nope"], "--endpoint nope", "fraud-detector (platform/prod"),
    (["status", "--endpoint", "unmanaged"], "--endpoint unmanaged", "not managed by"),
    (["pause", "--endpoint", "unmanaged"], "--endpoint unmanaged", "not managed by"),
    (["abort", "--endpoint", "nope"], "--endpoint nope", "Wrong account or region?"),
    (["status"], "--stack NAME", "--endpoint NAME"),
    (["status", "--stack", "canary", "--region", REGION], "--region", "only with --endpoint"),
]


@pytest.mark.parametrize(("argv", "names", "allowed"), BAD, ids=[" ".join(b[0]) for b in BAD])
def test_an_endpoint_that_cannot_be_addressed_is_a_usage_error_naming_the_argument(
    deployed: AwsClients,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    names: str,
    allowed: str,
) -> None:
    from tests.moto_deploy import stand_alone_endpoint

    stand_alone_endpoint(deployed, "unmanaged")  # declared outside sagemaker-rollouts
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's usage errors
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2
    assert names in err and allowed in err


def test_a_name_two_stacks_declared_is_ambiguous_and_each_endpoint_name_still_works(
    deployed: AwsClients, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy(component("staging", "fraud-detector-staging"), deployed)
    assert main(["status", "--endpoint", "fraud"]) == 2
    err = capsys.readouterr().err
    assert "--endpoint fraud: 2 endpoints" in err
    assert (
        "fraud-detector (platform/prod" in err and "fraud-detector-staging (platform/staging" in err
    )
    for name, stack in (("fraud-detector", "prod"), ("fraud-detector-staging", "staging")):
        code, doc = cli(capsys, "status", "--endpoint", name)
        assert code == 3 and doc["stack"] == stack
        assert doc["endpoints"][0]["endpoint_name"] == name


def test_a_non_canary_endpoint_by_name_is_refused_by_the_operator_commands(
    deployed: AwsClients, capsys: pytest.CaptureFixture[str]
) -> None:
    args = component_canary(endpoint_name="ranker", strategy={"recreate": {}})
    args["variants"] = [args["variants"][0]]
    run = run_function_offline(
        lambda: RolloutEndpoint("ranker", args),
        stack="prod",
        project="platform",
        config={"aws:region": REGION},
    )
    run.raise_error()
    deploy(run, deployed)
    assert main(["pause", "--endpoint", "ranker"]) == 2
    assert "--endpoint ranker: endpoint uses the recreate strategy" in capsys.readouterr().err
    code, doc = cli(capsys, "status", "--endpoint", "ranker")
    assert code == 0 and doc["endpoints"][0]["strategy"] == "recreate"


def test_a_stack_file_endpoint_reads_the_same_by_stack_and_by_endpoint_name(
    moto_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The project's own program (`Pulumi.canary.yaml`): both forms give the same status, and its
    hook keeps the stack-file form in its notifications."""
    run = run_offline(ROOT / "Pulumi.canary.yaml")
    run.raise_error()
    env = hook_env(run)
    spec = json.loads(env["ROLLOUT_SPEC"])
    assert env["ROLLOUT_TARGET"] == f"--stack canary --endpoint {spec['endpoint_name']}"
    monkeypatch.setenv("USER", "alice")
    _reset(moto_url)
    deploy(run, AwsClients.create(REGION))
    by_stack = cli(capsys, "status", "--stack", "canary", "--dir", str(ROOT))
    by_name = cli(capsys, "status", "--endpoint", spec["endpoint_name"])
    assert by_stack == by_name
    assert by_stack[0] == 3
    code, doc = cli(capsys, "pause", *shlex.split(env["ROLLOUT_TARGET"]), "--dir", str(ROOT))
    assert code == 0 and doc["after"]["status"] == "paused"


def test_ab_report_by_endpoint_name_reads_the_evaluators_spec_from_its_lambda(
    moto_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`Pulumi.ab.yaml` (eu-west-1): the evaluator's AB_SPEC and state table from its Lambda
    give the report `--stack ab` gives; its notification commands keep the stack-file form."""
    run = run_offline(ROOT / "Pulumi.ab.yaml")
    run.raise_error()
    (evaluator,) = [f for f in run.of_type(FUNCTION) if f.inputs["name"].endswith("-ab-evaluator")]
    env = evaluator.inputs["environment"]["variables"]
    assert env["ROLLOUT_TARGET"] == "--stack ab --endpoint ranker-ab"
    _reset(moto_url)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    deploy(run, AwsClients.create("eu-west-1"))
    by_stack = cli(capsys, "ab-report", "--stack", "ab", "--dir", str(ROOT))
    by_name = cli(capsys, "ab-report", "--endpoint", "ranker-ab", "--region", "eu-west-1")
    by_key = cli(capsys, "ab-report", "--endpoint", "ranker")  # the stack's endpoint key
    assert by_stack == by_name == by_key
    assert by_name[0] == 3 and by_name[1]["endpoint"] == "ranker-ab"
    assert main(["pause", "--endpoint", "ranker-ab"]) == 2
    assert "--endpoint ranker-ab: endpoint uses the ab strategy" in capsys.readouterr().err
