"""The per-endpoint CloudWatch dashboard: pure body builder, and what every sample stack declares."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from sagemaker_rollouts.simulator.mockrun import OfflineRun, run_offline, stack_name_of
from sagemaker_rollouts.strategies import dashboard
from sagemaker_rollouts.strategies.plan import EndpointPlan
from tests import plan_fixtures as fx

ROOT = Path(__file__).resolve().parents[2]
STACKS = sorted(ROOT.glob("Pulumi.*.yaml"))
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
PLANS = [fx.recreate(), fx.ab_with_dark_variant(), fx.shadow(), fx.blue_green(), fx.canary()]


def metrics_of(body: dict[str, Any], metric: str) -> list[list[Any]]:
    return [
        row
        for w in body["widgets"]
        if w["type"] == "metric"
        for row in w["properties"]["metrics"]
        if row[1] == metric
    ]


def body_of(ep: EndpointPlan, arns: list[str] | None = None, **kw: Any) -> dict[str, Any]:
    return dashboard.dashboard_body(ep, region="eu-west-1", stack="s", alarm_arns=arns or [], **kw)


@pytest.mark.parametrize("ep", PLANS, ids=lambda p: p.strategy)
def test_every_variant_has_traffic_errors_and_latency(ep: EndpointPlan) -> None:
    body = body_of(ep)
    variants = {v.name for v in (*ep.production_variants, *ep.shadow_variants)}
    for metric in ("Invocations", "Invocation4XXErrors", "Invocation5XXErrors"):
        rows = metrics_of(body, metric)
        assert {r[5] for r in rows} == variants
        assert all(
            r[:4] == ["AWS/SageMaker", metric, "EndpointName", ep.endpoint_name] for r in rows
        )
    latency = metrics_of(body, "ModelLatency")
    assert {(r[5], r[6]["stat"]) for r in latency} == {
        (v, s) for v in variants for s in ("p50", "p99")
    }


@pytest.mark.parametrize("ep", PLANS, ids=lambda p: p.strategy)
def test_widgets_fit_the_grid_without_overlap(ep: EndpointPlan) -> None:
    seen: set[tuple[int, int]] = set()
    for w in body_of(ep, ["arn:a"], sections=[lambda e: [{"type": "text", "properties": {}}]] * 2)[
        "widgets"
    ]:
        assert w["x"] >= 0 and w["x"] + w["width"] <= dashboard.WIDTH
        cells = {
            (x, y)
            for x in range(w["x"], w["x"] + w["width"])
            for y in range(w["y"], w["y"] + w["height"])
        }
        assert not cells & seen
        seen |= cells


def test_canary_shows_candidate_weight_and_step_from_the_hook_metrics() -> None:
    ep = fx.canary()
    body = body_of(ep)
    for metric in ("CandidateWeight", "Step"):
        (row,) = metrics_of(body, metric)
        assert row[:4] == [
            fx.rollout_of(ep).metric_namespace,
            metric,
            "EndpointName",
            ep.endpoint_name,
        ]
    assert not metrics_of(body_of(fx.blue_green()), "CandidateWeight")


def test_alarm_states_and_extension_sections() -> None:
    ep = fx.canary()
    arns = [f"arn:aws:cloudwatch:eu-west-1:1:alarm:{a.name}" for a in ep.alarms]
    body = body_of(ep, arns)
    (alarms,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert alarms["properties"]["alarms"] == arns
    assert not [w for w in body_of(ep)["widgets"] if w["type"] == "alarm"]

    def drift(e: EndpointPlan) -> list[dict[str, Any]]:
        return [{"type": "metric", "properties": {"title": f"drift {e.endpoint_name}"}}]

    extended = body_of(ep, sections=[drift])
    assert [w for w in extended["widgets"] if w["properties"].get("title", "").startswith("drift")]
    dashboard.SECTIONS.append(drift)
    try:
        assert len(body_of(ep)["widgets"]) == len(extended["widgets"])
    finally:
        dashboard.SECTIONS.remove(drift)


@pytest.mark.parametrize("region", ["us-east-1", "ap-southeast-2", "us-gov-west-1"])
def test_dashboard_names_are_valid_and_per_region(region: str) -> None:
    longest = "e" * 63
    name = dashboard.dashboard_name(longest, region)
    assert dashboard.is_valid_dashboard_name(name)
    assert name != dashboard.dashboard_name(longest, "eu-west-1")
    assert dashboard.dashboard_url(region, name).startswith(f"https://{region}.console.aws")


@cache
def offline(stack_file: Path) -> OfflineRun:
    run = run_offline(stack_file)
    run.raise_error()
    return run


@pytest.mark.parametrize("stack_file", STACKS, ids=[stack_name_of(s) for s in STACKS])
def test_each_endpoint_of_a_sample_stack_gets_its_dashboard(stack_file: Path) -> None:
    run = offline(stack_file)
    region = run.config.get("aws:region", "us-east-1")
    boards = {d.inputs["dashboardName"]: d for d in run.of_type(DASHBOARD)}
    alarm_arns = {
        a.inputs["name"]: f"arn:aws:cloudwatch:{region}:123456789012:alarm:{a.inputs['name']}"
        for a in run.of_type(ALARM)
    }
    assert set(run.outputs["dashboards"].values()) == set(boards)
    for key, endpoint_name in run.outputs["endpoint_names"].items():
        name = dashboard.dashboard_name(endpoint_name, region)
        assert run.outputs["dashboards"][key] == name
        body = json.loads(boards[name].inputs["dashboardBody"])
        (alarms,) = [w for w in body["widgets"] if w["type"] == "alarm"]
        assert alarms["properties"]["alarms"] == [
            alarm_arns[n] for n in run.outputs["alarm_names"][key]
        ]
        assert metrics_of(body, "Invocations")
