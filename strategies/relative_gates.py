"""Canary gates relative to the stable variant: a regression judged against the live baseline.

An absolute gate ("candidate 5xx > 1 per minute", "candidate p99 > 1 s") fires on a bad day for
both fleets and stays quiet on a candidate that is twice as slow as a fast stable fleet. These
gates compare the candidate with the stable variant serving the same traffic at the same time:

- `error_rate`: candidate 5xx rate minus the stable variant's, in percentage points per period,
  `100 * Invocation5XXErrors / Invocations` for each variant (AWS/SageMaker, per-variant metrics
  with EndpointName and VariantName dimensions);
- `latency_p99`: candidate p99 ModelLatency divided by the stable variant's.

Each is ONE CloudWatch metric alarm whose `Metrics` array holds the per-variant `MetricStat`
queries and one expression with `ReturnData` true (PutMetricAlarm, `Metrics`: "One item in the
Metrics array is the expression that the alarm watches. You designate this expression by setting
ReturnData to true"). A plain metric alarm, not a composite: the canary hook reads it with
DescribeAlarms like every gate (its name is in the rollout's `gate_alarms`), and it is the same
kind of alarm SageMaker's `AutoRollbackConfiguration` takes (strategies/rollback.py builds the
blue/green and rolling endpoints' rollback alarm the same way). A blue/green or rolling endpoint
keeps one variant name for both fleets, so per-variant metrics cannot tell old from new there:
relative gates exist for the canary, where stable and candidate are two variants.

Guarding the ratios: a period where the candidate served fewer than `min_invocations` reads 0
(too few requests to judge a rate, and a 5% canary at low traffic would otherwise fire on one
error); the sample alarm supplies the "enough evidence" half. Missing metrics are FILLed (an
absent 5xx count is 0 errors, the way SageMaker omits zero counts), and a stable variant with no
traffic or no latency reads 0 rather than dividing by zero. `IF` and `FILL` are CloudWatch metric
math functions; comparisons inside an expression yield 1 or 0.

Limits checked before anything is declared (`config_problems`): query ids match the API's
MetricDataQuery `Id` rule ("letters, numbers, and underscore. The first character must be a
lowercase letter", botocore `MetricId` 1..255), the expression is 1..2048 characters
(`MetricExpression`), exactly one query returns data, at most `MAX_METRICS` (10) metrics per alarm
(CloudWatch User Guide, metric math alarms; see strategies/rollback.py), and the alarm name fits
`AlarmName`. Pure: no pulumi, no boto3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sagemaker_rollouts.strategies import aws_limits
from sagemaker_rollouts.strategies.rollback import MAX_METRICS

if TYPE_CHECKING:
    from sagemaker_rollouts.strategies.config import (
        RelativeErrorRate,
        RelativeGatesConfig,
        RelativeLatency,
    )
    from sagemaker_rollouts.strategies.plan import Comparison, TreatMissingData

SAGEMAKER_NS = "AWS/SageMaker"
EXPRESSION_ID = "e1"
_ID = re.compile(r"[a-z][A-Za-z0-9_]*")
_EXPRESSION_MAX = int(aws_limits.SHAPES["cloudwatch.MetricExpression"]["max"])
_ID_MAX = int(aws_limits.SHAPES["cloudwatch.MetricId"]["max"])
_NAME_MAX = int(aws_limits.SHAPES["cloudwatch.AlarmName"]["max"])


@dataclass(frozen=True, slots=True)
class MathMetric:
    """One `MetricStat` query of a metric-math alarm (ReturnData false)."""

    id: str
    label: str
    namespace: str
    metric: str
    stat: str  # "Sum", "p99"
    period_seconds: int
    dimensions: tuple[tuple[str, str], ...]  # EndpointName and VariantName


@dataclass(frozen=True, slots=True)
class RelativeAlarmPlan:
    """A gate alarm on `expression` (the one query with ReturnData true, id `EXPRESSION_ID`)
    over `metrics`. `threshold` is in the expression's unit: percentage points or a ratio."""

    key: str  # "relative.error_rate", "relative.latency_p99"
    name: str
    expression: str
    label: str
    metrics: tuple[MathMetric, ...]
    threshold: float
    comparison: Comparison
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing_data: TreatMissingData
    candidate: str
    stable: str
    description: str


def _dims(endpoint: str, variant: str) -> tuple[tuple[str, str], ...]:
    return (("EndpointName", endpoint), ("VariantName", variant))


def _n(value: float) -> str:
    return f"{value:.12g}"


@dataclass(frozen=True, slots=True)
class _GateMath:
    """One relative gate: its per-variant metrics (`(id, "candidate"|"stable", metric, stat)`),
    its expression, label and description as templates over `{candidate}`, `{stable}`,
    `{min}` (min_invocations), `{threshold}` and `{endpoint}`, and the alarm name's suffix."""

    suffix: str
    metrics: tuple[tuple[str, str, str, str], ...]
    expression: str
    label: str
    description: str


