"""The canary hook of one endpoint: the Lambda that steps traffic, and what triggers it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from sagemaker_rollouts.infra import iam
from sagemaker_rollouts.infra.lambda_code import HOOK_HANDLER
from sagemaker_rollouts.infra.shared import Account
from sagemaker_rollouts.lambdas.rollout import RolloutSpec

TOKEN = "sagemaker-rollouts:index:CanaryHook"
# The newest Lambda Python whose semantics our stdlib-only hook code is tested against (3.11+).
# CPython 3.13 builds each dataclass's methods in one exec (its changelog: up to 20% faster class
# creation), which is most of the hook's own cold-import cost; not measurable on this 3.11 machine.
RUNTIME = "python3.13"
LOG_RETENTION_DAYS = 30
_SUFFIX = "-canary-hook"


def hook_function_name(endpoint_name: str) -> str:
    """The hook's Lambda name: explicit (its log group name must be known before it exists) and
    at most 64 characters; a long endpoint name is shortened with a hash to stay unique."""
    if len(endpoint_name) + len(_SUFFIX) <= 64:
        return f"{endpoint_name}{_SUFFIX}"
    digest = hashlib.sha256(endpoint_name.encode()).hexdigest()[:8]
    return f"{endpoint_name[: 64 - len(_SUFFIX) - 9]}-{digest}{_SUFFIX}"


def watched_alarms(spec: RolloutSpec) -> tuple[str, ...]:
    """Every alarm the hook reads (`RolloutSpec.watched_alarms`)."""
    return spec.watched_alarms()


def alarm_event_pattern(spec: RolloutSpec) -> str:
    """EventBridge pattern for state changes of this endpoint's alarms only."""
    return json.dumps(
        {
            "source": ["aws.cloudwatch"],
            "detail-type": ["CloudWatch Alarm State Change"],
            "detail": {"alarmName": list(watched_alarms(spec))},
        },
        sort_keys=True,
    )


def hook_environment(
    spec: RolloutSpec, *, table_name: Any, topic_arn: Any, stack: str
) -> dict[str, Any]:
    """The hook Lambda's environment variables (values are strings or Outputs of strings): the
    rollout spec as JSON and resource names, never secrets. `infra.limits` measures the same
    dict against Lambda's 4 KB."""
    return {
        "ROLLOUT_SPEC": spec.to_json(),
        "STATE_TABLE": table_name,
        "TOPIC_ARN": topic_arn,
        # For the `rollout` commands in notifications (lambdas/notify.py).
        "ROLLOUT_STACK": stack,
    }


def hook_role_policy(
    spec: RolloutSpec,
    *,
    region: str,
    account_id: str,
    partition: str,
    endpoint_arn: str,
    table_arn: str,
    topic_arn: str,
    log_group_arn: str,
    key_arn: str | None,
    topic_key_arn: str | None = None,
    table_key_arn: str | None = None,
) -> dict[str, Any]:
    """The hook role's one inline policy document (`iam.hook_policy` over the watched alarms'
    ARNs). `infra.limits` measures the same document against IAM's role policy size.
    `topic_key_arn` / `table_key_arn`: the KMS keys of a brought, encrypted notification topic
    and state table."""
    return iam.hook_policy(
        endpoint_arn=endpoint_arn,
        endpoint_name=spec.endpoint_name,
        alarm_arns=[
            f"arn:{partition}:cloudwatch:{region}:{account_id}:alarm:{alarm}"
            for alarm in watched_alarms(spec)
        ],
        table_arn=table_arn,
        topic_arn=topic_arn,
        log_group_arn=log_group_arn,
        key_arn=key_arn,
        topic_key_arn=topic_key_arn,
        table_key_arn=table_key_arn,
    )


def lambda_code() -> pulumi.AssetArchive:
    """Every function's zip: the whole `lambdas/` folder (`infra/lambda_code.py`; stdlib + boto3
    at runtime)."""
    from sagemaker_rollouts.infra.lambda_code import lambda_archive_files

    assets: dict[str, Any] = {
        path: pulumi.FileAsset(str(src)) for path, src in sorted(lambda_archive_files().items())
    }
    return pulumi.AssetArchive(assets)


