"""Shadow comparison: pairing and agreement on hand-checked captures (all three encodings), the
recommendation table, captures read from moto's S3, CloudWatch figures, the Athena engine sending
the very same query, and the CLI end to end."""

from __future__ import annotations

import base64
import functools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pytest
from botocore.stub import Stubber
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagemaker_rollouts.cli.main import main
from sagemaker_rollouts.cli.shadow_engine import (
    AthenaEngine,
    LocalEngine,
    download_captures,
    to_duckdb,
    variant_metrics,
)
from sagemaker_rollouts.simulator import capture_gen
from sagemaker_rollouts.simulator.capture_gen import CaptureSpec, record
from sagemaker_rollouts.strategies.shadow_compare import (
    PAIRING_ROUNDS,
    WHOLE_ANSWER,
    Comparison,
    FieldAgreement,
    FieldSpec,
    Thresholds,
    VariantCounts,
    VariantMetrics,
    comparison_sql,
    differences_sql,
    parse_row,
    recommend,
)
from tests.moto_fixtures import patch_response
from tests.shadow_captures import CSV_LABEL, CSV_SCORE, EP, LABEL, SCORE, capture_sql

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _line(
    answer: str,
    *,
    ms: int,
    request: str = "1.5,US",
    iid: str | None = None,
    encoding: capture_gen.Encoding = "JSON",
    n: int = 0,
) -> str:
    return record(
        request=request,
        answer=answer,
        at=T0 + timedelta(milliseconds=ms),
        encoding=encoding,
        inference_id=iid,
        event_id=f"e{n}-{ms}",
    )


def _write(root: Path, variant: str, lines: list[str]) -> None:
    d = root / EP / variant / "2026/11/29/12"
    d.mkdir(parents=True, exist_ok=True)
    (d / "part-00000.jsonl").write_text("\n".join(lines) + "\n")


def _read(
    root: Path,
    fields: list[FieldSpec],
    *,
    since: datetime = T0,
    until: datetime = T0 + timedelta(hours=1),
    window: int = 5,
) -> Comparison:
    """The comparison of the captures under `root` (live against shadow, DuckDB's dialect), read
    by the local engine as `rollout shadow-report` reads downloaded captures."""
    sql = capture_sql(fields, since, until, window=window)
    engine = LocalEngine(root, EP)
    try:
        return parse_row(engine.rows(sql)[0], fields)
    finally:
        engine.close()


def _compare(
    tmp_path: Path, prod: list[str], shadow: list[str], fields: list[FieldSpec], window: int = 5
) -> Comparison:
    _write(tmp_path, "live", prod)
    _write(tmp_path, "shadow", shadow)
    return _read(tmp_path, fields, window=window)


def _ans(score: float, label: str, encoding: str = "JSON") -> str:
    return f"{score},{label}" if encoding == "CSV" else json.dumps({"score": score, "label": label})


# --------------------------------------------------------------------------- pairing (hand-checked)

# Each case: production lines, shadow lines, expected (paired, prod unpaired, shadow unpaired).
PAIRING = {
    "inference id pairs regardless of payload": (
        [
            _line(_ans(0.1, "ok"), ms=0, iid="a", request="1"),
            _line(_ans(0.2, "ok"), ms=10, iid="b", request="2"),
        ],
        [
            _line(_ans(0.2, "ok"), ms=20, iid="b", request="2"),
            _line(_ans(0.1, "ok"), ms=30, iid="a", request="1"),
        ],
        (2, 0, 0),
    ),
    "no inference id: request hash pairs": (
        [_line(_ans(0.1, "ok"), ms=0, request="x"), _line(_ans(0.2, "ok"), ms=5, request="y")],
        [_line(_ans(0.2, "ok"), ms=8, request="y")],
        (1, 1, 0),
    ),
    "same payload twice pairs in time order": (
        [_line(_ans(0.1, "ok"), ms=0, request="x"), _line(_ans(0.1, "ok"), ms=60_000, request="x")],
        [
            _line(_ans(0.1, "ok"), ms=10, request="x"),
            _line(_ans(0.1, "ok"), ms=60_010, request="x"),
        ],
        (2, 0, 0),
    ),
    "outside the pair window stays unpaired": (
        [_line(_ans(0.1, "ok"), ms=0, request="x")],
        [_line(_ans(0.1, "ok"), ms=6_000, request="x")],
        (0, 1, 1),
    ),
    "a different payload never pairs": (
        [_line(_ans(0.1, "ok"), ms=0, request="x")],
        [_line(_ans(0.1, "ok"), ms=1, request="z")],
        (0, 1, 1),
    ),
    "outside the time range is not counted": (
        [_line(_ans(0.1, "ok"), ms=-1_000, request="x")],
        [_line(_ans(0.1, "ok"), ms=-990, request="x")],
        (0, 0, 0),
    ),
    "an unsampled repeat does not shift the later pair (10:00:00, 10:01:40; shadow 10:01:41)": (
        [
            _line(_ans(0.1, "ok"), ms=0, request="x"),
            _line(_ans(0.1, "ok"), ms=100_000, request="x"),
        ],
        [_line(_ans(0.1, "ok"), ms=101_000, request="x")],
        (1, 1, 0),
    ),
    "a shadow copy pairs with the nearer of two repeats": (
        [_line(_ans(0.1, "ok"), ms=0, request="x"), _line(_ans(0.2, "ok"), ms=3_000, request="x")],
        [_line(_ans(0.2, "ok"), ms=3_010, request="x")],
        (1, 1, 0),
    ),
    "two copies wanting one record: the nearer keeps it, the other takes the next": (
        [_line(_ans(0.1, "ok"), ms=0, request="x"), _line(_ans(0.1, "ok"), ms=30, request="x")],
        [_line(_ans(0.1, "ok"), ms=10, request="x"), _line(_ans(0.1, "ok"), ms=12, request="x")],
        (2, 0, 0),
    ),
    "inference ids repeat like bodies": (
        [_line(_ans(0.1, "ok"), ms=0, iid="a"), _line(_ans(0.1, "ok"), ms=100_000, iid="a")],
        [_line(_ans(0.1, "ok"), ms=100_005, iid="a")],
        (1, 1, 0),
    ),
}


