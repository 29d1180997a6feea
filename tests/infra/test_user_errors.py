"""Every error a user can cause reaches the terminal as Pulumi shows a `RunError`: message only.

The program runs the way Pulumi's Python language host runs it (`tests/langhost.py`, read from
pulumi's `pulumi-language-python-exec`): a `pulumi.RunError` prints `error: <message>`, anything
else prints "Program failed with an unhandled exception:" and a traceback. Config mistakes must
print the same `key.path: message` lines `rollout plan` prints for the same stack file.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from sagemaker_rollouts.cli.main import main as cli
from sagemaker_rollouts.infra import awareness
from sagemaker_rollouts.lambdas.rollout import RolloutOutcome
from sagemaker_rollouts.simulator.mockrun import read_stack_config
from sagemaker_rollouts.strategies.native import LiveEndpoint
from tests.langhost import UNHANDLED_EXIT, run_program

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "__main__.py"
KEY = "sagemaker-rollouts:endpoints"

Edit = Callable[[dict[str, Any]], None]


def _canary(cfg: dict[str, Any]) -> dict[str, Any]:
    return cfg[KEY]["fraud"]


def _bad_steps_and_type(cfg: dict[str, Any]) -> None:
    ep = _canary(cfg)
    ep["strategy"]["canary"]["steps"] = [25, 5]
    ep["variants"][1]["instance_type"] = "ml.m5.lage"


def _no_gate_alarms(cfg: dict[str, Any]) -> None:  # a rule that needs the planned alarms
    alarms = _canary(cfg)["alarms"]
    for key in ("errors_5xx", "latency_p99", "errors_4xx"):
        alarms[key] = {"enabled": False}


def _no_endpoints(cfg: dict[str, Any]) -> None:
    del cfg[KEY]


def _endpoints_not_a_mapping(cfg: dict[str, Any]) -> None:
    cfg[KEY] = "fraud"


def _misspelt_top_level_key(cfg: dict[str, Any]) -> None:
    cfg["sagemaker-rollouts:endpoint"] = cfg[KEY]


def _misspelt_namespace(cfg: dict[str, Any]) -> None:
    cfg["sagemaker-rolouts:endpoints"] = cfg.pop(KEY)  # Pulumi gives it to no package


def _missing_baseline(cfg: dict[str, Any]) -> None:
    _canary(cfg)["drift"] = {
        "baseline": "baselines/no-such-file.json",
        "features": [{"name": "amount"}],
    }


def _long_linear(cfg: dict[str, Any]) -> None:  # the provider gives up after an hour
    bg = cfg[KEY]["search"]["strategy"]["blue_green"]
    bg["traffic_routing"] = {
        "type": "linear",
        "linear_step": {"type": "capacity_percent", "value": 10},
        "wait_seconds": 600,
    }
    bg["termination_wait_seconds"] = 600
    bg["max_execution_timeout_seconds"] = 14400
    cfg[KEY]["search"]["variants"][0]["instance_count"] = 10


@dataclass(frozen=True, slots=True)
class ConfigCase:
    id: str
    stack: str
    edit: Edit
    expect: str  # a fragment of one of the problem lines


CONFIG_CASES = (
    ConfigCase("shape-and-relation", "canary", _bad_steps_and_type, "steps[1]"),
    ConfigCase("plan-rule", "canary", _no_gate_alarms, "gate alarm"),
    ConfigCase("no-endpoints", "canary", _no_endpoints, "endpoints:"),
    ConfigCase("endpoints-not-a-mapping", "canary", _endpoints_not_a_mapping, "endpoints:"),
    ConfigCase("misspelt-key", "canary", _misspelt_top_level_key, "endpoint"),
    ConfigCase(
        "misspelt-namespace",
        "canary",
        _misspelt_namespace,
        "sagemaker-rolouts:endpoints: unknown namespace 'sagemaker-rolouts'",
    ),
    ConfigCase("missing-baseline-file", "canary", _missing_baseline, "no-such-file.json"),
    ConfigCase(
        "deployment-outlasts-provider-wait", "bluegreen", _long_linear, "waitEndpointInService"
    ),
)


def _config(case: ConfigCase) -> dict[str, Any]:
    cfg = copy.deepcopy(read_stack_config(ROOT / f"Pulumi.{case.stack}.yaml"))
    case.edit(cfg)
    return cfg


def _rollout_plan_lines(
    case: ConfigCase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> list[str]:
    (tmp_path / f"Pulumi.{case.stack}.yaml").write_text(yaml.safe_dump({"config": _config(case)}))
    (tmp_path / "baselines").symlink_to(ROOT / "baselines")
    assert cli(["plan", "--stack", case.stack, "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err and err[0].startswith("error: "), err
    return [err[0].removeprefix("error: "), *err[1:]]


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[c.id for c in CONFIG_CASES])
def test_a_config_mistake_prints_rollout_plans_lines_without_a_traceback(
    case: ConfigCase,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)  # relative paths (drift baselines) as `pulumi up` sees them
    terminal = run_program(PROGRAM, config=_config(case), stack=case.stack)
    assert terminal.exit_code == 1 and not terminal.traceback_shown, terminal.text
    assert terminal.run.resources == []  # nothing declared
    got = terminal.error_lines()
    assert got[0] == f"Pulumi.{case.stack}.yaml: invalid stack config"
    assert any(case.expect in line for line in got[1:]), got
    monkeypatch.chdir(tmp_path)
    plan = _rollout_plan_lines(case, tmp_path, capsys)
    assert plan[0].endswith(f"Pulumi.{case.stack}.yaml: invalid stack config")
    assert got[1:] == plan[1:]  # the same problems, worded the same, in the same order


def _rolled_back_reader(rollout_id: str) -> RolloutOutcome | None:
    return RolloutOutcome(rollout_id, "rolled_back", "fraud-detector-candidate-5xx", 1.8e9, "")


def _sagemaker_rolled_back(name: str) -> LiveEndpoint | None:
    return LiveEndpoint(
        name=name,
        status="InService",
        config_name="search-embeddings-old",
        deployed_config="search-embeddings-new",
        deployed_attempt=1,
        pending_config=None,
        pending_variant_statuses=(),
        failure_reason="Alarm search-embeddings-rollback in ALARM",
        has_auto_rollback=True,
    )


@dataclass(frozen=True, slots=True)
class AwareCase:
    id: str
    stack: str
    config: dict[str, Any]
    outcomes: awareness.OutcomeReader | None
    endpoints: awareness.EndpointReader | None
    expect: str


def _aware_cases() -> list[AwareCase]:
    canary = read_stack_config(ROOT / "Pulumi.canary.yaml")
    bluegreen = read_stack_config(ROOT / "Pulumi.bluegreen.yaml")
    # The real readers, with a profile that does not exist: botocore raises ProfileNotFound, as
    # it does for a wrong `aws:profile` under `pulumi up` (no AWS call is made).
    nope = "no-such-profile-for-tests"
    adopting = copy.deepcopy(bluegreen)
    adopting[KEY]["search"]["adopt"] = True
    return [
        AwareCase(
            "adopt-a-missing-endpoint",
            "bluegreen",
            adopting,
            None,
            lambda name: None,  # DescribeEndpoint: Could not find endpoint
            "endpoints.search.adopt: no endpoint named 'search-embeddings'",
        ),
        AwareCase("rolled-back-canary", "canary", canary, _rolled_back_reader, None, "rolled back"),
        AwareCase(
            "sagemaker-rolled-back", "bluegreen", bluegreen, None, _sagemaker_rolled_back, "attempt"
        ),
        AwareCase(
            "state-table-unreadable",
            "canary",
            canary,
            awareness.dynamodb_reader("sagemaker-rollouts-canary-rollouts", "us-east-1", nope),
            None,
            nope,
        ),
        AwareCase(
            "endpoint-unreadable",
            "bluegreen",
            bluegreen,
            None,
            awareness.sagemaker_endpoint_reader("us-east-1", nope),
            nope,
        ),
    ]


@pytest.mark.parametrize("case", _aware_cases(), ids=lambda c: c.id)
def test_deploy_time_awareness_stops_with_a_message_not_a_traceback(case: AwareCase) -> None:
    terminal = run_program(
        PROGRAM,
        config=case.config,
        stack=case.stack,
        outcomes=case.outcomes,
        endpoints=case.endpoints,
    )
    assert terminal.exit_code == 1 and not terminal.traceback_shown, terminal.text
    assert case.expect in terminal.text
    assert terminal.run.resources == []


COMPONENT_PROGRAM = """
import pulumi
from sagemaker_rollouts import RolloutEndpoint

