"""Adoption: `adopt: true` imports an existing endpoint by name (Pulumi's `import_` option).

Pulumi behaviour these stand on: an import fails unless the declared inputs match the live
resource (except properties in `ignore_changes`); aws_sagemaker_endpoint's import id is its name
(terraform-provider-aws endpoint.go: ImportStatePassthrough).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sagemaker_rollouts.infra.endpoint import ADOPT_IGNORES
from sagemaker_rollouts.simulator.mockrun import OfflineRun, read_stack_config, run_offline
from sagemaker_rollouts.strategies.config import ConfigError
from tests import engine_steps

ROOT = Path(__file__).resolve().parents[2]
KEY = "sagemaker-rollouts:endpoints"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"


def run(stack: str, endpoint: str, adopt: Any) -> OfflineRun:
    file = ROOT / f"Pulumi.{stack}.yaml"
    eps = read_stack_config(file)[KEY]
    if adopt is not None:
        eps[endpoint]["adopt"] = adopt
    return run_offline(file, config={KEY: eps})


@pytest.mark.parametrize(
    ("stack", "endpoint", "name"),
    [("bluegreen", "search", "search-embeddings"), ("dev", "churn", "churn-dev")],
)
def test_adopt_imports_the_endpoint_by_name_and_leaves_its_config_alone(
    stack: str, endpoint: str, name: str
) -> None:
    result = run(stack, endpoint, True)
    result.raise_error()
    (ep,) = result.of_type(ENDPOINT)
    assert ep.import_id == name
    assert ep.inputs["name"] == name
    assert set(ADOPT_IGNORES) == {"endpointConfigName", "deploymentConfig", "tags"}
    assert set(ep.ignore_changes) == set(ADOPT_IGNORES)
    # Nothing else is imported: the stack's own model and config are created beside it.
    assert [r.name for r in result.resources if r.import_id is not None] == [ep.name]


@pytest.mark.parametrize("adopt", [None, False])
def test_without_adopt_the_endpoint_is_created_and_fully_managed(adopt: Any) -> None:
    result = run("bluegreen", "search", adopt)
    result.raise_error()
    (ep,) = result.of_type(ENDPOINT)
    assert ep.import_id is None and ep.ignore_changes == ()


def test_adopt_must_be_a_boolean() -> None:
    result = run("bluegreen", "search", {"yes": 1})
    assert isinstance(result.error, ConfigError)
    assert any(e.startswith("endpoints.search.adopt") for e in result.error.errors)
    assert result.resources == []


# Resources that act on the live endpoint: deleting them changes the production endpoint.
ON_THE_ENDPOINT = (
    ENDPOINT,
    "aws:appautoscaling/target:Target",
    "aws:appautoscaling/policy:Policy",
)
ADOPTABLE = [
    (stack, key)
    for stack in ("dev", "shadow", "canary", "ab", "bluegreen", "rolling", "multi")
    for key in read_stack_config(ROOT / f"Pulumi.{stack}.yaml")[KEY]
]


@pytest.mark.parametrize(("stack", "endpoint"), ADOPTABLE, ids=[f"{s}-{e}" for s, e in ADOPTABLE])
def test_destroy_during_adoption_leaves_the_live_endpoint_and_its_scaling(
    stack: str, endpoint: str
) -> None:
    """Stands in for `pulumi destroy` (pulumi#3842: an imported resource is deleted like any
    other unless it is retained): the engine's delete steps, replayed from the state."""
    result = run(stack, endpoint, True)
    result.raise_error()
    steps = engine_steps.destroy_steps(result)
    adopted = [r for r in result.resources if r.import_id is not None]
    assert adopted, "adopt imports the endpoint"
    name = adopted[0].inputs["name"]
    on_it = [
        s
        for s in steps
        if s.resource.type in ON_THE_ENDPOINT
        and (s.resource.import_id is not None or f"endpoint/{name}/" in str(s.resource.inputs))
    ]
    assert on_it and all(s.op == "forget" for s in on_it), on_it
    # The stack's own resources still go (the adopted endpoint's alarms, hook, roles ...).
    assert any(s.op == "delete" for s in steps)


def test_once_adoption_ends_the_stack_owns_and_deletes_the_endpoint() -> None:
    result = run("canary", "fraud", False)
    result.raise_error()
    ops = {s.resource.type: s.op for s in engine_steps.destroy_steps(result)}
    assert ops[ENDPOINT] == ops["aws:appautoscaling/target:Target"] == "delete"
