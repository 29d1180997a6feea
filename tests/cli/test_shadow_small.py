"""The small engine (`cli/shadow_small.py`) against DuckDB running the comparison query: the same
result row and the same differences over the same capture files, or a decline (then the report
runs DuckDB). The query text (`comparison_sql`) is the one specification; these tests hold the
Python evaluation of it to DuckDB's, over every field shape, capture mode, encoding, repeats
with sampled shadows, ties in time and the window's and the range's edges."""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from sagemaker_rollouts.cli.cmd_shadow import compare, compare_local
from sagemaker_rollouts.cli.shadow_engine import LocalEngine
from sagemaker_rollouts.cli.shadow_small import (
    Declined,
    PythonEngine,
    capture_files,
    small_engine,
)
from sagemaker_rollouts.simulator import capture_gen
from sagemaker_rollouts.simulator.capture_gen import CaptureSpec
from sagemaker_rollouts.strategies.shadow_compare import (
    WHOLE_ANSWER,
    FieldSpec,
    ShadowReportPlan,
    Thresholds,
    differences_sql,
    parse_row,
)
from tests.shadow_captures import (
    CSV_LABEL,
    CSV_SCORE,
    EP,
    LABEL,
    SCORE,
    capture_sql,
    comparison_args,
)

T0 = datetime(2026, 11, 29, 13, 0, tzinfo=UTC)  # records in the 13:00 hour folder
HOUR = "2026/11/29/13"
NESTED = FieldSpec("p", "number", json_path="$.probs.fraud", tolerance=0.0)
INDEXED = FieldSpec("first", "label", json_path="$.top[0]")
# Field sets and the answers they read without a decline (a JSON field over a CSV answer is
# declined: DuckDB's JSON reader accepts more than Python's).
FIELD_SETS: list[tuple[list[FieldSpec], str]] = [
    ([SCORE], "json"),
    ([LABEL], "json"),
    ([SCORE, LABEL], "json"),
    ([CSV_SCORE, CSV_LABEL], "text"),
    ([WHOLE_ANSWER], "any"),
    ([NESTED, INDEXED], "json"),
    ([SCORE, LABEL, CSV_SCORE, CSV_LABEL, WHOLE_ANSWER, NESTED, INDEXED], "json"),
]


