"""Usability edges: missing extras, bad numeric flags, instance-type hints, partial alarm blocks.

The `rollout` script is on PATH after a base `pip install`; commands that need an extra must say
which extra to install instead of ending in a ModuleNotFoundError traceback.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sagemaker_rollouts.cli.main import main

ROOT = Path(__file__).resolve().parents[2]

# Runs the CLI with some top-level modules made unimportable, as in an install without the extra.
BLOCKED_RUN = """
import sys
BLOCKED = set(sys.argv[1].split(","))
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Block())
from sagemaker_rollouts.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


def _run_blocked(blocked: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCKED_RUN, blocked, *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("blocked", "argv", "extra"),
    [
        (
            "moto,rich",
            ("rehearse", "--stack", "canary", "--scenario", "scenarios/regression.yaml"),
            "cli",
        ),
        ("matplotlib", ("plan", "--stack", "canary", "--png", "/dev/null"), "cli"),
        ("sagemaker", ("plan", "--stack", "dev"), "frameworks"),
    ],
)
def test_a_missing_extra_is_named_not_a_traceback(
    blocked: str, argv: tuple[str, ...], extra: str
) -> None:
    done = _run_blocked(blocked, *argv)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"sagemaker-rollouts[{extra}]" in done.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ("plan", "--stack", "canary", "--traffic", "-5"),
        ("plan", "--stack", "canary", "--traffic", "nan"),
        ("plan", "--stack", "canary", "--traffic", "inf"),
        ("status", "--stack", "canary", "--wait", "--timeout", "-1"),
        ("status", "--stack", "canary", "--wait", "--interval", "0"),
    ],
)
def test_bad_numeric_flags_are_usage_errors_before_anything_runs(
    argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert argv[-2] in err and "finite number" in err


@pytest.mark.parametrize(
    ("given", "meant"),
    [
        ("m5.large", "ml.m5.large"),
        ("c5.xlarge", "ml.c5.xlarge"),
        ("ML.M5.LARGE", "ml.m5.large"),
        ("ml.m5.larg", "ml.m5.large"),
        ("g5.2xlarge", "ml.g5.2xlarge"),
        ("ml.bogus.large", None),
    ],
)
def test_instance_type_suggestion_prefers_the_missing_prefix(given: str, meant: str | None) -> None:
    from sagemaker_rollouts.strategies.config import suggest_instance_type

    assert suggest_instance_type(given) == meant


@pytest.mark.parametrize(
    ("given", "key", "expected"),
    [
        # the issue-10 example: turning the 4xx alarm on keeps its default threshold
        ({"errors_4xx": {"enabled": True}}, "errors_4xx", {"enabled": True, "threshold": 50.0}),
        # a retuned threshold keeps latency's own 3 evaluation periods
        (
            {"latency_p99": {"threshold": 150}},
            "latency_p99",
            {"threshold": 150.0, "evaluation_periods": 3},
        ),
        (
            {"errors_5xx": {"period_seconds": 300}},
            "errors_5xx",
            {"threshold": 1.0, "period_seconds": 300},
        ),
        ({"errors_5xx": {"enabled": False}}, "errors_5xx", {"enabled": False, "threshold": 1.0}),
        ({}, "errors_4xx", {"enabled": False, "threshold": 50.0}),
    ],
)
def test_a_partial_standard_alarm_block_is_laid_over_that_alarms_defaults(
    given: dict[str, object], key: str, expected: dict[str, object]
) -> None:
    from sagemaker_rollouts.strategies.config import AlarmsConfig

    alarm = getattr(AlarmsConfig.model_validate(given), key)
    assert {k: getattr(alarm, k) for k in expected} == expected
