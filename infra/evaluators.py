"""Scheduled evidence Lambdas of one endpoint: the A/B evaluator (and the drift job).

Declared only when the endpoint's plan asks for them (`strategy.ab.successes`), so stacks that do
not use them declare nothing new.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from sagemaker_rollouts.infra import iam
from sagemaker_rollouts.infra.lambda_code import AB_EVALUATOR_HANDLER, DRIFT_JOB_HANDLER
from sagemaker_rollouts.infra.lambda_function import (
    FunctionSpec,
    LambdaComponent,
    Schedule,
    policy_json,
)
from sagemaker_rollouts.infra.shared import Account
from sagemaker_rollouts.lambdas.ab_winner import EvaluatorSpec
from sagemaker_rollouts.lambdas.drift import METRIC_NAMESPACE, DriftJobSpec, DriftPlan
from sagemaker_rollouts.strategies.function_alarms import ab_evaluator, drift_job

AB_TOKEN = "sagemaker-rollouts:index:AbEvaluator"


def ab_policy(
    *,
    endpoint_arn: str,
    endpoint_name: str,
    table_arn: str,
    topic_arn: str,
    log_group_arn: str,
    key_arn: str | None,
    promote: bool,
    topic_key_arn: str | None = None,
    table_key_arn: str | None = None,
) -> iam.Doc:
    """The evaluator's permissions. GetMetricData has no resource-level permissions (Service
    Authorization Reference, CloudWatch: resource types column empty), so it is the one `*`;
    it only reads. Weights on this endpoint only, and only with `on_winner: promote`."""
    statements = [
        statement
        for statement in (
            iam.statement("ReadMetrics", ["cloudwatch:GetMetricData"], "*"),
            iam.statement(
                "Promote",
                ["sagemaker:UpdateEndpointWeightsAndCapacities"],
                [endpoint_arn],
            )
            if promote
            else None,
            # What lambdas/ab_evaluator.py calls: GetItem (recorded_winner), PutItem
            # (record_evaluation), UpdateItem (_claim_winner), all on this endpoint's rows
            # (partition key `ab:<endpoint>`, `rollout_key`); Query is the CLI's, not the Lambda's.
            iam.statement(
                "History",
                ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
                [table_arn],
                iam.own_rows(f"ab:{endpoint_name}"),
            ),
            iam.statement("Notify", ["sns:Publish"], [topic_arn]),
            iam.statement(
                "Logs",
                ["logs:CreateLogStream", "logs:PutLogEvents"],
                [log_group_arn, f"{log_group_arn}:*"],
            ),
            None
            if key_arn is None
            else iam.statement("UseStackKey", ["kms:Decrypt", "kms:GenerateDataKey"], [key_arn]),
        )
        if statement is not None
    ]
    statements += iam.brought_key_statements(
        topic_key_arn=topic_key_arn, table_arn=table_arn, table_key_arn=table_key_arn
    )
    return iam.document(*statements)


def ab_environment(
    spec: EvaluatorSpec, *, table_name: Any, topic_arn: Any, stack: str, target: str
) -> dict[str, Any]:
    """The A/B evaluator Lambda's environment (`infra.limits` measures the same dict);
    `rollout ab-report --endpoint NAME` reads AB_SPEC and STATE_TABLE back."""
    return {
        "AB_SPEC": spec.to_json(),
        "STATE_TABLE": table_name,
        "TOPIC_ARN": topic_arn,
        # For the `rollout` commands in notifications (lambdas/notify.py): the stack's name, and
        # the arguments that address this endpoint (`DeploymentPlan.operator_args`).
        "ROLLOUT_STACK": stack,
        "ROLLOUT_TARGET": target,
    }


def drift_environment(
    job: DriftJobSpec, *, bucket: Any, stack: str, topic_arn: Any | None, target: str
) -> dict[str, Any]:
    """The drift job Lambda's environment (`infra.limits` measures the same dict)."""
    variables: dict[str, Any] = {
        "DRIFT_SPEC": job.to_json(),
        "CAPTURE_BUCKET": bucket,
        # For the `rollout` commands in notifications (lambdas/notify.py): the stack's name, and
        # the arguments that address this endpoint (`DeploymentPlan.operator_args`).
        "ROLLOUT_STACK": stack,
        "ROLLOUT_TARGET": target,
    }
    if topic_arn is not None:
        variables["TOPIC_ARN"] = topic_arn
    return variables


class AbEvaluator(LambdaComponent):
    """One endpoint's A/B winner evaluation: a `LambdaComponent` (log group, role, policy,
    function) on a schedule.

    Invariants: reserved concurrency 1; the environment holds the spec and resource names only.
    """

    def __init__(
        self,
        name: str,
        *,
        spec: EvaluatorSpec,
        endpoint_arn: pulumi.Input[str],
        table_name: pulumi.Input[str],
        table_arn: pulumi.Input[str],
        topic_arn: pulumi.Input[str],
        key_arn: pulumi.Input[str] | None,
        account: Account,
        tags: dict[str, str],
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
        topic_key_arn: pulumi.Input[str] | None = None,
        table_key_arn: pulumi.Input[str] | None = None,
        target: str,
    ) -> None:
        super().__init__(AB_TOKEN, name, None, opts)

        def policy(log_group_arn: pulumi.Output[str]) -> pulumi.Output[str]:
            return policy_json(
                functools.partial(
                    ab_policy,
                    endpoint_name=spec.endpoint_name,
                    promote=spec.on_winner == "promote",
                ),
                endpoint_arn=endpoint_arn,
                table_arn=table_arn,
                topic_arn=topic_arn,
                log_group_arn=log_group_arn,
                key_arn=key_arn,
                topic_key_arn=topic_key_arn,
                table_key_arn=table_key_arn,
            )

        evaluator = ab_evaluator(spec)
        self.declare_function(
            name,
            FunctionSpec(
                function=evaluator,
                role_description=f"A/B evaluator of SageMaker endpoint {spec.endpoint_name}",
                handler=AB_EVALUATOR_HANDLER,
                timeout=60,
                memory_size=256,
                reserved_concurrency=1,
                environment=ab_environment(
                    spec,
                    table_name=table_name,
                    topic_arn=topic_arn,
                    stack=pulumi.get_stack(),
                    target=target,
                ),
                policy=policy,
                triggers=(
                    Schedule(
                        "schedule",
                        evaluator.every_minutes,
                        f"evaluate the A/B test of {spec.endpoint_name}",
                    ),
                ),
            ),
            key_arn=key_arn,
            tags=tags,
            topic_arn=topic_arn,
            depends_on=depends_on,
        )


