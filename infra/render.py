"""Render a `DeploymentPlan` with pulumi_aws: the only place the program declares resources.

`render(plan, outcomes=...)` first reads every canary candidate's recorded outcome (deploy-time
awareness, `sagemaker_rollouts.infra.awareness`) and raises before declaring anything if one was
rolled back. Then it declares the stack's shared resources and one `SageMakerEndpoint` per
endpoint. Library code exports nothing: `stack_outputs(rendered)` gives the values (endpoint
names, variant names, alarm names, capture URIs, and for canary stacks the state table, topic
and hook functions) and the program (`sagemaker_rollouts.infra.program`) exports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from sagemaker_rollouts.infra import awareness, scaling_guard, secrets
from sagemaker_rollouts.infra.endpoint import SageMakerEndpoint
from sagemaker_rollouts.infra.pipeline import PipelineRole
from sagemaker_rollouts.infra.shared import Account, StackResources, boundary_rule
from sagemaker_rollouts.strategies.plan import DeploymentPlan


@dataclass(frozen=True, slots=True)
class Rendered:
    """The components `render` declared (for tests and for a program that adds more)."""

    stack: StackResources
    endpoints: dict[str, SageMakerEndpoint]  # by endpoint config key
    awareness: awareness.Awareness
    pipeline: PipelineRole | None = None  # the CI/CD role, when the config has `ci_role`


def render(
    plan: DeploymentPlan,
    outcomes: awareness.OutcomeReader | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> Rendered:
    """Declare everything `plan` describes (no stack exports: see `stack_outputs`).

    `outcomes` maps a rollout id to its recorded outcome; None reads the stack's state table
    (or, inside `sagemaker_rollouts.simulator.mockrun`, the offline run's reader). Invariant: a rolled-back candidate
    raises `RolledBackCandidateError` before any resource is declared. `opts` (provider, parent,
    aliases) go to the stack's components, hence to every resource; the identity lookups use the
    same provider and parent.
    """
    reader = outcomes if outcomes is not None else awareness.default_reader(plan)
    aware = awareness.check(plan, reader)
    plan = aware.adjusted(plan)  # a running canary keeps its traffic (strategies/redeploy.py)
    # Variants this run removes lose their autoscaling first: SageMaker refuses to remove a
    # registered variant, and Pulumi would deregister it only after the endpoint update.
    scaling_guard.guard(plan, aware)

    invoke = pulumi.InvokeOutputOptions(
        provider=None if opts is None else opts.provider,
        parent=None if opts is None else opts.parent,
    )
    identity = aws.get_caller_identity_output(opts=invoke)
    partition = aws.get_partition_output(opts=invoke)
    account = Account(
        account_id=identity.account_id, partition=partition.partition, region=plan.region
    )
    # a decrypted secret tag value reaches every resource as a secret (infra/secrets.py)
    tags: dict[str, Any] = {k: secrets.resolve(v) for k, v in plan.tags}
    pipeline = (
        None
        if plan.ci_role is None
        else PipelineRole(
            f"{plan.project}-{plan.stack}-ci",
            deployment=plan,
            account=account,
            tags=tags,
            opts=opts,
        )
    )
    if pipeline is not None:
        # Every role the stack declares carries the workload boundary: the deploy role may only
        # create or change roles that do (infra/ci_policy.py).
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(transformations=[boundary_rule(pipeline.boundary_arn)])
        )
    shared = StackResources(f"{plan.project}-{plan.stack}", plan, account, tags, opts=opts)
    endpoints = {
        e.key: SageMakerEndpoint(
            e.key,
            plan=e,
            stack=shared,
            account=account,
            tags=tags,
            completed=aware.completed(e),
            opts=opts,
            target=plan.operator_args(e),
        )
        for e in plan.endpoints
    }

    return Rendered(stack=shared, endpoints=endpoints, awareness=aware, pipeline=pipeline)


def stack_outputs(rendered: Rendered) -> dict[str, Any]:
    """The project's stack outputs, by output name (`rollout plan` and the operator CLI read them).

    Keys present on every stack: `endpoint_names`, `variant_names`, `alarm_names`, `dashboards`
    (CloudWatch dashboard names; each keyed by endpoint config key). Only when used: `shadow_variant_names`, `capture_s3_uris`,
    `capture_bucket`, `state_table`, `notification_topic_arn`, `ci_role_arn`, `hook_functions`,
    `completed_canaries`.
    """
    endpoints = rendered.endpoints
    shared = rendered.stack
    out: dict[str, Any] = {
        "endpoint_names": {k: e.endpoint.name for k, e in endpoints.items()},
        "variant_names": {k: e.variant_names for k, e in endpoints.items()},
    }
    shadows = {k: e.shadow_variant_names for k, e in endpoints.items() if e.shadow_variant_names}
    if shadows:
        out["shadow_variant_names"] = shadows
    out["alarm_names"] = {k: e.alarm_names for k, e in endpoints.items()}
    out["dashboards"] = {k: e.dashboard.dashboard_name for k, e in endpoints.items()}
    captures = {k: e.capture_uri for k, e in endpoints.items() if e.capture_uri is not None}
    if captures:
        out["capture_s3_uris"] = captures
    if shared.bucket is not None:
        out["capture_bucket"] = shared.bucket.bucket
    if shared.table_name is not None:
        out["state_table"] = shared.table_name
    if shared.topic_arn is not None:
        out["notification_topic_arn"] = shared.topic_arn
    if rendered.pipeline is not None:
        out["ci_role_arn"] = rendered.pipeline.role_arn
        if rendered.pipeline.preview_role_arn is not None:
            out["ci_preview_role_arn"] = rendered.pipeline.preview_role_arn
    hooks = {k: e.hook.function.name for k, e in endpoints.items() if e.hook is not None}
    if hooks:
        out["hook_functions"] = hooks
    completed = [
        k
        for k in endpoints
        if rendered.awareness.outcomes.get(k) is not None
        and rendered.awareness.outcomes[k].status == "completed"
    ]
    if completed:
        out["completed_canaries"] = completed
    return out
