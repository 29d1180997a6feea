"""docs/config.md and `rollout schema` follow the config model."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from sagemaker_rollouts.cli.main import main
from sagemaker_rollouts.strategies.config import StackKeys
from sagemaker_rollouts.strategies.stackfile import read_stack_yaml

ROOT = Path(__file__).resolve().parent.parent


def _docs_generator() -> Any:
    spec = importlib.util.spec_from_file_location(
        "gen_docs", ROOT / "scripts" / "gen_config_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_config_reference_is_up_to_date() -> None:
    text = (ROOT / "docs" / "config.md").read_text()
    assert text == _docs_generator().render(), (
        "docs/config.md is stale: run scripts/gen_config_docs.py"
    )


def test_config_reference_lists_every_key_of_the_model() -> None:
    text = (ROOT / "docs" / "config.md").read_text()
    for name in StackKeys.model_fields:
        assert f"| `{name}` |" in text
    for key in ("variants[].instance_count", "alarms.custom[].statistic", "strategy.canary.steps"):
        assert key in text


def test_schema_command_prints_a_schema_every_sample_stack_satisfies(
    capsys: pytest.CaptureFixture[str],
) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    validator = jsonschema.Draft202012Validator(schema)
    for path in sorted(ROOT.glob("Pulumi.*.yaml")):
        doc = read_stack_yaml(path.read_text()).data
        errors = [e.message for e in validator.iter_errors(doc)]
        assert errors == [], (path.name, errors[:3])
    bad = {"config": {"sagemaker-rollouts:endpoints": {"x": {"variants": [{"instance_count": 0}]}}}}
    assert list(validator.iter_errors(bad))