class CanaryHook(pulumi.ComponentResource):
    """Lambda + log group + role + the every-minute schedule + the alarm-state rule.

    Invariants: reserved concurrency 1 unless `hook.reserved_concurrency` says otherwise (one
    decision at a time); the environment carries the spec and resource names only, never
    secrets; IAM names ARNs.
    """

    # Attribute types for type checkers only: Pulumi resolves a resource class's runtime
    # annotations with typing.get_type_hints on every registration (pulumi._types), which
    # would import the pulumi_aws modules they name (e.g. glue) in every stack.
    if TYPE_CHECKING:
        function: aws.lambda_.Function

    def __init__(
        self,
        name: str,
        *,
        spec: RolloutSpec,
        endpoint_arn: pulumi.Input[str],
        table_name: pulumi.Input[str],
        table_arn: pulumi.Input[str],
        topic_arn: pulumi.Input[str],
        key_arn: pulumi.Input[str] | None,
        account: Account,
        tags: dict[str, str],
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
        reserved_concurrency: int | None = 1,
        topic_key_arn: pulumi.Input[str] | None = None,
        table_key_arn: pulumi.Input[str] | None = None,
    ) -> None:
        super().__init__(TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        fn_name = hook_function_name(spec.endpoint_name)
        region = account.region

        log_group, role = function_log_group_and_role(
            name,
            function_name=fn_name,
            role_description=f"canary hook of SageMaker endpoint {spec.endpoint_name}",
            key_arn=key_arn,
            tags=tags,
            opts=child,
        )
        policy = pulumi.Output.all(
            endpoint_arn,
            table_arn,
            topic_arn,
            log_group.arn,
            key_arn,
            account.account_id,
            account.partition,
            topic_key_arn,
            table_key_arn,
        ).apply(
            lambda a: json.dumps(
                hook_role_policy(
                    spec,
                    region=region,
                    account_id=a[5],
                    partition=a[6],
                    endpoint_arn=a[0],
                    table_arn=a[1],
                    topic_arn=a[2],
                    log_group_arn=a[3],
                    key_arn=a[4],
                    topic_key_arn=a[7],
                    table_key_arn=a[8],
                )
            )
        )
        role_policy = aws.iam.RolePolicy(f"{name}-policy", role=role.id, policy=policy, opts=child)
        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=fn_name,
            description=f"canary controller for {spec.endpoint_name} ({spec.rollout_id})",
            runtime=RUNTIME,
            handler=HOOK_HANDLER,
            code=lambda_code(),
            role=role.arn,
            timeout=60,
            memory_size=256,
            # 1: one decision at a time. None: unreserved, for accounts where a reservation
            # would leave less than the 10 unreserved executions Lambda requires; the state
            # table's conditional writes still stop a concurrent run from stepping twice.
            reserved_concurrent_executions=reserved_concurrency,
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables=hook_environment(
                    spec, table_name=table_name, topic_arn=topic_arn, stack=pulumi.get_stack()
                )
            ),
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[log_group, role_policy, *depends_on]
            ),
        )

        # Every minute: steps forward after the bake and repairs anything a missed event left.
        schedule = aws.cloudwatch.EventRule(
            f"{name}-schedule",
            description=f"tick the canary of {spec.endpoint_name}",
            schedule_expression="rate(1 minute)",
            tags=tags,
            opts=child,
        )
        # A firing alarm rolls back within one invocation instead of at the next tick.
        alarm_rule = aws.cloudwatch.EventRule(
            f"{name}-alarm-state",
            description=f"alarm state changes of the canary of {spec.endpoint_name}",
            event_pattern=alarm_event_pattern(spec),
            tags=tags,
            opts=child,
        )
        for role_name, rule in (("schedule", schedule), ("alarm-state", alarm_rule)):
            invoke_from_rule(f"{name}-{role_name}", rule, self.function, opts=child)

        self.register_outputs({"function_name": self.function.name})


def function_log_group_and_role(
    name: str,
    *,
    function_name: str,
    role_description: str,
    key_arn: pulumi.Input[str] | None,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> tuple[aws.cloudwatch.LogGroup, aws.iam.Role]:
    """A Lambda function's log group (`{name}-logs`) and execution role (`{name}-role`).

    The log group is declared before the function, so Lambda never creates it itself without
    retention (LOG_RETENTION_DAYS days) or the KMS key. Shared by the canary hook, the A/B
    evaluator and the drift job.
    """
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-logs",
        name=f"/aws/lambda/{function_name}",
        retention_in_days=LOG_RETENTION_DAYS,
        kms_key_id=key_arn,
        tags=tags,
        opts=opts,
    )
    role = aws.iam.Role(
        f"{name}-role",
        assume_role_policy=json.dumps(iam.assume_role("lambda.amazonaws.com")),
        description=role_description,
        tags=tags,
        opts=opts,
    )
    return log_group, role


def invoke_from_rule(
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


def invoke_on_schedule(
    name: str,
    function: aws.lambda_.Function,
    *,
    every_minutes: int,
    description: str,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.cloudwatch.EventRule:
    """Invoke `function` every `every_minutes` minutes (EventBridge `rate(...)` rule `{name}`)."""
    unit = "minute" if every_minutes == 1 else "minutes"
    schedule = aws.cloudwatch.EventRule(
        name,
        description=description,
        schedule_expression=f"rate({every_minutes} {unit})",
        tags=tags,
        opts=opts,
    )
    invoke_from_rule(name, schedule, function, opts=opts)
    return schedule
