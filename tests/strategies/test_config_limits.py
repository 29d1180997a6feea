"""Stack configs against AWS's and Pulumi's own rules: one table per kind of fault (issue 8).

1. AWS limits: what SageMaker, CloudWatch or the AWS provider would reject is refused here first.
2. Every problem at once: shape errors never hide relation errors in other fields.
3. Valid configs accepted: what Pulumi hands the program (numbers in string maps, YAML 1.1
   booleans, extended statistics) is not refused.
4. Messages: key path first, no raw regexes, no internal class names, no whole-value dumps.
All run through `load_config` + `build_plan`, exactly what `rollout plan` and the program call.
"""

from __future__ import annotations

from typing import Any

import pytest

from sagemaker_rollouts.strategies.config import ConfigError, load_config
from sagemaker_rollouts.strategies.planner import build_plan
from tests.stackdata import DELETE, canary, single, with_key

EP = "endpoints.fraud"
CAN = f"{EP}.strategy.canary"
SVC = "endpoints.svc"


def plan_errors(raw: dict[str, Any]) -> list[str]:
    try:
        build_plan(load_config(raw), project="sagemaker-rollouts", stack="t")
    except ConfigError as exc:
        return exc.errors
    return []


def custom(**over: Any) -> list[dict[str, Any]]:
    alarm = {"key": "drift", "namespace": "Acme/Models", "metric": "psi", "threshold": 0.2}
    return [alarm | over]


