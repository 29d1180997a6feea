"""Every Lambda zip carries the whole `lambdas/` folder and imports its handler from it alone."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sagemaker_rollouts.infra.lambda_code import (
    AB_EVALUATOR_HANDLER,
    DRIFT_JOB_HANDLER,
    HOOK_HANDLER,
    lambda_archive_files,
)
from tests.lambda_zip import import_handler, unpack_lambda_zip

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def task(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return unpack_lambda_zip(tmp_path_factory.mktemp("zip"))


def test_the_zip_is_the_whole_lambdas_folder_and_the_package_init() -> None:
    in_folder = {
        f"sagemaker_rollouts/lambdas/{p.relative_to(ROOT / 'lambdas').as_posix()}"
        for p in (ROOT / "lambdas").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert set(lambda_archive_files()) == {"sagemaker_rollouts/__init__.py", *in_folder}
    assert "sagemaker_rollouts/lambdas/canary_hook.py" in in_folder


@pytest.mark.parametrize("handler", [HOOK_HANDLER, AB_EVALUATOR_HANDLER, DRIFT_JOB_HANDLER])
def test_each_handler_imports_from_the_zip_with_only_stdlib_and_boto3(
    task: Path, handler: str
) -> None:
    """AWS: the Lambda runtime unpacks the zip into /var/task and imports the handler's module;
    it provides the standard library and boto3, nothing else."""
    seen = import_handler(task, handler)
    module = handler.rpartition(".")[0]
    assert Path(seen.file) == task / (module.replace(".", "/") + ".py")
    assert seen.callable
    assert seen.outside_zip == []


@pytest.mark.parametrize(
    ("source", "refused"),
    [
        ("import pydantic\n", "pydantic"),
        ("import pulumi\n", "pulumi"),
        ("from sagemaker_rollouts.strategies import config\n", "sagemaker_rollouts.strategies"),
    ],
)
def test_a_lambda_module_importing_more_than_stdlib_and_boto3_fails_the_probe(
    tmp_path: Path, source: str, refused: str
) -> None:
    task = unpack_lambda_zip(tmp_path)
    (task / "sagemaker_rollouts" / "lambdas" / "leaky.py").write_text(
        source + "def handler(event, context):\n    return {}\n"
    )
    with pytest.raises(subprocess.CalledProcessError) as failed:
        import_handler(task, "sagemaker_rollouts.lambdas.leaky.handler")
    assert "ModuleNotFoundError" in failed.value.stderr
    assert refused in failed.value.stderr
