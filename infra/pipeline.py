"""The CI/CD pipeline's AWS roles, declared when the stack config has `ci_role` (optional).

GitHub Actions assumes them with its OIDC token (no long-lived keys), audience sts.amazonaws.com:
- the deploy role (`<project>-<stack>-deploy`) trusts only the configured refs (`main`) and
  deployment environments (`production`, `staging`), never a pull request; its inline policy is
  `ci_policy.deploy_policy`, scoped to this stack (its tag, its names, the boundary);
- the preview role (`<project>-<stack>-preview`, unless `preview_role: false`) trusts the
  repository's pull requests and may only read (`ci_policy.preview_policy`);
- the workload boundary (`<project>-<stack>-boundary`, `ci_policy.workload_boundary`): every
  role the stack declares carries it (render applies it), and the deploy role may create or
  change a role only when it does.
The OIDC provider is one per account (its ARN is fixed by the issuer URL); a stack declares it
unless `declare_oidc_provider: false` or `oidc_provider_arn` says it exists.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from sagemaker_rollouts.infra import ci_policy, iam, secrets
from sagemaker_rollouts.infra.shared import Account
from sagemaker_rollouts.strategies.plan import DeploymentPlan

TOKEN = "sagemaker-rollouts:index:PipelineRole"
# GitHub's OIDC issuer; IAM no longer checks the thumbprint for it, but the provider resource
# still takes one (terraform-provider-aws iam openid_connect_provider: thumbprint_list optional).
GITHUB_ISSUER = f"https://{iam.GITHUB_OIDC_HOST}"


class PipelineRole(pulumi.ComponentResource):
    """OIDC provider (unless it exists) + boundary policy + deploy role (+ preview role).

    Attributes `role_arn`, `preview_role_arn` (or None) and `boundary_arn`."""

    # Attribute types for type checkers only: Pulumi resolves a resource class's runtime
    # annotations with typing.get_type_hints on every registration (pulumi._types), which
    # would import the pulumi_aws modules they name (e.g. glue) in every stack.
    if TYPE_CHECKING:
        role_arn: pulumi.Output[str]
        preview_role_arn: pulumi.Output[str] | None
        boundary_arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        deployment: DeploymentPlan,
        account: Account,
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(TOKEN, name, None, opts)
        plan = deployment.ci_role
        assert plan is not None
        child = pulumi.ResourceOptions(parent=self)
        provider_arn: pulumi.Input[str]
        if plan.oidc_provider_arn is not None:
            provider_arn = secrets.resolve(plan.oidc_provider_arn)
        elif not plan.declare_oidc_provider:
            provider_arn = pulumi.Output.all(account.partition, account.account_id).apply(
                lambda a: f"arn:{a[0]}:iam::{a[1]}:oidc-provider/{iam.GITHUB_OIDC_HOST}"
            )
        else:
            provider_arn = aws.iam.OpenIdConnectProvider(
                f"{name}-oidc",
                url=GITHUB_ISSUER,
                client_id_lists=["sts.amazonaws.com"],
                tags=tags,
                opts=child,
            ).arn
        prefix = f"{deployment.project}-{deployment.stack}"
        # What the stack config brings (its real values: a `secure:` one is decrypted here):
        # [topic ARN or None, its key ARN or None, execution role ARNs...].
        n = deployment.notifications
        brought = pulumi.Output.all(
            None if n is None else secrets.resolve(n.topic_arn),
            None if n is None else secrets.resolve(n.topic_kms_key_arn),
            *(
                secrets.resolve(arn)
                for arn in sorted(
                    {
                        m.execution_role_arn
                        for e in deployment.endpoints
                        for m in e.models
                        if m.execution_role_arn is not None
                    }
                )
            ),
        )
        boundary = aws.iam.Policy(
            f"{name}-boundary",
            name=f"{prefix}-boundary"[:128],
            description=f"Permissions boundary of every role stack {deployment.stack} declares",
            policy=pulumi.Output.all(account.account_id, account.partition, brought).apply(
                lambda a: json.dumps(
                    ci_policy.workload_boundary(
                        account=a[0],
                        region=account.region,
                        partition=a[1],
                        endpoint_names=[e.endpoint_name for e in deployment.endpoints],
                        table_names=[t for t in (deployment.state_table_name,) if t],
                        topic_arn=a[2][0],
                        topic_key_arn=a[2][1],
                    )
                )
            ),
            tags=tags,
            opts=child,
        )
        self.boundary_arn = boundary.arn
        features = ci_policy.features(deployment)
        glue = next(
            (t.database for e in deployment.endpoints if (t := e.glue_table) is not None),
            None,
        )

        def scope(a: list[str]) -> ci_policy.StackScope:
            account_id, partition = a[0], a[1]
            own = [f"arn:{partition}:iam::{account_id}:role/{plan.role_name}"]
            if plan.preview_role_name is not None:
                own.append(f"arn:{partition}:iam::{account_id}:role/{plan.preview_role_name}")
            return ci_policy.StackScope(
                account=account_id,
                region=account.region,
                partition=partition,
                project=deployment.project,
                stack=deployment.stack,
                boundary_arn=a[2],
                own_role_arns=tuple(own),
                features=features,
                endpoint_names=tuple(e.endpoint_name for e in deployment.endpoints),
                glue_database=glue,
                brought_role_arns=tuple(a[3][2:]),
                brought_topic_arn=a[3][0],
                brought_topic_key_arn=a[3][1],
            )

        scoped = pulumi.Output.all(account.account_id, account.partition, boundary.arn, brought)

        def github_role(
            role_name: str, trust: pulumi.Output[str], policy: pulumi.Output[str], what: str
        ) -> aws.iam.Role:
            suffix = "role" if what == "deploy" else f"{what}-role"
            role = aws.iam.Role(
                f"{name}-{suffix}",
                name=role_name,
                description=f"CI/CD of {plan.github_repository}: {what} stack {deployment.stack}",
                assume_role_policy=trust,
                max_session_duration=3600 * 2,
                tags=tags,
                opts=child,
            )
            aws.iam.RolePolicy(
                f"{name}-policy" if what == "deploy" else f"{name}-{what}-policy",
                role=role.id,
                policy=policy,
                opts=child,
            )
            return role

        role = github_role(
            plan.role_name,
            pulumi.Output.from_input(provider_arn).apply(
                lambda arn: json.dumps(
                    iam.github_trust_policy(
                        arn, plan.github_repository, plan.refs, plan.environments
                    )
                )
            ),
            scoped.apply(lambda a: json.dumps(ci_policy.deploy_policy(scope(a)))),
            "deploy",
        )
        self.role_arn = role.arn
        self.preview_role_arn = None
        if plan.preview_role_name is not None:
            preview = github_role(
                plan.preview_role_name,
                pulumi.Output.from_input(provider_arn).apply(
                    lambda arn: json.dumps(
                        iam.github_pull_request_trust_policy(arn, plan.github_repository)
                    )
                ),
                scoped.apply(lambda a: json.dumps(ci_policy.preview_policy(scope(a)))),
                "preview",
            )
            self.preview_role_arn = preview.arn
        self.register_outputs({"role_arn": role.arn, "boundary_arn": boundary.arn})
