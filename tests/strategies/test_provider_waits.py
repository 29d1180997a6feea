"""Deployments the AWS provider would stop waiting for: refused or warned at plan time.

Stands in for terraform-provider-aws `waitEndpointInService` (internal/service/sagemaker/
endpoint.go): a fixed 60-minute wait for InService after CreateEndpoint and UpdateEndpoint, while
SageMaker keeps the endpoint Updating for a whole blue/green or rolling deployment.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from sagemaker_rollouts.simulator.mockrun import read_stack_config, run_offline
from sagemaker_rollouts.strategies.config import ConfigError, load_config
from sagemaker_rollouts.strategies.deploy_checks import (
    PROVIDER_WAIT_SECONDS,
    deployment_warnings,
    updating_at_least,
)
from sagemaker_rollouts.strategies.planner import build_plan

ROOT = Path(__file__).resolve().parents[2]
KEY = "sagemaker-rollouts:endpoints"


def _bluegreen(routing: dict[str, Any], *, count: int, term: int, timeout: int | None) -> dict:
    raw = copy.deepcopy(read_stack_config(ROOT / "Pulumi.bluegreen.yaml"))[KEY]
    ep = raw["search"]
    ep["variants"][0]["instance_count"] = count
    bg = ep["strategy"]["blue_green"]
    bg["traffic_routing"] = routing
    bg["termination_wait_seconds"] = term
    if timeout is None:
        bg.pop("max_execution_timeout_seconds", None)
    else:
        bg["max_execution_timeout_seconds"] = timeout
    return {"endpoints": raw}


def _rolling(*, count: int, batch: int, wait: int, timeout: int) -> dict:
    raw = copy.deepcopy(read_stack_config(ROOT / "Pulumi.rolling.yaml"))[KEY]
    ep = raw["recs"]
    ep["variants"][0]["instance_count"] = count
    ro = ep["strategy"]["rolling"]
    ro["maximum_batch_size"] = {"type": "instance_count", "value": batch}
    ro["rollback_maximum_batch_size"] = {"type": "instance_count", "value": 1}
    ro["wait_seconds"] = wait
    ro["max_execution_timeout_seconds"] = timeout
    return {"endpoints": raw}


LINEAR_10 = {"type": "linear", "linear_step": {"type": "capacity_percent", "value": 10}}
DOC_CANARY = {"type": "canary", "canary_size": {"type": "capacity_percent", "value": 30}}

CASES = [
    # (id, raw config, seconds Updating at least, refused, warned)
    # SageMaker's blue/green documentation's policy (canary 30%, wait 600, termination 600):
    # fits the hour.
    ("doc-canary", _bluegreen(DOC_CANARY | {"wait_seconds": 600}, count=4, term=600,
                              timeout=2400), 1200, False, False),
    # The example on a fleet of 10: ten 10% steps, 9 bakes of 600 s, then 600 s.
    ("linear-10-of-10", _bluegreen(LINEAR_10 | {"wait_seconds": 600}, count=10, term=600,
                                   timeout=14400), 6000, True, False),
    # The same policy on 4 instances: steps of one instance; fits, but SageMaker may run on.
    ("linear-10-of-4", _bluegreen(LINEAR_10 | {"wait_seconds": 600}, count=4, term=600,
                                  timeout=14400), 2400, False, True),
    ("all-at-once", _bluegreen({"type": "all_at_once", "wait_seconds": 600}, count=4, term=3600,
                               timeout=7200), 3600, True, False),
    ("no-timeout-set", _bluegreen(DOC_CANARY | {"wait_seconds": 600}, count=4, term=600,
                                  timeout=None), 1200, False, False),
    ("rolling-one-by-one", _rolling(count=8, batch=1, wait=600, timeout=14400), 4800, True, False),
    ("rolling-sample-like", _rolling(count=8, batch=2, wait=300, timeout=7200), 1200, False, True),
    ("rolling-within", _rolling(count=8, batch=2, wait=300, timeout=3600), 1200, False, False),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "seconds", "refused", "warned"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])  # fmt: skip
def test_deployments_past_the_providers_hour_are_refused_and_risky_ones_warned(
    raw: dict[str, Any], seconds: int, refused: bool, warned: bool
) -> None:
    try:
        plan = build_plan(load_config(raw), project="p", stack="s")
    except ConfigError as exc:
        assert refused, exc.errors
        (line,) = [e for e in exc.errors if "waitEndpointInService" in e]
        key = next(iter(raw["endpoints"]))
        assert line.startswith(f"endpoints.{key}.strategy.")
        assert f"at least {seconds:,} s" in line
        assert "rollout status --stack s --wait" in line  # how CI waits instead
        return
    assert not refused
    (endpoint,) = plan.endpoints
    found = updating_at_least(endpoint)
    assert found is not None and found[0] == seconds < PROVIDER_WAIT_SECONDS
    warnings = deployment_warnings(plan)
    assert bool(warnings) == warned, warnings
    for w in warnings:
        assert ".max_execution_timeout_seconds:" in w and "rollout status --stack s --wait" in w


def test_the_program_logs_the_warning_rollout_plan_prints() -> None:
    run = run_offline(ROOT / "Pulumi.rolling.yaml")
    run.raise_error()
    assert any("AWS provider stops waiting" in w for w in run.warnings), run.warnings


def test_strategies_without_a_deployment_policy_have_no_provider_wait_to_outlast() -> None:
    plan = build_plan(
        load_config({"endpoints": read_stack_config(ROOT / "Pulumi.canary.yaml")[KEY]}),
        project="p",
        stack="s",
    )
    assert [updating_at_least(e) for e in plan.endpoints] == [None]
    assert deployment_warnings(plan) == []
