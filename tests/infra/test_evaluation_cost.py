"""What a program evaluation costs beyond its resources: the collector policy (who gets it, and
that it is undone), and the modules a stack imports (only what it uses).

Timings live in bench/bench_program.py; these tests check the mechanisms, not the speed.
"""

from __future__ import annotations

import gc
import json
import runpy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pulumi
import pytest

from sagemaker_rollouts.infra import aws_loader, gc_policy
from sagemaker_rollouts.lambdas.rollout import RolloutOutcome
from sagemaker_rollouts.simulator.mockrun import run_function_offline, run_offline

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def collector_restored() -> Iterator[tuple[int, int, int]]:
    """The test process's thresholds, put back whatever the test does. The test starts and ends
    with nothing frozen, as a fresh `rollout` process starts (whatever ran before in this worker)."""
    before = gc.get_threshold()
    gc.unfreeze()
    yield before
    gc.set_threshold(*before)
    gc.unfreeze()


def test_offline_plan_runs_with_rare_full_collections_and_restores_the_callers_settings(
    collector_restored: tuple[int, int, int],
) -> None:
    seen: list[tuple[tuple[int, int, int], int]] = []

    def outcomes(rollout_id: str) -> RolloutOutcome | None:  # called mid-evaluation
        seen.append((gc.get_threshold(), gc.get_freeze_count()))
        return None

    run = run_offline(ROOT / "Pulumi.canary.yaml", outcomes=outcomes)
    run.raise_error()
    assert seen, "the program asked for no rollout outcome"
    for threshold, frozen in seen:
        assert threshold[2] >= gc_policy.FULL_EVERY
        assert threshold[:2] == collector_restored[:2]  # young collections as before
        assert frozen > 0
    assert gc.get_threshold() == collector_restored
    assert gc.get_freeze_count() == 0


def test_a_component_users_program_keeps_the_interpreters_collector_settings(
    collector_restored: tuple[int, int, int],
) -> None:
    """The RolloutEndpoint component never retunes the collector of the program embedding it."""
    seen: list[tuple[int, int, int]] = []

    def program() -> None:
        from sagemaker_rollouts import RolloutEndpoint

        image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
        RolloutEndpoint(
            "fraud",
            {
                "endpoint_name": "fraud-detector",
                "models": {"v1": {"image": image, "model_data_url": "s3://b/v1/model.tar.gz"}},
                "variants": [{"name": "main", "model": "v1", "instance_type": "ml.m5.large"}],
                "strategy": {"recreate": {}},
            },
        )
        seen.append(gc.get_threshold())
        finders.append(any(isinstance(f, loader_type) for f in sys.meta_path))
        pulumi.export("threshold", list(gc.get_threshold()))

    finders: list[bool] = []
    loader_type = type(aws_loader._FINDER)  # pyright: ignore[reportPrivateUsage]
    installed_before = any(isinstance(f, loader_type) for f in sys.meta_path)
    run = run_function_offline(program, config={"aws:region": "us-east-1"})
    run.raise_error()
    assert seen == [collector_restored]
    assert gc.get_threshold() == collector_restored
    # nor its import system (infra/aws_loader.py): no finder added while it declared
    assert finders == [installed_before]


def test_the_project_program_sets_the_policy_before_it_declares_anything(
    collector_restored: tuple[int, int, int],
) -> None:
    """`__main__.py` (what `pulumi up` runs) keeps rare full collections for its whole process."""
    seen: list[tuple[int, int, int]] = []

    def outcomes(rollout_id: str) -> RolloutOutcome | None:
        seen.append(gc.get_threshold())
        return None

    from sagemaker_rollouts.infra import program

    def run_main() -> None:
        original = program.main
        program.main = lambda outcomes=outcomes: original(outcomes=outcomes)  # type: ignore[assignment]
        try:
            runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        finally:
            program.main = original

    config = json.loads(json.dumps(_canary_config()))
    installed_before = aws_loader.is_installed()
    try:
        run = run_function_offline(run_main, config=config)
        run.raise_error()
        assert seen and all(t[2] >= gc_policy.FULL_EVERY for t in seen)
        # and loads pulumi_aws's service packages class by class (infra/aws_loader.py)
        assert aws_loader.is_installed()
    finally:
        if not installed_before:
            aws_loader.uninstall()


def _canary_config() -> dict[str, object]:
    from sagemaker_rollouts.simulator.mockrun import read_stack_config

    return read_stack_config(ROOT / "Pulumi.canary.yaml")


@pytest.mark.parametrize(
    ("before", "after"),
    [((700, 10, 10), (700, 10, gc_policy.FULL_EVERY)), ((500, 5, 5000), (500, 5, 5000))],
)
def test_the_policy_raises_only_the_third_threshold_and_never_lowers_it(
    collector_restored: tuple[int, int, int],
    before: tuple[int, int, int],
    after: tuple[int, int, int],
) -> None:
    gc.set_threshold(*before)
    gc_policy.for_this_program()
    gc_policy.for_this_program()  # idempotent
    assert gc.get_threshold() == after


def test_a_canary_stack_imports_no_glue_and_no_evidence_module() -> None:
    """Pulumi resolves a component class's annotations on every registration; a canary stack
    must not pay for pulumi_aws.glue or the shadow/A-B/drift evidence modules it never uses,
    nor for the ESC evaluator, the CLI's rendering, drawing or report engines.
    (pulumi_aws registers every service module as a lazy stub; only a loaded one costs.)"""
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from sagemaker_rollouts.simulator.mockrun import run_offline\n"
        "run_offline(Path('Pulumi.canary.yaml')).raise_error()\n"
        "names = ['pulumi_aws.glue', 'sagemaker_rollouts.strategies.shadow_compare',\n"
        "         'sagemaker_rollouts.lambdas.ab_winner', 'sagemaker_rollouts.lambdas.drift',\n"
        "         'sagemaker_rollouts.infra.evaluators', 'sagemaker_rollouts.strategies.esc',\n"
        "         'sagemaker_rollouts.cli', 'rich', 'matplotlib', 'moto', 'duckdb']\n"
        "loaded = [n for n in names if n in sys.modules\n"
        "          and type(sys.modules[n]).__name__ != '_LazyModule']\n"  # pulumi_aws's lazy stubs
        "print(json.dumps(loaded))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