@pytest.mark.parametrize("case", list(PAIRING), ids=list(PAIRING))
def test_pairing_rule(tmp_path: Path, case: str) -> None:
    prod, shadow, (paired, prod_unpaired, shadow_unpaired) = PAIRING[case]
    c = _compare(tmp_path, prod, shadow, [LABEL])
    assert (c.paired, c.production.unpaired, c.shadow.unpaired) == (
        paired,
        prod_unpaired,
        shadow_unpaired,
    )


def test_repeated_bodies_with_half_sampling_pair_every_shadow_copy(tmp_path: Path) -> None:
    """2,000 requests over 100 distinct bodies, the shadow sampled at 50%, no InferenceId: every
    shadow copy (sent within 40 ms of its request) finds a production record of its body."""
    spec = CaptureSpec(
        requests=2000,
        sampling_percent=50,
        distinct_bodies=100,
        with_inference_id=False,
        encoding="JSON",
        seed=11,
    )
    capture_gen.write_tree(tmp_path, spec)
    c = _read(tmp_path, [SCORE])
    assert c.production.records == 2000 and 900 < c.shadow.records < 1100
    assert (c.paired, c.shadow.unpaired) == (c.shadow.records, 0)


# --------------------------------------------------------------------------- pairing vs an oracle
# The oracle pairs by brute force, straight from the rule's words (strategies/shadow_compare.py):
# in rounds, every unpaired shadow record proposes to the nearest unpaired production record of
# its key within the window (ties: the earlier one, then the nearer in (time, eventId) order);
# every production record keeps its nearest proposer (ties: the earlier, then by eventId).

Rec = tuple[str, int, str]  # key, ms, event id


def _oracle_pairs(
    prod: list[Rec], shadow: list[Rec], window_ms: int, rounds: int
) -> set[tuple[str, str]]:
    def order(r: Rec, side: int) -> tuple[int, int, str]:
        return (r[1], side, r[2])

    free_p, free_s = list(prod), list(shadow)
    pairs: set[tuple[str, str]] = set()
    for _ in range(rounds):
        proposals: dict[str, list[tuple[int, int, str, Rec]]] = {}
        for s in free_s:
            best: tuple[tuple[int, int, tuple[int, int, str]], Rec] | None = None
            for p in free_p:
                if p[0] != s[0] or abs(p[1] - s[1]) > window_ms:
                    continue
                before = order(p, 0) < order(s, 1)
                rank = (
                    abs(p[1] - s[1]),
                    0 if before else 1,
                    # among equals: the nearest in merged order (latest before, earliest after)
                    (-p[1], 0, "".join(chr(0x10FFFF - ord(c)) for c in p[2]))
                    if before
                    else order(p, 0),
                )
                if best is None or rank < best[0]:
                    best = (rank, p)
            if best is not None:
                p = best[1]
                proposals.setdefault(p[2], []).append((abs(p[1] - s[1]), s[1], s[2], s))
        if not proposals:
            break
        for p_event, offers in proposals.items():
            winner = min(offers)[3]
            p = next(x for x in free_p if x[2] == p_event)
            pairs.add((p[2], winner[2]))
            free_p.remove(p)
            free_s.remove(winner)
    return pairs


@functools.cache
def _pairs_query(window_s: int) -> str:
    sql = capture_sql([LABEL], T0, T0 + timedelta(hours=1), window=window_s, dialect="athena")
    head = sql[: sql.rindex("\nSELECT\n")]
    return to_duckdb(f"{head}\nSELECT p_event, s_event FROM pairs")


@functools.cache
def _capture_table() -> Any:
    """One in-memory DuckDB table shaped like the Glue table (line, variant, hour), reused by
    every example: the engine's file view is covered by the tests above."""
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE TABLE capture (line VARCHAR, variant VARCHAR, hour VARCHAR)")
    return con


def _sql_pairs(prod: list[Rec], shadow: list[Rec], window_s: int) -> set[tuple[str, str]]:
    con = _capture_table()
    con.execute("DELETE FROM capture")
    rows = [
        (
            _line(_ans(0.1, "ok"), ms=ms, request=key).replace(
                '"eventId":"e0-' + str(ms) + '"', f'"eventId":"{ev}"'
            ),
            variant,
            "2026/11/29/12",
        )
        for variant, recs in (("live", prod), ("shadow", shadow))
        for key, ms, ev in recs
    ]
    if rows:
        con.executemany("INSERT INTO capture VALUES (?, ?, ?)", rows)
    return {(str(p), str(s)) for p, s in con.execute(_pairs_query(window_s)).fetchall()}


