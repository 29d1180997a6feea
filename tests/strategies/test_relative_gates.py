"""Canary gates relative to the stable variant: the plan, what the expressions compute, the
config's checks (CloudWatch metric-math limits from botocore's PutMetricAlarm model), the alarms
under Pulumi mocks, the same alarm in moto read by the real canary hook, and the sample stacks'
resources unchanged when the gates are not asked for."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from sagemaker_rollouts.strategies.config import ConfigError, load_config, project_config
from sagemaker_rollouts.strategies.plan import DeploymentPlan
from sagemaker_rollouts.strategies.planner import build_plan
from sagemaker_rollouts.strategies.relative_gates import (
    EXPRESSION_ID,
    RelativeAlarmPlan,
    math_alarm_problems,
)
from tests.plan_fixtures import relative_of, rollout_of

ROOT = Path(__file__).resolve().parents[2]
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def canary_plan(gates: Any, edit: dict[str, Any] | None = None) -> DeploymentPlan:
    """The canary sample stack with `strategy.canary.relative_gates: gates`."""
    ours, region = project_config(yaml.safe_load((ROOT / "Pulumi.canary.yaml").read_text()))
    canary = ours["endpoints"]["fraud"]["strategy"]["canary"]
    if gates is not None:
        canary["relative_gates"] = gates
    canary.update(edit or {})
    return build_plan(
        load_config(ours, region=region), project="sagemaker-rollouts", stack="canary"
    )


def config_errors(gates: Any) -> list[str]:
    with pytest.raises(ConfigError) as err:
        canary_plan(gates)
    return err.value.errors


def test_both_gates_are_planned_as_gates_of_the_canary() -> None:
    ep = canary_plan({}).endpoints[0]
    names = [r.name for r in relative_of(ep)]
    assert names == [
        "fraud-detector-candidate-vs-stable-5xx-rate",
        "fraud-detector-candidate-vs-stable-p99-ratio",
    ]
    assert set(names) <= set(rollout_of(ep).gate_alarms)
    for r in relative_of(ep):
        variants = {dict(m.dimensions)["VariantName"] for m in r.metrics}
        assert variants == {"candidate", "stable"}
        assert all(dict(m.dimensions)["EndpointName"] == "fraud-detector" for m in r.metrics)
        assert math_alarm_problems(r, "x") == []


def test_without_relative_gates_nothing_changes() -> None:
    before = canary_plan(None).endpoints[0]
    assert relative_of(before) == ()
    assert not any("-vs-" in n for n in rollout_of(before).gate_alarms)


def test_a_disabled_gate_is_not_planned() -> None:
    ep = canary_plan({"latency_p99": {"enabled": False}}).endpoints[0]
    assert [r.key for r in relative_of(ep)] == ["relative.error_rate"]


# --------------------------------------------------------------------------- what they compute


def _evaluate(expression: str, values: dict[str, float | None]) -> float:
    """Evaluate a CloudWatch metric-math expression of IF / FILL / arithmetic / comparisons on
    one datapoint per metric (None: no datapoint), as CloudWatch's documentation defines them:
    FILL(m, v) is v where m has no value; IF(c, a, b) is a where c is non-zero; a comparison
    is 1 or 0."""

    def fill(x: float | None, v: float) -> float:
        return v if x is None else x

    def if_(c: float, a: float, b: float) -> float:
        return a if c else b

    py = expression.replace("IF(", "if_(").replace("FILL(", "fill(")
    return float(eval(py, {"__builtins__": {}}, {"fill": fill, "if_": if_, **values}))


ERROR_RATE = [
    # (candidate errors, candidate invocations, stable errors, stable invocations, points)
    (10, 200, 2, 1000, 5.0 - 0.2),
    (0, 200, 10, 1000, -1.0),  # better than stable: negative, never breaching
    (5, 40, 0, 1000, 0.0),  # 40 < min_invocations 50: too few to judge
    (None, 200, None, 1000, 0.0),  # SageMaker omits zero 5xx counts
    (4, 100, None, None, 4.0),  # the stable variant served nothing: judged against 0
    (None, None, 1, 10, 0.0),  # no candidate traffic
]


@pytest.mark.parametrize(("ce", "ci", "se", "si", "points"), ERROR_RATE)
def test_error_rate_expression_is_the_difference_of_rates_in_points(
    ce: float | None, ci: float | None, se: float | None, si: float | None, points: float
) -> None:
    rel = relative_of(canary_plan({}).endpoints[0])[0]
    got = _evaluate(
        rel.expression, {"cand_err": ce, "cand_inv": ci, "stab_err": se, "stab_inv": si}
    )
    assert got == pytest.approx(points)


LATENCY = [
    # (candidate p99, candidate invocations, stable p99, ratio)
    (300_000, 500, 100_000, 3.0),
    (90_000, 500, 100_000, 0.9),
    (300_000, 10, 100_000, 0.0),  # too few candidate requests
    (300_000, 500, None, 0.0),  # no stable latency to judge against
]


@pytest.mark.parametrize(("cp", "ci", "sp", "ratio"), LATENCY)
def test_latency_expression_is_the_ratio_of_p99s(
    cp: float | None, ci: float | None, sp: float | None, ratio: float
) -> None:
    rel = relative_of(canary_plan({}).endpoints[0])[1]
    got = _evaluate(rel.expression, {"cand_p99": cp, "cand_inv": ci, "stab_p99": sp})
    assert got == pytest.approx(ratio)


# --------------------------------------------------------------------------- config checks

CONFIG_ERRORS = [
    ({"error_rate": {"threshold": 0}}, "relative_gates.error_rate.threshold: must be > 0"),
    ({"latency_p99": {"threshold": 1}}, "relative_gates.latency_p99.threshold: must be > 1"),
    ({"error_rate": {"min_invocations": 0}}, "relative_gates.error_rate.min_invocations"),
    (
        {"error_rate": {"period_seconds": 45}},
        "relative_gates.error_rate.period_seconds: must be 10, 20, 30 or a multiple of 60",
    ),
    (
        {"latency_p99": {"period_seconds": 600, "evaluation_periods": 200}},
        "relative_gates.latency_p99.evaluation_periods: period_seconds x evaluation_periods",
    ),
    (
        {"latency_p99": {"datapoints_to_alarm": 4}},
        "relative_gates.latency_p99.datapoints_to_alarm: must be 1..evaluation_periods (3)",
    ),
    ({"error_rate": {"treat_missing_data": "sometimes"}}, "relative_gates.error_rate.treat_"),
    ({"ratio": {}}, "relative_gates.ratio"),
]


@pytest.mark.parametrize(("gates", "message"), CONFIG_ERRORS)
def test_relative_gate_settings_are_checked_with_their_key_path(gates: Any, message: str) -> None:
    errors = config_errors(gates)
    assert any(e.startswith("endpoints.fraud.strategy.canary.") and message in e for e in errors), (
        errors
    )


def _limits(service: str, shape: str) -> dict[str, Any]:
    import botocore.session

    model = botocore.session.get_session().get_service_model(service)
    return dict(model.shape_for(shape).metadata)


def _gate() -> RelativeAlarmPlan:
    return relative_of(canary_plan({}).endpoints[0])[0]


MATH_PROBLEMS = [
    (
        "an id with an upper-case first letter",
        lambda r: replace(r, metrics=(replace(r.metrics[0], id="Cand"), *r.metrics[1:])),
        "query id 'Cand' must start with a lowercase letter",
    ),
    (
        "two queries with one id",
        lambda r: replace(r, metrics=(r.metrics[0], r.metrics[0], *r.metrics[2:])),
        "query ids must be unique",
    ),
    (
        "eleven metrics",
        lambda r: replace(r, metrics=tuple(replace(r.metrics[0], id=f"m{i}") for i in range(11))),
        "at most 10 metrics",
    ),
    (
        "an expression over the API's length",
        lambda r: replace(r, expression="cand_err + " * 200 + "cand_err"),
        "characters; CloudWatch takes 1..2048",
    ),
    (
        "an expression naming no query",
        lambda r: replace(r, expression="100 * other / cand_inv"),
        "names 'other', which is no query",
    ),
    ("a long alarm name", lambda r: replace(r, name="a" * 256), "takes at most 255 (AlarmName)"),
]


@pytest.mark.parametrize(
    ("edit", "message"), [m[1:] for m in MATH_PROBLEMS], ids=[m[0] for m in MATH_PROBLEMS]
)
def test_metric_math_limits_come_from_the_put_metric_alarm_model(edit: Any, message: str) -> None:
    expr = _limits("cloudwatch", "MetricExpression")
    assert (expr["min"], expr["max"]) == (1, 2048)  # the limits the messages state
    assert _limits("cloudwatch", "MetricId")["max"] == 255
    problems = math_alarm_problems(edit(_gate()), "p")
    assert any(message in p for p in problems), problems


def test_the_ids_follow_the_documented_id_rule() -> None:
    """botocore's MetricDataQuery.Id: "letters, numbers, and underscore. The first character
    must be a lowercase letter"."""
    import botocore.session

    doc = (
        botocore.session.get_session()
        .get_service_model("cloudwatch")
        .shape_for("MetricDataQuery")
        .members["Id"]
        .documentation
    )
    assert "first character must be a lowercase letter" in doc
    for r in relative_of(canary_plan({}).endpoints[0]):
        for mid in [*(m.id for m in r.metrics), EXPRESSION_ID]:
            assert re.fullmatch(r"[a-z][A-Za-z0-9_]*", mid)