DRIFT_TOKEN = "sagemaker-rollouts:index:DriftJob"


def drift_policy(
    *,
    bucket_arn: str,
    read_prefix: str,
    baseline_key: str,
    namespace: str,
    log_group_arn: str,
    key_arn: str | None,
    topic_arn: str | None = None,
    topic_key_arn: str | None = None,
) -> iam.Doc:
    """The drift job's permissions: list and read only its variant's capture folder and its
    baseline object; PutMetricData only in the drift namespace (no resource-level permissions,
    scoped by the `cloudwatch:namespace` condition key); GetMetricData (read-only, no resource
    types in CloudWatch's Service Authorization Reference) to see whether it already reported a
    failure; Publish to the stack's topic to tell a human; decrypt (and
    encrypt for the KMS-encrypted topic) with the stack key; `topic_key_arn`: the key of a
    brought, encrypted topic (`iam.topic_key_statement`: without it the failure notice fails)."""
    statements = [
        iam.statement(
            "ListCaptures",
            ["s3:ListBucket"],
            [bucket_arn],
            {"StringLike": {"s3:prefix": [f"{read_prefix}*"]}},
        ),
        iam.statement(
            "ReadCaptures",
            ["s3:GetObject"],
            [f"{bucket_arn}/{read_prefix}*", f"{bucket_arn}/{baseline_key}"],
        ),
        iam.statement(
            "Metrics",
            ["cloudwatch:PutMetricData"],
            "*",
            {"StringEquals": {"cloudwatch:namespace": namespace}},
        ),
        iam.statement("ReadOwnHealth", ["cloudwatch:GetMetricData"], "*"),
        iam.statement(
            "Logs",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [log_group_arn, f"{log_group_arn}:*"],
        ),
    ]
    if topic_arn is not None:
        statements.append(iam.statement("Notify", ["sns:Publish"], [topic_arn]))
    if key_arn is not None:
        actions = ["kms:Decrypt"] if topic_arn is None else ["kms:Decrypt", "kms:GenerateDataKey"]
        statements.append(iam.statement("UseStackKey", actions, [key_arn]))
    if topic_arn is not None and topic_key_arn is not None:
        statements.append(iam.topic_key_statement(topic_key_arn))
    return iam.document(*statements)


class DriftJob(LambdaComponent):
    """One endpoint's drift job: its baseline object and a `LambdaComponent` (log group, role,
    policy, function) on a schedule."""

    def __init__(
        self,
        name: str,
        *,
        plan: DriftPlan,
        bucket: aws.s3.Bucket,
        key_arn: pulumi.Input[str] | None,
        tags: dict[str, str],
        topic_arn: pulumi.Input[str] | None = None,
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
        topic_key_arn: pulumi.Input[str] | None = None,
        target: str,
    ) -> None:
        super().__init__(DRIFT_TOKEN, name, None, opts)

        job: DriftJobSpec = plan.job
        baseline = aws.s3.BucketObjectv2(
            f"{name}-baseline",
            bucket=bucket.id,
            key=job.baseline_key,
            content=plan.baseline_json,
            content_type="application/json",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        read_prefix = f"{job.capture_prefix}/{job.endpoint_name}/{job.variant}/"

        def policy(log_group_arn: pulumi.Output[str]) -> pulumi.Output[str]:
            return policy_json(
                functools.partial(
                    drift_policy,
                    read_prefix=read_prefix,
                    baseline_key=job.baseline_key,
                    namespace=METRIC_NAMESPACE,
                ),
                bucket_arn=bucket.arn,
                log_group_arn=log_group_arn,
                key_arn=key_arn,
                topic_arn=topic_arn,
                topic_key_arn=topic_key_arn,
            )

        fn = drift_job(job)
        self.declare_function(
            name,
            FunctionSpec(
                function=fn,
                role_description=f"drift job of SageMaker endpoint {job.endpoint_name}",
                handler=DRIFT_JOB_HANDLER,
                timeout=120,
                memory_size=512,
                reserved_concurrency=1,
                environment=drift_environment(
                    job,
                    bucket=bucket.bucket,
                    stack=pulumi.get_stack(),
                    topic_arn=topic_arn,
                    target=target,
                ),
                policy=policy,
                triggers=(
                    Schedule(
                        "schedule",
                        fn.every_minutes,
                        f"measure feature drift of {job.endpoint_name}",
                    ),
                ),
            ),
            key_arn=key_arn,
            tags=tags,
            topic_arn=topic_arn,
            depends_on=[baseline, *depends_on],
        )
