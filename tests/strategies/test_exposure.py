"""Exposure (strategies/exposure.py) and what each strategy's rehearsal reports (issue 12)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sagemaker_rollouts.cli.main import main
from sagemaker_rollouts.strategies.exposure import exposure, requests, worst_case_step

ROOT = Path(__file__).resolve().parents[2]
FLAT = (600.0,) * 24


@pytest.mark.parametrize(
    ("share", "hourly", "start", "end", "want"),
    [
        ([(0, 100)], FLAT, 0, 60, 600),  # one minute at 100%
        ([(0, 5)], FLAT, 0, 600, 300),  # 10 minutes at 5%
        ([(0, 5), (600, 25)], FLAT, 0, 1200, 300 + 1500),  # a step up
        ([(0, 50), (300, 0)], FLAT, 0, 3600, 1500),  # rolled back after 5 minutes
        ([(0, 100)], FLAT, 1800, 3600, 18000),  # from bad_from on
        ([(600, 100)], FLAT, 0, 1200, 6000),  # 0% before the first point
        ([(0, 100)], tuple(float(h) for h in range(24)), 0, 2 * 3600, 60 * 1.0),  # hour 0: 0/min
        ([(0, 100)], tuple(float(h) for h in range(24)), 23 * 3600, 25 * 3600, 60 * 23),  # wraps
        ([], FLAT, 0, 600, 0),
        ([(0, 100)], FLAT, 600, 600, 0),
    ],
)
def test_requests_integrate_rate_times_share(
    share: list[tuple[float, float]],
    hourly: tuple[float, ...],
    start: float,
    end: float,
    want: float,
) -> None:
    assert requests(share, hourly, start, end) == pytest.approx(want)


def test_exposure_splits_at_bad_from_and_rejects_bad_curves() -> None:
    ex = exposure([(0, 10)], FLAT, 3600, 1800)
    assert ex.served == pytest.approx(3600) and ex.served_bad == pytest.approx(1800)
    assert exposure([(0, 10)], FLAT, 3600, None).served_bad == 0
    with pytest.raises(ValueError, match="24"):
        requests([(0, 1)], (1.0,), 0, 10)


@pytest.mark.parametrize(
    ("pct", "rpm", "detect", "react", "want"),
    [(5, 600, 300, 60, 180.0), (100, 600, 300, 0, 3000.0), (0, 600, 300, 60, 0.0)],
)
def test_worst_case_step(pct: float, rpm: float, detect: float, react: float, want: float) -> None:
    assert worst_case_step(pct, rpm, detect, react) == pytest.approx(want)


def _json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, object]:
    code = main([*argv, "--dir", str(ROOT), "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_compare_reports_each_strategy_side_by_side(capsys: pytest.CaptureFixture[str]) -> None:
    """The same regression: the canary is caught at 5%, blue/green's canary routing at 25%."""
    from tests.cli.test_rehearse import _rehearse_json  # the shipped-scenario test's run

    code, data = _rehearse_json(capsys, ROOT / "scenarios" / "compare-regression.yaml")
    assert code == 0
    rows = data["rehearsals"]
    by = {r["stack"]: r for r in rows}
    assert set(by) == {"canary", "bluegreen"}
    # 600 requests/min x 5% x 300 s, and x 25% (1 of 4 green instances) x 300 s
    assert by["canary"]["requests_served_while_bad"] == pytest.approx(150)
    assert by["bluegreen"]["requests_served_while_bad"] == pytest.approx(750)
    assert all(r["outcome"] == "rolled_back" and r["downtime_seconds"] == 0 for r in rows)


