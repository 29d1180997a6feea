"""Pure strategy tests: config in, plan out. No pulumi, no boto3, no mocks."""

from __future__ import annotations

import ast
import pathlib
from typing import Any

import pytest

from sagemaker_rollouts.lambdas.rollout import RolloutSpec, sagemaker_weights
from sagemaker_rollouts.strategies.config import load_config
from sagemaker_rollouts.strategies.plan import (
    BlueGreenPlan,
    EndpointPlan,
    RecreatePlan,
    RollingPlan,
)
from sagemaker_rollouts.strategies.planner import build_plan
from tests.plan_fixtures import native_of, rollout_of
from tests.stackdata import canary, single, two, with_key

ROOT = pathlib.Path(__file__).resolve().parents[2]


def plan_of(raw: dict[str, Any], stack: str = "test") -> EndpointPlan:
    plan = build_plan(load_config(raw), project="sagemaker-rollouts", stack=stack)
    assert len(plan.endpoints) == 1
    return plan.endpoints[0]


def weights(p: EndpointPlan) -> dict[str, int]:
    return {v.name: v.weight for v in p.production_variants}


@pytest.mark.parametrize(
    ("strategy", "raw", "prod", "shadow"),
    [
        ("recreate", single({"recreate": {}}), {"primary": 100}, {}),
        (
            "shadow",
            two(
                {"shadow": {"production": "stable", "shadow": "candidate", "sampling_percent": 30}}
            ),
            {"stable": 100},
            {"candidate": 30},
        ),
        ("canary", canary(), {"stable": 95, "candidate": 5}, {}),
        (
            "ab",
            two({"ab": {"weights": {"stable": 70, "candidate": 30}}}),
            {"stable": 70, "candidate": 30},
            {},
        ),
        (
            "ab",
            two({"ab": {"weights": {"stable": 100, "candidate": 0}}}),
            {"stable": 100, "candidate": 0},
            {},
        ),
        ("blue_green", single({"blue_green": {}}), {"primary": 100}, {}),
        (
            "rolling",
            single({"rolling": {"maximum_batch_size": {"value": 25}}}),
            {"primary": 100},
            {},
        ),
    ],
)
def test_each_strategy_plans_its_variants_and_initial_weights(
    strategy: str, raw: dict[str, Any], prod: dict[str, int], shadow: dict[str, int]
) -> None:
    p = plan_of(raw)
    assert p.strategy == strategy
    assert weights(p) == prod
    assert {v.name: v.weight for v in p.shadow_variants} == shadow


def test_a_zero_weight_stays_zero_and_the_dark_variant_is_still_declared() -> None:
    p = plan_of(two({"ab": {"weights": {"stable": 100, "candidate": 0}}}))
    cand = next(v for v in p.production_variants if v.name == "candidate")
    assert cand.weight == 0
    assert {m.key for m in p.models} == {"v1", "v2"}


@pytest.mark.parametrize(
    ("strategy", "raw", "downtime", "speed", "live", "extra", "to_full"),
    [
        ("recreate", single({"recreate": {}}, count=2), True, "redeploy", False, 0, 0),
        (
            "shadow",
            two({"shadow": {"production": "stable", "shadow": "candidate"}}),
            False,
            "instant",
            True,
            1,
            None,
        ),
        ("canary", canary(), False, "instant", True, 1, 1800),
        (
            "ab",
            two({"ab": {"weights": {"stable": 1, "candidate": 1}}}),
            False,
            "instant",
            True,
            1,
            None,
        ),
        (
            "blue_green",
            single({"blue_green": {"traffic_routing": {"wait_seconds": 120}}}, count=4),
            False,
            "fast",
            False,
            4,
            0,
        ),
        (
            "bg linear",
            single(
                {
                    "blue_green": {
                        "traffic_routing": {
                            "type": "linear",
                            "linear_step": {"value": 25},
                            "wait_seconds": 300,
                        }
                    }
                },
                count=4,
            ),
            False,
            "fast",
            True,
            4,
            900,
        ),
        (
            "rolling",
            single(
                {"rolling": {"maximum_batch_size": {"value": 25}, "wait_seconds": 300}}, count=8
            ),
            False,
            "slow",
            True,
            2,
            900,
        ),
    ],
)
def test_profile_reproduces_the_strategy_comparison(
    strategy: str,
    raw: dict[str, Any],
    downtime: bool,
    speed: str,
    live: bool,
    extra: int,
    to_full: int | None,
) -> None:
    prof = plan_of(raw).profile
    assert (prof.downtime, prof.rollback_speed, prof.live_traffic_test) == (downtime, speed, live)
    assert prof.extra_instances == extra
    assert prof.time_to_full_seconds == to_full
    if to_full is None:
        assert prof.extra_instance_hours is None
    else:
        assert prof.extra_instance_hours is not None and prof.extra_instance_hours >= 0


