"""The SageMaker deployment-guardrails emulator (strategies/guardrails.py): one table row per
documented rule, and its timeline against the plan's profile for every sample stack."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sagemaker_rollouts.cli.stack import load_stack
from sagemaker_rollouts.strategies.config import load_config
from sagemaker_rollouts.strategies.guardrails import AlarmChange, emulate, instances_of
from sagemaker_rollouts.strategies.plan import (
    BlueGreenPlan,
    CapacitySize,
    EndpointPlan,
    RollingPlan,
)
from sagemaker_rollouts.strategies.planner import build_plan
from tests import stackdata
from tests.plan_fixtures import native_of

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_STACKS = sorted(p.stem.removeprefix("Pulumi.") for p in ROOT.glob("Pulumi.*.yaml"))


def _names_a_native_strategy(stack: str) -> bool:
    """Some endpoint of the sample stack's YAML chooses blue_green or rolling. Only those stacks
    are planned here, while the module is collected: planning `dev` would import the sagemaker
    SDK's image tables (about 2 s) in every test worker."""
    config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    endpoints = config.get("sagemaker-rollouts:endpoints") or {}
    return any(
        {"blue_green", "rolling"} & set(ep.get("strategy") or {}) for ep in endpoints.values()
    )


def _native_endpoints() -> list[tuple[str, EndpointPlan]]:
    out: list[tuple[str, EndpointPlan]] = []
    for name in filter(_names_a_native_strategy, SAMPLE_STACKS):
        for ep in load_stack(ROOT, name).plan.endpoints:
            if isinstance(ep.strategy_plan, BlueGreenPlan | RollingPlan):
                out.append((f"{name}:{ep.key}", ep))
    # the two routings the sample stacks do not use, and an uneven fleet
    for label, strategy, count in (
        ("all_at_once", {"blue_green": {"traffic_routing": {"type": "all_at_once"}}}, 4),
        (
            "linear-3",
            {
                "blue_green": {
                    "traffic_routing": {
                        "type": "linear",
                        "linear_step": {"type": "instance_count", "value": 1},
                        "wait_seconds": 300,
                    },
                    "termination_wait_seconds": 120,
                }
            },
            3,
        ),
        (
            "rolling-5",
            {
                "rolling": {
                    "maximum_batch_size": {"type": "instance_count", "value": 2},
                    "wait_seconds": 240,
                }
            },
            5,
        ),
    ):
        cfg = load_config(stackdata.single(strategy, count=count), region="us-east-1")
        plan = build_plan(cfg, project="p", stack="s", region="us-east-1")
        out.append((label, plan.endpoints[0]))
    return out


NATIVE = _native_endpoints()


def test_sample_stacks_include_blue_green_and_rolling() -> None:
    kinds = {type(ep.strategy_plan).__name__ for _, ep in NATIVE}
    assert kinds == {"BlueGreenPlan", "RollingPlan"}


@pytest.mark.parametrize(("label", "ep"), NATIVE, ids=[label for label, _ in NATIVE])
def test_emulated_timeline_matches_the_plan_profile(label: str, ep: EndpointPlan) -> None:
    assert isinstance(ep.strategy_plan, BlueGreenPlan | RollingPlan)
    fleet = ep.production_variants[0].instance_count
    alarms = [a.name for a in ep.gate_alarms]
    run = emulate(native_of(ep), fleet, alarms, [], horizon=10**6)
    assert run.outcome == "completed"
    assert run.time_to_full_seconds == ep.profile.time_to_full_seconds
    assert max(v for _, v in run.capacity) == ep.profile.extra_instances
    hours = run.extra_instance_seconds(10**6) / 3600
    assert ep.profile.extra_instance_hours is not None
    assert hours == pytest.approx(ep.profile.extra_instance_hours, abs=1e-3)
    # the share steps are the plan's timeline (repeated points dropped)
    planned: list[tuple[int, int]] = []
    for point in ep.timeline:
        if not planned or planned[-1][1] != point[1]:
            planned.append(point)
    assert list(run.timeline[: len(planned)]) == planned


def _bg(
    routing: str = "CANARY",
    wait: int = 600,
    term: int = 300,
    timeout: int | None = None,
    size: CapacitySize | None = None,
) -> BlueGreenPlan:
    return BlueGreenPlan(
        routing=routing,  # type: ignore[arg-type]
        wait_seconds=wait,
        canary_size=size if routing == "CANARY" else None,
        linear_step=size if routing == "LINEAR" else None,
        termination_wait_seconds=term,
        max_execution_timeout_seconds=timeout,
    )


