"""The `sagemaker-rollouts` CrossGuard policy pack.

    pulumi preview --policy-pack policies [--policy-pack-config policies/config.example.json]

Every rule lives in `sagemaker_rollouts.infra.policies` (the tests and `rollout plan` use the same
functions); `sagemaker_rollouts.infra.policy_pack` wraps them for pulumi_policy.
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from sagemaker_rollouts.infra.policy_pack import PACK_NAME, pack_policies

PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=pack_policies(),
)
