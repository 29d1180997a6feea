"""Installs come from one lock: every check installs the same versions on any day.

The lock (requirements/dev.lock, `bash scripts/lock.sh`) pins everything `.[dev]` pulls in; these
tests fail when a dependency is added or narrowed in pyproject.toml without re-locking, or when an
install path (the demo, .ci/run, a workflow) stops using the lock.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "dev.lock"


def _pins() -> dict[str, set[str]]:
    pins: dict[str, set[str]] = {}
    for line in LOCK.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", line)
        if m:
            pins.setdefault(canonicalize_name(m[1]), set()).add(m[2])
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        reqs += [Requirement(r) for r in extra]
    tools = (ROOT / "requirements" / "tools.in").read_text().splitlines()
    reqs += [Requirement(t) for t in tools if t.strip() and not t.startswith("#")]
    return [r for r in reqs if canonicalize_name(r.name) != "sagemaker-rollouts"]


@pytest.mark.parametrize("req", _declared(), ids=str)
def test_every_declared_dependency_is_pinned_within_its_range(req: Requirement) -> None:
    pins = _pins().get(canonicalize_name(req.name))
    assert pins, f"{req.name} is not in requirements/dev.lock: run bash scripts/lock.sh"
    for version in pins:
        assert req.specifier.contains(version, prereleases=True), (
            f"{req.name}=={version} in the lock is outside {req.specifier}: run bash scripts/lock.sh"
        )


def test_the_package_itself_keeps_ranges_not_pins() -> None:
    """A library's own dependencies are ranges; the lock is only for the project's checks."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for raw in project["dependencies"]:
        assert "==" not in raw, raw


def test_every_install_path_uses_the_lock() -> None:
    demo = (ROOT / "scripts" / "demo.sh").read_text()
    assert 'PIP_CONSTRAINT="$PWD/requirements/dev.lock"' in demo
    assert "bash scripts/demo.sh" in (ROOT / ".ci" / "run").read_text()
    for name in ("ci.yml", "deploy.yml"):
        flow = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
        for job in flow["jobs"].values():
            for step in job["steps"]:
                run = str(step.get("run", ""))
                if "pip install" in run:
                    assert "requirements/dev.lock" in run, f"{name}: {step.get('name')}"


def test_the_weekly_drift_check_installs_newest_and_runs_the_same_script() -> None:
    flow = yaml.safe_load((ROOT / ".github" / "workflows" / "deps-drift.yml").read_text())
    on = flow[True]  # YAML 1.1 reads the key `on` as a boolean
    assert "schedule" in on and "workflow_dispatch" in on
    runs = [str(s.get("run", "")) for s in flow["jobs"]["drift"]["steps"]]
    assert "bash scripts/deps-drift.sh" in runs
    script = (ROOT / "scripts" / "deps-drift.sh").read_text()
    assert 'PIP_CONSTRAINT=""' in script and "gen_limits.py --check" in script
    assert "pytest" in script
    assert "bash scripts/deps-drift.sh" in (ROOT / "CONTRIBUTING.md").read_text()
