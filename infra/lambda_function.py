"""One Lambda component: the wiring the canary hook, the A/B evaluator and the drift job share.

Each of them is a `LambdaComponent` with its own type token (`CanaryHook`, `AbEvaluator`,
`DriftJob`, so their URNs are what they always were) that states only what differs, as a
`FunctionSpec` (name, handler, sizes, environment, permissions, triggers); `declare_function`
declares the rest the same way for all three, as children of the component:

    {name}-logs            log group `/aws/lambda/<function>`, retention, the stack's KMS key,
                           declared before the function so Lambda never creates it without them
    {name}-role            execution role trusted by lambda.amazonaws.com
    {name}-policy          its inline policy (the spec's, naming ARNs)
    {name}-function        the function: runtime RUNTIME, code = its handler's modules
    {name}-<trigger>       an EventBridge rule per trigger (a schedule or an event pattern),
    {name}-<trigger>-target / -invoke   its target and the permission for that rule only
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from sagemaker_rollouts.infra import iam
from sagemaker_rollouts.infra.alarms import metric_alarm
from sagemaker_rollouts.strategies.function_alarms import EndpointFunction, errors_alarm_plan
from sagemaker_rollouts.strategies.lambda_names import MAX_FUNCTION_NAME, function_name

__all__ = [
    "MAX_FUNCTION_NAME",  # re-exported: the name rules are strategies/lambda_names.py's
    "RUNTIME",
    "EventPattern",
    "FunctionSpec",
    "LambdaComponent",
    "Schedule",
    "errors_alarm",
    "function_name",
    "lambda_code",
    "policy_json",
]

# The newest Lambda Python whose semantics our stdlib-only code is tested against (3.11+).
# CPython 3.13 builds each dataclass's methods in one exec (its changelog: up to 20% faster class
# creation), which is most of the hook's own cold-import cost; not measurable on this 3.11 machine.
RUNTIME = "python3.13"
LOG_RETENTION_DAYS = 30


def policy_json(
    build: Callable[..., Mapping[str, Any]], /, **inputs: pulumi.Input[Any] | None
) -> pulumi.Output[str]:
    """A role's policy document as JSON once every named input is known.

    `build` is a pure policy builder (`strategies`/`infra.iam` functions returning the IAM policy
    document as a dict); each keyword is passed to it by name, resolved (`pulumi.Output.all` with
    keywords, so an input can't be passed to the wrong parameter by position). Plain values and
    None pass through unchanged.
    """
    return pulumi.Output.all(**inputs).apply(lambda kw: json.dumps(build(**kw)))


def lambda_code(handler: str) -> pulumi.AssetArchive:
    """The zip of the function whose Handler is `handler`: that handler's module and the
    `lambdas/` modules it imports (`infra/lambda_code.py`; stdlib + boto3 at runtime)."""
    from sagemaker_rollouts.infra.lambda_code import lambda_archive_files

    assets: dict[str, Any] = {
        path: pulumi.FileAsset(str(src))
        for path, src in sorted(lambda_archive_files(handler).items())
    }
    return pulumi.AssetArchive(assets)


@dataclass(frozen=True, slots=True)
class Schedule:
    """Invoke every `every_minutes` minutes (EventBridge `rate(...)` rule `{name}-{role}`)."""

    role: str
    every_minutes: int
    description: str

    def expression(self) -> str:
        unit = "minute" if self.every_minutes == 1 else "minutes"
        return f"rate({self.every_minutes} {unit})"


@dataclass(frozen=True, slots=True)
class EventPattern:
    """Invoke on every event matching `pattern` (an EventBridge pattern, JSON text)."""

    role: str
    description: str
    pattern: str


Trigger = Schedule | EventPattern

# The function's policy, given its log group's ARN: a JSON policy document (an Output).
PolicyOf = Callable[[pulumi.Output[str]], pulumi.Output[str]]


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """What one function states; `declare_function` declares the rest the same for all.

    `function`: its name, description, schedule and errors alarm key
    (`strategies/function_alarms.py`, which the CLI and the rehearsal read too); `timeout` in
    seconds, `memory_size` in MB; `reserved_concurrency` None means unreserved; `environment`
    holds names and specs only, never secrets; `triggers` in declaration order.
    """

    function: EndpointFunction
    role_description: str
    handler: str
    timeout: int
    memory_size: int
    reserved_concurrency: int | None
    environment: Mapping[str, Any]
    policy: PolicyOf
    triggers: tuple[Trigger, ...]

    @property
    def function_name(self) -> str:
        return self.function.name

    @property
    def description(self) -> str:
        return self.function.description


class LambdaComponent(pulumi.ComponentResource):
    """A component holding one Lambda function and its wiring (see the module docstring).

    Subclasses call `pulumi.ComponentResource.__init__` with their own token, declare whatever
    is theirs alone, then `declare_function` once.
    """

    # Attribute types for type checkers only: Pulumi resolves a resource class's runtime
    # annotations with typing.get_type_hints on every registration (pulumi._types), which
    # would import the pulumi_aws modules they name (e.g. glue) in every stack.
    if TYPE_CHECKING:
        function: aws.lambda_.Function

    def declare_function(
        self,
        name: str,
        spec: FunctionSpec,
        *,
        key_arn: pulumi.Input[str] | None,
        tags: dict[str, str],
        depends_on: Sequence[pulumi.Resource] = (),
        topic_arn: pulumi.Input[str] | None = None,
    ) -> aws.lambda_.Function:
        """Declare the log group, role, policy, function and triggers, register the outputs
        (`function_name`) and return the function. With `topic_arn`, also the function's errors
        alarm (`errors_alarm`), which tells that topic when the function itself keeps failing."""
        child = pulumi.ResourceOptions(parent=self)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/lambda/{spec.function_name}",
            retention_in_days=LOG_RETENTION_DAYS,
            kms_key_id=key_arn,
            tags=tags,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=json.dumps(iam.assume_role("lambda.amazonaws.com")),
            description=spec.role_description,
            tags=tags,
            opts=child,
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-policy", role=role.id, policy=spec.policy(log_group.arn), opts=child
        )
        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=spec.function_name,
            description=spec.description,
            runtime=RUNTIME,
            handler=spec.handler,
            code=lambda_code(spec.handler),
            role=role.arn,
            timeout=spec.timeout,
            memory_size=spec.memory_size,
            reserved_concurrent_executions=spec.reserved_concurrency,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=dict(spec.environment)),
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[log_group, role_policy, *depends_on]
            ),
        )
        rules = [
            (trigger.role, _rule(f"{name}-{trigger.role}", trigger, tags, child))
            for trigger in spec.triggers
        ]
        for role_name, rule in rules:
            _invoke_from_rule(f"{name}-{role_name}", rule, self.function, opts=child)
        if topic_arn is not None:
            errors_alarm(name, spec, self.function, topic_arn=topic_arn, tags=tags, opts=child)
        self.register_outputs({"function_name": self.function.name})
        return self.function


def errors_alarm(
    name: str,
    spec: FunctionSpec,
    function: aws.lambda_.Function,
    *,
    topic_arn: pulumi.Input[str],
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.cloudwatch.MetricAlarm:
    """`{name}-errors`: the function's own failures tell the topic, on ALARM and again on OK;
    `strategies/function_alarms.errors_alarm` says what it is and why. Tagged with its role and
    key (`plan.alarm_tags`) so `rollout status|history --endpoint` list it."""
    return metric_alarm(
        f"{name}-errors",
        errors_alarm_plan(spec.function),
        # the function's name as an Output: the alarm waits for the function
        dimensions={"FunctionName": function.name},
        tags=tags,
        opts=opts,
        alarm_actions=[topic_arn],
        ok_actions=[topic_arn],
    )


def _rule(
    name: str, trigger: Trigger, tags: dict[str, str], opts: pulumi.ResourceOptions
) -> aws.cloudwatch.EventRule:
    if isinstance(trigger, Schedule):
        return aws.cloudwatch.EventRule(
            name,
            description=trigger.description,
            schedule_expression=trigger.expression(),
            tags=tags,
            opts=opts,
        )
    return aws.cloudwatch.EventRule(
        name,
        description=trigger.description,
        event_pattern=trigger.pattern,
        tags=tags,
        opts=opts,
    )


def _invoke_from_rule(
    name: str,
    rule: aws.cloudwatch.EventRule,
    function: aws.lambda_.Function,
    *,
    opts: pulumi.ResourceOptions,
) -> None:
    """Target `function` from an EventBridge rule (`{name}-target`) and let EventBridge invoke
    it from that rule only (`{name}-invoke`, source ARN = the rule)."""
    aws.cloudwatch.EventTarget(f"{name}-target", rule=rule.name, arn=function.arn, opts=opts)
    aws.lambda_.Permission(
        f"{name}-invoke",
        action="lambda:InvokeFunction",
        function=function.name,
        principal="events.amazonaws.com",
        source_arn=rule.arn,
        opts=opts,
    )
