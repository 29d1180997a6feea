"""Components rendered from hand-built plans under recording mocks: policy checks on inputs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sagemaker_rollouts.infra import policies
from sagemaker_rollouts.infra.program import export_outputs
from sagemaker_rollouts.infra.render import render
from sagemaker_rollouts.simulator.mockrun import OfflineRun, RecordedResource, run_function_offline
from sagemaker_rollouts.strategies.plan import DeploymentPlan
from tests import plan_fixtures as fx

ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
MODEL = "aws:sagemaker/model:Model"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
RULE = "aws:cloudwatch/eventRule:EventRule"
FUNCTION = "aws:lambda/function:Function"


def run(plan: DeploymentPlan) -> OfflineRun:
    result = run_function_offline(lambda: export_outputs(render(plan)), stack=plan.stack)
    result.raise_error()
    return result


def one(result: OfflineRun, token: str) -> RecordedResource:
    found = result.of_type(token)
    assert len(found) == 1, f"expected one {token}, got {[r.urn for r in found]}"
    return found[0]


def statements(resource: RecordedResource) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in json.loads(resource.inputs["policy"])["Statement"]}


def test_a_zero_weight_variant_stays_zero() -> None:
    result = run(fx.deployment(fx.ab_with_dark_variant()))
    variants = one(result, CONFIG).inputs["productionVariants"]
    assert {v["variantName"]: v["initialVariantWeight"] for v in variants} == {
        "control": 70.0,
        "challenger": 30.0,
        "dark": 0.0,
    }


def test_recreate_replaces_the_endpoint_and_deletes_it_first() -> None:
    endpoint = one(run(fx.deployment(fx.recreate())), ENDPOINT)
    assert endpoint.delete_before_replace
    assert endpoint.replace_on_changes == ("endpointConfigName",)
    assert endpoint.inputs["name"] == "churn-dev"


@pytest.mark.parametrize("plan", [fx.ab_with_dark_variant(), fx.blue_green(), fx.rolling()])
def test_other_strategies_update_the_endpoint_in_place(plan: Any) -> None:
    endpoint = one(run(fx.deployment(plan)), ENDPOINT)
    assert not endpoint.delete_before_replace
    assert endpoint.replace_on_changes == ()


@pytest.mark.parametrize(
    ("routing", "size_key"),
    [("ALL_AT_ONCE", None), ("CANARY", "canarySize"), ("LINEAR", "linearStepSize")],
)
def test_blue_green_routing_and_auto_rollback(routing: str, size_key: str | None) -> None:
    plan = fx.blue_green(routing)
    deployment = one(run(fx.deployment(plan)), ENDPOINT).inputs["deploymentConfig"]
    policy = deployment["blueGreenUpdatePolicy"]
    traffic = policy["trafficRoutingConfiguration"]
    assert traffic["type"] == routing
    assert traffic["waitIntervalInSeconds"] == 300
    assert policy["terminationWaitInSeconds"] == 120
    assert policy["maximumExecutionTimeoutInSeconds"] == 3600
    for key in ("canarySize", "linearStepSize"):
        assert (key in traffic) == (key == size_key)
    if size_key is not None:
        assert traffic[size_key] == {"type": "CAPACITY_PERCENT", "value": 25}
    alarms = [a["alarmName"] for a in deployment["autoRollbackConfiguration"]["alarms"]]
    # One stable rollback alarm (the list is ForceNew in the provider); the gates define it.
    assert alarms == [f"{plan.endpoint_name}-rollback"]


def test_rolling_update_policy() -> None:
    deployment = one(run(fx.deployment(fx.rolling())), ENDPOINT).inputs["deploymentConfig"]
    rolling = deployment["rollingUpdatePolicy"]
    assert rolling["maximumBatchSize"] == {"type": "CAPACITY_PERCENT", "value": 25}
    assert rolling["rollbackMaximumBatchSize"] == {"type": "INSTANCE_COUNT", "value": 2}
    assert rolling["waitIntervalInSeconds"] == 120
    assert "blueGreenUpdatePolicy" not in deployment
    assert deployment["autoRollbackConfiguration"]["alarms"]


def test_shadow_variant_and_encrypted_capture() -> None:
    result = run(fx.deployment(fx.shadow()))
    config = one(result, CONFIG).inputs
    assert [v["variantName"] for v in config["productionVariants"]] == ["live"]
    assert [v["variantName"] for v in config["shadowProductionVariants"]] == ["shadow"]
    capture = config["dataCaptureConfig"]
    assert capture["initialSamplingPercentage"] == 20
    assert capture["destinationS3Uri"].endswith("/capture/fraud-shadow")
    assert capture["kmsKeyId"].startswith("arn:aws:kms:")
    assert {o["captureMode"] for o in capture["captureOptions"]} == {"Input", "Output"}
    assert config["kmsKeyArn"] == capture["kmsKeyId"]
    # The execution role may write captures under that prefix only.
    writes = [s for p in result.of_type(ROLE_POLICY) for s in statements(p).values()]
    capture_writes = [s for s in writes if s["Sid"] == "WriteDataCapture"]
    assert capture_writes
    assert all(s["Resource"][0].endswith("/capture/fraud-shadow/*") for s in capture_writes)


def test_capture_bucket_is_private_encrypted_and_tls_only() -> None:
    result = run(fx.deployment(fx.shadow()))
    pab = one(result, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(
        pab[k] is True
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    ownership = one(result, "aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs
    assert ownership["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    sse = one(
        result,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    ).inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    key = one(result, "aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    assert sse == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": sse["kmsMasterKeyId"]}
    assert sse["kmsMasterKeyId"].endswith(key.id or "?")
    versioning = one(result, "aws:s3/bucketVersioning:BucketVersioning").inputs
    assert versioning["versioningConfiguration"]["status"] == "Enabled"
    deny = json.loads(one(result, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    assert deny["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_no_kms_key_on_the_endpoint_config_when_the_plan_forbids_it() -> None:
    config = one(run(fx.deployment(fx.with_vpc_and_role())), CONFIG).inputs
    assert "kmsKeyArn" not in config


def test_execution_roles_are_created_only_when_missing_and_scoped() -> None:
    result = run(fx.deployment(fx.with_vpc_and_role()))
    roles = result.of_type(ROLE)
    assert [r.name for r in roles] == ["vpc-role-inside"]
    models = {r.name: r.inputs for r in result.of_type(MODEL)}
    assert models["vpc-model-byo"]["executionRoleArn"] == "arn:aws:iam::123456789012:role/existing"
    assert models["vpc-model-inside"]["executionRoleArn"].endswith(roles[0].id or "?")
    assert models["vpc-model-inside"]["vpcConfig"] == {
        "securityGroupIds": ["sg-0123"],
        "subnets": ["subnet-a", "subnet-b"],
    }
    assert models["vpc-model-inside"]["enableNetworkIsolation"] is True
    st = statements(one(result, ROLE_POLICY))
    assert st["ReadModelArtifact"]["Action"] == ["s3:GetObject"]
    assert st["ReadModelArtifact"]["Resource"] == ["arn:aws:s3:::acme-models/inside/model.tar.gz"]
    assert st["PullModelImage"]["Resource"] == [
        "arn:aws:ecr:us-east-1:683313688378:repository/sagemaker-xgboost"
    ]
    assert st["EcrLogin"]["Resource"] == "*"
    group = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/vpc-ep"
    assert st["EndpointLogs"]["Resource"] == [group, f"{group}:log-stream:*"]
    assert "UseStackKey" not in st  # no endpoint KMS and no capture on this endpoint
    assert set(st) >= {"VpcInterfaces", "VpcInterfacePermissions", "VpcDescribe"}
    assert policies.iam_policy_violations(one(result, ROLE_POLICY).inputs["policy"]) == []


def test_no_vpc_permissions_without_a_vpc() -> None:
    result = run(fx.deployment(fx.recreate()))
    st = statements(one(result, ROLE_POLICY))
    assert not any(sid.startswith("Vpc") for sid in st)
    assert st["UseStackKey"]["Resource"][0].startswith("arn:aws:kms:")


def test_per_variant_alarms_carry_endpoint_and_variant_dimensions() -> None:
    plan = fx.ab_with_dark_variant()
    alarms = run(fx.deployment(plan)).of_type(ALARM)
    assert len(alarms) == len(plan.alarms)
    for a in alarms:
        assert set(a.inputs["dimensions"]) == {"EndpointName", "VariantName"}
        assert a.inputs["dimensions"]["EndpointName"] == "ranker-ab"
        assert a.inputs["treatMissingData"] == "notBreaching"


def test_alarm_statistics_are_exclusive() -> None:
    alarms = {
        a.inputs["metricName"]: a.inputs for a in run(fx.deployment(fx.recreate())).of_type(ALARM)
    }
    assert alarms["ModelLatency"]["extendedStatistic"] == "p99"
    assert "statistic" not in alarms["ModelLatency"]
    assert alarms["Invocation5XXErrors"]["statistic"] == "Sum"
    assert "extendedStatistic" not in alarms["Invocation5XXErrors"]


def test_every_child_has_a_component_parent_with_our_token() -> None:
    result = run(fx.deployment(fx.canary(), fx.shadow()))
    components = {r.urn: r for r in result.resources if not r.custom}
    assert {r.type for r in components.values()} == {
        "sagemaker-rollouts:index:StackResources",
        "sagemaker-rollouts:index:SageMakerEndpoint",
        "sagemaker-rollouts:index:CanaryHook",
    }
    for r in result.resources:
        if r.custom:
            assert r.parent in components, f"{r.urn} is not parented to a component"


def test_canary_hook_wiring() -> None:
    plan = fx.canary()
    spec = fx.rollout_of(plan)
    assert spec is not None
    result = run(fx.deployment(plan))
    fn = one(result, FUNCTION).inputs
    assert fn["runtime"] == "python3.13"
    assert fn["handler"] == "sagemaker_rollouts.lambdas.canary_hook.handler"
    assert fn["reservedConcurrentExecutions"] == 1
    env = fn["environment"]["variables"]
    assert set(env) == {
        "ROLLOUT_SPEC",
        "STATE_TABLE",
        "TOPIC_ARN",
        "ROLLOUT_STACK",
        "ROLLOUT_TARGET",
    }
    assert env["ROLLOUT_TARGET"] == f"--stack test --endpoint {spec.endpoint_name}"
    assert env["ROLLOUT_SPEC"] == spec.to_json()
    assert env["STATE_TABLE"] == "sagemaker-rollouts-test-rollouts"
    assert env["TOPIC_ARN"].startswith("arn:aws:sns:")
    assert "sagemaker_rollouts/lambdas/canary_hook.py" in fn["code"].assets
    assert "sagemaker_rollouts/lambdas/controller.py" in fn["code"].assets

    logs = one(result, "aws:cloudwatch/logGroup:LogGroup").inputs
    assert logs["name"] == f"/aws/lambda/{fn['name']}"
    assert logs["retentionInDays"] == 30
    assert logs["kmsKeyId"].startswith("arn:aws:kms:")

    rules = {r.name: r.inputs for r in result.of_type(RULE)}
    assert rules["fraud-hook-schedule"]["scheduleExpression"] == "rate(1 minute)"
    pattern = json.loads(rules["fraud-hook-alarm-state"]["eventPattern"])
    assert pattern["source"] == ["aws.cloudwatch"]
    assert pattern["detail-type"] == ["CloudWatch Alarm State Change"]
    assert pattern["detail"]["alarmName"] == [*spec.gate_alarms, spec.sample_alarm]
    targets = result.of_type("aws:cloudwatch/eventTarget:EventTarget")
    permissions = result.of_type("aws:lambda/permission:Permission")
    assert len(targets) == len(permissions) == 2
    assert {p.inputs["principal"] for p in permissions} == {"events.amazonaws.com"}
    rule_arns = {r.inputs["sourceArn"] for r in permissions}
    assert all(":rule/" in arn for arn in rule_arns) and len(rule_arns) == 2


def test_canary_hook_iam_names_its_resources() -> None:
    plan = fx.canary()
    spec = fx.rollout_of(plan)
    assert spec is not None
    result = run(fx.deployment(plan))
    hook_policy = next(p for p in result.of_type(ROLE_POLICY) if p.name == "fraud-hook-policy")
    st = statements(hook_policy)
    assert st["Endpoint"]["Resource"] == [
        "arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud-detector"
    ]
    assert st["Alarms"]["Resource"] == [
        f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{a}"
        for a in (*spec.gate_alarms, spec.sample_alarm)
    ]
    assert st["StateTable"]["Resource"] == [
        "arn:aws:dynamodb:us-east-1:123456789012:table/sagemaker-rollouts-test-rollouts"
    ]
    assert st["StateTable"]["Action"] == ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]
    assert st["StateTable"]["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["fraud-detector/*"]}
    }
    assert spec.rollout_id.startswith("fraud-detector/")
    assert st["Notify"]["Resource"][0].startswith("arn:aws:sns:")
    assert "Metrics" not in st  # metrics are EMF log lines
    assert policies.iam_policy_violations(hook_policy.inputs["policy"]) == []


def test_state_table_and_topic_are_encrypted() -> None:
    result = run(fx.deployment(fx.canary()))
    table = one(result, "aws:dynamodb/table:Table").inputs
    assert table["name"] == "sagemaker-rollouts-test-rollouts"
    assert (table["hashKey"], table["rangeKey"]) == ("pk", "sk")
    assert table["billingMode"] == "PAY_PER_REQUEST"
    assert {(a["name"], a["type"]) for a in table["attributes"]} == {("pk", "S"), ("sk", "S")}
    assert table["serverSideEncryption"]["enabled"] is True
    assert table["serverSideEncryption"]["kmsKeyArn"].startswith("arn:aws:kms:")
    assert table["pointInTimeRecovery"]["enabled"] is True
    assert one(result, "aws:sns/topic:Topic").inputs["kmsMasterKeyId"].startswith("arn:aws:kms:")


def test_canary_outputs_name_the_table_and_hook() -> None:
    result = run(fx.deployment(fx.canary()))
    assert result.outputs["state_table"] == "sagemaker-rollouts-test-rollouts"
    assert result.outputs["hook_functions"] == {"fraud": "fraud-detector-canary-hook"}
    assert result.outputs["variant_names"] == {"fraud": ["stable", "candidate"]}
    assert result.outputs["endpoint_names"] == {"fraud": "fraud-detector"}
    assert result.outputs["capture_s3_uris"]["fraud"].endswith("/capture/fraud")


@pytest.mark.parametrize(
    "plan",
    [
        fx.recreate(),
        fx.ab_with_dark_variant(),
        fx.shadow(),
        fx.blue_green("CANARY"),
        fx.rolling(),
        fx.with_vpc_and_role(),
        fx.canary(),
    ],
    ids=lambda p: p.strategy + "-" + p.key,
)
def test_security_baseline_holds(plan: Any) -> None:
    result = run(fx.deployment(plan))
    assert policies.violations((r.type, r.name, r.inputs) for r in result.resources) == []
