"""Blue/green and rolling timing as AWS documents it: the config check, the plan's profile and the
guardrails emulator (strategies/guardrails.py, rule S5) count the same waits, in whole instances.

Stands in for SageMaker's deployment guardrails: the emulator is our model of them, so the
property here is that a config the plan accepts completes in the emulator before its
MaximumExecutionTimeoutInSeconds, and one it refuses for its timeout can only time out.
"""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagemaker_rollouts.strategies.blue_green import capacity
from sagemaker_rollouts.strategies.config import (
    NVME_KMS_DOC,
    ConfigError,
    config_warnings,
    has_local_nvme,
    load_config,
)
from sagemaker_rollouts.strategies.guardrails import emulate, update_waits
from sagemaker_rollouts.strategies.plan import BlueGreenPlan, RollingPlan
from sagemaker_rollouts.strategies.planner import build_plan
from tests.plan_fixtures import native_of
from tests.stackdata import single, with_key

SVC = "endpoints.svc"


def _plan(raw: dict[str, Any]):  # type: ignore[no-untyped-def]
    cfg = load_config(raw, region="us-east-1")
    return build_plan(cfg, project="p", stack="s", region="us-east-1").endpoints[0], cfg


def _errors(raw: dict[str, Any]) -> list[str]:
    """Config and plan-level errors (the plan also refuses deployments that outlast the AWS
    provider's one-hour wait, strategies/deploy_checks.py)."""
    try:
        cfg = load_config(raw, region="us-east-1")
        build_plan(cfg, project="p", stack="s", region="us-east-1")
    except ConfigError as exc:
        return exc.errors
    return []


def test_aws_canary_example_plans_and_completes_within_its_timeout() -> None:
    """SageMaker's blue/green canary documentation: canary 30%, wait 600, termination wait 600,
    timeout 1,800. The bake at full traffic is the termination wait, so the waits are 1,200 s."""
    raw = single(
        {
            "blue_green": {
                "traffic_routing": {
                    "type": "canary",
                    "canary_size": {"type": "capacity_percent", "value": 30},
                    "wait_seconds": 600,
                },
                "termination_wait_seconds": 600,
                "max_execution_timeout_seconds": 1800,
            }
        },
        count=10,
    )
    ep, _ = _plan(raw)
    assert isinstance(native_of(ep), BlueGreenPlan)
    assert update_waits(native_of(ep), 10)[0] == 1200
    assert ep.profile.time_to_full_seconds == 600
    assert ep.profile.extra_instance_hours == pytest.approx(10 * 1200 / 3600, abs=1e-3)
    run = emulate(native_of(ep), 10, [a.name for a in ep.gate_alarms], [], horizon=10**6)
    assert (run.outcome, run.ended_at) == ("completed", 1200)


# (label, strategy, fleet, expected waits in seconds)
WAITS = [
    (
        "linear 1 of 3, wait 600: 3 steps, 2 bakes between them",
        {
            "blue_green": {
                "traffic_routing": {
                    "type": "linear",
                    "linear_step": {"type": "instance_count", "value": 1},
                    "wait_seconds": 600,
                }
            }
        },
        3,
        1200,
    ),
    (
        "linear 1 of 3 with a termination wait of 600",
        {
            "blue_green": {
                "traffic_routing": {
                    "type": "linear",
                    "linear_step": {"type": "instance_count", "value": 1},
                    "wait_seconds": 600,
                },
                "termination_wait_seconds": 600,
            }
        },
        3,
        1800,
    ),
    (
        "linear 10% of 3 rounds up to 1 instance: 3 steps, not 10",
        {
            "blue_green": {
                "traffic_routing": {
                    "type": "linear",
                    "linear_step": {"type": "capacity_percent", "value": 10},
                    "wait_seconds": 600,
                }
            }
        },
        3,
        1200,
    ),
    (
        "rolling 1 of 3, wait 600: every batch is baked",
        {
            "rolling": {
                "maximum_batch_size": {"type": "instance_count", "value": 1},
                "wait_seconds": 600,
            }
        },
        3,
        1800,
    ),
    (
        "rolling 5% of 3 is 1 instance: 3 batches, not 20",
        {
            "rolling": {
                "maximum_batch_size": {"type": "capacity_percent", "value": 5},
                "wait_seconds": 600,
            }
        },
        3,
        1800,
    ),
    (
        "all at once: the bake is the termination wait",
        {"blue_green": {"termination_wait_seconds": 900}},
        4,
        900,
    ),
]


