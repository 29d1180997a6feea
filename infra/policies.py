"""Security baseline as checks on declared resource inputs (DESIGN.md §7).

Each rule takes a resource's type token and its inputs as the engine sees them (camelCase keys),
and returns violations as strings. The infra tests run them over every resource each sample stack
declares; `rollout plan` can print them. They could back a Pulumi policy pack unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

# Actions AWS only accepts with Resource "*" (no resource-level permissions); see infra/iam.py.
STAR_ALLOWED = frozenset(
    {
        "ecr:GetAuthorizationToken",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeVpcs",
        "ec2:DescribeDhcpOptions",
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
    }
)
# Allowed on "*" only with a condition that scopes them.
STAR_WITH_CONDITION = frozenset({"cloudwatch:PutMetricData"})
_SECRET_HINTS = ("SECRET", "PASSWORD", "TOKEN", "PRIVATE_KEY", "API_KEY", "ACCESS_KEY")

Rule = Callable[[Mapping[str, Any]], list[str]]


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def iam_policy_violations(policy: Mapping[str, Any] | str) -> list[str]:
    """Nothing on "*" except the actions AWS only offers on "*" (documented in infra/iam.py)."""
    doc = json.loads(policy) if isinstance(policy, str) else policy
    out: list[str] = []
    for st in _as_list(doc.get("Statement", [])):
        if st.get("Effect") != "Allow" or "*" not in _as_list(st.get("Resource")):
            continue
        for action in _as_list(st.get("Action")):
            if action in STAR_ALLOWED:
                continue
            if action in STAR_WITH_CONDITION and st.get("Condition"):
                continue
            out.append(f"statement {st.get('Sid', '?')}: {action} on '*'")
    return out


def _role_policy(inputs: Mapping[str, Any]) -> list[str]:
    return iam_policy_violations(inputs["policy"])


def _public_access(inputs: Mapping[str, Any]) -> list[str]:
    keys = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    return [f"{k} is not true" for k in keys if inputs.get(k) is not True]


def _bucket_encryption(inputs: Mapping[str, Any]) -> list[str]:
    rules = inputs.get("rules") or []
    algos = [r.get("applyServerSideEncryptionByDefault", {}).get("sseAlgorithm") for r in rules]
    return [] if algos and all(a == "aws:kms" for a in algos) else ["bucket not SSE-KMS encrypted"]


def _bucket_policy(inputs: Mapping[str, Any]) -> list[str]:
    doc = json.loads(inputs["policy"])
    for st in doc["Statement"]:
        cond = st.get("Condition", {}).get("Bool", {})
        if st.get("Effect") == "Deny" and cond.get("aws:SecureTransport") == "false":
            return []
    return ["bucket policy does not deny non-TLS requests"]


def _table(inputs: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    if not inputs.get("serverSideEncryption", {}).get("enabled"):
        out.append("table not encrypted with KMS")
    if not inputs.get("pointInTimeRecovery", {}).get("enabled"):
        out.append("point-in-time recovery off")
    return out


def _topic(inputs: Mapping[str, Any]) -> list[str]:
    return [] if inputs.get("kmsMasterKeyId") else ["topic not KMS-encrypted"]


def _log_group(inputs: Mapping[str, Any]) -> list[str]:
    return [] if inputs.get("retentionInDays") else ["log group without retention"]


def _function(inputs: Mapping[str, Any]) -> list[str]:
    variables = inputs.get("environment", {}).get("variables", {})
    return [
        f"environment variable {k} looks like a secret"
        for k in variables
        if any(h in k.upper() for h in _SECRET_HINTS)
    ]


def _key(inputs: Mapping[str, Any]) -> list[str]:
    return [] if inputs.get("enableKeyRotation") is True else ["KMS key rotation off"]


def _alarm(inputs: Mapping[str, Any]) -> list[str]:
    dims = inputs.get("dimensions") or {}
    if inputs.get("namespace") == "AWS/SageMaker" and "EndpointName" not in dims:
        return ["SageMaker alarm without an EndpointName dimension"]
    return []


def _endpoint_config(inputs: Mapping[str, Any]) -> list[str]:
    capture = inputs.get("dataCaptureConfig")
    if capture and not capture.get("kmsKeyId"):
        return ["data capture without a KMS key"]
    return []


RULES: dict[str, Rule] = {
    "aws:iam/rolePolicy:RolePolicy": _role_policy,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _public_access,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        _bucket_encryption
    ),
    "aws:s3/bucketPolicy:BucketPolicy": _bucket_policy,
    "aws:dynamodb/table:Table": _table,
    "aws:sns/topic:Topic": _topic,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:lambda/function:Function": _function,
    "aws:kms/key:Key": _key,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": _endpoint_config,
}


def violations(resources: Iterable[tuple[str, str, Mapping[str, Any]]]) -> list[str]:
    """Every violation across (type, name, inputs) triples, each prefixed with the resource."""
    out: list[str] = []
    for typ, name, inputs in resources:
        rule = RULES.get(typ)
        if rule is not None:
            out.extend(f"{typ} {name}: {v}" for v in rule(inputs))
    return out
