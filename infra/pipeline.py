"""The CI/CD pipeline's AWS role, declared when the stack config has `ci_role` (optional).

GitHub Actions assumes it with its OIDC token (no long-lived keys): the trust policy accepts one
repository's tokens for the configured refs, pull requests and deployment environments, with
audience sts.amazonaws.com; the inline policy is `iam.pipeline_policy` (least privilege for
`pulumi preview/up` of this project and `rollout status`).
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from sagemaker_rollouts.infra import iam
from sagemaker_rollouts.infra.shared import Account
from sagemaker_rollouts.strategies.plan import CiRolePlan

TOKEN = "sagemaker-rollouts:index:PipelineRole"
# GitHub's OIDC issuer; IAM no longer checks the thumbprint for it, but the provider resource
# still takes one (terraform-provider-aws iam openid_connect_provider: thumbprint_list optional).
GITHUB_ISSUER = f"https://{iam.GITHUB_OIDC_HOST}"


class PipelineRole(pulumi.ComponentResource):
    """OIDC provider (unless given) + role + inline policy. Attribute `role_arn`."""

    role_arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        plan: CiRolePlan,
        project: str,
        account: Account,
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        provider_arn: pulumi.Input[str]
        if plan.oidc_provider_arn is not None:
            provider_arn = plan.oidc_provider_arn
        else:
            provider_arn = aws.iam.OpenIdConnectProvider(
                f"{name}-oidc",
                url=GITHUB_ISSUER,
                client_id_lists=["sts.amazonaws.com"],
                tags=tags,
                opts=child,
            ).arn
        role = aws.iam.Role(
            f"{name}-role",
            name=plan.role_name,
            description=f"CI/CD of {plan.github_repository}: pulumi preview/up, rollout status",
            assume_role_policy=pulumi.Output.from_input(provider_arn).apply(
                lambda arn: json.dumps(
                    iam.github_trust_policy(
                        arn, plan.github_repository, plan.refs, plan.environments
                    )
                )
            ),
            max_session_duration=3600 * 2,
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=pulumi.Output.all(account.account_id, account.partition).apply(
                lambda a: json.dumps(
                    iam.pipeline_policy(
                        account=a[0], region=account.region, partition=a[1], project=project
                    )
                )
            ),
            opts=child,
        )
        self.role_arn = role.arn
        self.register_outputs({"role_arn": role.arn})
