"""The generated AWS limits agree with the installed botocore, and strategies/ never imports it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _generator() -> object:
    spec = importlib.util.spec_from_file_location("gen_limits", ROOT / "scripts" / "gen_limits.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_limits_match_the_installed_botocore_and_ec2_table() -> None:
    """Fails when botocore (or moto's EC2 table) changes: rerun scripts/gen_limits.py."""
    gen = _generator()
    stale = gen.stale_keys(gen.compute())  # type: ignore[attr-defined]
    assert stale == [], f"strategies/aws_limits.py is stale for {stale}: run scripts/gen_limits.py"


def test_nvme_types_follow_the_instance_store_table() -> None:
    from sagemaker_rollouts.strategies.config import has_local_nvme

    for itype in ("ml.dl1.24xlarge", "ml.m5d.large", "ml.g4dn.xlarge", "ml.p4d.24xlarge"):
        assert has_local_nvme(itype), itype
    for itype in ("ml.m5.large", "ml.p3.2xlarge", "ml.inf2.xlarge", "ml.c7g.large", "nope"):
        assert not has_local_nvme(itype), itype


def test_validating_a_config_imports_no_botocore() -> None:
    """strategies/ reads generated data: loading and validating a config never imports botocore."""
    code = (
        "import sys; from tests.stackdata import canary;"
        "from sagemaker_rollouts.strategies.config import load_config;"
        "from sagemaker_rollouts.strategies.planner import build_plan;"
        "build_plan(load_config(canary()), project='p', stack='s');"
        "print('botocore' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False", out.stderr