# --------------------------------------------------------------------------- Pulumi mocks


def test_the_alarms_are_metric_math_alarms_under_pulumi_mocks() -> None:
    from tests.infra.test_components import FUNCTION, run, statements

    plan = canary_plan({"error_rate": {"threshold": 2.5}})
    result = run(plan)
    alarms = {r.inputs["name"]: r for r in result.of_type(ALARM)}
    rel = alarms["fraud-detector-candidate-vs-stable-5xx-rate"]
    assert rel.name == "fraud-alarm-relative.error_rate"
    queries = rel.inputs["metricQueries"]
    assert [q["returnData"] for q in queries].count(True) == 1
    watched = next(q for q in queries if q["returnData"])
    assert (watched["id"], watched["expression"]) == (
        "e1",
        relative_of(plan.endpoints[0])[0].expression,
    )
    for q in queries:
        if q.get("metric"):
            assert set(q["metric"]["dimensions"]) == {"EndpointName", "VariantName"}
            assert q["metric"]["period"] == 60
    assert rel.inputs["threshold"] == 2.5
    assert "namespace" not in rel.inputs and "metricName" not in rel.inputs
    # The hook watches it, and may read it.
    hook = next(r for r in result.of_type(FUNCTION) if r.name.endswith("-hook-function"))
    spec = json.loads(hook.inputs["environment"]["variables"]["ROLLOUT_SPEC"])
    assert "fraud-detector-candidate-vs-stable-p99-ratio" in spec["gate_alarms"]
    policy = next(
        r
        for r in result.of_type("aws:iam/rolePolicy:RolePolicy")
        if r.name.endswith("-hook-policy")
    )
    readable = json.dumps(statements(policy))
    assert "fraud-detector-candidate-vs-stable-5xx-rate" in readable


