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


TOPIC = "arn:aws:sns:us-east-1:123456789012:platform-alerts"
TEAM_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
CANARY: dict[str, Any] = {
    "models": {
        "v1": {"image": IMAGE, "model_data_url": "s3://acme-ml/fraud/v1/model.tar.gz"},
        "v2": {"image": IMAGE, "model_data_url": "s3://acme-ml/fraud/v2/model.tar.gz"},
    },
    "variants": [
        {"name": "stable", "model": "v1", "instance_type": "ml.m5.large", "instance_count": 2},
        {"name": "candidate", "model": "v2", "instance_type": "ml.m5.large"},
    ],
    "strategy": {"canary": {"stable": "stable", "candidate": "candidate", "steps": [10, 50]}},
}
AB: dict[str, Any] = {
    "models": CANARY["models"],
    "variants": [
        {"name": "a", "model": "v1", "instance_type": "ml.m5.large"},
        {"name": "b", "model": "v2", "instance_type": "ml.m5.large"},
    ],
    "strategy": {
        "ab": {
            "weights": {"a": 50, "b": 50},
            "successes": {"namespace": "Team/Biz", "metric": "Clicks"},
        }
    },
}


def _publisher_policies(args: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    """Each notifying Lambda's policy (hook, A/B evaluator), as action -> resources."""
    run = run_function_offline(lambda: RolloutEndpoint("fraud", args), config={})
    run.raise_error()
    return {
        r.name: _actions(json.loads(r.inputs["policy"]))
        for r in run.of_type("aws:iam/rolePolicy:RolePolicy")
        if "sns:Publish" in r.inputs["policy"]
    }


def test_a_brought_encrypted_topic_lets_every_publisher_use_its_key() -> None:
    """Stands in for SNS server-side encryption: Publish to a topic encrypted with a customer
    managed key fails (KMS AccessDenied) unless the publisher may GenerateDataKey* and Decrypt."""
    for base in (CANARY, AB):
        found = _publisher_policies(
            base | {"notification_topic_arn": TOPIC, "notification_topic_kms_key_arn": TEAM_KEY}
        )
        assert found, "a hook or evaluator publishes"
        for name, actions in found.items():
            assert actions["sns:Publish"] == [TOPIC], name
            assert TEAM_KEY in actions["kms:GenerateDataKey*"], name
            assert TEAM_KEY in actions["kms:Decrypt"], name


def test_the_topic_key_is_only_granted_for_a_brought_topic() -> None:
    found = _publisher_policies(CANARY)
    assert found and all("kms:GenerateDataKey*" not in a for a in found.values())
    run = run_function_offline(
        lambda: RolloutEndpoint("fraud", CANARY | {"notification_topic_kms_key_arn": TEAM_KEY}),
        config={},
    )
    assert run.error is not None and "notification_topic_kms_key_arn" in str(run.error)


def test_the_stack_configs_brought_topic_key_reaches_the_hook() -> None:
    from pathlib import Path

    from sagemaker_rollouts.infra.mockrun import run_offline

    root = Path(__file__).resolve().parents[2]
    notify = {"topic_arn": TOPIC, "topic_kms_key_arn": TEAM_KEY}
    run = run_offline(
        root / "Pulumi.canary.yaml", config={"sagemaker-rollouts:notifications": notify}
    )
    run.raise_error()
    (hook,) = [r for r in run.of_type("aws:iam/rolePolicy:RolePolicy") if "hook" in r.name]
    actions = _actions(json.loads(hook.inputs["policy"]))
    assert TEAM_KEY in actions["kms:GenerateDataKey*"] and TEAM_KEY in actions["kms:Decrypt"]
