"""`rollout rehearse` through the entry point: every shipped scenario meets its `expect`, the
alarm-state trigger rolls back in the same invocation, scenario errors name their line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sagemaker_rollouts.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


REHEARSAL_KEYS = {
    "stack",
    "endpoint",
    "strategy",
    "outcome",
    "candidate_percent",
    "time_to_full_seconds",
    "extra_instance_hours",
    "requests_served",
    "requests_served_while_bad",
    "downtime_seconds",
    "evidence",
    "notes",
    "expectation_met",
    "decisions",
}
_RUNS: dict[Path, tuple[int, dict]] = {}


def _rehearse_json(capsys: pytest.CaptureFixture[str], scenario: Path) -> tuple[int, dict]:
    """`rollout rehearse --json` of a shipped scenario, as printed; each scenario runs once per
    session (the behaviour tests below read the same run the parametrized test checked)."""
    if scenario not in _RUNS:
        code = main(["rehearse", "--dir", str(ROOT), "--scenario", str(scenario), "--json"])
        out = capsys.readouterr().out
        _RUNS[scenario] = (code, json.loads(out))
    return _RUNS[scenario]


def _rehearse(capsys: pytest.CaptureFixture[str], scenario: Path) -> tuple[int, list]:
    """The decisions of a single-stack scenario's one rehearsal."""
    code, data = _rehearse_json(capsys, scenario)
    (only,) = data["rehearsals"]
    return code, only["decisions"]


def test_the_fault_scenarios_are_shipped() -> None:
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
    code, data = _rehearse_json(capsys, scenario)
    assert code == 0
    assert set(data) == {"scenario", "duration_seconds", "rehearsals", "expect"}
    if "expect:" in scenario.read_text():
        assert data["expect"] == {"met": True, "problems": []}
    rehearsals = data["rehearsals"]
    assert len(rehearsals) == (2 if "compare:" in scenario.read_text() else 1)
    for r in rehearsals:  # one shape for single and compared rehearsals
        assert set(r) == REHEARSAL_KEYS
        assert r["outcome"] and r["decisions"], "the controller (or the emulator) ran"
        assert r["expectation_met"] is (None if data["expect"] is None else True)
        if "traffic:" not in scenario.read_text():
            assert r["requests_served"] is None and r["requests_served_while_bad"] is None
    if len(rehearsals) > 1:
        return
    steps = rehearsals[0]["decisions"]
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
        ("events: []\n", "duration: required"),
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


@pytest.mark.parametrize(
    ("text", "needles", "absent"),
    [
        # an unknown key: the closest allowed key and every allowed key, at every level
        (
            "durration: 600\n",
            [":2: durration: unknown key; did you mean duration?", "allowed keys: description,"],
            [],
        ),
        (
            "duration: 600\nexpect: {outcom: completed}\n",
            ["expect.outcom: unknown key; did you mean outcome?", "bad_requests_at_most"],
            [],
        ),
        (
            "duration: 600\nevents:\n  - {at: 60, alarm: x, stat: ALARM}\n",
            ["events[0].stat: unknown key; did you mean state?", "allowed keys: at, alarm"],
            [],
        ),
        (
            "duration: 600\nevents:\n  - {at: 60, metric: {variant: c, nam: I, value: 1}}\n",
            ["events[0].metric.nam: unknown key; did you mean name?"],
            [],
        ),
        # a misspelt event kind is checked as that kind: the key itself named, did-you-mean
        (
            "duration: 600\nevents:\n  - {at: 60, comand: pause}\n",
            [":4: events[0].comand: unknown key; did you mean command?"],
            ["exactly one of alarm, metric, command"],
        ),
        (
            "duration: 600\nevents:\n  - {at: 60, foo: 1}\n",
            [":4: events[0]: an event is a mapping with `at` and exactly one of alarm"],
            [],
        ),
        (
            "duration: 600\nsagemaker: {zzz: 1}\n",
            ["sagemaker.zzz: unknown key; allowed keys: provisioning_seconds"],
            ["did you mean"],
        ),
        # list lengths: the key, what it holds and how many were given, no pydantic wording
        (
            "duration: 600\ntraffic: {daily: [1, 2, 3]}\n",
            [":3: traffic.daily: give exactly 24 values (requests per minute", "got 3"],
            ["Tuple should", "after validation"],
        ),
        (
            "duration: 600\ntraffic: {daily: [" + ", ".join(["1"] * 25) + "]}\n",
            ["traffic.daily: give exactly 24 values", "got 25"],
            ["Tuple should"],
        ),
        (
            "duration: 600\ncompare: [canary]\n",
            [":3: compare: give at least 2 stacks", "got 1"],
            ["should have"],
        ),
        # choices and numbers: what is allowed and what was given
        (
            "duration: 600\nevents:\n  - {at: 60, alarm: x, state: RED}\n",
            ["'RED' is not allowed; use one of 'OK', 'ALARM'"],
            ["Input should"],
        ),
        ("duration: -5\n", [":2: duration: must be greater than 0, got -5"], ["Input should"]),
        ("duration: soon\n", ["duration: must be a valid integer", "got 'soon'"], ["Input"]),
        ("events: []\n", ["duration: required"], ["Field required"]),
    ],
)
def test_scenario_errors_name_the_allowed_values_in_plain_words(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    needles: list[str],
    absent: list[str],
) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("stack: canary\n" + text)
    assert main(["rehearse", "--dir", str(ROOT), "--scenario", str(scenario)]) == 2
    err = capsys.readouterr().err
    for needle in needles:
        assert needle in err, err
    for word in absent:
        assert word not in err, err


