"""Bring-your-own inputs come with what using them needs (their network and encryption grants).

Stands in for what AWS checks at deploy time: SageMaker creates a model's network interfaces in
its VpcConfig with the model's execution role (CreateModel fails without the EC2 grants).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf import json_format

from sagemaker_rollouts import RolloutEndpoint
from sagemaker_rollouts.simulator.mockrun import (
    ACCOUNT_ID,
    OfflineRun,
    run_function_offline,
    run_offline,
)
from tests.iam_sim import Encryption, Request, call_decision

ROOT = Path(__file__).resolve().parents[2]
POLICY = "aws:iam/policy:Policy"
CI = {"sagemaker-rollouts:ci_role": {"github_repository": "acme/ml", "environments": ["prod"]}}
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


@pytest.mark.parametrize("base", [CANARY, AB], ids=["canary hook", "A/B evaluator"])
def test_a_publisher_may_use_the_brought_topic_key_only_through_sns(base: dict[str, Any]) -> None:
    """The key a team encrypts its topic with may encrypt more than the topic: a publisher gets
    it through SNS in the topic's Region only (`kms:ViaService`), never to decrypt directly."""
    from tests.iam_sim import decision

    args = base | {"notification_topic_arn": TOPIC, "notification_topic_kms_key_arn": TEAM_KEY}
    run = run_function_offline(lambda: RolloutEndpoint("fraud", args), config={})
    run.raise_error()
    publishers = [
        [json.loads(r.inputs["policy"])]
        for r in run.of_type("aws:iam/rolePolicy:RolePolicy")
        if "sns:Publish" in r.inputs["policy"]
    ]
    assert publishers
    via_sns = {"kms:ViaService": "sns.us-east-1.amazonaws.com"}
    for docs in publishers:
        for action in ("kms:Decrypt", "kms:GenerateDataKey"):
            assert decision(Request(action, TEAM_KEY, via_sns), docs) == "allow"
            for other in ({}, {"kms:ViaService": "s3.us-east-1.amazonaws.com"}):
                assert decision(Request(action, TEAM_KEY, other), docs) != "allow"


def test_the_topic_key_is_only_granted_for_a_brought_topic() -> None:
    found = _publisher_policies(CANARY)
    assert found and all("kms:GenerateDataKey*" not in a for a in found.values())
    run = run_function_offline(
        lambda: RolloutEndpoint("fraud", CANARY | {"notification_topic_kms_key_arn": TEAM_KEY}),
        config={},
    )
    assert run.error is not None and "notification_topic_kms_key_arn" in str(run.error)


def test_the_stack_configs_brought_topic_key_reaches_the_hook() -> None:
    notify = {"topic_arn": TOPIC, "topic_kms_key_arn": TEAM_KEY}
    run = run_offline(
        ROOT / "Pulumi.canary.yaml", config={"sagemaker-rollouts:notifications": notify}
    )
    run.raise_error()
    (hook,) = [r for r in run.of_type("aws:iam/rolePolicy:RolePolicy") if "hook" in r.name]
    actions = _actions(json.loads(hook.inputs["policy"]))
    assert TEAM_KEY in actions["kms:GenerateDataKey*"] and TEAM_KEY in actions["kms:Decrypt"]


# --------------------------------------------------------------------------- every consumer, every key
# The IAM simulator with KMS (tests/iam_sim.py `Encryption`): each call a consumer makes is
# evaluated with the KMS requests its service makes on the caller's behalf, against the keys the
# resources are really encrypted with: the run's own resources' keys read from the run, a brought
# resource's from the input that brings it. Consumers: the hook, the A/B evaluator and the drift
# job (their calls, from lambdas/*.py, on what their environment names), each model's
# execution role (SageMaker writes captures with it, and creates its network interfaces) and the
# CI roles (deploy-time awareness and the operator commands read and write the state table).
# Every role is evaluated with the permissions boundary it carries.


TABLE_KEY = "arn:aws:kms:us-east-1:123456789012:key/0f0f0f0f-aaaa-bbbb-cccc-222222222222"
PLATFORM_KEY = "arn:aws:kms:us-east-1:123456789012:key/5a5a5a5a-dddd-eeee-ffff-333333333333"
SUBNET, GROUP = "subnet-0abc1234", "sg-0def5678"


def _outs(r: Any) -> dict[str, Any]:
    return json_format.MessageToDict(r.wire_outputs)


def _boundaries(run: OfflineRun) -> dict[str, dict[str, Any]]:
    """Each role's ARN -> the permissions boundary document it carries (when it carries one)."""
    docs = {_outs(p)["arn"]: json.loads(p.inputs["policy"]) for p in run.of_type(POLICY)}
    return {
        _outs(r)["arn"]: docs[r.inputs["permissionsBoundary"]]
        for r in run.of_type("aws:iam/role:Role")
        if r.inputs.get("permissionsBoundary") in docs
    }


