"""Sizes AWS refuses at deploy time, measured on what the program generates from a plan.

The config validator (strategies/config.py) checks each key on its own; some AWS limits apply to
what the program *builds* from many keys together: the canary hook's Lambda environment (the
rollout spec as JSON), its inline IAM policy (one ARN per watched alarm) and the EventBridge
pattern that listens for those alarms (the count DescribeAlarms takes is checked by the planner,
strategies/planner.py, as it needs nothing but the plan). Each is
measured here by calling the same function the resource uses (`infra.hook.hook_environment`,
`hook_role_policy`, `watched_alarms`, `alarm_event_pattern`), with the plan's own names and the
ARNs the account will give them: an account id is always 12 digits and a KMS key id a 36-char
UUID, so those stand-ins have the exact length of the real values. A bring-your-own ARN passed as
a `pulumi.Output` has no length offline; the stack's default is measured instead (a brought KMS
key: a key ARN of this Region, whose length is fixed). The component's brought topic and the
keys of a brought topic and table (`Brought`) add their statements to the hook's policy.

`deploy_limit_errors(plan)` runs before anything is declared (the program and the component
call it right after planning), so `rollout plan`, `pulumi preview` and the component all refuse
the same config with the same `key.path: message`.

Limits, with their sources:
- Lambda environment: "4 KB, for all environment variables associated with the function, in
  aggregate" (Lambda Developer Guide, Lambda quotas); Lambda measures the variables map as JSON
  (its error: "Lambda was unable to configure your environment variables because the
  environment variables you have provided exceeded the 4KB limit. String measured: {...}").
- IAM role inline policies: "Role policy size cannot exceed 10,240 characters" for all inline
  policies of a role together, white space not counted (IAM User Guide, IAM and AWS STS quotas).
- The A/B evaluator's and the drift job's environments (their specs as JSON) against the same
  4 KB; the drift job's bucket name is the capture bucket's prefix plus the provider's 26-character
  unique suffix.
- EventBridge PutRule `EventPattern`: at most 4,096 characters (botocore events model,
  `EventPattern` max 4096).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, assert_never

from sagemaker_rollouts.infra.hook import (
    alarm_event_pattern,
    hook_environment,
    hook_role_policy,
    watched_alarms,
)
from sagemaker_rollouts.infra.shared import bucket_prefix
from sagemaker_rollouts.lambdas.rollout import RolloutSpec
from sagemaker_rollouts.strategies import aws_limits
from sagemaker_rollouts.strategies.lambda_names import hook_function_name
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

LAMBDA_ENVIRONMENT_BYTES = 4096
IAM_ROLE_POLICY_CHARACTERS = 10_240
EVENT_PATTERN_CHARACTERS = int(aws_limits.SHAPES["events.EventPattern"]["max"])

# Exact-length stand-ins for values only the account knows.
ACCOUNT_ID = "123456789012"  # account ids are 12 digits
KEY_ID = "00000000-0000-0000-0000-000000000000"  # KMS key ids are UUIDs


@dataclass(frozen=True, slots=True)
class Brought:
    """What a component brings that the hook's policy names: a topic and the keys of a brought
    topic and table. Each a string, None (not brought), or any other value (a `pulumi.Output`:
    unknown offline, measured with a stand-in of the real length where there is one)."""

    topic_arn: object = None
    topic_key_arn: object = None
    table_key_arn: object = None


def partition_of(region: str) -> str:
    """The AWS partition a region belongs to (aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b)."""
    for prefix, partition in (
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-iso-", "aws-iso"),
    ):
        if region.startswith(prefix):
            return partition
    return "aws"


def lambda_environment_bytes(variables: dict[str, str]) -> int:
    """A Lambda environment's size as Lambda measures it: the variables map as JSON, in bytes."""
    return len(json.dumps(variables, separators=(",", ":"), ensure_ascii=False).encode())


def policy_characters(document: dict[str, Any]) -> int:
    """An IAM policy's size as IAM counts it: its JSON without white space."""
    return len(re.sub(r"\s", "", json.dumps(document)))


