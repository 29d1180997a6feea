"""The generated AWS limits agree with the installed botocore, and strategies/ never imports it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> object:
    spec = importlib.util.spec_from_file_location("gen_limits", ROOT / "scripts" / "gen_limits.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_limits_match_the_installed_botocore_and_ec2_table() -> None:
    """Fails when a limit in botocore (or moto's EC2 table) changed: rerun scripts/gen_limits.py."""
    gen = _generator()
    changed = gen.differences(gen.compute())  # type: ignore[attr-defined]
    assert changed == [], (
        "strategies/aws_limits.py is stale: run scripts/gen_limits.py\n" + "\n".join(changed)
    )


def test_a_botocore_release_that_changes_no_limit_is_no_difference() -> None:
    """A patch release moves only the version stamp: nothing to regenerate."""
    gen = _generator()
    data = gen.compute()  # type: ignore[attr-defined]
    data["BOTOCORE_VERSION"] = "99.0.0"
    assert gen.differences(data) == []  # type: ignore[attr-defined]


def test_a_changed_limit_is_named() -> None:
    """Each changed limit is named: a shape bound, an enum value added or removed, an NVMe type."""
    gen = _generator()
    data = gen.compute()  # type: ignore[attr-defined]
    data["SHAPES"] = {**data["SHAPES"], "sagemaker.AlarmList": {"max": 20, "min": 1}}
    enums = dict(data["ENUMS"])
    enums["sagemaker.ProductionVariantInstanceType"] = (
        *enums["sagemaker.ProductionVariantInstanceType"][1:],
        "ml.new9.xlarge",
    )
    data["ENUMS"] = enums
    data["NVME_INSTANCE_TYPES"] = (*data["NVME_INSTANCE_TYPES"], "ml.new9.xlarge")
    first = gen.compute()["ENUMS"]["sagemaker.ProductionVariantInstanceType"][0]  # type: ignore[attr-defined]
    changed = gen.differences(data)  # type: ignore[attr-defined]
    assert changed == [
        "SHAPES[sagemaker.AlarmList]: {'max': 10, 'min': 1} -> {'max': 20, 'min': 1}",
        "ENUMS[sagemaker.ProductionVariantInstanceType]: "
        f"added ['ml.new9.xlarge'], removed [{first!r}]",
        "NVME_INSTANCE_TYPES: added ['ml.new9.xlarge'], removed []",
    ]


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