def test_profile_follows_the_config_not_a_table() -> None:
    slow = plan_of(with_key(canary(), "endpoints.fraud.strategy.canary.bake_seconds", 1200)).profile
    fast = plan_of(canary()).profile
    assert slow.time_to_full_seconds == 2 * (fast.time_to_full_seconds or 0)
    bigger = plan_of(with_key(canary(), "endpoints.fraud.variants[1].instance_count", 3)).profile
    assert bigger.extra_instances == 3


def test_canary_steps_end_at_100_and_the_timeline_accumulates_bakes() -> None:
    raw = with_key(
        canary(), "endpoints.fraud.strategy.canary.steps", [5, {"percent": 50, "bake_seconds": 60}]
    )
    p = plan_of(raw)
    assert [(s.candidate_percent, s.bake_seconds) for s in rollout_of(p).steps] == [
        (5, 600),
        (50, 60),
        (100, 600),
    ]
    # The final bake at 100% is drawn too: it ends the rollout.
    assert p.timeline == ((0, 5), (600, 50), (660, 100), (1260, 100))


def test_canary_that_ends_at_100_gets_no_extra_step() -> None:
    p = plan_of(with_key(canary(), "endpoints.fraud.strategy.canary.steps", [10, 100]))
    assert [s.candidate_percent for s in rollout_of(p).steps] == [10, 100]


def test_canary_gates_on_candidate_alarms_and_holds_on_its_sample_alarm() -> None:
    p = plan_of(canary())
    spec = rollout_of(p)
    assert spec is not None
    gate_names = {a.name for a in p.alarms if a.gate}
    assert set(spec.gate_alarms) == gate_names
    assert all(a.variant == "candidate" for a in p.alarms if a.gate)
    assert spec.sample_alarm == "fraud-detector-candidate-low-traffic"
    sample = next(a for a in p.alarms if a.name == spec.sample_alarm)
    assert (sample.metric, sample.comparison, sample.treat_missing_data) == (
        "Invocations",
        "LessThanThreshold",
        "breaching",
    )
    assert sample.threshold == 100 and sample.period_seconds == 600 and not sample.gate


def test_canary_without_minimum_sample_has_no_sample_alarm() -> None:
    p = plan_of(with_key(canary(), "endpoints.fraud.strategy.canary.min_invocations", 0))
    assert rollout_of(p).sample_alarm is None
    assert not any(a.metric == "Invocations" for a in p.alarms)


def test_rollout_id_changes_with_the_candidate_and_the_attempt_only() -> None:
    base = rollout_of(plan_of(canary()))
    steps_changed = rollout_of(
        plan_of(with_key(canary(), "endpoints.fraud.strategy.canary.steps", [10]))
    )
    retried = rollout_of(plan_of(with_key(canary(), "endpoints.fraud.strategy.canary.attempt", 2)))
    new_model = rollout_of(
        plan_of(
            with_key(canary(), "endpoints.fraud.models.v2.model_data_url", "s3://b/v3/m.tar.gz")
        )
    )
    assert base and steps_changed and retried and new_model
    assert base.rollout_id == steps_changed.rollout_id
    assert len({base.rollout_id, retried.rollout_id, new_model.rollout_id}) == 3
    assert retried.rollout_id.endswith("/2")