def _role_policies(run: OfflineRun) -> dict[str, list[dict[str, Any]]]:
    """Each role's ARN -> its inline policy documents."""
    ids = {r.id: _outs(r)["arn"] for r in run.of_type("aws:iam/role:Role")}
    out: dict[str, list[dict[str, Any]]] = {arn: [] for arn in ids.values()}
    for p in run.of_type("aws:iam/rolePolicy:RolePolicy"):
        out[ids[p.inputs["role"]]].append(json.loads(p.inputs["policy"]))
    return out


@dataclass(frozen=True)
class Consumer:
    role_arn: str
    what: str
    calls: tuple[Request, ...]


def _consumers(run: OfflineRun, region: str) -> list[Consumer]:
    """What each consumer calls, from what the program configured it with."""
    arn = f"arn:aws:%s:{region}:{ACCOUNT_ID}:%s"
    out: list[Consumer] = []
    for fn in run.of_type("aws:lambda/function:Function"):
        env = fn.inputs["environment"]["variables"]
        calls: list[Request] = [Request("sns:Publish", env["TOPIC_ARN"])]
        table = arn % ("dynamodb", f"table/{env.get('STATE_TABLE', '')}")
        if "ROLLOUT_SPEC" in env:  # lambdas/canary_hook.py, lambdas/store.py
            rows = {
                "dynamodb:LeadingKeys": [json.loads(env["ROLLOUT_SPEC"])["endpoint_name"] + "/c/1"]
            }
            actions = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query")
            calls += [Request(a, table, rows) for a in actions]
        if "AB_SPEC" in env:  # lambdas/ab_evaluator.py
            rows = {"dynamodb:LeadingKeys": ["ab:" + json.loads(env["AB_SPEC"])["endpoint_name"]]}
            actions = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
            calls += [Request(a, table, rows) for a in actions]
        if "DRIFT_SPEC" in env:  # lambdas/drift_job.py
            job = json.loads(env["DRIFT_SPEC"])
            folder = f"{job['capture_prefix']}/{job['endpoint_name']}/{job['variant']}"
            calls.append(
                Request("s3:GetObject", f"arn:aws:s3:::{env['CAPTURE_BUCKET']}/{folder}/x.jsonl")
            )
        out.append(Consumer(fn.inputs["role"], fn.name, tuple(calls)))
    (config,) = run.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    capture = config.inputs.get("dataCaptureConfig")
    for model in run.of_type("aws:sagemaker/model:Model"):
        calls = []
        if capture is not None:  # SageMaker writes the captures with the execution role
            where = capture["destinationS3Uri"].removeprefix("s3://")
            calls.append(Request("s3:PutObject", f"arn:aws:s3:::{where}/AllTraffic/x.jsonl"))
        vpc = model.inputs.get("vpcConfig")
        if vpc is not None:  # CreateModel: SageMaker makes the network interfaces as the role
            for subnet in vpc["subnets"]:
                calls.append(
                    Request("ec2:CreateNetworkInterface", arn % ("ec2", f"subnet/{subnet}"))
                )
        out.append(Consumer(model.inputs["executionRoleArn"], model.name, tuple(calls)))
    for role in run.of_type("aws:iam/role:Role"):
        name = str(role.inputs.get("name", ""))
        tables = {  # each table's ARN -> what IAM sees of it (its tags)
            _outs(t)["arn"]: {f"aws:ResourceTag/{k}": v for k, v in t.inputs["tags"].items()}
            for t in run.of_type("aws:dynamodb/table:Table")
        }
        if name.endswith(("-deploy", "-preview")) and tables:  # infra/ci_policy.py StateTable
            reads = ("dynamodb:GetItem", "dynamodb:Query")
            actions = (*reads, "dynamodb:PutItem") if name.endswith("-deploy") else reads
            calls = tuple(Request(a, t, ctx) for a in actions for t, ctx in tables.items())
            out.append(Consumer(_outs(role)["arn"], name, calls))
    return out


def _encryption(run: OfflineRun, region: str, brought: dict[str, str]) -> Encryption:
    """The customer managed key of every resource the consumers touch: from the run for its
    own resources, from `brought` (resource ARN pattern -> key) for the brought ones."""
    keys: dict[str, str] = {}
    for t in run.of_type("aws:sns/topic:Topic"):
        key = t.inputs.get("kmsMasterKeyId", "")
        if key.startswith("arn:"):  # `alias/aws/sns`: AWS managed, usable without a grant
            keys[_outs(t)["arn"]] = key
    for t in run.of_type("aws:dynamodb/table:Table"):
        key = (t.inputs.get("serverSideEncryption") or {}).get("kmsKeyArn")
        if key:
            keys[_outs(t)["arn"]] = key
    for c in run.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration"):
        capture = c.inputs.get("dataCaptureConfig") or {}
        if capture.get("kmsKeyId"):  # SageMaker writes captures with SSE-KMS under this key
            bucket = capture["destinationS3Uri"].removeprefix("s3://").split("/")[0]
            keys[f"arn:aws:s3:::{bucket}/*"] = capture["kmsKeyId"]
    tags = {
        _outs(k)["arn"]: {
            f"aws:ResourceTag/{t}": v for t, v in (k.inputs.get("tags") or {}).items()
        }
        for k in run.of_type("aws:kms/key:Key")
    }
    return Encryption({**keys, **brought}, region, tags)


