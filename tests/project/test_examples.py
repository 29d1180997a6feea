"""The example programs in examples/, run as a user would run them, under Pulumi's mocks."""

from __future__ import annotations

import runpy
from functools import cache
from pathlib import Path

import pytest

from sagemaker_rollouts.infra import policies
from sagemaker_rollouts.simulator.mockrun import (
    ACCOUNT_ID,
    OfflineRun,
    read_stack_config,
    run_function_offline,
)
from tests import policy_engine as engine

ROOT = Path(__file__).resolve().parents[2]
PYTHON_EXAMPLE = ROOT / "examples" / "python"
COMPONENT = "sagemaker-rollouts:index:RolloutEndpoint"


@cache
def python_example() -> OfflineRun:
    result = run_function_offline(
        lambda: runpy.run_path(str(PYTHON_EXAMPLE / "__main__.py"), run_name="__main__"),
        config=read_stack_config(PYTHON_EXAMPLE / "Pulumi.dev.yaml"),
        project="fraud-platform",
        stack="dev",
    )
    result.raise_error()
    return result


def under_component(result: OfflineRun) -> list[str]:
    by_urn = {r.urn: r for r in result.resources}
    inside: list[str] = []
    for r in result.resources:
        parent = r.parent
        while parent in by_urn:
            if by_urn[parent].type == COMPONENT:
                inside.append(r.urn)
                break
            parent = by_urn[parent].parent
    return inside


def test_the_python_example_passes_the_sample_stacks_policy_rules() -> None:
    result = python_example()
    triples = [(r.type, r.name, r.inputs) for r in result.resources]
    assert policies.violations(triples) == []
    assert len(under_component(result)) > 20


def test_the_python_example_passes_every_mandatory_rule_of_the_policy_pack() -> None:
    found = policies.evaluate(python_example().policy_resources())
    assert [str(f) for f in found if f.level == "mandatory"] == []


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
def test_the_python_example_passes_the_pack_as_the_engine_runs_it(preview: bool) -> None:
    run = python_example() if not preview else python_example_preview()
    found = engine.analyze_run(run)
    assert [str(d) for d in found if d.level == "mandatory"] == []
    assert preview or not [d for d in found if d.skipped_at_preview]


def python_example_preview() -> OfflineRun:
    result = run_function_offline(
        lambda: runpy.run_path(str(PYTHON_EXAMPLE / "__main__.py"), run_name="__main__"),
        config=read_stack_config(PYTHON_EXAMPLE / "Pulumi.dev.yaml"),
        project="fraud-platform",
        stack="dev",
        preview=True,
    )
    result.raise_error()
    return result


def test_the_component_uses_the_programs_own_key_topic_and_subnets() -> None:
    result = python_example()
    assert [k.name for k in result.of_type("aws:kms/key:Key")] == ["ml-data"]
    assert [t.name for t in result.of_type("aws:sns/topic:Topic")] == ["ml-alerts"]
    key_arn = f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/{result.named('ml-data').id}"
    (logs,) = result.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert logs.inputs["kmsKeyId"] == key_arn
    subnet_ids = {r.id for r in result.of_type("aws:ec2/subnet:Subnet")}
    group_ids = {r.id for r in result.of_type("aws:ec2/securityGroup:SecurityGroup")}
    models = result.of_type("aws:sagemaker/model:Model")
    assert len(models) == 2
    for model in models:
        assert set(model.inputs["vpcConfig"]["subnets"]) == subnet_ids
        assert set(model.inputs["vpcConfig"]["securityGroupIds"]) == group_ids
    hook = result.of_type("aws:lambda/function:Function")[0]
    assert hook.inputs["environment"]["variables"]["TOPIC_ARN"] == result.named("ml-alerts").id
    assert result.outputs["endpoint_name"] == "fraud-detector"
    assert result.outputs["variant_names"] == ["stable", "candidate"]
