"""CloudWatch metric alarms declared from their plans (`strategies.plan.AlarmPlan`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws as aws

from sagemaker_rollouts.strategies.plan import AlarmPlan, alarm_tags


def metric_alarm(
    resource_name: str,
    alarm: AlarmPlan,
    *,
    dimensions: Mapping[str, pulumi.Input[str]] | None,
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
    **actions: Any,
) -> aws.cloudwatch.MetricAlarm:
    """`aws.cloudwatch.MetricAlarm` `resource_name` on one metric, as `alarm` plans it (its
    statistic or extended statistic, threshold, periods in seconds, missing-data treatment).

    Tagged with `tags` and the alarm's role and key (`plan.alarm_tags`), which `rollout status`
    and `history` read back. `dimensions`: the metric's (None for none); `actions`:
    `alarm_actions`, `ok_actions` (topic ARNs), passed as given.
    """
    return aws.cloudwatch.MetricAlarm(
        resource_name,
        name=alarm.name,
        alarm_description=alarm.description,
        namespace=alarm.namespace,
        metric_name=alarm.metric,
        dimensions=dimensions,
        statistic=alarm.statistic,
        extended_statistic=alarm.extended_statistic,
        threshold=alarm.threshold,
        comparison_operator=alarm.comparison,
        period=alarm.period_seconds,
        evaluation_periods=alarm.evaluation_periods,
        datapoints_to_alarm=alarm.datapoints_to_alarm,
        treat_missing_data=alarm.treat_missing_data,
        tags={**tags, **alarm_tags(alarm)},
        opts=opts,
        **actions,
    )