def _rolling(batch: int = 2, wait: int = 300, rollback: int | None = None) -> RollingPlan:
    return RollingPlan(
        maximum_batch_size=CapacitySize("INSTANCE_COUNT", batch),
        wait_seconds=wait,
        rollback_maximum_batch_size=None
        if rollback is None
        else CapacitySize("INSTANCE_COUNT", rollback),
        max_execution_timeout_seconds=None,
    )


ONE = CapacitySize("INSTANCE_COUNT", 1)
A = "alarm-a"

# (rule, policy, fleet, changes, provisioning, reaction, horizon,
#  expected outcome, expected (t, %) timeline, expected end)
RULES = [
    (
        "BG: the whole green fleet is provisioned before any traffic moves",
        _bg(size=ONE),
        4,
        [],
        900,
        0,
        10**5,
        "completed",
        [(0, 0), (900, 25), (1500, 100), (1800, 0)][:3],
        900 + 600 + 300,
    ),
    (
        "CAN: an alarm during the canary bake sends all traffic back to blue at once",
        _bg(size=ONE),
        4,
        [AlarmChange(300, A, "ALARM")],
        0,
        0,
        10**5,
        "rolled_back",
        [(0, 0), (0, 25), (300, 0)],
        300,
    ),
    (
        "S5/EVT: the bake at full traffic is the termination wait: an alarm in it rolls back",
        _bg(size=ONE),
        4,
        [AlarmChange(750, A, "ALARM")],
        0,
        0,
        10**5,
        "rolled_back",
        [(0, 0), (0, 25), (600, 100), (750, 0)],
        750,
    ),
    (
        "S5/TRC: no WaitIntervalInSeconds bake after the last step: blue goes after the "
        "termination wait, so a later alarm changes nothing",
        _bg(size=ONE),
        4,
        [AlarmChange(950, A, "ALARM")],
        0,
        0,
        10**5,
        "completed",
        [(0, 0), (0, 25), (600, 100), (900, 0)][:3],
        900,
    ),
    (
        "CAN: AWS's own example (canary 30%, wait 600, termination 600, timeout 1800) completes",
        _bg(size=CapacitySize("CAPACITY_PERCENT", 30), wait=600, term=600, timeout=1800),
        10,
        [],
        0,
        0,
        10**5,
        "completed",
        [(0, 0), (0, 30), (600, 100)],
        1200,
    ),
    (
        "S4: an alarm while the green fleet is provisioned is not watched; it trips the first bake",
        _bg(size=ONE),
        4,
        [AlarmChange(100, A, "ALARM"), AlarmChange(200, A, "OK")],
        900,
        0,
        10**5,
        "completed",
        [(0, 0), (900, 25), (1500, 100)],
        1800,
    ),
    (
        "S3: an alarm already in ALARM when a bake starts trips it at once",
        _bg(size=ONE),
        4,
        [AlarmChange(100, A, "ALARM")],
        900,
        0,
        10**5,
        "rolled_back",
        [(0, 0), (900, 25), (900, 0)],
        900,
    ),
    (
        "S2: the rollback comes alarm_reaction_seconds after the alarm",
        _bg(size=ONE),
        4,
        [AlarmChange(300, A, "ALARM")],
        0,
        60,
        10**5,
        "rolled_back",
        [(0, 0), (0, 25), (360, 0)],
        360,
    ),
    (
        "INSUFFICIENT_DATA does not trip a bake (only ALARM does)",
        _bg(size=ONE),
        4,
        [AlarmChange(300, A, "INSUFFICIENT_DATA")],
        0,
        0,
        10**5,
        "completed",
        [(0, 0), (0, 25), (600, 100)],
        900,
    ),
    (
        "ALL/S5: all at once shifts 100% at once; its bake is the termination wait",
        _bg("ALL_AT_ONCE", term=600),
        4,
        [AlarmChange(599, A, "ALARM")],
        0,
        0,
        10**5,
        "rolled_back",
        [(0, 0), (0, 100), (599, 0)],
        599,
    ),
    (
        "ALL/S5: all at once with no termination wait has no bake: blue goes at once",
        _bg("ALL_AT_ONCE", term=0),
        4,
        [AlarmChange(1, A, "ALARM")],
        0,
        0,
        10**5,
        "completed",
        [(0, 0), (0, 100)],
        0,
    ),
    (
        "LIN: linear steps of 1 of 4 instances, a bake between two steps",
        _bg("LINEAR", wait=300, term=0, size=ONE),
        4,
        [],
        0,
        0,
        10**5,
        "completed",
        [(0, 0), (0, 25), (300, 50), (600, 75), (900, 100)],
        900,
    ),
    (
        "S7: linear steps of 10% of 3 instances are 1 instance each: 3 steps, not 10",
        _bg("LINEAR", wait=600, term=600, size=CapacitySize("CAPACITY_PERCENT", 10)),
        3,
        [],
        0,
        0,
        10**5,
        "completed",
        [(0, 0), (0, 33), (600, 67), (1200, 100)],
        1800,
    ),
    (
        "LIN: an alarm in the third step rolls everything back at once",
        _bg("LINEAR", wait=300, term=0, size=ONE),
        4,
        [AlarmChange(700, A, "ALARM")],
        0,
        0,
        10**5,
        "rolled_back",
        [(0, 0), (0, 25), (300, 50), (600, 75), (700, 0)],
        700,
    ),
    (
        "S6: exceeding the maximum execution timeout rolls back",
        _bg(size=ONE, timeout=800),
        4,
        [],
        0,
        0,
        10**5,
        "rolled_back",
        [(0, 0), (0, 25), (600, 100), (800, 0)],
        800,
    ),
    (
        "S6: the timeout counts provisioning: waits of 900 s in a 1000 s timeout fail when the "
        "green fleet takes 200 s to come up",
        _bg(size=ONE, timeout=1000),
        4,
        [],
        200,
        0,
        10**5,
        "rolled_back",
        [(0, 0), (200, 25), (800, 100), (1000, 0)],
        1000,
    ),
    (
        "horizon: a rehearsal that ends mid-update leaves it in progress",
        _bg(size=ONE),
        4,
        [],
        0,
        0,
        700,
        "in_progress",
        [(0, 0), (0, 25), (600, 100)],
        None,
    ),
    (
        "ROL: batches of 2 of 8, each baked",
        _rolling(),
        8,
        [],
        0,
        0,
        10**5,
        "completed",
        [(0, 0), (0, 25), (300, 50), (600, 75), (900, 100)],
        1200,
    ),
    (
        "ROL: default rollback batch is 100%: all old capacity back in one step",
        _rolling(),
        8,
        [AlarmChange(650, A, "ALARM")],
        0,
        0,
        10**5,
        "rolled_back",
        [(0, 0), (0, 25), (300, 50), (600, 75), (650, 0)],
        650,
    ),
    (
        "ROL: rollback batch size 2, 60 s provisioning: the share falls batch by batch",
        _rolling(rollback=2),
        8,
        [AlarmChange(650, A, "ALARM")],
        60,
        0,
        10**5,
        "rolled_back",
        [(0, 0), (60, 25), (420, 50), (710, 25), (770, 0)],
        770,
    ),
]


