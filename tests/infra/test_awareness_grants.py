"""The CI roles can run the reads the program itself makes while `pulumi preview` and `pulumi up`
run it: deploy-time awareness reads every canary's outcome from the state table
(`infra.awareness`, `lambdas.store.read_outcomes`). The calls are recorded as the reader makes
them against moto (botocore's `before-call`), and each is checked against the role's policies
with the IAM simulator: DynamoDB authorizes BatchGetItem as its own action,
`dynamodb:BatchGetItem` (Service Authorization Reference, Amazon DynamoDB), unlike
TransactWriteItems, which is authorized per item."""

from __future__ import annotations

from typing import Any

import pytest

from sagemaker_rollouts.infra import ci_policy
from sagemaker_rollouts.infra.awareness import dynamodb_reader
from sagemaker_rollouts.lambdas import store
from tests.iam_sim import Request, allowed
from tests.infra.test_least_privilege import ROOT, A, R, policies_of, role_named, stack_run

TABLE = "sagemaker-rollouts-canary-rollouts"


def awareness_calls(moto_session: Any) -> list[str]:
    """The DynamoDB operations deploy-time awareness makes for the canary stack's rollouts."""
    admin = moto_session.client("dynamodb")
    if TABLE not in admin.list_tables()["TableNames"]:
        store.create_state_table(admin, TABLE)
    reader: Any = dynamodb_reader(TABLE, R)
    client = moto_session.client("dynamodb")
    calls: list[str] = []
    client.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: calls.append(model.name)
    )
    reader._client = client  # the reader's own client, instrumented
    run = stack_run(ROOT / "Pulumi.canary.yaml")
    ids = [str(r.inputs["name"]) + "/x/1" for r in run.of_type("aws:sagemaker/endpoint:Endpoint")]
    reader.many(ids)
    reader(ids[0])
    assert calls
    return sorted(set(calls))


@pytest.mark.parametrize("role", ["-deploy", "-preview"])
def test_the_ci_roles_can_read_what_deploy_time_awareness_reads(
    moto_session: Any, role: str
) -> None:
    run = stack_run(ROOT / "Pulumi.canary.yaml")
    docs = policies_of(run, role_named(run, role))
    table = f"arn:aws:dynamodb:{R}:{A}:table/{TABLE}"
    tagged = {f"aws:ResourceTag/{ci_policy.TAG_KEY}": "canary"}  # the table carries its tag
    denied = [
        op
        for op in awareness_calls(moto_session)
        if not allowed(Request(f"dynamodb:{op}", table, tagged), docs)
    ]
    assert denied == []
