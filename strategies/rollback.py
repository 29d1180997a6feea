"""The one rollback alarm SageMaker's guardrails watch, built from an endpoint's gate alarms.

Why one alarm with a stable name: the AWS provider that pulumi-aws bridges marks
`deployment_config.auto_rollback_configuration` **ForceNew** (terraform-provider-aws
`internal/service/sagemaker/endpoint.go`, schema of `aws_sagemaker_endpoint`). Listing the gate
alarms there by name would replace the live endpoint whenever a gate is added, removed, renamed or
disabled. So the endpoint lists exactly one alarm, `<endpoint>-rollback`, forever; its *definition*
is a CloudWatch metric-math expression over the gate metrics, and changing a metric alarm's
metrics, threshold or window is an in-place `PutMetricAlarm` (only `alarm_name` is ForceNew).

A plain metric alarm is used rather than a composite alarm: SageMaker's docs say the
auto-rollback alarms are CloudWatch alarms "configured to monitor metrics on an endpoint"
(API_AutoRollbackConfig) and neither allow nor forbid composite alarms.

The expression: each gate becomes `FILL(m<i> <op> <threshold>, <missing>)` (1 while the gate's
condition holds, 0 otherwise; `<missing>` is 1 when the gate treats missing data as breaching),
and the alarm watches `MAX([...]) >= 1`. Limits (CloudWatch "Limits that apply to alarms based
on metric math expressions"): at most 10 metrics per alarm, so at most 10 gates. Each metric keeps
its gate's own period (PutMetricAlarm: "you specify the period for each metric within the
objects in the Metrics array"); how CloudWatch aligns mixed periods inside one expression is not
documented, so gates with equal periods (the default, 60 s) are the well-trodden path. A metric
alarm has one evaluation window: the rollback alarm uses the most sensitive
(fewest datapoints to alarm, shortest window) among its gates, so SageMaker rolls back no later
than the slowest-to-fire reading of any single gate's own window would suggest, and possibly
earlier. Each gate keeps its own per-gate alarm (for `rollout status` and dashboards).

Pure: no pulumi, no boto3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import assert_never

from sagemaker_rollouts.strategies.plan import (
    ABPlan,
    AlarmPlan,
    BlueGreenPlan,
    CanaryPlan,
    Comparison,
    EndpointPlan,
    RecreatePlan,
    RollingPlan,
    ShadowPlan,
)

MAX_METRICS = 10  # CloudWatch: an alarm on a metric-math expression references at most 10 metrics
ROLLBACK_SUFFIX = "-rollback"

_OPERATOR: dict[Comparison, str] = {
    "GreaterThanOrEqualToThreshold": ">=",
    "GreaterThanThreshold": ">",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
}


@dataclass(frozen=True, slots=True)
class RollbackMetric:
    """One gate metric inside the rollback alarm (a `MetricStat` query, id `m<i>`)."""

    id: str
    gate_key: str  # the per-gate alarm's plan key, e.g. "primary.errors_5xx"
    namespace: str
    metric: str
    stat: str  # "Sum", "Average", "p99" ...
    period_seconds: int
    dimensions: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class RollbackAlarmPlan:
    """The endpoint's single auto-rollback alarm: `MAX([gate conditions]) >= 1`.

    `name` depends only on the endpoint name, so SageMaker's `AutoRollbackConfiguration` never
    changes. The evaluation window is the gates' most sensitive one.
    """

    name: str
    expression: str
    metrics: tuple[RollbackMetric, ...]
    evaluation_periods: int
    datapoints_to_alarm: int
    description: str


def rollback_alarm_name(endpoint_name: str) -> str:
    """`<endpoint>-rollback`: the only alarm name SageMaker's deployment config ever carries."""
    return f"{endpoint_name}{ROLLBACK_SUFFIX}"


def _number(value: float) -> str:
    return f"{value:.12g}"


def gate_condition(metric_id: str, gate: AlarmPlan) -> str:
    """`FILL(m1 > 5, 0)`: 1 while the gate's condition holds; missing data per the gate."""
    missing = 1 if gate.treat_missing_data == "breaching" else 0
    op = _OPERATOR[gate.comparison]
    return f"FILL({metric_id} {op} {_number(gate.threshold)}, {missing})"


def rollback_alarm(plan: EndpointPlan) -> RollbackAlarmPlan | None:
    """The rollback alarm of a blue/green or rolling endpoint; None for other strategies or none
    with no gates. Raises ValueError past `MAX_METRICS` gates (the planner reports it first)."""
    gates = plan.gate_alarms
    match plan.strategy_plan:
        case BlueGreenPlan() | RollingPlan():
            if not gates:
                return None
        case RecreatePlan() | ShadowPlan() | CanaryPlan() | ABPlan():
            return None  # SageMaker rolls back only blue/green and rolling deployments
        case _:
            assert_never(plan.strategy_plan)
    if len(gates) > MAX_METRICS:
        raise ValueError(f"{len(gates)} gate alarms, a metric-math alarm takes {MAX_METRICS}")
    metrics: list[RollbackMetric] = []
    terms: list[str] = []
    for i, gate in enumerate(gates, start=1):
        mid = f"m{i}"
        stat = gate.extended_statistic if gate.statistic is None else gate.statistic
        assert stat is not None
        metrics.append(
            RollbackMetric(
                id=mid,
                gate_key=gate.key,
                namespace=gate.namespace,
                metric=gate.metric,
                stat=stat,
                period_seconds=gate.period_seconds,
                dimensions=gate.dimensions,
            )
        )
        terms.append(gate_condition(mid, gate))
    return RollbackAlarmPlan(
        name=rollback_alarm_name(plan.endpoint_name),
        expression=f"MAX([{', '.join(terms)}])",
        metrics=tuple(metrics),
        evaluation_periods=min(g.evaluation_periods for g in gates),
        datapoints_to_alarm=min(g.datapoints_to_alarm for g in gates),
        description=f"SageMaker auto-rollback of {plan.endpoint_name}: any of "
        + ", ".join(g.name for g in gates),
    )
