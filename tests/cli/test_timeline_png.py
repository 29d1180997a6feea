"""The pictures show what matters: exposure per step with `plan --traffic`, marker labels that do
not overlap, equal lines that stay distinguishable, provisioning and downtime shaded. Checked on
the rendered pixels (matplotlib's own PNG reader), not on our drawing calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sagemaker_rollouts.cli.main import main
from sagemaker_rollouts.cli.stack import load_stack
from sagemaker_rollouts.cli.timeline import Marker, Series, Span, label_rows, write_png
from sagemaker_rollouts.simulator.native import rehearse_native
from sagemaker_rollouts.simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]


def pixels(path: Path) -> Any:
    import matplotlib.image

    return matplotlib.image.imread(str(path))


def has_color(img: Any, hex_color: str, tolerance: float = 0.06) -> bool:
    import numpy as np

    rgb = np.array([int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return bool((np.abs(img[:, :, :3] - rgb).max(axis=2) < tolerance).any())


def test_plan_traffic_png_draws_the_exposure_panel(tmp_path: Path) -> None:
    plain, with_traffic = tmp_path / "plain.png", tmp_path / "traffic.png"
    assert main(["plan", "--stack", "canary", "--dir", str(ROOT), "--png", str(plain)]) == 0
    argv = ["plan", "--stack", "canary", "--dir", str(ROOT), "--traffic", "600"]
    assert main([*argv, "--png", str(with_traffic)]) == 0
    a, b = pixels(plain), pixels(with_traffic)
    assert b.shape[0] > a.shape[0]  # a second panel below the timeline
    assert plain.read_bytes() != with_traffic.read_bytes()


@pytest.mark.parametrize("count", [2, 3, 4])
def test_marker_labels_at_the_same_or_close_times_get_different_rows(count: int) -> None:
    markers = [
        Marker(600.0 + 10 * i, f"stack{i}: some-long-alarm-name-5xx ALARM") for i in range(count)
    ]
    rows = label_rows(markers, x_max_minutes=60)
    assert len(set(rows)) == count
    far = [Marker(60.0, "a"), Marker(3000.0, "b")]
    assert label_rows(far, x_max_minutes=60) == [0, 0]  # no need to move apart


def test_two_series_on_the_same_level_both_show(tmp_path: Path) -> None:
    path = tmp_path / "equal.png"
    same = [(0.0, 25.0), (1200.0, 25.0)]
    write_png(path, "equal", [Series("a", same), Series("b", same)])
    img = pixels(path)
    assert has_color(img, "#1f77b4") and has_color(img, "#ff7f0e")  # matplotlib's C0 and C1


def test_provisioning_and_downtime_are_shaded(tmp_path: Path) -> None:
    plain, shaded = tmp_path / "plain.png", tmp_path / "shaded.png"
    line = [Series("x", [(0.0, 0.0), (600.0, 100.0), (1200.0, 100.0)])]
    write_png(plain, "t", line)
    write_png(
        shaded,
        "t",
        line,
        spans=[Span(0.0, 300.0, "downtime", "dev", 0), Span(300.0, 600.0, "provisioning")],
    )
    assert pixels(plain).mean() > pixels(shaded).mean()  # darker where shaded


def test_recreate_rehearsal_reports_its_downtime_span_and_blue_green_its_provisioning() -> None:
    loaded = load_scenario(ROOT / "scenarios" / "recreate-downtime.yaml")
    dev = load_stack(ROOT, "dev").plan.endpoints[0]
    assert rehearse_native("dev", dev, loaded).spans == [(0.0, 480.0, "downtime")]
    cmp = load_scenario(ROOT / "scenarios" / "compare-regression.yaml")
    bg = load_stack(ROOT, "bluegreen").plan.endpoints[0]
    spans = rehearse_native("bluegreen", bg, cmp).spans
    assert spans and spans[0] == (0.0, 300.0, "provisioning")


# ------------------------------------------------------------------ the program and its files


@pytest.mark.parametrize(
    ("cwd", "directory"),
    [
        (None, str(ROOT / "examples" / "python")),  # absolute --dir
        (ROOT, "examples/python"),  # relative --dir from the repository, as the README shows
        (ROOT / "examples", "python"),
    ],
)
def test_plan_dir_of_a_project_with_its_own_program_plans_that_program(
    cwd: Path | None,
    directory: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    if cwd is not None:
        monkeypatch.chdir(cwd)
    code = main(["plan", "--stack", "dev", "--dir", directory, "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["error"] is None
    assert doc["project"] == "fraud-platform" and doc["program"].endswith("python/__main__.py")
    types = {(r["type"], r["name"]) for r in doc["resources"]}
    assert ("aws:ec2/vpc:Vpc", "ml") in types  # the program's own resources
    assert ("aws:sns/topic:Topic", "ml-alerts") in types
    assert [e["endpoint_name"] for e in doc["endpoints"]] == ["fraud-detector"]
    assert doc["endpoints"][0]["canary_steps"][0][0] == 5  # the component's own plan


def test_relative_paths_in_stack_config_resolve_against_dir_whatever_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # baselines/fraud.json does not exist here
    argv = ["plan", "--stack", "canary-drift", "--dir", str(ROOT), "--png", "out.png"]
    assert main(argv) == 0, capsys.readouterr().err
    assert (tmp_path / "out.png").is_file()  # --png stays relative to where we started
    assert Path.cwd() == tmp_path  # and the directory is restored
