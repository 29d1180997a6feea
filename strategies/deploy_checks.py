"""Plan-time checks of what `pulumi up` itself would run into: the AWS provider's waits.

Everything here needs the planned endpoint (fleet sizes, the deployment policy SageMaker gets),
so it runs in `build_plan`, after the config model's own rules: errors join the one
`ConfigError` (key paths), warnings are printed by `rollout plan` and logged by the program.

The provider's wait. pulumi-aws bridges terraform-provider-aws; its `aws_sagemaker_endpoint`
waits for InService after CreateEndpoint and after UpdateEndpoint with `waitEndpointInService`
(`internal/service/sagemaker/endpoint.go`): `timeout = 60 * time.Minute`, a constant (the
resource has no `timeouts` block, so Pulumi's `customTimeouts` cannot lengthen it). SageMaker
keeps the endpoint `Updating` for a whole blue/green or rolling deployment, so a deployment
longer than an hour fails `pulumi up` ("timeout while waiting for state to become 'InService'")
while SageMaker carries on, and leaves the stack's state behind the endpoint. Two cases:

- the deployment's own waits (bakes and termination wait; provisioning not counted) reach the
  hour: `pulumi up` fails for certain, so the plan refuses it, naming the key to shorten;
- they fit, but `max_execution_timeout_seconds` lets SageMaker run past the hour (slow green
  fleet or batch provisioning): a warning says how much room provisioning has.

Durations, from SageMaker's API reference (botocore `sagemaker` model):
`TrafficRoutingConfig.WaitIntervalInSeconds` is "the waiting time (in seconds) between
incremental steps to turn on traffic on the new endpoint fleet"; `TerminationWaitInSeconds`
"additional waiting time ... after the completion of an update" before the old fleet is
terminated; `RollingUpdatePolicy.WaitIntervalInSeconds` "the length of the baking period, during
which SageMaker monitors alarms for each batch on the new fleet". So blue/green waits
(steps - 1) x wait + termination wait at least, rolling batches x wait, steps and batches in
whole instances: `guardrails.update_waits`, the count the timeout rule and the emulator use.

Pure: no pulumi, no boto3.
"""

from __future__ import annotations

from typing import assert_never

from sagemaker_rollouts.strategies.guardrails import update_waits
from sagemaker_rollouts.strategies.plan import (
    ABPlan,
    BlueGreenPlan,
    CanaryPlan,
    DeploymentPlan,
    EndpointPlan,
    RecreatePlan,
    RollingPlan,
    ShadowPlan,
)

PROVIDER_WAIT_SECONDS = 60 * 60
"""terraform-provider-aws `waitEndpointInService`: `timeout = 60 * time.Minute` (endpoint.go)."""


def _seconds(value: int) -> str:
    return f"{value:,} s"


def updating_at_least(plan: EndpointPlan) -> tuple[int, str] | None:
    """The seconds a blue/green or rolling deployment keeps the endpoint Updating at least (its
    waits, provisioning not counted) and how they add up; None for other strategies.

    The same count as the timeout rule and the guardrails emulator (`guardrails.update_waits`)."""
    match plan.strategy_plan:
        case BlueGreenPlan() | RollingPlan() as deployment:
            return update_waits(deployment, plan.production_variants[0].instance_count)
        case RecreatePlan() | ShadowPlan() | CanaryPlan() | ABPlan():
            return None
        case _:
            assert_never(plan.strategy_plan)


def plan_problems(plan: EndpointPlan, path: str, stack: str) -> list[str]:
    """What `pulumi up` would certainly fail on, as `key.path: message` (`path`: `endpoints.<k>`)."""
    errs: list[str] = []
    found = updating_at_least(plan)
    if found is not None and found[0] >= PROVIDER_WAIT_SECONDS:
        total, how = found
        errs.append(
            f"{path}.strategy.{plan.strategy}: the deployment keeps the endpoint Updating for at "
            f"least {_seconds(total)} ({how}; provisioning not counted), and the AWS provider "
            f"stops waiting for InService after {_seconds(PROVIDER_WAIT_SECONDS)} "
            "(terraform-provider-aws waitEndpointInService, not configurable): `pulumi up` would "
            "fail while SageMaker carries on. Shorten it below "
            f"{_seconds(PROVIDER_WAIT_SECONDS)} with larger steps or shorter wait_seconds / "
            "termination_wait_seconds, or use strategy.canary for longer bakes (its hook moves "
            f"traffic after `pulumi up` returns; CI waits with `rollout status --stack {stack} "
            "--wait --timeout SECONDS`)"
        )
    return errs


def plan_warnings(plan: EndpointPlan, path: str, stack: str) -> list[str]:
    """What `pulumi up` may run into, as `key.path: message` (never blocking)."""
    found = updating_at_least(plan)
    deployment = plan.strategy_plan
    if found is None or not isinstance(deployment, BlueGreenPlan | RollingPlan):
        return []  # only blue/green and rolling keep the endpoint Updating (updating_at_least)
    total, _ = found
    timeout = deployment.max_execution_timeout_seconds
    if total >= PROVIDER_WAIT_SECONDS or timeout is None or timeout <= PROVIDER_WAIT_SECONDS:
        return []
    room = PROVIDER_WAIT_SECONDS - total
    return [
        f"{path}.strategy.{plan.strategy}.max_execution_timeout_seconds: SageMaker may run the "
        f"deployment for up to {_seconds(timeout)}, but the AWS provider stops waiting after "
        f"{_seconds(PROVIDER_WAIT_SECONDS)}; the waits take {_seconds(total)}, leaving "
        f"{_seconds(room)} to provision the new instances. If `pulumi up` times out, SageMaker "
        f"carries on: wait for it with `rollout status --stack {stack} --wait --timeout "
        f"{timeout}`, then `pulumi refresh`; or set max_execution_timeout_seconds to at most "
        f"{PROVIDER_WAIT_SECONDS}"
    ]


def deployment_warnings(plan: DeploymentPlan) -> list[str]:
    """`plan_warnings` of every endpoint of a stack (paths `endpoints.<key>...`)."""
    return [w for e in plan.endpoints for w in plan_warnings(e, f"endpoints.{e.key}", plan.stack)]
