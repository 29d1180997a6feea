"""Notifications: the message every kind of subscriber gets (pure), publishing through SNS to an
SQS subscriber (moto server on 127.0.0.1), and the subscriptions the program declares (mocks)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from sagemaker_rollouts.lambdas import notify as fmt
from sagemaker_rollouts.lambdas.aws_adapter import notify
from sagemaker_rollouts.simulator.mockrun import OfflineRun, run_offline
from sagemaker_rollouts.strategies.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]
CANARY = ROOT / "Pulumi.canary.yaml"
ROLLBACK = {
    "rollout_id": "r1",
    "endpoint": "fraud-detector",
    "decision": "rollback",
    "reason": "gate alarm in ALARM",
    "alarm": "fraud-detector-candidate-5xx",
    "status": "rolled_back",
    "step_index": 1,
    "at": 1.0,
}
WINNER = {"endpoint": "ranker", "on_winner": "notify", "leader": "challenger", "p_value": 0.001}
DRIFT = {"endpoint": "fraud-detector", "drift": {"amount": 0.4}, "reason": "PSI above 0.25"}

# (body, decision, a command it must offer, a cause or evidence the text must show)
CASES = [
    (
        ROLLBACK,
        "rollback",
        "rollout status --stack prod --endpoint fraud-detector",
        "alarm: fraud-detector-candidate-5xx",
    ),
    ({**ROLLBACK, "decision": "complete", "alarm": None}, "complete", "pulumi up", "status:"),
    (
        {**ROLLBACK, "decision": "stuck", "alarm": None},
        "stuck",
        "rollout resume --stack prod --endpoint fraud-detector",
        "reason: gate alarm",
    ),
    (WINNER, "ab_winner", "rollout ab-report --stack prod --endpoint ranker", "p_value: 0.001"),
    (DRIFT, "drift", "rollout status --stack prod --endpoint fraud-detector", "reason: PSI"),
]


@pytest.mark.parametrize(("body", "decision", "command", "cause"), CASES, ids=[c[1] for c in CASES])
def test_every_protocol_gets_endpoint_decision_cause_and_command(
    body: dict[str, Any], decision: str, command: str, cause: str
) -> None:
    message = json.loads(fmt.render("Canary news", body, "prod"))
    assert set(message) == {"default", "email", "sqs", "lambda"}
    email = message["email"]
    assert f"endpoint: {body['endpoint']}" in email and f"decision: {decision}" in email
    assert cause in email and command in email
    record = json.loads(message["sqs"])
    assert record == json.loads(message["lambda"])
    assert (record["endpoint"], record["decision"], record["stack"]) == (
        body["endpoint"],
        decision,
        "prod",
    )
    assert any(command in c for c in record["commands"])
    assert all(record[k] == v for k, v in body.items())  # the publisher's body stays whole
    chat = json.loads(message["default"])
    assert (chat["version"], chat["source"]) == ("1.0", "custom")
    assert (
        decision in chat["content"]["description"]
        and body["endpoint"] in chat["content"]["description"]
    )
    assert any(command in step for step in chat["content"]["nextSteps"])
    assert all(isinstance(v, str) for v in chat["metadata"]["additionalContext"].values())


def test_without_a_stack_name_the_command_says_where_it_goes() -> None:
    record = fmt.record(ROLLBACK, None)
    assert record["commands"][0] == "rollout status --stack <stack> --endpoint fraud-detector"


def test_publish_reaches_an_sqs_subscriber_with_the_record(
    moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="notify-test")["TopicArn"]
    queue = sqs.create_queue(QueueName="notify-test")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
    monkeypatch.setenv("ROLLOUT_STACK", "canary")
    assert notify(sns, topic, "Canary rolled back: fraud-detector", ROLLBACK)
    assert not notify(sns, None, "x", ROLLBACK)  # no topic configured: nothing sent
    (msg,) = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    envelope = json.loads(msg["Body"])
    record = json.loads(envelope["Message"])  # the sqs-protocol message, not the default
    assert record["decision"] == "rollback" and record["alarm"] == ROLLBACK["alarm"]
    assert record["commands"][0] == "rollout status --stack canary --endpoint fraud-detector"


NOTIFICATIONS = {
    "subscriptions": [
        {"protocol": "email", "endpoint": "ml-oncall@example.com"},
        {"protocol": "https", "endpoint": "https://hooks.example.com/rollouts"},
        {"protocol": "sqs", "endpoint": "arn:aws:sqs:us-east-1:123456789012:rollouts"},
        {"protocol": "lambda", "endpoint": "arn:aws:lambda:us-east-1:123456789012:function:pager"},
    ],
    "chat_channels": [
        {"kind": "slack", "workspace_id": "T0123", "channel_id": "C0456"},
        {"kind": "teams", "channel_id": "19:abc", "team_id": "a-b", "tenant_id": "c-d"},
    ],
}


def offline(notifications: dict[str, Any]) -> OfflineRun:
    run = run_offline(CANARY, config={"sagemaker-rollouts:notifications": notifications})
    run.raise_error()
    return run


def test_subscriptions_and_chat_channels_from_config() -> None:
    run = offline(NOTIFICATIONS)
    (topic,) = run.of_type("aws:sns/topic:Topic")
    topic_arn = f"arn:aws:sns:us-east-1:123456789012:{topic.inputs['name']}"
    subs = run.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert sorted((s.inputs["protocol"], s.inputs["endpoint"]) for s in subs) == sorted(
        (s["protocol"], s["endpoint"]) for s in NOTIFICATIONS["subscriptions"]
    )
    assert {s.inputs["topic"] for s in subs} == {topic_arn}
    (invoke,) = [
        p
        for p in run.of_type("aws:lambda/permission:Permission")
        if p.inputs["principal"] == "sns.amazonaws.com"
    ]
    assert invoke.inputs["function"].endswith(":function:pager")
    assert invoke.inputs["sourceArn"] == topic_arn
    (slack,) = run.of_type("aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration")
    (teams,) = run.of_type("aws:chatbot/teamsChannelConfiguration:TeamsChannelConfiguration")
    assert (slack.inputs["slackTeamId"], slack.inputs["slackChannelId"]) == ("T0123", "C0456")
    assert (teams.inputs["teamId"], teams.inputs["tenantId"]) == ("a-b", "c-d")
    for chat in (slack, teams):
        assert chat.inputs["snsTopicArns"] == [topic_arn]
        assert chat.inputs["guardrailPolicyArns"] == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    from sagemaker_rollouts.infra import policies

    found = policies.evaluate(run.policy_resources())
    assert [str(f) for f in found if f.level == "mandatory"] == []


def test_bring_your_own_topic_declares_no_topic_and_the_hook_publishes_to_it() -> None:
    own = "arn:aws:sns:us-east-1:123456789012:platform-alerts"
    run = offline({**copy.deepcopy(NOTIFICATIONS), "topic_arn": own, "chat_channels": []})
    assert run.of_type("aws:sns/topic:Topic") == []
    assert {
        s.inputs["topic"] for s in run.of_type("aws:sns/topicSubscription:TopicSubscription")
    } == {own}
    (hook,) = [
        f for f in run.of_type("aws:lambda/function:Function") if "canary" in f.inputs["handler"]
    ]
    assert hook.inputs["environment"]["variables"]["TOPIC_ARN"] == own


def test_bad_notifications_report_every_problem_with_its_key_path() -> None:
    endpoints = yaml.safe_load(CANARY.read_text())["config"]["sagemaker-rollouts:endpoints"]
    bad = {
        "topic_arn": "platform-alerts",
        "subscriptions": [
            {"protocol": "email", "endpoint": "https://x"},
            {"protocol": "lambda", "endpoint": "pager"},
            {"protocol": "sms", "endpoint": "+1555"},
        ],
        "chat_channels": [{"kind": "slack", "channel_id": "C1", "tenant_id": "t"}],
    }
    with pytest.raises(ConfigError) as exc:
        load_config({"endpoints": endpoints, "notifications": bad})
    text = str(exc.value)
    assert (
        "notifications.subscriptions[2].protocol" in text
        or "notifications.subscriptions.2.protocol" in text
    )
    assert "email" in text and "sqs" in text  # what is allowed is named
    # relation errors come with shape errors only once the shape passes: fix the shape, see all
    bad["subscriptions"] = bad["subscriptions"][:2]
    with pytest.raises(ConfigError) as exc:
        load_config({"endpoints": endpoints, "notifications": bad})
    assert exc.value.errors == [
        "notifications.topic_arn: must be an SNS topic ARN, got 'platform-alerts'",
        "notifications.subscriptions[0].endpoint: protocol email needs an email address, got 'https://x'",
        "notifications.subscriptions[1].endpoint: protocol lambda needs a Lambda function ARN, got 'pager'",
        "notifications.chat_channels[0].workspace_id: required for a slack channel",
        "notifications.chat_channels[0].tenant_id: not used by a slack channel",
    ]


# (origin, the arguments every command must carry, the retry advice)
TARGETS = [
    ("stack", "--stack prod --endpoint fraud-detector", "in the stack config"),
    ("component", "--endpoint fraud-detector --region eu-west-1", "in the RolloutEndpoint's args"),
]


@pytest.mark.parametrize(("origin", "where", "retry"), TARGETS, ids=[t[0] for t in TARGETS])
def test_commands_address_the_endpoint_the_way_it_was_declared(
    origin: str, where: str, retry: str
) -> None:
    target = fmt.target_args(
        origin=origin, stack="prod", endpoint_name="fraud-detector", region="eu-west-1"
    )
    assert target == where
    for body in (ROLLBACK, {**ROLLBACK, "decision": "stuck"}, WINNER, DRIFT):
        commands = fmt.record(body, "prod", target)["commands"]
        assert all(where in c for c in commands if c.startswith("rollout "))
        assert not any("--stack" in c for c in commands) or origin == "stack"
    rollback = fmt.record(ROLLBACK, "prod", target)["commands"]
    assert any(retry in c for c in rollback)


def test_a_publisher_with_rollout_target_prints_it(
    moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="notify-target")["TopicArn"]
    queue = sqs.create_queue(QueueName="notify-target")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
    monkeypatch.setenv("ROLLOUT_STACK", "prod")
    monkeypatch.setenv("ROLLOUT_TARGET", "--endpoint fraud-detector --region us-east-1")
    assert notify(sns, topic, "Canary rolled back: fraud-detector", ROLLBACK)
    (msg,) = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    record = json.loads(json.loads(msg["Body"])["Message"])
    assert record["commands"][0] == ("rollout status --endpoint fraud-detector --region us-east-1")
    assert record["stack"] == "prod"
