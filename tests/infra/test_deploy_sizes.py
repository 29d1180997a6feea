"""Values AWS refuses at deploy time fail the plan, with the key path, before anything is declared:
a model artifact that is not what CreateModel takes, and sizes of what the program generates
from many keys together (the canary hook's Lambda environment, its inline IAM policy, the
alarms its DescribeAlarms call and its EventBridge pattern name).

The sizes are measured by `infra.limits` with the same functions the resources use; the tests
check that against what the program really declares under mocks (sagemaker_rollouts/simulator/mockrun.py stands in for
the engine: account 123456789012, KMS key ids as UUIDs, explicit names as given), so the check
and the resources cannot drift apart.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from sagemaker_rollouts import RolloutEndpoint
from sagemaker_rollouts.infra import limits
from sagemaker_rollouts.simulator.mockrun import OfflineRun, run_function_offline, run_offline
from sagemaker_rollouts.strategies.config import ConfigError, load_config
from sagemaker_rollouts.strategies.planner import build_plan
from tests.plan_fixtures import rollout_of
from tests.stackdata import canary, single, with_key

EP = "endpoints.fraud"
FUNCTION = "aws:lambda/function:Function"
POLICY = "aws:iam/rolePolicy:RolePolicy"
MODEL = "aws:sagemaker/model:Model"


def _errors(raw: dict[str, Any]) -> list[str]:
    try:
        load_config(raw)
    except ConfigError as exc:
        return exc.errors
    return []


# --------------------------------------------------------------------------- model artifacts

URLS = [
    ("a .tar.gz", "s3://models/fraud/v2/model.tar.gz", None, None),
    ("a prefix", "s3://models/fraud/v2/", None, "is an S3 prefix; SageMaker's ModelDataUrl"),
    ("another object", "s3://models/fraud/v2/model.bin", None, "single gzip-compressed tar"),
    ("a .tgz", "s3://models/fraud/v2/model.tgz", None, "(.tar.gz)"),
    ("an uncompressed prefix", "s3://models/fraud/v2/", "none", None),
    ("an uncompressed object", "s3://models/fraud/v2/model.safetensors", "none", None),
    ("a declared .tar.gz", "s3://models/fraud/v2/model.tar.gz", "gzip", None),
]


@pytest.mark.parametrize(
    ("url", "compression", "fragment"), [u[1:] for u in URLS], ids=[u[0] for u in URLS]
)
def test_model_data_url_is_what_create_model_takes(
    url: str, compression: str | None, fragment: str | None
) -> None:
    raw = with_key(canary(), f"{EP}.models.v2.model_data_url", url)
    if compression is not None:
        raw = with_key(raw, f"{EP}.models.v2.model_data_compression", compression)
    errors = _errors(raw)
    if fragment is None:
        assert errors == []
    else:
        path = f"{EP}.models.v2.model_data_url: "
        assert [e for e in errors if e.startswith(path) and fragment in e], errors
        assert "model_data_compression: none" in errors[0]


def test_uncompressed_model_data_is_declared_as_a_model_data_source() -> None:
    raw = with_key(canary(), f"{EP}.models.v2.model_data_url", "s3://models/fraud/v2/")
    raw = with_key(raw, f"{EP}.models.v2.model_data_compression", "none")
    result = run_offline(config={"sagemaker-rollouts:endpoints": raw["endpoints"]})
    result.raise_error()
    models = {
        m.name.rsplit("-", 1)[-1]: m.inputs["primaryContainer"] for m in result.of_type(MODEL)
    }
    assert models["v1"]["modelDataUrl"] == "s3://acme-ml-models/fraud/v1/model.tar.gz"
    assert "modelDataSource" not in models["v1"]
    assert "modelDataUrl" not in models["v2"]
    assert models["v2"]["modelDataSource"] == {
        "s3DataSources": [
            {"s3Uri": "s3://models/fraud/v2/", "s3DataType": "S3Prefix", "compressionType": "None"}
        ]
    }
    # SageMaker lists the prefix: the candidate's execution role may list that prefix only
    policies = [json.loads(p.inputs["policy"]) for p in result.of_type(POLICY)]
    lists = [
        s
        for doc in policies
        for s in doc["Statement"]
        if s.get("Action") == ["s3:ListBucket"] or s.get("Action") == "s3:ListBucket"
    ]
    assert any(s["Condition"]["StringLike"]["s3:prefix"] == ["fraud/v2/*"] for s in lists), lists


# --------------------------------------------------------------------------- generated sizes

LONG_NAME = "fraud-detector-payments-europe-west-production"


def _gates(n: int, *, name: str = LONG_NAME) -> dict[str, Any]:
    raw = with_key(canary(), f"{EP}.endpoint_name", name)
    raw["endpoints"]["fraud"]["alarms"] = {
        "custom": [
            {
                "key": f"business-kpi-conversion-rate-segment-{i:03d}",
                "namespace": "Acme/Fraud",
                "metric": f"Kpi{i}",
                "threshold": 1,
                "dimensions": {"Model": "fraud"},
            }
            for i in range(n)
        ]
    }
    return raw


def _program(raw: dict[str, Any]) -> OfflineRun:
    return run_offline(config={"sagemaker-rollouts:endpoints": raw["endpoints"]}, stack="canary")


@pytest.mark.parametrize("n", [0, 12, 30])
def test_measured_sizes_are_what_the_program_declares(n: int) -> None:
    raw = _gates(n)
    result = _program(raw)
    result.raise_error()
    plan = build_plan(
        load_config(raw), project="sagemaker-rollouts", stack="canary", region="us-east-1"
    )
    (hook,) = [f for f in result.of_type(FUNCTION) if f.name.endswith("-hook-function")]
    env = hook.inputs["environment"]["variables"]
    (policy,) = [p for p in result.of_type(POLICY) if p.name.endswith("-hook-policy")]
    (ep,) = plan.endpoints
    from sagemaker_rollouts.infra import hook as hook_module

    spec = rollout_of(ep)
    expected_env = hook_module.hook_environment(
        spec,
        table_name=env["STATE_TABLE"],
        topic_arn=env["TOPIC_ARN"],
        stack="canary",
        target=plan.operator_args(ep),
    )
    assert env == expected_env
    assert env["ROLLOUT_TARGET"] == f"--stack canary --endpoint {ep.endpoint_name}"
    assert limits.lambda_environment_bytes(env) == limits.lambda_environment_bytes(
        limits.hook_environment_for(plan, ep)
    )
    assert limits.policy_characters(json.loads(policy.inputs["policy"])) == (
        limits.policy_characters(limits.hook_policy_for(plan, ep))
    )


# (label, gates, fragment of the one error under endpoints.fraud.alarms)
OVER = [
    ("45 gates: Lambda environment", 45, "Lambda allows 4096 bytes"),
    ("80 gates: inline IAM policy", 80, "IAM allows 10240 characters"),
    ("45 gates: EventBridge pattern", 45, "EventBridge allows 4096"),
]


@pytest.mark.parametrize(("n", "fragment"), [o[1:] for o in OVER], ids=[o[0] for o in OVER])
def test_generated_sizes_over_aws_limits_fail_the_plan_with_the_key_path(
    n: int, fragment: str
) -> None:
    result = _program(_gates(n))
    assert isinstance(result.error, ConfigError), result.error
    mine = [e for e in result.error.errors if e.startswith(f"{EP}.alarms: ") and fragment in e]
    assert len(mine) == 1, result.error.errors
    assert result.resources == []


def test_the_component_refuses_the_same_sizes_with_its_own_key_paths() -> None:
    args = copy.deepcopy(_gates(45)["endpoints"]["fraud"])
    result = run_function_offline(lambda: RolloutEndpoint("fraud", args))
    assert isinstance(result.error, ConfigError), result.error
    assert any(
        e.startswith("alarms: the canary hook's Lambda environment") for e in result.error.errors
    ), result.error.errors
    assert result.resources == []


def test_just_under_the_limits_plans() -> None:
    sizes = []
    for n in range(20, 60):
        raw = _gates(n)
        plan = build_plan(
            load_config(raw), project="sagemaker-rollouts", stack="canary", region="us-east-1"
        )
        (ep,) = plan.endpoints
        size = limits.lambda_environment_bytes(limits.hook_environment_for(plan, ep))
        sizes.append((n, size, limits.deploy_limit_errors(plan)))
    under = [n for n, size, errs in sizes if size <= limits.LAMBDA_ENVIRONMENT_BYTES]
    assert under and all(not errs for n, size, errs in sizes if n in under and size < 4000)
    first_over = next(n for n, size, _ in sizes if size > limits.LAMBDA_ENVIRONMENT_BYTES)
    assert limits.deploy_limit_errors(
        build_plan(load_config(_gates(first_over)), project="sagemaker-rollouts", stack="canary")
    )


def test_more_watched_alarms_than_describe_alarms_takes_fail_the_plan() -> None:
    """Gates, the sample alarm and the stable's baseline alarms are all read in one
    DescribeAlarms call (AlarmNames: at most 100): 98 gates + 3 baseline + 1 sample is 102."""
    raw = with_key(_gates(96, name="fd"), f"{EP}.strategy.canary.baseline_alarms", True)
    with pytest.raises(ConfigError) as exc:
        build_plan(load_config(raw), project="p", stack="s", region="us-east-1")
    mine = [
        e for e in exc.value.errors if e.startswith(f"{EP}.alarms: the canary hook would watch")
    ]
    assert len(mine) == 1 and "at most 100" in mine[0], exc.value.errors


def test_single_variant_strategies_have_no_hook_to_measure() -> None:
    plan = build_plan(load_config(single({"blue_green": {}})), project="p", stack="s")
    assert limits.deploy_limit_errors(plan) == []


def _ab(dimension_value: str) -> dict[str, Any]:
    raw = canary()
    raw["endpoints"]["fraud"]["strategy"] = {
        "ab": {
            "weights": {"stable": 50, "candidate": 50},
            "successes": {
                "namespace": "Acme/Fraud",
                "metric": "Conversions",
                "dimensions": {f"Dim{i}": dimension_value for i in range(20)},
            },
        }
    }
    return raw


def test_ab_evaluator_environment_is_measured_as_declared() -> None:
    raw = _ab("checkout")
    result = _program(raw)
    result.raise_error()
    plan = build_plan(
        load_config(raw), project="sagemaker-rollouts", stack="canary", region="us-east-1"
    )
    (fn,) = [f for f in result.of_type(FUNCTION) if f.name.endswith("-ab-evaluator-function")]
    declared = fn.inputs["environment"]["variables"]
    assert declared == limits.ab_environment_for(plan, plan.endpoints[0])


def test_ab_evaluator_environment_over_4kb_fails_the_plan() -> None:
    result = _program(_ab("x" * 300))
    assert isinstance(result.error, ConfigError), result.error
    assert any(
        e.startswith(f"{EP}.strategy.ab: the A/B evaluator's Lambda environment")
        for e in result.error.errors
    ), result.error.errors
    assert result.resources == []


def test_drift_job_environment_is_measured_as_declared() -> None:
    """The capture bucket's name is the provider's (prefix + 26-character suffix): the mock
    names it so too, and the measured environment is the declared one."""
    from pathlib import Path

    from sagemaker_rollouts.cli.stack import load_stack

    root = Path(__file__).resolve().parents[2]
    result = run_offline(root / "Pulumi.canary-drift.yaml")
    result.raise_error()
    plan = load_stack(root, "canary-drift").plan
    (ep,) = [e for e in plan.endpoints if e.drift is not None]
    (fn,) = [f for f in result.of_type(FUNCTION) if f.name.endswith("-drift-function")]
    declared = fn.inputs["environment"]["variables"]
    measured = limits.drift_environment_for(plan, ep)
    assert declared["DRIFT_SPEC"] == measured["DRIFT_SPEC"]
    assert len(declared["CAPTURE_BUCKET"]) == len(measured["CAPTURE_BUCKET"])
    assert limits.lambda_environment_bytes(declared) == limits.lambda_environment_bytes(measured)
