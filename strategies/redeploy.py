"""A `pulumi up` during a canary: the weights an endpoint config is declared with.

The canary hook moves traffic with UpdateEndpointWeightsAndCapacities, which leaves the endpoint
config alone: the config still says the first step's weights. Every endpoint config argument is
ForceNew in the AWS provider, and a new config reaches the endpoint through UpdateEndpoint, which
applies the config's weights. So:

- an `up` whose config is otherwise unchanged must declare the very weights the live config was
  created with (no diff, no UpdateEndpoint, no traffic move);
- an `up` that replaces the config mid-rollout (instance count, capture ...) must declare the
  weights the endpoint serves now, so UpdateEndpoint does not move traffic back to step 0;
- a new rollout (another candidate or attempt) starts at its first step.

The stack tags the endpoint with the rollout id, a fingerprint of the config's arguments other
than the weights, and the candidate share the config was declared with (`*_TAG`), and reads them
back with DescribeEndpoint before declaring anything (infra/awareness.py). Pure: no boto3.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from sagemaker_rollouts.lambdas.rollout import RolloutSpec, fingerprint
from sagemaker_rollouts.strategies.plan import CanaryPlan, EndpointPlan


def _rollout(plan: EndpointPlan) -> RolloutSpec:
    """A canary plan's rollout; the functions here redeclare canaries only."""
    if not isinstance(plan.strategy_plan, CanaryPlan):
        raise ValueError(f"endpoint {plan.endpoint_name}: {plan.strategy} is not a canary")
    return plan.strategy_plan.rollout


ROLLOUT_TAG = "rollouts:rollout-id"
CONFIG_TAG = "rollouts:config-fingerprint"
PERCENT_TAG = "rollouts:config-candidate-percent"


def config_fingerprint(plan: EndpointPlan) -> str:
    """A hash of everything the endpoint config declares except the variant weights."""
    variants = [
        (v.name, plan.model(v.model).fingerprint, v.instance_type, v.instance_count)
        for v in (*plan.production_variants, *plan.shadow_variants)
    ]
    return fingerprint(variants, repr(plan.data_capture), plan.endpoint_kms)


def live_candidate_percent(weights: Mapping[str, float], stable: str, candidate: str) -> int | None:
    """The candidate's share of the live weights, 0..100; None when neither variant serves."""
    s, c = weights.get(stable, 0.0), weights.get(candidate, 0.0)
    if s + c <= 0:
        return None
    return max(0, min(100, round(100 * c / (s + c))))


def candidate_percent(
    plan: EndpointPlan, tags: Mapping[str, str] | None, weights: Mapping[str, float]
) -> int:
    """The candidate share to declare the canary's endpoint config with (see the module doc).

    `tags` / `weights`: the live endpoint's tags and current variant weights; `tags` None when
    the endpoint does not exist yet. Invariant: never below the live share for the same rollout
    unless the config is unchanged (then nothing is sent to SageMaker at all). Raises
    ValueError for a plan of another strategy.
    """
    spec = _rollout(plan)
    first = spec.steps[0].candidate_percent
    if tags is None or tags.get(ROLLOUT_TAG) != spec.rollout_id:
        return first
    recorded = tags.get(PERCENT_TAG)
    unchanged = tags.get(CONFIG_TAG) == config_fingerprint(plan)
    if unchanged and recorded is not None and recorded.isdigit() and int(recorded) <= 100:
        return int(recorded)
    live = live_candidate_percent(weights, spec.stable_variant, spec.candidate_variant)
    return first if live is None else live


def with_candidate_percent(plan: EndpointPlan, percent: int) -> EndpointPlan:
    """`plan` with the canary's stable/candidate weights set to `percent` and the endpoint tags
    that let the next `up` recognise the config (`endpoint_tags`). Raises ValueError for a plan
    of another strategy."""
    spec = _rollout(plan)
    weights = {spec.stable_variant: 100 - percent, spec.candidate_variant: percent}
    variants = tuple(
        replace(v, weight=weights[v.name]) if v.name in weights else v
        for v in plan.production_variants
    )
    adjusted = replace(plan, production_variants=variants)
    tags = (
        (ROLLOUT_TAG, spec.rollout_id),
        (CONFIG_TAG, config_fingerprint(adjusted)),
        (PERCENT_TAG, str(percent)),
    )
    return replace(adjusted, endpoint_tags=tags)
