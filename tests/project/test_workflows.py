"""The example CI/CD pipeline (.github/workflows): actionlint-clean, and it does what README says."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def actionlint() -> str:
    found = Path(sys.executable).with_name("actionlint")
    return str(found) if found.exists() else shutil.which("actionlint") or "actionlint"


def load(name: str) -> dict[Any, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def test_actionlint_passes_our_workflows_and_catches_a_broken_one(tmp_path: Path) -> None:
    ok = subprocess.run([actionlint()], cwd=ROOT, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = tmp_path / ".github" / "workflows"
    broken.mkdir(parents=True)
    (broken / "x.yml").write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ${{ github.no_such_context_key.x }}\n"
        "        if: ${{ matrix.nope }}\n"
    )
    bad = subprocess.run(
        [actionlint(), str(broken / "x.yml")], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 1 and "x.yml" in bad.stdout


def test_ci_runs_lint_typecheck_and_tests() -> None:
    steps = " ".join(str(s.get("run", "")) for s in load("ci.yml")["jobs"]["checks"]["steps"])
    for command in ("ruff check", "ruff format --check", "actionlint", "pyright", "pytest"):
        assert command in steps


def test_deploy_previews_with_the_pack_on_prs_and_gates_up_on_main() -> None:
    flow = load("deploy.yml")
    assert "id-token" not in flow["permissions"]  # only the jobs that assume a role get a token
    preview, up = flow["jobs"]["preview"], flow["jobs"]["up"]
    assert preview["permissions"]["id-token"] == up["permissions"]["id-token"] == "write"
    assert "pull_request" in preview["if"] and "push" in up["if"]
    assert "refs/heads/main" in up["if"]
    pulumi_preview = next(s for s in preview["steps"] if "pulumi/actions" in s.get("uses", ""))
    assert pulumi_preview["with"]["command"] == "preview"
    assert pulumi_preview["with"]["policyPacks"] == "policies"
    envs = {i["stack"]: i["environment"] for i in up["strategy"]["matrix"]["include"]}
    assert envs["canary"] == "production" and up["environment"] == "${{ matrix.environment }}"
    names = [s.get("uses", s.get("run", "")) for s in up["steps"]]
    up_at = next(i for i, n in enumerate(names) if "pulumi/actions" in n)
    gate_at = next(i for i, n in enumerate(names) if "rollout status" in n)
    assert up_at < gate_at and "--wait" in names[gate_at]


def _role_of(job: dict[str, Any]) -> str:
    step = next(s for s in job["steps"] if "configure-aws-credentials" in s.get("uses", ""))
    return str(step["with"]["role-to-assume"])


def test_a_pull_request_never_gets_the_deploy_role() -> None:
    # The deploy role trusts only `main` and the protected environments (infra/iam.py
    # github_trust_policy); the workflow must not even ask for it on a pull request.
    jobs = load("deploy.yml")["jobs"]
    preview, up = jobs["preview"], jobs["up"]
    assert "DEPLOY" not in _role_of(preview) and "matrix.preview_role" in _role_of(preview)
    roles = {i["preview_role"] for i in preview["strategy"]["matrix"]["include"]}
    assert all(r.startswith("AWS_PREVIEW_ROLE_ARN_") for r in roles)
    assert _role_of(up) == "${{ vars.AWS_DEPLOY_ROLE_ARN }}" and "environment" in up
