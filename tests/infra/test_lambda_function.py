"""The canary hook, the A/B evaluator and the drift job are one Lambda component, wired alike."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from sagemaker_rollouts.infra.lambda_code import lambda_archive_files
from sagemaker_rollouts.infra.lambda_function import MAX_FUNCTION_NAME, function_name
from sagemaker_rollouts.simulator.mockrun import OfflineRun, RecordedResource, run_offline

ROOT = Path(__file__).resolve().parents[2]
FUNCTION = "aws:lambda/function:Function"


@cache
def stack(name: str) -> OfflineRun:
    result = run_offline(ROOT / f"Pulumi.{name}.yaml")
    result.raise_error()
    return result


def children(result: OfflineRun, parent: str, type_: str) -> list[RecordedResource]:
    return [r for r in result.resources if r.parent == parent and r.type == type_]


def function_of(result: OfflineRun, component: str) -> RecordedResource:
    """The one Lambda function under a `component` (`CanaryHook`, `DriftJob`, `AbEvaluator`)."""
    (fn,) = [
        r
        for r in result.of_type(FUNCTION)
        if r.parent is not None and r.parent.split("::")[-2].endswith(f"index:{component}")
    ]
    return fn


@pytest.mark.parametrize(
    ("stack_name", "component", "handler", "triggers"),
    [
        ("canary", "CanaryHook", "canary_hook.handler", 2),
        ("canary-drift", "DriftJob", "drift_job.handler", 1),
        ("ab", "AbEvaluator", "ab_evaluator.handler", 1),
    ],
)
def test_each_function_has_the_same_wiring_under_its_own_component(
    stack_name: str, component: str, handler: str, triggers: int
) -> None:
    result = stack(stack_name)
    fn = function_of(result, component)
    assert fn.parent is not None
    name = fn.inputs["name"]
    assert len(name) <= MAX_FUNCTION_NAME
    assert fn.inputs["handler"] == f"sagemaker_rollouts.lambdas.{handler}"
    assert fn.inputs["runtime"] == "python3.13"
    assert sorted(fn.inputs["code"].assets) == sorted(lambda_archive_files(fn.inputs["handler"]))

    (logs,) = children(result, fn.parent, "aws:cloudwatch/logGroup:LogGroup")
    assert logs.inputs["name"] == f"/aws/lambda/{name}"
    assert logs.inputs["retentionInDays"] == 30
    (role,) = children(result, fn.parent, "aws:iam/role:Role")
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    (policy,) = children(result, fn.parent, "aws:iam/rolePolicy:RolePolicy")
    # Declared after its log group and policy: Lambda never writes logs Pulumi does not own.
    assert {logs.urn, policy.urn} <= set(fn.depends_on)

    rules = children(result, fn.parent, "aws:cloudwatch/eventRule:EventRule")
    targets = children(result, fn.parent, "aws:cloudwatch/eventTarget:EventTarget")
    permissions = children(result, fn.parent, "aws:lambda/permission:Permission")
    assert len(rules) == len(targets) == len(permissions) == triggers
    for rule in rules:
        assert f"{rule.name}-target" in {t.name for t in targets}
        assert f"{rule.name}-invoke" in {p.name for p in permissions}
    for p in permissions:
        assert p.inputs["principal"] == "events.amazonaws.com"
        assert p.inputs["function"] == name
        assert ":rule/" in p.inputs["sourceArn"]


@pytest.mark.parametrize(
    ("endpoint", "suffix"),
    [
        ("fraud", "-canary-hook"),
        ("e" * 60, "-drift"),
        ("e" * 80, "-ab-evaluator"),
    ],
)
def test_function_names_fit_lambdas_limit_and_stay_distinct(endpoint: str, suffix: str) -> None:
    name = function_name(endpoint, suffix)
    assert len(name) <= MAX_FUNCTION_NAME and name.endswith(suffix)
    assert name != function_name(endpoint + "x", suffix)


ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


@pytest.mark.parametrize(
    ("stack_name", "component", "shape", "key"),
    [
        # Every minute: 3 of the last 5 minutes with an error (a single failed tick is retried by
        # the next; three are a function that can't do its job).
        ("canary", "CanaryHook", (60, 5, 3), "canary_hook.errors"),
        # Longer schedules: the first period with an error (the next try is a period away).
        ("canary-drift", "DriftJob", None, "drift_job.errors"),
        ("ab", "AbEvaluator", None, "ab_evaluator.errors"),
    ],
)
def test_each_function_tells_its_topic_when_it_keeps_failing(
    stack_name: str, component: str, shape: tuple[int, int, int] | None, key: str
) -> None:
    result = stack(stack_name)
    fn = function_of(result, component)
    assert fn.parent is not None
    (alarm,) = children(result, fn.parent, ALARM)
    a = alarm.inputs
    topic = fn.inputs["environment"]["variables"]["TOPIC_ARN"]
    assert (a["namespace"], a["metricName"], a["statistic"]) == ("AWS/Lambda", "Errors", "Sum")
    assert a["dimensions"] == {"FunctionName": fn.inputs["name"]}
    assert a["name"] == f"{fn.inputs['name']}-errors"
    assert a["alarmActions"] == a["okActions"] == [topic]
    assert (a["threshold"], a["comparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert a["treatMissingData"] == "notBreaching"  # no invocations is no failure
    (schedule,) = [
        r
        for r in children(result, fn.parent, "aws:cloudwatch/eventRule:EventRule")
        if "scheduleExpression" in r.inputs
    ]
    every = int(schedule.inputs["scheduleExpression"].split("(")[1].split()[0])
    want = shape or (min(every * 60, 86_400), 1, 1)
    assert (a["period"], a["evaluationPeriods"], a["datapointsToAlarm"]) == want
    # CloudWatch: period x evaluation periods at most one day.
    assert a["period"] * a["evaluationPeriods"] <= 86_400
    # Listed by `rollout status|history` with the endpoint's alarms: it gates nothing.
    assert (a["tags"]["rollouts:alarm-role"], a["tags"]["rollouts:alarm-key"]) == ("watch", key)
    assert {k: v for k, v in a["tags"].items() if not k.startswith("rollouts:alarm-")} == (
        fn.inputs["tags"]
    )


SAMPLE_STACKS = sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))


@pytest.mark.parametrize("stack_name", SAMPLE_STACKS)
def test_the_plan_names_every_errors_alarm_the_program_declares(stack_name: str) -> None:
    """What `rollout status --stack` lists and the rehearsal provisions (`errors_alarms` of each
    endpoint's plan) is what the program declares, alarm for alarm."""
    from sagemaker_rollouts.cli.stack import load_stack
    from sagemaker_rollouts.strategies.function_alarms import errors_alarms

    result = stack(stack_name)
    declared = {
        (r.inputs["name"], r.inputs["tags"]["rollouts:alarm-key"], r.inputs["period"])
        for r in result.of_type(ALARM)
        if r.inputs.get("namespace") == "AWS/Lambda"
    }
    planned = {
        (a.name, a.key, a.period_seconds)
        for ep in load_stack(ROOT, stack_name).plan.endpoints
        for a in errors_alarms(ep)
    }
    assert planned == declared


def test_cloudwatch_may_use_the_stack_key_to_publish_this_accounts_alarms_only() -> None:
    """The topic is encrypted with the stack key: CloudWatch alarms can publish to it only if
    the key policy lets cloudwatch.amazonaws.com use the key (SNS Developer Guide, "Enable
    compatibility between event sources from AWS services and encrypted topics")."""
    from sagemaker_rollouts.simulator.mockrun import ACCOUNT_ID
    from tests.iam_sim import may_assume

    result = stack("canary")
    (key,) = result.of_type("aws:kms/key:Key")
    (topic,) = result.of_type("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"]  # the stack key
    region = "us-east-1"
    cloudwatch = {"Service": "cloudwatch.amazonaws.com"}

    def may(action: str, account: str, alarm_region: str) -> bool:
        arn = f"arn:aws:cloudwatch:{alarm_region}:{account}:alarm:fraud-canary-hook-errors"
        context = {"aws:SourceAccount": account, "aws:SourceArn": arn}
        return may_assume(key.inputs["policy"], cloudwatch, action, context)

    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        assert may(action, ACCOUNT_ID, region)
        assert not may(action, "210987654321", region)  # another account's alarm
        assert not may(action, ACCOUNT_ID, "eu-west-1")  # another Region's alarm
    assert not may("kms:ScheduleKeyDeletion", ACCOUNT_ID, region)
