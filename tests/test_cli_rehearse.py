"""`rollout rehearse` through the entry point: every shipped scenario meets its `expect`, the
alarm-state trigger rolls back in the same invocation, scenario errors name their line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sagemaker_rollouts.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


_RUNS: dict[Path, tuple[int, list]] = {}


def _rehearse(capsys: pytest.CaptureFixture[str], scenario: Path) -> tuple[int, list]:
    """`rollout rehearse --json` of a shipped scenario; each scenario runs once per session (the
    behaviour tests below read the same run the parametrized test checked)."""
    if scenario not in _RUNS:
        code = main(["rehearse", "--dir", str(ROOT), "--scenario", str(scenario), "--json"])
        out = capsys.readouterr().out
        _RUNS[scenario] = (code, json.loads(out) if out.strip() else [])
    return _RUNS[scenario]


def test_the_issue_s_scenarios_are_shipped() -> None:
    names = {p.stem for p in SCENARIOS}
    assert {
        "happy-path",
        "regression",
        "no-data-held",
        "low-traffic-held",
        "pause-and-resume",
        "abort",
        "promote-full",
        "day-long-canary",
        "bluegreen-canary-rollback",
        "bluegreen-linear",
        "rolling-rollback",
        "recreate-downtime",
        "shadow-traffic",
        "ab-traffic",
        "compare-regression",
    } <= names


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_shipped_scenario_meets_its_expectation(
    scenario: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, steps = _rehearse(capsys, scenario)
    assert code == 0
    assert steps, "the controller (or the emulator) ran"
    if "compare:" in scenario.read_text():
        assert all(s["outcome"] for s in steps)  # one summary per compared stack
        return
    for s in steps:
        assert set(s) >= {"at", "decision", "reason", "weights", "status", "candidate_percent"}
        assert all(w >= 0 for w in s["weights"].values())
        if s["decision"] != "downtime":  # recreate's window: nothing serves, by design
            assert sum(s["weights"].values()) > 0  # some variant always serves
    times = [s["at"] for s in steps]
    assert times == sorted(times)


def test_alarm_event_rolls_back_in_the_same_invocation(capsys: pytest.CaptureFixture[str]) -> None:
    """Stands in for the EventBridge alarm-state rule: the hook runs at the alarm's time."""
    _, steps = _rehearse(capsys, ROOT / "scenarios" / "regression.yaml")
    rollback = next(s for s in steps if s["decision"] == "rollback")
    assert rollback["trigger"].startswith("alarm ")
    assert rollback["at"] == 1500
    assert rollback["weights"]["candidate"] == 0
    assert not any(s["decision"] == "advance" for s in steps if s["at"] > 1500)


