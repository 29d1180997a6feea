"""Every way from a config to resources gives the same answer for the same config.

The entry points: the pure pipeline (`strategies.pipeline.validate_stack`), the project program
run under recording mocks (`simulator.mockrun.run_offline`, what `pulumi up` runs), the CLI's stack
loader (`rollout plan` / `rehearse`), `RolloutEndpoint` with a mapping, with the typed
`RolloutEndpointArgs(...)`, and the multi-language component. A stack file names key paths
`endpoints.<key>.x`; a component's args name them `x`; otherwise the lines must be equal.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from sagemaker_rollouts import RolloutEndpoint, RolloutEndpointArgs
from sagemaker_rollouts.cli.errors import UsageError
from sagemaker_rollouts.cli.stack import load_stack
from sagemaker_rollouts.infra import multilang
from sagemaker_rollouts.simulator.mockrun import OfflineRun, run_function_offline, run_offline
from sagemaker_rollouts.strategies.config_errors import ConfigError
from sagemaker_rollouts.strategies.pipeline import Origin, validate_stack

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
NAME = "fraud"

GOOD: dict[str, Any] = {
    "models": {"v1": {"image": IMAGE}, "v2": {"image": IMAGE}},
    "variants": [
        {"name": "stable", "model": "v1", "instance_type": "ml.m5.large", "instance_count": 2},
        {"name": "candidate", "model": "v2", "instance_type": "ml.m5.large", "instance_count": 2},
    ],
    "strategy": {"canary": {"stable": "stable", "candidate": "candidate", "steps": [10, 50]}},
}


def edited(*edits: tuple[tuple[Any, ...], Any]) -> dict[str, Any]:
    """GOOD with each (key path, value) set; value `...` deletes the key."""
    cfg = copy.deepcopy(GOOD)
    for path, value in edits:
        node: Any = cfg
        for part in path[:-1]:
            node = node[part]
        if value is ...:
            del node[path[-1]]
        else:
            node[path[-1]] = value
    return cfg


# (id, config, expected problems in args terms: each a substring of one line, all lines covered)
BAD = [
    (
        "shape and relation errors together",
        edited(
            (("variants", 1, "instance_typ"), "ml.m5.large"),
            (("variants", 1, "instance_type"), ...),
            (("strategy", "canary", "steps"), [25, 5, 50]),
            (("variants", 0, "instance_type"), "ml.m5.lage"),
        ),
        [
            "variants[1].instance_typ: unknown key; did you mean 'instance_type'?",
            "variants[1].instance_type: required key is missing",
            "strategy.canary.steps[1]: must be 1..100 and increasing, got 5",
            "variants[0].instance_type: not a SageMaker hosting instance type, got 'ml.m5.lage' "
            "(did you mean ml.m5.large?)",
        ],
    ),
    (
        "unknown strategy variant and bad count",
        edited(
            (("strategy", "canary", "stable"), "stabel"),
            (("variants", 0, "instance_count"), True),
        ),
        [
            "variants[0].instance_count: must be a whole number, got true",
            "strategy.canary.stable: must name one of the variants (stable, candidate), got 'stabel'",
        ],
    ),
    (
        "two strategies",
        edited((("strategy", "rolling"), {"maximum_batch_size": {"value": 10}})),
        ["strategy: set exactly one of recreate, shadow, canary, ab, blue_green, rolling"],
    ),
]

GOOD_WITH_WARNINGS = [
    (
        "capture on at 0 percent",
        edited((("data_capture",), {"sampling_percent": 0})),
        ["data_capture.sampling_percent: 0% captures nothing while data capture is on"],
    ),
    (
        "own capture bucket without the stack key",
        edited(
            (("data_capture",), {"destination_s3_uri": "s3://platform-capture/ml", "kms": False})
        ),
        ["data_capture.kms: false with your own destination_s3_uri: captures get that bucket's"],
    ),
    (
        "candidate too small for the last step",
        edited(
            (("variants", 1, "instance_count"), 1), (("strategy", "canary", "steps"), [10, 100])
        ),
        ["strategy.canary.steps: at the last step (100%) the candidate's 1 instance(s)"],
    ),
    ("no warnings", GOOD, []),
]


def relative(lines: Any) -> list[str]:
    return Origin("component", NAME).relative(str(line).strip() for line in lines)


def offline(program: Callable[[], None]) -> OfflineRun:
    return run_function_offline(program, project="sagemaker-rollouts", stack="dev")


def via_pipeline(cfg: dict[str, Any], tmp: Path) -> tuple[list[str] | None, list[str]]:
    try:
        v = validate_stack({"endpoints": {NAME: cfg}}, region="us-east-1", project="p", stack="dev")
    except ConfigError as exc:
        return relative(exc.errors), []
    return None, relative(v.warnings)


def via_program(cfg: dict[str, Any], tmp: Path) -> tuple[list[str] | None, list[str]]:
    result = run_offline(config={"sagemaker-rollouts:endpoints": {NAME: cfg}}, stack="dev")
    if result.error is not None:
        assert isinstance(result.error, ConfigError), result.error
        assert not result.resources, "a bad config declares nothing"
        return relative(result.error.errors), []
    return None, relative(result.warnings)


def via_cli(cfg: dict[str, Any], tmp: Path) -> tuple[list[str] | None, list[str]]:
    doc = {"config": {"aws:region": "us-east-1", "sagemaker-rollouts:endpoints": {NAME: cfg}}}
    (tmp / "Pulumi.dev.yaml").write_text(yaml.safe_dump(doc))
    try:
        load_stack(tmp, "dev")
    except UsageError as exc:
        assert exc.lines[0].endswith("invalid stack config")
        return relative(exc.lines[1:]), []
    return None, None  # type: ignore[return-value]  # the CLI prints the program's warnings


def _component(make: Callable[[], object]) -> tuple[list[str] | None, list[str]]:
    def program() -> None:
        make()

    result = offline(program)
    if result.error is not None:
        assert isinstance(result.error, ConfigError), result.error
        assert not result.resources, "a bad config declares nothing"
        return [str(e) for e in result.error.errors], []
    return None, list(result.warnings)


def via_component_mapping(cfg: dict[str, Any], tmp: Path) -> tuple[list[str] | None, list[str]]:
    return _component(lambda: RolloutEndpoint(NAME, copy.deepcopy(cfg)))


def via_component_typed(cfg: dict[str, Any], tmp: Path) -> tuple[list[str] | None, list[str]]:
    return _component(lambda: RolloutEndpoint(NAME, RolloutEndpointArgs(**copy.deepcopy(cfg))))


def via_multilang(cfg: dict[str, Any], tmp: Path) -> tuple[list[str] | None, list[str]]:
    return _component(lambda: multilang.RolloutEndpoint(NAME, copy.deepcopy(cfg)))  # type: ignore[arg-type]


ENTRY_POINTS = {
    "pipeline": via_pipeline,
    "program": via_program,
    "cli": via_cli,
    "component-mapping": via_component_mapping,
    "component-typed": via_component_typed,
    "multilang": via_multilang,
}


# How an entry point names a key: the multi-language component as its schema does (camelCase
# typed inputs), since the TypeScript and YAML programs that use it write them so.
SPELLING: dict[str, Callable[[str], str]] = {"multilang": multilang.schema_line}


def spelled(entry: str, lines: list[str]) -> list[str]:
    spell = SPELLING.get(entry)
    return list(lines) if spell is None else [spell(line) for line in lines]


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize(("cfg", "expected"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_every_entry_point_reports_every_problem_in_the_same_words(
    entry: str, cfg: dict[str, Any], expected: list[str], tmp_path: Path
) -> None:
    errors, _ = ENTRY_POINTS[entry](cfg, tmp_path)
    reference, _ = via_pipeline(cfg, tmp_path)
    assert errors is not None, f"{entry} accepted a bad config"
    assert reference is not None
    assert errors == spelled(entry, reference)
    assert len(errors) == len(expected), errors
    for want in spelled(entry, expected):
        assert any(want in line for line in errors), (want, errors)


@pytest.mark.parametrize("entry", [e for e in ENTRY_POINTS if e != "cli"])
@pytest.mark.parametrize(
    ("cfg", "expected"),
    [c[1:] for c in GOOD_WITH_WARNINGS],
    ids=[c[0] for c in GOOD_WITH_WARNINGS],
)
def test_every_entry_point_shows_the_same_warnings(
    entry: str, cfg: dict[str, Any], expected: list[str], tmp_path: Path
) -> None:
    errors, warnings = ENTRY_POINTS[entry](cfg, tmp_path)
    assert errors is None, errors
    assert len(warnings) == len(expected), warnings
    for want in spelled(entry, expected):
        assert any(want in w for w in warnings), (want, warnings)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda cfg: RolloutEndpointArgs(**cfg), id="typed"),
        pytest.param(RolloutEndpointArgs.parse, id="mapping"),
        pytest.param(multilang.to_args, id="multilang"),
    ],
)
def test_an_unknown_args_key_is_a_config_error_with_did_you_mean_never_pydantic_text(
    make: Callable[[dict[str, Any]], object],
) -> None:
    cfg = edited((("kms_key",), "x"), (("strategy", "canary", "steps"), [25, 5]))
    with pytest.raises(ConfigError) as caught:
        make(cfg)
    text = str(caught.value)
    assert "errors.pydantic.dev" not in text and "Extra inputs" not in text
    assert caught.value.errors[0].startswith("kms_key: unknown key; did you mean 'kms_key_arn'?")
    # the relation error in another field is reported with the shape error
    assert "strategy.canary.steps[1]: must be 1..100 and increasing, got 5" in caught.value.errors


def test_a_bad_brought_input_is_reported_with_the_endpoints_own_problems() -> None:
    cfg = edited((("kms_key_arn",), "not-an-arn"), (("variants", 0, "instance_type"), "m5.large"))
    with pytest.raises(ConfigError) as caught:
        RolloutEndpointArgs(**cfg)
    assert [e.split(":")[0] for e in caught.value.errors] == [
        "kms_key_arn",
        "variants[0].instance_type",
    ]


TOPIC_KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"


@pytest.mark.parametrize(
    ("edits", "paths"),
    [
        (  # relation rules between brought inputs beside a malformed one
            ((("notification_topic_kms_key_arn",), TOPIC_KEY), (("execution_role_arn",), "x")),
            ["notification_topic_kms_key_arn", "execution_role_arn"],
        ),
        (
            ((("state_table_kms_key_arn",), TOPIC_KEY), (("kms_key_arn",), "alias/ml")),
            ["state_table_kms_key_arn", "kms_key_arn"],
        ),
        (
            ((("vpc_subnet_ids",), ["subnet-0123abcd"]), (("permissions_boundary_arn",), "p")),
            ["vpc_subnet_ids", "permissions_boundary_arn"],
        ),
        (  # a malformed input still counts as given: no "set notification_topic_arn too"
            (
                (("notification_topic_kms_key_arn",), TOPIC_KEY),
                (("notification_topic_arn",), "not-an-arn"),
            ),
            ["notification_topic_arn"],
        ),
    ],
    ids=["topic-key-alone", "table-key-alone", "vpc-half", "malformed-counts-as-given"],
)
def test_brought_input_rules_are_reported_with_malformed_brought_inputs(
    edits: tuple[tuple[tuple[Any, ...], Any], ...], paths: list[str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        RolloutEndpointArgs(**edited(*edits))
    assert sorted(e.split(":")[0] for e in caught.value.errors) == sorted(paths)


def test_two_components_with_one_endpoint_name_are_refused_before_the_second_declares_anything() -> (
    None
):
    def program() -> None:
        RolloutEndpoint("a", edited((("endpoint_name",), "shared-name")))
        RolloutEndpoint("b", edited((("endpoint_name",), "shared-name")))

    result = offline(program)
    assert isinstance(result.error, ConfigError)
    assert result.error.errors == [
        "endpoint_name: SageMaker endpoint name 'shared-name' is also declared by "
        "RolloutEndpoint 'a' in us-east-1; it must be unique per account and Region"
    ]
    assert not [r for r in result.resources if r.name.startswith("b")], "b declared nothing"


def test_a_component_may_not_take_a_stack_endpoints_name() -> None:
    cfg = {"sagemaker-rollouts:endpoints": {NAME: GOOD}}

    def program() -> None:
        from sagemaker_rollouts.infra.program import main

        main()
        RolloutEndpoint("other", edited((("endpoint_name",), NAME)))

    result = run_function_offline(program, config=cfg, stack="dev")
    assert isinstance(result.error, ConfigError)
    assert result.error.errors == [
        f"endpoint_name: SageMaker endpoint name {NAME!r} is also declared by "
        f"endpoints.{NAME} of stack 'dev' in us-east-1; it must be unique per account and Region"
    ]


def test_the_same_endpoint_name_in_two_regions_is_fine() -> None:
    def program() -> None:
        RolloutEndpoint("a", edited((("endpoint_name",), "n"), (("region",), "us-east-1")))
        RolloutEndpoint("b", edited((("endpoint_name",), "n"), (("region",), "eu-west-1")))

    result = offline(program)
    assert result.error is None, result.error


def test_a_new_program_run_starts_with_no_names_claimed() -> None:
    def program() -> None:
        RolloutEndpoint("a", GOOD)

    assert offline(program).error is None
    assert offline(program).error is None
