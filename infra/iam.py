"""IAM and resource policy documents, as pure functions of plain ARNs and names.

Components resolve the ARNs (Outputs) and call these inside `apply` to build JSON strings: data
in, data out, no resources. Invariant: no statement grants a write action on `"*"` unless AWS
offers no resource-level permission for it, and then it carries a condition or a comment why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sagemaker_rollouts.strategies.config import is_unknown
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
    if is_unknown(url):
        return url, ""
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
        # DescribeAlarms and DescribeAlarmHistory accept alarm ARNs as resources, so the hook can
        # read only its alarms (the history names the alarm of a rollback whose record was lost;
        # only composite alarms' history needs `*`, per the DescribeAlarmHistory API reference).
        statement(
            "Alarms",
            ["cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory"],
            list(alarm_arns),
        ),
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


# ------------------------------------------------------------------------------------------
# The CI/CD pipeline's role (README "CI/CD pipeline"): GitHub Actions OIDC, least privilege.

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
# Actions AWS only authorizes on "*" (Service Authorization Reference: no resource types):
# creating a KMS key, and the autoscaling/alarm/dashboard reads pulumi refreshes with.
PIPELINE_STAR_ACTIONS = ("kms:CreateKey",)


def github_trust_policy(
    provider_arn: str, repository: str, refs: Sequence[str], environments: Sequence[str]
) -> Doc:
    """Trust GitHub's OIDC tokens of one repository, for the given refs (`refs/heads/main`),
    pull requests, and deployment environments (`production`); audience sts.amazonaws.com
    (GitHub docs, "Configuring OpenID Connect in Amazon Web Services")."""
    subjects = [f"repo:{repository}:ref:{r}" for r in refs]
    subjects += [f"repo:{repository}:environment:{e}" for e in environments]
    subjects.append(f"repo:{repository}:pull_request")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com"},
                    "StringLike": {f"{GITHUB_OIDC_HOST}:sub": subjects},
                },
            }
        ],
    }


def pipeline_policy(*, account: str, region: str, partition: str, project: str) -> Doc:
    """What `pulumi preview/up` of this project and `rollout status` need, by resource ARN.

    Scoped to this account and region, and by name to the project's table, topic and capture
    buckets; IAM roles may only be passed to SageMaker, Lambda and AWS Chatbot. The one action on
    "*" is kms:CreateKey (it has no resource type). Passes the pack's `iam-no-wildcards` rule.
    """
    a = f"{region}:{account}"

    def arn(service: str, resource: str, *, regional: bool = True) -> str:
        return f"arn:{partition}:{service}:{a if regional else ':' + account}:{resource}"

    sagemaker = [arn("sagemaker", f"{kind}/*") for kind in ("model", "endpoint-config", "endpoint")]
    return document(
        statement(
            "SageMaker",
            [
                "sagemaker:CreateModel",
                "sagemaker:DeleteModel",
                "sagemaker:DescribeModel",
                "sagemaker:CreateEndpointConfig",
                "sagemaker:DeleteEndpointConfig",
                "sagemaker:DescribeEndpointConfig",
                "sagemaker:CreateEndpoint",
                "sagemaker:UpdateEndpoint",
                "sagemaker:DeleteEndpoint",
                "sagemaker:DescribeEndpoint",
                "sagemaker:AddTags",
                "sagemaker:DeleteTags",
                "sagemaker:ListTags",
            ],
            sagemaker,
        ),
        statement(
            "Roles",
            [
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:GetRole",
                "iam:UpdateRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:PutRolePolicy",
                "iam:GetRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
                "iam:ListInstanceProfilesForRole",
            ],
            [f"arn:{partition}:iam::{account}:role/*"],
        ),
        statement(
            "PassRoles",
            ["iam:PassRole"],
            [f"arn:{partition}:iam::{account}:role/*"],
            {
                "StringEquals": {
                    "iam:PassedToService": [
                        "sagemaker.amazonaws.com",
                        "lambda.amazonaws.com",
                        "chatbot.amazonaws.com",
                    ]
                }
            },
        ),
        statement(
            "AutoscalingServiceLinkedRole",
            ["iam:CreateServiceLinkedRole"],
            [
                f"arn:{partition}:iam::{account}:role/aws-service-role/"
                "sagemaker.application-autoscaling.amazonaws.com/*"
            ],
            {
                "StringEquals": {
                    "iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"
                }
            },
        ),
        statement(
            "Hooks",
            [
                "lambda:CreateFunction",
                "lambda:DeleteFunction",
                "lambda:GetFunction",
                "lambda:GetFunctionConfiguration",
                "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration",
                "lambda:PutFunctionConcurrency",
                "lambda:DeleteFunctionConcurrency",
                "lambda:GetFunctionCodeSigningConfig",
                "lambda:ListVersionsByFunction",
                "lambda:AddPermission",
                "lambda:RemovePermission",
                "lambda:GetPolicy",
                "lambda:TagResource",
                "lambda:UntagResource",
                "lambda:ListTags",
                "lambda:InvokeFunction",
            ],
            [arn("lambda", "function:*")],
        ),
        statement(
            "Schedules",
            [
                "events:PutRule",
                "events:DeleteRule",
                "events:DescribeRule",
                "events:PutTargets",
                "events:RemoveTargets",
                "events:ListTargetsByRule",
                "events:TagResource",
                "events:UntagResource",
                "events:ListTagsForResource",
            ],
            [arn("events", "rule/*")],
        ),
        statement(
            "AlarmsAndDashboards",
            [
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:DeleteAlarms",
                "cloudwatch:DescribeAlarms",
                "cloudwatch:TagResource",
                "cloudwatch:UntagResource",
                "cloudwatch:ListTagsForResource",
                "cloudwatch:PutDashboard",
                "cloudwatch:GetDashboard",
                "cloudwatch:DeleteDashboards",
            ],
            [arn("cloudwatch", "alarm:*"), f"arn:{partition}:cloudwatch::{account}:dashboard/*"],
        ),
        statement(
            "Logs",
            [
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:PutRetentionPolicy",
                "logs:AssociateKmsKey",
                "logs:DisassociateKmsKey",
                "logs:TagResource",
                "logs:UntagResource",
                "logs:ListTagsForResource",
                "logs:DescribeLogGroups",
            ],
            [arn("logs", "log-group:/aws/lambda/*")],
        ),
        statement(
            "StateTable",
            [
                "dynamodb:CreateTable",
                "dynamodb:DeleteTable",
                "dynamodb:DescribeTable",
                "dynamodb:UpdateTable",
                "dynamodb:DescribeContinuousBackups",
                "dynamodb:UpdateContinuousBackups",
                "dynamodb:DescribeTimeToLive",
                "dynamodb:TagResource",
                "dynamodb:UntagResource",
                "dynamodb:ListTagsOfResource",
                "dynamodb:GetItem",
                "dynamodb:Query",
            ],
            [arn("dynamodb", f"table/{project}-*")],
        ),
        statement(
            "Topic",
            [
                "sns:CreateTopic",
                "sns:DeleteTopic",
                "sns:GetTopicAttributes",
                "sns:SetTopicAttributes",
                "sns:Subscribe",
                "sns:Unsubscribe",
                "sns:GetSubscriptionAttributes",
                "sns:SetSubscriptionAttributes",
                "sns:TagResource",
                "sns:UntagResource",
                "sns:ListTagsForResource",
            ],
            [arn("sns", f"{project}-*")],
        ),
        statement(
            "CaptureBucket",
            [
                "s3:CreateBucket",
                "s3:DeleteBucket",
                "s3:GetBucketPolicy",
                "s3:PutBucketPolicy",
                "s3:GetBucketPublicAccessBlock",
                "s3:PutBucketPublicAccessBlock",
                "s3:GetBucketOwnershipControls",
                "s3:PutBucketOwnershipControls",
                "s3:GetBucketVersioning",
                "s3:PutBucketVersioning",
                "s3:GetBucketTagging",
                "s3:PutBucketTagging",
                "s3:GetBucketAcl",
                "s3:GetBucketCORS",
                "s3:GetBucketWebsite",
                "s3:GetBucketLogging",
                "s3:GetBucketRequestPayment",
                "s3:GetBucketObjectLockConfiguration",
                "s3:DeleteBucketPolicy",
                "s3:GetEncryptionConfiguration",
                "s3:PutEncryptionConfiguration",
                "s3:GetLifecycleConfiguration",
                "s3:PutLifecycleConfiguration",
                "s3:GetAccelerateConfiguration",
                "s3:GetReplicationConfiguration",
                "s3:ListBucket",
            ],
            [f"arn:{partition}:s3:::*-capture-*"],
        ),
        statement("CreateKey", list(PIPELINE_STAR_ACTIONS), "*"),
        statement(
            "Key",
            [
                "kms:DescribeKey",
                "kms:GetKeyPolicy",
                "kms:PutKeyPolicy",
                "kms:GetKeyRotationStatus",
                "kms:EnableKeyRotation",
                "kms:ScheduleKeyDeletion",
                "kms:TagResource",
                "kms:UntagResource",
                "kms:ListResourceTags",
                "kms:CreateAlias",
                "kms:DeleteAlias",
                "kms:UpdateAlias",
            ],
            [arn("kms", "key/*"), arn("kms", f"alias/{project}-*")],
        ),
        statement(
            "Autoscaling",
            [
                "application-autoscaling:RegisterScalableTarget",
                "application-autoscaling:DeregisterScalableTarget",
                "application-autoscaling:PutScalingPolicy",
                "application-autoscaling:DeleteScalingPolicy",
                "application-autoscaling:DescribeScalableTargets",
                "application-autoscaling:DescribeScalingPolicies",
                "application-autoscaling:TagResource",
                "application-autoscaling:UntagResource",
                "application-autoscaling:ListTagsForResource",
            ],
            [arn("application-autoscaling", "scalable-target/*")],
        ),
        statement(
            "ChatChannels",
            [
                "chatbot:CreateSlackChannelConfiguration",
                "chatbot:UpdateSlackChannelConfiguration",
                "chatbot:DeleteSlackChannelConfiguration",
                "chatbot:DescribeSlackChannelConfigurations",
                "chatbot:CreateMicrosoftTeamsChannelConfiguration",
                "chatbot:UpdateMicrosoftTeamsChannelConfiguration",
                "chatbot:DeleteMicrosoftTeamsChannelConfiguration",
                "chatbot:GetMicrosoftTeamsChannelConfiguration",
                "chatbot:TagResource",
                "chatbot:UntagResource",
                "chatbot:ListTagsForResource",
            ],
            [f"arn:{partition}:chatbot::{account}:chat-configuration/*"],
        ),
    )