RolloutEndpoint("fraud", {args!r})
"""

_ARGS: dict[str, Any] = {
    "models": {
        "v1": {
            "image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
            "model_data_url": "s3://acme-ml-models/fraud/v1/model.tar.gz",
        }
    },
    "variants": [{"name": "main", "model": "v1", "instance_type": "ml.m5.large"}],
    "strategy": {"recreate": {}},
}


@pytest.mark.parametrize(
    ("change", "expect"),
    [
        ({"variants": [{"name": "main", "model": "v9", "instance_type": "ml.m5.large"}]}, "v9"),
        ({"kms_key_arn": "alias/ml"}, "kms_key_arn: must be a KMS key ARN"),
        ({"vpc_subnet_ids": ["subnet-0123abcd"]}, "vpc_security_group_ids"),
        ({"strategy": {"canary": {"stable": "main", "candidate": "x"}}}, "strategy.canary"),
    ],
    ids=["unknown-model", "byo-key-not-an-arn", "vpc-half-given", "canary-bad-variant"],
)
def test_a_component_args_mistake_reaches_the_user_program_as_a_message(
    change: dict[str, Any], expect: str, tmp_path: Path
) -> None:
    program = tmp_path / "__main__.py"
    program.write_text(COMPONENT_PROGRAM.format(args={**_ARGS, **change}))
    terminal = run_program(program, config={"aws:region": "us-east-1"}, stack="dev")
    assert terminal.exit_code == 1 and not terminal.traceback_shown, terminal.text
    lines = terminal.error_lines()
    assert lines[0] == "RolloutEndpoint 'fraud': invalid args"
    assert any(line.startswith("  ") and expect in line for line in lines[1:]), lines


TYPED_PROGRAM = """
from sagemaker_rollouts import RolloutEndpoint, RolloutEndpointArgs