_records = st.lists(
    st.tuples(st.sampled_from(["x", "y"]), st.integers(0, 12_000)), min_size=0, max_size=14
)


@given(prod=_records, shadow=_records)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_pairing_matches_the_brute_force_oracle(
    prod: list[tuple[str, int]], shadow: list[tuple[str, int]]
) -> None:
    p = [(k, ms, f"p{i:02d}") for i, (k, ms) in enumerate(prod)]
    s = [(k, ms, f"s{i:02d}") for i, (k, ms) in enumerate(shadow)]
    got = _sql_pairs(p, s, window_s=2)
    assert got == _oracle_pairs(p, s, 2000, PAIRING_ROUNDS)


@given(
    gaps=st.lists(st.integers(50, 3_000), min_size=1, max_size=30),
    bodies=st.lists(st.sampled_from("abc"), min_size=30, max_size=30),
    sampled=st.lists(st.booleans(), min_size=30, max_size=30),
    jitter=st.lists(st.integers(-20, 20), min_size=30, max_size=30),
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_sampled_copy_of_a_repeating_stream_is_paired(
    gaps: list[int], bodies: list[str], sampled: list[bool], jitter: list[int]
) -> None:
    """Ground truth, not the rule: requests at least 50 ms apart over three bodies, each copied to
    the shadow (or not) within 20 ms: every copy is paired, whatever repeats came unsampled."""
    times = [sum(gaps[: i + 1]) for i in range(len(gaps))]
    p = [(bodies[i], t, f"p{i:02d}") for i, t in enumerate(times)]
    s = [(bodies[i], t + jitter[i], f"s{i:02d}") for i, t in enumerate(times) if sampled[i]]
    got = _sql_pairs(p, s, window_s=5)
    assert len(got) == len(s)


@pytest.mark.parametrize(("png", "queries"), [(False, 1), (True, 2)])
def test_the_differences_pass_runs_only_for_the_png(png: bool, queries: int) -> None:
    from sagemaker_rollouts.cli.cmd_shadow import compare
    from sagemaker_rollouts.strategies.shadow_compare import ShadowReportPlan

    sent: list[str] = []

    class Recording:
        def rows(self, sql: str) -> list[dict[str, Any]]:
            sent.append(sql)
            if len(sent) > 1:
                return []
            names = ["paired", "production_records", "shadow_records"]
            names += ["production_unreadable", "shadow_unreadable"]
            names += ["f0_compared", "f0_agreed", "f0_mean_abs_diff", "f0_max_abs_diff"]
            return [dict.fromkeys(names, 0)]

    plan = ShadowReportPlan("live", "shadow", (SCORE,), Thresholds(10, 99, 1.2), 5, None)
    compare(Recording(), plan, T0, T0 + timedelta(hours=1), differences=png)
    assert len(sent) == queries


def test_the_local_engine_parses_each_capture_line_once() -> None:
    sql = comparison_sql(
        table="capture",
        production="live",
        shadow="shadow",
        fields=[SCORE, LABEL],
        since=T0,
        until=T0 + timedelta(hours=1),
        window_seconds=5,
    )
    assert sql.count("json_extract_scalar(doc,") >= 5  # the Athena text reads doc field by field
    duck = to_duckdb(sql)
    assert duck.count("JSON_EXTRACT_STRING(line, [") == 1  # one parse, every path at once
    assert "doc ->" not in duck and "JSON(line)" not in duck
    assert "decoded AS MATERIALIZED" in duck


# --------------------------------------------------------------------------- agreement per encoding


@pytest.mark.parametrize("encoding", capture_gen.ENCODINGS)
def test_agreement_is_the_same_in_every_encoding(
    tmp_path: Path, encoding: capture_gen.Encoding
) -> None:
    # Hand-checked: 4 pairs; score diffs 0.005 (agree at 0.01), 0.02 (no), 0 (agree), 0.3 (no)
    # -> 2/4 = 50%, mean |diff| = (0.005 + 0.02 + 0 + 0.3) / 4 = 0.08125, max 0.3.
    # labels: ok/ok, ok/ok, fraud/ok, fraud/fraud -> 3/4 = 75%.
    prod_answers = [(0.100, "ok"), (0.200, "ok"), (0.900, "fraud"), (0.600, "fraud")]
    shadow_answers = [(0.105, "ok"), (0.220, "ok"), (0.900, "ok"), (0.900, "fraud")]
    prod = [
        _line(_ans(s, lab, encoding), ms=100 * i, iid=f"r{i}", encoding=encoding, n=i)
        for i, (s, lab) in enumerate(prod_answers)
    ]
    shadow = [
        _line(_ans(s, lab, encoding), ms=100 * i + 3, iid=f"r{i}", encoding=encoding, n=i)
        for i, (s, lab) in enumerate(shadow_answers)
    ]
    fields = [CSV_SCORE, CSV_LABEL] if encoding == "CSV" else [SCORE, LABEL]
    c = _compare(tmp_path, prod, shadow, fields)
    score, label = c.fields
    assert (c.paired, score.compared, score.agreed) == (4, 4, 2)
    assert score.agreement_percent == pytest.approx(50.0)
    assert score.mean_abs_diff == pytest.approx(0.08125)
    assert score.max_abs_diff == pytest.approx(0.3)
    assert (label.agreed, label.agreement_percent) == (3, pytest.approx(75.0))
    assert label.mean_abs_diff is None


def test_base64_answers_are_decoded_before_comparing(tmp_path: Path) -> None:
    raw = json.loads(_line(_ans(0.5, "ok"), ms=0, iid="a", encoding="BASE64"))
    assert (
        raw["captureData"]["endpointOutput"]["data"]
        == base64.b64encode(_ans(0.5, "ok").encode()).decode()
    )
    c = _compare(
        tmp_path,
        [json.dumps(raw)],
        [_line(_ans(0.5, "ok"), ms=1, iid="a", encoding="JSON")],
        [SCORE, LABEL],
    )
    assert [f.agreed for f in c.fields] == [1, 1]


def test_a_missing_field_counts_as_a_disagreement(tmp_path: Path) -> None:
    prod = [_line(json.dumps({"score": 0.5}), ms=0, iid="a"), _line(_ans(0.4, "ok"), ms=5, iid="b")]
    shadow = [
        _line(_ans(0.5, "ok"), ms=1, iid="a"),
        _line(json.dumps({"label": "ok"}), ms=6, iid="b"),
    ]
    c = _compare(tmp_path, prod, shadow, [SCORE, LABEL])
    score, label = c.fields
    assert (score.compared, score.agreed, score.paired) == (1, 1, 2)
    assert (label.compared, label.agreed) == (1, 1)
    assert score.agreement_percent == pytest.approx(50.0)


def test_whole_answer_compares_the_decoded_text(tmp_path: Path) -> None:
    prod = [
        _line("0.93", ms=0, iid="a", encoding="CSV"),
        _line("0.10", ms=5, iid="b", encoding="CSV"),
    ]
    shadow = [_line("0.93\n", ms=1, iid="a", encoding="BASE64"), _line("0.11", ms=6, iid="b")]
    c = _compare(tmp_path, prod, shadow, [WHOLE_ANSWER])
    assert (c.paired, c.fields[0].agreed) == (2, 1)


MALFORMED = {
    "truncated line": '{"captureData": {"endpointInput": {"data": "1,2"',
    "not json": "garbage",
    "answer not decodable": json.dumps(
        {
            "captureData": {
                "endpointInput": {"data": "1", "encoding": "CSV"},
                "endpointOutput": {"data": "%%%", "encoding": "BASE64"},
            },
            "eventMetadata": {"eventId": "x", "inferenceTime": "2026-11-29T12:00:00Z"},
        }
    ),
    "bad time": _line(_ans(0.1, "ok"), ms=0).replace("2026-11-29T12", "yesterday-12"),
    "bad base64": _line(_ans(0.1, "ok"), ms=0, encoding="BASE64").replace(
        '"data":"', '"data":"%%%'
    ),
}


def test_malformed_lines_are_counted_and_skipped_and_the_rest_is_read(tmp_path: Path) -> None:
    good_prod = [_line(_ans(0.1, "ok"), ms=i, iid=f"r{i}", n=i) for i in range(3)]
    good_shadow = [_line(_ans(0.1, "ok"), ms=i + 1, iid=f"r{i}", n=i) for i in range(3)]
    prod = [good_prod[0], *MALFORMED.values(), "", good_prod[1], good_prod[2]]
    shadow = [good_shadow[0], MALFORMED["truncated line"], good_shadow[1], good_shadow[2]]
    c = _compare(tmp_path, prod, shadow, [LABEL])
    assert c.production == VariantCounts(records=3, unreadable=len(MALFORMED), unpaired=0)
    assert c.shadow == VariantCounts(records=3, unreadable=1, unpaired=0)
    assert (c.paired, c.fields[0].agreed) == (3, 3)


def _captured(
    mode: capture_gen.CaptureMode | Literal["none"],
    *,
    ms: int,
    request: str = "1.5,US",
    answer: str = '{"score": 0.1, "label": "ok"}',
    iid: str | None = None,
    encoding: capture_gen.Encoding = "JSON",
    n: int = 0,
) -> str:
    """A line as SageMaker writes it under CaptureOptions [{CaptureMode: mode}]: `Input` keeps
    only `captureData.endpointInput`, `Output` only `endpointOutput`, `InputAndOutput` both
    (SageMaker API reference, CaptureOption; each side is {observedContentType, mode, data,
    encoding}); `none` is a damaged line with neither side."""
    if mode == "none":
        doc = json.loads(_line(answer, ms=ms, request=request, iid=iid, encoding=encoding, n=n))
        del doc["captureData"]["endpointInput"], doc["captureData"]["endpointOutput"]
        return json.dumps(doc)
    return record(
        request=request,
        answer=answer,
        at=T0 + timedelta(milliseconds=ms),
        encoding=encoding,
        inference_id=iid,
        event_id=f"e{n}-{ms}",
        capture_mode=mode,
    )


# Each case: production lines, shadow lines (as functions of the encoding), expected production
# and shadow counts, and pairs.
CAPTURE_MODES: dict[str, tuple[Any, Any, VariantCounts, VariantCounts, int]] = {
    "Input only: counted input-only, never compared": (
        lambda e: [_captured("Input", ms=i, request=f"r{i}", encoding=e, n=i) for i in range(3)],
        lambda e: [
            _captured("Input", ms=i + 1, request=f"r{i}", encoding=e, n=i) for i in range(2)
        ],
        VariantCounts(records=0, unreadable=0, unpaired=0, input_only=3),
        VariantCounts(records=0, unreadable=0, unpaired=0, input_only=2),
        0,
    ),
    "Output only without InferenceId: counted output-only, nothing to pair by": (
        lambda e: [_captured("Output", ms=i, encoding=e, n=i) for i in range(3)],
        lambda e: [_captured("Output", ms=i + 1, encoding=e, n=i) for i in range(3)],
        VariantCounts(records=0, unreadable=0, unpaired=0, output_only=3),
        VariantCounts(records=0, unreadable=0, unpaired=0, output_only=3),
        0,
    ),
    "Output only with InferenceId: paired by the id": (
        lambda e: [_captured("Output", ms=i, iid=f"id{i}", encoding=e, n=i) for i in range(3)],
        lambda e: [_captured("Output", ms=i + 1, iid=f"id{i}", encoding=e, n=i) for i in range(2)],
        VariantCounts(records=3, unreadable=0, unpaired=1),
        VariantCounts(records=2, unreadable=0, unpaired=0),
        2,
    ),
    "InputAndOutput on production, Input only on the shadow": (
        lambda e: [
            _captured("InputAndOutput", ms=i, request=f"r{i}", encoding=e) for i in range(2)
        ],
        lambda e: [_captured("Input", ms=i + 1, request=f"r{i}", encoding=e) for i in range(2)],
        VariantCounts(records=2, unreadable=0, unpaired=2),
        VariantCounts(records=0, unreadable=0, unpaired=0, input_only=2),
        0,
    ),
    "capture option changed mid-range: each record by what it holds": (
        lambda e: [
            _captured("InputAndOutput", ms=0, request="a", encoding=e),
            _captured("Input", ms=10, request="b", encoding=e),
            _captured("Output", ms=20, encoding=e),
            _captured("Output", ms=30, iid="x", encoding=e),
        ],
        lambda e: [
            _captured("InputAndOutput", ms=1, request="a", encoding=e),
            _captured("Output", ms=31, iid="x", encoding=e),
        ],
        VariantCounts(records=2, unreadable=0, unpaired=0, input_only=1, output_only=1),
        VariantCounts(records=2, unreadable=0, unpaired=0),
        2,
    ),
    "neither side captured: unreadable": (
        lambda e: [
            _captured("none", ms=0, encoding=e),
            _captured("InputAndOutput", ms=5, encoding=e),
        ],
        lambda e: [_captured("InputAndOutput", ms=6, encoding=e)],
        VariantCounts(records=1, unreadable=1, unpaired=0),
        VariantCounts(records=1, unreadable=0, unpaired=0),
        1,
    ),
}


@pytest.mark.parametrize("encoding", capture_gen.ENCODINGS)
@pytest.mark.parametrize("case", list(CAPTURE_MODES), ids=list(CAPTURE_MODES))
def test_records_are_counted_by_what_their_capture_option_kept(
    tmp_path: Path, case: str, encoding: capture_gen.Encoding
) -> None:
    prod, shadow, want_prod, want_shadow, paired = CAPTURE_MODES[case]
    c = _compare(tmp_path, prod(encoding), shadow(encoding), [LABEL])
    assert (c.production, c.shadow, c.paired) == (want_prod, want_shadow, paired)
    assert c.fields[0].agreed == paired


@pytest.mark.parametrize(
    ("mode", "with_id"),
    [(m, i) for m in capture_gen.CAPTURE_MODES for i in (True, False)],
)
def test_generated_captures_of_every_capture_mode_are_read_as_what_they_hold(
    tmp_path: Path, mode: capture_gen.CaptureMode, with_id: bool
) -> None:
    """The generator writes what SageMaker writes under each CaptureMode (repeated bodies, a
    sampled shadow, all three encodings); the report pairs every shadow copy it can pair."""
    spec = CaptureSpec(
        requests=300,
        sampling_percent=50,
        distinct_bodies=60,
        capture_mode=mode,
        with_inference_id=with_id,
        seed=5,
    )
    capture_gen.write_tree(tmp_path, spec)
    prod_n, shadow_n = _truth(spec)
    c = _read(tmp_path, [SCORE])
    readable = mode == "InputAndOutput" or (mode == "Output" and with_id)
    counts = {
        "records": (prod_n, shadow_n) if readable else (0, 0),
        "input_only": (prod_n, shadow_n) if mode == "Input" else (0, 0),
        "output_only": (prod_n, shadow_n) if mode == "Output" and not with_id else (0, 0),
    }
    for name, want in counts.items():
        assert (getattr(c.production, name), getattr(c.shadow, name)) == want, name
    assert (c.production.unreadable, c.shadow.unreadable) == (0, 0)
    assert c.paired == (shadow_n if readable else 0)


def test_an_output_only_answer_that_does_not_decode_is_unreadable(tmp_path: Path) -> None:
    doc = json.loads(_captured("Output", ms=0, iid="a", encoding="BASE64"))
    doc["captureData"]["endpointOutput"]["data"] = "%%%"
    bad = json.dumps(doc)
    good = _captured("Output", ms=1, iid="a", encoding="BASE64")
    c = _compare(tmp_path, [bad], [good], [LABEL])
    assert c.production == VariantCounts(records=0, unreadable=1, unpaired=0)
    assert (c.shadow.records, c.shadow.unpaired, c.paired) == (1, 1, 0)


def test_no_capture_files_gives_zero_counts(tmp_path: Path) -> None:
    c = _read(tmp_path, [LABEL])
    assert (c.paired, c.production.records, c.fields[0].agreement_percent) == (0, 0, None)


@pytest.mark.parametrize(
    ("since", "until", "fields"),
    [(T0, T0, [LABEL]), (T0 + timedelta(1), T0, [LABEL]), (T0, T0 + timedelta(1), [])],
)
def test_comparison_sql_rejects_an_empty_range_or_no_fields(
    since: datetime, until: datetime, fields: list[FieldSpec]
) -> None:
    with pytest.raises(ValueError):
        comparison_sql(
            table="t",
            production="a",
            shadow="b",
            fields=fields,
            since=since,
            until=until,
            window_seconds=5,
        )


def test_the_athena_text_transpiles_with_duckdb_functions() -> None:
    sql = comparison_sql(
        table="capture",
        production="live",
        shadow="shadow",
        fields=[SCORE, LABEL],
        since=T0,
        until=T0 + timedelta(hours=1),
        window_seconds=5,
    )
    assert "json_extract_scalar" in sql and "from_iso8601_timestamp" in sql  # Trino's names
    duck = to_duckdb(sql)
    assert "json_extract_scalar" not in duck.lower() and "->>" in duck


FIELD_SHAPES = {
    "json number": [SCORE],
    "json label": [LABEL],
    "csv number and label": [CSV_SCORE, CSV_LABEL],
    "whole answer": [WHOLE_ANSWER],
    "every shape at once": [SCORE, LABEL, CSV_SCORE, CSV_LABEL, WHOLE_ANSWER],
}


def _normalized(duckdb_sql: str) -> str:
    import sqlglot

    return sqlglot.parse_one(duckdb_sql, read="duckdb").sql(dialect="duckdb", comments=False)


@pytest.mark.parametrize("shape", list(FIELD_SHAPES), ids=list(FIELD_SHAPES))
@pytest.mark.parametrize("rounds", [1, PAIRING_ROUNDS])
def test_the_local_engine_runs_the_athena_text_as_sqlglot_transpiles_it(
    shape: str, rounds: int
) -> None:
    """The DuckDB text the local engine runs is the transpiled Athena text (one query, two
    spellings), so the engine needs no transpiler at run time."""
    fields = FIELD_SHAPES[shape]
    kw: dict[str, Any] = {
        "table": "capture",
        "production": "live'1",
        "shadow": "shadow",
        "fields": fields,
        "since": T0,
        "until": T0 + timedelta(hours=3),
        "window_seconds": 7,
        "rounds": rounds,
    }
    athena = comparison_sql(**kw)
    duck = comparison_sql(**kw, dialect="duckdb")
    assert duck != athena
    assert _normalized(duck) == _normalized(to_duckdb(athena))
    assert _normalized(differences_sql(duck, fields)) == _normalized(
        to_duckdb(differences_sql(athena, fields))
    )


def test_the_athena_text_and_its_duckdb_spelling_give_the_same_report(tmp_path: Path) -> None:
    spec = CaptureSpec(requests=300, sampling_percent=60, distinct_bodies=40, disagree_percent=10)
    capture_gen.write_tree(tmp_path, spec, {"live": ["garbage"]})
    kw: dict[str, Any] = {
        "table": "capture",
        "production": "live",
        "shadow": "shadow",
        "fields": [SCORE, LABEL],
        "since": T0,
        "until": T0 + timedelta(hours=1),
        "window_seconds": 5,
    }
    engine = LocalEngine(tmp_path, EP)
    try:
        direct = engine.rows(comparison_sql(**kw, dialect="duckdb"))
        transpiled = engine.rows(to_duckdb(comparison_sql(**kw)))
    finally:
        engine.close()
    # the same row; float sums may differ in the last bits (threads add in any order)
    assert direct[0] == pytest.approx(transpiled[0])
    assert direct[0]["paired"] > 0 and direct[0]["production_unreadable"] == 1


# --------------------------------------------------------------------------- recommendation

T = Thresholds(min_pairs=100, min_agreement=99.0, max_p99_latency_ratio=1.2)


def _cmp(paired: int, agreed: int) -> Comparison:
    f = FieldAgreement("label", "label", paired, agreed, paired, None, None)
    return Comparison(paired, VariantCounts(paired, 0, 0), VariantCounts(paired, 0, 0), (f,))


FAST, SLOW = VariantMetrics(1000, 0, 100.0), VariantMetrics(1000, 0, 130.0)
ERRORS = VariantMetrics(1000, 5, 100.0)
RECOMMEND = [
    ("agrees, as fast", _cmp(200, 200), FAST, FAST, "promote", "200 pairs"),
    (
        "at the thresholds exactly",
        _cmp(100, 99),
        FAST,
        VariantMetrics(1000, 0, 120.0),
        "promote",
        "p99 ratio 1.20",
    ),
    ("too few pairs", _cmp(99, 99), FAST, FAST, "keep_shadowing", "99 pairs < min_pairs 100"),
    ("no latency data", _cmp(200, 200), None, None, "keep_shadowing", "no ModelLatency"),
    (
        "latency missing for shadow",
        _cmp(200, 200),
        FAST,
        VariantMetrics(10, 0, None),
        "keep_shadowing",
        "no ModelLatency",
    ),
    (
        "disagrees",
        _cmp(200, 190),
        FAST,
        FAST,
        "reject",
        "label: agreement 95.00% < min_agreement 99%",
    ),
    (
        "slower",
        _cmp(200, 200),
        FAST,
        SLOW,
        "reject",
        "p99 latency ratio 1.30 > max_p99_latency_ratio 1.2",
    ),
    ("more 5xx errors", _cmp(200, 200), FAST, ERRORS, "reject", "shadow 5xx rate 0.50%"),
    ("slow even with few pairs", _cmp(10, 10), FAST, SLOW, "reject", "p99 latency ratio"),
    (
        "disagreement with few pairs is not yet a verdict",
        _cmp(10, 5),
        FAST,
        FAST,
        "keep_shadowing",
        "10 pairs",
    ),
]


@pytest.mark.parametrize(
    ("cmp", "prod", "shadow", "action", "reason"),
    [r[1:] for r in RECOMMEND],
    ids=[r[0] for r in RECOMMEND],
)
def test_recommendation(
    cmp: Comparison,
    prod: VariantMetrics | None,
    shadow: VariantMetrics | None,
    action: str,
    reason: str,
) -> None:
    rec = recommend(cmp, prod, shadow, T)
    assert rec.action == action
    assert reason in rec.reason


# --------------------------------------------------------------------------- against moto


@pytest.fixture(scope="module")
def moto(moto_session: Any, moto_url: str) -> tuple[Any, str]:
    """The shared moto server (tests/conftest.py): its session and URL."""
    return moto_session, moto_url


def _truth(spec: CaptureSpec) -> tuple[int, int]:
    counts = {"live": 0, "shadow": 0}
    for variant, _, _ in capture_gen.records(spec):
        counts[variant] += 1
    return counts["live"], counts["shadow"]


def test_captures_in_moto_s3_are_downloaded_by_hour_and_compared(moto: Any, tmp_path: Path) -> None:
    session, _ = moto
    s3 = session.client("s3")
    s3.create_bucket(Bucket="cap-a")
    # 610 requests 12 s apart: 12:00:00 .. 14:01:48, three hour folders per variant.
    spec = CaptureSpec(requests=610, sampling_percent=50, gap_ms=12_000, disagree_percent=0)
    bad = ['{"truncated', "\x00\x01 not json"]
    capture_gen.upload(s3, "cap-a", "capture/fraud-shadow", spec, {"live": bad})
    # Another endpoint's captures under the same prefix are not read.
    capture_gen.upload(
        s3, "cap-a", "capture/fraud-shadow", CaptureSpec(endpoint="other", requests=50)
    )
    until = spec.start + timedelta(hours=2, minutes=5)
    n = download_captures(
        s3, "s3://cap-a/capture/fraud-shadow", EP, ("live", "shadow"), spec.start, until, tmp_path
    )
    assert n == 6
    c = _read(tmp_path, [SCORE, LABEL], since=spec.start, until=until)
    prod_n, shadow_n = _truth(spec)
    assert (c.production.records, c.shadow.records, c.paired) == (prod_n, shadow_n, shadow_n)
    assert c.production.unreadable == len(bad)
    assert [f.agreed for f in c.fields] == [shadow_n, shadow_n]


def test_variant_metrics_from_cloudwatch(moto: Any) -> None:
    session, _ = moto
    cw = session.client("cloudwatch")
    latencies = [float(v) for v in range(1000, 101_000, 1000)]  # microseconds: 1..100 ms

    # moto returns no ExtendedStatistics; this stands in for CloudWatch computing the p99 of the
    # ModelLatency values put below (nearest rank over 100 values: the 99th, 99 ms).
    def percentile(parsed: dict[str, Any]) -> None:
        for point in parsed.get("Datapoints", []):
            if "Sum" not in point:
                point["ExtendedStatistics"] = {"p99": sorted(latencies)[98]}

    patch_response(cw, "GetMetricStatistics", percentile)
    dims = [{"Name": "EndpointName", "Value": EP}, {"Name": "VariantName", "Value": "shadow"}]
    now = datetime.now(UTC).replace(microsecond=0)
    cw.put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {"MetricName": "Invocations", "Dimensions": dims, "Value": 400, "Timestamp": now},
            {"MetricName": "Invocation5XXErrors", "Dimensions": dims, "Value": 2, "Timestamp": now},
            *(
                {"MetricName": "ModelLatency", "Dimensions": dims, "Value": v, "Timestamp": now}
                for v in latencies
            ),
        ],
    )
    m = variant_metrics(cw, EP, "shadow", now - timedelta(minutes=30), now + timedelta(minutes=1))
    assert m is not None
    assert (m.invocations, m.errors_5xx, m.error_rate) == (400, 2, 0.005)
    assert m.p99_latency_ms == pytest.approx(99.0)
    assert variant_metrics(cw, EP, "live", now - timedelta(minutes=30), now) is None


