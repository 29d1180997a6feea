"""The optional CI/CD role (config `ci_role`): GitHub OIDC trust, least-privilege policy that
passes the policy pack, declared only when configured."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from sagemaker_rollouts.infra import iam, policies
from sagemaker_rollouts.infra.mockrun import OfflineRun, run_offline
from sagemaker_rollouts.strategies.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parent.parent
CANARY = ROOT / "Pulumi.canary.yaml"
ROLE = "aws:iam/role:Role"
OIDC = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"


def offline(ci_role: dict[str, Any] | None) -> OfflineRun:
    extra = {} if ci_role is None else {"sagemaker-rollouts:ci_role": ci_role}
    run = run_offline(CANARY, config=extra)
    run.raise_error()
    return run


def test_no_ci_role_unless_configured() -> None:
    run = offline(None)
    assert run.of_type(OIDC) == [] and "ci_role_arn" not in run.outputs


def test_ci_role_trusts_one_repository_and_passes_every_mandatory_rule() -> None:
    run = offline({"github_repository": "acme/ml-endpoints", "environments": ["production"]})
    (provider,) = run.of_type(OIDC)
    assert provider.inputs["url"] == "https://token.actions.githubusercontent.com"
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    (role,) = [r for r in run.of_type(ROLE) if r.inputs.get("name") == "sagemaker-rollouts-deploy"]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    cond = trust["Condition"]
    assert cond["StringEquals"] == {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}
    assert sorted(cond["StringLike"]["token.actions.githubusercontent.com:sub"]) == [
        "repo:acme/ml-endpoints:environment:production",
        "repo:acme/ml-endpoints:pull_request",
        "repo:acme/ml-endpoints:ref:refs/heads/main",
    ]
    assert run.outputs["ci_role_arn"].endswith(":role/sagemaker-rollouts-deploy")
    found = policies.evaluate(run.policy_resources())
    assert [str(f) for f in found if f.level == "mandatory"] == []


def test_an_existing_oidc_provider_is_used_not_declared() -> None:
    arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    run = offline({"github_repository": "acme/ml", "oidc_provider_arn": arn})
    assert run.of_type(OIDC) == []
    (role,) = [r for r in run.of_type(ROLE) if r.inputs.get("name") == "sagemaker-rollouts-deploy"]
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {
        "Federated": arn
    }


def test_pipeline_policy_is_scoped_to_the_account_region_and_project() -> None:
    doc = iam.pipeline_policy(
        account="123456789012", region="eu-west-1", partition="aws", project="ml"
    )
    assert policies.wildcard_violations(doc) == []
    star = [st for st in doc["Statement"] if st["Resource"] == "*"]
    assert [st["Action"] for st in star] == [["kms:CreateKey"]]
    for st in doc["Statement"]:
        for resource in st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]:
            if resource == "*" or resource.startswith("arn:aws:s3:::"):  # buckets: by name
                continue
            assert "123456789012" in resource, resource
            global_services = (":iam::", ":chatbot::", ":cloudwatch::")
            assert "eu-west-1" in resource or any(g in resource for g in global_services)
    by_sid = {st["Sid"]: st for st in doc["Statement"]}
    assert by_sid["StateTable"]["Resource"] == [
        "arn:aws:dynamodb:eu-west-1:123456789012:table/ml-*"
    ]
    assert by_sid["PassRoles"]["Condition"]["StringEquals"]["iam:PassedToService"]
    # the role's own policy would fail the pack if a wildcard action crept in
    broken = json.loads(json.dumps(doc))
    broken["Statement"][0]["Action"].append("sagemaker:*")
    assert policies.wildcard_violations(broken)


def test_bad_ci_role_config_is_named() -> None:
    endpoints = yaml.safe_load(CANARY.read_text())["config"]["sagemaker-rollouts:endpoints"]
    with pytest.raises(ConfigError) as exc:
        load_config({"endpoints": endpoints, "ci_role": {"github_repository": "not a repo"}})
    assert "ci_role.github_repository" in str(exc.value)
