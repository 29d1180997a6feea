"""The public `RolloutEndpoint` component in a user's own program, under recording mocks."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
import yaml

from sagemaker_rollouts import RolloutEndpoint, RolloutEndpointArgs
from sagemaker_rollouts.infra import policies
from sagemaker_rollouts.infra.awareness import RolledBackCandidateError
from sagemaker_rollouts.lambdas.rollout import RolloutOutcome
from sagemaker_rollouts.simulator.mockrun import OfflineRun, RecordedResource, run_function_offline
from sagemaker_rollouts.strategies.config import ConfigError
from tests.stackdata import component_canary

COMPONENT = "sagemaker-rollouts:index:RolloutEndpoint"
ROLE = "aws:iam/role:Role"
KEY = "aws:kms/key:Key"
TABLE = "aws:dynamodb/table:Table"
TOPIC = "aws:sns/topic:Topic"
FUNCTION = "aws:lambda/function:Function"
MODEL = "aws:sagemaker/model:Model"
KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TOPIC_ARN = "arn:aws:sns:us-east-1:111122223333:platform-alerts"
BOUNDARY = "arn:aws:iam::111122223333:policy/platform-boundary"
ROLE_ARN = "arn:aws:iam::111122223333:role/platform-sagemaker"


def canary(**extra: Any) -> dict[str, Any]:
    return component_canary(data_capture={"sampling_percent": 20}, tags={"team": "fraud"}) | extra


def run(program: Any, **kw: Any) -> OfflineRun:
    result = run_function_offline(program, stack="prod", project="platform", **kw)
    result.raise_error()
    return result


def ancestors(result: OfflineRun, r: RecordedResource) -> list[str]:
    by_urn = {x.urn: x for x in result.resources}
    out: list[str] = []
    while r.parent is not None and r.parent in by_urn:
        r = by_urn[r.parent]
        out.append(r.type)
    return out


def test_every_child_uses_the_callers_provider_and_sits_under_the_component() -> None:
    def program() -> None:
        provider = aws.Provider("eu", region="eu-west-1")
        ep = RolloutEndpoint(
            "fraud",
            canary(region="eu-west-1"),
            opts=pulumi.ResourceOptions(provider=provider),
        )
        pulumi.export("endpoint_name", ep.endpoint_name)
        pulumi.export("variant_names", ep.variant_names)
        pulumi.export("alarm_names", ep.alarm_names)
        pulumi.export("hook", ep.hook_function_name)
        pulumi.export("capture", ep.capture_uri)

    result = run(program)
    provider = result.named("eu")
    ref_prefix = f"{provider.urn}::"
    children = [r for r in result.resources if r.custom and r.type != "pulumi:providers:aws"]
    assert len(children) > 20
    for r in children:
        assert r.provider is not None and r.provider.startswith(ref_prefix), r.urn
        assert COMPONENT in ancestors(result, r), r.urn
        assert r.name.startswith("fraud-"), r.urn
    assert result.outputs["endpoint_name"] == "fraud-detector"
    assert result.outputs["variant_names"] == ["stable", "candidate"]
    assert result.outputs["hook"] == "fraud-detector-canary-hook"
    assert result.outputs["capture"].startswith("s3://")
    assert "fraud-detector-candidate-5xx" in result.outputs["alarm_names"]


def test_brought_key_topic_table_role_and_boundary_replace_the_components_own() -> None:
    def program() -> None:
        RolloutEndpoint(
            "fraud",
            canary(
                kms_key_arn=KEY_ARN,
                notification_topic_arn=TOPIC_ARN,
                state_table_name="platform-rollouts",
                permissions_boundary_arn=BOUNDARY,
                execution_role_arn=ROLE_ARN,
            ),
        )

    result = run(program)
    assert result.of_type(KEY) == []
    assert result.of_type(TABLE) == []
    assert result.of_type(TOPIC) == []
    roles = result.of_type(ROLE)
    assert [r.name for r in roles] == ["fraud-endpoint-hook-role"]  # models use the brought role
    assert all(r.inputs["permissionsBoundary"] == BOUNDARY for r in roles)
    assert {m.inputs["executionRoleArn"] for m in result.of_type(MODEL)} == {ROLE_ARN}
    env = result.of_type(FUNCTION)[0].inputs["environment"]["variables"]
    assert (env["STATE_TABLE"], env["TOPIC_ARN"]) == ("platform-rollouts", TOPIC_ARN)
    policy = json.dumps(result.named("fraud-endpoint-hook-policy").inputs["policy"])
    assert "table/platform-rollouts" in policy and TOPIC_ARN in policy and KEY_ARN in policy


def test_a_components_hook_tells_on_call_to_address_it_by_endpoint_name_and_region() -> None:
    result = run(lambda: RolloutEndpoint("fraud", canary(region="eu-west-1")))
    env = result.named("fraud-endpoint-hook-function").inputs["environment"]["variables"]
    assert env["ROLLOUT_TARGET"] == "--endpoint fraud-detector --region eu-west-1"
    assert env["ROLLOUT_STACK"] == "prod"
    # what `rollout status --endpoint` reads back from AWS: the endpoint's tags, each alarm's role
    (endpoint,) = result.of_type("aws:sagemaker/endpoint:Endpoint")
    tags = endpoint.inputs["tags"]
    assert (tags["rollouts:endpoint"], tags["rollouts:stack"], tags["managed-by"]) == (
        "fraud",
        "prod",
        "platform",
    )
    roles = {
        a.inputs["name"]: (
            a.inputs["tags"].get("rollouts:alarm-role"),
            a.inputs["tags"].get("rollouts:alarm-key"),
        )
        for a in result.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    assert roles["fraud-detector-candidate-5xx"] == ("gate", "candidate.errors_5xx")
    assert roles["fraud-detector-stable-5xx"] == ("watch", "stable.errors_5xx")


def test_outputs_of_the_callers_own_resources_are_accepted() -> None:
    def program() -> None:
        key = aws.kms.Key("platform-key", enable_key_rotation=True)
        topic = aws.sns.Topic("platform-topic")
        RolloutEndpoint("fraud", canary(kms_key_arn=key.arn, notification_topic_arn=topic.arn))

    result = run(program)
    assert [k.name for k in result.of_type(KEY)] == ["platform-key"]
    assert [t.name for t in result.of_type(TOPIC)] == ["platform-topic"]
    assert len(result.of_type(TABLE)) == 1


def test_two_components_in_one_stack_get_their_own_table_topic_and_key_alias() -> None:
    def program() -> None:
        RolloutEndpoint("fraud", canary())
        RolloutEndpoint("churn", canary(endpoint_name="churn"))

    result = run(program)
    tables = sorted(t.inputs["name"] for t in result.of_type(TABLE))
    assert tables == ["platform-prod-churn-rollouts", "platform-prod-fraud-rollouts"]
    topics = sorted(t.inputs["name"] for t in result.of_type(TOPIC))
    assert topics == ["platform-prod-churn-rollout-events", "platform-prod-fraud-rollout-events"]
    aliases = sorted(a.inputs["name"] for a in result.of_type("aws:kms/alias:Alias"))
    assert aliases == ["alias/platform-prod-churn", "alias/platform-prod-fraud"]


def test_yaml_snippet_mapping_and_model_give_the_same_resources() -> None:
    snippet = yaml.safe_dump(canary())
    forms: list[Any] = [snippet, canary(), RolloutEndpointArgs.parse(canary())]
    seen = []
    for form in forms:
        result = run(lambda form=form: RolloutEndpoint("fraud", form))
        seen.append(
            [(r.type, r.name, json.dumps(r.redacted(), sort_keys=True)) for r in result.resources]
        )
    assert seen[0] == seen[1] == seen[2]


def test_the_component_passes_the_same_policy_rules_as_the_sample_stacks() -> None:
    result = run(lambda: RolloutEndpoint("fraud", canary(permissions_boundary_arn=BOUNDARY)))
    assert policies.violations((r.type, r.name, r.inputs) for r in result.resources) == []


def bad(**changes: Any) -> dict[str, Any]:
    out = canary()
    for key, value in changes.items():
        out[key] = value
    return out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # shapes of the endpoint config: the stack config's own messages, args key paths
        (
            bad(
                variants=[
                    {
                        "name": "stable",
                        "model": "v1",
                        "instance_type": "ml.m5.large",
                        "instance_count": 0,
                    }
                ]
            ),
            ["variants[0].instance_count: must be >= 1, got 0"],
        ),
        (bad(strategi={}), ["strategi: unknown key"]),
        # relations: the stack config's second pass, re-rooted at the args
        (
            bad(strategy={"canary": {"stable": "stable", "candidate": "nope", "steps": [5]}}),
            ["strategy.canary.candidate:"],
        ),
        # brought resources: each ARN kind checked, and all problems together
        (
            canary(
                kms_key_arn="alias/mine",
                notification_topic_arn="arn:aws:sqs:us-east-1:111122223333:q",
                permissions_boundary_arn="arn:aws:iam::111122223333:role/x",
                execution_role_arn="arn:aws:iam::111122223333:policy/x",
                state_table_name="t!",
                region="mars",
            ),
            [
                "kms_key_arn: must be a KMS key ARN",
                "notification_topic_arn: must be an SNS topic ARN",
                "permissions_boundary_arn: must be an IAM managed policy ARN",
                "execution_role_arn: must be an IAM role ARN",
                "state_table_name:",
                "region: 'mars' is not an AWS Region the AWS provider accepts",
            ],
        ),
        # brought VPC: ids checked, both or neither, reported with the config's own problems
        (
            canary(vpc_subnet_ids=["subnet-xyz"], vpc_security_group_ids=[]),
            [
                "vpc_subnet_ids: must be subnet ids (subnet-...), got ['subnet-xyz']",
                "vpc_security_group_ids: must be a non-empty list of security group ids",
            ],
        ),
        (
            bad(
                strategy={"canary": {"stable": "stable", "candidate": "nope", "steps": [5]}},
                vpc_subnet_ids=["subnet-0123abcd"],
            ),
            [
                "vpc_subnet_ids: set together with vpc_security_group_ids",
                "strategy.canary.candidate:",
            ],
        ),
        (
            bad(
                strategy={"canary": {"stable": "stable", "candidate": "nope", "steps": [5]}},
                kms_key_arn="not-an-arn",
            ),
            ["kms_key_arn: must be a KMS key ARN", "strategy.canary.candidate:"],
        ),
        (
            bad(variants=[{"name": "stable", "model": "v9", "instance_type": "ml.m5.lage"}]),
            ["variants[0].instance_type:", "variants[0].model:"],
        ),
        ("- just\n- a list\n", ["args: must be a mapping"]),
        ("models: [unclosed", ["args: not valid YAML"]),
    ],
)
def test_invalid_args_raise_every_problem_before_anything_is_declared(
    args: Any, expected: list[str]
) -> None:
    result = run_function_offline(lambda: RolloutEndpoint("fraud", args))
    assert isinstance(result.error, ConfigError), result.error
    text = "\n".join(result.error.errors)
    for fragment in expected:
        assert fragment in text, text
    assert not any(e.startswith("endpoints.") for e in result.error.errors), text
    assert result.resources == []


def test_a_rolled_back_candidate_stops_before_the_component_is_declared() -> None:
    def read(rollout_id: str) -> RolloutOutcome | None:
        return RolloutOutcome(rollout_id, "rolled_back", alarm="a", at=None, reason="")

    result = run_function_offline(lambda: RolloutEndpoint("fraud", canary()), outcomes=read)
    assert isinstance(result.error, RolledBackCandidateError)
    assert result.resources == []


def test_a_completed_candidate_is_rendered_alone() -> None:
    def read(rollout_id: str) -> RolloutOutcome | None:
        return RolloutOutcome(rollout_id, "completed", alarm=None, at=None, reason="")

    def program() -> None:
        ep = RolloutEndpoint("fraud", canary())
        pulumi.export("variants", ep.variant_names)
        pulumi.export("completed", ep.completed)

    result = run(program, outcomes=read)
    assert result.outputs == {"variants": ["candidate"], "completed": True}


def test_library_code_exports_nothing_but_the_projects_own_program() -> None:
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    calls: list[str] = []
    for folder in ("infra", "strategies", "lambdas", "sagemaker_rollouts/cli"):
        for path in sorted((root / folder).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "export"
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "pulumi"
                ):
                    calls.append(f"{path.relative_to(root)}:{node.lineno}")
    assert [c.split(":")[0] for c in calls] == ["infra/program.py"], calls


def test_an_up_during_a_running_canary_keeps_the_candidates_live_share() -> None:
    """Stands in for AWS: the hook moved the live weights with UpdateEndpointWeightsAndCapacities;
    the endpoint config still holds the first step's. Same rule as the project's stacks."""
    from tests.live_endpoints import in_service

    first = run(lambda: RolloutEndpoint("fraud", canary()))
    (endpoint,) = first.of_type("aws:sagemaker/endpoint:Endpoint")
    live = in_service(
        "fraud-detector", {"stable": 50.0, "candidate": 50.0}, endpoint.inputs["tags"]
    )
    changed = canary()
    changed["models"]["v1"]["environment"] = {"LOG_LEVEL": "debug"}
    again = run(lambda: RolloutEndpoint("fraud", changed), endpoints=lambda _: live)
    (config,) = again.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    shares = {
        v["variantName"]: v["initialVariantWeight"] for v in config.inputs["productionVariants"]
    }
    assert shares == {"stable": 50.0, "candidate": 50.0}


def test_render_passes_opts_to_every_resource_of_a_multi_endpoint_stack() -> None:
    from sagemaker_rollouts.infra.render import render
    from tests import plan_fixtures as fx

    plan = fx.deployment(fx.recreate())

    def program() -> None:
        provider = aws.Provider("other-account", region="us-east-1")
        render(plan, opts=pulumi.ResourceOptions(provider=provider))

    result = run(program)
    prefix = f"{result.named('other-account').urn}::"
    declared = [r for r in result.resources if r.custom and not r.type.startswith("pulumi:")]
    assert declared
    assert all(r.provider is not None and r.provider.startswith(prefix) for r in declared), [
        r.urn for r in declared if r.provider is None or not r.provider.startswith(prefix)
    ]
