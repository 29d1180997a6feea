"""IAM and resource policy documents, as pure functions of plain ARNs and names.

Components resolve the ARNs (Outputs) and call these inside `apply` to build JSON strings: data
in, data out, no resources. Invariant: no statement grants a write action on `"*"` unless AWS
offers no resource-level permission for it, and then it carries a condition or a comment why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sagemaker_rollouts.strategies.config import SECRET_PLACEHOLDER
from sagemaker_rollouts.strategies.plan import ModelPlan

Doc = dict[str, Any]

_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?P<cn>\.cn)?"
    r"/(?P<repo>[^:@]+)"
)


def statement(
    sid: str,
    actions: Sequence[str],
    resources: Sequence[str] | str,
    condition: Mapping[str, Any] | None = None,
) -> Doc:
    st: Doc = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": list(actions),
        "Resource": resources if isinstance(resources, str) else list(resources),
    }
    if condition is not None:
        st["Condition"] = dict(condition)
    return st


def document(*statements: Doc) -> Doc:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def assume_role(service: str) -> Doc:
    """Trust policy letting one AWS service principal assume the role."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        ],
    }


def ecr_repository_arn(image: str) -> str | None:
    """The ECR repository ARN of an image URI, or None when the image is not in ECR."""
    m = _ECR_IMAGE.match(image)
    if m is None:
        return None
    partition = "aws-cn" if m["cn"] else "aws"
    return f"arn:{partition}:ecr:{m['region']}:{m['account']}:repository/{m['repo']}"


def s3_location(url: str) -> tuple[str, str]:
    """`s3://bucket/key/prefix` -> ("bucket", "key/prefix").

    Offline (`rollout plan`), an encrypted URL stands as `[secret]`: it maps to ("[secret]", "") so
    the plan still renders; under `pulumi up` the program sees the decrypted URL.
    """
    if url == SECRET_PLACEHOLDER:
        return SECRET_PLACEHOLDER, ""
    if not url.startswith("s3://"):
        raise ValueError(f"not an S3 URL: {url!r}")
    bucket, _, key = url.removeprefix("s3://").partition("/")
    return bucket, key


def s3_prefix_arn(url: str, partition: str = "aws") -> str:
    """Objects at or under an S3 URL: the artifact itself, or everything below a prefix."""
    bucket, key = s3_location(url)
    return f"arn:{partition}:s3:::{bucket}/{key}*"


