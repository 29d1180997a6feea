"""Bring-your-own inputs come with what using them needs (their network and encryption grants).

Stands in for what AWS checks at deploy time: SageMaker creates a model's network interfaces in
its VpcConfig with the model's execution role (CreateModel fails without the EC2 grants).
"""

from __future__ import annotations

import json
from typing import Any

from sagemaker_rollouts import RolloutEndpoint
from sagemaker_rollouts.infra.mockrun import run_function_offline

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ARGS: dict[str, Any] = {
    "models": {"v1": {"image": IMAGE, "model_data_url": "s3://acme-ml/fraud/v1/model.tar.gz"}},
    "variants": [{"name": "main", "model": "v1", "instance_type": "ml.m5.large"}],
    "strategy": {"recreate": {}},
}
ENI_ACTIONS = {
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
}


def _execution_policy(args: dict[str, Any]) -> dict[str, Any]:
    run = run_function_offline(lambda: RolloutEndpoint("fraud", args), config={})
    run.raise_error()
    (model,) = run.of_type("aws:sagemaker/model:Model")
    (policy,) = [
        r for r in run.of_type("aws:iam/rolePolicy:RolePolicy") if "-role-v1-policy" in r.name
    ]
    return {"model": model.inputs, "policy": json.loads(policy.inputs["policy"])}


def _actions(policy: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for s in policy["Statement"]:
        resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        for action in s["Action"]:
            out.setdefault(action, []).extend(resources)
    return out


def test_a_platform_vpc_gives_the_execution_role_the_network_interface_grants() -> None:
    found = _execution_policy(
        ARGS | {"vpc_subnet_ids": ["subnet-0abc1234"], "vpc_security_group_ids": ["sg-0def5678"]}
    )
    assert found["model"]["vpcConfig"]["subnets"] == ["subnet-0abc1234"]
    actions = _actions(found["policy"])
    assert set(actions) >= ENI_ACTIONS
    create = actions["ec2:CreateNetworkInterface"]
    assert any(r.endswith(":subnet/subnet-0abc1234") for r in create)
    assert any(r.endswith(":security-group/sg-0def5678") for r in create)


def test_without_a_vpc_the_execution_role_gets_no_ec2_grant() -> None:
    actions = _actions(_execution_policy(ARGS)["policy"])
    assert not [a for a in actions if a.startswith("ec2:")]