args = RolloutEndpointArgs(**{args!r})
RolloutEndpoint("fraud", args)
"""

_TYPED_MISTAKES: dict[str, Any] = {
    "kms_key": "arn:aws:kms:us-east-1:123456789012:key/abc",  # misspelt kms_key_arn
    "data_capture": {"sampling_percent": 120},
    "models": {"v1": {**_ARGS["models"]["v1"], "framework_version": 1.10}},
}


def test_typed_args_mistakes_print_the_dict_args_lines_without_a_traceback(
    tmp_path: Path,
) -> None:
    """`RolloutEndpointArgs(...)` is built in the user's program before any component exists:
    its mistakes stop the run as a message (a RunError), with the same lines the component
    prints for the same args given as a dict."""
    args = {**_ARGS, **_TYPED_MISTAKES}
    typed = tmp_path / "typed.py"
    typed.write_text(TYPED_PROGRAM.format(args=args))
    as_dict = tmp_path / "as_dict.py"
    as_dict.write_text(COMPONENT_PROGRAM.format(args=args))
    config = {"aws:region": "us-east-1"}
    terminal = run_program(typed, config=config, stack="dev")
    assert terminal.exit_code == 1 and not terminal.traceback_shown, terminal.text
    lines = terminal.error_lines()
    assert lines[0] == "RolloutEndpointArgs: invalid args"
    expected = run_program(as_dict, config=config, stack="dev").error_lines()
    assert sorted(lines[1:]) == sorted(expected[1:])
    assert {line.split(":")[0].strip() for line in lines[1:]} == {
        "kms_key",
        "data_capture.sampling_percent",
        "models.v1.framework_version",
    }
    assert terminal.run.resources == []


SECRET_PROGRAM = """
import pulumi
from sagemaker_rollouts import RolloutEndpoint

args = {args!r}
args["models"]["v1"]["model_data_url"] = pulumi.Output.secret({url!r})
args["variants"][0]["instance_type"] = pulumi.Output.secret({instance_type!r})
RolloutEndpoint("fraud", args)
"""


@pytest.mark.parametrize(
    ("url", "instance_type", "bad_keys"),
    [
        ("https://acme-private/fraud/v1.zip", "ml.m5.large", ["models.v1.model_data_url"]),
        (
            "s3://acme-private/fraud/v1/model.tar.gz",
            "ml.m5.lage-private",
            ["variants[0].instance_type"],
        ),
        (
            "https://acme-private/fraud/v1.zip",
            "ml.m5.lage-private",
            ["models.v1.model_data_url", "variants[0].instance_type"],
        ),
    ],
    ids=["bad-url", "bad-instance-type", "both"],
)
def test_a_secret_output_that_resolves_to_a_bad_value_prints_its_key_not_its_value(
    url: str, instance_type: str, bad_keys: list[str], tmp_path: Path
) -> None:
    """A secret Output is checked once the engine resolves it, inside the SDK's preparation of
    the first resource that takes it, where the SDK wraps a ValueError in its own (a traceback
    at the terminal): the error must still be the message alone, naming every bad key, and must
    not print the secret."""
    program = tmp_path / "__main__.py"
    program.write_text(SECRET_PROGRAM.format(args=_ARGS, url=url, instance_type=instance_type))
    terminal = run_program(program, config={"aws:region": "us-east-1"}, stack="dev")
    assert terminal.exit_code == 1 and not terminal.traceback_shown, terminal.text
    lines = terminal.error_lines()
    assert lines[0].startswith("RolloutEndpoint 'fraud': invalid args")
    assert [line.split(":")[0].strip() for line in lines[1:]] == bad_keys
    assert "acme-private" not in terminal.text and "lage-private" not in terminal.text
    assert all("[secret]" in line for line in lines[1:])
    assert not terminal.run.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration")


def test_the_stand_in_shows_a_traceback_for_a_programming_error(tmp_path: Path) -> None:
    """The stand-in itself: a non-RunError prints the host's headline and the user's frames."""
    program = tmp_path / "__main__.py"
    program.write_text("def broken():\n    return {}['x']\n\nbroken()\n")
    terminal = run_program(program, config={}, stack="dev")
    assert terminal.exit_code == UNHANDLED_EXIT and terminal.traceback_shown
    assert "KeyError: 'x'" in terminal.text and str(program) in terminal.text
    assert "runpy" not in terminal.text  # cut to the user's frames, as the host does


def test_a_valid_stack_runs_clean() -> None:
    terminal = run_program(
        PROGRAM, config=read_stack_config(ROOT / "Pulumi.canary.yaml"), stack="canary"
    )
    assert terminal.exit_code == 0 and terminal.text == ""
    assert terminal.run.resources
