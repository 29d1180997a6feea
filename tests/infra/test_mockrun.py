"""The offline runner itself: isolation between runs, config errors, secrets, stack config."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pytest

from sagemaker_rollouts.simulator.mockrun import (
    SECRET_PLACEHOLDER,
    Secret,
    pulumi_config,
    run_function_offline,
    run_offline,
    stack_name_of,
)
from sagemaker_rollouts.strategies.config import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_runs_are_isolated_from_each_other() -> None:
    def declare(name: str) -> None:
        pulumi.export("config", pulumi.Config("sagemaker-rollouts").get("flavour"))
        pulumi.ComponentResource("sagemaker-rollouts:index:Probe", name)

    first = run_function_offline(lambda: declare("one"), config={"sagemaker-rollouts:flavour": "a"})
    second = run_function_offline(
        lambda: declare("two"), config={"sagemaker-rollouts:flavour": "b"}
    )
    assert [r.name for r in first.resources] == ["one"]
    assert [r.name for r in second.resources] == ["two"]
    assert (first.outputs["config"], second.outputs["config"]) == ("a", "b")


def test_structured_config_is_json_encoded_like_pulumi_does() -> None:
    flat, secret = pulumi_config(
        {"aws:region": "eu-west-1", "p:endpoints": {"a": {"weight": 0}}, "p:flag": True}
    )
    assert flat == {
        "aws:region": "eu-west-1",
        "p:endpoints": json.dumps({"a": {"weight": 0}}),
        "p:flag": "true",
    }
    assert secret == []


def test_encrypted_values_become_redacted_secrets() -> None:
    flat, secret = pulumi_config({"p:endpoints": {"a": {"env": {"secure": "v1:abc"}}}})
    assert json.loads(flat["p:endpoints"]) == {"a": {"env": SECRET_PLACEHOLDER}}
    assert secret == ["p:endpoints"]


def test_secret_outputs_are_redacted_but_readable() -> None:
    result = run_function_offline(lambda: pulumi.export("token", pulumi.Output.secret("s3cr3t")))
    assert isinstance(result.outputs["token"], Secret)
    assert repr(result.outputs["token"]) == SECRET_PLACEHOLDER
    assert result.outputs["token"].value == "s3cr3t"


def test_invalid_config_surfaces_as_error_with_nothing_declared() -> None:
    result = run_offline(
        ROOT / "Pulumi.canary.yaml",
        config={"sagemaker-rollouts:endpoints": {"bad": {"models": {}}}},
    )
    assert isinstance(result.error, ConfigError)
    assert "endpoints.bad" in str(result.error)
    assert result.resources == []


def test_stack_name_comes_from_the_file() -> None:
    assert stack_name_of(Path("Pulumi.canary.yaml")) == "canary"
    result = run_offline(ROOT / "Pulumi.dev.yaml")
    assert result.error is None
    assert result.stack == "dev"
    assert all(
        "::dev::" not in r.urn or r.urn.startswith("urn:pulumi:dev::") for r in result.resources
    )
    assert result.resources[0].urn.startswith("urn:pulumi:dev::sagemaker-rollouts::")


def test_the_same_stack_twice_gives_the_same_resources() -> None:
    first = run_offline(ROOT / "Pulumi.shadow.yaml")
    second = run_offline(ROOT / "Pulumi.shadow.yaml")
    assert [(r.urn, r.redacted()) for r in first.resources] == [
        (r.urn, r.redacted()) for r in second.resources
    ]


@pytest.mark.parametrize("stack", ["canary"])
def test_offline_runs_never_read_aws(stack: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline plans must work with no credentials: boto3 must not even be asked for a client."""
    import boto3

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("offline run tried to create a boto3 client")

    monkeypatch.setattr(boto3, "client", refuse)
    result = run_offline(ROOT / f"Pulumi.{stack}.yaml")
    assert result.error is None
