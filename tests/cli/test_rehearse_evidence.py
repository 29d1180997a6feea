"""Evidence rehearsals: the shipped shadow and A/B scenarios run the real report and evaluator
against moto and meet their expectations; a scenario with a wrong expectation fails (exit 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sagemaker_rollouts.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios" / "evidence").glob("*.yaml"))
EXPECTED = {
    "shadow-agrees": ("recommendation", "promote"),
    "shadow-disagrees": ("recommendation", "reject"),
    "ab-clear-winner": ("winner", "challenger"),
    "ab-too-little-data": ("decision", "none"),
}


def test_the_evidence_scenarios_are_shipped() -> None:
    assert {p.stem for p in SCENARIOS} >= set(EXPECTED)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_evidence_scenario_meets_its_expectation(
    scenario: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["rehearse", "--scenario", str(scenario), "--dir", str(ROOT), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert (code, data["expectation_problems"]) == (0, [])
    key, value = EXPECTED[scenario.stem]
    got = data[key]["action"] if key == "recommendation" else data[key]
    assert got == value


def test_a_wrong_expectation_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (ROOT / "scenarios/evidence/ab-too-little-data.yaml").read_text()
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(text.replace("expect: {decision: none}", "expect: {decision: winner}"))
    assert main(["rehearse", "--scenario", str(wrong), "--dir", str(ROOT)]) == 1
    assert "expectation not met: decision: expected winner, got none" in capsys.readouterr().out


def test_a_bad_evidence_scenario_names_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("stack: ab\nevidence:\n  ab: {countz: {}}\n")
    assert main(["rehearse", "--scenario", str(bad), "--dir", str(ROOT)]) == 2
    assert "evidence.ab.countz" in capsys.readouterr().err
