"""What goes into the canary hook's zip: its handler and the pure modules it imports, nothing else.

The zip is standard library + boto3 only (the Lambda runtime provides boto3), so it stays a few
tens of KiB. `hook_archive_files()` is the single list; infra builds its asset archive from it.
Archive paths keep the installed namespace (`sagemaker_rollouts/...`), so the handler string is the
same dotted path in the zip, in an installed package and in the source tree.
"""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

# Dotted module names; their files are found wherever the package is installed (or mapped from the
# repository's top-level folders in an editable install).
HOOK_MODULES = (
    "sagemaker_rollouts",
    "sagemaker_rollouts.lambdas",
    "sagemaker_rollouts.lambdas.canary_hook",
    "sagemaker_rollouts.lambdas.aws_adapter",
    "sagemaker_rollouts.lambdas.store",
    "sagemaker_rollouts.strategies",
    "sagemaker_rollouts.strategies.rollout",
    "sagemaker_rollouts.strategies.controller",
    "sagemaker_rollouts.strategies.notify",
    "sagemaker_rollouts.strategies.scale_down",
)
HOOK_HANDLER = "sagemaker_rollouts.lambdas.canary_hook.handler"


# The A/B evaluator's zip: its handler, the AWS adapter it shares with the hook, the pure decision.
AB_EVALUATOR_MODULES = (
    "sagemaker_rollouts",
    "sagemaker_rollouts.lambdas",
    "sagemaker_rollouts.lambdas.ab_evaluator",
    "sagemaker_rollouts.lambdas.aws_adapter",
    "sagemaker_rollouts.strategies",
    "sagemaker_rollouts.strategies.ab_winner",
    # aws_adapter's view types
    "sagemaker_rollouts.strategies.controller",
    "sagemaker_rollouts.strategies.notify",
    "sagemaker_rollouts.strategies.rollout",
)
AB_EVALUATOR_HANDLER = "sagemaker_rollouts.lambdas.ab_evaluator.handler"


# The drift job's zip: its handler and the pure scoring module.
DRIFT_JOB_MODULES = (
    "sagemaker_rollouts",
    "sagemaker_rollouts.lambdas",
    "sagemaker_rollouts.lambdas.drift_job",
    "sagemaker_rollouts.strategies",
    "sagemaker_rollouts.strategies.drift",
    "sagemaker_rollouts.strategies.notify",
)
DRIFT_JOB_HANDLER = "sagemaker_rollouts.lambdas.drift_job.handler"


def _module_file(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"hook module {module} is not importable")
    return Path(spec.origin)


def module_archive_files(modules: tuple[str, ...]) -> dict[str, Path]:
    """Archive path (e.g. `sagemaker_rollouts/lambdas/store.py`) -> source file, for dotted modules.

    Packages map to `<path>/__init__.py`. Raises FileNotFoundError for a module that is not
    importable.
    """
    out: dict[str, Path] = {}
    for module in modules:
        source = _module_file(module)
        parts = module.split(".")
        name = (
            "/".join([*parts, "__init__.py"])
            if source.name == "__init__.py"
            else "/".join(parts) + ".py"
        )
        out[name] = source
    return out


def hook_archive_files() -> dict[str, Path]:
    """Archive path -> source file for the canary hook's zip."""
    return module_archive_files(HOOK_MODULES)


def build_zip(dest: Path, files: dict[str, Path]) -> Path:
    """Write `files` (archive path -> source) to `dest`, reproducibly (fixed times, sorted)."""
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, source in sorted(files.items()):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, source.read_bytes())
    return dest


def build_hook_zip(dest: Path) -> Path:
    """Write the hook's zip to `dest`, reproducibly (fixed timestamps, sorted entries)."""
    return build_zip(dest, hook_archive_files())
