"""What goes into each Lambda zip: the whole `lambdas/` folder, nothing else (no list to keep).

Everything a Lambda runs lives in `lambdas/` (`sagemaker_rollouts.lambdas`): the handlers
(`canary_hook`, `ab_evaluator`, `drift_job`), their AWS edge (`aws_adapter`, `store`) and the pure
decisions they take (`controller`, `rollout`, `notify`, `scale_down`, `ab_winner`, `drift`),
standard library + boto3 only (the Lambda runtime provides boto3). Each function's zip carries
that folder whole plus the package's lazy `sagemaker_rollouts/__init__.py`; a module added to the
folder ships with every function, and one that imports anything else fails the zip test
(`tests/lambda_zip.py`). Archive paths keep the installed namespace (`sagemaker_rollouts/...`), so
a handler string is the same dotted path in the zip, in an installed package and in the source
tree.
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


def _package_file(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"{module} is not importable")
    return Path(spec.origin)


def lambda_archive_files() -> dict[str, Path]:
    """Archive path (e.g. `sagemaker_rollouts/lambdas/store.py`) -> source file: every `.py` file
    under the `lambdas/` folder (wherever the package is installed, or mapped from the checkout's
    top-level folder) and `sagemaker_rollouts/__init__.py`. The same for every function.

    Raises FileNotFoundError when the package is not importable.
    """
    top = _package_file("sagemaker_rollouts")
    folder = _package_file(PACKAGE).parent
    out = {"sagemaker_rollouts/__init__.py": top}
    for source in sorted(folder.rglob("*.py")):
        relative = source.relative_to(folder)
        if "__pycache__" in relative.parts:
            continue
        out["/".join(("sagemaker_rollouts", "lambdas", *relative.parts))] = source
    return out


def build_zip(dest: Path, files: dict[str, Path] | None = None) -> Path:
    """Write `files` (archive path -> source; default: `lambda_archive_files()`) to `dest`,
    reproducibly (fixed times, sorted entries, deflate level 9). Returns `dest`."""
    chosen = lambda_archive_files() if files is None else files
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, source in sorted(chosen.items()):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, source.read_bytes())
    return dest
