"""The one rollback alarm of a blue/green or rolling endpoint (strategies/rollback.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from sagemaker_rollouts.infra.render import render
from sagemaker_rollouts.simulator.mockrun import OfflineRun, run_function_offline
from sagemaker_rollouts.strategies.plan import AlarmPlan, Comparison, EndpointPlan
from sagemaker_rollouts.strategies.rollback import gate_condition, rollback_alarm
from tests import plan_fixtures as fx

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def run(plan: EndpointPlan) -> OfflineRun:
    result = run_function_offline(lambda: render(fx.deployment(plan)), stack="test")
    result.raise_error()
    return result


@pytest.mark.parametrize(
    ("comparison", "missing", "expected"),
    [
        ("GreaterThanThreshold", "notBreaching", "FILL(m1 > 5, 0)"),
        ("GreaterThanOrEqualToThreshold", "missing", "FILL(m1 >= 5, 0)"),
        ("LessThanThreshold", "breaching", "FILL(m1 < 5, 1)"),
        ("LessThanOrEqualToThreshold", "ignore", "FILL(m1 <= 5, 0)"),
    ],
)
def test_each_gate_condition_keeps_its_comparison_and_missing_data(
    comparison: Comparison, missing: Any, expected: str
) -> None:
    gate = replace(fx.alarm("e", "v"), comparison=comparison, treat_missing_data=missing)
    assert gate_condition("m1", gate) == expected


def test_the_rollback_alarm_covers_every_gate_with_the_most_sensitive_window() -> None:
    plan = fx.blue_green()
    slow = replace(fx.alarm(plan.endpoint_name, "primary", "latency"), key="slow")
    slow = replace(slow, evaluation_periods=5, datapoints_to_alarm=4, period_seconds=300)
    plan = replace(plan, alarms=(*plan.alarms, slow))
    found = rollback_alarm(plan)
    assert found is not None
    assert found.name == "search-bg-rollback"
    assert [m.gate_key for m in found.metrics] == [a.key for a in plan.gate_alarms]
    assert found.expression == (
        "MAX([FILL(m1 > 5, 0), FILL(m2 > 250000, 0), FILL(m3 > 250000, 0)])"
    )
    assert [m.period_seconds for m in found.metrics] == [60, 60, 300]
    assert (found.evaluation_periods, found.datapoints_to_alarm) == (3, 2)


@pytest.mark.parametrize("plan", [fx.endpoint(), fx.canary()], ids=["recreate", "canary"])
def test_only_sagemaker_native_deployments_get_a_rollback_alarm(plan: EndpointPlan) -> None:
    assert rollback_alarm(plan) is None


def test_non_gate_alarms_stay_out_of_the_rollback_alarm() -> None:
    plan = fx.blue_green()
    quiet = replace(fx.alarm(plan.endpoint_name, "primary", "latency"), key="info", gate=False)
    found = rollback_alarm(replace(plan, alarms=(*plan.alarms, quiet)))
    assert found is not None and "info" not in [m.gate_key for m in found.metrics]


def _put_metric_alarm_params(inputs: dict[str, Any]) -> dict[str, Any]:
    """The PutMetricAlarm request the provider would send for the recorded inputs.

    Numbers arrive from the mock engine as floats (protobuf Value); the provider sends the
    schema's integers, so integer fields are converted back here.
    """
    queries: list[dict[str, Any]] = []
    for q in inputs["metricQueries"]:
        item: dict[str, Any] = {"Id": q["id"], "ReturnData": q.get("returnData", False)}
        if "expression" in q:
            item["Expression"] = q["expression"]
            item["Label"] = q["label"]
        else:
            m = q["metric"]
            item["MetricStat"] = {
                "Metric": {
                    "Namespace": m["namespace"],
                    "MetricName": m["metricName"],
                    "Dimensions": [{"Name": k, "Value": v} for k, v in m["dimensions"].items()],
                },
                "Period": int(m["period"]),
                "Stat": m["stat"],
            }
        queries.append(item)
    return {
        "AlarmName": inputs["name"],
        "Metrics": queries,
        "Threshold": inputs["threshold"],
        "ComparisonOperator": inputs["comparisonOperator"],
        "EvaluationPeriods": int(inputs["evaluationPeriods"]),
        "DatapointsToAlarm": int(inputs["datapointsToAlarm"]),
        "TreatMissingData": inputs["treatMissingData"],
    }


@pytest.mark.parametrize("plan", [fx.blue_green("CANARY"), fx.rolling()], ids=["bg", "rolling"])
def test_the_rendered_rollback_alarm_is_a_valid_metric_math_put_metric_alarm(
    plan: EndpointPlan,
) -> None:
    """botocore's CloudWatch model accepts the request; one query returns data; <= 10 metrics."""
    result = run(plan)
    alarms = {r.inputs["name"]: r.inputs for r in result.of_type(ALARM)}
    inputs = alarms[f"{plan.endpoint_name}-rollback"]
    params = _put_metric_alarm_params(inputs)
    model = botocore.session.get_session().get_service_model("cloudwatch")
    report = ParamValidator().validate(params, model.operation_model("PutMetricAlarm").input_shape)
    assert not report.has_errors(), report.generate_report()
    returning = [q for q in params["Metrics"] if q["ReturnData"]]
    assert len(returning) == 1 and returning[0]["Expression"].startswith("MAX([")
    assert sum("MetricStat" in q for q in params["Metrics"]) <= 10
    assert "metricName" not in inputs and "period" not in inputs  # math alarms take neither
    # Every per-gate alarm is still declared on its own, for `rollout status` and dashboards.
    assert {a.name for a in plan.gate_alarms} <= set(alarms)


def test_the_execution_role_may_describe_only_the_rollback_alarm() -> None:
    """SageMaker deployment guardrails: the execution role needs cloudwatch:DescribeAlarms on the
    auto-rollback alarms (SageMaker Developer Guide, deployment-guardrails-configuration)."""
    plan = replace(fx.blue_green(), models=(fx.model("m1", execution_role_arn=None),))
    policies = [json.loads(r.inputs["policy"]) for r in run(plan).of_type(ROLE_POLICY)]
    grants = [
        s
        for p in policies
        for s in p["Statement"]
        if "cloudwatch:DescribeAlarms"
        in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    ]
    assert len(grants) == 1
    assert grants[0]["Resource"] == [
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:search-bg-rollback"
    ]


def test_a_canary_or_recreate_role_gets_no_alarm_read() -> None:
    plan = replace(fx.endpoint(), models=(fx.model("m1", execution_role_arn=None),))
    text = " ".join(r.inputs["policy"] for r in run(plan).of_type(ROLE_POLICY))
    assert "cloudwatch:DescribeAlarms" not in text


def _gate(i: int) -> AlarmPlan:
    return replace(fx.alarm("search-bg", "primary"), key=f"g{i}", name=f"search-bg-g{i}")


def test_more_than_ten_gates_cannot_make_one_rollback_alarm() -> None:
    plan = replace(fx.blue_green(), alarms=tuple(_gate(i) for i in range(11)))
    with pytest.raises(ValueError, match="10"):
        rollback_alarm(plan)
