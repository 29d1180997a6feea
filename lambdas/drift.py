"""Drift: how far recent captured requests (and answers) have moved from a training baseline.

Pure and standard-library only: the drift Lambda ships this module. Numbers in, numbers out.

Theory of operation
-------------------
A baseline (`rollout baseline --from data.csv --features ...`) records, per feature:
- numeric: bin edges at the training data's deciles (duplicates merged) and the share of
  training values in each bin `(-inf, e1], (e1, e2], ..., (ek, +inf)`; a constant feature gets
  the bins `< c`, `= c`, `> c`, so a move either way shows;
- categorical: the share of each of the most frequent categories, the rest pooled as `__other__`
  (booleans are categories `true` / `false`, whatever the body's spelling);
- both: `missing`, the share of rows where the feature is absent, null or empty.
A feature is numeric when every non-empty training value parses as a number.

The drift job reads a bounded sample of recent capture lines, decodes each request (CSV, JSON or
BASE64, as `captureData.endpointInput.encoding` says) and answer, extracts each feature
(`json_path` for JSON bodies, `csv_column` for CSV bodies; `source: output` reads the answer:
prediction drift is one more feature) and scores it:
One scale for every kind of feature, so one threshold means the same everywhere: the
population stability index PSI = sum_i (a_i - e_i) * ln(a_i / e_i) over one distribution per
feature, every share floored at `EPSILON` (1e-4) so an empty bin stays finite:
- numeric: the baseline's bins, plus one bin for "missing or not a number";
- categorical: the baseline's categories, `__other__` (a category unseen in training lands
  there) and "missing".
The share of missing values is part of the distribution: a feature that goes 60% null scores
about 5.2, a category that carried 20% of traffic and vanishes about 1.56 (1.52 for its own bin,
the rest from the others growing). Rule of thumb (Siddiqi, Credit Risk Scorecards): < 0.1 stable,
0.1-0.25 moderate, > 0.25 significant. A record counts for a feature only when the side the
feature reads (request or answer) was captured: with CaptureOption `Input` only, answer
features have no sample (score None), never a 100% missing share.
Each feature's score is published as one CloudWatch metric, and the maximum as another.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

EPSILON = 1e-4
OTHER = "__other__"
MAX_CATEGORIES = 20
BASELINE_VERSION = 2  # 2 added `missing`; version 1 files read with missing 0
READABLE_VERSIONS = (1, 2)
METRIC_NAMESPACE = "SageMakerRollouts/Drift"
FEATURE_METRIC = "FeatureDrift"
MAX_METRIC = "MaxFeatureDrift"
# 1 when a run could not measure (baseline gone, S3 denied or throttled past its retries, ...),
# 0 when it measured; a job that does not run publishes nothing. Dimensions as MAX_METRIC.
JOB_METRIC = "DriftJobFailed"
# Baselines live under their own prefix in the capture bucket, outside every capture prefix, so
# the capture lifecycle rule (which expires `<capture prefix>/` after `retention_days`) never
# deletes them (`strategies/planner.py` refuses a capture prefix that would cover it).
BASELINE_PREFIX = "rollout-baselines"


def baseline_key(endpoint_name: str) -> str:
    """Object key of an endpoint's drift baseline in the capture bucket."""
    return f"{BASELINE_PREFIX}/{endpoint_name}.json"


Source = Literal["input", "output"]


class BaselineError(ValueError):
    """A baseline file or its source data that cannot be used; the message names what."""


@dataclass(frozen=True, slots=True)
class NumericBins:
    """`edges` e1 < ... < ek split the line into k + 1 bins; `shares` (of the present values)
    sum to 1; `missing` is the share of rows without a value, 0..1."""

    edges: tuple[float, ...]
    shares: tuple[float, ...]
    missing: float = 0.0


@dataclass(frozen=True, slots=True)
class CategoryShares:
    """Share per category (with `__other__`) of the present values, summing to 1; `missing` is
    the share of rows without a value, 0..1."""

    shares: tuple[tuple[str, float], ...]
    missing: float = 0.0