def test_compare_flag_overrides_and_draws_one_png(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = str(ROOT / "scenarios" / "compare-regression.yaml")
    png = tmp_path / "c.png"
    argv = ["rehearse", "--scenario", scenario, "--compare", "linear,rolling", "--png", str(png)]
    assert main([*argv, "--dir", str(ROOT)]) == 0
    out = capsys.readouterr().out
    assert "linear (blue/green)" in out and "rolling (rolling)" in out and "requests served" in out
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_compare_names_every_bad_stack(capsys: pytest.CaptureFixture[str]) -> None:
    scenario = str(ROOT / "scenarios" / "compare-regression.yaml")
    assert main(["rehearse", "--dir", str(ROOT), "--scenario", scenario, "--compare", "x"]) == 2
    assert main(["rehearse", "--dir", str(ROOT), "--scenario", scenario, "--compare", "x,y"]) == 2
    err = capsys.readouterr().err
    assert "--compare x:" in err and "--compare y:" in err


@pytest.mark.parametrize(
    ("name", "served", "bad", "downtime"),
    [
        ("bluegreen-canary-rollback", 750, 750, 0),  # 25% x 600/min x 5 min
        ("rolling-rollback", None, None, 0),
        ("recreate-downtime", 100 * 22, 0, 480),  # 100/min after the 8-minute window
        ("shadow-traffic", 0, 0, 0),  # a shadow answers nobody
    ],
)
def test_each_strategy_reports_exposure_and_downtime(
    name: str,
    served: float | None,
    bad: float | None,
    downtime: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from sagemaker_rollouts.simulator.rehearsal import summarize
    from sagemaker_rollouts.simulator.scenario import load_scenario

    del capsys
    summary, _ = summarize(ROOT, load_scenario(ROOT / "scenarios" / f"{name}.yaml"), None, None)
    assert summary.downtime_seconds == downtime
    if served is not None:
        assert summary.served == pytest.approx(served)
        assert summary.served_bad == pytest.approx(bad)
    else:
        assert summary.served_bad > 0


def test_rolling_rolls_back_batch_by_batch(capsys: pytest.CaptureFixture[str]) -> None:
    scenario = str(ROOT / "scenarios" / "rolling-rollback.yaml")
    code, data = _json(["rehearse", "--scenario", scenario], capsys)
    assert code == 0
    assert isinstance(data, dict)
    steps = data["rehearsals"][0]["decisions"]
    shares = [s["candidate_percent"] for s in steps if s["decision"] == "rollback"]
    assert shares == [50, 25, 0]  # rollback_maximum_batch_size 2 of 8 instances, from 75%


def _endpoint(stack: str):
    from sagemaker_rollouts.cli.stack import load_stack

    return load_stack(ROOT, stack).plan.endpoints[0]


@pytest.mark.parametrize(
    ("stack", "want"),
    [
        # canary steps 5/25/50/100 at 600/min; slowest gate alarm latency_p99 60 s x 3 (its
        # default evaluation periods); the hook's tick 60 s
        ("canary", [(5, 120.0), (25, 600.0), (50, 1200.0), (100, 2400.0)]),
        ("shadow", [(0, 0.0)]),  # a shadow answers nobody
        ("dev", [(100, None)]),  # recreate: no automatic rollback
        ("ab", [(30, None)]),  # A/B: fixed weights until a human picks
    ],
)
def test_worst_case_exposure_per_step(stack: str, want: list[tuple[int, float | None]]) -> None:
    from sagemaker_rollouts.strategies.exposure import worst_case_exposure

    got = [(e.percent, e.requests) for e in worst_case_exposure(_endpoint(stack), 600)]
    assert got == want


def test_worst_case_exposure_blue_green_steps_follow_the_plan() -> None:
    from sagemaker_rollouts.strategies.exposure import worst_case_exposure

    ep = _endpoint("linear")
    rows = worst_case_exposure(ep, 600, sagemaker_reaction_seconds=30)
    assert [e.percent for e in rows] == [25, 50, 75, 100]
    detect = max(a.period_seconds * a.datapoints_to_alarm for a in ep.gate_alarms)
    assert rows[0].requests == pytest.approx(600 * (detect + 30) / 60 * 0.25)
    with pytest.raises(ValueError, match="requests_per_minute"):
        worst_case_exposure(ep, -1)


def test_plan_prints_worst_case_exposure(capsys: pytest.CaptureFixture[str]) -> None:
    """`rollout plan --traffic 600` prints this table after the plan (the plan itself, run under
    Pulumi mocks, is tested in test_cli_plan.py)."""
    from sagemaker_rollouts.cli.cmd_plan import print_exposure
    from sagemaker_rollouts.cli.stack import load_stack

    print_exposure(load_stack(ROOT, "canary"), 600)
    out = capsys.readouterr().out
    assert "worst-case exposure" in out and "2,400" in out
