"""A small IAM policy evaluator: the tests' oracle for "may this principal do this".

Implements the parts of AWS's policy evaluation logic the product's policies use (IAM User Guide,
"Policy evaluation logic" and "IAM JSON policy elements: Condition operators"):
- an explicit Deny in any policy wins; otherwise some identity-policy Allow is needed; with a
  permissions boundary the boundary must allow the request too (identity ∩ boundary);
- Action / NotAction and Resource / NotResource with `*` and `?` wildcards (actions compare
  case-insensitively, resources case-sensitively);
- conditions: String{Equals,NotEquals,Like,NotLike}[IgnoreCase], Arn{Equals,Like,NotEquals,NotLike},
  Bool, Null, each with `...IfExists`, and the `ForAllValues:` / `ForAnyValue:` set qualifiers.
  Several values in one condition are OR'ed, several keys / operators AND'ed. A missing key makes
  a plain operator false (and `ForAllValues` true, as AWS does), `...IfExists` true.
- trust policies: `may_assume(trust, principal, action, context)` for Service / Federated / AWS
  principals.

Context keys are matched case-insensitively, like AWS's. Values are strings or lists of strings.
PyPI offers linters (parliament), an action database (policy_sentry) and report tools
(cloudsplaining), but no evaluator of conditions: this is the small part we write ourselves.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Doc = Mapping[str, Any]


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _doc(policy: Doc | str) -> Doc:
    return json.loads(policy) if isinstance(policy, str) else policy


@functools.cache
def _compiled(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    # Compiled once per pattern: the cross-stack checks match thousands of requests against the
    # same few hundred Action/Resource patterns.
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _wild(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's `*` (any run, `/` and `:` included) and `?` (one character)."""
    return _compiled(pattern, ignore_case).fullmatch(value) is not None


def _arn_like(pattern: str, value: str) -> bool:
    """ArnLike: each of the six colon-separated parts matched on its own."""
    p, v = pattern.split(":", 5), value.split(":", 5)
    if len(p) != 6 or len(v) != 6:
        return False
    return all(_wild(a, b) for a, b in zip(p, v, strict=True))


_OPS = {
    "StringEquals": lambda p, v: p == v,
    "StringNotEquals": lambda p, v: p != v,
    "StringEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
    "StringNotEqualsIgnoreCase": lambda p, v: p.lower() != v.lower(),
    "StringLike": lambda p, v: _wild(p, v),
    "StringNotLike": lambda p, v: not _wild(p, v),
    "ArnEquals": lambda p, v: p == v,
    "ArnLike": _arn_like,
    "ArnNotEquals": lambda p, v: p != v,
    "ArnNotLike": lambda p, v: not _arn_like(p, v),
    "Bool": lambda p, v: str(p).lower() == str(v).lower(),
}
_NEGATED = {
    "StringNotEquals",
    "StringNotEqualsIgnoreCase",
    "StringNotLike",
    "ArnNotEquals",
    "ArnNotLike",
}


def _condition_holds(operator: str, key: str, wanted: Any, context: Mapping[str, Any]) -> bool:
    qualifier, _, op = operator.rpartition(":")
    if_exists = op.endswith("IfExists")
    op = op.removesuffix("IfExists")
    lowered = {k.lower(): v for k, v in context.items()}
    present = key.lower() in lowered
    patterns = [str(w) for w in _list(wanted)]
    if op == "Null":
        return (not present) == (str(patterns[0]).lower() == "true")
    if op not in _OPS:
        raise ValueError(f"condition operator not modelled: {operator}")
    if not present:
        if qualifier == "ForAllValues":
            return True
        return if_exists
    values = [str(v) for v in _list(lowered[key.lower()])]
    test = _OPS[op]
    negated = op in _NEGATED

    def one(value: str) -> bool:
        results = [test(p, value) for p in patterns]
        return all(results) if negated else any(results)

    if qualifier == "ForAllValues":
        return all(one(v) for v in values)
    if qualifier == "ForAnyValue":
        return any(one(v) for v in values)
    if len(values) != 1:
        return False  # a single-valued operator on a multivalued key
    return one(values[0])


def _conditions_hold(st: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    for operator, block in (st.get("Condition") or {}).items():
        for key, wanted in block.items():
            if not _condition_holds(operator, key, wanted, context):
                return False
    return True


def _matches(st: Mapping[str, Any], action: str, resource: str) -> bool:
    if "Action" in st:
        if not any(_wild(str(a), action, ignore_case=True) for a in _list(st["Action"])):
            return False
    elif any(_wild(str(a), action, ignore_case=True) for a in _list(st.get("NotAction"))):
        return False
    if "Resource" in st:
        return any(_wild(str(r), resource) for r in _list(st["Resource"]))
    return not any(_wild(str(r), resource) for r in _list(st.get("NotResource")))


def _statements(policy: Doc | str) -> list[Mapping[str, Any]]:
    return [s for s in _list(_doc(policy).get("Statement")) if isinstance(s, Mapping)]


@dataclass(frozen=True, slots=True)
class Request:
    """One API call as IAM sees it: the action, the resource ARN and the request context."""

    action: str
    resource: str = "*"
    context: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.action} on {self.resource} {dict(self.context) or ''}".rstrip()


