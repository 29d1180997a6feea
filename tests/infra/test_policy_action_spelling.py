"""The policy pack reads IAM actions as IAM does: "The prefix and the action name are case
insensitive" and an action may carry the wildcards `*` and `?` (IAM User Guide, "IAM JSON policy
elements: Action"). A privilege-escalation action spelled in another case, or matched by a
pattern, grants exactly what its canonical spelling grants, so it must meet the same rule."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sagemaker_rollouts.infra import policies as P
from sagemaker_rollouts.infra.policies import Resource

ROLE = "arn:aws:iam::123456789012:role/x"


def policy(action: str, resource: str = ROLE, condition: dict[str, Any] | None = None) -> str:
    st: dict[str, Any] = {"Sid": "S", "Effect": "Allow", "Action": action, "Resource": resource}
    if condition is not None:
        st["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [st]})


def findings(rule: str, doc: str) -> list[str]:
    found = P.evaluate([Resource(P.T_ROLE_POLICY, "r", {"policy": doc, "role": "x"})])
    return [f.message for f in found if f.policy == rule]


@pytest.mark.parametrize(
    "action", ["iam:PassRole", "iam:passrole", "IAM:PASSROLE", "iam:Pass?ole", "iam:PassRol?"]
)
def test_an_unscoped_pass_role_is_flagged_however_it_is_spelled(action: str) -> None:
    assert findings("iam-writes-scoped", policy(action)), action


@pytest.mark.parametrize("action", ["iam:PassRole", "iam:passrole", "iam:Pass?ole"])
def test_a_pass_role_scoped_to_a_service_passes_however_it_is_spelled(action: str) -> None:
    scoped = {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}
    assert findings("iam-writes-scoped", policy(action, condition=scoped)) == []


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("s3:PutObjec?", "arn:aws:s3:::bucket/key"),  # `?` is a wildcard too
        ("lambda:UpdateFunction????", "arn:aws:lambda:us-east-1:123456789012:function:f"),
    ],
)
def test_a_question_mark_in_an_action_is_a_wildcard_action(action: str, resource: str) -> None:
    assert any(
        "wildcard action" in m for m in findings("iam-no-wildcards", policy(action, resource))
    )