def _duckdb_result(
    engine: LocalEngine,
    fields: list[FieldSpec],
    since: datetime,
    until: datetime,
    window: int,
    rounds: int,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    sql = capture_sql(fields, since, until, window=window, rounds=rounds)
    return engine.rows(sql)[0], engine.rows(differences_sql(sql, fields))


def _python_result(
    root: Path,
    fields: list[FieldSpec],
    since: datetime,
    until: datetime,
    window: int,
    rounds: int,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    files = capture_files(str(root), EP)
    if files is None:
        raise Declined("tree")
    args = comparison_args(fields, since, until, window=window, rounds=rounds)
    return PythonEngine(files).comparison(**args, differences=True)


def _assert_same(
    got: tuple[dict[str, Any], list[dict[str, Any]]],
    want: tuple[dict[str, Any], list[dict[str, Any]]],
    fields: list[FieldSpec],
) -> None:
    (row, diffs), (want_row, want_diffs) = got, want
    means = {f"f{i}_mean_abs_diff" for i in range(len(fields))}
    assert set(row) == set(want_row)
    for k, v in want_row.items():
        if k in means and v is not None:
            # a sum's last bits depend on the order it was added in (DuckDB's threads)
            assert row[k] == pytest.approx(v, rel=1e-12), k
        else:
            assert row[k] == v, k
    assert diffs == want_diffs
    assert parse_row(row, fields) == parse_row(want_row, fields)


# --------------------------------------------------------------------------- captures

# inferenceTime spellings: the first seven are read by the small engine, the rest declined
_TIMES: list[Callable[[datetime], Any]] = [
    lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z",
    lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z",
    lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ") if t.microsecond == 0 else t.isoformat(),
    lambda t: t.isoformat(),  # +00:00
    lambda t: (t + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "+01:00",
    lambda t: (t - timedelta(hours=5, minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "-05:30",
    lambda t: None,
    lambda t: t.strftime("%Y-%m-%d %H:%M:%S"),  # no zone: DuckDB's session zone
    lambda t: "yesterday",
    lambda t: 12,
]
# JSON answers: "label" before "score", so a CSV column of one holds no digit (reads as NULL)
_ANSWERS = [
    {"label": "ok", "score": 0.1},
    {"label": "ok", "score": 0.105},
    {"label": "fraud", "score": 0.11},
    {"label": " ok ", "score": 0.12},
    {"label": "", "score": 1},
    {"label": None, "score": "0.1"},
    {"label": 7, "score": None},
    {"label": "ok", "probs": {"fraud": 0.25}, "top": ["fraud", "ok"]},
    {"probs": {"fraud": 0.5}, "top": [], "score": 0.2},
    {"label": "x"},
    # declined: DuckDB prints a float or a bool label its own way; 1e300 as CSV text
    {"label": 0.5, "score": 1e300},
    {"label": True, "score": "ok"},
]
_TEXT_ANSWERS = ["0.1,ok", "0.105,ok,x", "0.2", " 0.1 , fraud ", "", "ok", "0.5\n", "inf,ok"]
_JUNK = ["", "   ", "[1]", "null", '{"captureData": 1}', "garbage", '{"a":1,}', "\t"]


@st.composite
def _record(draw: st.DrawFn, clean: bool, answers: str) -> tuple[str, str, str]:
    """(variant, hour folder, line): one capture line, mostly as SageMaker writes it. `clean`:
    only what the small engine reads (else anything, declined or not); `answers`: "json",
    "text" or "any"."""
    variant = draw(st.sampled_from(["live", "live", "shadow", "shadow", "other"]))
    hour = draw(st.sampled_from([HOUR, HOUR, HOUR, HOUR, "2026/11/29/14", "2026/11/29/09"]))
    if draw(st.integers(0, 19)) == 0:
        return variant, hour, draw(st.sampled_from(_JUNK[:5] if clean else _JUNK))
    ms = draw(st.sampled_from([0, 1, 5, 999, 1000, 1001, 1999, 2000, 2001, 3000, 4000]))
    ms += draw(st.sampled_from([0, 0, 0, 7]))
    us = 0 if clean else draw(st.sampled_from([0, 0, 0, 0, 400]))
    at = T0 + timedelta(milliseconds=ms, microseconds=us)
    time_text = draw(st.sampled_from(_TIMES[:7] if clean else _TIMES))(at)
    mode = draw(st.sampled_from(["InputAndOutput"] * 6 + ["Input", "Output", "none"]))
    encoding = draw(st.sampled_from(["JSON", "CSV", "BASE64", "BASE64", "OTHER", None]))
    request = draw(st.sampled_from(["x", "y", '{"amount": 1}', "é"]))
    use_json = answers == "json" or (answers == "any" and draw(st.booleans()))
    if use_json:
        answer = json.dumps(draw(st.sampled_from(_ANSWERS[:-2] if clean else _ANSWERS)))
    else:
        answer = draw(st.sampled_from(_TEXT_ANSWERS[:-1] if clean else _TEXT_ANSWERS))

    def side(text: str) -> dict[str, Any]:
        data: Any = text
        if encoding == "BASE64":
            good = clean or draw(st.integers(0, 9)) > 0
            data = base64.b64encode(text.encode()).decode() if good else "%%%"
        out: dict[str, Any] = {"observedContentType": "application/json", "data": data}
        if encoding is not None:
            out["encoding"] = encoding
        return out

    capture: dict[str, Any] = {}
    if mode in ("InputAndOutput", "Input"):
        capture["endpointInput"] = side(request)
    if mode in ("InputAndOutput", "Output"):
        capture["endpointOutput"] = side(answer)
    meta: dict[str, Any] = {}
    event_id = draw(st.sampled_from(["e1", "e2", "é3", None]))
    if event_id is not None:
        meta["eventId"] = event_id + (str(draw(st.integers(0, 999))) if draw(st.booleans()) else "")
    if time_text is not None:
        meta["inferenceTime"] = time_text
    iid = draw(st.sampled_from([None, None, "a", "b"]))
    if iid is not None:
        meta["inferenceId"] = iid
    doc = {"captureData": capture, "eventMetadata": meta, "eventVersion": "0"}
    style = draw(st.integers(0, 4 if clean else 5))
    if style <= 3:
        line = json.dumps(doc, separators=(",", ":"))  # as SageMaker writes: compact
    elif style == 4:
        line = json.dumps(doc, ensure_ascii=False)
    else:  # a duplicate key: DuckDB reads the first
        line = json.dumps(doc, separators=(",", ":"))
        line = line.replace('"eventVersion":"0"', '"eventVersion":"0","captureData":{}')
    return variant, hour, line


def _write_tree(root: Path, records: list[tuple[str, str, str]]) -> None:
    shutil.rmtree(root / EP, ignore_errors=True)
    files: dict[Path, list[str]] = {}
    # one line of another variant: the tree is never empty (the view needs a file to glob)
    files[root / EP / "other" / HOUR / "part-0.jsonl"] = ["{}"]
    for i, (variant, hour, line) in enumerate(records):
        files.setdefault(root / EP / variant / hour / f"part-{i % 2}.jsonl", []).append(line)
    for path, lines in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def tree() -> Any:
    """One capture folder and one DuckDB engine over it for every example (the view globs the
    files at each query, so each example rewrites the files and queries again)."""
    root = Path(tempfile.mkdtemp(prefix="shadow-small-"))
    _write_tree(root, [])
    engine = LocalEngine(root, EP)
    yield root, engine
    engine.close()
    shutil.rmtree(root, ignore_errors=True)


@st.composite
def _example(draw: st.DrawFn) -> tuple[list[FieldSpec], list[tuple[str, str, str]]]:
    fields, answers = draw(st.sampled_from(FIELD_SETS))
    clean = draw(st.integers(0, 3)) > 0  # three in four: inputs the small engine reads
    records = draw(st.lists(_record(clean, answers if clean else "any"), max_size=24))
    return fields, records


@given(
    example=_example(),
    window=st.sampled_from([1, 2]),
    rounds=st.integers(1, 3),
    since_ms=st.sampled_from([0, 0, 1, 1000, -3_600_000]),
    since_us=st.sampled_from([0, 0, 500]),
    length_ms=st.sampled_from([4001, 3000, 2000, 7_200_000]),
)
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_the_small_engine_gives_duckdbs_result_or_declines(
    tree: Any,
    example: tuple[list[FieldSpec], list[tuple[str, str, str]]],
    window: int,
    rounds: int,
    since_ms: int,
    since_us: int,
    length_ms: int,
) -> None:
    root, engine = tree
    fields, records = example
    _write_tree(root, records)
    since = T0 + timedelta(milliseconds=since_ms, microseconds=since_us)
    until = since + timedelta(milliseconds=length_ms)
    want = _duckdb_result(engine, fields, since, until, window, rounds)
    try:
        got = _python_result(root, fields, since, until, window, rounds)
    except Declined as e:
        note(f"declined: {e}")
        event("declined")
        return
    event("compared")
    _assert_same(got, want, fields)


# --------------------------------------------------------------------------- realistic captures


@pytest.mark.parametrize("mode", capture_gen.CAPTURE_MODES)
@pytest.mark.parametrize("with_id", [True, False])
@pytest.mark.parametrize("fields", [[SCORE, LABEL], [WHOLE_ANSWER]], ids=["json", "whole"])
def test_captures_as_sagemaker_writes_them_are_read_by_the_small_engine(
    tmp_path: Path, mode: capture_gen.CaptureMode, with_id: bool, fields: list[FieldSpec]
) -> None:
    """What SageMaker writes (every encoding, repeated bodies, a sampled shadow, 2% disagreeing,
    every capture mode) is never declined, and the result is DuckDB's."""
    spec = CaptureSpec(
        requests=400,
        sampling_percent=50,
        distinct_bodies=40,
        disagree_percent=10,
        capture_mode=mode,
        with_inference_id=with_id,
        gap_ms=7,
        seed=3,
    )
    capture_gen.write_tree(tmp_path, spec)
    since, until = spec.start, spec.start + timedelta(hours=1)
    engine = LocalEngine(tmp_path, EP)
    try:
        want = _duckdb_result(engine, fields, since, until, 5, 3)
    finally:
        engine.close()
    got = _python_result(tmp_path, fields, since, until, 5, 3)
    _assert_same(got, want, fields)
    counted = ("production_records", "production_input_only", "production_output_only")
    assert sum(want[0][k] for k in counted) > 0


# --------------------------------------------------------------------------- declines and fallback

_OK = capture_gen.record(
    request="x", answer='{"score": 0.5}', at=T0, encoding="JSON", inference_id="a", event_id="e"
)
DECLINED = {
    "a line json rejects (DuckDB reads trailing commas)": '{"a":1,}',
    "a duplicate key (DuckDB keeps the first)": _OK[:-1] + ',"eventMetadata":{}}',
    "a lone surrogate escape": _OK.replace('"e"', '"\\ud800"'),
    "a time in the session's zone": _OK.replace("T13:00:00.000Z", " 13:00:00"),
    "BASE64 that strict decoding rejects": json.dumps(
        {
            "captureData": {
                "endpointInput": {"data": "eA", "encoding": "BASE64"},
                "endpointOutput": {"data": '{"score": 0.5}', "encoding": "JSON"},
            },
            "eventMetadata": {"eventId": "e", "inferenceTime": "2026-11-29T13:00:00Z"},
        }
    ),
}


@pytest.mark.parametrize("line", list(DECLINED.values()), ids=list(DECLINED))
def test_inputs_read_otherwise_by_duckdb_are_declined_and_the_report_runs_duckdb(
    tmp_path: Path, line: str
) -> None:
    d = tmp_path / EP / "live" / HOUR
    d.mkdir(parents=True)
    (d / "part.jsonl").write_text(f"{_OK}\n{line}\n")
    shadow = tmp_path / EP / "shadow" / HOUR
    shadow.mkdir(parents=True)
    (shadow / "part.jsonl").write_text(_OK.replace('"e"', '"s"') + "\n")
    since, until = T0, T0 + timedelta(hours=1)
    with pytest.raises(Declined):
        _python_result(tmp_path, [SCORE], since, until, 5, 3)
    plan = ShadowReportPlan("live", "shadow", (SCORE,), Thresholds(1, 99.0, 1.2), 5, None)
    engine = LocalEngine(tmp_path, EP)
    try:
        want, _, want_diffs = compare(engine, plan, since, until, differences=True)
    finally:
        engine.close()
    assert compare_local(tmp_path, EP, plan, since, until, differences=True) == (
        want,
        want_diffs,
    )


def test_the_engine_is_chosen_by_the_bytes_of_the_captures_it_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sagemaker_rollouts.cli import shadow_small

    capture_gen.write_tree(tmp_path, CaptureSpec(requests=50, start=T0))
    size = sum(p.stat().st_size for p in (tmp_path / EP).rglob("*.jsonl"))
    since, until = T0, T0 + timedelta(hours=1)
    monkeypatch.setattr(shadow_small, "SMALL_CAPTURE_BYTES", size)
    assert small_engine(tmp_path, EP, ("live", "shadow"), since, until) is not None
    monkeypatch.setattr(shadow_small, "SMALL_CAPTURE_BYTES", size - 1)
    assert small_engine(tmp_path, EP, ("live", "shadow"), since, until) is None
    # Only the files the report reads count: another variant's are not read
    assert small_engine(tmp_path, EP, ("live",), since, until) is not None


# --------------------------------------------------------------------------- the report itself

ROOT = Path(__file__).resolve().parents[2]


def _report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str, bytes]:
    from sagemaker_rollouts.cli.main import main

    png = tmp_path / "d.png"
    code = main(
        [
            "shadow-report",
            "--stack",
            "shadow",
            "--dir",
            str(ROOT),
            "--from-dir",
            str(tmp_path / "captures"),
            "--no-metrics",
            "--since",
            "2026-11-29T12:00:00Z",
            "--until",
            "2026-11-29T13:00:00Z",
            "--png",
            str(png),
            *extra,
        ]
    )
    return code, capsys.readouterr().out, png.read_bytes()


def test_the_report_is_the_same_whichever_engine_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`rollout shadow-report --from-dir` on the small engine and, forced, on DuckDB: the same
    exit code, text, --json document and --png differences (the drawn image too)."""
    from sagemaker_rollouts.cli import cmd_shadow, shadow_small

    spec = CaptureSpec(requests=600, sampling_percent=60, distinct_bodies=80, disagree_percent=5)
    capture_gen.write_tree(tmp_path / "captures", spec)
    drawn: list[list[dict[str, Any]]] = []
    real_png = cmd_shadow.write_png

    def keep_diffs(path: Path, result: Any) -> None:
        drawn.append(result.diffs)
        real_png(path, result)

    monkeypatch.setattr(cmd_shadow, "write_png", keep_diffs)
    runs = []
    for limit in (shadow_small.SMALL_CAPTURE_BYTES, -1):  # -1: no capture is small: DuckDB
        monkeypatch.setattr(shadow_small, "SMALL_CAPTURE_BYTES", limit)
        runs.append((_report(tmp_path, capsys), _report(tmp_path, capsys, "--json")))
    (small_text, small_json), (duck_text, duck_json) = runs
    assert small_text[:2] == duck_text[:2] and small_json[:2] == duck_json[:2]
    assert small_text[2] == duck_text[2]  # the same PNG bytes
    assert drawn[0] == drawn[2] and len(drawn[0]) > 100
    assert json.loads(small_json[1])["paired"] > 300