# (id, config, expected key path, fragment of the message)
AWS_LIMITS: list[tuple[str, dict[str, Any], str, str]] = [
    ("aws: tag prefix", with_key(canary(), "tags.aws:owner", "x"), "tags.aws:owner", "reserved"),
    (
        "aws: tag prefix on an endpoint",
        with_key(canary(), f"{EP}.tags.AWS:team", "x"),
        f"{EP}.tags.AWS:team",
        "reserved",
    ),
    ("tag value 257", with_key(canary(), "tags.team", "v" * 257), "tags.team", "at most 256"),
    ("tag key 129", with_key(canary(), "tags." + "k" * 129, "v"), "tags." + "k" * 129, "128"),
    ("tag value chars", with_key(canary(), "tags.team", "a;b"), "tags.team", "';'"),
    (
        "48 stack tags plus managed tags",
        canary() | {"tags": {f"t{i}": "v" for i in range(48)}},
        f"{EP}.tags",
        "would carry 52 tags",
    ),
    (
        "environment key pattern",
        with_key(canary(), f"{EP}.models.v1.environment", {"MODEL-NAME": "churn"}),
        f"{EP}.models.v1.environment.MODEL-NAME",
        "a letter or _ followed by letters, digits or _",
    ),
    (
        "environment value 1025",
        with_key(canary(), f"{EP}.models.v1.environment", {"A": "x" * 1025}),
        f"{EP}.models.v1.environment.A",
        "at most 1024 characters",
    ),
    (
        "environment 101 entries",
        with_key(canary(), f"{EP}.models.v1.environment", {f"K{i}": "v" for i in range(101)}),
        f"{EP}.models.v1.environment",
        "at most 100 items",
    ),
    (
        "alarm window over a day",
        with_key(
            canary(), f"{EP}.alarms.custom", custom(period_seconds=60, evaluation_periods=1441)
        ),
        f"{EP}.alarms.custom[0].evaluation_periods",
        "at most 86400 s",
    ),
    (
        "hourly alarm window over a week",
        with_key(
            canary(), f"{EP}.alarms.custom", custom(period_seconds=3600, evaluation_periods=169)
        ),
        f"{EP}.alarms.custom[0].evaluation_periods",
        "at most 604800 s",
    ),
    (
        "standard alarm window",
        with_key(
            canary(),
            f"{EP}.alarms.errors_5xx",
            {"threshold": 1, "period_seconds": 600, "evaluation_periods": 200},
        ),
        f"{EP}.alarms.errors_5xx.evaluation_periods",
        "at most 86400 s",
    ),
    (
        "datapoints over evaluation periods",
        with_key(
            canary(), f"{EP}.alarms.custom", custom(evaluation_periods=2, datapoints_to_alarm=3)
        ),
        f"{EP}.alarms.custom[0].datapoints_to_alarm",
        "1..evaluation_periods (2), got 3",
    ),
    (
        "dimensions over 30",
        with_key(
            canary(), f"{EP}.alarms.custom", custom(dimensions={f"D{i}": "v" for i in range(31)})
        ),
        f"{EP}.alarms.custom[0].dimensions",
        "at most 30 items",
    ),
    (
        "metric name over 255",
        with_key(canary(), f"{EP}.alarms.custom", custom(metric="m" * 256)),
        f"{EP}.alarms.custom[0].metric",
        "at most 255 characters",
    ),
    (
        "namespace starting with a colon",
        with_key(canary(), f"{EP}.alarms.custom", custom(namespace=":Acme")),
        f"{EP}.alarms.custom[0].namespace",
        "not starting with ':'",
    ),
    (
        "blue/green timeout over the provider's 14400",
        single({"blue_green": {"max_execution_timeout_seconds": 22000}}),
        f"{SVC}.strategy.blue_green.max_execution_timeout_seconds",
        "must be 600..14400, got 22000",
    ),
    (
        "rolling timeout over the provider's 14400",
        single(
            {
                "rolling": {
                    "maximum_batch_size": {"value": 25},
                    "max_execution_timeout_seconds": 20000,
                }
            }
        ),
        f"{SVC}.strategy.rolling.max_execution_timeout_seconds",
        "must be 600..14400",
    ),
    (
        "rolling wait over 3600",
        single({"rolling": {"maximum_batch_size": {"value": 25}, "wait_seconds": 3601}}),
        f"{SVC}.strategy.rolling.wait_seconds",
        "must be 0..3600",
    ),
    (
        "instance_count true",
        with_key(canary(), f"{EP}.variants[0].instance_count", True),
        f"{EP}.variants[0].instance_count",
        "must be a whole number, got true",
    ),
    (
        "bake_seconds false",
        with_key(canary(), f"{CAN}.bake_seconds", False),
        f"{CAN}.bake_seconds",
        "must be a whole number, got false",
    ),
    (
        "threshold true",
        with_key(canary(), f"{EP}.alarms.custom", custom(threshold=True)),
        f"{EP}.alarms.custom[0].threshold",
        "must be a number, got true",
    ),
    (
        "step true",
        with_key(canary(), f"{CAN}.steps", [True, 50]),
        f"{CAN}.steps[0]",
        "must be a percent",
    ),
    (
        "endpoint key with _ and an endpoint_name",
        {"endpoints": {"fraud_detector": canary()["endpoints"]["fraud"]}},
        "endpoints.fraud_detector",
        "letters, digits and hyphens only",
    ),
    (
        "model key with _",
        {
            "endpoints": {
                "fraud": {
                    **canary()["endpoints"]["fraud"],
                    "models": {"v_1": canary()["endpoints"]["fraud"]["models"]["v1"]},
                    "variants": [
                        {"name": "stable", "model": "v_1", "instance_type": "ml.m5.large"},
                        {"name": "candidate", "model": "v_1", "instance_type": "ml.m5.large"},
                    ],
                }
            }
        },
        f"{EP}.models.v_1",
        "letters, digits and hyphens only",
    ),
    (
        "endpoint_name with _",
        with_key(canary(), f"{EP}.endpoint_name", "fraud_detector"),
        f"{EP}.endpoint_name",
        "letters, digits and hyphens",
    ),
    (
        "11 variants",
        with_key(
            canary(),
            f"{EP}.variants",
            [{"name": f"v{i}", "model": "v1", "instance_type": "ml.m5.large"} for i in range(11)],
        ),
        f"{EP}.variants",
        "must have at most 10 items, got 11",
    ),
    (
        "data capture sampling 101",
        with_key(canary(), f"{EP}.data_capture.sampling_percent", 101),
        f"{EP}.data_capture.sampling_percent",
        "must be 0..100, got 101",
    ),
    (
        "17 subnets",
        with_key(
            canary(),
            f"{EP}.models.v1.vpc",
            {"subnets": [f"subnet-{i}" for i in range(17)], "security_group_ids": ["sg-1"]},
        ),
        f"{EP}.models.v1.vpc.subnets",
        "at most 16 items",
    ),
    (
        "6 security groups",
        with_key(
            canary(),
            f"{EP}.models.v1.vpc",
            {"subnets": ["subnet-1"], "security_group_ids": [f"sg-{i}" for i in range(6)]},
        ),
        f"{EP}.models.v1.vpc.security_group_ids",
        "at most 5 items",
    ),
    (
        "image over 255",
        with_key(canary(), f"{EP}.models.v1.image", "r.example.com/" + "x" * 250),
        f"{EP}.models.v1.image",
        "at most 255 characters",
    ),
    (
        "bogus statistic",
        with_key(canary(), f"{EP}.alarms.custom", custom(statistic="p101")),
        f"{EP}.alarms.custom[0].statistic",
        "got 'p101'",
    ),
]