@dataclass(frozen=True, slots=True)
class Baseline:
    features: tuple[tuple[str, NumericBins | CategoryShares], ...]
    rows: int

    def feature(self, name: str) -> NumericBins | CategoryShares:
        for n, f in self.features:
            if n == name:
                return f
        raise KeyError(name)

    def to_json(self) -> str:
        out: dict[str, Any] = {}
        for name, f in self.features:
            match f:
                case NumericBins():
                    out[name] = {
                        "kind": "numeric",
                        "edges": list(f.edges),
                        "shares": list(f.shares),
                        "missing": f.missing,
                    }
                case CategoryShares():
                    out[name] = {
                        "kind": "categorical",
                        "shares": dict(f.shares),
                        "missing": f.missing,
                    }
        return json.dumps(
            {"version": BASELINE_VERSION, "rows": self.rows, "features": out}, indent=2
        )

    @staticmethod
    def from_json(text: str) -> Baseline:
        """Raises BaselineError naming the problem (not JSON, wrong version, bad feature)."""
        try:
            doc: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BaselineError(f"not JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise BaselineError("expected a JSON object with version and features")
        d = cast(dict[str, Any], doc)
        if d.get("version") not in READABLE_VERSIONS:
            raise BaselineError(
                f"expected a baseline with version {' or '.join(map(str, READABLE_VERSIONS))}"
            )
        feats: list[tuple[str, NumericBins | CategoryShares]] = []
        raw = cast(dict[str, Any], d.get("features") or {})
        for name, value in raw.items():
            f = cast(dict[str, Any], value) if isinstance(value, dict) else {}
            try:
                missing = float(f.get("missing", 0.0))
                if not 0.0 <= missing <= 1.0:
                    raise BaselineError(f"features.{name}.missing: a share 0..1, got {missing}")
                if f.get("kind") == "numeric":
                    edges = cast(list[Any], f["edges"])
                    shares = cast(list[Any], f["shares"])
                    if len(shares) != len(edges) + 1:
                        raise BaselineError(f"features.{name}: needs len(edges) + 1 shares")
                    feats.append(
                        (
                            name,
                            NumericBins(
                                tuple(float(e) for e in edges),
                                tuple(float(x) for x in shares),
                                missing,
                            ),
                        )
                    )
                elif f.get("kind") == "categorical":
                    cats = cast(dict[str, Any], f["shares"])
                    feats.append(
                        (
                            name,
                            CategoryShares(
                                tuple((str(k), float(v)) for k, v in cats.items()), missing
                            ),
                        )
                    )
                else:
                    raise BaselineError(f"features.{name}.kind: must be numeric or categorical")
            except (KeyError, TypeError, ValueError) as exc:
                if isinstance(exc, BaselineError):
                    raise
                raise BaselineError(f"features.{name}: malformed ({exc})") from None
        return Baseline(tuple(feats), int(d.get("rows", 0)))


def load_baseline_file(path: str) -> Baseline:
    """Read and parse a baseline file (relative paths: from the current directory, where
    `pulumi up` runs). Raises OSError or BaselineError."""
    with open(path, encoding="utf-8") as fh:
        return Baseline.from_json(fh.read())


# --------------------------------------------------------------------------- baseline


def _number(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def as_text(value: Any) -> str | None:
    """One feature value as text, the same from every source: None for absent, null or empty;
    booleans as `true` / `false` (JSON's spelling, also for CSV `True`); others trimmed."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    if text == "":
        return None
    low = text.lower()
    return low if low in ("true", "false") else text


def quantile_edges(values: Sequence[float], bins: int) -> tuple[float, ...]:
    """Inner edges at the 1/bins .. (bins-1)/bins quantiles (nearest rank), duplicates merged.
    A constant feature c gets (c-, c): bins `< c`, `= c`, `> c` (one bin would be blind)."""
    ordered = sorted(values)
    n = len(ordered)
    if n and ordered[0] == ordered[-1]:
        c = ordered[0]
        return (math.nextafter(c, -math.inf), c)
    edges: list[float] = []
    for i in range(1, bins):
        e = ordered[min(n - 1, max(0, math.ceil(i * n / bins) - 1))]
        if not edges or e > edges[-1]:
            edges.append(e)
    if edges and edges[-1] >= ordered[-1]:
        edges.pop()  # a last bin that no value could fall in
    return tuple(edges)


def bin_index(value: float, edges: Sequence[float]) -> int:
    """Index of the bin `(e_{i-1}, e_i]` holding `value` (0 .. len(edges))."""
    lo, hi = 0, len(edges)
    while lo < hi:
        mid = (lo + hi) // 2
        if value <= edges[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


def numeric_shares(values: Iterable[float], edges: Sequence[float]) -> tuple[float, ...]:
    counts = [0] * (len(edges) + 1)
    n = 0
    for v in values:
        counts[bin_index(v, edges)] += 1
        n += 1
    return tuple(0.0 if n == 0 else c / n for c in counts)


def build_baseline(
    rows: Iterable[Mapping[str, Any]], features: Sequence[str], *, bins: int = 10
) -> Baseline:
    """A baseline from training rows (column -> value). Raises BaselineError for a feature that
    is missing from every row."""
    values: dict[str, list[str]] = {f: [] for f in features}
    columns: dict[str, None] = {}  # every column seen, in order (for the error's did-you-mean)
    n = 0
    for row in rows:
        n += 1
        columns.update(dict.fromkeys(map(str, row)))
        for f in features:
            v = as_text(row.get(f))
            if v is not None:
                values[f].append(v)
    out: list[tuple[str, NumericBins | CategoryShares]] = []
    missing = [f for f in features if not values[f]]
    if missing:
        hints = [
            f"{f}: did you mean {close[0]}?"
            for f in missing
            for close in [difflib.get_close_matches(f, list(columns), n=1)]
            if close
        ]
        known = f"; columns: {', '.join(columns)}" if columns else ""
        raise BaselineError(
            f"no values for feature(s) {', '.join(missing)} in {n} rows"
            + (f" ({'; '.join(hints)})" if hints else "")
            + known
        )
    for f in features:
        absent = (n - len(values[f])) / n
        nums = [_number(v) for v in values[f]]
        if all(x is not None for x in nums):
            floats = [x for x in nums if x is not None]
            edges = quantile_edges(floats, bins)
            out.append((f, NumericBins(edges, numeric_shares(floats, edges), absent)))
        else:
            out.append((f, CategoryShares(category_shares(values[f], None), absent)))
    return Baseline(tuple(out), n)


def category_shares(
    values: Sequence[str], known: Sequence[str] | None
) -> tuple[tuple[str, float], ...]:
    """Shares per category. With `known` (the baseline's categories), anything else is
    `__other__`; without, the `MAX_CATEGORIES` most frequent are kept and the rest pooled."""
    counts = Counter(values)
    n = len(values)
    if known is None:
        top = [c for c, _ in counts.most_common(MAX_CATEGORIES)]
        keep = set(top)
        other = sum(v for c, v in counts.items() if c not in keep)
        shares = [(c, counts[c] / n) for c in sorted(top)]
        if other:
            shares.append((OTHER, other / n))
        return tuple(shares)
    names = [c for c in known if c != OTHER]
    keep = set(names)
    other = sum(v for c, v in counts.items() if c not in keep)
    out = [(c, 0.0 if n == 0 else counts[c] / n) for c in names]
    out.append((OTHER, 0.0 if n == 0 else other / n))
    return tuple(out)


# --------------------------------------------------------------------------- scores


def psi(expected: Sequence[float], actual: Sequence[float], epsilon: float = EPSILON) -> float:
    """Population stability index of `actual` against `expected` shares (same bins)."""
    if len(expected) != len(actual):
        raise ValueError(f"bins differ: {len(expected)} expected, {len(actual)} actual")
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e2, a2 = max(e, epsilon), max(a, epsilon)
        total += (a2 - e2) * math.log(a2 / e2)
    return total


def expected_distribution(baseline: NumericBins | CategoryShares) -> tuple[float, ...]:
    """The baseline as one distribution over all rows: numeric bins then missing; categories
    (in the baseline's order), `__other__`, then missing. Sums to 1."""
    present = 1.0 - baseline.missing
    match baseline:
        case NumericBins():
            return (*(present * x for x in baseline.shares), baseline.missing)
        case CategoryShares():
            shares = dict(baseline.shares)
            names = [c for c, _ in baseline.shares if c != OTHER]
            return (
                *(present * shares[c] for c in names),
                present * shares.get(OTHER, 0.0),
                baseline.missing,
            )


def actual_distribution(
    baseline: NumericBins | CategoryShares, values: Sequence[str | None]
) -> tuple[float, ...]:
    """The sample's `values` (None: missing) over the same bins as `expected_distribution`.
    Numeric: a value that is not a number counts as missing. Categorical: a category the
    baseline does not name counts as `__other__`."""
    n = len(values)
    match baseline:
        case NumericBins():
            counts = [0] * (len(baseline.edges) + 2)
            for v in values:
                x = None if v is None else _number(v)
                counts[-1 if x is None else bin_index(x, baseline.edges)] += 1
        case CategoryShares():
            names = [c for c, _ in baseline.shares if c != OTHER]
            slot = {c: i for i, c in enumerate(names)}
            counts = [0] * (len(names) + 2)
            for v in values:
                counts[-1 if v is None else slot.get(v, len(names))] += 1
    return tuple(0.0 if n == 0 else c / n for c in counts)


def score(baseline: NumericBins | CategoryShares, values: Sequence[str | None]) -> float | None:
    """PSI of the sample's `values` (None: missing) against the baseline, over the bins of
    `expected_distribution`; None when the sample holds no record for the feature."""
    if not values:
        return None
    return psi(expected_distribution(baseline), actual_distribution(baseline, values))


# --------------------------------------------------------------------------- capture decoding


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """Where a feature lives in a captured request (`source: input`) or answer (`output`)."""

    name: str
    source: Source = "input"
    json_path: str | None = None
    csv_column: int | None = None


_PATH_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def json_path_get(doc: Any, path: str) -> Any:
    """`$.a.b[0]` from parsed JSON; None when any step is missing."""
    if not path.startswith("$"):
        return None
    cur: Any = doc
    for m in _PATH_PART.finditer(path, 1):
        key, idx = m.group(1), m.group(2)
        if key is not None:
            cur = cast(dict[str, Any], cur).get(key) if isinstance(cur, dict) else None
        else:
            items = cast(list[Any], cur) if isinstance(cur, list) else []
            i = int(idx)
            cur = items[i] if i < len(items) else None
        if cur is None:
            return None
    return cur


def decode_side(side: Mapping[str, Any]) -> tuple[str, str] | None:
    """(encoding, text) of `endpointInput` / `endpointOutput`; None if undecodable."""
    data = side.get("data")
    enc = str(side.get("encoding", ""))
    if not isinstance(data, str):
        return None
    if enc == "BASE64":
        try:
            return enc, base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
    return enc, data


def extract(spec: FeatureSpec, encoding: str, text: str) -> str | None:
    """The feature's value as text from one decoded body; None when absent."""
    stripped = text.strip()
    looks_json = encoding == "JSON" or stripped.startswith(("{", "["))
    if looks_json and spec.json_path is not None:
        try:
            v = json_path_get(json.loads(stripped), spec.json_path)
        except json.JSONDecodeError:
            return None
        return None if isinstance(v, dict | list) else as_text(v)
    if not looks_json:
        if spec.csv_column is not None:
            cells = stripped.split("\n", 1)[0].split(",")
            return as_text(cells[spec.csv_column]) if spec.csv_column < len(cells) else None
        if spec.json_path is None:
            return as_text(stripped)
    return None


@dataclass(frozen=True, slots=True)
class Sample:
    """Feature values read from capture lines (None: the record lacks the feature), how many
    lines were unreadable, and how many records had their request only (CaptureOption `Input`)
    or answer only (`Output`)."""

    values: dict[str, list[str | None]]
    records: int
    unreadable: int
    input_only: int = 0
    output_only: int = 0


def sample_features(lines: Iterable[str], features: Sequence[FeatureSpec], limit: int) -> Sample:
    """Values of each feature from at most `limit` readable capture lines.

    A record counts for a feature when the side it reads was captured and decodes; the value
    is then its text, or None when the body lacks it (missing is part of the distribution).
    A line that is not JSON, has no `captureData`, or neither side decodes is unreadable."""
    values: dict[str, list[str | None]] = {f.name: [] for f in features}
    records = unreadable = input_only = output_only = 0
    for line in lines:
        if records >= limit:
            break
        if not line.strip():
            continue
        try:
            doc: Any = json.loads(line)
            cap: Any = doc["captureData"]
            raw_in: Any = cap.get("endpointInput")
            raw_out: Any = cap.get("endpointOutput")
            sides = {
                "input": None if raw_in is None else decode_side(raw_in),
                "output": None if raw_out is None else decode_side(raw_out),
            }
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
            unreadable += 1
            continue
        if sides["input"] is None and sides["output"] is None:
            unreadable += 1
            continue
        records += 1
        input_only += raw_out is None
        output_only += raw_in is None
        for f in features:
            side = sides[f.source]
            if side is None:
                continue
            values[f.name].append(extract(f, side[0], side[1]))
    return Sample(values, records, unreadable, input_only, output_only)


def drift_scores(
    baseline: Baseline, features: Sequence[FeatureSpec], sample: Sample
) -> dict[str, float | None]:
    """Score per feature (None: no usable value in the sample)."""
    return {f.name: score(baseline.feature(f.name), sample.values[f.name]) for f in features}


def max_score(scores: Mapping[str, float | None]) -> float | None:
    present = [v for v in scores.values() if v is not None]
    return max(present) if present else None


@dataclass(frozen=True, slots=True)
class DriftJobSpec:
    """What the drift Lambda needs (environment JSON): where to read, what to score."""

    endpoint_name: str
    variant: str
    capture_prefix: str  # key prefix inside the capture bucket, without the endpoint
    baseline_key: str  # object key of the baseline in the capture bucket (`baseline_key()`)
    features: tuple[FeatureSpec, ...]
    sample_size: int
    lookback_hours: int
    every_minutes: int

    def to_json(self) -> str:
        return json.dumps(
            {
                "endpoint_name": self.endpoint_name,
                "variant": self.variant,
                "capture_prefix": self.capture_prefix,
                "baseline_key": self.baseline_key,
                "features": [
                    {
                        "name": f.name,
                        "source": f.source,
                        "json_path": f.json_path,
                        "csv_column": f.csv_column,
                    }
                    for f in self.features
                ],
                "sample_size": self.sample_size,
                "lookback_hours": self.lookback_hours,
                "every_minutes": self.every_minutes,
            },
            sort_keys=True,
        )

    @staticmethod
    def from_json(text: str) -> DriftJobSpec:
        d: dict[str, Any] = json.loads(text)
        feats: list[FeatureSpec] = []
        for f in d["features"]:
            source: Source = "output" if f["source"] == "output" else "input"
            feats.append(
                FeatureSpec(
                    name=str(f["name"]),
                    source=source,
                    json_path=None if f["json_path"] is None else str(f["json_path"]),
                    csv_column=None if f["csv_column"] is None else int(f["csv_column"]),
                )
            )
        return DriftJobSpec(
            endpoint_name=str(d["endpoint_name"]),
            variant=str(d["variant"]),
            capture_prefix=str(d["capture_prefix"]),
            baseline_key=str(d["baseline_key"]),
            features=tuple(feats),
            sample_size=int(d["sample_size"]),
            lookback_hours=int(d["lookback_hours"]),
            every_minutes=int(d["every_minutes"]),
        )


@dataclass(frozen=True, slots=True)
class DriftPlan:
    """The drift job of one endpoint: its spec, the baseline's JSON (uploaded next to the
    captures), and the alarms' threshold."""

    job: DriftJobSpec
    baseline_json: str
    threshold: float
    gate: bool
