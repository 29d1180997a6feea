"""Issue 9's scenarios through `rollout rehearse` (the real hook against moto, simulated clock):
what each kind of fault must never do, read from the decisions the rehearsal recorded. Each
scenario runs once per session (the run is shared with test_cli_rehearse's `expect` check)."""

from __future__ import annotations

import pytest

from tests.cli.test_rehearse import ROOT, _rehearse

SCEN = ROOT / "scenarios"


def test_kind3_a_refused_promote_never_fires_when_traffic_recovers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, steps = _rehearse(capsys, SCEN / "promote-while-held.yaml")
    refused = [s for s in steps if "refused" in s["reason"]]
    assert refused and refused[0]["at"] == 600 and "low traffic" in refused[0]["reason"]
    assert max(s["candidate_percent"] or 0 for s in steps) == 25  # one step, never a jump to 100
    advances = [s for s in steps if s["decision"] == "advance"]
    assert [s["at"] for s in advances] == [2400]  # sample alarm OK at 1800 + 600 s of evidence


def test_kind4_a_no_data_sawtooth_never_bakes_a_step_and_rolls_back_on_total_missing_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, steps = _rehearse(capsys, SCEN / "no-data-sawtooth.yaml")
    assert not any(s["decision"] == "advance" for s in steps)
    rollback = next(s for s in steps if s["decision"] == "rollback")
    assert "missing this step > limit 900s" in rollback["reason"]
    assert rollback["at"] < 1745  # during the second spell: each spell alone is under 900 s


def test_kind8_a_broken_baseline_holds_and_is_never_rolled_back_onto(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, steps = _rehearse(capsys, SCEN / "baseline-broken-held.yaml")
    assert not any(s["decision"] == "rollback" for s in steps)
    held = [s for s in steps if 300 <= s["at"] < 1500]
    assert held and all(s["decision"] == "hold" for s in held)
    assert all(s["candidate_percent"] == 5 for s in held)
    assert any("baseline alarm" in s["reason"] and "not moving" in s["reason"] for s in held)
    advance = next(s for s in steps if s["decision"] == "advance")
    assert advance["at"] == 2100  # the bake starts over when the baseline clears at 1500