@pytest.mark.parametrize(
    ("raw", "path", "fragment"), [c[1:] for c in AWS_LIMITS], ids=[c[0] for c in AWS_LIMITS]
)
def test_what_aws_would_reject_is_refused_with_its_key_path(
    raw: dict[str, Any], path: str, fragment: str
) -> None:
    errors = plan_errors(raw)
    matching = [e for e in errors if e.startswith(f"{path}: ")]
    assert matching, f"no error for {path!r} in {errors}"
    assert any(fragment in e for e in matching), f"{fragment!r} not in {matching}"


def _mixed_canary() -> dict[str, Any]:
    raw = with_key(canary(), f"{CAN}.steps", [10, 5])
    raw = with_key(raw, f"{EP}.variants[1].instance_type", "ml.bogus.large")
    raw = with_key(raw, f"{EP}.data_capture.sampling_percent", 101)
    return with_key(raw, f"{EP}.endpoint_name", "fraud_detector")


def _bg_no_alarms_bogus_type() -> dict[str, Any]:
    raw = single({"blue_green": {}}, itype="ml.bogus.large")
    raw = with_key(raw, f"{SVC}.alarms.errors_5xx", {"enabled": False, "threshold": 1})
    return with_key(raw, f"{SVC}.alarms.latency_p99", {"enabled": False, "threshold": 1})


# (id, config, every key path that must be reported)
ALL_AT_ONCE: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "shape and relation errors in one endpoint",
        _mixed_canary(),
        [
            f"{CAN}.steps[1]",
            f"{EP}.variants[1].instance_type",
            f"{EP}.data_capture.sampling_percent",
            f"{EP}.endpoint_name",
        ],
    ),
    (
        "bogus instance type and no rollback alarm",
        _bg_no_alarms_bogus_type(),
        [f"{SVC}.variants[0].instance_type", f"{SVC}.alarms"],
    ),
    (
        "top-level typo and an endpoint error",
        with_key(canary(), f"{CAN}.steps", [10, 5]) | {"tag": {"a": "b"}},
        ["tag", f"{CAN}.steps[1]"],
    ),
    (
        "one bad step keeps the order check of the others",
        with_key(canary(), f"{CAN}.steps", [50, "x", 20]),
        [f"{CAN}.steps[1]", f"{CAN}.steps[2]"],
    ),
    (
        "a bad variant field keeps the strategy's reference checks",
        with_key(
            with_key(canary(), f"{EP}.variants[0].instance_count", 0), f"{CAN}.candidate", "nope"
        ),
        [f"{EP}.variants[0].instance_count", f"{CAN}.candidate"],
    ),
    (
        "a bad alarm keeps the other alarm's window check",
        with_key(
            with_key(canary(), f"{EP}.alarms.errors_5xx.threshold", "high"),
            f"{EP}.alarms.custom",
            custom(period_seconds=45),
        ),
        [f"{EP}.alarms.errors_5xx.threshold", f"{EP}.alarms.custom[0].period_seconds"],
    ),
]


