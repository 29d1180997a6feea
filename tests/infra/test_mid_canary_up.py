"""A `pulumi up` during a canary never moves traffic backwards and never updates the endpoint by
itself (strategies/redeploy.py).

AWS behaviour these stand on: UpdateEndpointWeightsAndCapacities (the hook) changes the live
weights but not the endpoint config; every endpoint config argument is ForceNew in the provider,
and UpdateEndpoint to a new config applies that config's initial weights.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sagemaker_rollouts.simulator.mockrun import OfflineRun, read_stack_config, run_offline
from sagemaker_rollouts.strategies import redeploy
from sagemaker_rollouts.strategies.native import LiveEndpoint
from tests import plan_fixtures as fx
from tests import resource_diff
from tests.live_endpoints import in_service

ROOT = Path(__file__).resolve().parents[2]
CANARY = ROOT / "Pulumi.canary.yaml"
KEY = "sagemaker-rollouts:endpoints"
CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"


def live_from(run: OfflineRun, weights: dict[str, float]) -> LiveEndpoint:
    """The endpoint as the previous `up` left it, after the hook moved its weights."""
    (ep,) = run.of_type(ENDPOINT)
    return in_service(ep.inputs["name"], weights, ep.inputs["tags"])


def up(live: LiveEndpoint | None, **changes: Any) -> OfflineRun:
    eps = read_stack_config(CANARY)[KEY]
    for path, value in changes.items():
        node = eps["fraud"]
        *head, last = path.split("__")
        for part in head:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value
    result = run_offline(CANARY, config={KEY: eps}, endpoints=lambda _: live)
    result.raise_error()
    return result


def weights(run: OfflineRun) -> dict[str, float]:
    (config,) = run.of_type(CONFIG)
    return {
        v["variantName"]: v["initialVariantWeight"] for v in config.inputs["productionVariants"]
    }


@pytest.fixture(scope="module")
def first() -> OfflineRun:
    return up(None)


def test_the_first_up_declares_the_first_step(first: OfflineRun) -> None:
    assert weights(first) == {"stable": 95.0, "candidate": 5.0}


def test_an_up_with_no_change_mid_canary_declares_no_change(first: OfflineRun) -> None:
    again = up(live_from(first, {"stable": 50.0, "candidate": 50.0}))
    effects = resource_diff.diff(first, again)
    assert {k: v for k, v in effects.items() if v != "none"} == {}


def test_a_config_change_mid_canary_keeps_the_live_traffic(first: OfflineRun) -> None:
    """Instance count replaces the config: it is declared at the live 50/50, not back at 5%."""
    changed = up(
        live_from(first, {"stable": 50.0, "candidate": 50.0}), variants__1__instance_count=2
    )
    assert weights(changed) == {"stable": 50.0, "candidate": 50.0}
    effects = resource_diff.by_type(first, changed, {CONFIG: "config", ENDPOINT: "endpoint"})
    assert effects == {"config": "replace", "endpoint": "update"}


def test_a_new_candidate_starts_its_own_rollout_at_the_first_step(first: OfflineRun) -> None:
    changed = up(
        live_from(first, {"stable": 50.0, "candidate": 50.0}),
        models__v2__model_data_url="s3://acme-ml-models/fraud/v3/model.tar.gz",
    )
    assert weights(changed) == {"stable": 95.0, "candidate": 5.0}


def test_a_retuned_alarm_mid_canary_leaves_endpoint_and_config_alone(first: OfflineRun) -> None:
    changed = up(
        live_from(first, {"stable": 75.0, "candidate": 25.0}),
        alarms={"latency_p99": {"threshold": 400}},
    )
    effects = resource_diff.by_type(first, changed, {CONFIG: "config", ENDPOINT: "endpoint"})
    assert effects == {"config": "none", "endpoint": "none"}


PLAN = fx.canary()
SPEC = fx.rollout_of(PLAN)
assert SPEC is not None
FP = redeploy.config_fingerprint(PLAN)


def tags(rollout: str = SPEC.rollout_id, fp: str = FP, pct: str = "5") -> dict[str, str]:
    return {redeploy.ROLLOUT_TAG: rollout, redeploy.CONFIG_TAG: fp, redeploy.PERCENT_TAG: pct}


@pytest.mark.parametrize(
    ("live_tags", "live_weights", "expected"),
    [
        (None, {}, 5),  # no endpoint yet: first step
        (tags(), {"stable": 50.0, "candidate": 50.0}, 5),  # unchanged config: as declared
        (tags(fp="other"), {"stable": 50.0, "candidate": 50.0}, 50),  # replaced: live share
        (tags(fp="other"), {"stable": 0.0, "candidate": 100.0}, 100),
        (tags(fp="other"), {"stable": 100.0, "candidate": 0.0}, 0),  # paused at 0 stays at 0
        (tags(fp="other"), {}, 5),  # no live weights readable: first step
        (tags(rollout="fraud-detector/other/1"), {"stable": 50.0, "candidate": 50.0}, 5),
        ({}, {"stable": 50.0, "candidate": 50.0}, 5),  # untagged (older stack): first step
        (tags(pct="x"), {"stable": 60.0, "candidate": 40.0}, 40),  # bad tag: live share
    ],
)
def test_candidate_percent_table(
    live_tags: dict[str, str] | None, live_weights: dict[str, float], expected: int
) -> None:
    assert redeploy.candidate_percent(PLAN, live_tags, live_weights) == expected


def test_the_fingerprint_ignores_weights_and_sees_everything_else() -> None:
    reweighted = redeploy.with_candidate_percent(PLAN, 50)
    assert redeploy.config_fingerprint(reweighted) == FP
    bigger = replace(
        PLAN,
        production_variants=tuple(
            replace(v, instance_count=v.instance_count + 1) for v in PLAN.production_variants
        ),
    )
    assert redeploy.config_fingerprint(bigger) != FP
