"""Security baseline rules: each with a compliant and a violating resource."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sagemaker_rollouts.infra import iam, policies

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps(iam.document(*statements))


CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        ROLE_POLICY,
        {"policy": doc(iam.statement("A", ["sns:Publish"], ["arn:aws:sns:us-east-1:1:t"]))},
        {"policy": doc(iam.statement("A", ["sns:Publish"], "*"))},
    ),
    (
        ROLE_POLICY,
        {
            "policy": doc(
                iam.statement(
                    "M",
                    ["cloudwatch:PutMetricData"],
                    "*",
                    {"StringEquals": {"cloudwatch:namespace": "X"}},
                )
            )
        },
        {"policy": doc(iam.statement("M", ["cloudwatch:PutMetricData"], "*"))},
    ),
    (
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        dict.fromkeys(
            ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"),
            True,
        ),
        {"blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True},
    ),
    (
        "aws:s3/bucketPolicy:BucketPolicy",
        {"policy": json.dumps(iam.tls_only_bucket_policy("arn:aws:s3:::b"))},
        {"policy": json.dumps({"Statement": []})},
    ),
    (
        "aws:dynamodb/table:Table",
        {"serverSideEncryption": {"enabled": True}, "pointInTimeRecovery": {"enabled": True}},
        {"serverSideEncryption": {"enabled": True}},
    ),
    ("aws:sns/topic:Topic", {"kmsMasterKeyId": "alias/aws/sns"}, {}),
    ("aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": 30}, {}),
    (
        "aws:lambda/function:Function",
        {"environment": {"variables": {"STATE_TABLE": "t"}}},
        {"environment": {"variables": {"DB_PASSWORD": "x"}}},
    ),
    ("aws:kms/key:Key", {"enableKeyRotation": True}, {"enableKeyRotation": False}),
    (
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        {"namespace": "AWS/SageMaker", "dimensions": {"EndpointName": "e", "VariantName": "v"}},
        {"namespace": "AWS/SageMaker"},
    ),
    (
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        {"dataCaptureConfig": {"kmsKeyId": "arn:aws:kms:us-east-1:1:key/k"}},
        {"dataCaptureConfig": {"destinationS3Uri": "s3://b/p"}},
    ),
]


@pytest.mark.parametrize(
    ("typ", "good", "bad"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_rule_accepts_compliant_and_names_the_violation(
    typ: str, good: dict[str, Any], bad: dict[str, Any]
) -> None:
    assert policies.violations([(typ, "good", good)]) == []
    found = policies.violations([(typ, "bad", bad)])
    assert found and all(v.startswith(f"{typ} bad: ") for v in found)


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
