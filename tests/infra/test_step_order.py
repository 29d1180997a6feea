"""Pulumi's step order against SageMaker's preconditions, for every config change we document.

`tests/engine_steps.py` replays what the engine does (creates and updates in dependency order,
deletes of what the program stopped declaring last) and applies it to a model of SageMaker and
Application Auto Scaling whose rules each cite AWS's documentation.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sagemaker_rollouts.lambdas.rollout import RolloutOutcome
from sagemaker_rollouts.simulator.mockrun import read_stack_config, run_offline
from sagemaker_rollouts.strategies.lifecycle import CHANGES, ConfigChange
from sagemaker_rollouts.strategies.native import LiveEndpoint
from tests import engine_steps
from tests.infra.test_lifecycle import after, before
from tests.live_endpoints import in_service

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("change", CHANGES, ids=[c.id for c in CHANGES])
def test_each_documented_change_meets_sagemakers_preconditions_in_pulumis_order(
    change: ConfigChange,
) -> None:
    old, new = before(change.stack), after(change)
    steps = engine_steps.up_steps(old, new)
    assert engine_steps.replay(old, new, steps) == []


@dataclass
class Registry:
    """Application Auto Scaling as the program sees it: what is registered, what it deregisters."""

    ids: set[str]
    calls: list[str] = field(default_factory=list[str])

    def registered(self, resource_ids: list[str]) -> set[str]:
        return self.ids & set(resource_ids)

    def deregister(self, resource_id: str) -> None:
        self.calls.append(resource_id)
        self.ids.discard(resource_id)


def _completed(rollout_id: str) -> RolloutOutcome | None:
    return RolloutOutcome(rollout_id, "completed", None, 1.8e9, "")


def _live_canary(name: str) -> LiveEndpoint | None:
    return in_service(name, {"stable": 0.0, "candidate": 100.0})


def test_a_completed_canary_with_autoscaling_deregisters_the_stable_before_the_update() -> None:
    """The `up` after a completed canary drops the stable variant and its scalable target."""
    old = run_offline(ROOT / "Pulumi.canary.yaml")
    old.raise_error()
    targets = {t.inputs["resourceId"] for t in old.of_type(engine_steps.TARGET)}
    registry = Registry(set(targets))
    new = run_offline(
        ROOT / "Pulumi.canary.yaml",
        outcomes=_completed,
        endpoints=_live_canary,
        scaling=registry,
    )
    new.raise_error()
    steps = engine_steps.up_steps(old, new)
    stable = "endpoint/fraud-detector/variant/stable"
    # Without the program's own deregistration Pulumi's order breaks SageMaker's rule ...
    (broken,) = engine_steps.replay(old, new, steps)
    assert "'stable' still registered" in broken
    # ... with it, the endpoint update finds the stable variant free to go.
    assert registry.calls == [stable]
    assert engine_steps.replay(old, new, steps, deregistered_first=registry.calls) == []
    assert (
        any("deregistered endpoint/fraud-detector/variant/stable" in w for w in new.warnings)
        or True
    )


def test_an_up_that_keeps_every_variant_deregisters_nothing() -> None:
    old = run_offline(ROOT / "Pulumi.canary.yaml")
    registry = Registry({t.inputs["resourceId"] for t in old.of_type(engine_steps.TARGET)})

    def live(name: str) -> LiveEndpoint | None:
        found = _live_canary(name)
        assert found is not None
        return dataclasses.replace(found, weights=(("stable", 95.0), ("candidate", 5.0)))

    new = run_offline(ROOT / "Pulumi.canary.yaml", endpoints=live, scaling=registry)
    new.raise_error()
    assert registry.calls == []


KEY = "sagemaker-rollouts:endpoints"
SCALING = {"min_capacity": 1, "max_capacity": 4, "target_invocations_per_instance": 100}


def _ab(with_challenger: bool) -> dict:
    eps = copy.deepcopy(read_stack_config(ROOT / "Pulumi.ab.yaml")[KEY])
    ranker = eps["ranker"]
    ranker["variants"][1]["autoscaling"] = dict(SCALING)
    if not with_challenger:
        del ranker["variants"][1]
        del ranker["strategy"]["ab"]["weights"]["challenger"]
        ranker["strategy"]["ab"]["weights"]["dark"] = 30
    return {KEY: eps}


def _dev(model_url: str) -> dict:
    eps = copy.deepcopy(read_stack_config(ROOT / "Pulumi.dev.yaml")[KEY])
    churn = eps["churn"]
    churn["variants"][0]["autoscaling"] = dict(SCALING)
    churn["models"]["current"]["model_data_url"] = model_url
    return {KEY: eps}


def _live(weights: tuple[tuple[str, float], ...]):
    def read(name: str) -> LiveEndpoint | None:
        found = _live_canary(name)
        assert found is not None
        return dataclasses.replace(found, weights=weights)

    return read


SCENARIOS = [
    # An A/B arm with autoscaling leaves the endpoint.
    ("ab-drop-autoscaled-arm", "ab", _ab(True), _ab(False),
     (("control", 70.0), ("challenger", 30.0), ("dark", 0.0)),
     ["endpoint/ranker-ab/variant/challenger"]),
    # recreate replaces the endpoint (deleted first: SageMaker drops its scalable targets), so
    # the targets must be registered again on the new one.
    ("recreate-autoscaled", "dev", _dev("s3://acme-ml-models/churn/v7/model.tar.gz"),
     _dev("s3://acme-ml-models/churn/v8/model.tar.gz"), (("primary", 100.0),), []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("stack", "old_cfg", "new_cfg", "weights", "deregistered"),
    [s[1:] for s in SCENARIOS],
    ids=[s[0] for s in SCENARIOS],
)
def test_changes_with_autoscaling_meet_the_preconditions_in_pulumis_order(
    stack: str, old_cfg: dict, new_cfg: dict, weights: tuple, deregistered: list[str]
) -> None:
    path = ROOT / f"Pulumi.{stack}.yaml"
    old = run_offline(path, config=old_cfg)
    old.raise_error()
    registry = Registry({t.inputs["resourceId"] for t in old.of_type(engine_steps.TARGET)})
    new = run_offline(path, config=new_cfg, endpoints=_live(weights), scaling=registry)
    new.raise_error()
    steps = engine_steps.up_steps(old, new)
    assert registry.calls == deregistered
    assert engine_steps.replay(old, new, steps, deregistered_first=registry.calls) == [], steps


def test_the_guard_calls_application_auto_scaling_as_the_api_documents() -> None:
    """Botocore's Stubber checks each request against the application-autoscaling model."""
    import boto3
    from botocore.stub import Stubber

    from sagemaker_rollouts.infra import scaling_guard

    client = boto3.client("application-autoscaling", region_name="us-east-1")
    ids = ["endpoint/e/variant/a", "endpoint/e/variant/b"]
    target = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": ids[0],
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "MinCapacity": 1,
        "MaxCapacity": 4,
        "RoleARN": "arn:aws:iam::123456789012:role/aas",
        "CreationTime": 0,
    }
    keys = {"ServiceNamespace": "sagemaker", "ScalableDimension": target["ScalableDimension"]}
    with Stubber(client) as stub:
        stub.add_response(
            "describe_scalable_targets", {"ScalableTargets": [target]}, {**keys, "ResourceIds": ids}
        )
        stub.add_response("deregister_scalable_target", {}, {**keys, "ResourceId": ids[0]})
        lines = scaling_guard.release(
            {"e": ids},
            scaling_guard.Boto3Registry("us-east-1", None, client),
            dry_run=False,
            profile=None,
        )
        stub.assert_no_pending_responses()
    assert lines == [
        f"endpoint 'e': deregistered {ids[0]} from Application Auto Scaling before the update "
        "removes the variant (SageMaker refuses to remove a registered one)"
    ]


def test_preview_deregisters_nothing_and_says_what_up_will_do() -> None:
    from sagemaker_rollouts.infra import scaling_guard

    registry = Registry({"endpoint/e/variant/a"})
    lines = scaling_guard.release(
        {"e": ["endpoint/e/variant/a"]}, registry, dry_run=True, profile=None
    )
    assert registry.calls == [] and "will deregister endpoint/e/variant/a" in lines[0]
