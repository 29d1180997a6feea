"""The Lambda functions an endpoint's stack declares, and each one's errors alarm: pure.

An endpoint has a canary hook (canary), an A/B evaluator (A/B with `successes`) and a drift job
(`drift`), each named from the endpoint name (`strategies/lambda_names.py`). Every one of them
has an errors alarm, `<function>-errors`: AWS/Lambda `Errors` (Sum per period) at least 1,
telling the stack's topic on ALARM and on OK, since a function that raises on every invocation
decides nothing and only this alarm says so. `infra/lambda_function.errors_alarm` declares it
from `errors_alarm_plan` here; the rehearsal's stand-in for `pulumi up` (simulator/provision.py) puts
the same alarm in moto, and `rollout status|history` list it with the endpoint's own alarms
(`errors_alarms`), whether they read the plan (`--stack`) or AWS (`--endpoint`, by its tags).

Its tags are those of every alarm the CLI lists (`plan.alarm_tags`): role "watch" (it stops no
rollout: a failing hook neither steps nor rolls back) and key `<function>.errors`
(`canary_hook.errors`, `ab_evaluator.errors`, `drift_job.errors`).

Every function gets its alarm: the stack has a topic whenever it has one of them (a canary or an
A/B evaluator has the state table, a drift job names the topic: `planner.py` `topic_name`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sagemaker_rollouts.strategies.lambda_names import SUFFIXES, function_name
from sagemaker_rollouts.strategies.plan import ABPlan, AlarmPlan, CanaryPlan, EndpointPlan

if TYPE_CHECKING:  # evidence modules: imported only by stacks that use them (as plan.py does)
    from sagemaker_rollouts.lambdas.ab_winner import EvaluatorSpec
    from sagemaker_rollouts.lambdas.drift import DriftJobSpec
    from sagemaker_rollouts.lambdas.rollout import RolloutSpec

# CloudWatch PutMetricAlarm: Period x EvaluationPeriods at most one day (86,400 s).
MAX_ALARM_PERIOD_SECONDS = 86_400


@dataclass(frozen=True, slots=True)
class EndpointFunction:
    """One of an endpoint's Lambda functions: `name` (Lambda's FunctionName), `description`
    (its Description, which its errors alarm's description starts with), `every_minutes` (its
    schedule, EventBridge `rate(...)`) and `kind`, the first part of its errors alarm's key."""

    name: str
    description: str
    every_minutes: int
    kind: str


def _function(
    kind: str, endpoint_name: str, description: str, every_minutes: int
) -> EndpointFunction:
    return EndpointFunction(
        function_name(endpoint_name, SUFFIXES[kind]), description, every_minutes, kind
    )


def canary_hook(spec: RolloutSpec) -> EndpointFunction:
    """The canary hook: ticks every minute."""
    name = spec.endpoint_name
    return _function("canary_hook", name, f"canary controller for {name} ({spec.rollout_id})", 1)


def ab_evaluator(spec: EvaluatorSpec) -> EndpointFunction:
    """The A/B evaluator: every `evaluate_every_minutes`."""
    name = spec.endpoint_name
    return _function("ab_evaluator", name, f"A/B winner evaluation for {name}", spec.every_minutes)


def drift_job(job: DriftJobSpec) -> EndpointFunction:
    """The drift job: every `drift.every_minutes`."""
    what = f"feature drift of {job.endpoint_name}/{job.variant}"
    return _function("drift_job", job.endpoint_name, what, job.every_minutes)


def endpoint_functions(ep: EndpointPlan) -> tuple[EndpointFunction, ...]:
    """The functions the program declares for `ep`, in the order it declares them."""
    out: list[EndpointFunction] = []
    strategy = ep.strategy_plan
    if isinstance(strategy, CanaryPlan):
        out.append(canary_hook(strategy.rollout))
    if isinstance(strategy, ABPlan) and strategy.evaluator is not None:
        out.append(ab_evaluator(strategy.evaluator))
    if ep.drift is not None:
        out.append(drift_job(ep.drift.job))
    return tuple(out)


def errors_alarm_name(function: str) -> str:
    """The errors alarm's name: the function's name (unique in the account and Region, at most
    64 characters) plus `-errors`."""
    return f"{function}-errors"


def errors_alarm_plan(fn: EndpointFunction) -> AlarmPlan:
    """`<function>-errors` (see the module docstring). Missing data (no invocations) is not
    breaching; its one dimension is FunctionName.

    Every-minute functions (the canary hook) alarm when 3 of the last 5 minutes had an error: a
    single throttled or timed-out tick is retried by the next one, three are a function that can't
    do its job (a denied DescribeEndpoint, a deleted table), while a rollout may be moving traffic.
    Functions on a longer schedule (A/B evaluator, drift job) alarm on the first period with an
    error: the next try is a whole period away. Period: the schedule's, at most one day
    (CloudWatch's limit on period x evaluation periods).
    """
    evaluations, datapoints = (5, 3) if fn.every_minutes == 1 else (1, 1)
    return AlarmPlan(
        key=f"{fn.kind}.errors",
        name=errors_alarm_name(fn.name),
        namespace="AWS/Lambda",
        metric="Errors",
        statistic="Sum",
        extended_statistic=None,
        threshold=1,
        comparison="GreaterThanOrEqualToThreshold",
        period_seconds=min(fn.every_minutes * 60, MAX_ALARM_PERIOD_SECONDS),
        evaluation_periods=evaluations,
        datapoints_to_alarm=datapoints,
        treat_missing_data="notBreaching",
        dimensions=(("FunctionName", fn.name),),
        variant=None,
        gate=False,
        description=(
            f"{fn.description}: the function itself is failing (Lambda Errors); its decisions "
            "are not being made. Read its log group /aws/lambda/" + fn.name
        ),
    )


def errors_alarms(ep: EndpointPlan) -> tuple[AlarmPlan, ...]:
    """The errors alarms of `ep`'s functions (`endpoint_functions`)."""
    return tuple(errors_alarm_plan(fn) for fn in endpoint_functions(ep))
