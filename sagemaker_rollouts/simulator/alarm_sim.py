"""The rehearsal's stand-in for CloudWatch alarm evaluation.

moto stores alarms and metric data but never evaluates an alarm from its metric: every alarm stays
in the state it was last set to (OK at creation). A rehearsal therefore evaluates, itself, every
alarm whose metric the scenario feeds (most importantly the canary's low-traffic sample alarm from
candidate Invocations) and pushes the result with SetAlarmState, as CloudWatch would on its own.
Alarms whose metric the scenario never feeds follow the scenario's explicit `alarm` events only.

Pure: metric levels in, alarm state out; the caller does the AWS calls.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sagemaker_rollouts.strategies.plan import AlarmPlan

AlarmState = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]


@dataclass(frozen=True, slots=True)
class MetricSeries:
    """A metric the scenario feeds: `value` per minute from each change time on.

    `changes` are (seconds, value-per-minute) sorted by time; before the first change there is no
    data at all (CloudWatch would have no datapoints).
    """

    changes: tuple[tuple[int, float], ...]

    def level_at(self, t: float) -> float | None:
        level: float | None = None
        for at, value in self.changes:
            if at > t:
                break
            level = value
        return level

    def datapoint(self, start: float, end: float, statistic: str) -> float | None:
        """The period's datapoint: Sum/SampleCount integrate the per-minute level; the other
        statistics (Average, percentiles ...) read the level itself. None: no data in the period."""
        cuts = sorted({start, end, *(at for at, _ in self.changes if start < at < end)})
        total = 0.0
        covered = 0.0
        weighted = 0.0
        for a, b in itertools.pairwise(cuts):
            level = self.level_at(a)
            if level is None:
                continue
            total += level * (b - a) / 60.0
            weighted += level * (b - a)
            covered += b - a
        if covered == 0:
            return None
        if statistic in ("Sum", "SampleCount"):
            return total
        return weighted / covered


def _breaches(alarm: AlarmPlan, value: float) -> bool:
    match alarm.comparison:
        case "GreaterThanOrEqualToThreshold":
            return value >= alarm.threshold
        case "GreaterThanThreshold":
            return value > alarm.threshold
        case "LessThanThreshold":
            return value < alarm.threshold
        case "LessThanOrEqualToThreshold":
            return value <= alarm.threshold


def evaluate(alarm: AlarmPlan, series: MetricSeries, now: float, current: AlarmState) -> AlarmState:
    """The state CloudWatch would give `alarm` at `now` (seconds) from the fed metric.

    M of N: ALARM when at least `datapoints_to_alarm` of the last `evaluation_periods` periods
    breach; missing periods follow `treat_missing_data` (ignore keeps the current state).
    """
    statistic = alarm.statistic if alarm.extended_statistic is None else alarm.extended_statistic
    assert statistic is not None
    period = alarm.period_seconds
    end = (now // period) * period  # CloudWatch evaluates whole, finished periods
    verdicts: list[bool | None] = []
    for k in range(alarm.evaluation_periods):
        b = end - k * period
        a = b - period
        if b <= 0:
            verdicts.append(None)
            continue
        value = series.datapoint(max(a, 0), b, statistic)
        verdicts.append(None if value is None else _breaches(alarm, value))
    return _decide(alarm, verdicts, current)


def _decide(alarm: AlarmPlan, verdicts: Sequence[bool | None], current: AlarmState) -> AlarmState:
    if all(v is None for v in verdicts):
        match alarm.treat_missing_data:
            case "breaching":
                return "ALARM" if len(verdicts) >= alarm.datapoints_to_alarm else "OK"
            case "notBreaching":
                return "OK"
            case "ignore":
                return current
            case "missing":
                return "INSUFFICIENT_DATA"
    filled: list[bool] = []
    for v in verdicts:
        if v is not None:
            filled.append(v)
        elif alarm.treat_missing_data == "breaching":
            filled.append(True)
        elif alarm.treat_missing_data == "notBreaching":
            filled.append(False)
        # ignore / missing: the period does not count
    return "ALARM" if sum(filled) >= alarm.datapoints_to_alarm else "OK"
