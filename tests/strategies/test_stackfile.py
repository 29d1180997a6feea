"""Stack files read as the Pulumi CLI reads them (go-yaml v2), and warnings that never block."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from sagemaker_rollouts.cli.main import main
from sagemaker_rollouts.strategies.config import config_warnings, load_config
from sagemaker_rollouts.strategies.stackfile import go_yaml_v2_scalar, read_stack_yaml
from tests.stackdata import canary, single, with_key

ROOT = Path(__file__).resolve().parents[2]

# (plain scalar, what go-yaml v2 decodes into interface{}; resolve.go of gopkg.in/yaml.v2)
GO_YAML_V2: list[tuple[str, Any]] = [
    ("on", True),
    ("Off", False),
    ("yes", True),
    ("NO", False),
    ("y", True),  # PyYAML: string
    ("N", False),  # PyYAML: string
    ("true", True),
    ("~", None),
    ("null", None),
    ("", None),
    ("1:30", "1:30"),  # PyYAML: 90 (sexagesimal)
    ("2024-01-31", "2024-01-31"),  # PyYAML: a date
    ("2024-01-31T10:00:00Z", "2024-01-31T10:00:00Z"),
    ("1e3", 1000.0),  # PyYAML: string
    ("0777", 511),  # YAML 1.1 octal, as Go's ParseInt base 0
    ("0o17", 15),  # PyYAML: string
    ("0x1F", 31),
    ("0b101", 5),
    ("-0b11", -3),
    ("08", 8.0),  # not octal: Go falls through to the float syntax
    ("1_000", 1000),
    ("+3", 3),
    (".5", 0.5),
    ("1.", 1.0),
    ("=", "="),  # PyYAML: the value tag
    ("<<x", "<<x"),
    ("18446744073709551615", 18446744073709551615),  # uint64
    ("abc", "abc"),
    ("0.02", 0.02),
]


@pytest.mark.parametrize(
    ("text", "expected"), GO_YAML_V2, ids=[t or "empty" for t, _ in GO_YAML_V2]
)
def test_plain_scalars_resolve_as_go_yaml_v2(text: str, expected: Any) -> None:
    got = go_yaml_v2_scalar(text)
    assert got == expected and type(got) is type(expected)


def test_special_floats() -> None:
    assert math.isnan(go_yaml_v2_scalar(".nan"))
    assert go_yaml_v2_scalar("-.Inf") == -math.inf


def test_documents_round_trip_like_pulumi_and_keep_the_last_duplicate() -> None:
    text = (
        "config:\n  a: 2.0\n  b: '2.0'\n  c: 'on'\n  d: [on, 1e6, 1.5]\n  base: &b {x: 1}\n"
        "  m:\n    <<: *b\n    z: 2\n  a: 3\n"
    )
    parsed = read_stack_yaml(text)
    cfg = parsed.data["config"]
    assert cfg["a"] == 3 and cfg["b"] == "2.0" and cfg["c"] == "on"
    assert cfg["d"] == [True, 1e6, 1.5] and isinstance(cfg["d"][1], float)
    assert cfg["m"] == {"x": 1, "z": 2}
    assert parsed.duplicates == ((10, "a"),)


def _stack(tmp_path: Path, body: str, name: str = "t") -> Path:
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(body)
    return path


STACK = """\
config:
  aws:region: us-east-1
  endpoints:          # no namespace: Pulumi makes it sagemaker-rollouts:endpoints
    svc:
      models:
        m:
          image: 683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1
          model_data_url: s3://acme/m.tar.gz
          environment: {WORKERS: 2, DEBUG: yes}
      variants:
        - {name: primary, model: m, instance_type: ml.m5.large, instance_count: 4}
      strategy:
        rolling: {maximum_batch_size: {value: 25}}
      volume_kms: off
      alarms:
        custom:
          - {key: p100, namespace: AWS/SageMaker, metric: ModelLatency, threshold: 1, statistic: p100}