def test_athena_engine_sends_the_same_query_text(moto: Any) -> None:
    session, _ = moto
    athena = session.client("athena")
    sql = comparison_sql(
        table="fraud_shadow_capture",
        production="live",
        shadow="shadow",
        fields=[LABEL],
        since=T0,
        until=T0 + timedelta(hours=1),
        window_seconds=5,
    )
    header = [
        "production_records",
        "shadow_records",
        "production_unreadable",
        "shadow_unreadable",
        "paired",
        "f0_compared",
        "f0_agreed",
        "f0_mean_abs_diff",
        "f0_max_abs_diff",
    ]
    values = ["10", "5", "1", "0", "5", "5", "4", None, None]
    # Stands in for Athena running the query (moto returns no real results): the engine must send
    # the text unchanged and parse Athena's text rows, header row first.
    with Stubber(athena) as stub:
        stub.add_response(
            "start_query_execution",
            {"QueryExecutionId": "q1"},
            {
                "QueryString": sql,
                "QueryExecutionContext": {"Database": "db"},
                "ResultConfiguration": {"OutputLocation": "s3://b/athena-results/"},
                "WorkGroup": "primary",
            },
        )
        stub.add_response(
            "get_query_execution", {"QueryExecution": {"Status": {"State": "RUNNING"}}}
        )
        stub.add_response(
            "get_query_execution", {"QueryExecution": {"Status": {"State": "SUCCEEDED"}}}
        )
        stub.add_response(
            "get_query_results",
            {
                "ResultSet": {
                    "Rows": [
                        {"Data": [{"VarCharValue": h} for h in header]},
                        {"Data": [{} if v is None else {"VarCharValue": v} for v in values]},
                    ]
                }
            },
        )
        rows = AthenaEngine(athena, "db", "s3://b/athena-results/", poll_seconds=0).rows(sql)
    c = parse_row(rows[0], [LABEL])
    assert (c.paired, c.production.unreadable, c.production.unpaired, c.fields[0].agreed) == (
        5,
        1,
        5,
        4,
    )