def _names(plan: DeploymentPlan, ep: EndpointPlan, brought: Brought) -> dict[str, Any]:
    """The names and ARNs the endpoint's Lambdas see, as the program declares them."""
    region = plan.region
    part = partition_of(region)
    arn = f"arn:{part}:%s:{region}:{ACCOUNT_ID}:%s"
    table = plan.state_table_name or f"{plan.project}-{plan.stack}-rollouts"
    n = plan.notifications
    own_topic = brought.topic_arn if isinstance(brought.topic_arn, str) else None
    own_topic = own_topic or (None if n is None else n.topic_arn)
    topic_arn = own_topic or arn % ("sns", plan.topic_name or f"{table}-events")

    def key(value: object) -> str | None:
        return value if isinstance(value, str) or value is None else arn % ("kms", f"key/{KEY_ID}")

    topic_key = brought.topic_key_arn
    if topic_key is None and n is not None:
        topic_key = n.topic_kms_key_arn
    fn = hook_function_name(ep.endpoint_name)
    return {
        "region": region,
        "partition": part,
        "table": table,
        "topic_arn": topic_arn,
        "endpoint_arn": arn % ("sagemaker", f"endpoint/{ep.endpoint_name.lower()}"),
        "table_arn": arn % ("dynamodb", f"table/{table}"),
        "log_group_arn": arn % ("logs", f"log-group:/aws/lambda/{fn}"),
        "key_arn": arn % ("kms", f"key/{KEY_ID}") if plan.needs_kms_key else None,
        "topic_key_arn": key(topic_key),
        "table_key_arn": key(brought.table_key_arn),
    }


def _rollout(ep: EndpointPlan) -> RolloutSpec:
    if not isinstance(ep.strategy_plan, CanaryPlan):
        raise ValueError(f"endpoint {ep.key}: {ep.strategy} has no canary hook")
    return ep.strategy_plan.rollout


def hook_environment_for(
    plan: DeploymentPlan, ep: EndpointPlan, brought: Brought = Brought()
) -> dict[str, str]:
    """The canary hook's environment for `ep` (a canary: else ValueError) as the program
    declares it."""
    n = _names(plan, ep, brought)
    return hook_environment(
        _rollout(ep),
        table_name=n["table"],
        topic_arn=n["topic_arn"],
        stack=plan.stack,
        target=plan.operator_args(ep),
    )


def hook_policy_for(
    plan: DeploymentPlan, ep: EndpointPlan, brought: Brought = Brought()
) -> dict[str, Any]:
    """The canary hook role's inline policy for `ep` (a canary: else ValueError) as the program
    declares it (with what a component brings: `brought`)."""
    n = _names(plan, ep, brought)
    return hook_role_policy(
        _rollout(ep),
        region=n["region"],
        account_id=ACCOUNT_ID,
        partition=n["partition"],
        endpoint_arn=n["endpoint_arn"],
        table_arn=n["table_arn"],
        topic_arn=n["topic_arn"],
        log_group_arn=n["log_group_arn"],
        key_arn=n["key_arn"],
        topic_key_arn=n["topic_key_arn"],
        table_key_arn=n["table_key_arn"],
    )


def _hook_sizes(plan: DeploymentPlan, ep: EndpointPlan, brought: Brought) -> list[str]:
    spec = _rollout(ep)
    env = hook_environment_for(plan, ep, brought)
    policy = hook_policy_for(plan, ep, brought)
    alarms = watched_alarms(spec)
    what = (
        f"{len(alarms)} watched alarms ({len(spec.gate_alarms)} gates"
        + (", 1 sample alarm" if spec.sample_alarm is not None else "")
        + (f", {len(spec.baseline_alarms)} baseline" if spec.baseline_alarms else "")
        + f") and {len(spec.steps)} steps"
    )
    fix = (
        "gate fewer alarms (a custom alarm with gate: false is still declared and shown, "
        "but not watched by the hook) or shorten their keys"
    )
    path = f"endpoints.{ep.key}.alarms"
    errs: list[str] = []
    size = lambda_environment_bytes(env)
    if size > LAMBDA_ENVIRONMENT_BYTES:
        errs.append(
            f"{path}: the canary hook's Lambda environment would be {size} bytes (its rollout "
            f"spec holds {what}); Lambda allows {LAMBDA_ENVIRONMENT_BYTES} bytes (4 KB) for all "
            f"variables together; {fix}"
        )
    chars = policy_characters(policy)
    if chars > IAM_ROLE_POLICY_CHARACTERS:
        errs.append(
            f"{path}: the canary hook's inline IAM policy would be {chars} characters (one "
            f"alarm ARN per watched alarm: {what}); IAM allows {IAM_ROLE_POLICY_CHARACTERS} "
            f"characters of inline policy per role; {fix}"
        )
    pattern = len(alarm_event_pattern(spec))
    if pattern > EVENT_PATTERN_CHARACTERS:
        errs.append(
            f"{path}: the EventBridge rule for the canary's alarm states would have a "
            f"{pattern}-character event pattern (it names every watched alarm); EventBridge "
            f"allows {EVENT_PATTERN_CHARACTERS}; {fix}"
        )
    return errs


