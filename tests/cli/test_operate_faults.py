"""Operator commands while SageMaker cannot move traffic: the endpoint is Updating (a
`pulumi up`, an autoscaling change) or starts updating between the command's DescribeEndpoint
and its UpdateEndpointWeightsAndCapacities. Real SageMaker answers that call with
ValidationException "Cannot update in-progress endpoint" and DescribeEndpoint reports
EndpointStatus "Updating"; moto does neither (its updates return straight to InService), so both
are injected on the CLI's own clients with botocore's event hooks.

An operator must never be told an abort or promote is done while traffic has not moved: the
command exits 1 ("not applied", README CLI table), says the change is recorded and who applies
it, and the hook's next tick once the endpoint is InService applies it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from sagemaker_rollouts.cli.main import main
from sagemaker_rollouts.cli.stack import LoadedStack
from sagemaker_rollouts.lambdas.aws_adapter import make_clients
from sagemaker_rollouts.lambdas.canary_hook import run as hook_run
from sagemaker_rollouts.lambdas.rollout import RolloutSpec
from sagemaker_rollouts.simulator.provision import AwsClients
from tests.moto_deploy import canary_of, hook_env, rollout_state
from tests.moto_fixtures import aws_error

ROOT = Path(__file__).resolve().parents[2]
STACK = ["--stack", "canary", "--dir", str(ROOT)]


def busy_endpoint(monkeypatch: pytest.MonkeyPatch, *, describe_says_updating: bool) -> None:
    """Every AwsClients the CLI makes from now on sees a busy endpoint: the weights call answers
    "Cannot update in-progress endpoint"; with `describe_says_updating`, DescribeEndpoint also
    reports Updating (else InService: the update began between the two calls)."""
    real = AwsClients.__init__

    def init(self: AwsClients, region: str) -> None:
        real(self, region)
        events = self.sagemaker.meta.events

        def refuse(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            return aws_error(
                "ValidationException",
                "Cannot update in-progress endpoint "
                '"arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud-detector".',
            )

        def updating(parsed: dict[str, Any], **_: Any) -> None:
            if "EndpointStatus" in parsed:
                parsed["EndpointStatus"] = "Updating"

        events.register("before-call.sagemaker.UpdateEndpointWeightsAndCapacities", refuse)
        if describe_says_updating:
            events.register("after-call.sagemaker.DescribeEndpoint", updating)

    monkeypatch.setattr(AwsClients, "__init__", init)


def live_candidate(stack: LoadedStack, aws: AwsClients) -> float:
    resp = aws.sagemaker.describe_endpoint(EndpointName=stack.plan.endpoints[0].endpoint_name)
    return {v["VariantName"]: float(v["CurrentWeight"]) for v in resp["ProductionVariants"]}[
        "candidate"
    ]


def hook_tick(stack: LoadedStack) -> dict[str, Any]:
    env = hook_env(stack)
    return hook_run({}, env, make_clients(stack.plan.region), time.time(), log=lambda _: None)


def command_on_a_busy_endpoint(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    describe_says_updating: bool,
    command: str,
    *extra: str,
) -> tuple[int, dict[str, Any]]:
    """`rollout <command> --json <extra>` once the hook's first tick has run, while the endpoint
    is busy (`busy_endpoint`): its exit code and JSON document."""
    assert main(["status", *STACK]) == 3  # the hook's first tick has run
    capsys.readouterr()
    busy_endpoint(monkeypatch, describe_says_updating=describe_says_updating)
    code = main([command, *STACK, "--json", *extra])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("describe_says_updating", [True, False], ids=["updating", "raced"])
def test_abort_on_a_busy_endpoint_is_not_reported_done_and_the_hook_finishes_it(
    deployed: tuple[LoadedStack, AwsClients],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    describe_says_updating: bool,
) -> None:
    stack, aws = deployed
    code, doc = command_on_a_busy_endpoint(
        monkeypatch, capsys, describe_says_updating, "abort", "--reason", "bad scores"
    )
    assert live_candidate(stack, aws) == 5.0  # traffic did not move
    assert code == 1, doc
    assert doc["after"]["status"] == "rolled_back" and doc["traffic_pending"] is True
    assert doc["after"]["weights"]["candidate"] == 5.0
    code = main(["abort", *STACK, "--reason", "bad scores"])
    text = capsys.readouterr().out
    assert code == 1 and "not moved yet" in text and "has no effect" not in text
    monkeypatch.undo()  # the update finished: the hook's next tick applies the rollback
    hook_tick(stack)
    assert live_candidate(stack, aws) == 0.0
    state = rollout_state(stack, aws)
    assert state is not None and not state.pending_rollback


@pytest.mark.parametrize("describe_says_updating", [True, False], ids=["updating", "raced"])
def test_promote_on_a_busy_endpoint_is_not_reported_done(
    deployed: tuple[LoadedStack, AwsClients],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    describe_says_updating: bool,
) -> None:
    stack, aws = deployed
    code, doc = command_on_a_busy_endpoint(monkeypatch, capsys, describe_says_updating, "promote")
    assert live_candidate(stack, aws) == 5.0
    assert code == 1, doc
    assert doc["after"]["weights"]["candidate"] == 5.0


class SkewedClock:
    """The operator's machine's `time` module, `offset` seconds off AWS's clock (the moto server
    and the hook Lambda keep the true time). AWS accepts SigV4 requests up to 5 minutes off
    (SigV4 reference: "RequestTimeTooSkewed"/"Signature expired" beyond that), so a clock a few
    minutes off goes unnoticed by every call."""

    def __init__(self, offset: float) -> None:
        self.offset = offset

    def time(self) -> float:
        return time.time() + self.offset

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@pytest.mark.parametrize("offset", [-240.0, 240.0], ids=["behind", "ahead"])
def test_an_operators_skewed_clock_does_not_shorten_or_stretch_the_next_bake(
    deployed: tuple[LoadedStack, AwsClients],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    offset: float,
) -> None:
    """`rollout promote` from a machine whose clock is 4 minutes off: the step it starts must be
    timed on AWS's clock, the one the hook ticks on, so the next step's bake is neither cut short
    (the candidate's new share advanced before it was watched for `bake_seconds`) nor stretched."""
    stack, aws = deployed
    spec, _ = canary_of(stack)
    monkeypatch.setattr("sagemaker_rollouts.cli.cmd_live.time", SkewedClock(offset))
    assert main(["promote", *STACK, "--json"]) == 0
    capsys.readouterr()
    promoted = time.time()
    state = rollout_state(stack, aws)
    assert state is not None and state.step_index == 1
    assert abs(state.step_started_at - promoted) < 5.0, state.step_started_at - promoted
    bake = spec.steps[1].bake_seconds
    early = hook_run(
        {},
        hook_env(stack),
        make_clients(stack.plan.region),
        promoted + bake - 30,
        log=lambda _: None,
    )
    assert early["decision"] == "hold" and early["step_index"] == 1, early["reason"]


def test_abort_with_a_stack_file_needs_no_read_of_the_hooks_configuration(
    deployed: tuple[LoadedStack, AwsClients],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An operator role without `lambda:GetFunctionConfiguration` (what `--stack` commands did
    not need before they read the hook's topic): real Lambda answers 403 AccessDeniedException,
    moto grants everything, so it is injected on the CLI's own clients. The abort still moves
    traffic and is recorded (the stack file names the state table and the stack's own topic);
    the command says which notice target it could not read and why."""
    stack, aws = deployed
    real = AwsClients.__init__

    def init(self: AwsClients, region: str) -> None:
        real(self, region)

        def deny(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            return aws_error(
                "AccessDeniedException",
                "User: arn:aws:iam::123456789012:user/alice is not authorized to "
                "perform: lambda:GetFunctionConfiguration",
                403,
            )

        self.lambda_.meta.events.register("before-call.lambda.GetFunctionConfiguration", deny)

    monkeypatch.setattr(AwsClients, "__init__", init)
    code = main(["abort", *STACK, "--reason", "bad scores"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert live_candidate(stack, aws) == 0.0
    state = rollout_state(stack, aws)
    assert state is not None and state.status == "rolled_back"
    assert "lambda:GetFunctionConfiguration" in captured.err


def moved_on(stack: LoadedStack, aws: AwsClients, directory: Path) -> RolloutSpec:
    """The hook as `pulumi up` deployed it (the rehearsal's provisioning runs it in-process), its
    environment naming the deployed rollout (infra/hook.py `hook_environment`), and in
    `directory` the operator's working copy of the stack file, whose canary attempt is already
    raised (a new rollout id) but not deployed. Returns the deployed rollout."""
    import shutil

    import yaml

    from sagemaker_rollouts.strategies.lambda_names import hook_function_name
    from tests.moto_deploy import _stub_zip, aws_iam  # pyright: ignore[reportPrivateUsage]

    spec, table = canary_of(stack)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Service": "lambda.amazonaws.com"},
            }
        ],
    }
    role = aws_iam(aws).create_role(RoleName="hook", AssumeRolePolicyDocument=json.dumps(trust))
    aws.lambda_.create_function(
        FunctionName=hook_function_name(stack.plan.endpoints[0].endpoint_name),
        Role=role["Role"]["Arn"],
        Runtime="python3.12",
        Handler="canary_hook.handler",
        Code={"ZipFile": _stub_zip()},
        Environment={"Variables": {"ROLLOUT_SPEC": spec.to_json(), "STATE_TABLE": table}},
    )
    shutil.copy(ROOT / "Pulumi.yaml", directory / "Pulumi.yaml")
    doc = yaml.safe_load((ROOT / "Pulumi.canary.yaml").read_text())
    doc["config"]["sagemaker-rollouts:endpoints"]["fraud"]["strategy"]["canary"]["attempt"] = 2
    (directory / "Pulumi.canary.yaml").write_text(yaml.safe_dump(doc))
    return spec


def test_an_operator_command_acts_on_the_deployed_rollout_when_the_stack_file_moved_on(
    deployed: tuple[LoadedStack, AwsClients],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The deployed rollout misbehaves while the operator's stack file already plans the next
    one. The running hook steps the deployed rollout (its `ROLLOUT_SPEC`): `rollout abort
    --stack` must stop that one, or the hook's next tick carries on with the candidate."""
    stack, aws = deployed
    spec = moved_on(stack, aws, tmp_path)
    code = main(["abort", "--stack", "canary", "--dir", str(tmp_path), "--reason", "bad"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    state = rollout_state(stack, aws)
    assert state is not None and state.status == "rolled_back"
    assert f"steps rollout {spec.rollout_id!r}" in captured.err
    hook_tick(stack)
    assert live_candidate(stack, aws) == 0.0


@pytest.mark.parametrize("command", ["status", "history"])
def test_status_and_history_show_the_deployed_rollout_when_the_stack_file_moved_on(
    deployed: tuple[LoadedStack, AwsClients],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    """What the operator reads before deciding is the rollout the hook runs, not the one the
    working copy plans (which has no record yet)."""
    stack, aws = deployed
    spec = moved_on(stack, aws, tmp_path)
    hook_tick(stack)  # the deployed rollout is under way
    main([command, "--stack", "canary", "--dir", str(tmp_path), "--json"])
    captured = capsys.readouterr()
    (ep,) = json.loads(captured.out)["endpoints"]
    assert spec.rollout_id in json.dumps(ep), ep
