"""`rollout prune`: retained endpoint configs and models that nothing can return to are deleted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sagemaker_rollouts.cli import cmd_prune
from sagemaker_rollouts.cli.main import main
from sagemaker_rollouts.simulator.moto_server import moto_server
from sagemaker_rollouts.simulator.provision import AwsClients
from sagemaker_rollouts.strategies.native import DEPLOYED_CONFIG_TAG
from sagemaker_rollouts.strategies.prune import prune_plan
from tests.moto_fixtures import patch_response

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = {"c-old": ["m-old"], "c-mid": ["m-mid"], "c-new": ["m-new", "m-old"]}
MODELS = ["m-old", "m-mid", "m-new"]


@pytest.mark.parametrize(
    ("running", "pending", "deployed", "configs", "models"),
    [
        # The endpoint runs and the stack deployed the newest: the two older ones go.
        (["c-new"], [], ["c-new"], ("c-mid", "c-old"), ("m-mid",)),
        # SageMaker rolled back to c-old; Pulumi deployed c-new: both stay, c-mid goes.
        (["c-old"], [], ["c-new"], ("c-mid",), ("m-mid",)),
        # A deployment from c-old to c-mid is under way: both stay; c-new goes, not its m-old.
        (["c-old"], ["c-mid"], ["c-mid"], ("c-new",), ("m-new",)),
        # Nothing runs any of them (the stack's endpoint was deleted): all go.
        ([], [], [], ("c-mid", "c-new", "c-old"), ("m-mid", "m-new", "m-old")),
        # Another stack's endpoint running a name we do not own changes nothing.
        (["other"], [], ["c-new"], ("c-mid", "c-old"), ("m-mid",)),
    ],
)
def test_prune_keeps_what_any_endpoint_runs_deploys_or_was_deployed_with(
    running: list[str],
    pending: list[str],
    deployed: list[str],
    configs: tuple[str, ...],
    models: tuple[str, ...],
) -> None:
    found = prune_plan(CONFIGS, MODELS, running, pending, deployed)
    assert (found.configs, found.models) == (configs, models)
    kept = {name for name, _ in found.kept}
    assert kept.isdisjoint(found.configs)
    assert kept | set(found.configs) == set(CONFIGS)


STACK_TAGS = [
    {"Key": "managed-by", "Value": "sagemaker-rollouts"},
    {"Key": "rollouts:stack", "Value": "bluegreen"},
]


@pytest.fixture
def retained(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsClients]:
    """moto: three configs of the bluegreen stack (each with its model) and one of another
    stack; the endpoint runs `search-config-2` and is tagged as deployed with it."""
    with moto_server("us-east-1"):
        aws = AwsClients.create("us-east-1")
        sm = aws.sagemaker
        for i, tags in ((1, STACK_TAGS), (2, STACK_TAGS), (3, STACK_TAGS), (9, [])):
            sm.create_model(
                ModelName=f"search-model-{i}",
                ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
                PrimaryContainer={"Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/x:1"},
                Tags=tags or [{"Key": "owner", "Value": "someone-else"}],
            )
            sm.create_endpoint_config(
                EndpointConfigName=f"search-config-{i}",
                ProductionVariants=[
                    {
                        "VariantName": "primary",
                        "ModelName": f"search-model-{i}",
                        "InstanceType": "ml.m5.large",
                        "InitialInstanceCount": 1,
                    }
                ],
                Tags=tags or [{"Key": "owner", "Value": "someone-else"}],
            )
        sm.create_endpoint(
            EndpointName="search-embeddings",
            EndpointConfigName="search-config-2",
            Tags=[{"Key": DEPLOYED_CONFIG_TAG, "Value": "search-config-2"}],
        )
        monkeypatch.setattr(cmd_prune.AwsClients, "create", classmethod(lambda cls, region: aws))
        yield aws


def _names(aws: AwsClients) -> tuple[set[str], set[str]]:
    sm = aws.sagemaker
    configs = {c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]}
    models = {m["ModelName"] for m in sm.list_models()["Models"]}
    return configs, models


def _prune(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    assert main(["prune", "--stack", "bluegreen", "--dir", str(ROOT), "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_dry_run_lists_and_deletes_nothing(retained, capsys) -> None:  # type: ignore[no-untyped-def]
    before = _names(retained)
    out = _prune(capsys, "--dry-run")
    assert out["would_delete_configs"] == ["search-config-1", "search-config-3"]
    assert out["would_delete_models"] == ["search-model-1", "search-model-3"]
    assert out["kept_configs"] == {"search-config-2": "running"}
    assert _names(retained) == before


def test_prune_deletes_only_this_stacks_unused_configs_and_models(retained, capsys) -> None:  # type: ignore[no-untyped-def]
    out = _prune(capsys)
    assert out["deleted_configs"] == ["search-config-1", "search-config-3"]
    configs, models = _names(retained)
    assert configs == {"search-config-2", "search-config-9"}  # 9: another owner's
    assert models == {"search-model-2", "search-model-9"}


def test_a_config_sagemaker_is_deploying_is_kept(retained, capsys) -> None:  # type: ignore[no-untyped-def]
    """AWS: during an update PendingDeploymentSummary names the config being deployed; moto
    never reports one."""
    patch_response(
        retained.sagemaker,
        "DescribeEndpoint",
        lambda r: r.update(PendingDeploymentSummary={"EndpointConfigName": "search-config-3"}),
    )
    out = _prune(capsys)
    assert out["deleted_configs"] == ["search-config-1"]
    assert out["kept_configs"]["search-config-3"] == "deploying"
    assert main(["prune", "--stack", "bluegreen", "--dir", str(ROOT), "--dry-run"]) == 0
    assert "kept (running)" in capsys.readouterr().out
