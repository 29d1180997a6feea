"""Each Lambda zip carries exactly what its handler can import, and imports its handler from it alone.

`FUNCTION_MODULES` is a declared list: here it is checked against the real import graph twice,
from the sources' import statements (ast, every statement, in functions too) and with the
standard library's `modulefinder` over the unpacked zip (the compiled code, nested functions
included), so a module that gains an import cannot ship without it.
"""

from __future__ import annotations

import ast
import modulefinder
import subprocess
from pathlib import Path

import pytest

from sagemaker_rollouts.infra.lambda_code import (
    AB_EVALUATOR_HANDLER,
    DRIFT_JOB_HANDLER,
    FUNCTION_MODULES,
    HOOK_HANDLER,
    PACKAGE,
    lambda_archive_files,
)
from tests.lambda_zip import import_handler, unpack_lambda_zip

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "lambdas"
HANDLERS = [HOOK_HANDLER, AB_EVALUATOR_HANDLER, DRIFT_JOB_HANDLER]
INITS = {"sagemaker_rollouts/__init__.py", "sagemaker_rollouts/lambdas/__init__.py"}


def _imported(module: str) -> set[str]:
    """The `lambdas/` modules that `module`'s source imports anywhere (absolute or relative)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse((FOLDER / f"{module}.py").read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative to sagemaker_rollouts.lambdas.<module>
                base = ".".join([*PACKAGE.split(".")[: 3 - node.level], base]).rstrip(".")
            names = [base, *(f"{base}.{a.name}" for a in node.names)]
        else:
            continue
        for name in names:
            if name.startswith(f"{PACKAGE}.") and (FOLDER / f"{name.split('.')[2]}.py").is_file():
                found.add(name.split(".")[2])
    return found


def _closure(module: str) -> set[str]:
    seen: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(_imported(current))
    return seen


def _module(handler: str) -> str:
    return handler.rsplit(".", 2)[1]


@pytest.mark.parametrize("handler", HANDLERS)
def test_each_zip_carries_exactly_its_handlers_import_closure(handler: str) -> None:
    modules = _closure(_module(handler))
    assert FUNCTION_MODULES[handler] == tuple(sorted(modules)), (
        f"FUNCTION_MODULES[{handler!r}] must be {tuple(sorted(modules))}"
    )
    assert set(lambda_archive_files(handler)) == INITS | {
        f"sagemaker_rollouts/lambdas/{m}.py" for m in modules
    }


def test_the_hook_ships_no_ab_or_drift_code() -> None:
    hook = set(lambda_archive_files(HOOK_HANDLER))
    for module in ("ab_evaluator", "ab_winner", "drift", "drift_job"):
        assert f"sagemaker_rollouts/lambdas/{module}.py" not in hook


def test_no_lambda_module_imports_by_a_computed_name() -> None:
    """The import graph is read from import statements: `importlib` or `__import__` would hide
    an edge from it (and from `modulefinder`)."""
    for source in sorted(FOLDER.glob("*.py")):
        text = source.read_text()
        assert "importlib" not in text and "__import__" not in text, source.name


def test_an_unknown_handler_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(KeyError, match=r"canary_hook\.handler"):
        lambda_archive_files("sagemaker_rollouts.lambdas.nope.handler")


def _missing_per_modulefinder(task: Path, handler: str) -> tuple[set[str], set[str]]:
    """(our modules modulefinder loaded from the unpacked zip, ours it could not find there)."""
    finder = modulefinder.ModuleFinder(path=[str(task)])
    finder.run_script(str(task / (handler.rpartition(".")[0].replace(".", "/") + ".py")))
    ours = {n for n in finder.modules if n.startswith(f"{PACKAGE}.")}
    # The package's __init__ imports its public names from infra only under TYPE_CHECKING,
    # which modulefinder cannot tell; the import probe below shows the zip runs without them.
    typing_only = {"sagemaker_rollouts.infra", "sagemaker_rollouts.infra.component"}
    bad = {n for n in finder.badmodules if n.startswith("sagemaker_rollouts")} - typing_only
    return ours, bad


@pytest.mark.parametrize("handler", HANDLERS)
def test_modulefinder_over_the_unpacked_zip_finds_every_import_inside_it(
    tmp_path: Path, handler: str
) -> None:
    task = unpack_lambda_zip(tmp_path, handler)
    ours, bad = _missing_per_modulefinder(task, handler)
    assert bad == set()
    assert {n.split(".")[2] for n in ours} == set(FUNCTION_MODULES[handler]) - {_module(handler)}


def test_modulefinder_reports_a_module_imported_only_inside_a_function(tmp_path: Path) -> None:
    """The check above can fail: `notify` is imported by the hook's modules only lazily."""
    task = unpack_lambda_zip(tmp_path, HOOK_HANDLER)
    (task / "sagemaker_rollouts" / "lambdas" / "notify.py").unlink()
    _, bad = _missing_per_modulefinder(task, HOOK_HANDLER)
    assert any(name.endswith("notify") for name in bad), bad


@pytest.mark.parametrize("handler", HANDLERS)
def test_each_handler_imports_from_its_zip_with_only_stdlib_and_boto3(
    tmp_path: Path, handler: str
) -> None:
    """AWS: the Lambda runtime unpacks the zip into /var/task and imports the handler's module;
    it provides the standard library and boto3, nothing else."""
    task = unpack_lambda_zip(tmp_path, handler)
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
    task = unpack_lambda_zip(tmp_path, HOOK_HANDLER)
    (task / "sagemaker_rollouts" / "lambdas" / "leaky.py").write_text(
        source + "def handler(event, context):\n    return {}\n"
    )
    with pytest.raises(subprocess.CalledProcessError) as failed:
        import_handler(task, "sagemaker_rollouts.lambdas.leaky.handler")
    assert "ModuleNotFoundError" in failed.value.stderr
    assert refused in failed.value.stderr
