"""Malformed stack configs: every problem named by its key path, all at once, before anything runs."""

from __future__ import annotations

from typing import Any

import pytest

from sagemaker_rollouts.simulator.mockrun import run_offline
from sagemaker_rollouts.strategies.config import ConfigError, load_config
from sagemaker_rollouts.strategies.planner import build_plan
from tests.plan_fixtures import rollout_of
from tests.stackdata import DELETE, canary, single, two, with_key

EP = "endpoints.fraud"
CAN = f"{EP}.strategy.canary"


def bg(**routing: Any) -> dict[str, Any]:
    return {"blue_green": {"traffic_routing": routing}}


# (id, config, expected key path, a fragment of the message)
CASES: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "step over 100",
        with_key(canary(), f"{CAN}.steps[2]", 120),
        f"{CAN}.steps[2]",
        "must be 1..100 and increasing, got 120",
    ),
    (
        "steps not increasing",
        with_key(canary(), f"{CAN}.steps", [10, 5]),
        f"{CAN}.steps[1]",
        "increasing, got 5",
    ),
    ("step zero", with_key(canary(), f"{CAN}.steps", [0, 50]), f"{CAN}.steps[0]", "must be 1..100"),
    ("no steps", with_key(canary(), f"{CAN}.steps", []), f"{CAN}.steps", "at least 1 item"),
    (
        "step not a number",
        with_key(canary(), f"{CAN}.steps[0]", "five"),
        f"{CAN}.steps[0]",
        "got 'five'",
    ),
    (
        "negative bake",
        with_key(canary(), f"{CAN}.bake_seconds", -1),
        f"{CAN}.bake_seconds",
        "must be >= 0, got -1",
    ),
    (
        "candidate unknown",
        with_key(canary(), f"{CAN}.candidate", "green"),
        f"{CAN}.candidate",
        "must name one of the variants (stable, candidate), got 'green'",
    ),
    (
        "candidate is stable",
        with_key(canary(), f"{CAN}.candidate", "stable"),
        f"{CAN}.candidate",
        "must differ from stable",
    ),
    (
        "attempt zero",
        with_key(canary(), f"{CAN}.attempt", 0),
        f"{CAN}.attempt",
        "must be >= 1, got 0",
    ),
    (
        "two strategies",
        with_key(canary(), f"{EP}.strategy.ab", {"weights": {"stable": 1, "candidate": 1}}),
        f"{EP}.strategy",
        "set exactly one of recreate, shadow, canary, ab, blue_green, rolling, got canary, ab",
    ),
    ("no strategy", with_key(canary(), f"{EP}.strategy", {}), f"{EP}.strategy", "got none"),
    (
        "unknown strategy",
        with_key(canary(), f"{EP}.strategy", {"linear": {}}),
        f"{EP}.strategy.linear",
        "unknown key",
    ),
    ("typo in key", with_key(canary(), f"{CAN}.bake_secs", 60), f"{CAN}.bake_secs", "unknown key"),
    (
        "bad instance type",
        with_key(canary(), f"{EP}.variants[1].instance_type", "m5.large"),
        f"{EP}.variants[1].instance_type",
        "not a SageMaker hosting instance type, got 'm5.large'",
    ),
    (
        "zero instances",
        with_key(canary(), f"{EP}.variants[0].instance_count", 0),
        f"{EP}.variants[0].instance_count",
        "must be >= 1, got 0",
    ),
    (
        "variant model unknown",
        with_key(canary(), f"{EP}.variants[0].model", "v9"),
        f"{EP}.variants[0].model",
        "must be one of the endpoint's models (v1, v2), got 'v9'",
    ),
    (
        "duplicate variant",
        with_key(canary(), f"{EP}.variants[1].name", "stable"),
        f"{EP}.variants[1].name",
        "must be unique",
    ),
    (
        "bad variant name",
        with_key(canary(), f"{EP}.variants[0].name", "stable_v1"),
        f"{EP}.variants[0].name",
        "must be letters, digits and hyphens, starting and ending with a letter or digit",
    ),
    (
        "endpoint name too long",
        with_key(canary(), f"{EP}.endpoint_name", "x" * 64),
        f"{EP}.endpoint_name",
        "must have at most 63 characters, got 64",
    ),
    (
        "image and framework",
        with_key(canary(), f"{EP}.models.v1.framework", "xgboost"),
        f"{EP}.models.v1",
        "exactly one of image or framework",
    ),
    (
        "bad model data url",
        with_key(canary(), f"{EP}.models.v2.model_data_url", "https://x/y.tar.gz"),
        f"{EP}.models.v2.model_data_url",
        "must be an s3://BUCKET/KEY URL",
    ),
    (
        "bad role arn",
        with_key(canary(), f"{EP}.models.v2.execution_role_arn", "my-role"),
        f"{EP}.models.v2.execution_role_arn",
        "must have at least 20 characters, got 7",
    ),
    (
        "unknown framework",
        with_key(
            with_key(
                with_key(canary(), f"{EP}.models.v1.image", DELETE),
                f"{EP}.models.v1.framework",
                "nosuchframework",
            ),
            f"{EP}.models.v1.framework_version",
            "1.0",
        ),
        f"{EP}.models.v1.framework",
        "unknown framework 'nosuchframework'; known frameworks include: ",
    ),
    (
        "framework without version",
        with_key(
            with_key(canary(), f"{EP}.models.v1.image", DELETE),
            f"{EP}.models.v1.framework",
            "xgboost",
        ),
        f"{EP}.models.v1.framework_version",
        "required with framework",
    ),
    (
        "sampling over 100",
        with_key(canary(), f"{EP}.data_capture", {"sampling_percent": 150}),
        f"{EP}.data_capture.sampling_percent",
        "must be 0..100, got 150",
    ),
    (
        "alarm period",
        with_key(canary(), f"{EP}.alarms.errors_5xx", {"threshold": 1, "period_seconds": 45}),
        f"{EP}.alarms.errors_5xx.period_seconds",
        "10, 20, 30 or a multiple of 60",
    ),
    (
        "datapoints over periods",
        with_key(
            canary(),
            f"{EP}.alarms.latency_p99",
            {"threshold": 100, "evaluation_periods": 2, "datapoints_to_alarm": 3},
        ),
        f"{EP}.alarms.latency_p99.datapoints_to_alarm",
        "must be 1..evaluation_periods (2), got 3",
    ),
    (
        "custom alarm statistic",
        with_key(
            canary(),
            f"{EP}.alarms.custom",
            [
                {
                    "key": "drift",
                    "namespace": "X",
                    "metric": "psi",
                    "threshold": 0.2,
                    "statistic": "Median",
                }
            ],
        ),
        f"{EP}.alarms.custom[0].statistic",
        "got 'Median'",
    ),
    (
        "custom alarm missing",
        with_key(
            canary(), f"{EP}.alarms.custom", [{"key": "drift", "metric": "psi", "threshold": 0.2}]
        ),
        f"{EP}.alarms.custom[0].namespace",
        "required key is missing",
    ),
    (
        "treat missing data",
        with_key(
            canary(), f"{EP}.alarms.errors_5xx", {"threshold": 1, "treat_missing_data": "zero"}
        ),
        f"{EP}.alarms.errors_5xx.treat_missing_data",
        "'breaching', 'notBreaching', 'ignore' or 'missing'",
    ),
    (
        "no gate alarm for canary",
        with_key(
            with_key(
                with_key(canary(), f"{EP}.alarms.errors_5xx", {"enabled": False, "threshold": 1}),
                f"{EP}.alarms.latency_p99",
                {"enabled": False, "threshold": 1},
            ),
            f"{EP}.alarms.errors_4xx",
            {"enabled": False, "threshold": 1},
        ),
        f"{EP}.alarms",
        "a canary needs at least one gate alarm",
    ),
    (
        "ab negative weight",
        two({"ab": {"weights": {"stable": 100, "candidate": -5}}}),
        f"{EP}.strategy.ab.weights.candidate",
        "must be >= 0 (0 is a dark variant), got -5",
    ),
    (
        "ab all zero",
        two({"ab": {"weights": {"stable": 0, "candidate": 0}}}),
        f"{EP}.strategy.ab.weights",
        "at least one weight must be positive",
    ),
    (
        "ab weight missing",
        two({"ab": {"weights": {"stable": 100, "x": 0}}}),
        f"{EP}.strategy.ab.weights",
        "missing a weight for variant 'candidate'",
    ),
    (
        "shadow same variant",
        two({"shadow": {"production": "stable", "shadow": "stable"}}),
        f"{EP}.strategy.shadow.shadow",
        "must differ from production",
    ),
    (
        "shadow capture off",
        with_key(
            two({"shadow": {"production": "stable", "shadow": "candidate"}}),
            f"{EP}.data_capture",
            {"enabled": False},
        ),
        f"{EP}.data_capture.enabled",
        "it must be on",
    ),
    (
        "recreate two variants",
        two({"recreate": {}}),
        f"{EP}.variants",
        "recreate needs exactly one variant",
    ),
    (
        "rolling two variants",
        two({"rolling": {"maximum_batch_size": {"value": 25}}}),
        f"{EP}.variants",
        "SageMaker rejects rolling updates on multi-variant endpoints",
    ),
    (
        "bg canary over half",
        single(bg(type="canary", canary_size={"type": "instance_count", "value": 3})),
        "endpoints.svc.strategy.blue_green.traffic_routing.canary_size",
        "at most 50% of the variant's 4 instance(s)",
    ),
    (
        "bg canary size missing",
        single(bg(type="canary")),
        "endpoints.svc.strategy.blue_green.traffic_routing.canary_size",
        "required for canary traffic routing",
    ),
    (
        "bg linear step small",
        single(bg(type="linear", linear_step={"value": 5})),
        "endpoints.svc.strategy.blue_green.traffic_routing.linear_step",
        "must be 10..50%",
    ),
    (
        "bg wait too long",
        single(bg(wait_seconds=4000)),
        "endpoints.svc.strategy.blue_green.traffic_routing.wait_seconds",
        "must be 0..3600, got 4000",
    ),
    (
        "bg timeout range",
        single({"blue_green": {"max_execution_timeout_seconds": 300}}),
        "endpoints.svc.strategy.blue_green.max_execution_timeout_seconds",
        "must be 600..14400, got 300",
    ),
    (
        "bg timeout under waits",
        single(
            {
                "blue_green": {
                    "traffic_routing": {
                        "type": "linear",
                        "linear_step": {"value": 25},
                        "wait_seconds": 600,
                    },
                    "max_execution_timeout_seconds": 1200,
                }
            }
        ),
        "endpoints.svc.strategy.blue_green.max_execution_timeout_seconds",
        "greater than the waits of the update (1800 s: 3 bake(s) of 600 s between 4 traffic "
        "step(s) + termination wait 0 s), got 1200",
    ),
    (
        "bg termination wait",
        single({"blue_green": {"termination_wait_seconds": 7200}}),
        "endpoints.svc.strategy.blue_green.termination_wait_seconds",
        "must be 0..3600, got 7200",
    ),
    (
        "rolling batch too big",
        single({"rolling": {"maximum_batch_size": {"value": 80}}}),
        "endpoints.svc.strategy.rolling.maximum_batch_size",
        "must be 5..50 capacity_percent, got 80",
    ),
    (
        "rolling batch instances",
        single({"rolling": {"maximum_batch_size": {"type": "instance_count", "value": 3}}}),
        "endpoints.svc.strategy.rolling.maximum_batch_size",
        "must be 1..2 instances",
    ),
    ("no endpoints", {"endpoints": {}}, "endpoints", "at least 1 endpoint, got none"),
    ("unknown top key", {**canary(), "endpoint": {}}, "endpoint", "unknown key"),
    (
        "bad key as endpoint name",
        {"endpoints": {"fraud_model": canary()["endpoints"]["fraud"] | {"endpoint_name": None}}},
        "endpoints.fraud_model",
        "must be 1..63 letters, digits and hyphens",
    ),
    (
        "duplicate endpoint names",
        {"endpoints": {"a": canary()["endpoints"]["fraud"], "b": canary()["endpoints"]["fraud"]}},
        "endpoints.b.endpoint_name",
        "'fraud-detector' is also the name of endpoints.a",
    ),
]
CASES += [
    (
        "bg no gate alarms",
        with_key(
            with_key(
                single({"blue_green": {}}),
                "endpoints.svc.alarms.errors_5xx",
                {"enabled": False, "threshold": 1},
            ),
            "endpoints.svc.alarms.latency_p99",
            {"enabled": False, "threshold": 1},
        ),
        "endpoints.svc.alarms",
        "blue_green needs 1..10 auto-rollback alarms",
    ),
]