@pytest.mark.parametrize(
    ("strategy", "fleet", "waits"), [w[1:] for w in WAITS], ids=[w[0] for w in WAITS]
)
def test_waits_are_counted_from_instances(strategy: dict[str, Any], fleet: int, waits: int) -> None:
    ep, _ = _plan(single(strategy, count=fleet))
    assert isinstance(native_of(ep), BlueGreenPlan | RollingPlan)
    assert update_waits(native_of(ep), fleet)[0] == waits
    run = emulate(native_of(ep), fleet, ["a"], [], horizon=10**6)
    assert (run.outcome, run.ended_at) == ("completed", waits)
    # the timeout check follows: one second more than the waits plans, the waits exactly do not
    name = next(iter(strategy))
    key = f"{SVC}.strategy.{name}.max_execution_timeout_seconds"
    if waits + 1 >= 600:
        assert _errors(with_key(single(strategy, count=fleet), key, waits + 1)) == []
    if waits >= 600:
        errors = _errors(with_key(single(strategy, count=fleet), key, waits))
        assert [e for e in errors if e.startswith(f"{key}: ")], errors
        assert f"({waits} s:" in errors[0]


SIZE = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["capacity_percent", "instance_count"]),
        "value": st.integers(1, 60),
    }
)
WAIT = st.sampled_from([0, 60, 300, 600, 1800, 3600])
TIMEOUT = st.one_of(st.none(), st.integers(600, 14400))
BLUE_GREEN = st.fixed_dictionaries(
    {
        "traffic_routing": st.one_of(
            st.fixed_dictionaries({"type": st.just("all_at_once"), "wait_seconds": WAIT}),
            st.fixed_dictionaries(
                {"type": st.just("canary"), "canary_size": SIZE, "wait_seconds": WAIT}
            ),
            st.fixed_dictionaries(
                {"type": st.just("linear"), "linear_step": SIZE, "wait_seconds": WAIT}
            ),
        ),
        "termination_wait_seconds": WAIT,
        "max_execution_timeout_seconds": TIMEOUT,
    }
).map(lambda d: {"blue_green": d})
ROLLING = st.fixed_dictionaries(
    {
        "maximum_batch_size": SIZE,
        "wait_seconds": WAIT,
        "rollback_maximum_batch_size": st.one_of(st.none(), SIZE),
        "max_execution_timeout_seconds": TIMEOUT,
    }
).map(lambda d: {"rolling": d})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strategy=st.one_of(BLUE_GREEN, ROLLING), fleet=st.integers(1, 40))
def test_plan_checks_and_emulator_agree(strategy: dict[str, Any], fleet: int) -> None:
    """For any generated blue/green or rolling config: accepted -> the emulator completes at the
    counted waits, before the timeout, on the plan's timeline; refused for its timeout -> the
    emulator times out as soon as provisioning takes any time at all."""
    raw = single(strategy, count=fleet)
    name = next(iter(strategy))
    timeout_key = f"{SVC}.strategy.{name}.max_execution_timeout_seconds"
    errors = _errors(raw)
    timeout_errors = [e for e in errors if e.startswith(f"{timeout_key}: ")]
    other = [e for e in errors if e not in timeout_errors]
    if other:
        return  # a size outside AWS's documented range: not an update the emulator can run
    body = strategy[name]
    if name == "blue_green":
        r = body["traffic_routing"]
        policy: BlueGreenPlan | RollingPlan = BlueGreenPlan(
            routing=r["type"].upper(),
            wait_seconds=r["wait_seconds"],
            canary_size=_cap(r.get("canary_size")),
            linear_step=_cap(r.get("linear_step")),
            termination_wait_seconds=body["termination_wait_seconds"],
            max_execution_timeout_seconds=body["max_execution_timeout_seconds"],
        )
    else:
        policy = RollingPlan(
            maximum_batch_size=_cap(body["maximum_batch_size"]),  # type: ignore[arg-type]
            wait_seconds=body["wait_seconds"],
            rollback_maximum_batch_size=_cap(body["rollback_maximum_batch_size"]),
            max_execution_timeout_seconds=body["max_execution_timeout_seconds"],
        )
    waits, _ = update_waits(policy, fleet)
    timeout = body["max_execution_timeout_seconds"]
    late = emulate(policy, fleet, ["a"], [], horizon=10**6, provisioning_seconds=1)
    if timeout_errors:
        assert timeout is not None and timeout <= waits
        assert f"({waits} s:" in timeout_errors[0]
        assert late.outcome == "rolled_back"
        assert late.rollback_reason is not None and "timeout" in late.rollback_reason
        return
    assert timeout is None or timeout > waits
    assert late.outcome == "completed" and late.ended_at == waits + _provisions(policy, fleet)
    ep, _ = _plan(raw)
    assert native_of(ep) == policy
    run = emulate(policy, fleet, ["a"], [], horizon=10**6)
    assert (run.outcome, run.ended_at) == ("completed", waits)
    assert run.time_to_full_seconds == ep.profile.time_to_full_seconds
    assert run.timeline == ep.timeline
    assert ep.profile.extra_instance_hours == pytest.approx(
        run.extra_instance_seconds(10**6) / 3600, abs=1e-3
    )


