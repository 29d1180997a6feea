"""The Glue table `rollout shadow-report --engine athena` queries (`strategy.shadow.athena`).

Under Pulumi mocks: the real program over the sample shadow stack with `athena: true` declares
one Glue database and one table whose names are the ones the CLI reads from the same plan, whose
location and projection template follow SageMaker's capture layout, and which passes the policy
pack; stacks without `athena` declare no Glue resource. The pure spec is table-tested.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from sagemaker_rollouts.infra import policies
from sagemaker_rollouts.infra.program import export_outputs
from sagemaker_rollouts.infra.render import render
from sagemaker_rollouts.simulator.mockrun import (
    OfflineRun,
    RecordedResource,
    read_stack_config,
    run_function_offline,
    run_offline,
)
from sagemaker_rollouts.strategies.config import PROJECT, load_config
from sagemaker_rollouts.strategies.plan import ShadowPlan
from sagemaker_rollouts.strategies.planner import build_plan
from sagemaker_rollouts.strategies.shadow_compare import (
    WHOLE_ANSWER,
    GlueTable,
    ShadowReportPlan,
    Thresholds,
    glue_names,
    glue_table_spec,
    hour_partition,
)
from tests import plan_fixtures as fx

ROOT = Path(__file__).resolve().parents[2]
SHADOW_STACK = ROOT / "Pulumi.shadow.yaml"
DATABASE = "aws:glue/catalogDatabase:CatalogDatabase"
TABLE = "aws:glue/catalogTable:CatalogTable"
CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
KEY = f"{PROJECT}:endpoints"


def _shadow_endpoints(athena: bool) -> dict[str, Any]:
    endpoints = copy.deepcopy(read_stack_config(SHADOW_STACK)[KEY])
    endpoints["fraud"]["strategy"]["shadow"]["athena"] = athena
    return endpoints


@cache
def _athena_run() -> OfflineRun:
    result = run_offline(SHADOW_STACK, config={KEY: _shadow_endpoints(True)})
    result.raise_error()
    return result


def _one(result: OfflineRun, token: str) -> RecordedResource:
    found = result.of_type(token)
    assert len(found) == 1, [r.urn for r in found]
    return found[0]


def _plan_glue() -> tuple[GlueTable, str, str, str]:
    raw = read_stack_config(SHADOW_STACK)
    cfg = load_config({"endpoints": _shadow_endpoints(True)}, region=raw.get("aws:region"))
    plan = build_plan(cfg, project=PROJECT, stack="shadow")
    (ep,) = plan.endpoints
    assert fx.report_of(ep).glue is not None
    return (
        fx.report_of(ep).glue,
        ep.endpoint_name,
        fx.report_of(ep).production,
        (fx.report_of(ep).shadow),
    )


def test_the_table_has_the_names_the_cli_reads_and_projects_the_capture_layout() -> None:
    result = _athena_run()
    glue, endpoint_name, production, shadow = _plan_glue()
    database, table = _one(result, DATABASE), _one(result, TABLE)
    # The CLI's Athena engine queries `report.glue.database` / `report.glue.table` of this plan.
    assert database.inputs["name"] == glue.database
    assert (table.inputs["name"], table.inputs["databaseName"]) == (glue.table, glue.database)
    capture = _one(result, CONFIG).inputs["dataCaptureConfig"]["destinationS3Uri"].rstrip("/")
    params = table.inputs["parameters"]
    root = f"{capture}/{endpoint_name}"
    assert table.inputs["storageDescriptor"]["location"] == f"{root}/"
    assert params["storage.location.template"] == f"{root}/${{variant}}/${{hour}}/"
    assert params["projection.enabled"] == "true"
    assert (params["projection.variant.type"], params["projection.variant.values"]) == (
        "enum",
        f"{production},{shadow}",
    )
    assert params["projection.hour.type"] == "date"
    assert params["projection.hour.format"] == "yyyy/MM/dd/HH"
    assert (params["projection.hour.interval"], params["projection.hour.interval.unit"]) == (
        "1",
        "HOURS",
    )
    assert params["projection.hour.range"].endswith(",NOW")
    # The columns the query reads: `line`, and the partition keys `variant`, `hour`.
    sd = table.inputs["storageDescriptor"]
    assert [c["name"] for c in sd["columns"]] == ["line"]
    assert [k["name"] for k in table.inputs["partitionKeys"]] == ["variant", "hour"]
    assert table.inputs["tableType"] == "EXTERNAL_TABLE"
    assert table.parent is not None and "SageMakerEndpoint" in table.parent
    assert database.parent is not None and "StackResources" in database.parent


def test_a_capture_key_maps_back_through_the_template_to_its_partitions() -> None:
    """A real capture object key, cut by the projection template, gives the partition values
    the query's `variant IN (...)` / `hour BETWEEN ...` filters use."""
    params = _one(_athena_run(), TABLE).inputs["parameters"]
    _, _, production, _ = _plan_glue()
    from datetime import UTC, datetime

    at = datetime(2026, 11, 29, 12, 34, tzinfo=UTC)
    template = params["storage.location.template"]
    folder = template.replace("${variant}", production).replace("${hour}", hour_partition(at))
    assert folder.endswith(f"/{production}/2026/11/29/12/")


def test_the_athena_stack_passes_the_policy_rules() -> None:
    result = _athena_run()
    assert policies.violations((r.type, r.name, r.inputs) for r in result.resources) == []