def _cut(doc: dict[str, Any], key: str) -> dict[str, Any]:
    """`doc` without its statements on `key`."""
    return {**doc, "Statement": [st for st in doc["Statement"] if key not in json.dumps(st)]}


def _denials(
    run: OfflineRun, region: str, brought: dict[str, str], without: str | None = None
) -> list[str]:
    """Every consumer call IAM + KMS would deny (`without`: with that key's grants cut)."""
    roles = _role_policies(run)
    if without is not None:
        roles = {r: [_cut(d, without) for d in docs] for r, docs in roles.items()}
    world = _encryption(run, region, brought)
    boundaries = _boundaries(run)
    denied: list[str] = []
    for c in _consumers(run, region):
        for call in c.calls:
            found = call_decision(call, roles[c.role_arn], boundaries.get(c.role_arn), world)
            if found != "allow":
                denied.append(f"{c.what}: {found}")
    return denied


def _endpoint(stack_file: str) -> tuple[str, dict[str, Any]]:
    cfg = yaml.safe_load((ROOT / stack_file).read_text())["config"]
    ((_, endpoint),) = cfg["sagemaker-rollouts:endpoints"].items()
    return cfg["aws:region"], endpoint


def _component_run(stack_file: str, brought: dict[str, Any]) -> tuple[OfflineRun, str]:
    region, endpoint = _endpoint(stack_file)
    run = run_function_offline(
        lambda: RolloutEndpoint("svc", {**endpoint, "region": region, **brought}), config={}
    )
    run.raise_error()
    return run, region


def _stack_run(stack_file: str, notifications: dict[str, Any]) -> tuple[OfflineRun, str]:
    region, _ = _endpoint(stack_file)
    run = run_offline(
        ROOT / stack_file, config={"sagemaker-rollouts:notifications": notifications, **CI}
    )
    run.raise_error()
    return run, region


TABLE = "platform-rollouts"
# Each entry point with every brought resource it takes; `keys`: brought resource -> its key.
BROUGHT_CASES: list[tuple[str, Callable[[], tuple[OfflineRun, str]], dict[str, str]]] = [
    (
        "component canary with drift",
        lambda: _component_run(
            "Pulumi.canary-drift.yaml",
            {
                "notification_topic_arn": TOPIC,
                "notification_topic_kms_key_arn": TEAM_KEY,
                "state_table_name": TABLE,
                "state_table_kms_key_arn": TABLE_KEY,
                "kms_key_arn": PLATFORM_KEY,
                "vpc_subnet_ids": [SUBNET],
                "vpc_security_group_ids": [GROUP],
            },
        ),
        {TOPIC: TEAM_KEY, f"arn:aws:dynamodb:*:*:table/{TABLE}": TABLE_KEY},
    ),
    (
        "component A/B",
        lambda: _component_run(
            "Pulumi.ab.yaml",
            {
                "notification_topic_arn": TOPIC,
                "notification_topic_kms_key_arn": TEAM_KEY,
                "state_table_name": TABLE,
                "state_table_kms_key_arn": TABLE_KEY,
            },
        ),
        {TOPIC: TEAM_KEY, f"arn:aws:dynamodb:*:*:table/{TABLE}": TABLE_KEY},
    ),
    (
        "stack file canary with drift",
        lambda: _stack_run(
            "Pulumi.canary-drift.yaml", {"topic_arn": TOPIC, "topic_kms_key_arn": TEAM_KEY}
        ),
        {TOPIC: TEAM_KEY},
    ),
    (
        "stack file A/B",
        lambda: _stack_run("Pulumi.ab.yaml", {"topic_arn": TOPIC, "topic_kms_key_arn": TEAM_KEY}),
        {TOPIC: TEAM_KEY},
    ),
]


@pytest.mark.parametrize(("what", "make", "keys"), BROUGHT_CASES, ids=[c[0] for c in BROUGHT_CASES])
def test_every_consumer_may_use_what_it_is_brought(
    what: str, make: Callable[[], tuple[OfflineRun, str]], keys: dict[str, str]
) -> None:
    run, region = make()
    consumers = _consumers(run, region)
    assert consumers and all(c.calls for c in consumers), what
    assert _denials(run, region, keys) == []


@pytest.mark.parametrize(("what", "make", "keys"), BROUGHT_CASES, ids=[c[0] for c in BROUGHT_CASES])
def test_without_its_grant_each_brought_key_is_denied(
    what: str, make: Callable[[], tuple[OfflineRun, str]], keys: dict[str, str]
) -> None:
    """The simulator is a real check: each brought key's statements cut from every role, the
    calls on what that key encrypts are denied, as KMS would deny them."""
    run, region = make()
    for key in {*keys.values(), PLATFORM_KEY} & _granted_keys(run):
        denied = _denials(run, region, keys, without=key)
        assert denied and all(key in d for d in denied), (what, key, denied)


def _granted_keys(run: OfflineRun) -> set[str]:
    return {
        r
        for docs in _role_policies(run).values()
        for doc in docs
        for st in doc["Statement"]
        for r in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])
        if r.startswith("arn:aws:kms:")
    }
