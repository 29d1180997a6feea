"""Variant autoscaling: pure decisions, config errors, and what the program declares under mocks,
including what a later `pulumi up` does to instance counts autoscaling changed."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from sagemaker_rollouts.lambdas.rollout import RolloutOutcome
from sagemaker_rollouts.simulator.mockrun import OfflineRun, run_offline
from sagemaker_rollouts.strategies import autoscaling
from sagemaker_rollouts.strategies.config import ConfigError, load_config
from sagemaker_rollouts.strategies.plan import AutoscalingPlan
from sagemaker_rollouts.strategies.planner import build_plan
from tests.plan_fixtures import rollout_of

ROOT = Path(__file__).resolve().parents[2]
CANARY = ROOT / "Pulumi.canary.yaml"
TARGET = "aws:appautoscaling/target:Target"
POLICY = "aws:appautoscaling/policy:Policy"
KEY = "sagemaker-rollouts:endpoints"


def plan_of(min_capacity: int, max_capacity: int, follows: bool) -> AutoscalingPlan:
    return AutoscalingPlan(min_capacity, max_capacity, 100.0, None, 300, 60, follows_share=follows)


@pytest.mark.parametrize(
    ("min_capacity", "max_capacity", "follows", "share", "expected"),
    [
        (2, 6, True, 5, 1),  # never below one instance
        (4, 8, True, 50, 2),
        (4, 8, True, 60, 3),  # rounded up: the share must be served
        (4, 8, True, 100, 4),
        (4, 8, True, 0, 1),  # rolled back: one warm instance stays
        (10, 12, True, 150, 10),  # shares above 100 are 100
        (4, 8, False, 5, 4),  # the stable keeps its minimum whatever its share
        (2, 6, False, 0, 2),
    ],
)
def test_min_capacity_follows_the_share_only_for_a_candidate(
    min_capacity: int, max_capacity: int, follows: bool, share: int, expected: int
) -> None:
    got = autoscaling.min_capacity_at(plan_of(min_capacity, max_capacity, follows), share)
    assert got == expected and 1 <= got <= max_capacity


def stack_endpoints() -> dict[str, Any]:
    return yaml.safe_load(CANARY.read_text())["config"][KEY]


def with_variants(*scaling: dict[str, Any] | None) -> dict[str, Any]:
    endpoints = copy.deepcopy(stack_endpoints())
    for v, s in zip(endpoints["fraud"]["variants"], scaling, strict=True):
        v.pop("autoscaling", None)
        if s is not None:
            v["autoscaling"] = s
    return endpoints


def test_bad_autoscaling_reports_every_problem_with_its_key_path() -> None:
    endpoints = with_variants(
        {"min_capacity": 4, "max_capacity": 1, "target_invocations_per_instance": 10},
        {"min_capacity": 1, "max_capacity": 1},
    )
    with pytest.raises(ConfigError) as exc:
        load_config({"endpoints": endpoints})
    text = str(exc.value)
    assert (
        "endpoints.fraud.variants[0].autoscaling.max_capacity: must be at least min_capacity (4)"
        in text
    )
    assert (
        "endpoints.fraud.variants[0].instance_count: must be at most autoscaling max_capacity (1)"
        in text
    )
    assert "endpoints.fraud.variants[1].autoscaling: set target_invocations_per_instance" in text
    shapes = with_variants({"max_capacity": 0, "target_invocations_per_instance": -1}, None)
    with pytest.raises(ConfigError) as exc:
        load_config({"endpoints": shapes})
    assert "variants.0.autoscaling.max_capacity" in str(
        exc.value
    ) or "variants[0].autoscaling.max_capacity" in str(exc.value)
    assert "target_invocations_per_instance" in str(exc.value)


def offline(endpoints: dict[str, Any], outcomes: Any = None) -> OfflineRun:
    run = run_offline(CANARY, config={KEY: endpoints}, outcomes=outcomes)
    run.raise_error()
    return run


def targets(run: OfflineRun) -> dict[str, dict[str, Any]]:
    return {t.inputs["resourceId"].rsplit("/", 1)[1]: t.inputs for t in run.of_type(TARGET)}


def test_stable_and_candidate_scale_independently_and_the_candidate_follows_its_share() -> None:
    custom = {
        "namespace": "Team/Model",
        "metric": "QueueDepth",
        "statistic": "Maximum",
        "target": 5,
    }
    run = offline(
        with_variants(
            {"min_capacity": 2, "max_capacity": 6, "target_invocations_per_instance": 200},
            {"min_capacity": 4, "max_capacity": 8, "custom_metric": custom},
        )
    )
    got = targets(run)
    assert got["stable"]["minCapacity"] == 2 and got["stable"]["maxCapacity"] == 6
    # First step 5%: ceil(4 x 5%) = 1; its own maximum.
    assert got["candidate"]["minCapacity"] == 1 and got["candidate"]["maxCapacity"] == 8
    policies = {p.inputs["name"]: p.inputs for p in run.of_type(POLICY)}
    assert set(policies) == {"fraud-detector-stable-invocations", "fraud-detector-candidate-custom"}
    stable = policies["fraud-detector-stable-invocations"]
    tracking = stable["targetTrackingScalingPolicyConfiguration"]
    assert tracking["predefinedMetricSpecification"]["predefinedMetricType"] == (
        "SageMakerVariantInvocationsPerInstance"
    )
    assert tracking["targetValue"] == 200
    cand = policies["fraud-detector-candidate-custom"]["targetTrackingScalingPolicyConfiguration"]
    spec = cand["customizedMetricSpecification"]
    assert (spec["namespace"], spec["metricName"], spec["statistic"]) == (
        "Team/Model",
        "QueueDepth",
        "Maximum",
    )
    assert spec["dimensions"] == [
        {"name": "EndpointName", "value": "fraud-detector"},
        {"name": "VariantName", "value": "candidate"},
    ]


def test_a_variant_without_autoscaling_has_no_target_unless_it_is_a_candidate() -> None:
    assert targets(offline(with_variants(None, None))) == {}
    inherited = targets(offline(stack_endpoints()))  # the sample: stable only, candidate inherits
    assert inherited["candidate"]["minCapacity"] == 1 and inherited["candidate"]["maxCapacity"] == 6


def test_a_completed_candidate_gets_its_full_minimum() -> None:
    endpoints = stack_endpoints()
    plan = build_plan(
        load_config({"endpoints": endpoints}), project="sagemaker-rollouts", stack="canary"
    )
    spec = rollout_of(plan.endpoints[0])
    assert spec is not None
    done = RolloutOutcome(spec.rollout_id, "completed", alarm=None, at=None, reason="")
    got = targets(offline(endpoints, outcomes=lambda rid: done if rid == spec.rollout_id else None))
    assert set(got) == {"candidate"} and got["candidate"]["minCapacity"] == 2


def test_a_later_up_leaves_autoscaled_instance_counts_alone() -> None:
    """What we do: nothing any resource declares carries the live instance count. Autoscaling
    moves `DesiredInstanceCount` on the endpoint; an `up` with the same config declares the same
    inputs (no diff, no UpdateEndpoint), so the count stays where autoscaling put it. Only a new
    endpoint config (a model or variant change) restarts the variants at their configured
    `instance_count`, inside min..max, and target tracking takes over again."""
    first, second = offline(stack_endpoints()), offline(stack_endpoints())
    for token in (
        "aws:sagemaker/endpoint:Endpoint",
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        TARGET,
        POLICY,
    ):
        assert [r.inputs for r in first.of_type(token)] == [r.inputs for r in second.of_type(token)]
    for t in first.of_type(TARGET):
        assert set(t.inputs) == {
            "serviceNamespace",
            "scalableDimension",
            "resourceId",
            "minCapacity",
            "maxCapacity",
            "tags",  # the stack's tags: the CI role registers targets only with them
        }
    (config,) = first.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    counts = {
        v["variantName"]: v["initialInstanceCount"] for v in config.inputs["productionVariants"]
    }
    for name, t in targets(first).items():
        assert t["minCapacity"] <= counts[name] <= t["maxCapacity"]