# terraform-provider-aws names a bucket from `bucket_prefix` with the plugin SDK's
# `id.PrefixedUniqueId`: the prefix plus a 26-character unique suffix (`UniqueIDSuffixLength`).
UNIQUE_SUFFIX = 26


def ab_environment_for(
    plan: DeploymentPlan, ep: EndpointPlan, brought: Brought = Brought()
) -> dict[str, str]:
    """The A/B evaluator's environment for `ep` (A/B with `successes`: else ValueError) as the
    program declares it."""
    spec = ep.strategy_plan.evaluator if isinstance(ep.strategy_plan, ABPlan) else None
    if spec is None:
        raise ValueError(f"endpoint {ep.key}: {ep.strategy} has no A/B evaluator")
    n = _names(plan, ep, brought)
    from sagemaker_rollouts.infra.evaluators import ab_environment  # A/B stacks only

    return ab_environment(
        spec,
        table_name=n["table"],
        topic_arn=n["topic_arn"],
        stack=plan.stack,
        target=plan.operator_args(ep),
    )


def drift_environment_for(
    plan: DeploymentPlan, ep: EndpointPlan, brought: Brought = Brought()
) -> dict[str, str]:
    """The drift job's environment for `ep` as the program declares it."""
    assert ep.drift is not None
    bucket = bucket_prefix(plan.project, plan.stack) + "x" * UNIQUE_SUFFIX
    n = _names(plan, ep, brought)
    # infra/shared.py StackResources: a topic (its own or the user's) only when the plan wants one
    wants_topic = plan.topic_name is not None or plan.state_table_name is not None
    from sagemaker_rollouts.infra.evaluators import drift_environment  # drift stacks only

    return drift_environment(
        ep.drift.job,
        bucket=bucket,
        stack=plan.stack,
        topic_arn=n["topic_arn"] if wants_topic else None,
        target=plan.operator_args(ep),
    )


def _environment_error(path: str, what: str, env: dict[str, str], why: str) -> list[str]:
    size = lambda_environment_bytes(env)
    if size <= LAMBDA_ENVIRONMENT_BYTES:
        return []
    return [
        f"{path}: the {what}'s Lambda environment would be {size} bytes ({why}); Lambda allows "
        f"{LAMBDA_ENVIRONMENT_BYTES} bytes (4 KB) for all variables together"
    ]


def deploy_limit_errors(plan: DeploymentPlan, brought: Brought = Brought()) -> list[str]:
    """Every generated size over its AWS limit, as `endpoints.<key>.<path>: message`.

    `brought`: a component's brought topic and keys (the stack file's are in `plan`)."""
    errs: list[str] = []
    for ep in plan.endpoints:
        match ep.strategy_plan:  # the strategy's own Lambda, if any
            case CanaryPlan():
                errs += _hook_sizes(plan, ep, brought)
            case ABPlan(evaluator=evaluator) if evaluator is not None:
                errs += _environment_error(
                    f"endpoints.{ep.key}.strategy.ab",
                    "A/B evaluator",
                    ab_environment_for(plan, ep, brought),
                    "its spec holds the variants and the successes/trials metrics with their "
                    "dimensions: shorten the dimension values",
                )
            case RecreatePlan() | ShadowPlan() | ABPlan() | BlueGreenPlan() | RollingPlan():
                pass
            case _:
                assert_never(ep.strategy_plan)
        if ep.drift is not None:
            errs += _environment_error(
                f"endpoints.{ep.key}.drift.features",
                "drift job",
                drift_environment_for(plan, ep, brought),
                "its spec holds every feature's name, json_path and csv_column: fewer features "
                "or shorter paths",
            )
    return errs