def test_cli_shadow_report_reads_moto_and_exits_by_recommendation(
    moto: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session, _ = moto
    s3 = session.client("s3")
    s3.create_bucket(Bucket="cap-cli")
    spec = CaptureSpec(requests=300, sampling_percent=100, disagree_percent=20)
    capture_gen.upload(s3, "cap-cli", "capture/fraud-shadow", spec)
    args = [
        "shadow-report",
        "--stack",
        "shadow",
        "--dir",
        str(ROOT),
        "--capture-uri",
        "s3://cap-cli/capture/fraud-shadow",
        "--since",
        "2026-11-29T12:00:00Z",
        "--until",
        "2026-11-29T13:00:00Z",
        "--json",
        "--png",
        str(tmp_path / "d.png"),
    ]
    code = main(args)
    out = json.loads(capsys.readouterr().out)
    # 300 pairs < min_pairs 1000 in the sample stack, but ~20% disagreement is not yet a verdict
    # either: keep shadowing (exit 3).
    assert (code, out["paired"], out["recommendation"]["action"]) == (3, 300, "keep_shadowing")
    assert (tmp_path / "d.png").stat().st_size > 1000


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--since", "yesterday"], "--since: expected an ISO 8601 time"),
        (["--since", "1h", "--until", "2h"], "must be before --until"),
        (["--endpoint", "nope"], "--endpoint nope: unknown"),
        (["--engine", "athena", "--from-dir", "."], None),
    ],
)
def test_cli_usage_errors(
    argv: list[str], message: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "shadow-report",
            "--stack",
            "shadow",
            "--dir",
            str(ROOT),
            "--no-metrics",
            "--from-dir",
            ".",
            *argv,
        ]
    )
    if message is None:
        assert code in (0, 1, 3)  # --from-dir wins over --engine: offline files, local engine
    else:
        assert code == 2
        assert message in capsys.readouterr().err


