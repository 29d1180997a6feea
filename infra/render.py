"""Render a `DeploymentPlan` with pulumi_aws: the only place the program declares resources.

`render(plan, outcomes=...)` first reads every canary candidate's recorded outcome (deploy-time
awareness, `sagemaker_rollouts.infra.awareness`) and raises before declaring anything if one was rolled back. Then
it declares the stack's shared resources, one `SageMakerEndpoint` per endpoint, and the stack
outputs: endpoint names, variant names, alarm names, capture URIs, and for canary stacks the
state table and hook functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from sagemaker_rollouts.infra import awareness
from sagemaker_rollouts.infra.endpoint import SageMakerEndpoint
from sagemaker_rollouts.infra.shared import Account, StackResources
from sagemaker_rollouts.strategies.plan import DeploymentPlan


@dataclass(frozen=True, slots=True)
class Rendered:
    """The components `render` declared (for tests and for a program that adds more)."""

    stack: StackResources
    endpoints: dict[str, SageMakerEndpoint]  # by endpoint config key
    awareness: awareness.Awareness


def render(plan: DeploymentPlan, outcomes: awareness.OutcomeReader | None = None) -> Rendered:
    """Declare everything `plan` describes and export the stack outputs.

    `outcomes` maps a rollout id to its recorded outcome; None reads the stack's state table
    (or, inside `sagemaker_rollouts.infra.mockrun`, the offline run's reader). Invariant: a rolled-back candidate
    raises `RolledBackCandidateError` before any resource is declared.
    """
    reader = outcomes if outcomes is not None else awareness.default_reader(plan)
    aware = awareness.check(plan, reader)

    identity = aws.get_caller_identity_output()
    partition = aws.get_partition_output()
    account = Account(
        account_id=identity.account_id, partition=partition.partition, region=plan.region
    )
    tags = dict(plan.tags)
    shared = StackResources(f"{plan.project}-{plan.stack}", plan, account, tags)
    endpoints = {
        e.key: SageMakerEndpoint(
            e.key,
            plan=e,
            stack=shared,
            account=account,
            tags=tags,
            completed=aware.completed(e),
        )
        for e in plan.endpoints
    }

    pulumi.export("endpoint_names", {k: e.endpoint.name for k, e in endpoints.items()})
    pulumi.export("variant_names", {k: e.variant_names for k, e in endpoints.items()})
    shadows = {k: e.shadow_variant_names for k, e in endpoints.items() if e.shadow_variant_names}
    if shadows:
        pulumi.export("shadow_variant_names", shadows)
    pulumi.export("alarm_names", {k: e.alarm_names for k, e in endpoints.items()})
    captures = {k: e.capture_uri for k, e in endpoints.items() if e.capture_uri is not None}
    if captures:
        pulumi.export("capture_s3_uris", captures)
    if shared.bucket is not None:
        pulumi.export("capture_bucket", shared.bucket.bucket)
    if shared.table is not None:
        pulumi.export("state_table", shared.table.name)
    if shared.topic is not None:
        pulumi.export("notification_topic_arn", shared.topic.arn)
    hooks = {k: e.hook.function.name for k, e in endpoints.items() if e.hook is not None}
    if hooks:
        pulumi.export("hook_functions", hooks)
    completed = [k for k in endpoints if aware.completed(plan.endpoint(k))]
    if completed:
        pulumi.export("completed_canaries", completed)
    return Rendered(stack=shared, endpoints=endpoints, awareness=aware)