def _cap(size: dict[str, Any] | None):  # type: ignore[no-untyped-def]
    if size is None:
        return None
    from sagemaker_rollouts.strategies.config import Size

    return capacity(Size.model_validate(size))


def _provisions(policy: BlueGreenPlan | RollingPlan, fleet: int) -> int:
    """How many provisioning phases (one second each above) the update runs through."""
    if isinstance(policy, BlueGreenPlan):
        return 1
    from sagemaker_rollouts.strategies.guardrails import instances_of

    return -(-fleet // instances_of(policy.maximum_batch_size, fleet))


# --------------------------------------------------------------------------- KMS on local NVMe


def test_nvme_kms_text_is_the_current_create_endpoint_config_doc() -> None:
    """The rule follows botocore's CreateEndpointConfig KmsKeyId text, which no longer says the
    call fails on instances with local storage."""
    model = botocore.session.get_session().get_service_model("sagemaker")
    doc = model.shape_for("CreateEndpointConfigInput").members["KmsKeyId"].documentation
    assert "does not encrypt instance local storage" in doc
    assert "fails" not in doc
    assert "does not encrypt instance local storage" in NVME_KMS_DOC


@pytest.mark.parametrize(
    "itype", ["ml.g5.xlarge", "ml.m5d.large", "ml.g4dn.xlarge", "ml.p4d.24xlarge"]
)
def test_volume_kms_on_local_nvme_plans_with_the_key_and_a_warning(itype: str) -> None:
    assert has_local_nvme(itype)
    raw = with_key(single({"recreate": {}}, itype=itype), f"{SVC}.volume_kms", "on")
    ep, cfg = _plan(raw)
    assert ep.endpoint_kms is True
    warnings = [w for w in config_warnings(cfg) if w.startswith(f"{SVC}.volume_kms: ")]
    assert len(warnings) == 1 and itype in warnings[0]
    assert "does not encrypt instance local storage" in warnings[0]


@pytest.mark.parametrize(("itype", "mode"), [("ml.g5.xlarge", "auto"), ("ml.m5.large", "on")])
def test_no_kms_warning_where_the_key_covers_the_volume_or_is_left_off(
    itype: str, mode: str
) -> None:
    _, cfg = _plan(with_key(single({"recreate": {}}, itype=itype), f"{SVC}.volume_kms", mode))
    assert not [w for w in config_warnings(cfg) if w.startswith(f"{SVC}.volume_kms")]


@pytest.mark.parametrize(("term", "warned"), [(0, True), (300, False)])
def test_all_at_once_without_a_termination_wait_warns_that_nothing_bakes(
    term: int, warned: bool
) -> None:
    _, cfg = _plan(single({"blue_green": {"termination_wait_seconds": term}}))
    key = f"{SVC}.strategy.blue_green.termination_wait_seconds: "
    assert any(w.startswith(key) for w in config_warnings(cfg)) is warned


@pytest.mark.parametrize(
    ("strategy", "itype", "warned"),
    [
        ({"rolling": {"maximum_batch_size": {"value": 25}}}, "ml.inf1.xlarge", True),
        ({"blue_green": {"termination_wait_seconds": 60}}, "ml.inf1.6xlarge", True),
        ({"blue_green": {"termination_wait_seconds": 60}}, "ml.inf2.xlarge", False),
    ],
)
def test_inf1_endpoints_warn_that_guardrails_fall_back_to_all_at_once(
    strategy: dict[str, Any], itype: str, warned: bool
) -> None:
    """deployment-guardrails-exclusions: Inf1 endpoints cannot use deployment guardrails and fall
    back to all at once with no final baking period; AWS accepts the update, so the plan warns."""
    _, cfg = _plan(single(strategy, itype=itype))
    name = next(iter(strategy))
    key = f"{SVC}.strategy.{name}: "
    assert any(w.startswith(key) and "falls back" in w for w in config_warnings(cfg)) is warned