SHADOW_ERRORS = [
    (
        {"outputs": [{"name": "s", "json_path": "$.s", "csv_column": 1}]},
        "strategy.shadow.outputs[0]: set json_path (JSON answers) or csv_column (CSV answers), not both",
    ),
    (
        {"outputs": [{"name": "s", "tolerance": 0.1}]},
        "strategy.shadow.outputs[0].tolerance: only for kind number, got kind label",
    ),
    (
        {"outputs": [{"name": "s"}, {"name": "s", "kind": "number"}]},
        "strategy.shadow.outputs[1].name: must be unique",
    ),
    ({"outputs": [{"name": "s", "json_path": "score"}]}, "strategy.shadow.outputs[0].json_path"),
    ({"promote_when": {"min_agreement": 101}}, "strategy.shadow.promote_when.min_agreement"),
    ({"promote_when": {"min_pairs": 0}}, "strategy.shadow.promote_when.min_pairs"),
    ({"promote_when": {"max_p99_latency_ratio": 0}}, "promote_when.max_p99_latency_ratio"),
    ({"pair_window_seconds": 0}, "strategy.shadow.pair_window_seconds"),
    ({"athena": "maybe"}, "strategy.shadow.athena"),
]


@pytest.mark.parametrize(("extra", "message"), SHADOW_ERRORS)
def test_shadow_report_settings_are_validated_with_their_key_path(
    extra: dict[str, Any], message: str
) -> None:
    import yaml

    from sagemaker_rollouts.strategies.config import ConfigError, load_config, project_config

    doc = yaml.safe_load((ROOT / "Pulumi.shadow.yaml").read_text())
    ours, region = project_config(doc)
    shadow = ours["endpoints"]["fraud"]["strategy"]["shadow"]
    shadow.pop("outputs", None)
    shadow.update(extra)
    with pytest.raises(ConfigError) as err:
        load_config(ours, region=region)
    assert any(message in e for e in err.value.errors), err.value.errors
