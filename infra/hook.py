"""The canary hook of one endpoint: the Lambda that steps traffic, and what triggers it."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

import pulumi

from sagemaker_rollouts.infra import iam
from sagemaker_rollouts.infra.lambda_code import HOOK_HANDLER
from sagemaker_rollouts.infra.lambda_function import (
    EventPattern,
    FunctionSpec,
    LambdaComponent,
    Schedule,
    policy_json,
)
from sagemaker_rollouts.infra.shared import Account
from sagemaker_rollouts.lambdas.rollout import RolloutSpec
from sagemaker_rollouts.strategies.function_alarms import canary_hook

TOKEN = "sagemaker-rollouts:index:CanaryHook"


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
    spec: RolloutSpec, *, table_name: Any, topic_arn: Any, stack: str, target: str
) -> dict[str, Any]:
    """The hook Lambda's environment variables (values are strings or Outputs of strings): the
    rollout spec as JSON and resource names, never secrets. `infra.limits` measures the same
    dict against Lambda's 4 KB. `rollout status|pause|... --endpoint NAME` reads ROLLOUT_SPEC,
    STATE_TABLE and TOPIC_ARN back (GetFunctionConfiguration), so they are the operator's too."""
    return {
        "ROLLOUT_SPEC": spec.to_json(),
        "STATE_TABLE": table_name,
        "TOPIC_ARN": topic_arn,
        # For the `rollout` commands in notifications (lambdas/notify.py): the stack's name, and
        # the arguments that address this endpoint (`DeploymentPlan.operator_args`).
        "ROLLOUT_STACK": stack,
        "ROLLOUT_TARGET": target,
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


class CanaryHook(LambdaComponent):
    """The hook's Lambda (`LambdaComponent`: log group, role, policy, function) invoked by an
    every-minute schedule and by the endpoint's alarm-state changes.

    Invariants: reserved concurrency 1 unless `hook.reserved_concurrency` says otherwise (one
    decision at a time); the environment carries the spec and resource names only, never
    secrets; IAM names ARNs.
    """

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
        target: str,
    ) -> None:
        super().__init__(TOKEN, name, None, opts)
        region = account.region

        def policy(log_group_arn: pulumi.Output[str]) -> pulumi.Output[str]:
            return policy_json(
                functools.partial(hook_role_policy, spec, region=region),
                account_id=account.account_id,
                partition=account.partition,
                endpoint_arn=endpoint_arn,
                table_arn=table_arn,
                topic_arn=topic_arn,
                log_group_arn=log_group_arn,
                key_arn=key_arn,
                topic_key_arn=topic_key_arn,
                table_key_arn=table_key_arn,
            )

        hook = canary_hook(spec)
        self.declare_function(
            name,
            FunctionSpec(
                function=hook,
                role_description=f"canary hook of SageMaker endpoint {spec.endpoint_name}",
                handler=HOOK_HANDLER,
                timeout=60,
                memory_size=256,
                # 1: one decision at a time. None: unreserved, for accounts where a reservation
                # would leave less than the 10 unreserved executions Lambda requires; the state
                # table's conditional writes still stop a concurrent run from stepping twice.
                reserved_concurrency=reserved_concurrency,
                environment=hook_environment(
                    spec,
                    table_name=table_name,
                    topic_arn=topic_arn,
                    stack=pulumi.get_stack(),
                    target=target,
                ),
                policy=policy,
                triggers=(
                    # Every minute: steps forward after the bake, repairs what a missed event left.
                    Schedule(
                        "schedule", hook.every_minutes, f"tick the canary of {spec.endpoint_name}"
                    ),
                    # A firing alarm rolls back within one invocation instead of at the next tick.
                    EventPattern(
                        "alarm-state",
                        f"alarm state changes of the canary of {spec.endpoint_name}",
                        alarm_event_pattern(spec),
                    ),
                ),
            ),
            key_arn=key_arn,
            tags=tags,
            topic_arn=topic_arn,
            depends_on=depends_on,
        )
