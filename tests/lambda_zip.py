"""A Lambda zip as AWS runs it: unpacked, its handler imported with only stdlib + boto3 importable.

Stands in for the Lambda Python runtime: it unpacks the function's zip into `/var/task` (on
`sys.path`) and imports the module named by `Handler`; the runtime provides the standard library
and boto3 (with botocore and their dependencies), nothing else. The probe runs in a fresh
interpreter started with `-S` (no site, so no `.pth` file and no editable-install finder can map
`sagemaker_rollouts` back to the checkout) with `PYTHONPATH` = the unpacked zip, then this venv's
site-packages (where boto3 is); an import finder refuses every other top-level name, and the
probe reports any `sagemaker_rollouts` module that did not come from the zip.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sagemaker_rollouts.infra.lambda_code import build_zip

# What the Lambda Python runtime ships besides the standard library: boto3 and its dependencies
# (https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html, "runtime-included SDK").
RUNTIME_PACKAGES = ("boto3", "botocore", "jmespath", "dateutil", "urllib3", "s3transfer", "six")

PROBE = textwrap.dedent(
    """
    import importlib, json, os, sys
    task, handler_path = os.path.realpath(sys.argv[1]), sys.argv[2]
    allowed = set(sys.argv[3].split(",")) | {"sagemaker_rollouts"}
    class OnlyStdlibAndBoto3:
        def find_spec(self, name, path=None, target=None):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top in allowed:
                return None
            raise ModuleNotFoundError(
                f"No module named {name!r} (a Lambda has only stdlib and boto3)", name=name
            )
    sys.meta_path.insert(0, OnlyStdlibAndBoto3())
    module, _, attr = handler_path.rpartition(".")
    mod = importlib.import_module(module)
    handler = getattr(mod, attr)
    import boto3
    boto3.session.Session(region_name="us-east-1").client("sts")  # botocore's lazy imports
    ours = {n: getattr(m, "__file__", None) for n, m in sys.modules.items()
            if n.split(".")[0] == "sagemaker_rollouts"}
    print(json.dumps({
        "file": mod.__file__,
        "callable": callable(handler),
        "outside_zip": sorted(n for n, f in ours.items()
                              if f is None or not os.path.realpath(f).startswith(task + os.sep)),
    }))
    """
)


@dataclass(frozen=True, slots=True)
class ZipImport:
    """What the probe saw: the handler module's file, whether the handler is callable, and the
    `sagemaker_rollouts` modules loaded from anywhere but the zip."""

    file: str
    callable: bool
    outside_zip: list[str]


def unpack_lambda_zip(tmp_path: Path, handler: str) -> Path:
    """Build the zip of the function whose Handler is `handler` (`infra/lambda_code.py`) and
    unpack it into `tmp_path/task`."""
    archive = build_zip(tmp_path / "lambda.zip", handler)
    task = tmp_path / "task"
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(task)
    return task


def import_handler(task: Path, handler: str) -> ZipImport:
    """Import `handler` (`module.function`) from the unpacked zip at `task` as the runtime would.

    Raises subprocess.CalledProcessError (with the traceback in `stderr`) when the import fails,
    e.g. a module in the zip imports pydantic or a module the zip lacks.
    """
    site = sysconfig.get_paths()["purelib"]
    out = subprocess.run(
        [sys.executable, "-S", "-B", "-c", PROBE, str(task), handler, ",".join(RUNTIME_PACKAGES)],
        cwd=task,
        env={"PYTHONPATH": f"{task}:{site}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise subprocess.CalledProcessError(out.returncode, out.args, out.stdout, out.stderr)
    return ZipImport(**json.loads(out.stdout))