def test_rollout_spec_survives_json_for_the_lambda() -> None:
    spec = rollout_of(plan_of(canary()))
    assert spec is not None
    assert RolloutSpec.from_json(spec.to_json()) == spec


@pytest.mark.parametrize("pct", [0, 5, 50, 100])
def test_sagemaker_weights_never_negative_and_some_variant_serves(pct: int) -> None:
    spec = rollout_of(plan_of(canary()))
    assert spec is not None
    w = sagemaker_weights(spec, pct)
    assert all(x >= 0 for x in w.values()) and sum(w.values()) == 100
    assert w[spec.candidate_variant] == pct


def test_per_variant_alarms_carry_endpoint_and_variant_dimensions() -> None:
    p = plan_of(two({"ab": {"weights": {"stable": 1, "candidate": 1}}}))
    for a in p.alarms:
        dims = dict(a.dimensions)
        assert dims["EndpointName"] == "fraud-detector"
        assert dims["VariantName"] == a.variant
    latency = next(a for a in p.alarms if a.metric == "ModelLatency")
    assert latency.extended_statistic == "p99" and latency.statistic is None
    assert latency.threshold == 1000 * 1000.0  # default 1000 ms, in microseconds


def test_errors_4xx_alarm_is_optional() -> None:
    assert not any(a.metric == "Invocation4XXErrors" for a in plan_of(canary()).alarms)
    on = plan_of(
        with_key(canary(), "endpoints.fraud.alarms.errors_4xx", {"enabled": True, "threshold": 5})
    )
    assert sum(a.metric == "Invocation4XXErrors" for a in on.alarms) == 2


def test_custom_alarm_from_config() -> None:
    raw = with_key(
        single({"blue_green": {}}),
        "endpoints.svc.alarms.custom",
        [
            {
                "key": "drift",
                "namespace": "Acme/Drift",
                "metric": "psi",
                "statistic": "Maximum",
                "threshold": 0.25,
                "period_seconds": 300,
                "treat_missing_data": "notBreaching",
                "variant": "primary",
            }
        ],
    )
    p = plan_of(raw)
    drift = next(a for a in p.alarms if a.key == "drift")
    assert (drift.name, drift.namespace, drift.metric, drift.statistic) == (
        "svc-drift",
        "Acme/Drift",
        "psi",
        "Maximum",
    )
    assert dict(drift.dimensions) == {"EndpointName": "svc", "VariantName": "primary"}
    assert drift.gate and drift in p.gate_alarms


@pytest.mark.parametrize(
    ("routing", "expected"),
    [
        ({}, ("ALL_AT_ONCE", None, None)),
        (
            {"type": "canary", "canary_size": {"type": "instance_count", "value": 1}},
            ("CANARY", ("INSTANCE_COUNT", 1), None),
        ),
        (
            {"type": "linear", "linear_step": {"value": 20}},
            ("LINEAR", None, ("CAPACITY_PERCENT", 20)),
        ),
    ],
)
def test_blue_green_deployment_config(routing: dict[str, Any], expected: tuple[Any, ...]) -> None:
    p = plan_of(
        single({"blue_green": {"traffic_routing": routing, "termination_wait_seconds": 120}})
    )
    d = native_of(p)
    assert isinstance(d, BlueGreenPlan)
    size = None if d.canary_size is None else (d.canary_size.type, d.canary_size.value)
    step = None if d.linear_step is None else (d.linear_step.type, d.linear_step.value)
    assert (d.routing, size, step) == expected
    assert d.termination_wait_seconds == 120
    assert p.gate_alarms and all(a.variant == "primary" for a in p.gate_alarms if a.variant)