"""


def test_plan_accepts_what_pulumi_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _stack(tmp_path, STACK)
    assert main(["plan", "--stack", "t", "--dir", str(tmp_path)]) == 0, capsys.readouterr().err


def test_plan_prints_warnings_and_still_succeeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = (
        STACK.replace("instance_count: 4", "instance_count: 1")
        + "      tags: {a: b}\n      tags: {c: d}\n"
    )
    _stack(tmp_path, body)
    assert main(["plan", "--stack", "t", "--dir", str(tmp_path)]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "duplicate key 'tags'; Pulumi keeps only the last value" in err
    assert "is the whole fleet of 1" in err


def test_plan_reports_a_typo_and_an_endpoint_error_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = STACK.replace("  endpoints:", "  sagemaker-rollouts:tag: {a: b}\n  endpoints:").replace(
        "value: 25", "value: 80"
    )
    _stack(tmp_path, body)
    assert main(["plan", "--stack", "t", "--dir", str(tmp_path)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "tag: unknown key; did you mean sagemaker-rollouts:tags?" in err
    assert "endpoints.svc.strategy.rolling.maximum_batch_size: must be 5..50" in err


def _canary_fleet(stable: int, cand: int, steps: list[int]) -> dict[str, Any]:
    raw = with_key(canary(), "endpoints.fraud.variants[0].instance_count", stable)
    raw = with_key(raw, "endpoints.fraud.variants[1].instance_count", cand)
    return with_key(raw, "endpoints.fraud.strategy.canary.steps", steps)


def _custom(**over: Any) -> dict[str, Any]:
    alarm = {"key": "x", "namespace": "Acme/Models", "metric": "psi", "threshold": 1} | over
    return with_key(canary(), "endpoints.fraud.alarms.custom", [alarm])


# (id, config, key path the warning names or None for no warning)
WARNINGS: list[tuple[str, dict[str, Any], str | None]] = [
    (
        "capture at 0%",
        with_key(canary(), "endpoints.fraud.data_capture.sampling_percent", 0),
        "endpoints.fraud.data_capture.sampling_percent",
    ),
    (
        "capture off at 0%",
        with_key(
            canary(), "endpoints.fraud.data_capture", {"enabled": False, "sampling_percent": 0}
        ),
        None,
    ),
    ("custom namespace gets dimensions", _custom(), "endpoints.fraud.alarms.custom[0]"),
    ("custom namespace with dimensions", _custom(dimensions={"Model": "fraud"}), None),
    ("SageMaker namespace", _custom(namespace="AWS/SageMaker"), None),
    (
        "rolling batch is the fleet",
        single(
            {"rolling": {"maximum_batch_size": {"type": "instance_count", "value": 1}}}, count=1
        ),
        "endpoints.svc.strategy.rolling.maximum_batch_size",
    ),
    (
        "rolling 50% of 1",
        single({"rolling": {"maximum_batch_size": {"value": 50}}}, count=1),
        "endpoints.svc.strategy.rolling.maximum_batch_size",
    ),
    ("rolling batch of 4", single({"rolling": {"maximum_batch_size": {"value": 25}}}), None),
    ("candidate too small", _canary_fleet(4, 1, [10, 50]), "endpoints.fraud.strategy.canary.steps"),
    ("candidate fits", _canary_fleet(4, 2, [10, 50]), None),
    (
        "secret not checked offline",
        with_key(canary(), "endpoints.fraud.models.v1.model_data_url", "[secret]"),
        "endpoints.fraud.models.v1.model_data_url",
    ),
]


@pytest.mark.parametrize(("raw", "path"), [w[1:] for w in WARNINGS], ids=[w[0] for w in WARNINGS])
def test_warnings_name_their_key_and_never_block(raw: dict[str, Any], path: str | None) -> None:
    warnings = config_warnings(load_config(raw))  # load_config raising would fail the test
    if path is None:
        assert warnings == []
    else:
        assert any(w.startswith(f"{path}: ") for w in warnings), warnings