@pytest.mark.parametrize(
    (
        "rule",
        "policy",
        "fleet",
        "changes",
        "prov",
        "react",
        "horizon",
        "outcome",
        "timeline",
        "end",
    ),
    RULES,
    ids=[r[0].split(":")[0] + "-" + str(i) for i, r in enumerate(RULES)],
)
def test_guardrail_rule(
    rule: str,
    policy: BlueGreenPlan | RollingPlan,
    fleet: int,
    changes: list[AlarmChange],
    prov: int,
    react: int,
    horizon: int,
    outcome: str,
    timeline: list[tuple[int, int]],
    end: int | None,
) -> None:
    run = emulate(
        policy,
        fleet,
        [A],
        changes,
        horizon,
        provisioning_seconds=prov,
        alarm_reaction_seconds=react,
    )
    assert run.outcome == outcome, rule
    assert list(run.timeline[: len(timeline)]) == timeline, (rule, run.timeline)
    assert run.ended_at == end, (rule, run.events)


@pytest.mark.parametrize(
    ("size", "fleet", "want"),
    [
        (CapacitySize("INSTANCE_COUNT", 1), 4, 1),
        (CapacitySize("INSTANCE_COUNT", 9), 4, 4),
        (CapacitySize("CAPACITY_PERCENT", 25), 8, 2),
        (CapacitySize("CAPACITY_PERCENT", 10), 4, 1),  # rounds up to a whole instance
        (CapacitySize("CAPACITY_PERCENT", 5), 3, 1),
    ],
)
def test_capacity_sizes_in_instances(size: CapacitySize, fleet: int, want: int) -> None:
    assert instances_of(size, fleet) == want


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match="fleet"):
        emulate(_rolling(), 0, [A], [], 100)
    with pytest.raises(ValueError, match="horizon"):
        emulate(_rolling(), 4, [A], [], -1)
