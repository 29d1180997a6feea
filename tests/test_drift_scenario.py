"""A canary held by a drift alarm (issue 11, item 5): scenarios/drift-held.yaml on the
canary-drift sample stack. The scenario feeds captured requests; the real drift job runs against
moto's S3 and CloudWatch on its schedule; the rehearsal evaluates the drift alarms from the scores
it published (moto never evaluates alarms; AWS CloudWatch would) and the real hook reacts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sagemaker_rollouts.cli.main import main
from sagemaker_rollouts.cli.stack import load_stack

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "drift-held.yaml"
ALARM = "fraud-detector-drift-drift-amount"


def _rehearse(capsys: pytest.CaptureFixture[str], scenario: Path) -> tuple[int, dict[str, Any]]:
    code = main(["rehearse", "--dir", str(ROOT), "--scenario", str(scenario), "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_the_drift_alarm_is_a_gate_of_the_canary() -> None:
    ep = load_stack(ROOT, "canary-drift").plan.endpoints[0]
    assert ep.canary is not None and ep.drift is not None and ep.drift.gate
    gates = {a.key for a in ep.alarms if a.gate}
    assert {"drift.amount", "drift.country", "drift.score"} <= gates
    assert "drift.max" not in gates  # the maximum stays a warning
    assert ep.drift.job.variant == ep.canary.candidate_variant


def test_a_drifted_feature_rolls_the_canary_back(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = _rehearse(capsys, SCENARIO)
    assert code == 0 and data["expect"] == {"met": True, "problems": []}
    (run,) = data["rehearsals"]
    assert (run["stack"], run["outcome"], run["candidate_percent"]) == (
        "canary-drift",
        "rolled_back",
        0,
    )
    (rollback,) = [d for d in run["decisions"] if d["decision"] == "rollback"]
    # drift from 600 s: the job's runs at 900 and 1200 s publish PSI > 0.2; the two 5-minute
    # periods holding them end at 1500 s (2 of 2 breaching): ALARM, and the hook rolls back then
    assert (rollback["at"], rollback["trigger"]) == (1500, f"alarm {ALARM} ALARM")
    assert ALARM in rollback["reason"]
    assert rollback["candidate_percent"] == 0


def test_without_drift_the_same_captures_let_the_canary_advance(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    steady = tmp_path / "steady.yaml"
    steady.write_text(
        SCENARIO.read_text()
        .replace("amount_mean: 1.5", "amount_mean: 0")
        .replace("duration: 3600", "duration: 1800")
        .replace("outcome: rolled_back, candidate_percent: 0", "outcome: in_progress")
    )
    code, data = _rehearse(capsys, steady)
    assert code == 0, data["expect"]
    (run,) = data["rehearsals"]
    assert all(d["decision"] != "rollback" for d in run["decisions"])
    assert all(not d["trigger"].startswith("alarm") for d in run["decisions"])
    assert run["candidate_percent"] == 50  # advanced past 5% and 25% in 30 minutes


@pytest.mark.parametrize(
    ("stack", "message"),
    [
        ("canary", "endpoint fraud has no drift job"),
        ("bluegreen", "on canary endpoints only"),
    ],
)
def test_drift_captures_need_a_canary_with_a_drift_job(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, stack: str, message: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        f"stack: {stack}\nduration: 600\ndrift: {{drifted_from: 0}}\n"  # line 3: drift
    )
    code = main(["rehearse", "--dir", str(ROOT), "--scenario", str(bad)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{bad}:3: drift" in err and message in err
