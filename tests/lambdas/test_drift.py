"""Drift: PSI for every kind of feature against hand-computed values and a numpy/scipy oracle, baselines, feature extraction from all
three capture encodings, the drift Lambda against moto's S3 and CloudWatch, `rollout baseline`,
config errors, the wiring (a canary can gate on drift) and the Lambda zip's imports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sagemaker_rollouts.cli.main import main
from sagemaker_rollouts.lambdas import drift_job
from sagemaker_rollouts.lambdas.drift import (
    OTHER,
    Baseline,
    BaselineError,
    CategoryShares,
    DriftJobSpec,
    FeatureSpec,
    NumericBins,
    as_text,
    bin_index,
    build_baseline,
    extract,
    psi,
    quantile_edges,
    sample_features,
    score,
)
from sagemaker_rollouts.simulator import capture_gen
from sagemaker_rollouts.simulator.capture_gen import CaptureSpec, record
from sagemaker_rollouts.strategies.config import ConfigError, load_config, project_config
from sagemaker_rollouts.strategies.planner import build_plan
from tests.plan_fixtures import rollout_of

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

# --------------------------------------------------------------------------- scores by hand

PSI_CASES = [
    # identical shares: no drift
    ([0.1] * 10, [0.1] * 10, 0.0),
    # (0.5-0.25)ln(0.5/0.25) + 0 + (0.25-0.5)ln(0.25/0.5) = 0.25 ln2 + 0.25 ln2 = 0.5 ln 2
    ([0.25, 0.25, 0.5], [0.5, 0.25, 0.25], 0.34657359),
    # an empty actual bin is floored at 1e-4:
    # (1-0.5)ln(1/0.5) + (1e-4-0.5)ln(1e-4/0.5) = 0.34657359 + 0.4999 * 8.51719319 = 4.60432
    ([0.5, 0.5], [1.0, 0.0], 4.60432),
    # (0.3-0.2)ln(1.5) + (0.3-0.4)ln(0.75) + (0.4-0.4)*0 = 0.0405465 + 0.0287682 = 0.0693147
    ([0.2, 0.4, 0.4], [0.3, 0.3, 0.4], 0.0693147),
]


@pytest.mark.parametrize(("expected", "actual", "value"), PSI_CASES)
def test_psi_matches_hand_computed_values(
    expected: list[float], actual: list[float], value: float
) -> None:
    assert psi(expected, actual) == pytest.approx(value, abs=1e-5)


def test_psi_needs_the_same_bins() -> None:
    with pytest.raises(ValueError, match="bins differ"):
        psi([0.5, 0.5], [1.0])


# --------------------------------------------------------------------------- one scale, every kind
# The oracle: numpy/pandas binning and scipy's relative entropy, PSI = KL(a||e) + KL(e||a)
# = sum (a - e) ln(a / e), written without the module's code.


def _oracle(base: NumericBins | CategoryShares, values: list[str | None]) -> float:
    import numpy as np
    import pandas as pd
    from scipy.special import rel_entr

    present = 1.0 - base.missing
    if isinstance(base, NumericBins):
        expected = np.append(np.asarray(base.shares) * present, base.missing)
        x = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(float)
        ok = np.isfinite(x)
        idx = np.searchsorted(np.asarray(base.edges), x[ok], side="left")
        counts = np.bincount(idx, minlength=len(base.edges) + 1).astype(float)
        actual = np.append(counts, (~ok).sum()) / len(values)
    else:
        names = [c for c, _ in base.shares if c != OTHER]
        share = dict(base.shares)
        expected = np.array(
            [share[c] * present for c in names] + [share.get(OTHER, 0.0) * present, base.missing]
        )
        ser = pd.Series(values, dtype=object)
        counts = ser.value_counts(dropna=True)
        known = [float(counts.get(c, 0)) for c in names]
        other = float(counts[~counts.index.isin(names)].sum())
        actual = np.array([*known, other, float(ser.isna().sum())]) / len(values)
    e, a = np.maximum(expected, 1e-4), np.maximum(actual, 1e-4)
    return float(np.sum(rel_entr(a, e) + rel_entr(e, a)))


FIVE = CategoryShares((("BR", 0.2), ("DE", 0.2), ("FR", 0.2), ("IN", 0.2), ("US", 0.2)))
# Each case: baseline training column, sample values, whether a 0.2 threshold alarms.
KINDS: dict[str, tuple[list[Any], list[str | None], bool]] = {
    "numeric steady": ([str(i) for i in range(100)], [str(i) for i in range(0, 100, 2)], False),
    "numeric shifted": ([str(i) for i in range(100)], [str(i + 40) for i in range(100)], True),
    "categorical steady": (["US", "DE"] * 50, ["US", "DE"] * 20, False),
    "category vanishes (20% of traffic)": (
        ["US", "DE", "FR", "BR", "IN"] * 20,
        ["US", "DE", "FR", "IN"] * 25,
        True,
    ),
    "new category (30%)": (["US", "DE"] * 50, ["US"] * 35 + ["DE"] * 35 + ["JP"] * 30, True),
    "boolean steady": ([True, False] * 50, ["true", "false"] * 10, False),
    "boolean flips to mostly true": ([True, False] * 50, ["true"] * 19 + ["false"], True),
    "numeric goes 60% null": (
        [str(i) for i in range(100)],
        [None] * 60 + [str(i) for i in range(0, 100, 2)][:40],
        True,
    ),
    "categorical goes 60% null": (["US", "DE"] * 50, [None] * 60 + ["US", "DE"] * 20, True),
    "missing share held": (["US", None] * 50, ["US", None] * 20, False),
    "constant feature steady": (["5"] * 100, ["5"] * 30, False),
    "constant feature moves up": (["5"] * 100, ["6"] * 30, True),
    "constant feature moves down": (["5"] * 100, ["4"] * 30, True),
    "numbers arrive as text": ([str(i) for i in range(100)], ["n/a"] * 60 + ["1"] * 40, True),
}


def _baseline(column: list[Any]) -> NumericBins | CategoryShares:
    return build_baseline([{"f": v} for v in column], ["f"]).feature("f")


@pytest.mark.parametrize("case", list(KINDS), ids=list(KINDS))
def test_every_feature_kind_scores_psi_on_one_scale(case: str) -> None:
    column, values, alarms = KINDS[case]
    base = _baseline(column)
    got = score(base, values)
    assert got == pytest.approx(_oracle(base, values), rel=1e-9, abs=1e-12)
    assert (got is not None and got > 0.2) == alarms, got


def test_a_vanished_category_scores_about_1_56() -> None:
    got = score(FIVE, ["US", "DE", "FR", "IN"] * 25)
    # (1e-4 - 0.2) ln(1e-4 / 0.2) + 4 (0.25 - 0.2) ln(0.25 / 0.2) = 1.5195 + 0.0446
    assert got == pytest.approx(1.5642, abs=1e-3)
    assert got == pytest.approx(_oracle(FIVE, ["US", "DE", "FR", "IN"] * 25))


def test_a_feature_going_60_percent_null_alarms() -> None:
    base = _baseline([str(i) for i in range(100)])
    values: list[str | None] = [None] * 60 + [str(i) for i in range(40)]
    got = score(base, values)
    assert got is not None and got > 5.0  # the missing bin alone: 0.5999 ln(0.6 / 1e-4) = 5.22


def test_unseen_categories_count_as_other() -> None:
    base = CategoryShares((("US", 0.5), ("DE", 0.5), (OTHER, 0.0)))
    values: list[str | None] = ["US", "DE", "JP", "CN"]
    assert score(base, values) == pytest.approx(_oracle(base, values))


def test_no_record_for_the_feature_is_no_score() -> None:
    assert score(FIVE, []) is None


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (True, "true"),
        (False, "false"),
        ("True", "true"),
        (" FALSE ", "false"),
        (None, None),
        ("", None),
        ("  ", None),
        (1.5, "1.5"),
        ("US", "US"),
    ],
)
def test_values_are_spelled_the_same_from_every_source(raw: Any, text: str | None) -> None:
    assert as_text(raw) == text


@given(
    train=st.lists(
        st.one_of(st.none(), st.integers(-5, 5).map(str), st.floats(-3, 3).map(str)),
        min_size=1,
        max_size=60,
    ),
    sample=st.lists(
        st.one_of(st.none(), st.integers(-8, 8).map(str), st.sampled_from(["x", "1e3"])),
        min_size=1,
        max_size=60,
    ),
)
@settings(max_examples=150, deadline=None)
def test_numeric_psi_matches_the_numpy_oracle(
    train: list[str | None], sample: list[str | None]
) -> None:
    assume(any(v is not None for v in train))
    base = _baseline(list(train))
    assume(isinstance(base, NumericBins))
    assert score(base, sample) == pytest.approx(_oracle(base, sample), rel=1e-9, abs=1e-12)


@given(
    train=st.lists(st.one_of(st.none(), st.sampled_from("abcdefg")), min_size=1, max_size=60),
    sample=st.lists(st.one_of(st.none(), st.sampled_from("abcdefghij")), min_size=1, max_size=60),
)
@settings(max_examples=150, deadline=None)
def test_categorical_psi_matches_the_pandas_oracle(
    train: list[str | None], sample: list[str | None]
) -> None:
    assume(any(v is not None for v in train))
    base = _baseline(list(train))
    assert isinstance(base, CategoryShares)
    assert score(base, sample) == pytest.approx(_oracle(base, sample), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    ("value", "index"), [(-5.0, 0), (1.0, 0), (1.5, 1), (2.0, 1), (2.01, 2), (99.0, 2)]
)
def test_a_value_on_an_edge_falls_in_the_lower_bin(value: float, index: int) -> None:
    assert bin_index(value, (1.0, 2.0)) == index


def test_decile_edges_and_merged_duplicates() -> None:
    assert quantile_edges([float(i) for i in range(1, 101)], 10) == (
        10.0,
        20.0,
        30.0,
        40.0,
        50.0,
        60.0,
        70.0,
        80.0,
        90.0,
    )
    # 90% zeros: the first nine deciles collapse into one edge; no empty last bin
    assert quantile_edges([0.0] * 90 + [1.0] * 10, 10) == (0.0,)


def test_baseline_kinds_and_round_trip() -> None:
    rows = [{"x": str(i), "c": "ab"[i % 2], "empty": ""} for i in range(100)]
    b = build_baseline(rows, ["x", "c"], bins=4)
    x, c = b.feature("x"), b.feature("c")
    assert isinstance(x, NumericBins) and x.edges == (24.0, 49.0, 74.0)
    assert x.shares == (0.25, 0.25, 0.25, 0.25)
    assert isinstance(c, CategoryShares) and dict(c.shares) == {"a": 0.5, "b": 0.5}
    assert Baseline.from_json(b.to_json()) == b
    assert score(x, [str(i) for i in range(100)]) == pytest.approx(0.0)
    with pytest.raises(BaselineError, match="no values for feature"):
        build_baseline(rows, ["empty"])


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"version": 3}',
        '{"version": 2, "features": {"x": {"kind": "categorical", "shares": {}, "missing": 2}}}',
        '{"version": 1, "features": {"x": {"kind": "histogram"}}}',
        '{"version": 1, "features": {"x": {"kind": "numeric", "edges": [1], "shares": [1]}}}',
    ],
)
def test_bad_baselines_are_refused(text: str) -> None:
    with pytest.raises(BaselineError):
        Baseline.from_json(text)


# --------------------------------------------------------------------------- extraction

AMOUNT = FeatureSpec("amount", "input", json_path="$.amount", csv_column=0)
COUNTRY = FeatureSpec("country", "input", json_path="$.country", csv_column=1)
SCORE = FeatureSpec("score", "output", json_path="$.score")


@pytest.mark.parametrize("encoding", capture_gen.ENCODINGS)
def test_features_are_read_in_every_encoding(encoding: capture_gen.Encoding) -> None:
    request = "1.5,US" if encoding == "CSV" else json.dumps({"amount": 1.5, "country": "US"})
    line = record(
        request=request,
        answer=json.dumps({"score": 0.7, "label": "ok"}),
        at=T0,
        encoding=encoding,
        inference_id=None,
        event_id="e",
    )
    s = sample_features([line], [AMOUNT, COUNTRY, SCORE], limit=10)
    assert s.values == {"amount": ["1.5"], "country": ["US"], "score": ["0.7"]}


@pytest.mark.parametrize(
    ("spec", "encoding", "text", "value"),
    [
        (FeatureSpec("a", csv_column=3), "CSV", "1,2,3", None),
        (FeatureSpec("a", json_path="$.x[1]"), "JSON", '{"x": [5, 6]}', "6"),
        (FeatureSpec("a", json_path="$.x.y"), "JSON", '{"x": 1}', None),
        (FeatureSpec("a", json_path="$.x"), "JSON", '{"x": {"nested": 1}}', None),
        (FeatureSpec("a"), "CSV", " 0.93\n", "0.93"),
        (FeatureSpec("a", json_path="$.x"), "CSV", "1,2", None),
    ],
)
def test_extraction_table(spec: FeatureSpec, encoding: str, text: str, value: str | None) -> None:
    assert extract(spec, encoding, text) == value


def test_sample_is_bounded_and_malformed_lines_are_counted() -> None:
    good = [
        record(
            request=f"{i},US",
            answer='{"score": 0.5}',
            at=T0,
            encoding="CSV",
            inference_id=None,
            event_id=str(i),
        )
        for i in range(10)
    ]
    lines = ["{broken", "", good[0], "[]", *good[1:]]
    s = sample_features(lines, [AMOUNT], limit=5)
    assert (s.records, s.unreadable, len(s.values["amount"])) == (5, 2, 5)


def test_input_only_captures_score_requests_and_leave_answers_unscored() -> None:
    """CaptureOption `Input` only: SageMaker writes no `endpointOutput` (stands in for the real
    capture format); answer features get no sample instead of a 100% missing share."""
    doc = json.loads(
        record(
            request=json.dumps({"amount": 1.5, "country": None, "flag": True}),
            answer="{}",
            at=T0,
            encoding="JSON",
            inference_id=None,
            event_id="e",
        )
    )
    del doc["captureData"]["endpointOutput"]
    flag = FeatureSpec("flag", "input", json_path="$.flag")
    s = sample_features([json.dumps(doc)], [AMOUNT, COUNTRY, flag, SCORE], limit=10)
    assert (s.records, s.unreadable, s.input_only) == (1, 0, 1)
    assert s.values == {"amount": ["1.5"], "country": [None], "flag": ["true"], "score": []}


# --------------------------------------------------------------------------- the Lambda on moto


def _job(name: str, sample_size: int = 500) -> DriftJobSpec:
    return DriftJobSpec(
        endpoint_name=name,
        variant="shadow",
        capture_prefix="capture/x",
        baseline_key=f"rollout-baselines/{name}.json",
        features=(AMOUNT, COUNTRY, SCORE),
        sample_size=sample_size,
        lookback_hours=1,
        every_minutes=15,
    )


def _published(cw: Any, name: str, feature: str | None) -> float:
    dims = [{"Name": "EndpointName", "Value": name}, {"Name": "VariantName", "Value": "shadow"}]
    metric = "MaxFeatureDrift"
    if feature is not None:
        dims.append({"Name": "Feature", "Value": feature})
        metric = "FeatureDrift"
    points = cw.get_metric_statistics(
        Namespace="SageMakerRollouts/Drift",
        MetricName=metric,
        Dimensions=dims,
        StartTime=T0 - timedelta(hours=2),
        EndTime=T0 + timedelta(hours=2),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    assert len(points) == 1
    return float(points[0]["Maximum"])


@pytest.mark.parametrize(
    ("name", "shift", "drifted"), [("steady", 0.0, False), ("shifted", 1.5, True)]
)
def test_drift_job_publishes_one_metric_per_feature_and_the_max(
    moto_session: Any, name: str, shift: float, drifted: bool
) -> None:
    s3, cw = moto_session.client("s3"), moto_session.client("cloudwatch")
    bucket = f"cap-{name}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(
        Bucket=bucket,
        Key=f"rollout-baselines/{name}.json",
        Body=(ROOT / "baselines/fraud.json").read_bytes(),
    )
    spec = CaptureSpec(endpoint=name, requests=2000, gap_ms=1000, amount_mean=shift, start=T0)
    capture_gen.upload(s3, bucket, "capture/x", spec, {"shadow": ["{not json"]})
    job = _job(name)
    env = {"DRIFT_SPEC": job.to_json(), "CAPTURE_BUCKET": bucket}
    clients = drift_job.DriftClients(s3=s3, cloudwatch=cw)
    now = (T0 + timedelta(minutes=30)).timestamp()
    out = drift_job.run({}, env, clients, now, log=lambda _: None)
    assert out["records"] == job.sample_size  # bounded: never more than sample_size records
    assert out["published"] == 4
    scores = out["scores"]
    assert (scores["amount"] > 0.25) is drifted  # PSI > 0.25: significant shift
    assert scores["country"] < 0.1 and scores["score"] < 0.1
    for feature in ("amount", "country", "score"):
        assert _published(cw, name, feature) == pytest.approx(scores[feature])
    assert _published(cw, name, None) == pytest.approx(max(scores.values()))


def test_drift_job_lists_only_its_lookback_hours(moto_session: Any) -> None:
    job = _job("hours")
    prefixes = drift_job.hour_prefixes(job, (T0 + timedelta(minutes=30)).timestamp())
    assert prefixes == [
        "capture/x/hours/shadow/2026/11/29/12/",
        "capture/x/hours/shadow/2026/11/29/11/",
    ]


# --------------------------------------------------------------------------- a job that cannot measure


def _job_metric(cw: Any, name: str) -> list[float]:
    dims = [{"Name": "EndpointName", "Value": name}, {"Name": "VariantName", "Value": "shadow"}]
    points = cw.get_metric_statistics(
        Namespace="SageMakerRollouts/Drift",
        MetricName="DriftJobFailed",
        Dimensions=dims,
        StartTime=T0 - timedelta(hours=3),
        EndTime=T0 + timedelta(hours=3),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    return [float(p["Maximum"]) for p in sorted(points, key=lambda p: p["Timestamp"])]


def _messages(sqs: Any, queue: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return out
        out += [json.loads(json.loads(m["Body"])["Message"]) for m in got]


def _world(session: Any, name: str) -> tuple[dict[str, str], drift_job.DriftClients, Any, str]:
    """A capture bucket with captures and the baseline, and an SNS topic with an SQS
    subscriber (SQS gets the JSON record, lambdas/notify.py)."""
    s3, cw, sns, sqs = (session.client(c) for c in ("s3", "cloudwatch", "sns", "sqs"))
    bucket = f"cap-{name}"
    s3.create_bucket(Bucket=bucket)
    job = _job(name)
    s3.put_object(
        Bucket=bucket, Key=job.baseline_key, Body=(ROOT / "baselines/fraud.json").read_bytes()
    )
    spec = CaptureSpec(endpoint=name, requests=300, gap_ms=1000, start=T0)
    capture_gen.upload(s3, bucket, "capture/x", spec)
    topic = sns.create_topic(Name=f"events-{name}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"q-{name}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    env = {"DRIFT_SPEC": job.to_json(), "CAPTURE_BUCKET": bucket, "TOPIC_ARN": topic}
    return env, drift_job.DriftClients(s3=s3, cloudwatch=cw, sns=sns), sqs, queue


def test_a_lost_baseline_is_reported_once_per_spell_and_never_scored(moto_session: Any) -> None:
    env, clients, sqs, queue = _world(moto_session, "lost")
    job = DriftJobSpec.from_json(env["DRIFT_SPEC"])
    period = job.every_minutes * 60
    t = (T0 + timedelta(minutes=30)).timestamp()
    assert drift_job.run({}, env, clients, t, log=lambda _: None)["status"] == "measured"
    # S3 answers NoSuchKey, as it does once the object is gone (moto's real S3 behaviour)
    clients.s3.delete_object(Bucket=env["CAPTURE_BUCKET"], Key=job.baseline_key)
    outs = [drift_job.run({}, env, clients, t + k * period, log=lambda _: None) for k in (1, 2, 3)]
    assert [o["status"] for o in outs] == ["failed"] * 3
    assert "NoSuchKey" in outs[0]["error"]
    assert [o["notified"] for o in outs] == [True, False, False]
    assert all("scores" not in o for o in outs)  # nothing that could read as "no drift"
    (msg,) = _messages(sqs, queue)
    assert msg["decision"] == "drift_job_failed" and msg["endpoint"] == "lost"
    assert "NoSuchKey" in msg["reason"] and "INSUFFICIENT_DATA" in msg["evidence"]["effect"]
    assert _job_metric(clients.cloudwatch, "lost") == [0.0, 1.0, 1.0, 1.0]
    # back to measuring, then failing again: a new spell tells the human again
    clients.s3.put_object(
        Bucket=env["CAPTURE_BUCKET"],
        Key=job.baseline_key,
        Body=(ROOT / "baselines/fraud.json").read_bytes(),
    )
    for k in (4, 5, 6):
        drift_job.run({}, env, clients, t + k * period, log=lambda _: None)
    clients.s3.delete_object(Bucket=env["CAPTURE_BUCKET"], Key=job.baseline_key)
    again = drift_job.run({}, env, clients, t + 7 * period, log=lambda _: None)
    assert again["notified"] is True and len(_messages(sqs, queue)) == 1


class _Failing:
    """Wraps a real client; `fail` maps a method name to the exception its call raises (the
    real AWS answer it stands in for is named at each use)."""

    def __init__(self, real: Any, fail: dict[str, Exception]) -> None:
        self._real, self._fail = real, fail

    def __getattr__(self, name: str) -> Any:
        if name in self._fail:

            def boom(*_a: Any, **_k: Any) -> Any:
                raise self._fail[name]

            return boom
        return getattr(self._real, name)


def _client_error(code: str, status: int, op: str) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        op,
    )


class _CutBody:
    def iter_lines(self) -> Iterator[bytes]:
        from botocore.exceptions import ResponseStreamingError

        yield b"{"
        raise ResponseStreamingError(error="connection reset mid-object")


FAULTS: dict[str, tuple[str, dict[str, Exception] | None]] = {
    # S3 denies the baseline read (a bucket policy or KMS key policy changed)
    "baseline read denied": ("s3", {"get_object": _client_error("AccessDenied", 403, "GetObject")}),
    # S3 throttles listing past botocore's standard retries (503 SlowDown)
    "listing throttled": ("s3", {"get_paginator": _client_error("SlowDown", 503, "ListObjectsV2")}),
    # an internal error that outlived the retries
    "S3 5xx": ("s3", {"get_paginator": _client_error("InternalError", 500, "ListObjectsV2")}),
    # the object stream is cut mid-read (the connection drops)
    "stream cut": ("cut", None),
}


@pytest.mark.parametrize("fault", list(FAULTS), ids=list(FAULTS))
def test_every_s3_fault_is_a_reported_failure_not_a_quiet_run(
    moto_session: Any, fault: str
) -> None:
    name = "f" + str(list(FAULTS).index(fault))
    env, clients, sqs, queue = _world(moto_session, name)
    kind, fail = FAULTS[fault]
    s3: Any = clients.s3
    if kind == "cut":
        real = clients.s3

        class CutS3:
            def __getattr__(self, attr: str) -> Any:
                return getattr(real, attr)

            def get_object(self, **kw: Any) -> Any:
                out = real.get_object(**kw)
                if kw["Key"].endswith(".jsonl"):
                    out["Body"] = _CutBody()
                return out

        s3 = CutS3()
    else:
        assert fail is not None
        s3 = _Failing(clients.s3, fail)
    broken = drift_job.DriftClients(s3=s3, cloudwatch=clients.cloudwatch, sns=clients.sns)
    out = drift_job.run(
        {}, env, broken, (T0 + timedelta(minutes=30)).timestamp(), log=lambda _: None
    )
    assert out["status"] == "failed" and out["notified"] is True
    assert _job_metric(clients.cloudwatch, name) == [1.0]
    assert len(_messages(sqs, queue)) == 1


def test_a_failed_publish_is_retried_on_the_next_run(moto_session: Any) -> None:
    env, clients, sqs, queue = _world(moto_session, "mute")
    job = DriftJobSpec.from_json(env["DRIFT_SPEC"])
    clients.s3.delete_object(Bucket=env["CAPTURE_BUCKET"], Key=job.baseline_key)
    # SNS throttles Publish past the retries (Throttled, 400)
    deaf = drift_job.DriftClients(
        s3=clients.s3,
        cloudwatch=clients.cloudwatch,
        sns=_Failing(clients.sns, {"publish": _client_error("Throttled", 400, "Publish")}),
    )
    t = (T0 + timedelta(minutes=30)).timestamp()
    first = drift_job.run({}, env, deaf, t, log=lambda _: None)
    assert (first["notified"], first["notify_error"] is not None) == (False, True)
    second = drift_job.run({}, env, clients, t + job.every_minutes * 60, log=lambda _: None)
    assert second["notified"] is True and len(_messages(sqs, queue)) == 1
    assert _job_metric(clients.cloudwatch, "mute") == [2.0, 1.0]  # 2: failed, nobody told yet


def test_a_failure_that_cannot_even_be_published_raises(moto_session: Any) -> None:
    env, clients, _, _ = _world(moto_session, "dark")
    job = DriftJobSpec.from_json(env["DRIFT_SPEC"])
    clients.s3.delete_object(Bucket=env["CAPTURE_BUCKET"], Key=job.baseline_key)
    # CloudWatch denies PutMetricData: the Lambda fails loudly (its Errors metric, and the
    # health alarm's missing data, which it treats as breaching)
    blind = drift_job.DriftClients(
        s3=clients.s3,
        cloudwatch=_Failing(
            clients.cloudwatch,
            {"put_metric_data": _client_error("AccessDenied", 403, "PutMetricData")},
        ),
        sns=clients.sns,
    )
    with pytest.raises(Exception, match="AccessDenied"):
        drift_job.run({}, env, blind, (T0 + timedelta(minutes=30)).timestamp(), log=lambda _: None)


def test_drift_alarms_read_missing_scores_as_missing_and_a_silent_job_as_failing() -> None:
    ep = next(e for e in _shadow_plan().endpoints if e.drift is not None)
    drift = {a.key: a for a in ep.alarms if a.namespace == "SageMakerRollouts/Drift"}
    assert {k: a.treat_missing_data for k, a in drift.items()} == {
        **{f"drift.{f.name}": "missing" for f in ep.drift.job.features},  # type: ignore[union-attr]
        "drift.max": "missing",
        "drift.job": "breaching",
    }
    job = drift["drift.job"]
    assert (job.metric, job.threshold, job.comparison, job.gate) == (
        "DriftJobFailed",
        0.0,
        "GreaterThanThreshold",
        False,
    )


# --------------------------------------------------------------------------- CLI and config


def test_rollout_baseline_from_csv_and_jsonl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_file = tmp_path / "train.csv"
    csv_file.write_text("x,c\n" + "".join(f"{i},{'ab'[i % 2]}\n" for i in range(40)))
    jsonl = tmp_path / "train.jsonl"
    jsonl.write_text("".join(json.dumps({"x": i, "c": "ab"[i % 2]}) + "\n" for i in range(40)))
    for src in (csv_file, jsonl):
        out = tmp_path / f"{src.suffix[1:]}.json"
        assert (
            main(
                ["baseline", "--from", str(src), "--features", "x,c", "-o", str(out), "--bins", "4"]
            )
            == 0
        )
        b = Baseline.from_json(out.read_text())
        assert isinstance(b.feature("x"), NumericBins) and isinstance(
            b.feature("c"), CategoryShares
        )
    assert "40 rows" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from", "nope.csv", "--features", "x"], "--from nope.csv: file not found"),
        (["--features", "missing"], "no values for feature(s) missing in 2 rows; columns: x"),
        (["--features", "xx,y"], "feature(s) xx, y in 2 rows (xx: did you mean x?); columns: x"),
        (["--features", " , "], "--features: name at least one column"),
        (["--features", "x", "--bins", "1"], "--bins: must be 2..100"),
    ],
)
def test_rollout_baseline_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    src = tmp_path / "t.csv"
    src.write_text("x\n1\n2\n")
    args = ["baseline", "-o", str(tmp_path / "o.json")]
    if "--from" not in argv:
        args += ["--from", str(src)]
    assert main([*args, *argv]) == 2
    assert message in capsys.readouterr().err


def _shadow_config() -> tuple[dict[str, Any], str]:
    return project_config(yaml.safe_load((ROOT / "Pulumi.shadow.yaml").read_text()))


def _shadow_plan() -> Any:
    ours, region = _shadow_config()
    return build_plan(load_config(ours, region=region), project="p", stack="s")


@pytest.mark.parametrize("prefix", ["", "/", "rollout-baselines", "/rollout-baselines/"])
def test_a_capture_prefix_covering_the_baseline_is_refused(prefix: str) -> None:
    ours, region = _shadow_config()
    ours["endpoints"]["fraud"]["data_capture"]["destination_prefix"] = prefix
    with pytest.raises(ConfigError) as err:
        build_plan(load_config(ours, region=region), project="p", stack="s")
    assert any(
        "endpoints.fraud.data_capture.destination_prefix" in e and "rollout-baselines/" in e
        for e in err.value.errors
    ), err.value.errors


DRIFT_ERRORS = [
    ({"baseline": "no/such.json"}, "drift.baseline: cannot use 'no/such.json'"),
    (
        {"features": [{"name": "income", "csv_column": 3}]},
        "drift.features[0].name: 'income' is not in the baseline",
    ),
    ({"variant": "ghost"}, "drift.variant: must name one of the variants"),
    ({"sample_size": 10}, "drift.sample_size"),
    ({"features": []}, "drift.features"),
]


@pytest.mark.parametrize(("edit", "message"), DRIFT_ERRORS)
def test_drift_settings_are_validated_with_their_key_path(
    edit: dict[str, Any], message: str
) -> None:
    ours, region = _shadow_config()
    ours["endpoints"]["fraud"]["drift"].update(edit)
    with pytest.raises(ConfigError) as err:
        load_config(ours, region=region)
    assert any(message in e for e in err.value.errors), err.value.errors


def test_drift_needs_the_stack_capture_bucket() -> None:
    ours, region = _shadow_config()
    ours["endpoints"]["fraud"]["data_capture"] = {"destination_s3_uri": "s3://elsewhere/cap"}
    with pytest.raises(ConfigError) as err:
        load_config(ours, region=region)
    assert any("drift: reads the stack's capture bucket" in e for e in err.value.errors)


def _canary_with_drift(gate: bool) -> Any:
    ours, region = project_config(yaml.safe_load((ROOT / "Pulumi.canary.yaml").read_text()))
    shadow, _ = _shadow_config()
    drift = dict(shadow["endpoints"]["fraud"]["drift"], gate=gate, every_minutes=5)
    ours["endpoints"]["fraud"]["drift"] = drift
    return build_plan(load_config(ours, region=region), project="p", stack="s")


@pytest.mark.parametrize(("every", "limit", "refused"), [(15, 900, True), (5, 900, False)])
def test_a_drift_gate_that_would_time_out_before_its_first_score_is_refused(
    every: int, limit: int, refused: bool
) -> None:
    ours, region = project_config(yaml.safe_load((ROOT / "Pulumi.canary.yaml").read_text()))
    shadow, _ = _shadow_config()
    ours["endpoints"]["fraud"]["drift"] = dict(
        shadow["endpoints"]["fraud"]["drift"], gate=True, every_minutes=every
    )
    ours["endpoints"]["fraud"]["strategy"]["canary"]["insufficient_data_limit_seconds"] = limit
    if not refused:
        build_plan(load_config(ours, region=region), project="p", stack="s")
        return
    with pytest.raises(ConfigError) as err:
        build_plan(load_config(ours, region=region), project="p", stack="s")
    assert any(
        "strategy.canary.insufficient_data_limit_seconds: 900 s is not longer than the 1800 s" in e
        for e in err.value.errors
    ), err.value.errors


@pytest.mark.parametrize("gate", [True, False])
def test_a_canary_can_gate_on_drift_or_keep_it_as_a_warning(gate: bool) -> None:
    ep = _canary_with_drift(gate).endpoints[0]
    assert ep.drift is not None
    names = {a.key: a.name for a in ep.alarms}
    per_feature = {names[f"drift.{f}"] for f in ("amount", "country", "score")}
    assert per_feature <= {a.name for a in ep.alarms}
    assert (per_feature <= set(rollout_of(ep).gate_alarms)) is gate
    assert names["drift.max"] not in rollout_of(ep).gate_alarms  # the max is a warning only
    assert ep.drift.job.variant == "candidate"
    alarm = next(a for a in ep.alarms if a.key == "drift.amount")
    assert (alarm.namespace, alarm.metric, alarm.period_seconds) == (
        "SageMakerRollouts/Drift",
        "FeatureDrift",
        300,  # one period per run of the job (every_minutes 5)
    )
    assert ("Feature", "amount") in alarm.dimensions


def test_drift_job_is_wired_with_a_scoped_policy() -> None:
    from sagemaker_rollouts.cli.stack import load_stack
    from sagemaker_rollouts.infra import policies
    from tests.infra.test_components import FUNCTION, run, statements

    result = run(load_stack(ROOT, "shadow").plan)
    fn = next(r for r in result.of_type(FUNCTION) if r.name.endswith("-drift-function"))
    spec = DriftJobSpec.from_json(fn.inputs["environment"]["variables"]["DRIFT_SPEC"])
    assert (spec.variant, spec.capture_prefix) == ("shadow", "capture/fraud-shadow")
    obj = next(
        r
        for r in result.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
        if r.name.endswith("-drift-baseline")
    )
    assert obj.inputs["key"] == spec.baseline_key
    assert Baseline.from_json(obj.inputs["content"]) == Baseline.from_json(
        (ROOT / "baselines/fraud.json").read_text()
    )
    policy = next(
        r
        for r in result.of_type("aws:iam/rolePolicy:RolePolicy")
        if r.name.endswith("-drift-policy")
    )
    st = statements(policy)
    assert st["ReadCaptures"]["Resource"][0].endswith("/capture/fraud-shadow/fraud-shadow/shadow/*")
    assert st["ListCaptures"]["Condition"] == {
        "StringLike": {"s3:prefix": ["capture/fraud-shadow/fraud-shadow/shadow/*"]}
    }
    assert st["Metrics"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "SageMakerRollouts/Drift"}
    }
    assert policies.iam_policy_violations(policy.inputs["policy"]) == []
