"""The permissions boundary is the ceiling of every role the deploy role may create: a CI job
can create a role carrying it, give it any inline policy (iam:PutRolePolicy on its bounded
roles), pass it to a Lambda function it creates and schedule that function (all granted to the
deploy role). So whatever the boundary allows, the CI role can do through such a role: the
boundary must not reach traffic of endpoints the stack does not declare.

IAM evaluates an identity policy and a permissions boundary as an intersection (IAM User Guide,
"Permissions boundaries for IAM entities"); `tests/iam_sim.allowed` does the same."""

from __future__ import annotations

import pytest

from tests.iam_sim import Request, allowed
from tests.infra.test_least_privilege import ROOT, A, R, boundary_of, stack_run

ADMIN = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
WEIGHTS = "sagemaker:UpdateEndpointWeightsAndCapacities"


@pytest.mark.parametrize(
    ("endpoint", "ok"),
    [
        ("fraud-detector", True),  # the stack's own endpoint: the hook moves its traffic
        ("payments", False),  # another team's endpoint in the same account
        ("fraud-detector-drift", False),  # another stack's endpoint, a longer name
    ],
)
def test_a_bounded_role_moves_traffic_only_on_the_stacks_endpoints(endpoint: str, ok: bool) -> None:
    run = stack_run(ROOT / "Pulumi.canary.yaml")
    boundary = boundary_of(run)
    arn = f"arn:aws:sagemaker:{R}:{A}:endpoint/{endpoint}"
    for action in (WEIGHTS, "sagemaker:DescribeEndpoint"):
        assert allowed(Request(action, arn), [ADMIN], boundary) is ok, (action, endpoint)


@pytest.mark.parametrize(
    ("table", "ok"),
    [
        ("sagemaker-rollouts-canary-rollouts", True),  # the stack's state table
        ("payments", False),  # another team's table
        ("sagemaker-rollouts-canary-drift-rollouts", False),  # another stack's state table
    ],
)
def test_a_bounded_role_writes_items_only_of_the_stacks_state_table(table: str, ok: bool) -> None:
    run = stack_run(ROOT / "Pulumi.canary.yaml")
    boundary = boundary_of(run)
    arn = f"arn:aws:dynamodb:{R}:{A}:table/{table}"
    for action in ("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"):
        assert allowed(Request(action, arn), [ADMIN], boundary) is ok, (action, table)
