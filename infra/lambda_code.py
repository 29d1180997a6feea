"""What goes into each Lambda zip: its handler's module and the `lambdas/` modules it imports.

Everything a Lambda runs lives in `lambdas/` (`sagemaker_rollouts.lambdas`): the handlers
(`canary_hook`, `ab_evaluator`, `drift_job`), their AWS edge (`aws_adapter`, `store`) and the
pure decisions they take (`controller`, `rollout`, `notify`, `scale_down`, `ab_winner`, `drift`),
standard library + boto3 only (the Lambda runtime provides boto3). Each function's zip carries
only what its handler can import (`FUNCTION_MODULES`: the handler's module and every module of
the folder it imports, at the top of a module or inside a function, transitively), the two
package `__init__.py` files and nothing else: the hook ships no A/B or drift code, and a cold
start has less source to compile (the zip carries sources; /var/task is read-only, so Python
compiles them at every cold start). `FUNCTION_MODULES` is declared, not computed at `pulumi
up` (parsing the folder costs ~35 ms of every program evaluation);
tests/infra/test_lambda_code.py computes the same closure from the sources' import statements
and with `modulefinder` over the unpacked zip, and fails on any difference, and imports each
handler from its zip with everything but the standard library and boto3 refused
(`tests/lambda_zip.py`). Archive paths keep the installed namespace (`sagemaker_rollouts/...`),
so a handler string is the same dotted path in the zip, in an installed package and in the
source tree.
"""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

PACKAGE = "sagemaker_rollouts.lambdas"

# Handler strings (AWS Lambda `Handler`: `<module path>.<function>`, resolved from /var/task).
HOOK_HANDLER = f"{PACKAGE}.canary_hook.handler"
AB_EVALUATOR_HANDLER = f"{PACKAGE}.ab_evaluator.handler"
DRIFT_JOB_HANDLER = f"{PACKAGE}.drift_job.handler"

# Handler -> the `lambdas/` modules its zip carries, in alphabetical order (see the docstring).
FUNCTION_MODULES: dict[str, tuple[str, ...]] = {
    HOOK_HANDLER: (
        "aws_adapter",
        "canary_hook",
        "controller",
        "notify",
        "records",
        "rollout",
        "scale_down",
        "store",
    ),
    AB_EVALUATOR_HANDLER: (
        "ab_evaluator",
        "ab_winner",
        "aws_adapter",
        "controller",
        "notify",
        "records",
        "rollout",
    ),
    DRIFT_JOB_HANDLER: ("drift", "drift_job", "notify"),
}


def _package_file(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"{module} is not importable")
    return Path(spec.origin)


def lambda_archive_files(handler: str) -> dict[str, Path]:
    """Archive path (e.g. `sagemaker_rollouts/lambdas/store.py`) -> source file for the function
    whose Handler is `handler`: `sagemaker_rollouts/__init__.py`, `lambdas/__init__.py` and the
    modules `FUNCTION_MODULES` lists for it (wherever the package is installed, or mapped from the
    checkout's top-level folder).

    Raises KeyError naming the known handlers for any other `handler`, FileNotFoundError when the
    package or a listed module is missing.
    """
    if handler not in FUNCTION_MODULES:
        known = ", ".join(sorted(FUNCTION_MODULES))
        raise KeyError(f"no Lambda zip is defined for handler {handler!r}; known: {known}")
    top = _package_file("sagemaker_rollouts")
    folder = _package_file(PACKAGE).parent
    out = {
        "sagemaker_rollouts/__init__.py": top,
        "sagemaker_rollouts/lambdas/__init__.py": folder / "__init__.py",
    }
    for module in FUNCTION_MODULES[handler]:
        source = folder / f"{module}.py"
        if not source.is_file():
            raise FileNotFoundError(f"{source} (listed for {handler}) does not exist")
        out[f"sagemaker_rollouts/lambdas/{module}.py"] = source
    return out


def build_zip(dest: Path, handler: str, files: dict[str, Path] | None = None) -> Path:
    """Write the zip of the function whose Handler is `handler` (or `files`, archive path ->
    source, when given) to `dest`, reproducibly (fixed times, sorted entries, deflate level 9).
    Returns `dest`."""
    chosen = lambda_archive_files(handler) if files is None else files
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, source in sorted(chosen.items()):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, source.read_bytes())
    return dest
