"""Config changes against live stacks: each row of `strategies.lifecycle.CHANGES` rendered twice.

The provider facts these tests stand on: pulumi-aws bridges terraform-provider-aws, where
`aws_sagemaker_endpoint.deployment_config.auto_rollback_configuration` and `name` are ForceNew,
every `aws_sagemaker_endpoint_configuration` and `aws_sagemaker_model` argument but tags is
ForceNew, and a metric alarm's `alarm_name` is ForceNew (strategies/lifecycle.py FORCE_NEW).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from sagemaker_rollouts.simulator.mockrun import OfflineRun, read_stack_config, run_offline
from sagemaker_rollouts.strategies import lifecycle
from sagemaker_rollouts.strategies.lifecycle import CHANGES, ConfigChange
from tests import resource_diff

ROOT = Path(__file__).resolve().parents[2]
KEY = "sagemaker-rollouts:endpoints"


def stack_file(stack: str) -> Path:
    return ROOT / f"Pulumi.{stack}.yaml"


@cache
def before(stack: str) -> OfflineRun:
    result = run_offline(stack_file(stack))
    result.raise_error()
    return result


def after(change: ConfigChange) -> OfflineRun:
    return _after(change.id)


@cache
def _after(change_id: str) -> OfflineRun:
    change = next(c for c in CHANGES if c.id == change_id)
    raw = read_stack_config(stack_file(change.stack))
    changed = lifecycle.apply_change(raw[KEY], change)
    result = run_offline(stack_file(change.stack), config={KEY: changed})
    result.raise_error()
    return result


@pytest.mark.parametrize("change", CHANGES, ids=[c.id for c in CHANGES])
def test_each_change_replaces_updates_or_leaves_alone_as_the_table_says(
    change: ConfigChange,
) -> None:
    effects = resource_diff.by_type(before(change.stack), after(change), lifecycle.ROLES)
    assert effects == change.effects(), change.note


@pytest.mark.parametrize("change", [c for c in CHANGES if c.endpoint == "none"], ids=lambda c: c.id)
def test_changes_that_leave_the_endpoint_alone_declare_identical_endpoint_inputs(
    change: ConfigChange,
) -> None:
    """The user-facing promise: an alarm change never touches `deploymentConfig` or the config."""
    old = {r.name: r.inputs for r in before(change.stack).of_type(lifecycle.ENDPOINT)}
    new = {r.name: r.inputs for r in after(change).of_type(lifecycle.ENDPOINT)}
    assert new == old


def test_no_change_declares_no_change() -> None:
    for stack in ("bluegreen", "canary"):
        again = run_offline(stack_file(stack))
        effects = resource_diff.diff(before(stack), again)
        assert set(effects.values()) == {"none"}, stack


def test_the_readme_table_is_generated_from_the_same_rows() -> None:
    readme = (ROOT / "README.md").read_text()
    assert lifecycle.markdown_table() in readme


def test_the_diff_sees_a_replacement_through_a_reference() -> None:
    """A replaced model gets a new name on AWS: the config naming it is replaced too."""
    change = next(c for c in CHANGES if c.id == "bg-new-model")
    effects = resource_diff.diff(before(change.stack), after(change))
    assert effects["search-model-current"] == "replace"
    assert effects["search-config"] == "replace"
    assert effects["search-endpoint"] == "update"


def test_apply_change_reports_a_stale_path() -> None:
    stale = ConfigChange(
        "x", "bluegreen", "d", "search.variants[3].name", "a", "none", "none", "none", False, "n"
    )
    with pytest.raises(IndexError):
        lifecycle.apply_change(read_stack_config(stack_file("bluegreen"))[KEY], stale)
