"""The optional CI/CD role (config `ci_role`): GitHub OIDC trust, least-privilege policy that
passes the policy pack, declared only when configured."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from sagemaker_rollouts.infra import policies
from sagemaker_rollouts.simulator.mockrun import OfflineRun, run_offline
from sagemaker_rollouts.strategies.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]
CANARY = ROOT / "Pulumi.canary.yaml"
ROLE = "aws:iam/role:Role"
OIDC = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
POLICY = "aws:iam/policy:Policy"


def offline(ci_role: dict[str, Any] | None) -> OfflineRun:
    extra = {} if ci_role is None else {"sagemaker-rollouts:ci_role": ci_role}
    run = run_offline(CANARY, config=extra)
    run.raise_error()
    return run


def test_no_ci_role_unless_configured() -> None:
    run = offline(None)
    assert run.of_type(OIDC) == [] and "ci_role_arn" not in run.outputs


def deploy_role(run: OfflineRun, name: str = "sagemaker-rollouts-canary-deploy") -> Any:
    (role,) = [r for r in run.of_type(ROLE) if r.inputs.get("name") == name]
    return role


def test_ci_roles_are_per_stack_and_pass_every_mandatory_rule() -> None:
    run = offline({"github_repository": "acme/ml-endpoints", "environments": ["production"]})
    (provider,) = run.of_type(OIDC)
    assert provider.inputs["url"] == "https://token.actions.githubusercontent.com"
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    trust = json.loads(deploy_role(run).inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    cond = trust["Condition"]
    assert cond["StringEquals"] == {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": [
            "repo:acme/ml-endpoints:ref:refs/heads/main",
            "repo:acme/ml-endpoints:environment:production",
        ],
    }
    assert "StringLike" not in cond  # exact subjects: no pattern can widen them
    assert run.outputs["ci_role_arn"].endswith(":role/sagemaker-rollouts-canary-deploy")
    assert run.outputs["ci_preview_role_arn"].endswith(":role/sagemaker-rollouts-canary-preview")
    found = policies.evaluate(run.policy_resources())
    assert [str(f) for f in found if f.level == "mandatory"] == []


@pytest.mark.parametrize(
    ("ci_role", "provider_arn"),
    [
        (
            {"oidc_provider_arn": "arn:aws:iam::123456789012:oidc-provider/example.com"},
            "arn:aws:iam::123456789012:oidc-provider/example.com",
        ),
        (
            {"declare_oidc_provider": False},
            "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
        ),
    ],
)
def test_an_existing_oidc_provider_is_used_not_declared(
    ci_role: dict[str, Any], provider_arn: str
) -> None:
    run = offline({"github_repository": "acme/ml", **ci_role})
    assert run.of_type(OIDC) == []
    principal = json.loads(deploy_role(run).inputs["assumeRolePolicy"])["Statement"][0]
    assert principal["Principal"] == {"Federated": provider_arn}


def test_two_stacks_in_one_account_do_not_collide() -> None:
    ci = {"sagemaker-rollouts:ci_role": {"github_repository": "acme/ml"}}
    names = []
    for stack in ("canary", "canary-drift"):
        run = run_offline(ROOT / f"Pulumi.{stack}.yaml", config=ci)
        run.raise_error()
        names.append(
            {r.inputs.get("name") for r in run.resources if r.type in (ROLE, POLICY)} - {None}
        )
    assert names[0] & names[1] == set()


def test_no_preview_role_when_not_wanted() -> None:
    run = offline({"github_repository": "acme/ml", "preview_role": False})
    assert [r.inputs.get("name") for r in run.of_type(ROLE) if "-ci-" in r.name] == [
        "sagemaker-rollouts-canary-deploy"
    ]
    assert "ci_preview_role_arn" not in run.outputs


def test_bad_ci_role_config_is_named() -> None:
    endpoints = yaml.safe_load(CANARY.read_text())["config"]["sagemaker-rollouts:endpoints"]
    with pytest.raises(ConfigError) as exc:
        load_config({"endpoints": endpoints, "ci_role": {"github_repository": "not a repo"}})
    assert "ci_role.github_repository" in str(exc.value)