def test_scenario_errors_are_sorted_by_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(
        "stack: canary\ndurration: 600\ntraffic: {daily: [1]}\nexpect: {outcome: done}\n"
        "events:\n  - {at: -1, command: pause}\n  - {at: 1, alarm: x, state: RED}\n"
        "bad_from: -3\n"
    )
    assert main(["rehearse", "--dir", str(ROOT), "--scenario", str(scenario)]) == 2
    err = capsys.readouterr().err
    lines = [int(m) for m in re.findall(r"bad\.yaml:(\d+):", err)]
    assert len(lines) >= 7 and lines == sorted(lines), err


def test_unknown_variant_lists_each_variant_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "stack: canary\nduration: 600\nevents:\n"
        "  - {at: 60, metric: {variant: blue, name: Invocations, value: 1}}\n"
    )
    assert main(["rehearse", "--dir", str(ROOT), "--scenario", str(scenario)]) == 2
    err = capsys.readouterr().err
    (listed,) = re.findall(r"use one of (.*)", err)
    names = [n.strip() for n in listed.split(",")]
    assert names and len(names) == len(set(names)), err


@pytest.mark.parametrize(
    ("argv", "needle", "absent"),
    [
        ([], "s.yaml:1: stack: canry", "--stack canry"),  # named in the file, not by a flag
        (["--stack", "canry"], "(--stack canry)", "s.yaml:1"),
    ],
)
def test_unknown_stack_is_reported_where_it_was_given(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    needle: str,
    absent: str,
) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text("stack: canry\nduration: 600\n")
    assert main(["rehearse", "--dir", str(ROOT), "--scenario", str(scenario), *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and absent not in err and "stacks here:" in err, err


@pytest.mark.parametrize(
    ("stack", "why"),
    [
        ("bluegreen", "deployment guardrails drive the traffic shifts"),
        ("rolling", "deployment guardrails drive the batches"),
        ("shadow", "the shadow variant answers no users"),
        ("ab", "A/B weights are fixed"),
        ("dev", "update runs to its end"),
    ],
)
def test_operator_commands_are_refused_with_the_strategy_s_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stack: str, why: str
) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"stack: {stack}\nduration: 600\nevents:\n  - {{at: 60, command: pause}}\n")
    assert main(["rehearse", "--dir", str(ROOT), "--scenario", str(scenario)]) == 2
    err = capsys.readouterr().err
    assert ":4: events[0].command" in err and why in err, err
    if stack != "bluegreen" and stack != "rolling":
        assert "SageMaker drives it" not in err


@pytest.mark.parametrize(
    ("argv", "flags"),
    [
        (["--compare", "canary,bluegreen", "--stack", "canary"], "--stack"),
        (["--compare", "canary,bluegreen", "--endpoint", "main"], "--endpoint"),
        (
            ["--compare", "canary,linear", "--stack", "x", "--endpoint", "y"],
            "--stack and --endpoint",
        ),
        (["--endpoint", "main"], "--endpoint alone is ambiguous"),  # the scenario's compare:
    ],
)
def test_compare_with_stack_or_endpoint_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], argv: list[str], flags: str
) -> None:
    scenario = str(ROOT / "scenarios" / "compare-regression.yaml")
    assert main(["rehearse", "--dir", str(ROOT), "--scenario", scenario, *argv]) == 2
    assert flags in capsys.readouterr().err


def test_no_traffic_shows_n_a_not_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without `traffic:` nothing can be counted: n/a in the text and the table, null in JSON."""
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "duration: 1200\nbad_from: 60\nevents:\n  - {at: 300, alarm: candidate.errors_5xx, "
        "state: ALARM}\ncompare: [canary, bluegreen]\n"
    )
    base = ["rehearse", "--dir", str(ROOT), "--scenario", str(scenario)]
    assert main([*base, "--stack", "bluegreen"]) == 0
    out = capsys.readouterr().out
    assert out.count("n/a (no traffic in scenario)") == 2, out
    assert main(base) == 0
    out = capsys.readouterr().out
    assert out.count("n/a (no traffic") == 4, out  # 2 rows x 2 stacks
    assert main([*base, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["requests_served"] for r in data["rehearsals"]] == [None, None]
    assert [r["requests_served_while_bad"] for r in data["rehearsals"]] == [None, None]
    assert data["expect"] is None
