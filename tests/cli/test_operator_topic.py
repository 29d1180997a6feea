"""An operator's decision (`rollout pause|resume|promote|abort`) tells the topic the deployed hook
tells: a brought topic (a `RolloutEndpoint`'s `notification_topic_arn`, a stack file's
`notifications.topic_arn`) or the stack's own, however the endpoint is addressed (`--stack`, whose
plan names only the stack's own topic, or `--endpoint`).

Each endpoint is declared by the real program code under Pulumi's mocks (a user's program with a
component, or the project's program with a stack file) and created in moto (server mode) from
exactly what was declared (tests/moto_deploy.py stands in for `pulumi up`): a brought topic is the
platform's, so no topic named after the component or stack exists, as in AWS. An SQS queue
subscribed to every topic in the account shows where the notice went.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sagemaker_rollouts.cli.main import main
from sagemaker_rollouts.cli.stack import own_program, run_program_offline
from sagemaker_rollouts.simulator.mockrun import OfflineRun, run_offline
from sagemaker_rollouts.simulator.moto_server import _reset  # pyright: ignore[reportPrivateUsage]
from sagemaker_rollouts.simulator.provision import AwsClients
from tests.moto_deploy import deploy
from tests.stackdata import component_canary

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"
PLATFORM_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:platform-alerts"

PROGRAM = """
import json

import pulumi_aws as aws

from sagemaker_rollouts import RolloutEndpoint

args = json.loads({args!r})
if {bring!r}:
    # the platform's own topic, declared in the same program: an Output the plan cannot know
    args["notification_topic_arn"] = aws.sns.Topic("platform-alerts").arn
RolloutEndpoint("fraud", args)
"""


def component_project(directory: Path, *, bring: bool) -> OfflineRun:
    """A user's project (`platform`, stack `dev`) whose program declares one canary component,
    handed its platform's topic when `bring`; run under mocks as `--stack dev` runs it."""
    (directory / "Pulumi.yaml").write_text("name: platform\nruntime: python\n")
    (directory / "Pulumi.dev.yaml").write_text(f"config:\n  aws:region: {REGION}\n")
    args = json.dumps(component_canary())
    (directory / "__main__.py").write_text(PROGRAM.format(args=args, bring=bring))
    program = own_program(directory)
    assert program is not None
    run = run_program_offline(program, "dev").offline
    run.raise_error()
    return run


def stack_file_project(directory: Path, *, bring: bool) -> OfflineRun:
    """The repo's canary stack file as stack `prod` of this project's own program, bringing the
    platform's topic (`notifications.topic_arn`) when `bring`."""
    doc = yaml.safe_load((ROOT / "Pulumi.canary.yaml").read_text())
    if bring:
        doc["config"]["sagemaker-rollouts:notifications"] = {"topic_arn": PLATFORM_TOPIC}
    (directory / "Pulumi.prod.yaml").write_text(yaml.safe_dump(doc))
    run = run_offline(directory / "Pulumi.prod.yaml")
    run.raise_error()
    return run


def hook_env(run: OfflineRun) -> dict[str, str]:
    (hook,) = [
        f
        for f in run.of_type("aws:lambda/function:Function")
        if f.inputs["name"].endswith("-canary-hook")
    ]
    return dict(hook.inputs["environment"]["variables"])


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[AwsClients]:
    """This module's moto server, emptied; the operator is alice, started from an empty dir."""
    _reset(moto_url)
    monkeypatch.setenv("USER", "alice")
    work = tmp_path / "elsewhere"
    work.mkdir()
    monkeypatch.chdir(work)
    yield AwsClients.create(REGION)