def errors_of(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config = load_config(raw)
        build_plan(config, project="sagemaker-rollouts", stack="test")
    return info.value.errors


@pytest.mark.parametrize(
    ("raw", "path", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_malformed_config_names_its_key_path_and_declares_nothing(
    raw: dict[str, Any], path: str, fragment: str
) -> None:
    """The real program under Pulumi's mocks: the error names the key and no resource exists."""
    run = run_offline(config={f"sagemaker-rollouts:{k}": v for k, v in raw.items()}, stack="bad")
    assert isinstance(run.error, ConfigError), run.error
    assert run.resources == [], [r.name for r in run.resources]
    errors = run.error.errors
    assert errors == errors_of(raw)  # the program reports exactly what the validator finds
    matching = [e for e in errors if e.startswith(f"{path}: ")]
    assert matching, f"no error for {path!r} in {errors}"
    assert any(fragment in e for e in matching), f"{fragment!r} not in {matching}"


def test_at_least_thirty_malformed_configs_are_covered() -> None:
    assert len(CASES) >= 30


def test_every_problem_is_reported_at_once_across_endpoints() -> None:
    raw = canary()
    raw = with_key(raw, f"{CAN}.steps[2]", 120)
    raw = with_key(raw, f"{EP}.variants[0].instance_type", "ml.nope")
    raw["endpoints"]["other"] = {"models": {}, "variants": [], "strategy": {"recreate": {}}}
    errors = errors_of(raw)
    assert f"{CAN}.steps[2]: must be 1..100 and increasing, got 120" in errors
    assert any(e.startswith(f"{EP}.variants[0].instance_type:") for e in errors)
    assert any(e.startswith("endpoints.other.models:") for e in errors)
    assert any(e.startswith("endpoints.other.variants:") for e in errors)


def test_string_numbers_from_pulumi_config_set_are_accepted() -> None:
    """`pulumi config set --path` may store numbers as strings; they mean the same."""
    raw = with_key(canary(), f"{EP}.variants[0].instance_count", "3")
    raw = with_key(raw, f"{CAN}.steps", ["10", "50"])
    config = load_config(raw)
    plan = build_plan(config, project="p", stack="s")
    assert plan.endpoints[0].production_variants[0].instance_count == 3
    assert [s.candidate_percent for s in rollout_of(plan.endpoints[0]).steps] == [10, 50, 100]


@pytest.mark.parametrize(
    ("field", "written", "offered"),
    [
        ("framework_version", "1.10", ['"1.1"', '"1.10"']),
        ("framework_version", "2.0", ['"2"', '"2.0"']),  # the Pulumi CLI hands on 2
        ("framework_version", "2", ['"2"', '"2.0"']),
        ("py_version", "3", ['"3"', '"3.0"']),
    ],
    ids=["trailing-zero-lost", "float-two", "whole-number", "py-version"],
)
def test_a_version_written_as_a_number_offers_what_the_user_may_have_written(
    field: str, written: str, offered: list[str]
) -> None:
    """YAML reads `framework_version: 1.10` as 1.1: the value no longer says what was written,
    so the advice offers every spelling it may have come from, never only the wrong one."""
    from sagemaker_rollouts.strategies.stackfile import read_stack_yaml

    raw = canary()
    model = raw["endpoints"]["fraud"]["models"]["v1"]
    del model["image"]
    value = read_stack_yaml(f"v: {written}\n").data["v"]
    model.update({"framework": "xgboost", "framework_version": "1.7-1", field: value})
    (line,) = [e for e in errors_of(raw) if e.startswith(f"{EP}.models.v1.{field}:")]
    assert "must be a string" in line and "quote it" in line
    quoted = line.split("quote it", 1)[1]
    assert [q for q in offered if q in quoted] == offered, line


@pytest.mark.parametrize(
    ("key", "flagged"),
    [
        ("sagemaker-rolouts:endpoints", True),
        ("sagemaker_rollouts:tags", True),
        ("Sagemaker-Rollouts:endpoints", True),
        ("sagemaker-rollouts:endpoints", False),  # ours
        ("aws:region", False),
        ("pulumi:tags", False),
        ("fraud-platform:candidate_model", False),
        ("endpoints", False),  # no namespace: the project's, as Pulumi reads it
    ],
)
def test_a_key_under_an_almost_matching_namespace_is_reported_not_dropped(
    key: str, flagged: bool
) -> None:
    from sagemaker_rollouts.strategies.config_load import misspelt_project_keys, project_config

    assert misspelt_project_keys([key]) == ([key] if flagged else [])
    ours, _ = project_config({"config": {key: {}, "sagemaker-rollouts:endpoints": {}}})
    if flagged:
        (line,) = [e for e in errors_of(ours) if e.startswith(f"{key}: ")]
        assert "unknown namespace" in line and "did you mean sagemaker-rollouts:" in line


# IAM role names as pydantic-core's regex engine reads `^[\w+=,.@-]{1,64}$`: Unicode word
# characters (combining marks too), 1..64 characters, nothing after the last one.
@pytest.mark.parametrize(
    ("role_name", "accepted"),
    [
        ("a", True),
        ("a" * 64, True),
        ("é" * 64, True),
        ("r+=,.@-_", True),
        ("a\u0301", True),
        ("", False),
        ("a" * 65, False),
        ("é" * 65, False),
        ("a" * 64 + "\n", False),
        ("role\n", False),
        ("role name", False),
        ("r/o", False),
        ("½", False),
    ],
)
def test_ci_role_name_follows_the_iam_pattern(role_name: str, accepted: bool) -> None:
    raw = {**canary(), "ci_role": {"github_repository": "acme/models", "role_name": role_name}}
    if accepted:
        assert load_config(raw).ci_role is not None
    else:
        assert errors_of(raw) == [
            f"ci_role.role_name: does not have the expected form, got {role_name!r}"
        ]


# ----------------------------------------------------------------------------- the AWS Region

# The AWS provider refuses, when it configures itself, a Region aws-sdk-go-base's
# `validation.SupportedRegion` does not list ("Invalid AWS Region"), unless
# `skip_region_validation` (terraform-provider-aws internal/conns/config.go). These tables check
# that each entry point says so first, as a config error naming the key, with every other problem.
BAD_STEP = with_key(canary(), f"{CAN}.steps[2]", 120)
STEP_ERROR = f"{CAN}.steps[2]: must be 1..100 and increasing, got 120"

# (id, aws:* config, the region error's key path or None, a fragment of it)
REGION_CASES: list[tuple[str, dict[str, Any], str | None, str]] = [
    ("unknown region", {"aws:region": "us-east-9"}, "aws:region", "'us-east-9' is not an AWS"),
    ("typo", {"aws:region": "eu-wst-1"}, "aws:region", "did you mean eu-west-1?"),
    ("upper case", {"aws:region": "US-EAST-1"}, "aws:region", "allowed: aws: af-south-1"),
    ("lists every partition", {"aws:region": "moon-1"}, "aws:region", "aws-us-gov: us-gov-east-1"),
    ("a known region", {"aws:region": "ap-southeast-7"}, None, ""),
    ("another partition", {"aws:region": "cn-northwest-1"}, None, ""),
    (
        "skipped as the provider skips it",
        {"aws:region": "us-east-9", "aws:skipRegionValidation": True},
        None,
        "",
    ),
    (
        "skip as pulumi config set stores it",
        {"aws:region": "us-east-9", "aws:skipRegionValidation": "true"},
        None,
        "",
    ),
    (
        "skip not a boolean",
        {"aws:region": "us-east-1", "aws:skipRegionValidation": "yes"},
        "aws:skipRegionValidation",
        "must be true or false, got 'yes'",
    ),
    (
        # `pulumi up` decrypts it (and then skips or checks); offline it is unknown, so neither
        # the skip nor the Region it guards can be judged
        "secret skip",
        {"aws:region": "us-east-9", "aws:skipRegionValidation": {"secure": "v1:c2tpcA=="}},
        None,
        "",
    ),
    (
        "secret region",
        {"aws:region": {"secure": "v1:cmVnaW9u"}},
        None,
        "",
    ),
    (
        "skip false still checks",
        {"aws:region": "us-east-9", "aws:skipRegionValidation": "false"},
        "aws:region",
        "'us-east-9'",
    ),
]


def region_errors(errors: list[str]) -> list[str]:
    return [e for e in errors if e.startswith(("aws:", "region:"))]


def expect_region(errors: list[str], path: str | None, fragment: str, key: str = "") -> None:
    found = region_errors(errors)
    if path is None:
        assert found == [], found
        return
    (line,) = found
    assert line.startswith(f"{key or path}: ") and fragment in line, line


@pytest.mark.parametrize(
    ("aws", "path", "fragment"), [c[1:] for c in REGION_CASES], ids=[c[0] for c in REGION_CASES]
)
def test_a_region_the_provider_refuses_is_a_config_error_with_every_other_problem_in_the_program(
    aws: dict[str, Any], path: str | None, fragment: str
) -> None:
    """`pulumi up` (the project's program under mocks): the Region's line comes with the bad
    step's, and nothing is declared."""
    config = {**aws, **{f"sagemaker-rollouts:{k}": v for k, v in BAD_STEP.items()}}
    run = run_offline(config=config, stack="bad")
    assert isinstance(run.error, ConfigError), run.error
    assert run.resources == []
    assert STEP_ERROR in run.error.errors
    expect_region(run.error.errors, path, fragment)
    if path is None:  # and a good config with that Region runs
        good = run_offline(
            config={**aws, **{f"sagemaker-rollouts:{k}": v for k, v in canary().items()}},
            stack="good",
        )
        assert good.error is None, good.error


@pytest.mark.parametrize(
    ("aws", "path", "fragment"), [c[1:] for c in REGION_CASES], ids=[c[0] for c in REGION_CASES]
)
def test_rollout_plan_reports_the_region_as_the_program_does(
    aws: dict[str, Any], path: str | None, fragment: str, tmp_path: Any
) -> None:
    """The stack file through `rollout plan` (the CLI's stack loader): same lines, exit 2."""
    import yaml

    from sagemaker_rollouts.cli.main import main

    config = {**aws, **{f"sagemaker-rollouts:{k}": v for k, v in BAD_STEP.items()}}
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump({"config": config}))
    program = run_offline(config=config, stack="dev")
    assert isinstance(program.error, ConfigError)
    from sagemaker_rollouts.cli.errors import UsageError
    from sagemaker_rollouts.cli.stack import load_stack

    with pytest.raises(UsageError) as caught:
        load_stack(tmp_path, "dev")
    lines = [line.strip() for line in caught.value.lines[1:]]
    assert lines == program.error.errors
    expect_region(lines, path, fragment)
    assert main(["plan", "--stack", "dev", "--dir", str(tmp_path)]) == 2


COMPONENT_ARGS: dict[str, Any] = {
    "endpoint_name": "fraud-detector",
    **{k: v for k, v in canary()["endpoints"]["fraud"].items() if k != "endpoint_name"},
}


# Every region case as `aws:region` config and as the `region` argument, except a secret region:
# as an argument it is an Output (test_a_region_argument_of_another_type covers that).
COMPONENT_REGION_CASES = [
    pytest.param(aws, path, fragment, given, id=f"{name}-{given}")
    for name, aws, path, fragment in REGION_CASES
    for given in ("aws:region config", "region argument")
    if not (given == "region argument" and isinstance(aws.get("aws:region"), dict))
]


@pytest.mark.parametrize(("aws", "path", "fragment", "given"), COMPONENT_REGION_CASES)
@pytest.mark.parametrize("component", ["python", "multilang"])
def test_a_components_region_is_checked_as_the_stacks_naming_where_it_came_from(
    aws: dict[str, Any], path: str | None, fragment: str, given: str, component: str
) -> None:
    """`RolloutEndpoint` (Python, and the multi-language component other languages use): the
    `region` argument (named `region`) or else `aws:region`; the `aws:skipRegionValidation`
    config skips either. With a bad step: both lines, nothing declared."""
    from sagemaker_rollouts import RolloutEndpoint
    from sagemaker_rollouts.infra import multilang
    from sagemaker_rollouts.simulator.mockrun import run_function_offline

    make: Any = RolloutEndpoint if component == "python" else multilang.RolloutEndpoint

    args = with_key({"a": COMPONENT_ARGS}, "a.strategy.canary.steps[1]", 120)["a"]
    config = dict(aws)
    key = ""
    if given == "region argument":
        args["region"] = config.pop("aws:region")
        config["aws:region"] = "us-east-1"  # the provider's own is fine
        key = "region" if path == "aws:region" else ""
    run = run_function_offline(
        lambda: make("fraud", args), stack="dev", project="platform", config=config
    )
    assert isinstance(run.error, ConfigError), run.error
    assert run.resources == []
    assert "strategy.canary.steps[1]: must be 1..100 and increasing, got 120" in run.error.errors
    expect_region(run.error.errors, path, fragment, key)


@pytest.mark.parametrize(
    ("region", "says"),
    [
        (5, "region: must be a string, got 5"),
        (["us-east-1"], "region: must be a string, got a list of 1"),
        ("output", "region: a pulumi Output is unknown until deployment"),
    ],
    ids=["number", "list", "output"],
)
@pytest.mark.parametrize("alone", [True, False], ids=["alone", "with a bad step"])
@pytest.mark.parametrize("component", ["python", "multilang"])
def test_a_region_argument_of_another_type_is_a_config_error_with_every_other_problem(
    region: Any, says: str, component: str, alone: bool
) -> None:
    """Not pydantic's own error with a traceback: the `region` line and the bad step's, nothing
    declared. An Output (unknown until deployment) names where it may not be used; the
    multi-language component says so in its own words (its inputs arrive resolved)."""
    import pulumi

    from sagemaker_rollouts import RolloutEndpoint
    from sagemaker_rollouts.infra import multilang
    from sagemaker_rollouts.simulator.mockrun import run_function_offline

    make: Any = RolloutEndpoint if component == "python" else multilang.RolloutEndpoint
    unknown_first = region == "output" and component == "multilang"
    if unknown_first:  # `multilang.to_args` refuses unknown inputs before the rules run
        says = "region: must be known when the program starts"
    args = (
        dict(COMPONENT_ARGS)
        if alone
        else with_key({"a": COMPONENT_ARGS}, "a.strategy.canary.steps[1]", 120)["a"]
    )

    def program() -> None:
        given = pulumi.Output.secret("us-east-1") if region == "output" else region
        make("fraud", {**args, "region": given})

    run = run_function_offline(program, stack="dev", project="platform", config={})
    assert isinstance(run.error, ConfigError) and isinstance(run.error, pulumi.RunError), repr(
        run.error
    )
    assert run.resources == []
    step = "strategy.canary.steps[1]: must be 1..100 and increasing, got 120"
    assert alone or unknown_first or step in run.error.errors
    (line,) = [e for e in run.error.errors if e.startswith("region: ")]
    assert line.startswith(says), line