@pytest.mark.parametrize("athena", [False, None], ids=["athena-false", "athena-unset"])
def test_a_stack_without_athena_declares_no_glue_resource(athena: bool | None) -> None:
    endpoints = _shadow_endpoints(False)
    if athena is None:
        del endpoints["fraud"]["strategy"]["shadow"]["athena"]
    result = run_offline(SHADOW_STACK, config={KEY: endpoints})
    result.raise_error()
    assert [r for r in result.resources if r.type.startswith("aws:glue/")] == []


def _report(glue: GlueTable | None) -> ShadowReportPlan:
    return ShadowReportPlan(
        production="live",
        shadow="shadow",
        fields=(WHOLE_ANSWER,),
        thresholds=Thresholds(min_pairs=1, min_agreement=99.0, max_p99_latency_ratio=1.2),
        window_seconds=5,
        glue=glue,
    )


@pytest.mark.parametrize(
    "plan",
    [fx.recreate(), fx.ab_with_dark_variant(), fx.shadow(), fx.canary(), fx.rolling()],
    ids=lambda p: p.strategy,
)
def test_no_glue_resources_without_a_glue_table_in_the_plan(plan: Any) -> None:
    result = run_function_offline(lambda: export_outputs(render(fx.deployment(plan))))
    result.raise_error()
    assert [r for r in result.resources if r.type.startswith("aws:glue/")] == []


def test_two_athena_endpoints_share_one_database() -> None:
    a = replace(
        fx.shadow(), strategy_plan=ShadowPlan(_report(glue_names(PROJECT, "test", "fraud-shadow")))
    )
    b = replace(
        fx.shadow(),
        key="fraud2",
        endpoint_name="fraud-shadow-2",
        strategy_plan=ShadowPlan(_report(glue_names(PROJECT, "test", "fraud-shadow-2"))),
    )
    result = run_function_offline(lambda: export_outputs(render(fx.deployment(a, b))))
    result.raise_error()
    assert len(result.of_type(DATABASE)) == 1
    tables = {t.inputs["name"]: t.inputs for t in result.of_type(TABLE)}
    assert set(tables) == {"fraud_shadow_capture", "fraud_shadow_2_capture"}
    assert policies.violations((r.type, r.name, r.inputs) for r in result.resources) == []


def test_athena_without_data_capture_is_refused() -> None:
    plan = replace(
        fx.shadow(),
        data_capture=None,
        strategy_plan=ShadowPlan(_report(glue_names(PROJECT, "test", "fraud-shadow"))),
    )
    result = run_function_offline(lambda: export_outputs(render(fx.deployment(plan))))
    assert result.error is not None and "strategy.shadow.athena" in str(result.error)


GLUE = GlueTable("db", "t")


@pytest.mark.parametrize(
    ("uri", "location"),
    [
        ("s3://b", "s3://b/ep/"),
        ("s3://b/", "s3://b/ep/"),
        ("s3://b/capture/x", "s3://b/capture/x/ep/"),
        ("s3://b/capture/x/", "s3://b/capture/x/ep/"),
    ],
)
def test_spec_location_follows_the_capture_prefix(uri: str, location: str) -> None:
    spec = glue_table_spec(GLUE, capture_uri=uri, endpoint_name="ep", variants=("a", "b"))
    params = dict(spec.parameters)
    assert spec.location == location
    assert params["storage.location.template"] == location + "${variant}/${hour}/"
    assert params["projection.variant.values"] == "a,b"


@pytest.mark.parametrize(
    ("kwargs", "messages"),
    [
        ({"capture_uri": "b/prefix"}, ["capture_uri"]),
        ({"capture_uri": "s3://"}, ["capture_uri"]),
        ({"variants": ()}, ["variants"]),
        ({"variants": ("a,b",)}, ["'a,b'"]),
        ({"history_days": 0}, ["history_days"]),
        (
            {"capture_uri": "x", "variants": (), "history_days": 0},
            ["capture_uri", "variants", "history_days"],
        ),
    ],
)
def test_spec_rejects_bad_input_naming_every_problem(
    kwargs: dict[str, Any], messages: list[str]
) -> None:
    args: dict[str, Any] = {
        "capture_uri": "s3://b/p",
        "endpoint_name": "ep",
        "variants": ("a", "b"),
        **kwargs,
    }
    with pytest.raises(ValueError) as err:
        glue_table_spec(GLUE, **args)
    assert all(m in str(err.value) for m in messages), str(err.value)


def test_spec_history_is_the_projected_range() -> None:
    spec = glue_table_spec(
        GLUE, capture_uri="s3://b", endpoint_name="ep", variants=("a",), history_days=31
    )
    assert dict(spec.parameters)["projection.hour.range"] == "NOW-31DAYS,NOW"


def test_two_components_with_athena_in_one_stack_get_their_own_database() -> None:
    """Glue database names are unique per account and Region: each `RolloutEndpoint` component
    scopes its own (`<project>_<stack>_<name>`), as it does its state table."""
    from sagemaker_rollouts.infra.component import RolloutEndpoint

    endpoints = _shadow_endpoints(True)

    def program() -> None:
        RolloutEndpoint("fraud", copy.deepcopy(endpoints["fraud"]))
        other = copy.deepcopy(endpoints["fraud"]) | {"endpoint_name": "churn-shadow"}
        RolloutEndpoint("churn", other)

    result = run_function_offline(program, stack="prod", project="platform")
    result.raise_error()
    databases = sorted(d.inputs["name"] for d in result.of_type(DATABASE))
    assert databases == ["platform_prod_churn", "platform_prod_fraud"]
    tables = {(t.inputs["databaseName"], t.inputs["name"]) for t in result.of_type(TABLE)}
    assert tables == {
        ("platform_prod_fraud", "fraud_shadow_capture"),
        ("platform_prod_churn", "churn_shadow_capture"),
    }