def decision(
    request: Request, identity: Sequence[Doc | str], boundary: Doc | str | None = None
) -> str:
    """ "allow", "explicit-deny" or "implicit-deny" for an identity's policies (+ boundary)."""
    sets = [list(identity)] + ([[boundary]] if boundary is not None else [])
    for policies in sets:
        for policy in policies:
            for st in _statements(policy):
                if (
                    st.get("Effect") == "Deny"
                    and _matches(st, request.action, request.resource)
                    and _conditions_hold(st, request.context)
                ):
                    return "explicit-deny"
    for policies in sets:
        if not any(
            st.get("Effect") == "Allow"
            and _matches(st, request.action, request.resource)
            and _conditions_hold(st, request.context)
            for policy in policies
            for st in _statements(policy)
        ):
            return "implicit-deny"
    return "allow"


def allowed(
    request: Request, identity: Sequence[Doc | str], boundary: Doc | str | None = None
) -> bool:
    return decision(request, identity, boundary) == "allow"


def may_assume(
    trust: Doc | str,
    principal: Mapping[str, str],
    action: str = "sts:AssumeRole",
    context: Mapping[str, Any] | None = None,
) -> bool:
    """Whether a trust policy lets `principal` (e.g. {"Service": "lambda.amazonaws.com"} or
    {"Federated": provider_arn}) call `action` with this request context."""
    ctx = context or {}
    allow = False
    for st in _statements(trust):
        named = st.get("Principal") or {}
        if named == "*":
            hit = True
        else:
            hit = any(
                kind in named and any(fnmatch.fnmatchcase(value, p) for p in _list(named[kind]))
                for kind, value in principal.items()
            )
        if not hit or not any(
            _wild(str(a), action, ignore_case=True) for a in _list(st.get("Action"))
        ):
            continue
        if not _conditions_hold(st, ctx):
            continue
        if st.get("Effect") == "Deny":
            return False
        allow = True
    return allow


# --------------------------------------------------------------------------- KMS on the caller's behalf
# A call on a resource encrypted with a customer managed key makes the service call KMS with the
# caller's credentials (`kms:ViaService` names the service): IAM then evaluates those KMS requests
# too, and the call fails when any is denied. What each call asks KMS for:
KMS_ON_BEHALF: dict[str, tuple[str, ...]] = {
    # SNS Developer Guide, "Encryption at rest" (key management): "the publisher must have the
    # kms:GenerateDataKey* and kms:Decrypt permissions" on the topic's key.
    "sns:Publish": ("kms:GenerateDataKey", "kms:Decrypt"),
    # DynamoDB Developer Guide, "Encryption at rest: how it works" (table keys): on access to a
    # table on a customer managed key, DynamoDB has KMS decrypt the table key for the caller.
    "dynamodb:GetItem": ("kms:Decrypt",),
    "dynamodb:BatchGetItem": ("kms:Decrypt",),
    "dynamodb:Query": ("kms:Decrypt",),
    "dynamodb:PutItem": ("kms:Decrypt",),
    "dynamodb:UpdateItem": ("kms:Decrypt",),
    # S3 User Guide, "Using server-side encryption with AWS KMS keys" (permissions): an upload
    # needs kms:GenerateDataKey, a download kms:Decrypt.
    "s3:PutObject": ("kms:GenerateDataKey",),
    "s3:GetObject": ("kms:Decrypt",),
}


@dataclass(frozen=True, slots=True)
class Encryption:
    """Which resources a customer managed key encrypts: resource ARN pattern (IAM wildcards)
    -> key ARN. Resources named by no pattern use AWS owned or managed keys (no grant needed)."""

    keys: Mapping[str, str] = field(default_factory=dict)
    region: str = "us-east-1"
    # What IAM sees of each key besides the request: its tags (`aws:ResourceTag/<key>`).
    key_context: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def key_of(self, resource: str) -> str | None:
        return next((k for p, k in self.keys.items() if _wild(p, resource)), None)

    def requests(self, request: Request) -> list[Request]:
        """`request` and the KMS requests its service makes with the caller's credentials."""
        key = self.key_of(request.resource)
        if key is None:
            return [request]
        service = request.action.split(":")[0]
        # The service asks KMS from the Region the resource is in (an SNS topic in another
        # Region than the caller's is published to by that Region's SNS); S3 object ARNs name
        # no Region: the caller's.
        parts = request.resource.split(":")
        where = parts[3] if len(parts) > 3 and parts[3] else self.region
        via = {
            **self.key_context.get(key, {}),
            "kms:ViaService": f"{service}.{where}.amazonaws.com",
        }
        return [request] + [Request(a, key, via) for a in KMS_ON_BEHALF.get(request.action, ())]


def call_decision(
    request: Request,
    identity: Sequence[Doc | str],
    boundary: Doc | str | None = None,
    encryption: Encryption | None = None,
) -> str:
    """ "allow" when the call and every KMS request it causes are allowed, else the first
    denial as `"<decision>: <request>"`."""
    for one in (encryption or Encryption()).requests(request):
        found = decision(one, identity, boundary)
        if found != "allow":
            return f"{found}: {one}"
    return "allow"
