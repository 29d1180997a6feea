"""After a canary completes, the idle stable fleet is scaled down after a delay, and the plan
counts what it costs (lambdas/scale_down.py, lambdas/canary_hook.py `_scale_down_stable`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sagemaker_rollouts.cli.stack import load_stack
from sagemaker_rollouts.lambdas.scale_down import MIN_INSTANCES, scale_down_target
from tests.moto_fixtures import T0, World, patch_response
from tests.plan_fixtures import rollout_of

ROOT = Path(__file__).resolve().parents[2]
MakeWorld = Callable[..., World]
BAKE = 301.0


@pytest.mark.parametrize(
    ("delay", "completed_at", "now", "count", "expected"),
    [
        (600, 1000.0, 1599.0, 3, None),  # still in the delay: a fast way back
        (600, 1000.0, 1600.0, 3, MIN_INSTANCES),
        (0, 1000.0, 1000.0, 2, MIN_INSTANCES),
        (600, 1000.0, 5000.0, 1, None),  # already at the minimum
        (None, 1000.0, 5000.0, 3, None),  # scale-down off
        (600, None, 5000.0, 3, None),  # completion time unknown: never guess
        (600, 1000.0, 5000.0, None, None),  # instance count not reported
    ],
)
def test_scale_down_target(
    delay: int | None, completed_at: float | None, now: float, count: int | None, expected: Any
) -> None:
    target = scale_down_target(
        delay_seconds=delay, completed_at=completed_at, now=now, stable_instances=count
    )
    assert target == expected


def _complete(w: World) -> float:
    for i in range(4):
        w.tick(T0 + i * BAKE)
    state = w.state()
    assert state is not None and state.status == "completed"
    return T0 + 3 * BAKE


def _capacity_calls(w: World) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append(dict(params))

    w.clients.sagemaker.meta.events.register(
        "provide-client-params.sagemaker.UpdateEndpointWeightsAndCapacities", record
    )
    return calls


def _three_stable_instances(w: World) -> None:
    """AWS reports each variant's CurrentInstanceCount; moto drops it after a weight update."""

    def edit(r: dict[str, Any]) -> None:
        for v in r["ProductionVariants"]:
            if v["VariantName"] == w.spec.stable_variant:
                v["CurrentInstanceCount"] = 3

    patch_response(w.clients.sagemaker, "DescribeEndpoint", edit)


def test_the_stable_fleet_is_scaled_down_after_the_delay_and_only_then(
    make_world: MakeWorld,
) -> None:
    w = make_world(scale_down_delay_seconds=600)
    done = _complete(w)
    _three_stable_instances(w)
    calls = _capacity_calls(w)
    assert w.tick(done + 60)["scaled_down"] is None  # within the delay: full fleet kept
    assert calls == []
    result = w.tick(done + 600)
    assert result["scaled_down"] == MIN_INSTANCES
    assert calls == [
        {
            "EndpointName": w.spec.endpoint_name,
            "DesiredWeightsAndCapacities": [
                {"VariantName": w.spec.stable_variant, "DesiredInstanceCount": MIN_INSTANCES}
            ],
        }
    ]
    # No DesiredWeight in the call: SageMaker keeps the weights (moto's answer drops them, a
    # known moto gap, so the live weights are not read back here).


def test_without_a_delay_the_stable_fleet_is_left_for_pulumi_up(make_world: MakeWorld) -> None:
    w = make_world(scale_down_delay_seconds=None)
    done = _complete(w)
    _three_stable_instances(w)
    calls = _capacity_calls(w)
    assert w.tick(done + 10_000)["scaled_down"] is None
    assert calls == []


def test_the_completion_notice_says_what_happens_to_the_stable_fleet(
    make_world: MakeWorld,
) -> None:
    w = make_world(scale_down_delay_seconds=900)
    _complete(w)
    (done,) = [p for p in w.recorder.published if "completed" in p["body"]["Subject"]]
    per_protocol = json.loads(done["body"]["Message"])
    text = json.loads(per_protocol["sqs"])["next"]
    assert "900 s" in text and "scaled to 1 instance" in text
    assert "next `pulumi up` removes it" in text
    assert text in per_protocol["email"]


def test_the_canary_profile_counts_the_final_bake_and_the_idle_stable_fleet() -> None:
    """Pulumi.canary.yaml: steps 5/25/50 then 100, 600 s bakes, stable 2 x, candidate 1 x."""
    plan = load_stack(ROOT, "canary").plan.endpoint("fraud")
    spec = rollout_of(plan)
    assert spec is not None and spec.scale_down_delay_seconds == 600
    to_full = 3 * 600
    assert plan.profile.time_to_full_seconds == to_full
    assert plan.timeline[-1] == (to_full + 600, 100)  # the final bake, drawn in the PNG
    # candidate 1 x 1800 s below 100%, then stable 2 x (600 s final bake + 600 s delay)
    assert plan.profile.extra_instance_hours == pytest.approx((1 * 1800 + 2 * 1200) / 3600, 1e-3)


def test_the_plan_png_ends_with_the_final_bake(monkeypatch: pytest.MonkeyPatch) -> None:
    """The drawn timeline and the profile agree: 100% is reached at time_to_full and held for
    the final bake, where the chart ends."""
    from sagemaker_rollouts.cli import cmd_plan, timeline

    drawn: list[Any] = []
    monkeypatch.setattr(
        timeline, "write_png", lambda path, title, series, *_, **__: drawn.extend(series)
    )
    stack = load_stack(ROOT, "canary")
    cmd_plan.draw_plan(stack, Path("unused.png"))
    (series,) = drawn
    plan = stack.plan.endpoint("fraud")
    assert plan.profile.time_to_full_seconds is not None
    assert series.points[-2] == (float(plan.profile.time_to_full_seconds), 100.0)
    assert series.points[-1] == (float(plan.profile.time_to_full_seconds + 600), 100.0)