def test_low_traffic_holds_until_the_sample_alarm_clears(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """moto never evaluates alarms; the rehearsal evaluates the sample alarm from metric values."""
    _, steps = _rehearse(capsys, ROOT / "scenarios" / "low-traffic-held.yaml")
    first_advance = next(s for s in steps if s["decision"] == "advance")
    # 50/min from 2400 s fills the 600 s window by 3000 s; the bake counts only time with enough
    # traffic, so its 600 s start then (not at 0, when the candidate saw almost nothing).
    assert first_advance["at"] == 3600
    assert any("low traffic" in s["reason"] for s in steps if s["at"] < 3000)


def test_paused_rollout_does_not_advance(capsys: pytest.CaptureFixture[str]) -> None:
    _, steps = _rehearse(capsys, ROOT / "scenarios" / "pause-and-resume.yaml")
    assert not [s for s in steps if 300 <= s["at"] < 1800 and s["decision"] == "advance"]
    assert [s for s in steps if s["at"] > 1800 and s["decision"] == "advance"]


def test_unmet_expectation_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "wrong.yaml"
    scenario.write_text(
        "stack: canary\nduration: 600\nevents:\n"
        "  - {at: 120, alarm: candidate.errors_5xx, state: ALARM}\n"
        "expect: {outcome: completed}\n"
    )
    assert main(["rehearse", "--dir", str(ROOT), "--scenario", str(scenario)]) == 1
    assert "expected completed, got rolled_back" in capsys.readouterr().out


def test_rehearse_prints_decisions_and_draws_png(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "r.png"
    scenario = ROOT / "scenarios" / "abort.yaml"
    assert (
        main(["rehearse", "--dir", str(ROOT), "--scenario", str(scenario), "--png", str(png)]) == 0
    )
    out = capsys.readouterr().out
    assert "rollback" in out and "aborted by" in out and "expectation met" in out
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("duration: 600\nevents:\n  - {at: 60, alarm: x, state: RED}\n", ":3: events[0].state"),
        ("duration: 600\nevents:\n  - {at: 60, command: reboot}\n", ":3: events[0].command"),
        ("duration: 600\nevents:\n  - {at: 900, command: pause}\n", ":3: events[0].at"),
        ("duration: 600\nevents:\n  - {at: 60}\n", ":3: events[0]: an event"),
        ("duration: 600\nexpect: {outcome: done}\n", ":2: expect.outcome"),
        ("duration: 600\nbogus: 1\n", ":2: bogus: unknown key"),
        ("events: []\n", "duration: Field required"),
        ("duration: [\n", "not valid YAML"),
        (
            "duration: 600\nevents:\n  - {at: 60, alarm: nope, state: ALARM}\n",
            ":3: events[0].alarm",
        ),
        (
            "duration: 600\nevents:\n  - {at: 60, metric: {variant: blue, name: Invocations, value: 1}}\n",
            ":3: events[0].metric.variant",
        ),
        ("duration: 600\nendpoint: nope\n", ":2: endpoint"),
        (
            "duration: 600\ntraffic: {requests_per_minute: 1, daily: [1]}\n",
            ":2: traffic",
        ),
        ("duration: 600\ntraffic: {daily: [1, 2, 3]}\n", ":2: traffic.daily"),
        ("duration: 600\ntraffic: {requests_per_minute: -5}\n", ":2: traffic.requests_per_minute"),
        ("duration: 600\nbad_from: -1\n", ":2: bad_from"),
        ("duration: 600\ndetect: {alarm: candidate.errors_5xx}\n", ":2: detect: needs bad_from"),
        ("duration: 600\nsagemaker: {provisioning_seconds: -1}\n", ":2: sagemaker.provisioning"),
        ("duration: 600\nsagemaker: {warmup: 1}\n", ":2: sagemaker.warmup: unknown key"),
        ("duration: 600\ncompare: [canary]\n", ":2: compare"),
        ("duration: 600\nexpect: {downtime_seconds: -1}\n", ":2: expect.downtime_seconds"),
    ],
)
def test_bad_scenario_exits_2_naming_the_key_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, needle: str
) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("stack: canary\n" + text)
    code = main(["rehearse", "--dir", str(ROOT), "--scenario", str(scenario)])
    err = capsys.readouterr().err
    assert code == 2
    # the scenario's first line is `stack:`, so every line number is shifted by one
    shifted = needle
    if needle.startswith(":"):
        line, rest = needle[1:].split(":", 1)
        shifted = f":{int(line) + 1}:{rest}"
    assert shifted in err, err


def test_blue_green_rehearsal_rejects_operator_commands_and_metrics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SageMaker drives blue/green: no pause or promote; metric events feed canary alarms only.
    Every problem is reported, each with its line."""
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "duration: 600\nevents:\n  - {at: 60, command: pause}\n"
        "  - {at: 60, metric: {variant: candidate, name: Invocations, value: 1}}\n"
        "  - {at: 60, alarm: nope, state: ALARM}\n"
    )
    argv = ["rehearse", "--dir", str(ROOT), "--stack", "bluegreen", "--scenario", str(scenario)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert ":3: events[0].command" in err and "operator commands" in err
    assert ":4: events[1].metric" in err
    assert ":5: events[2].alarm" in err and "unknown alarm" in err


def test_rehearse_needs_a_stack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text("duration: 600\n")
    assert main(["rehearse", "--dir", str(ROOT), "--scenario", str(scenario)]) == 2
    assert "--stack" in capsys.readouterr().err