@pytest.mark.parametrize(
    ("raw", "paths"), [c[1:] for c in ALL_AT_ONCE], ids=[c[0] for c in ALL_AT_ONCE]
)
def test_every_problem_is_reported_at_once(raw: dict[str, Any], paths: list[str]) -> None:
    errors = plan_errors(raw)
    for path in paths:
        assert any(e.startswith(f"{path}: ") for e in errors), f"{path} missing in {errors}"


def test_a_shape_error_causes_no_follow_on_relation_error() -> None:
    """A variant name that fails its pattern is not then reported as an unknown reference."""
    raw = with_key(canary(), f"{EP}.variants[1].name", "cand_idate")
    errors = plan_errors(raw)
    assert [e.split(":")[0] for e in errors] == [f"{EP}.variants[1].name"], errors


# (id, config) that SageMaker, CloudWatch and Pulumi accept
ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    ("p100", with_key(canary(), f"{EP}.alarms.custom", custom(statistic="p100"))),
    ("p99.9", with_key(canary(), f"{EP}.alarms.custom", custom(statistic="p99.9"))),
    ("p0", with_key(canary(), f"{EP}.alarms.custom", custom(statistic="p0"))),
    ("tm90", with_key(canary(), f"{EP}.alarms.custom", custom(statistic="tm90"))),
    ("TM(10%:90%)", with_key(canary(), f"{EP}.alarms.custom", custom(statistic="TM(10%:90%)"))),
    ("wm(:95%)", with_key(canary(), f"{EP}.alarms.custom", custom(statistic="wm(:95%)"))),
    ("PR(:300)", with_key(canary(), f"{EP}.alarms.custom", custom(statistic="PR(:300)"))),
    ("IQM", with_key(canary(), f"{EP}.alarms.custom", custom(statistic="IQM"))),
    ("environment number", with_key(canary(), f"{EP}.models.v1.environment", {"WORKERS": 2})),
    ("environment float", with_key(canary(), f"{EP}.models.v1.environment", {"RATIO": 0.5})),
    ("environment bool", with_key(canary(), f"{EP}.models.v1.environment", {"DEBUG": True})),
    ("environment _KEY", with_key(canary(), f"{EP}.models.v1.environment", {"_X1": "y"})),
    ("tag number", with_key(canary(), "tags.cost-center", 1234)),
    ("tag with spaces and @", with_key(canary(), "tags.owner", "Ana Lopez @ml")),
    ("volume_kms off (YAML boolean)", with_key(canary(), f"{EP}.volume_kms", False)),
    ("volume_kms on (YAML boolean)", with_key(canary(), f"{EP}.volume_kms", True)),
    ("threshold as a string", with_key(canary(), f"{EP}.alarms.custom", custom(threshold="0.02"))),
    ("integral float count", with_key(canary(), f"{EP}.variants[0].instance_count", 2.0)),
    ("variant name 2024", with_key(canary(), f"{EP}.variants[0].name", 2024) | {}),
    (
        "46 stack tags",
        canary() | {"tags": {f"t{i}": "v" for i in range(46)}},
    ),
    (
        "blue/green timeout 14400",
        single({"blue_green": {"max_execution_timeout_seconds": 14400}}),
    ),
    (
        "alarm window of exactly a day",
        with_key(
            canary(), f"{EP}.alarms.custom", custom(period_seconds=60, evaluation_periods=1440)
        ),
    ),
    ("data capture at 0%", with_key(canary(), f"{EP}.data_capture.sampling_percent", 0)),
    (
        "secret model_data_url offline",
        with_key(canary(), f"{EP}.models.v1.model_data_url", "[secret]"),
    ),
]
# The variant renamed to 2024 must be renamed in the canary's reference too.
ACCEPTED = [
    (i, with_key(c, f"{CAN}.stable", "2024") if i == "variant name 2024" else c)
    for i, c in ACCEPTED
]