def listen(aws: AwsClients) -> dict[str, str]:
    """An SQS queue subscribed to each topic in the account (raw delivery): topic ARN -> queue."""
    sqs: Any = aws._client("sqs")  # pyright: ignore[reportPrivateUsage]
    queues: dict[str, str] = {}
    topics = [t["TopicArn"] for t in aws.sns.list_topics()["Topics"]]
    for i, topic in enumerate(topics):
        url = sqs.create_queue(QueueName=f"listener-{i}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        aws.sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=arn["Attributes"]["QueueArn"],
            Attributes={"RawMessageDelivery": "true"},
        )
        queues[topic] = url
    return queues


def heard(aws: AwsClients, queues: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    sqs: Any = aws._client("sqs")  # pyright: ignore[reportPrivateUsage]
    out: dict[str, list[dict[str, Any]]] = {}
    for topic, url in queues.items():
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        out[topic] = [json.loads(m["Body"]) for m in got]
    return out


DECLARED = {"component": component_project, "stack file": stack_file_project}


@pytest.mark.parametrize("address", ["--stack", "--endpoint"])
@pytest.mark.parametrize("bring", [True, False], ids=["brought topic", "own topic"])
@pytest.mark.parametrize("declared", list(DECLARED))
def test_an_operators_abort_tells_the_topic_the_deployed_hook_tells(
    declared: str,
    bring: bool,
    address: str,
    aws: AwsClients,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if bring and declared == "stack file":
        aws.sns.create_topic(Name="platform-alerts")  # the platform's, not the stack's
    project = tmp_path / "project"
    project.mkdir()
    run = DECLARED[declared](project, bring=bring)
    env = hook_env(run)
    deploy(run, aws)
    topic = env["TOPIC_ARN"]
    if bring and declared == "stack file":
        assert topic == PLATFORM_TOPIC
    own = "platform-dev-fraud-rollout-events" if declared == "component" else None
    own = own or "sagemaker-rollouts-prod-rollout-events"
    assert (topic.rsplit(":", 1)[-1] == own) is not bring  # what the program really declared
    queues = listen(aws)
    assert topic in queues
    where = (
        ["--stack", env["ROLLOUT_STACK"], "--dir", str(project)]
        if address == "--stack"
        else ["--endpoint", "fraud-detector", "--region", REGION]
    )
    if address == "--stack" and declared == "stack file":
        where += ["--endpoint", "fraud-detector"]
    code = main(["abort", *where, "--reason", "bad predictions", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["after"]["status"] == "rolled_back"
    assert doc["notification_topic"] == topic
    messages = heard(aws, queues)
    assert [m["decision"] for m in messages.pop(topic)] in (["rollback"], ["rolled_back"])
    assert all(not got for got in messages.values()), messages  # nobody else heard it


def test_without_a_deployed_hook_a_stack_files_brought_topic_still_wins_over_its_own_name(
    aws: AwsClients, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No hook Lambda to read (the plan-based stand-in, sagemaker_rollouts/simulator/provision.py,
    creates none): the stack file's `notifications.topic_arn` is still where the notice goes, not
    a topic named after the stack, even when one of that name exists."""
    from sagemaker_rollouts.cli.stack import load_stack
    from sagemaker_rollouts.simulator.provision import provision

    aws.sns.create_topic(Name="platform-alerts")
    project = tmp_path / "project"
    project.mkdir()
    stack_file_project(project, bring=True)
    provision(load_stack(project, "prod").plan, aws)  # also a topic of the stack's own name
    queues = listen(aws)
    assert set(queues) == {PLATFORM_TOPIC, f"{PLATFORM_TOPIC.rsplit(':', 1)[0]}:" + OWN_PROD}
    where = ["--stack", "prod", "--dir", str(project), "--endpoint", "fraud-detector"]
    code = main(["abort", *where, "--reason", "bad predictions", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["notification_topic"] == PLATFORM_TOPIC
    messages = heard(aws, queues)
    assert len(messages.pop(PLATFORM_TOPIC)) == 1
    assert all(not got for got in messages.values()), messages


OWN_PROD = "sagemaker-rollouts-prod-rollout-events"