_STABLE_RATE = "IF(FILL(stab_inv, 0) > 0, 100 * FILL(stab_err, 0) / FILL(stab_inv, 1), 0)"
# The relative gates, by config key: the candidate judged against the stable variant.
GATES: dict[str, _GateMath] = {
    # Candidate 5xx rate minus stable's (percentage points) > threshold.
    "error_rate": _GateMath(
        suffix="5xx-rate",
        metrics=(
            ("cand_err", "candidate", "Invocation5XXErrors", "Sum"),
            ("cand_inv", "candidate", "Invocations", "Sum"),
            ("stab_err", "stable", "Invocation5XXErrors", "Sum"),
            ("stab_inv", "stable", "Invocations", "Sum"),
        ),
        expression="IF(FILL(cand_inv, 0) >= {min}, "
        f"100 * FILL(cand_err, 0) / FILL(cand_inv, 1) - {_STABLE_RATE}, 0)",
        label="{candidate} 5xx rate minus {stable}'s (percentage points)",
        description="5xx rate of {candidate} more than {threshold} points above {stable}'s on "
        "endpoint {endpoint}",
    ),
    # Candidate p99 ModelLatency / stable's > threshold.
    "latency_p99": _GateMath(
        suffix="p99-ratio",
        metrics=(
            ("cand_p99", "candidate", "ModelLatency", "p99"),
            ("cand_inv", "candidate", "Invocations", "Sum"),
            ("stab_p99", "stable", "ModelLatency", "p99"),
        ),
        expression="IF(FILL(cand_inv, 0) >= {min}, "
        "IF(FILL(stab_p99, 0) > 0, FILL(cand_p99, 0) / FILL(stab_p99, 1), 0), 0)",
        label="{candidate} p99 latency / {stable}'s",
        description="p99 ModelLatency of {candidate} more than {threshold}x {stable}'s on "
        "endpoint {endpoint}",
    ),
}


def gate_alarm(
    endpoint: str,
    stable: str,
    candidate: str,
    key: str,
    cfg: RelativeErrorRate | RelativeLatency,
    path: str,
) -> RelativeAlarmPlan:
    """The alarm of relative gate `key` (a `GATES` key) of `candidate` against `stable`: its
    expression above the configured threshold for the configured periods (datapoints default to
    every period), named `<endpoint>-<candidate>-vs-<stable>-<suffix>`."""
    gate = GATES[key]
    words = {
        "candidate": candidate,
        "stable": stable,
        "endpoint": endpoint,
        "min": cfg.min_invocations,
        "threshold": _n(cfg.threshold),
    }
    variant = {"candidate": candidate, "stable": stable}
    p = cfg.period_seconds
    metrics = tuple(
        MathMetric(
            mid,
            f"{variant[who]} {metric}" + ("" if stat == "Sum" else f" {stat}"),
            SAGEMAKER_NS,
            metric,
            stat,
            p,
            _dims(endpoint, variant[who]),
        )
        for mid, who, metric, stat in gate.metrics
    )
    dta = cfg.evaluation_periods if cfg.datapoints_to_alarm is None else cfg.datapoints_to_alarm
    return RelativeAlarmPlan(
        key=f"relative.{key}",
        name=f"{endpoint}-{candidate}-vs-{stable}-{gate.suffix}",
        expression=gate.expression.format(**words),
        label=gate.label.format(**words),
        metrics=metrics,
        threshold=float(cfg.threshold),
        comparison="GreaterThanThreshold",
        evaluation_periods=cfg.evaluation_periods,
        datapoints_to_alarm=dta,
        treat_missing_data=cfg.treat_missing_data,
        candidate=candidate,
        stable=stable,
        description=f"{gate.description.format(**words)} ({path}.{key})",
    )


def relative_alarms(
    endpoint: str, stable: str, candidate: str, cfg: RelativeGatesConfig | None, path: str
) -> tuple[RelativeAlarmPlan, ...]:
    """The enabled relative gates of a canary (none without `relative_gates`)."""
    if cfg is None:
        return ()
    gates = (("error_rate", cfg.error_rate), ("latency_p99", cfg.latency_p99))
    return tuple(
        gate_alarm(endpoint, stable, candidate, key, gate, path)
        for key, gate in gates
        if gate.enabled
    )


def math_alarm_problems(alarm: RelativeAlarmPlan, path: str) -> list[str]:
    """What PutMetricAlarm would refuse in this metric-math alarm, as `path: message` lines."""
    errs: list[str] = []
    ids = [m.id for m in alarm.metrics] + [EXPRESSION_ID]
    for mid in ids:
        if not _ID.fullmatch(mid) or len(mid) > _ID_MAX:
            errs.append(
                f"{path}: query id {mid!r} must start with a lowercase letter and hold only "
                f"letters, digits and _ (1..{_ID_MAX}; CloudWatch MetricDataQuery Id)"
            )
    if len(set(ids)) != len(ids):
        errs.append(f"{path}: query ids must be unique within the alarm, got {ids}")
    if len(alarm.metrics) > MAX_METRICS:
        errs.append(
            f"{path}: a metric-math alarm takes at most {MAX_METRICS} metrics, got "
            f"{len(alarm.metrics)}"
        )
    if not 1 <= len(alarm.expression) <= _EXPRESSION_MAX:
        errs.append(
            f"{path}: the expression is {len(alarm.expression)} characters; CloudWatch takes "
            f"1..{_EXPRESSION_MAX} (MetricDataQuery Expression)"
        )
    known = set(ids)
    for ref in re.findall(r"\b[a-z][A-Za-z0-9_]*\b", alarm.expression):
        if ref not in known and ref.upper() not in ("IF", "FILL"):
            errs.append(f"{path}: the expression names {ref!r}, which is no query of the alarm")
    if len(alarm.name) > _NAME_MAX:
        errs.append(
            f"{path}: alarm name {alarm.name!r} is {len(alarm.name)} characters; CloudWatch "
            f"takes at most {_NAME_MAX} (AlarmName)"
        )
    return errs


def config_problems(path: str, cfg: RelativeGatesConfig) -> list[str]:
    """Every limit problem of the gates `cfg` declares, with the longest names the config allows
    (63-character endpoint and variant names), so no stack can pass here and fail at AWS."""
    long_name = "x" * 63
    errs: list[str] = []
    for alarm in relative_alarms(long_name, "y" * 63, "z" * 63, cfg, path):
        errs.extend(math_alarm_problems(alarm, f"{path}.{alarm.key.split('.')[1]}"))
    return errs
