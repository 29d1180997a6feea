"""A canary held by a drift alarm (issue 11, item 5): scenarios/drift-held.yaml on the
canary-drift sample stack, and the part the rehearsal gives rather than computes: that the real
drift job's published metric puts that per-feature gate alarm in ALARM.

moto stores metric data but never evaluates alarms (AWS would move the alarm on its own): the
alarm's state here is computed by the rehearsal's stand-in for CloudWatch (`cli/alarm_sim.py`)
from the datapoints the drift job published to moto's CloudWatch, read back with
GetMetricStatistics.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sagemaker_rollouts.cli import capture_gen
from sagemaker_rollouts.cli.alarm_sim import MetricSeries, evaluate
from sagemaker_rollouts.cli.capture_gen import CaptureSpec
from sagemaker_rollouts.cli.main import main
from sagemaker_rollouts.cli.moto_server import moto_server
from sagemaker_rollouts.cli.stack import load_stack
from sagemaker_rollouts.lambdas import drift_job
from sagemaker_rollouts.strategies.drift import FEATURE_METRIC, METRIC_NAMESPACE

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "drift-held.yaml"
T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_the_drift_scenario_rolls_the_canary_back_on_the_drift_gate(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["rehearse", "--dir", str(ROOT), "--scenario", str(SCENARIO), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["expect"] == {"met": True, "problems": []}
    (run,) = data["rehearsals"]
    assert (run["stack"], run["outcome"], run["candidate_percent"]) == (
        "canary-drift",
        "rolled_back",
        0,
    )
    rollback = [d for d in run["decisions"] if d["decision"] == "rollback"]
    assert len(rollback) == 1
    alarm = "fraud-detector-drift-drift-amount"
    assert rollback[0]["trigger"] == f"alarm {alarm} ALARM"
    assert alarm in rollback[0]["reason"]
    # nothing rolled back before the drift alarm fired
    assert all(d["decision"] != "rollback" for d in run["decisions"] if d["at"] < 900)


def test_the_drift_alarm_is_a_gate_of_the_canary() -> None:
    ep = load_stack(ROOT, "canary-drift").plan.endpoints[0]
    assert ep.canary is not None and ep.drift is not None and ep.drift.gate
    gates = {a.key for a in ep.alarms if a.gate}
    assert {"drift.amount", "drift.country", "drift.score"} <= gates
    assert "drift.max" not in gates  # the maximum stays a warning
    assert ep.drift.job.variant == ep.canary.candidate_variant


@pytest.fixture(scope="module")
def moto_session() -> Iterator[Any]:
    import boto3

    with moto_server() as _:
        yield boto3.session.Session(region_name="us-east-1")


@pytest.mark.parametrize(
    ("amount_mean", "state"), [(0.0, "OK"), (1.5, "ALARM")], ids=["steady", "drifted"]
)
def test_the_real_drift_job_moves_the_scenario_s_alarm(
    moto_session: Any, amount_mean: float, state: str
) -> None:
    """Captures of the candidate (amount shifted by `amount_mean` standard deviations), the drift
    job run at two 15-minute schedule times, its FeatureDrift read back from moto: the gate alarm
    the scenario sets (`drift.amount`, 2 of 2 periods above 0.2) is ALARM only when drifted."""
    ep = load_stack(ROOT, "canary-drift").plan.endpoints[0]
    assert ep.drift is not None
    job = ep.drift.job
    alarm = next(a for a in ep.alarms if a.key == "drift.amount")
    s3, cw = moto_session.client("s3"), moto_session.client("cloudwatch")
    bucket = f"capture-{state.lower()}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=job.baseline_key, Body=ep.drift.baseline_json.encode())
    spec = CaptureSpec(
        endpoint=job.endpoint_name,
        production="stable",
        shadow=job.variant,  # the candidate's captures
        requests=2400,
        gap_ms=750,  # 30 minutes of requests
        amount_mean=amount_mean,
        start=T0,
    )
    capture_gen.upload(s3, bucket, job.capture_prefix, spec)
    env = {"DRIFT_SPEC": job.to_json(), "CAPTURE_BUCKET": bucket}
    clients = drift_job.DriftClients(s3=s3, cloudwatch=cw)
    period = job.every_minutes * 60
    for k in (1, 2):  # the schedule's runs at +15 min and +30 min
        out = drift_job.run({}, env, clients, T0.timestamp() + k * period, log=lambda _: None)
        assert out["records"] == job.sample_size
    points = cw.get_metric_statistics(
        Namespace=METRIC_NAMESPACE,
        MetricName=FEATURE_METRIC,
        Dimensions=[{"Name": n, "Value": v} for n, v in alarm.dimensions],
        StartTime=T0,
        EndTime=T0 + timedelta(hours=1),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    assert len(points) == 2
    # Each datapoint in the period that holds its timestamp, as CloudWatch files it: the runs at
    # +15 and +30 min fill the periods [15, 30) and [30, 45) min, both finished at +45 min.
    changes = tuple(
        sorted((int((p["Timestamp"] - T0).total_seconds()), p["Maximum"]) for p in points)
    )
    assert [t for t, _ in changes] == [period, 2 * period]
    assert all((v > alarm.threshold) is (state == "ALARM") for _, v in changes)
    assert evaluate(alarm, MetricSeries(changes), 3 * period, "OK") == state
