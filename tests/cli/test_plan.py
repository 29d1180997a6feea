"""`rollout plan` through the entry point: every sample stack, JSON, PNG, config errors, secrets."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sagemaker_rollouts.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_STACKS = sorted(
    p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in ROOT.glob("Pulumi.*.yaml")
)
PROFILE_LABELS = (
    "downtime",
    "rollback speed",
    "live-traffic testing",
    "extra instances",
    "extra instance-hours",
    "time to 100%",
)


def _plan_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(["plan", "--json", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_sample_stacks_are_present() -> None:
    assert {"dev", "canary", "shadow", "ab", "bluegreen", "rolling", "multi"} <= set(SAMPLE_STACKS)


@pytest.mark.parametrize("stack", SAMPLE_STACKS)
def test_plan_json_lists_the_program_resources_and_each_endpoint_profile(
    stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _plan_json(capsys, "--stack", stack, "--dir", str(ROOT))
    assert data["stack"] == stack and data["error"] is None
    types = {r["type"] for r in data["resources"]}
    assert "aws:sagemaker/endpoint:Endpoint" in types
    assert "aws:sagemaker/endpointConfiguration:EndpointConfiguration" in types
    endpoints = [r for r in data["resources"] if r["type"] == "aws:sagemaker/endpoint:Endpoint"]
    assert len(endpoints) == len(data["endpoints"])
    for ep in data["endpoints"]:
        profile = ep["profile"]
        assert set(profile) >= {
            "downtime",
            "rollback_speed",
            "live_traffic_test",
            "extra_instances",
            "extra_instance_hours",
            "time_to_full_seconds",
        }
        assert all(0 <= pct <= 100 for _, pct in ep["timeline"])
        if ep["strategy"] == "canary":
            assert ep["canary_steps"][-1][0] == 100
            assert "aws:lambda/function:Function" in types  # the hook is declared


def test_plan_prints_resources_and_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--stack", "canary", "--dir", str(ROOT)]) == 0
    out = capsys.readouterr().out
    assert "aws:sagemaker/endpoint:Endpoint" in out
    for label in PROFILE_LABELS:
        assert label in out
    assert "canary steps" in out
    # The pack's advisory findings: the sample's models run without network isolation.
    assert "advisory model-network-isolation" in out


def test_plan_json_carries_the_policy_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _plan_json(capsys, "--stack", "canary", "--dir", str(ROOT))
    levels = {(f["policy"], f["level"]) for f in data["policy_findings"]}
    assert levels == {("model-network-isolation", "advisory")}
    # A stack whose model opts in to network isolation has no such finding.
    raw = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    for model in raw["config"]["sagemaker-rollouts:endpoints"]["churn"]["models"].values():
        model["network_isolation"] = True
    (tmp_path / "Pulumi.iso.yaml").write_text(yaml.safe_dump(raw))
    data = _plan_json(capsys, "--stack", "iso", "--dir", str(tmp_path))
    assert data["policy_findings"] == []


def test_plan_png_draws_the_planned_timeline(tmp_path: Path) -> None:
    png = tmp_path / "plan.png"
    assert main(["plan", "--stack", "multi", "--dir", str(ROOT), "--png", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_stack_file_exits_2_naming_the_file_and_the_stacks_present(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["plan", "--stack", "nope", "--dir", str(ROOT)]) == 2
    err = capsys.readouterr().err
    assert "Pulumi.nope.yaml" in err and "not found" in err and "canary" in err


def _write_stack(tmp_path: Path, name: str, mutate) -> Path:  # type: ignore[no-untyped-def]
    doc = yaml.safe_load((ROOT / "Pulumi.canary.yaml").read_text())
    mutate(doc["config"]["sagemaker-rollouts:endpoints"]["fraud"])
    (tmp_path / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path


def test_invalid_config_reports_every_error_with_its_key_path_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def break_it(ep: dict) -> None:
        ep["strategy"]["canary"]["steps"] = [5, 120]
        ep["variants"][0]["instance_type"] = "ml.nope.large"

    _write_stack(tmp_path, "bad", break_it)
    assert main(["plan", "--stack", "bad", "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "endpoints.fraud.strategy.canary.steps[1]" in err
    assert "endpoints.fraud.variants[0].instance_type" in err


def test_secret_config_values_are_redacted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ciphertext = "v1:AAABBBCCCsecretciphertext"

    def add_secret(ep: dict) -> None:
        ep["models"]["v2"]["environment"] = {"API_TOKEN": {"secure": ciphertext}}

    _write_stack(tmp_path, "secret", add_secret)
    assert main(["plan", "--stack", "secret", "--dir", str(tmp_path), "--json"]) == 0
    out = capsys.readouterr().out
    assert ciphertext not in out
    assert "[secret]" in out
    assert main(["plan", "--stack", "secret", "--dir", str(tmp_path)]) == 0
    assert ciphertext not in capsys.readouterr().out


def test_console_script_smoke(tmp_path: Path) -> None:
    """The installed `rollout` script (pyproject [project.scripts]) runs `plan` end to end."""
    script = shutil.which("rollout", path=str(Path(sys.executable).parent))
    assert script is not None, "the package is not installed: pip install -e .[dev]"
    png = tmp_path / "canary.png"
    done = subprocess.run(
        [script, "plan", "--stack", "canary", "--png", str(png)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},  # no AWS credentials at all
    )
    assert done.returncode == 0, done.stderr
    assert "time to 100%" in done.stdout
    assert png.is_file()


# What a canary stack's `rollout plan` has no use for: the A/B test's design math, the timeline
# drawing (--png only), the shadow/A-B/drift evidence, the rehearsal and report engines, AWS
# clients, and pulumi_aws service packages the stack declares nothing from.
NOT_FOR_A_CANARY_PLAN = (
    "sagemaker_rollouts.lambdas.ab_winner",
    "sagemaker_rollouts.cli.timeline",
    "matplotlib",
    "sagemaker_rollouts.strategies.shadow_compare",
    "sagemaker_rollouts.lambdas.drift",
    "sagemaker_rollouts.infra.evaluators",
    "sagemaker_rollouts.cli.shadow_engine",
    "sagemaker_rollouts.cli.rehearse_evidence",
    "sagemaker_rollouts.simulator.rehearsal",
    "sagemaker_rollouts.simulator.moto_server",
    "sagemaker_rollouts.strategies.esc",
    "moto",
    "boto3",
    "botocore",
    "duckdb",
    "sqlglot",
    "pulumi_aws.glue",
)
LOADED_AT_EXIT = (
    "import atexit, json, sys\n"
    "def loaded():\n"  # pulumi_aws registers every service package as a lazy stub: not loaded
    "    return sorted(n for n, m in sys.modules.items() if type(m).__name__ != '_LazyModule')\n"
    "atexit.register(lambda: sys.__stderr__.write('LOADED ' + json.dumps(loaded()) + '\\n'))\n"
    "sys.argv = ['rollout', *sys.argv[1:]]\n"
    "from sagemaker_rollouts.cli.main import main\n"
    "main()\n"
)


@pytest.mark.parametrize("output", [[], ["--json"]], ids=["text", "json"])
def test_a_canary_plan_imports_nothing_it_has_no_use_for(output: list[str]) -> None:
    """The console script's own path (`main()`, a fresh process): the modules loaded when the
    command ends include the offline run and the policy rules, and none a canary never uses."""
    done = subprocess.run(
        [sys.executable, "-c", LOADED_AT_EXIT, "plan", "--stack", "canary", *output],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    line = [x for x in done.stderr.splitlines() if x.startswith("LOADED ")][-1]
    loaded = set(json.loads(line.removeprefix("LOADED ")))
    assert {"sagemaker_rollouts.simulator.mockrun", "sagemaker_rollouts.infra.policies"} <= loaded
    unused = [
        m
        for m in NOT_FOR_A_CANARY_PLAN
        if m in loaded or any(n.startswith(m + ".") for n in loaded)
    ]
    assert unused == []


BAD_COMPONENT = """
from sagemaker_rollouts import RolloutEndpoint

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
RolloutEndpoint("fraud", {
    "models": {"v1": {"image": IMAGE, "model_data_url": "s3://acme/fraud/v1/model.tar.gz"}},
    "variants": [{"name": "main", "model": "v1", "instance_type": "ml.m5.lage"}],
    "strategy": {"recreate": {}},
    "kms_key": "arn:aws:kms:us-east-1:123456789012:key/abc",
})
"""


def test_plan_of_a_program_with_invalid_component_args_is_an_invalid_config_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Invalid component args in a project's own program are the user's config to fix, as in a
    stack file: exit 2, every `key.path: message`, and the --json error document."""
    (tmp_path / "Pulumi.yaml").write_text("name: platform\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: us-east-1\n")
    (tmp_path / "__main__.py").write_text(BAD_COMPONENT)
    assert main(["plan", "--stack", "dev", "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].endswith("RolloutEndpoint 'fraud': invalid args"), err
    assert [line.split(":")[0].strip() for line in err[1:]] == [
        "kms_key",
        "variants[0].instance_type",
    ]
    assert main(["plan", "--stack", "dev", "--dir", str(tmp_path), "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["error"]["exit_code"] == 2 and len(doc["error"]["details"]) == 2