def test_the_policy_pack_checks_the_queries_dimensions() -> None:
    from sagemaker_rollouts.infra import policies
    from tests.infra.test_components import run

    result = run(canary_plan({}))
    assert [
        f for f in policies.evaluate(result.policy_resources()) if "dimension" in f.policy
    ] == []
    rel = next(r for r in result.of_type(ALARM) if "-vs-" in r.inputs["name"])
    broken = json.loads(json.dumps(rel.inputs))
    del broken["metricQueries"][0]["metric"]["dimensions"]["EndpointName"]
    found = policies._alarm_dimensions(broken, {})  # type: ignore[reportPrivateUsage]
    assert found == ["SageMaker metric query cand_err without an EndpointName dimension"]


def test_sample_stacks_declare_the_same_resources_as_before() -> None:
    """Not asked for, nothing new: the canary sample's resource names are those of a plan whose
    relative gates are dropped."""
    from tests.infra.test_components import run

    plain = {r.name for r in run(canary_plan(None)).resources}
    with_gates = {r.name for r in run(canary_plan({})).resources}
    assert with_gates - plain == {
        "fraud-alarm-relative.error_rate",
        "fraud-alarm-relative.latency_p99",
    }


def test_rollout_plan_shows_the_gates(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from sagemaker_rollouts.cli.main import main

    doc = yaml.safe_load((ROOT / "Pulumi.canary.yaml").read_text())
    doc["config"]["sagemaker-rollouts:endpoints"]["fraud"]["strategy"]["canary"][
        "relative_gates"
    ] = {"latency_p99": {"threshold": 2}}
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.rg.yaml").write_text(yaml.safe_dump(doc))
    assert main(["plan", "--stack", "rg", "--dir", str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    gates = data["endpoints"][0]["relative_gates"]
    assert [(g["name"], g["threshold"]) for g in gates] == [
        ("fraud-detector-candidate-vs-stable-5xx-rate", 1.0),
        ("fraud-detector-candidate-vs-stable-p99-ratio", 2.0),
    ]


# --------------------------------------------------------------------------- the hook, on moto


def test_the_hook_rolls_back_when_a_relative_gate_fires(moto_url: str) -> None:
    """moto stores the metric-math alarm and DescribeAlarms returns it as a MetricAlarm, as AWS
    does; moto never evaluates alarms, so its state is set as CloudWatch would set it when the
    candidate's 5xx rate exceeds the stable's by more than the threshold."""
    del moto_url
    from sagemaker_rollouts.simulator.provision import relative_alarm_request
    from tests.moto_fixtures import new_world

    rels = relative_of(canary_plan({}).endpoints[0])
    world = new_world()
    names: list[str] = []
    for rel in rels:
        rel = replace(
            rel,
            name=f"{world.spec.endpoint_name}-{rel.key}",
            metrics=tuple(
                replace(m, dimensions=(("EndpointName", world.spec.endpoint_name), m.dimensions[1]))
                for m in rel.metrics
            ),
        )
        world.admin.cloudwatch.put_metric_alarm(**relative_alarm_request(rel))
        names.append(rel.name)
    stored = world.admin.cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
    assert sorted(a["AlarmName"] for a in stored) == sorted(names)
    assert all(len(a["Metrics"]) >= 4 for a in stored)
    spec = replace(world.spec, gate_alarms=(*world.spec.gate_alarms, *names))
    env = {**world.env, "ROLLOUT_SPEC": spec.to_json()}
    world = replace(world, spec=spec, env=env)
    for n in names:
        world.set_alarm(n, "OK")
    first = world.tick(1_700_000_000.0)
    assert first["decision"] != "rollback", first
    world.set_alarm(names[0], "ALARM")
    out = world.tick(1_700_000_060.0)
    assert out["decision"] == "rollback" and names[0] in json.dumps(out), out
    assert world.candidate() == 0.0
