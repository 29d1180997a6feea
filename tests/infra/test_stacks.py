"""Every sample stack through the real program (`sagemaker_rollouts.infra.program.main`) under mocks.

The expectations come from each stack's own plan (`sagemaker_rollouts.strategies.planner.build_plan` on the same
config), so a stack file can change without these tests hard-coding its values.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from sagemaker_rollouts.infra import policies
from sagemaker_rollouts.simulator.mockrun import (
    OfflineRun,
    read_stack_config,
    run_offline,
    stack_name_of,
)
from sagemaker_rollouts.strategies.config import PROJECT, load_config
from sagemaker_rollouts.strategies.plan import (
    ABPlan,
    BlueGreenPlan,
    CanaryPlan,
    DeploymentPlan,
    RecreatePlan,
    RollingPlan,
    ShadowPlan,
)
from sagemaker_rollouts.strategies.planner import build_plan
from sagemaker_rollouts.strategies.rollback import rollback_alarm
from tests.plan_fixtures import rollout_of

ROOT = Path(__file__).resolve().parents[2]
STACKS = sorted(ROOT.glob("Pulumi.*.yaml"))
CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"


@cache
def offline(stack_file: Path) -> OfflineRun:
    result = run_offline(stack_file)
    result.raise_error()
    return result


@cache
def planned(stack_file: Path) -> DeploymentPlan:
    raw = read_stack_config(stack_file)
    config: dict[str, Any] = {"endpoints": raw[f"{PROJECT}:endpoints"]}
    if f"{PROJECT}:tags" in raw:
        config["tags"] = raw[f"{PROJECT}:tags"]
    region = raw.get("aws:region", "us-east-1")
    return build_plan(
        load_config(config, region=region), project=PROJECT, stack=stack_name_of(stack_file)
    )


def by_endpoint(result: OfflineRun, token: str) -> dict[str, dict[str, Any]]:
    """Resources of one type keyed by the endpoint component they belong to."""
    components = {r.urn: r.name for r in result.resources if not r.custom}
    return {components[r.parent or ""]: r.inputs for r in result.of_type(token)}


stacks = pytest.mark.parametrize("stack_file", STACKS, ids=[stack_name_of(s) for s in STACKS])


def test_there_is_a_sample_stack_per_strategy() -> None:
    strategies = {e.strategy for s in STACKS for e in planned(s).endpoints}
    assert strategies == {"recreate", "shadow", "canary", "ab", "blue_green", "rolling"}


@stacks
def test_variants_and_weights_match_the_plan(stack_file: Path) -> None:
    plan, configs = planned(stack_file), by_endpoint(offline(stack_file), CONFIG)
    assert set(configs) == {e.key for e in plan.endpoints}
    for e in plan.endpoints:
        got = configs[e.key]
        assert [
            (v["variantName"], v["initialVariantWeight"], v["initialInstanceCount"])
            for v in got["productionVariants"]
        ] == [(v.name, float(v.weight), v.instance_count) for v in e.production_variants]
        shadows = [v["variantName"] for v in got.get("shadowProductionVariants", [])]
        assert shadows == [v.name for v in e.shadow_variants]
        assert ("kmsKeyArn" in got) == e.endpoint_kms
        assert ("dataCaptureConfig" in got) == (e.data_capture is not None)


def test_a_zero_weight_variant_in_a_sample_stack_stays_zero() -> None:
    zero = [
        (s, e.key, v.name)
        for s in STACKS
        for e in planned(s).endpoints
        for v in e.production_variants
        if v.weight == 0
    ]
    assert zero, "no sample stack declares a 0-weight (dark) variant"
    for stack_file, key, name in zero:
        variants = by_endpoint(offline(stack_file), CONFIG)[key]["productionVariants"]
        assert {v["variantName"]: v["initialVariantWeight"] for v in variants}[name] == 0.0


@stacks
def test_deployment_config_and_replacement(stack_file: Path) -> None:
    plan, result = planned(stack_file), offline(stack_file)
    endpoints = {r.inputs["name"]: r for r in result.of_type(ENDPOINT)}
    for e in plan.endpoints:
        ep = endpoints[e.endpoint_name]
        deployment = ep.inputs.get("deploymentConfig")
        match e.strategy_plan:
            case BlueGreenPlan() as bg:
                assert deployment is not None
                routing = deployment["blueGreenUpdatePolicy"]["trafficRoutingConfiguration"]
                assert routing["type"] == bg.routing
            case RollingPlan():
                assert deployment is not None and "rollingUpdatePolicy" in deployment
            case RecreatePlan() | ShadowPlan() | CanaryPlan() | ABPlan():
                assert deployment is None
        if deployment is not None:
            alarms = [a["alarmName"] for a in deployment["autoRollbackConfiguration"]["alarms"]]
            # One stable rollback alarm whose metric-math definition covers every gate.
            rollback = rollback_alarm(e)
            assert rollback is not None and alarms == [rollback.name]
            assert [m.gate_key for m in rollback.metrics] == [a.key for a in e.gate_alarms]
        recreate = isinstance(e.strategy_plan, RecreatePlan)
        assert ep.delete_before_replace == recreate
        assert (ep.replace_on_changes == ("endpointConfigName",)) == recreate


@stacks
def test_alarms_carry_endpoint_and_variant_dimensions(stack_file: Path) -> None:
    plan, result = planned(stack_file), offline(stack_file)
    alarms = {
        a.inputs["name"]: a.inputs for a in result.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    for e in plan.endpoints:
        for a in e.alarms:
            dims = alarms[a.name].get("dimensions", {})
            assert dims == dict(a.dimensions)
            if a.variant is not None:
                assert dims["EndpointName"] == e.endpoint_name
                assert dims["VariantName"] == a.variant


@stacks
def test_security_baseline(stack_file: Path) -> None:
    result = offline(stack_file)
    assert policies.violations((r.type, r.name, r.inputs) for r in result.resources) == []


@stacks
def test_every_mandatory_policy_passes(stack_file: Path) -> None:
    found = policies.evaluate(offline(stack_file).policy_resources())
    assert [str(f) for f in found if f.level == "mandatory"] == []


def test_a_production_sample_stack_is_held_to_the_rollback_alarm_rule() -> None:
    resources = offline(ROOT / "Pulumi.canary.yaml").policy_resources()
    assert policies.is_production(resources, {}, {})
    # Without its alarms the same stack fails the rule: the rule is live on the sample.
    stripped = [r for r in resources if r.type != policies.T_ALARM]
    found = policies.evaluate(stripped)
    assert {f.policy for f in found if f.level == "mandatory"} == {"production-rollback-alarms"}


@stacks
def test_encryption_where_data_rests(stack_file: Path) -> None:
    plan, result = planned(stack_file), offline(stack_file)
    if plan.needs_capture_bucket:
        assert result.of_type("aws:s3/bucketPolicy:BucketPolicy")
        assert result.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    if plan.state_table_name is not None:
        (table,) = result.of_type("aws:dynamodb/table:Table")
        assert table.inputs["name"] == plan.state_table_name
        assert table.inputs["serverSideEncryption"]["enabled"] is True
        (topic,) = result.of_type("aws:sns/topic:Topic")
        assert topic.inputs["kmsMasterKeyId"]


@stacks
def test_canary_stacks_install_one_hook_per_canary(stack_file: Path) -> None:
    plan, result = planned(stack_file), offline(stack_file)
    canaries = [e for e in plan.endpoints if isinstance(e.strategy_plan, CanaryPlan)]
    functions = [
        f
        for f in result.of_type("aws:lambda/function:Function")
        if f.inputs["handler"].endswith("canary_hook.handler")  # A/B evaluators are others
    ]
    assert len(functions) == len(canaries)
    for e, fn in zip(canaries, functions, strict=True):
        spec = json.loads(fn.inputs["environment"]["variables"]["ROLLOUT_SPEC"])
        assert spec["rollout_id"] == rollout_of(e).rollout_id
        assert fn.inputs["reservedConcurrentExecutions"] == 1
    if canaries:
        assert result.outputs["hook_functions"]
        assert result.outputs["state_table"] == plan.state_table_name


@stacks
def test_outputs_name_endpoints_variants_and_alarms(stack_file: Path) -> None:
    plan, outputs = planned(stack_file), offline(stack_file).outputs
    assert outputs["endpoint_names"] == {e.key: e.endpoint_name for e in plan.endpoints}
    assert outputs["variant_names"] == {
        e.key: [v.name for v in e.production_variants] for e in plan.endpoints
    }
    assert outputs["alarm_names"] == {
        e.key: [a.name for a in e.alarms] + [r.name for r in [rollback_alarm(e)] if r is not None]
        for e in plan.endpoints
    }
    captured = {e.key for e in plan.endpoints if e.data_capture is not None}
    assert set(outputs.get("capture_s3_uris", {})) == captured
    assert all(u.startswith("s3://") for u in outputs.get("capture_s3_uris", {}).values())