def execution_role_policy(
    *,
    model: ModelPlan,
    endpoint_name: str,
    account: str,
    region: str,
    partition: str,
    key_arn: str | None,
    capture_prefix_arn: str | None,
    rollback_alarm_arns: Sequence[str] = (),
) -> Doc:
    """What a SageMaker model's execution role needs to host it, and nothing else.

    `rollback_alarm_arns`: the endpoint's auto-rollback alarms (blue/green, rolling). SageMaker's
    deployment guardrails read them with the execution role: "Ensure that your IAM execution
    role has permission to perform the cloudwatch:DescribeAlarms action on the auto-rollback
    alarms you specify" (SageMaker Developer Guide, deployment-guardrails-configuration).
    DescribeAlarms accepts alarm ARNs as resources, so the grant names only those alarms.
    """
    statements: list[Doc] = []
    if rollback_alarm_arns:
        statements.append(
            statement(
                "ReadRollbackAlarms", ["cloudwatch:DescribeAlarms"], list(rollback_alarm_arns)
            )
        )
    if model.model_data_url is not None:
        statements.append(
            statement(
                "ReadModelArtifact",
                ["s3:GetObject"],
                [s3_prefix_arn(model.model_data_url, partition)],
            )
        )
        if model.model_data_url.endswith("/"):  # an uncompressed model: SageMaker lists it
            bucket, key = s3_location(model.model_data_url)
            statements.append(
                statement(
                    "ListModelPrefix",
                    ["s3:ListBucket"],
                    [f"arn:{partition}:s3:::{bucket}"],
                    {"StringLike": {"s3:prefix": [f"{key}*"]}},
                )
            )
    repo = ecr_repository_arn(model.image)
    if repo is not None:
        # GetAuthorizationToken has no resource-level permission: AWS only accepts "*" for it.
        # It returns a registry login token; what can be pulled is scoped by the next statement.
        statements.append(statement("EcrLogin", ["ecr:GetAuthorizationToken"], "*"))
        statements.append(
            statement(
                "PullModelImage",
                [
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchCheckLayerAvailability",
                ],
                [repo],
            )
        )
    log_group = f"arn:{partition}:logs:{region}:{account}:log-group:/aws/sagemaker/Endpoints/"
    statements.append(
        statement(
            "EndpointLogs",
            [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogStreams",
            ],
            [f"{log_group}{endpoint_name}*"],
        )
    )
    if capture_prefix_arn is not None:
        statements.append(statement("WriteDataCapture", ["s3:PutObject"], [capture_prefix_arn]))
    if key_arn is not None:
        statements.append(
            statement(
                "UseStackKey",
                ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                [key_arn],
            )
        )
    if model.vpc is not None:
        eni = f"arn:{partition}:ec2:{region}:{account}:network-interface/*"
        subnets = [f"arn:{partition}:ec2:{region}:{account}:subnet/{s}" for s in model.vpc.subnets]
        groups = [
            f"arn:{partition}:ec2:{region}:{account}:security-group/{g}"
            for g in model.vpc.security_group_ids
        ]
        statements.append(
            statement(
                "VpcInterfaces",
                ["ec2:CreateNetworkInterface"],
                [eni, *subnets, *groups],
            )
        )
        statements.append(
            statement(
                "VpcInterfacePermissions",
                [
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                ],
                [eni],
            )
        )
        # EC2 Describe* calls have no resource-level permissions: "*" is the only accepted value.
        statements.append(
            statement(
                "VpcDescribe",
                [
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                ],
                "*",
            )
        )
    return document(*statements)


def hook_policy(
    *,
    endpoint_arn: str,
    alarm_arns: Sequence[str],
    table_arn: str,
    topic_arn: str,
    metric_namespace: str,
    log_group_arn: str,
    key_arn: str | None,
) -> Doc:
    """The canary hook's permissions: this endpoint, its alarms, the state table and topic."""
    statements = [
        statement(
            "Endpoint",
            ["sagemaker:DescribeEndpoint", "sagemaker:UpdateEndpointWeightsAndCapacities"],
            [endpoint_arn],
        ),
        # DescribeAlarms accepts alarm ARNs as resources, so the hook can read only its alarms.
        statement("Alarms", ["cloudwatch:DescribeAlarms"], list(alarm_arns)),
        statement(
            "StateTable",
            [
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:Query",
                "dynamodb:ConditionCheckItem",
            ],
            [table_arn],
        ),
        statement("Notify", ["sns:Publish"], [topic_arn]),
        # PutMetricData has no resource-level permission; the namespace condition scopes it.
        statement(
            "Metrics",
            ["cloudwatch:PutMetricData"],
            "*",
            {"StringEquals": {"cloudwatch:namespace": metric_namespace}},
        ),
        statement(
            "Logs",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [log_group_arn, f"{log_group_arn}:*"],
        ),
    ]
    if key_arn is not None:
        statements.append(
            statement("UseStackKey", ["kms:Decrypt", "kms:GenerateDataKey"], [key_arn])
        )
    return document(*statements)


def key_policy(*, account: str, region: str, partition: str) -> Doc:
    """The stack key's policy: the account's IAM decides who uses it (the default key policy),
    plus CloudWatch Logs, which cannot use a key through IAM, for this account's log groups."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountIamDecides",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",  # in a key policy "*" means this key
            },
            {
                "Sid": "CloudWatchLogs",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                "Action": [
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                "Resource": "*",
                "Condition": {
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{partition}:logs:{region}:{account}:log-group:*"
                        )
                    }
                },
            },
        ],
    }


def tls_only_bucket_policy(bucket_arn: str) -> Doc:
    """Deny every request to the bucket that does not use TLS."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
