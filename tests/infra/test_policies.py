"""Guardrail rules: each with a compliant and a violating resource, through the plain rule
functions (`infra.policies.evaluate`) and through the CrossGuard pack with `pulumi_policy` args
built directly. The table must cover every policy of the pack."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import EnforcementLevel
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from sagemaker_rollouts.infra import iam, policies
from sagemaker_rollouts.infra.policies import Resource
from sagemaker_rollouts.infra.policy_pack import pack_policies
from sagemaker_rollouts.simulator.mockrun import OfflineRun, run_offline
from tests import policy_engine as engine

ROOT = Path(__file__).resolve().parents[2]

P = policies


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps(iam.document(*statements))


def allow(actions: Any, resources: Any, condition: dict[str, Any] | None = None) -> str:
    return doc(iam.statement("S", actions, resources, condition))


ARN = "arn:aws:sns:us-east-1:1:t"
KEY = "arn:aws:kms:us-east-1:1:key/k"
CAPTURE = {"destinationS3Uri": "s3://b/p", "initialSamplingPercentage": 100}

# (policy, resource type, compliant props, violating props)
RESOURCE_CASES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    (
        "iam-no-wildcards",
        P.T_ROLE_POLICY,
        {"policy": allow(["sns:Publish"], [ARN])},
        {"policy": allow(["sns:Publish"], "*")},
    ),
    (
        "iam-no-wildcards",
        P.T_ROLE_POLICY,
        {"policy": allow(["s3:GetObject"], [ARN])},
        {"policy": allow(["s3:*"], [ARN])},
    ),
    (
        "iam-no-wildcards",
        P.T_POLICY,
        {"policy": allow(["sagemaker:DescribeEndpoint"], "*")},
        {"policy": allow(["*"], [ARN])},
    ),
    (
        "iam-no-wildcards",
        P.T_ROLE,
        {"inlinePolicies": [{"name": "a", "policy": allow(["sns:Publish"], [ARN])}]},
        {"inlinePolicies": [{"name": "a", "policy": allow(["sagemaker:Update*"], [ARN])}]},
    ),
    (
        "iam-no-wildcards",
        P.T_ROLE_POLICY,
        {
            "policy": allow(
                ["cloudwatch:PutMetricData"], "*", {"StringEquals": {"cloudwatch:namespace": "X"}}
            )
        },
        {"policy": allow(["cloudwatch:PutMetricData"], "*")},
    ),
    (
        "iam-no-wildcards",
        P.T_ROLE_POLICY,
        {"policy": allow(["ecr:GetAuthorizationToken"], "*")},
        {
            "policy": json.dumps(
                {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": ARN}]}
            )
        },
    ),
    (
        "iam-no-wildcards",
        P.T_ROLE,
        {"inlinePolicies": [{"name": "a", "policy": allow(["sns:Publish"], [ARN])}]},
        {
            "inlinePolicies": [
                {
                    "name": "a",
                    "policy": json.dumps(
                        {"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}
                    ),
                }
            ]
        },
    ),
    # Writes on a whole resource type: scoped by a tag condition, or not at all.
    (
        "iam-writes-scoped",
        P.T_ROLE_POLICY,
        {
            "policy": allow(
                ["sagemaker:DeleteEndpoint"],
                ["arn:aws:sagemaker:us-east-1:1:endpoint/*"],
                {"StringEquals": {"aws:ResourceTag/rollouts:stack": "canary"}},
            )
        },
        {
            "policy": allow(
                ["sagemaker:DeleteEndpoint"], ["arn:aws:sagemaker:us-east-1:1:endpoint/*"]
            )
        },
    ),
    (
        "iam-writes-scoped",
        P.T_ROLE_POLICY,
        {
            "policy": allow(
                ["cloudwatch:DeleteAlarms"], ["arn:aws:cloudwatch:us-east-1:1:alarm:fraud-5xx"]
            )
        },
        {"policy": allow(["cloudwatch:DeleteAlarms"], ["arn:aws:cloudwatch:us-east-1:1:alarm:*"])},
    ),
    # Escalation actions need the condition that scopes them.
    (
        "iam-writes-scoped",
        P.T_ROLE_POLICY,
        {
            "policy": allow(
                ["iam:PutRolePolicy"],
                ["arn:aws:iam::1:role/x"],
                {"StringEquals": {"iam:PermissionsBoundary": "arn:aws:iam::1:policy/b"}},
            )
        },
        {"policy": allow(["iam:PutRolePolicy"], ["arn:aws:iam::1:role/x"])},
    ),
    (
        "iam-writes-scoped",
        P.T_ROLE,
        {
            "inlinePolicies": [
                {
                    "name": "a",
                    "policy": allow(
                        ["iam:PassRole"],
                        ["arn:aws:iam::1:role/x"],
                        {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
                    ),
                }
            ]
        },
        {
            "inlinePolicies": [
                {"name": "a", "policy": allow(["iam:PassRole"], ["arn:aws:iam::1:role/x"])}
            ]
        },
    ),
    (
        "iam-writes-scoped",
        P.T_ROLE_POLICY,
        {"policy": allow(["kms:Decrypt"], [KEY])},
        {"policy": allow(["kms:PutKeyPolicy"], [KEY])},
    ),
    # Name prefixes end at a delimiter.
    (
        "iam-writes-scoped",
        P.T_ROLE_POLICY,
        {
            "policy": allow(
                ["logs:PutLogEvents"],
                ["arn:aws:logs:us-east-1:1:log-group:/aws/sagemaker/Endpoints/fraud-detector:*"],
            )
        },
        {
            "policy": allow(
                ["logs:PutLogEvents"],
                ["arn:aws:logs:us-east-1:1:log-group:/aws/sagemaker/Endpoints/fraud-detector*"],
            )
        },
    ),
    (
        "iam-reads-scoped",
        P.T_ROLE_POLICY,
        {"policy": allow(["ec2:DescribeVpcs"], "*")},
        {"policy": allow(["sagemaker:DescribeEndpoint"], "*")},
    ),
    (
        "s3-public-access-blocked",
        P.T_PUBLIC_ACCESS,
        dict.fromkeys(
            ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"),
            True,
        ),
        {"blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True},
    ),
    (
        "s3-kms-encrypted",
        P.T_BUCKET_SSE,
        {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]},
        {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]},
    ),
    (
        "s3-tls-only",
        P.T_BUCKET_POLICY,
        {"policy": json.dumps(iam.tls_only_bucket_policy("arn:aws:s3:::b"))},
        {"policy": json.dumps({"Statement": []})},
    ),
    (
        "s3-lifecycle-expires",
        P.T_LIFECYCLE,
        {"rules": [{"id": "x", "status": "Enabled", "expiration": {"days": 30}}]},
        {"rules": [{"id": "x", "status": "Disabled", "expiration": {"days": 30}}]},
    ),
    (
        "dynamodb-encrypted-pitr",
        P.T_TABLE,
        {"serverSideEncryption": {"enabled": True}, "pointInTimeRecovery": {"enabled": True}},
        {"serverSideEncryption": {"enabled": True}},
    ),
    ("sns-encrypted", P.T_TOPIC, {"kmsMasterKeyId": "alias/aws/sns"}, {}),
    ("logs-retention", P.T_LOG_GROUP, {"retentionInDays": 30}, {}),
    (
        "lambda-no-secrets-in-env",
        P.T_FUNCTION,
        {"environment": {"variables": {"STATE_TABLE": "t"}}},
        {"environment": {"variables": {"DB_PASSWORD": "x"}}},
    ),
    (
        "hook-reserved-concurrency",
        P.T_FUNCTION,
        {
            "handler": "sagemaker_rollouts.lambdas.canary_hook.handler",
            "reservedConcurrentExecutions": 1,
        },
        {"handler": "sagemaker_rollouts.lambdas.canary_hook.handler"},
    ),
    ("kms-rotation", P.T_KEY, {"enableKeyRotation": True}, {"enableKeyRotation": False}),
    (
        "sagemaker-alarm-dimensions",
        P.T_ALARM,
        {"namespace": "AWS/SageMaker", "dimensions": {"EndpointName": "e", "VariantName": "v"}},
        {"namespace": "AWS/SageMaker"},
    ),
    (
        "endpoint-config-kms",
        P.T_ENDPOINT_CONFIG,
        {"productionVariants": [{"instanceType": "ml.g5.xlarge"}]},  # NVMe: no key allowed
        {"productionVariants": [{"instanceType": "ml.m5.large"}]},
    ),
    (
        "endpoint-config-kms",
        P.T_ENDPOINT_CONFIG,
        {"kmsKeyArn": KEY, "productionVariants": [{"instanceType": "ml.m5.large"}]},
        {
            "productionVariants": [{"instanceType": "ml.c5.xlarge"}],
            "shadowProductionVariants": [{"instanceType": "ml.m5.large"}],
        },
    ),
    (
        "data-capture-encrypted",
        P.T_ENDPOINT_CONFIG,
        {"dataCaptureConfig": {**CAPTURE, "kmsKeyId": KEY}},
        {"dataCaptureConfig": CAPTURE},
    ),
    (
        "model-network-isolation",
        P.T_MODEL,
        {"enableNetworkIsolation": True},
        {"enableNetworkIsolation": False, "primaryContainer": {"image": "x/model:1"}},
    ),
]


def good(policy: str) -> dict[str, Any]:
    return next(c[2] for c in RESOURCE_CASES if c[0] == policy)


BUCKET = Resource(P.T_BUCKET, "b", {"bucket": "cap-1"}, urn="urn:b")
GOOD_BUCKET = [
    BUCKET,
    Resource(
        P.T_PUBLIC_ACCESS, "pab", good("s3-public-access-blocked") | {"bucket": "cap-1"}, urn="u1"
    ),
    Resource(P.T_BUCKET_POLICY, "pol", good("s3-tls-only"), urn="u2", depends_on=("urn:b",)),
    Resource(P.T_LIFECYCLE, "lc", good("s3-lifecycle-expires") | {"bucket": "cap-1"}, urn="u3"),
]
SPEC = {"endpoint_name": "fraud", "gate_alarms": ["fraud-5xx"]}
HOOK = {
    "name": "fraud-canary-hook",
    "handler": "sagemaker_rollouts.lambdas.canary_hook.handler",
    "reservedConcurrentExecutions": 1,
    "environment": {"variables": {"ROLLOUT_SPEC": json.dumps(SPEC)}},
}
PROD = {"environment": "production"}
BLUE_GREEN = {
    "name": "search",
    "tags": PROD,
    "deploymentConfig": {
        "blueGreenUpdatePolicy": {"trafficRoutingConfiguration": {"type": "ALL_AT_ONCE"}},
        "autoRollbackConfiguration": {"alarms": [{"alarmName": "search-5xx"}]},
    },
}
CPU = {"namespace": "/aws/sagemaker/Endpoints", "metricName": "CPUUtilization"}


def res(typ: str, name: str, props: dict[str, Any], urn: str = "") -> Resource:
    return Resource(typ, name, props, urn=urn or f"urn:{name}")


OIDC_ARN = "arn:aws:iam::1:oidc-provider/token.actions.githubusercontent.com"


def github_role(*subjects: str, op: str = "StringEquals") -> Resource:
    condition: dict[str, dict[str, Any]] = {
        "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}
    }
    condition.setdefault(op, {})["token.actions.githubusercontent.com:sub"] = list(subjects)
    trust = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": OIDC_ARN},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": condition,
            }
        ]
    }
    return res(P.T_ROLE, "ci", {"name": "ci", "assumeRolePolicy": json.dumps(trust)}, urn="urn:ci")


def role_policy(*actions: str) -> Resource:
    return Resource(
        P.T_ROLE_POLICY,
        "ci-policy",
        {
            "role": "ci",
            "policy": allow(list(actions), ["arn:aws:sagemaker:us-east-1:1:endpoint/x"]),
        },
        urn="urn:ci-policy",
        depends_on=("urn:ci",),
    )


# (policy, stack tags, compliant stack, violating stack)
STACK_CASES: list[tuple[str, dict[str, str], list[Resource], list[Resource]]] = [
    # Pull requests may assume only a role that reads.
    (
        "ci-trust-scoped",
        {},
        [github_role("repo:acme/ml:pull_request"), role_policy("sagemaker:DescribeEndpoint")],
        [github_role("repo:acme/ml:pull_request"), role_policy("sagemaker:UpdateEndpoint")],
    ),
    (
        "ci-trust-scoped",
        {},
        [github_role("repo:acme/ml:ref:refs/heads/main"), role_policy("sagemaker:UpdateEndpoint")],
        [github_role("repo:acme/ml:*", op="StringLike"), role_policy("sagemaker:UpdateEndpoint")],
    ),
    # ... and one repository.
    (
        "ci-trust-scoped",
        {},
        [github_role("repo:acme/ml:environment:production")],
        [github_role("repo:acme/*:environment:production", op="StringLike")],
    ),
    ("capture-bucket-guarded", {}, GOOD_BUCKET, GOOD_BUCKET[:3]),
    ("capture-bucket-guarded", {}, GOOD_BUCKET, [*GOOD_BUCKET[:2], GOOD_BUCKET[3]]),
    (
        "capture-bucket-guarded",
        {},
        GOOD_BUCKET,
        [
            BUCKET,
            *GOOD_BUCKET[2:],
            res(P.T_PUBLIC_ACCESS, "pab", {"bucket": "cap-1", "blockPublicAcls": True}),
        ],
    ),
    (
        "hook-log-retention",
        {},
        [
            res(P.T_FUNCTION, "h", HOOK),
            res(
                P.T_LOG_GROUP, "l", {"name": "/aws/lambda/fraud-canary-hook", "retentionInDays": 30}
            ),
        ],
        [
            res(P.T_FUNCTION, "h", HOOK),
            res(P.T_LOG_GROUP, "l", {"name": "/aws/lambda/fraud-canary-hook"}),
        ],
    ),
    (
        "production-rollback-alarms",
        PROD,
        [
            res(P.T_ENDPOINT, "e", {"name": "fraud"}),
            res(P.T_FUNCTION, "h", HOOK),
            res(P.T_ALARM, "a", {"name": "fraud-5xx"}),
        ],
        [res(P.T_ENDPOINT, "e", {"name": "fraud"}), res(P.T_FUNCTION, "h", HOOK)],
    ),
    (
        "production-rollback-alarms",
        {},
        [res(P.T_ENDPOINT, "e", BLUE_GREEN), res(P.T_ALARM, "a", {"name": "search-5xx"})],
        [
            res(
                P.T_ENDPOINT,
                "e",
                {
                    **BLUE_GREEN,
                    "deploymentConfig": {
                        "blueGreenUpdatePolicy": BLUE_GREEN["deploymentConfig"][
                            "blueGreenUpdatePolicy"
                        ]
                    },
                },
            )
        ],
    ),
    (
        "rollback-alarms-missing-data-breaching",
        {},
        [
            res(P.T_ENDPOINT, "e", BLUE_GREEN),
            res(P.T_ALARM, "a", {"name": "search-5xx", **CPU, "treatMissingData": "breaching"}),
        ],
        [
            res(P.T_ENDPOINT, "e", BLUE_GREEN),
            res(P.T_ALARM, "a", {"name": "search-5xx", **CPU, "treatMissingData": "notBreaching"}),
        ],
    ),
    (
        "rollback-alarms-missing-data-breaching",
        {},
        [
            res(P.T_FUNCTION, "h", HOOK),
            res(
                P.T_ALARM,
                "a",
                {
                    "name": "fraud-5xx",
                    "metricQueries": [{"id": "m", "metric": CPU}],
                    "treatMissingData": "breaching",
                },
            ),
        ],
        [
            res(P.T_FUNCTION, "h", HOOK),
            res(
                P.T_ALARM, "a", {"name": "fraud-5xx", "metricQueries": [{"id": "m", "metric": CPU}]}
            ),
        ],
    ),
]


def test_every_policy_has_a_compliant_and_a_violating_case() -> None:
    covered = {c[0] for c in RESOURCE_CASES} | {c[0] for c in STACK_CASES}
    assert covered == set(P.BY_NAME)


def _only(policy: str, found: list[P.Finding]) -> list[P.Finding]:
    return [f for f in found if f.policy == policy]


@pytest.mark.parametrize(
    ("policy", "typ", "good", "bad"),
    RESOURCE_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(RESOURCE_CASES)],
)
def test_resource_rule(policy: str, typ: str, good: dict[str, Any], bad: dict[str, Any]) -> None:
    assert _only(policy, P.evaluate([Resource(typ, "good", good)])) == []
    found = _only(policy, P.evaluate([Resource(typ, "bad", bad)]))
    assert found and all(f.resource is not None and f.resource.name == "bad" for f in found)
    assert found[0].level == P.BY_NAME[policy].level


@pytest.mark.parametrize(
    ("policy", "tags", "good", "bad"),
    STACK_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(STACK_CASES)],
)
def test_stack_rule(
    policy: str, tags: dict[str, str], good: list[Resource], bad: list[Resource]
) -> None:
    assert _only(policy, P.evaluate(good, stack_tags=tags)) == []
    assert _only(policy, P.evaluate(bad, stack_tags=tags))


# ------------------------------------------------------------------ the pack, as the engine runs it
# Every case again through pulumi_policy's own analyzer servicer (tests/policy_engine.py): props
# arrive as `_DictProxy`/`_ListProxy` from a protobuf Struct, as `pulumi preview/up` hands them.

PACK = {p.name: p for p in pack_policies()}


def engine_resource(
    policy: str, typ: str, props: dict[str, Any], config: dict[str, Any] | None = None
) -> list[str]:
    srv = engine.servicer(config={policy: config} if config else None)
    return [
        d.message.split("\n", 1)[1]
        for d in engine.analyze_resource(srv, typ, props)
        if d.policy == policy
    ]


def engine_stack(
    policy: str,
    resources: list[Resource],
    tags: dict[str, str],
    config: dict[str, Any] | None = None,
) -> list[tuple[str, str]]:
    srv = engine.servicer(config={policy: config} if config else None, stack_tags=tags)
    stack = [
        engine.stack_resource(r.type, r.name, r.props, urn=r.urn, dependencies=r.depends_on)
        for r in resources
    ]
    return [
        (d.message, d.urn) for d in engine.analyze_stack_resources(srv, stack) if d.policy == policy
    ]


@pytest.mark.parametrize(
    ("policy", "typ", "good", "bad"),
    RESOURCE_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(RESOURCE_CASES)],
)
def test_pack_resource_policy_on_the_engines_proxies(
    policy: str, typ: str, good: dict[str, Any], bad: dict[str, Any]
) -> None:
    rule = P.BY_NAME[policy]
    assert isinstance(rule, P.ResourcePolicy)
    assert engine_resource(policy, typ, good) == []
    assert engine_resource(policy, typ, bad) == rule.check(engine.wire(bad), rule.settings())
    assert engine_resource(policy, typ, bad)
    # Another resource type is none of the policy's business.
    assert engine_resource(policy, "aws:ec2/vpc:Vpc", bad) == []


@pytest.mark.parametrize(
    ("policy", "tags", "good", "bad"),
    STACK_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(STACK_CASES)],
)
def test_pack_stack_policy_on_the_engines_proxies(
    policy: str, tags: dict[str, str], good: list[Resource], bad: list[Resource]
) -> None:
    assert engine_stack(policy, good, tags) == []
    found = engine_stack(policy, bad, tags)
    assert found and all(urn in {r.urn for r in bad} for _, urn in found)


U = UNKNOWN_STRING_VALUE


@pytest.mark.parametrize(
    ("policy", "typ", "props", "outcome"),
    [
        # A value the rule needs is unknown: the engine's advisory note, never a pass or a fail.
        ("iam-no-wildcards", P.T_ROLE_POLICY, {"policy": U, "role": U}, "skipped"),
        ("s3-tls-only", P.T_BUCKET_POLICY, {"policy": U, "bucket": U}, "skipped"),
        (
            "hook-reserved-concurrency",
            P.T_FUNCTION,
            {"handler": "sagemaker_rollouts.lambdas.x.handler", "reservedConcurrentExecutions": U},
            "skipped",
        ),
        # Unknowns elsewhere do not hide what is known.
        (
            "endpoint-config-kms",
            P.T_ENDPOINT_CONFIG,
            {"productionVariants": [{"instanceType": "ml.m5.large", "modelName": U}]},
            "violation",
        ),
        (
            "data-capture-encrypted",
            P.T_ENDPOINT_CONFIG,
            {"dataCaptureConfig": {"destinationS3Uri": U, "initialSamplingPercentage": 100}},
            "violation",
        ),
        (
            "iam-no-wildcards",
            P.T_ROLE,
            {
                "assumeRolePolicy": U,
                "inlinePolicies": [
                    {
                        "name": "a",
                        "policy": json.dumps(
                            {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
                        ),
                    },
                    {"name": "b", "policy": U},
                ],
            },
            "skipped",
        ),
        # An unknown key ARN is a key that will be there.
        (
            "endpoint-config-kms",
            P.T_ENDPOINT_CONFIG,
            {"kmsKeyArn": U, "productionVariants": [{"instanceType": "ml.m5.large"}]},
            "pass",
        ),
        ("sns-encrypted", P.T_TOPIC, {"kmsMasterKeyId": U}, "pass"),
    ],
)
def test_unknown_values_during_preview(
    policy: str, typ: str, props: dict[str, Any], outcome: str
) -> None:
    found = [
        d for d in engine.analyze_resource(engine.servicer(), typ, props) if d.policy == policy
    ]
    match outcome:
        case "skipped":
            assert [d.level for d in found] == ["advisory"]
            assert found[0].skipped_at_preview and "during preview" in found[0].message
        case "violation":
            assert [d.level for d in found] == [P.BY_NAME[policy].level]
            assert not found[0].skipped_at_preview
        case _:
            assert found == []


def test_pack_levels_are_the_rule_defaults_and_configurable() -> None:
    assert {n: p.enforcement_level for n, p in PACK.items()} == {
        n: EnforcementLevel(p.level) for n, p in P.BY_NAME.items()
    }
    assert PACK["model-network-isolation"].enforcement_level == EnforcementLevel.ADVISORY
    changed = {p.name: p for p in pack_policies({"model-network-isolation": "mandatory"})}
    assert changed["model-network-isolation"].enforcement_level == EnforcementLevel.MANDATORY
    with pytest.raises(
        ValueError, match=r"no-such-rule: unknown policy.*kms-rotation.enforcementLevel: 'loud'"
    ):
        pack_policies({"no-such-rule": "advisory", "kms-rotation": "loud"})  # type: ignore[dict-item]


def test_policy_config_changes_levels_and_settings() -> None:
    hook = {"handler": "sagemaker_rollouts.lambdas.x.handler"}
    assert P.evaluate([Resource(P.T_FUNCTION, "h", hook)])
    off = {"hook-reserved-concurrency": {"requireReservedConcurrency": False}}
    assert _only("hook-reserved-concurrency", P.evaluate([Resource(P.T_FUNCTION, "h", hook)]))
    assert (
        P.evaluate(
            [Resource(P.T_FUNCTION, "h", hook)], config=off | {"hook-log-retention": "disabled"}
        )
        == []
    )
    assert (
        engine_resource(
            "hook-reserved-concurrency", P.T_FUNCTION, hook, off["hook-reserved-concurrency"]
        )
        == []
    )
    disabled = P.evaluate([Resource(P.T_FUNCTION, "h", hook)], config={"all": "disabled"})
    assert disabled == []
    model = {"primaryContainer": {"image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/hf:1"}}
    exempt = {"model-network-isolation": {"exemptImagePatterns": [r"^763104351884\."]}}
    assert P.evaluate([Resource(P.T_MODEL, "m", model)], config=exempt) == []
    lowered = P.evaluate(
        [Resource(P.T_KEY, "k", {})], config={"kms-rotation": {"enforcementLevel": "advisory"}}
    )
    assert [f.level for f in lowered] == ["advisory"]
    with pytest.raises(
        ValueError,
        match=r"kms-rotation.enforcementLevel: 'loud' is not one of .*; nope: unknown policy",
    ):
        P.evaluate([], config={"kms-rotation": "loud", "nope": "advisory"})


def test_production_comes_from_stack_or_endpoint_tags_and_is_configurable() -> None:
    bare = [res(P.T_ENDPOINT, "e", {"name": "fraud"}), res(P.T_FUNCTION, "h", HOOK)]
    assert not _only("production-rollback-alarms", P.evaluate(bare))
    assert _only("production-rollback-alarms", P.evaluate(bare, stack_tags={"env": "Prod"}))
    tagged = [res(P.T_ENDPOINT, "e", {"name": "fraud", "tags": {"tier": "live"}}), bare[1]]
    cfg = {"production-rollback-alarms": {"productionTags": {"tier": ["live"]}}}
    assert _only("production-rollback-alarms", P.evaluate(tagged, config=cfg))
    assert engine_stack("production-rollback-alarms", tagged, {}, cfg["production-rollback-alarms"])


def test_legacy_violations_keep_their_shape() -> None:
    found = P.violations([(P.T_TOPIC, "t", {})])
    assert found == [f"{P.T_TOPIC} t: topic not KMS-encrypted"]


@pytest.mark.parametrize(
    ("image", "arn"),
    [
        (
            "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
            "arn:aws:ecr:us-east-1:683313688378:repository/sagemaker-xgboost",
        ),
        (
            "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/team/model@sha256:abc",
            "arn:aws-cn:ecr:cn-north-1:123456789012:repository/team/model",
        ),
        ("docker.io/library/python:3.12", None),
    ],
)
def test_ecr_repository_arn_from_image_uri(image: str, arn: str | None) -> None:
    assert iam.ecr_repository_arn(image) == arn


# ------------------------------------------------------------------ every sample stack, as the engine


SAMPLE_STACKS = sorted(p for p in ROOT.glob("Pulumi.*.yaml") if p.name != "Pulumi.yaml")


@cache
def sample_run(stack_file: Path, preview: bool) -> OfflineRun:
    run = run_offline(stack_file, preview=preview)
    run.raise_error()
    return run


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
@pytest.mark.parametrize("stack_file", SAMPLE_STACKS, ids=[p.stem for p in SAMPLE_STACKS])
def test_every_sample_stack_passes_the_pack_as_the_engine_runs_it(
    stack_file: Path, preview: bool
) -> None:
    found = engine.analyze_run(sample_run(stack_file, preview))
    assert [str(d) for d in found if d.level == "mandatory"] == []
    skipped = [d for d in found if d.skipped_at_preview]
    if not preview:
        assert skipped == []  # at `pulumi up` every value is known: every rule ran