@pytest.mark.parametrize("raw", [c[1] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED])
def test_what_aws_and_pulumi_accept_is_accepted(raw: dict[str, Any]) -> None:
    assert plan_errors(raw) == []


def test_numbers_in_string_maps_reach_the_plan_as_the_provider_sends_them() -> None:
    raw = with_key(canary(), f"{EP}.models.v1.environment", {"W": 2, "R": 0.5, "D": True})
    plan = build_plan(load_config(raw), project="p", stack="s")
    env = dict(plan.endpoints[0].models[0].environment)
    assert env == {"W": "2", "R": "0.5", "D": "true"}


BAD_MESSAGES: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "misspelt custom alarm key",
        with_key(
            canary(),
            f"{EP}.alarms.custom",
            [{"key": "d", "namespace": "A", "metric_name": "m", "threshold": 1}],
        ),
        f"{EP}.alarms.custom[0].metric_name",
        "did you mean 'metric'?",
    ),
    (
        "misspelt top-level key",
        canary() | {"endpoint": {}},
        "endpoint",
        "did you mean sagemaker-rollouts:endpoints?",
    ),
    (
        "strategy as a string",
        with_key(canary(), f"{EP}.strategy", "canary"),
        f"{EP}.strategy",
        "must be a mapping of keys to values, got 'canary'",
    ),
    (
        "variants too long",
        with_key(
            canary(),
            f"{EP}.variants",
            [{"name": f"v{i}", "model": "v1", "instance_type": "ml.m5.large"} for i in range(11)],
        ),
        f"{EP}.variants",
        "must have at most 10 items, got 11",
    ),
    (
        "instance type typo",
        with_key(canary(), f"{EP}.variants[0].instance_type", "ml.m5.lage"),
        f"{EP}.variants[0].instance_type",
        "did you mean ml.m5.large?",
    ),
]


@pytest.mark.parametrize(
    ("raw", "path", "fragment"), [c[1:] for c in BAD_MESSAGES], ids=[c[0] for c in BAD_MESSAGES]
)
def test_messages_say_what_is_allowed_in_words(
    raw: dict[str, Any], path: str, fragment: str
) -> None:
    errors = plan_errors(raw)
    matching = [e for e in errors if e.startswith(f"{path}: ")]
    assert any(fragment in e for e in matching), errors


# Every failing config in this file: no message shows a regex, a class name or a whole list.
ALL_BAD = [c[1] for c in AWS_LIMITS + BAD_MESSAGES] + [c[1] for c in ALL_AT_ONCE]


@pytest.mark.parametrize("raw", ALL_BAD)
def test_no_message_shows_regexes_class_names_or_dumps(raw: dict[str, Any]) -> None:
    for e in plan_errors(raw):
        assert "should match pattern" not in e and "(-*[" not in e and "^[" not in e, e
        assert "instance of" not in e and "Config" not in e.split(":", 1)[1], e
        assert "[{" not in e and len(e) < 600, e


def test_framework_version_errors_name_framework_version() -> None:
    raw = with_key(canary(), f"{EP}.models.v1.image", DELETE)
    raw = with_key(raw, f"{EP}.models.v1.framework", "xgboost")
    raw = with_key(raw, f"{EP}.models.v1.framework_version", "0.0.1-nope")
    errors = plan_errors(raw)
    assert any(e.startswith(f"{EP}.models.v1.framework_version: ") for e in errors), errors
