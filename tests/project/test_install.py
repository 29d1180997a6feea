"""A non-editable install (`pip install .`) next to a user's own `infra/` package.

The wheel is built once from a copy of the sources (offline: setuptools comes from the dev venv)
and installed with `--no-deps` into a fresh virtualenv; the dependencies come from this venv's
site-packages through a `.pth` line, written after the install so pip never sees (or touches) this
venv's editable install. Directories named in a `.pth` line are plain `sys.path` entries, so the
editable install's own `.pth` finder in there is never run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "sagemaker_rollouts", "infra", "strategies", "lambdas")
CANARY = ROOT / "Pulumi.canary.yaml"

PROBE = """
import importlib.abc, importlib.util, json, sys

class NotBase(importlib.abc.MetaPathFinder):
    # what `pulumi up` must not need: the [cli], [policy] and [dev] extras
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"rich", "matplotlib", "moto", "pulumi_policy", "hypothesis"}:
            raise ImportError(f"{name} is not a base dependency")

sys.meta_path.insert(0, NotBase())
import yaml
import infra.endpoint                      # the user's own package, not ours
import sagemaker_rollouts
from sagemaker_rollouts import RolloutEndpoint, RolloutEndpointArgs, __version__
from sagemaker_rollouts.infra.lambda_code import HOOK_HANDLER, lambda_archive_files
from sagemaker_rollouts.strategies.config import project_config, load_config
from sagemaker_rollouts.strategies.planner import build_plan

raw, region = project_config(yaml.safe_load(open(sys.argv[1])))
plan = build_plan(load_config(raw, region=region), project="p", stack="canary")
from pathlib import Path
from sagemaker_rollouts.simulator.mockrun import run_offline
offline = run_offline(Path(sys.argv[1]))  # the project's own program, as `pulumi up` runs it
print(json.dumps({
    "program_error": None if offline.error is None else repr(offline.error),
    "program_resources": len(offline.resources),
    "user_infra": infra.__file__,
    "user_marker": infra.endpoint.MARKER,
    "package": sagemaker_rollouts.__file__,
    "package_infra": importlib.import_module("sagemaker_rollouts.infra").__file__,
    "component": RolloutEndpoint.__module__,
    "args_fields": sorted(RolloutEndpointArgs.model_fields),
    "version": __version__,
    "top_level": {m: importlib.util.find_spec(m) is not None
                  for m in ("strategies", "lambdas", "rollout_cli")},
    "lambda_files": sorted(str(p) for p in lambda_archive_files(HOOK_HANDLER).values()),
    "endpoints": [e.endpoint_name for e in plan.endpoints],
}))
"""


def _site_packages(env: Path) -> Path:
    found = sorted(env.glob("lib/python3*/site-packages"))
    assert len(found) == 1, found
    return found[0]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the fresh venv's python, its site-packages) with the package installed from a wheel."""
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
            shutil.copytree(path, src / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    pip = [sys.executable, "-m", "pip"]
    quiet = {"check": True, "capture_output": True}
    wheels = tmp / "wheels"
    subprocess.run(
        [*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", wheels, src], **quiet
    )
    env = tmp / "venv"
    venv.create(env, with_pip=False)
    python = env / "bin" / "python"
    (wheel,) = wheels.glob("*.whl")
    subprocess.run(
        [*pip, "--python", python, "install", "-q", "--no-deps", "--no-index", wheel], **quiet
    )
    site = _site_packages(env)
    (site / "_deps_from_dev_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python, site


def probe(installed: tuple[Path, Path], tmp_path: Path) -> dict[str, Any]:
    user = tmp_path / "user_program"
    (user / "infra").mkdir(parents=True)
    (user / "infra" / "__init__.py").write_text("")
    (user / "infra" / "endpoint.py").write_text("MARKER = 'the user infra'\n")
    (user / "probe.py").write_text(PROBE)
    out = subprocess.run(
        [installed[0], "probe.py", CANARY],
        cwd=user,
        check=True,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONNOUSERSITE": "1"},
    )
    return json.loads(out.stdout)


def test_the_installed_package_lives_under_one_namespace_beside_the_users_infra(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    python, site = installed
    found = probe(installed, tmp_path)
    assert found["user_marker"] == "the user infra"
    assert Path(found["user_infra"]).parent.parent == tmp_path / "user_program"
    for key in ("package", "package_infra"):
        assert Path(found[key]).is_relative_to(site), found[key]
    assert found["component"] == "sagemaker_rollouts.infra.component"
    assert "kms_key_arn" in found["args_fields"]
    assert found["top_level"] == {"strategies": False, "lambdas": False, "rollout_cli": False}
    assert found["lambda_files"] and all(
        Path(p).is_relative_to(site) for p in found["lambda_files"]
    )
    assert found["endpoints"] == ["fraud-detector"]
    assert found["program_error"] is None  # without rich, matplotlib, moto, pulumi_policy
    assert found["program_resources"] > 20
    assert python.exists()


def test_site_packages_gets_nothing_at_top_level_but_the_package(
    installed: tuple[Path, Path],
) -> None:
    _, site = installed
    ours = {p.name for p in site.iterdir()} - {"_deps_from_dev_venv.pth", "__pycache__"}
    ours = {n for n in ours if not n.startswith(("_virtualenv", "distutils-precedence"))}
    assert {n for n in ours if not n.endswith(".dist-info")} == {"sagemaker_rollouts"}
    record = next(site.glob("sagemaker_rollouts-*.dist-info")) / "RECORD"
    tops = {line.split("/", 1)[0] for line in record.read_text().splitlines() if line}
    assert {t for t in tops if not t.endswith(".dist-info") and t != ".."} == {"sagemaker_rollouts"}


def test_the_wheel_marks_the_package_as_typed(installed: tuple[Path, Path]) -> None:
    """PEP 561: `py.typed` tells a user's pyright/mypy to read the package's own annotations."""
    _, site = installed
    assert (site / "sagemaker_rollouts" / "py.typed").is_file()