def test_rolling_deployment_config() -> None:
    p = plan_of(
        single(
            {
                "rolling": {
                    "maximum_batch_size": {"type": "instance_count", "value": 2},
                    "wait_seconds": 60,
                    "rollback_maximum_batch_size": {"value": 50},
                }
            },
            count=8,
        )
    )
    d = native_of(p)
    assert isinstance(d, RollingPlan)
    assert (d.maximum_batch_size.type, d.maximum_batch_size.value) == ("INSTANCE_COUNT", 2)
    assert d.rollback_maximum_batch_size is not None and d.rollback_maximum_batch_size.value == 50
    assert p.timeline[-1] == (180, 100)  # 4 batches of 25%, 60 s apart


def test_recreate_replaces_the_endpoint_and_nothing_else_does() -> None:
    assert isinstance(plan_of(single({"recreate": {}})).strategy_plan, RecreatePlan)
    assert not isinstance(plan_of(canary()).strategy_plan, RecreatePlan)


@pytest.mark.parametrize(
    ("itype", "mode", "expected"),
    [
        ("ml.m5.large", "auto", True),
        ("ml.m5d.large", "auto", False),
        ("ml.g4dn.xlarge", "auto", False),
        ("ml.g5.xlarge", "auto", False),
        ("ml.c5.xlarge", "off", False),
        ("ml.c5.xlarge", "on", True),
    ],
)
def test_volume_kms_only_where_sagemaker_allows(itype: str, mode: str, expected: bool) -> None:
    p = plan_of(with_key(single({"recreate": {}}, itype=itype), "endpoints.svc.volume_kms", mode))
    assert p.endpoint_kms is expected


def test_shadow_captures_by_default_and_stack_shares_bucket_and_key() -> None:
    raw = two({"shadow": {"production": "stable", "shadow": "candidate"}})
    plan = build_plan(load_config(raw), project="sagemaker-rollouts", stack="s")
    dc = plan.endpoints[0].data_capture
    assert dc is not None and dc.sampling_percent == 100 and dc.kms
    assert plan.needs_capture_bucket and plan.needs_kms_key and plan.state_table_name is None


def test_canary_stack_gets_a_state_table() -> None:
    plan = build_plan(load_config(canary()), project="sagemaker-rollouts", stack="prod")
    assert plan.state_table_name == "sagemaker-rollouts-prod-rollouts"


def test_framework_models_resolve_to_published_images_offline() -> None:
    raw = with_key(
        canary(),
        "endpoints.fraud.models.v1",
        {
            "framework": "xgboost",
            "framework_version": "1.7-1",
            "model_data_url": "s3://b/v1/model.tar.gz",
        },
    )
    p = plan_of(raw)
    assert (
        p.model("v1").image
        == "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    )


def test_tags_merge_stack_endpoint_and_managed_tags() -> None:
    p = plan_of(with_key(canary(), "endpoints.fraud.tags", {"owner": "risk"}))
    tags = dict(p.tags)
    assert tags["team"] == "fraud" and tags["owner"] == "risk"
    assert tags["rollouts:strategy"] == "canary" and tags["managed-by"] == "sagemaker-rollouts"


def test_strategies_import_neither_pulumi_nor_boto3() -> None:
    for path in (ROOT / "strategies").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for n in names:
                assert n.split(".")[0] not in {
                    "pulumi",
                    "pulumi_aws",
                    "boto3",
                    "infra",
                    "lambdas",
                }, f"{path.name} imports {n}"


@pytest.mark.parametrize("stack_file", sorted(ROOT.glob("Pulumi.*.yaml")), ids=lambda p: p.name)
def test_every_sample_stack_plans(stack_file: pathlib.Path) -> None:
    from sagemaker_rollouts.cli.stack import load_stack

    plan = load_stack(stack_file.parent, stack_file.name.split(".")[1]).plan
    assert plan.endpoints
    for e in plan.endpoints:
        assert all(v.weight >= 0 for v in e.production_variants)
        assert sum(v.weight for v in e.production_variants) > 0


def test_sagemaker_sdk_is_imported_only_for_stacks_that_name_a_framework() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from sagemaker_rollouts.strategies.config import load_config; from sagemaker_rollouts.strategies.planner import build_plan;"
        "from tests.stackdata import canary; build_plan(load_config(canary()), project='p', stack='s');"
        "print('sagemaker' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "False"
