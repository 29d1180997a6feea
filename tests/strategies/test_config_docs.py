"""docs/config.md and `rollout schema` follow the config model."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from sagemaker_rollouts.cli.main import main
from sagemaker_rollouts.strategies.config import (
    PROJECT,
    ConfigError,
    StackKeys,
    load_config,
    project_config,
)
from sagemaker_rollouts.strategies.schema import config_schema
from sagemaker_rollouts.strategies.stackfile import read_stack_yaml

ROOT = Path(__file__).resolve().parents[2]


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


# --------------------------------------------------------------------------- schema == model


def _validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    from sagemaker_rollouts.strategies.schema import stack_file_schema

    return jsonschema.Draft202012Validator(stack_file_schema())


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Any:
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, i))


def _with(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    out = copy.deepcopy(value)
    node = out
    for part in path[:-1]:
        node = node[part]
    if new is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = new
    return out


_DELETE = object()
# What a user might write by mistake in any key: nothing, null, a word, numbers (whole, negative,
# fraction), a boolean, an empty list, an empty or unknown mapping, a version-looking string.
_VALUES = [_DELETE, None, "x", 0, 7, -1, 1.5, True, [], {}, {"bogus": 1}, "1.10", "on"]


def _plan_accepts(ours: dict[str, Any], region: str) -> bool:
    from sagemaker_rollouts.strategies.pipeline import validate_stack

    try:
        validate_stack(ours, region=region, project="p", stack="s")
    except ConfigError:
        return False
    return True


def _model_accepts(ours: dict[str, Any]) -> bool:
    try:
        StackKeys.model_validate({k: v for k, v in ours.items() if v is not None})
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("stack", sorted(p.name for p in ROOT.glob("Pulumi.*.yaml")))
def test_schema_refuses_what_the_model_refuses_and_accepts_what_plan_accepts(stack: str) -> None:
    """Every key of the sample stack set to each of `_VALUES`: a value the model refuses field
    by field is refused by the schema, and a value the schema refuses is refused by `rollout plan`
    too. The one thing the schema cannot see: the range of a number written as a string."""
    validator = _validator()
    doc = read_stack_yaml((ROOT / stack).read_text()).data
    ours, region = project_config(doc)
    mismatches: list[str] = []
    for path in _leaves(ours):
        for new in _VALUES:
            if not path:
                continue
            variant = _with(ours, path, new)
            file = {"config": {f"{PROJECT}:{k}": v for k, v in variant.items()}}
            schema_ok = not any(True for _ in validator.iter_errors(file))
            where = f"{'.'.join(map(str, path))} = {'<deleted>' if new is _DELETE else repr(new)}"
            if schema_ok and not _model_accepts(variant) and new != "1.10":
                mismatches.append(f"schema accepts, model refuses: {where}")
            if not schema_ok and _model_accepts(variant) and _plan_accepts(variant, region):
                mismatches.append(f"schema refuses, plan accepts: {where}")
    assert mismatches == []


def test_a_version_written_as_a_number_is_refused_by_plan_and_schema_with_quote_it(
    tmp_path: Path,
) -> None:
    validator = _validator()
    text = (ROOT / "Pulumi.dev.yaml").read_text()
    doc = read_stack_yaml(text).data
    ours, region = project_config(doc)
    (key,) = ours["endpoints"]
    model = next(iter(ours["endpoints"][key]["models"]))
    path = ("endpoints", key, "models", model)
    for field, value in (("framework_version", 1.1), ("py_version", 3), ("image", 2.0)):
        variant = _with(ours, (*path, "framework"), _DELETE) if field == "image" else ours
        variant = _with(variant, (*path, field), value)
        with pytest.raises(ConfigError) as caught:
            load_config(variant, region=region)
        assert any(
            line.startswith(f"endpoints.{key}.models.{model}.{field}: must be a string")
            and "quote it" in line
            for line in caught.value.errors
        ), caught.value.errors
        file = {"config": {f"{PROJECT}:{k}": v for k, v in variant.items()}}
        assert list(validator.iter_errors(file)), field


def test_yaml_reads_an_unquoted_framework_version_as_a_number() -> None:
    data = read_stack_yaml("config:\n  framework_version: 1.10\n").data
    assert data == {"config": {"framework_version": 1.1}}


def test_standard_alarm_reference_shows_each_alarms_own_defaults() -> None:
    schema = config_schema()
    alarms = schema["$defs"]["AlarmsConfig"]["properties"]
    assert alarms["errors_4xx"]["properties"]["enabled"]["default"] is False
    assert alarms["errors_5xx"]["properties"]["enabled"]["default"] is True
    assert alarms["latency_p99"]["properties"]["evaluation_periods"]["default"] == 3
    assert alarms["latency_p99"]["properties"]["threshold"]["default"] == 1000
    assert all("required" not in alarms[k] for k in ("errors_5xx", "latency_p99", "errors_4xx"))
    rows = {
        r.split(" | ")[0].strip("| `"): r.split(" | ")
        for r in (ROOT / "docs" / "config.md").read_text().splitlines()
        if r.startswith("| `")
    }
    base = "endpoints.<name>.alarms"
    assert rows[f"{base}.errors_4xx.enabled"][3] == "false"
    assert rows[f"{base}.errors_5xx.enabled"][3] == "true"
    assert rows[f"{base}.latency_p99.evaluation_periods"][3] == "3"
    assert rows[f"{base}.errors_4xx.threshold"][3] == "50"


@pytest.mark.parametrize(
    ("block", "warned"),
    [
        ({"enabled": True}, False),
        ({"threshold": 10}, True),
        ({"enabled": False, "threshold": 10}, False),
        ({"enabled": True, "threshold": 10}, False),
    ],
)
def test_a_partial_4xx_block_that_leaves_the_alarm_off_is_valid_and_warned(
    block: dict[str, Any], warned: bool
) -> None:
    from sagemaker_rollouts.strategies.pipeline import validate_stack

    validator = _validator()
    doc = read_stack_yaml((ROOT / "Pulumi.dev.yaml").read_text()).data
    ours, region = project_config(doc)
    (key,) = ours["endpoints"]
    variant = _with(ours, ("endpoints", key, "alarms"), {"errors_4xx": block})
    file = {"config": {f"{PROJECT}:{k}": v for k, v in variant.items()}}
    assert list(validator.iter_errors(file)) == []
    warnings = validate_stack(variant, region=region, project="p", stack="s").warnings
    mine = [w for w in warnings if w.startswith(f"endpoints.{key}.alarms.errors_4xx:")]
    assert bool(mine) is warned, warnings
    if warned:
        assert "add enabled: true" in mine[0]


def test_every_key_in_the_reference_has_a_description() -> None:
    text = (ROOT / "docs" / "config.md").read_text()
    rows = [r for r in text.splitlines() if r.startswith("| `")]
    assert rows
    missing = [r.split(" | ")[0] for r in rows if not r.split(" | ")[1].strip()]
    assert missing == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("variants", 0, "instance_count"), "3"),
        (("strategy", "canary", "steps"), ["10", "50"]),
        (("strategy", "canary", "steps"), [{"percent": "10", "bake_seconds": "300"}]),
        (("strategy", "canary", "bake_seconds"), "900"),
        (("strategy", "canary", "min_invocations"), "50"),
        (("alarms", "latency_p99", "threshold"), "300"),
    ],
    ids=["instance-count", "steps", "step-mapping", "bake", "min-invocations", "threshold"],
)
def test_the_schema_accepts_the_numbers_pulumi_config_set_stores_as_strings(
    path: tuple[Any, ...], value: Any
) -> None:
    """`pulumi config set --path '...steps[0]' 10` (the README's own example) may store "10";
    the model reads it as 10, so an editor using the schema must not flag it."""
    validator = _validator()
    doc = read_stack_yaml((ROOT / "Pulumi.canary.yaml").read_text()).data
    ours, region = project_config(doc)
    variant = _with(ours, ("endpoints", "fraud", *path), value)
    load_config(variant, region=region)  # the model accepts it
    file = {"config": {f"{PROJECT}:{k}": v for k, v in variant.items()}}
    assert [e.message for e in validator.iter_errors(file)] == []
    spelled = _with(ours, ("endpoints", "fraud", *path), "ten")  # and words stay refused
    file = {"config": {f"{PROJECT}:{k}": v for k, v in spelled.items()}}
    assert list(validator.iter_errors(file))
