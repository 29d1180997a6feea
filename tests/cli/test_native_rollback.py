"""SageMaker's own rollbacks (blue/green, rolling) are seen: by `rollout status` and by `pulumi up`.

SageMaker facts these tests stand on (DescribeEndpoint, botocore's sagemaker model): while an
update runs, `EndpointConfigName` still names the old config and `PendingDeploymentSummary` the
new one, with a `VariantStatus` per variant (Creating, Updating, ActivatingTraffic, Baking);
after an alarm rollback the endpoint is InService on the old config. The AWS provider's waiter
only waits for InService, so Pulumi's state records the new config as deployed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sagemaker_rollouts.cli import cmd_live
from sagemaker_rollouts.cli.main import main
from sagemaker_rollouts.infra.awareness import RolledBackDeploymentError
from sagemaker_rollouts.simulator.mockrun import read_stack_config, run_offline
from sagemaker_rollouts.simulator.moto_server import moto_server
from sagemaker_rollouts.simulator.provision import AwsClients
from sagemaker_rollouts.strategies import native
from sagemaker_rollouts.strategies.native import LiveEndpoint, check_deploy, phase
from tests.moto_fixtures import patch_response

ROOT = Path(__file__).resolve().parents[2]

LIVE = LiveEndpoint(
    name="search-embeddings",
    status="InService",
    config_name="cfg-new",
    deployed_config="cfg-new",
    deployed_attempt=1,
    pending_config=None,
    pending_variant_statuses=(),
    failure_reason=None,
    has_auto_rollback=True,
)


@pytest.mark.parametrize(
    ("changes", "expected_phase", "verdict"),
    [
        ({}, "completed", "completed"),
        ({"deployed_config": None}, "completed", "completed"),  # not tagged by the stack yet
        ({"config_name": "cfg-old"}, "rolled_back", "rolled_back"),
        (
            {"config_name": "cfg-old", "failure_reason": "Alarm search-rollback in ALARM"},
            "rolled_back",
            "rolled_back",
        ),
        ({"status": "RollingBack", "config_name": "cfg-old"}, "rolling_back", "rolled_back"),
        ({"status": "Failed", "failure_reason": "image not found"}, "failed", "failed"),
        ({"status": "UpdateRollbackFailed"}, "failed", "failed"),
        ({"status": "OutOfService"}, "failed", "failed"),
        ({"status": "Creating"}, "creating", "in_progress"),
        (
            {"status": "Updating", "pending_config": "cfg-next", "pending_variant_statuses": ()},
            "provisioning",
            "in_progress",
        ),
        (
            {"status": "Updating", "pending_variant_statuses": ("Creating", "ActivatingTraffic")},
            "shifting",
            "in_progress",
        ),
        (
            {"status": "Updating", "pending_variant_statuses": ("ActivatingTraffic", "Baking")},
            "baking",
            "in_progress",
        ),
        ({"status": "SystemUpdating"}, "provisioning", "in_progress"),
    ],
)
def test_phase_of_a_native_deployment(
    changes: dict[str, Any], expected_phase: str, verdict: str
) -> None:
    view = phase(replace(LIVE, **changes))
    assert (view.phase, view.verdict) == (expected_phase, verdict)


def test_a_rollback_reason_names_both_configs_and_sagemakers_reason() -> None:
    view = phase(replace(LIVE, config_name="cfg-old", failure_reason="alarm fired"))
    assert "cfg-old" in view.reason and "cfg-new" in view.reason and "alarm fired" in view.reason


@pytest.mark.parametrize(
    ("live", "attempt", "stops"),
    [
        (None, 1, False),  # first up: no endpoint yet
        (LIVE, 1, False),  # in sync
        (replace(LIVE, config_name="cfg-old"), 1, True),
        (replace(LIVE, config_name="cfg-old"), 2, False),  # acknowledged
        (replace(LIVE, config_name="cfg-old", deployed_attempt=2), 2, True),  # rolled back again
        (replace(LIVE, status="RollingBack", config_name="cfg-old"), 1, True),
        (replace(LIVE, status="Updating", pending_config="cfg-new"), 1, False),
    ],
)
def test_pulumi_up_stops_over_a_rollback_until_the_attempt_is_raised(
    live: LiveEndpoint | None, attempt: int, stops: bool
) -> None:
    found = check_deploy(
        live, config_path="endpoints.search", strategy_key="blue_green", attempt=attempt
    )
    assert (found is not None) == stops


def test_from_describe_reads_the_fields_moto_leaves_out() -> None:
    live = LiveEndpoint.from_describe(
        {
            "EndpointName": "e",
            "EndpointArn": "arn",
            "EndpointStatus": "Updating",
            "EndpointConfigName": "old",
            "PendingDeploymentSummary": {
                "EndpointConfigName": "new",
                "ProductionVariants": [
                    {"VariantName": "primary", "VariantStatus": [{"Status": "Baking"}]}
                ],
            },
            "LastDeploymentConfig": {"AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "a"}]}},
        },
        {native.DEPLOYED_CONFIG_TAG: "new", native.ATTEMPT_TAG: "2"},
    )
    assert live.pending_config == "new" and live.pending_variant_statuses == ("Baking",)
    assert live.deployed_attempt == 2 and live.has_auto_rollback


# --------------------------------------------------------------------------- pulumi up (mocks)


def _bluegreen(attempt: int | None = None) -> dict[str, Any]:
    raw = read_stack_config(ROOT / "Pulumi.bluegreen.yaml")
    endpoints = raw["sagemaker-rollouts:endpoints"]
    if attempt is not None:
        endpoints["search"]["strategy"]["blue_green"]["attempt"] = attempt
    return {"sagemaker-rollouts:endpoints": endpoints}


def test_pulumi_up_over_a_sagemaker_rollback_declares_nothing_and_says_what_to_do() -> None:
    rolled_back = replace(
        LIVE, config_name="search-config-old", deployed_config="search-config-new"
    )
    result = run_offline(
        ROOT / "Pulumi.bluegreen.yaml", config=_bluegreen(), endpoints=lambda _: rolled_back
    )
    assert isinstance(result.error, RolledBackDeploymentError)
    assert [r for r in result.resources if r.custom] == []
    message = str(result.error)
    for part in (
        "search-embeddings",
        "search-config-old",
        "search-config-new",
        "rolled the deployment back",
        "endpoints.search.strategy.blue_green.attempt",
        "pulumi config set --path 'sagemaker-rollouts:endpoints.search.strategy.blue_green.attempt' 2",
    ):
        assert part in message


def test_a_raised_attempt_replaces_the_config_and_tags_the_endpoint() -> None:
    rolled_back = replace(LIVE, config_name="search-config-old")
    result = run_offline(
        ROOT / "Pulumi.bluegreen.yaml", config=_bluegreen(2), endpoints=lambda _: rolled_back
    )
    result.raise_error()
    config = result.named("search-config")
    assert config.replacement_trigger == 2
    tags = result.named("search-endpoint").inputs["tags"]
    assert tags[native.ATTEMPT_TAG] == "2"
    assert tags[native.DEPLOYED_CONFIG_TAG] == config.id


def test_replaced_configs_and_models_are_retained_for_a_rollback() -> None:
    result = run_offline(ROOT / "Pulumi.bluegreen.yaml")
    result.raise_error()
    assert result.named("search-config").retain_on_delete
    assert result.named("search-model-current").retain_on_delete
    assert result.named("search-config").replacement_trigger is None  # attempt 1: no trigger


# --------------------------------------------------------------------------- rollout status (moto)


@pytest.fixture
def bluegreen_live(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsClients]:
    """The bluegreen stack's endpoint in moto: models and two configs, the endpoint on the old one,
    tagged (as `pulumi up` tags it) with the new one as deployed: SageMaker rolled it back."""
    with moto_server("us-east-1"):
        aws = AwsClients.create("us-east-1")
        sm = aws.sagemaker
        sm.create_model(
            ModelName="m",
            ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
            PrimaryContainer={"Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/x:1"},
        )
        for cfg in ("search-config-old", "search-config-new"):
            sm.create_endpoint_config(
                EndpointConfigName=cfg,
                ProductionVariants=[
                    {
                        "VariantName": "primary",
                        "ModelName": "m",
                        "InstanceType": "ml.g4dn.xlarge",  # moto knows no ml.g5
                        "InitialInstanceCount": 4,
                    }
                ],
            )
        sm.create_endpoint(
            EndpointName="search-embeddings",
            EndpointConfigName="search-config-old",
            Tags=[
                {"Key": native.DEPLOYED_CONFIG_TAG, "Value": "search-config-new"},
                {"Key": native.ATTEMPT_TAG, "Value": "1"},
            ],
        )
        monkeypatch.setattr(cmd_live.AwsClients, "create", classmethod(lambda cls, region: aws))
        yield aws


def _status(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(["status", "--stack", "bluegreen", "--dir", str(ROOT), "--json"])
    return code, json.loads(capsys.readouterr().out)["endpoints"][0]


def test_status_reports_a_sagemaker_rollback_exit_1(bluegreen_live, capsys) -> None:  # type: ignore[no-untyped-def]
    """AWS: after an alarm rollback DescribeEndpoint has FailureReason; moto never sets it."""
    patch_response(
        bluegreen_live.sagemaker,
        "DescribeEndpoint",
        lambda r: r.update(FailureReason="Rolled back: alarm search-embeddings-rollback"),
    )
    code, ep = _status(capsys)
    assert code == 1
    assert (ep["phase"], ep["verdict"]) == ("rolled_back", "rolled_back")
    assert "search-config-old" in ep["phase_reason"]
    assert "search-embeddings-rollback" in ep["phase_reason"]


def test_status_reports_baking_exit_3(bluegreen_live, capsys) -> None:  # type: ignore[no-untyped-def]
    """AWS: during a blue/green bake the endpoint is Updating with a PendingDeploymentSummary
    whose variant status is Baking; moto implements neither."""

    def baking(r: dict[str, Any]) -> None:
        r["EndpointStatus"] = "Updating"
        r["PendingDeploymentSummary"] = {
            "EndpointConfigName": "search-config-new",
            "ProductionVariants": [
                {"VariantName": "primary", "VariantStatus": [{"Status": "Baking"}]}
            ],
        }

    patch_response(bluegreen_live.sagemaker, "DescribeEndpoint", baking)
    code, ep = _status(capsys)
    assert code == 3
    assert ep["phase"] == "baking" and "search-config-new" in ep["phase_reason"]


def test_status_of_a_completed_deployment_exit_0(bluegreen_live, capsys) -> None:  # type: ignore[no-untyped-def]
    sm = bluegreen_live.sagemaker
    arn = sm.describe_endpoint(EndpointName="search-embeddings")["EndpointArn"]
    sm.add_tags(
        ResourceArn=arn, Tags=[{"Key": native.DEPLOYED_CONFIG_TAG, "Value": "search-config-old"}]
    )
    code, ep = _status(capsys)
    assert code == 0 and ep["phase"] == "completed"
    assert main(["status", "--stack", "bluegreen", "--dir", str(ROOT)]) == 0
    assert "SageMaker deployment: completed" in capsys.readouterr().out
