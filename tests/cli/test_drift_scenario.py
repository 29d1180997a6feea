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
from tests.plan_fixtures import rollout_of

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "drift-held.yaml"
ALARM = "fraud-detector-drift-drift-amount"


def _rehearse(capsys: pytest.CaptureFixture[str], scenario: Path) -> tuple[int, dict[str, Any]]:
    code = main(["rehearse", "--dir", str(ROOT), "--scenario", str(scenario), "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_the_drift_alarm_is_a_gate_of_the_canary() -> None:
    ep = load_stack(ROOT, "canary-drift").plan.endpoints[0]
    assert ep.drift is not None and ep.drift.gate
    gates = {a.key for a in ep.alarms if a.gate}
    assert {"drift.amount", "drift.country", "drift.score"} <= gates
    assert "drift.max" not in gates  # the maximum stays a warning
    assert ep.drift.job.variant == rollout_of(ep).candidate_variant


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
    # before the job's first scores the drift gates are INSUFFICIENT_DATA (the hold of step 0)
    # and its health alarm reads the silence as a failure; no feature's drift alarm ever fires
    fired = [d["trigger"] for d in run["decisions"] if d["trigger"].endswith(" ALARM")]
    assert not [t for t in fired if "-drift-" in t and "-drift-job " not in t], fired
    assert run["candidate_percent"] == 50  # advanced past 5% and 25% in 30 minutes


def test_a_broken_drift_job_holds_the_canary_and_never_reads_as_no_drift(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The baseline object is gone (as the capture lifecycle rule used to delete it): every run
    fails, publishes no score and reports DriftJobFailed; the gates stay INSUFFICIENT_DATA and
    the canary holds at its first step, where the same captures let it advance otherwise."""
    from sagemaker_rollouts.simulator import rehearsal

    start = rehearsal._DriftFeed.start  # pyright: ignore[reportPrivateUsage]

    def without_baseline(aws: Any, endpoint: Any, scenario: Any, base: float) -> Any:
        feed = start(aws, endpoint, scenario, base)
        aws.s3.delete_object(Bucket=feed.bucket, Key=feed.plan.job.baseline_key)
        return feed

    monkeypatch.setattr(rehearsal._DriftFeed, "start", staticmethod(without_baseline))  # pyright: ignore[reportPrivateUsage]
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        SCENARIO.read_text()
        .replace("amount_mean: 1.5", "amount_mean: 0")
        .replace("duration: 3600", "duration: 1500")
        .replace("outcome: rolled_back, candidate_percent: 0", "outcome: rolled_back")
    )
    code, data = _rehearse(capsys, broken)
    (run,) = data["rehearsals"]
    limit = rollout_of(load_stack(ROOT, "canary-drift").plan.endpoints[0])
    assert limit is not None
    before = [d for d in run["decisions"] if d["at"] <= limit.insufficient_data_limit_seconds]
    assert before and all(d["decision"] == "hold" for d in before), before
    assert all("INSUFFICIENT_DATA" in d["reason"] for d in before if d["at"] > 0)
    # past the step's limit of missing evidence the controller rolls back, naming the gate
    (rollback,) = [d for d in run["decisions"] if d["decision"] == "rollback"]
    assert "-drift-" in rollback["reason"] and "INSUFFICIENT_DATA" in rollback["reason"]
    assert rollback["at"] > limit.insufficient_data_limit_seconds
    assert code == 0, data["expect"]
