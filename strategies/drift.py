"""Drift: how far recent captured requests (and answers) have moved from a training baseline.

Pure and standard-library only: the drift Lambda ships this module. Numbers in, numbers out.

Theory of operation
-------------------
A baseline (`rollout baseline --from data.csv --features ...`) records, per feature:
- numeric: bin edges at the training data's deciles (duplicates merged) and the share of
  training rows in each bin `(-inf, e1], (e1, e2], ..., (ek, +inf)`;
- categorical: the share of each of the most frequent categories, the rest pooled as `__other__`.
A feature is numeric when every non-empty training value parses as a number.

The drift job reads a bounded sample of recent capture lines, decodes each request (CSV, JSON or
BASE64, as `captureData.endpointInput.encoding` says) and answer, extracts each feature
(`json_path` for JSON bodies, `csv_column` for CSV bodies; `source: output` reads the answer:
prediction drift is one more feature) and scores it:
- numeric: population stability index over the baseline's bins,
  PSI = sum_i (a_i - e_i) * ln(a_i / e_i), shares floored at `EPSILON` so an empty bin stays
  finite. Rule of thumb (Siddiqi, Credit Risk Scorecards): < 0.1 stable, 0.1-0.25 moderate,
  > 0.25 significant.
- categorical: share shift = total variation distance = 1/2 * sum_c |a_c - e_c|, in 0..1: the
  share of traffic that would have to change category to match the baseline (a category unseen
  in training counts as `__other__`).
Each feature's score is published as one CloudWatch metric, and the maximum as another.
"""

from __future__ import annotations

import base64
import binascii
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
BASELINE_VERSION = 1
METRIC_NAMESPACE = "SageMakerRollouts/Drift"
FEATURE_METRIC = "FeatureDrift"
MAX_METRIC = "MaxFeatureDrift"

Source = Literal["input", "output"]


class BaselineError(ValueError):
    """A baseline file or its source data that cannot be used; the message names what."""


@dataclass(frozen=True, slots=True)
class NumericBins:
    """`edges` e1 < ... < ek split the line into k + 1 bins; `shares` sum to 1."""

    edges: tuple[float, ...]
    shares: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class CategoryShares:
    """Share per category (with `__other__`), summing to 1."""

    shares: tuple[tuple[str, float], ...]


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
                    }
                case CategoryShares():
                    out[name] = {"kind": "categorical", "shares": dict(f.shares)}
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
            raise BaselineError(f"expected a baseline with version {BASELINE_VERSION}")
        d = cast(dict[str, Any], doc)
        if d.get("version") != BASELINE_VERSION:
            raise BaselineError(f"expected a baseline with version {BASELINE_VERSION}")
        feats: list[tuple[str, NumericBins | CategoryShares]] = []
        raw = cast(dict[str, Any], d.get("features") or {})
        for name, value in raw.items():
            f = cast(dict[str, Any], value) if isinstance(value, dict) else {}
            try:
                if f.get("kind") == "numeric":
                    edges = cast(list[Any], f["edges"])
                    shares = cast(list[Any], f["shares"])
                    if len(shares) != len(edges) + 1:
                        raise BaselineError(f"features.{name}: needs len(edges) + 1 shares")
                    feats.append(
                        (
                            name,
                            NumericBins(
                                tuple(float(e) for e in edges), tuple(float(x) for x in shares)
                            ),
                        )
                    )
                elif f.get("kind") == "categorical":
                    cats = cast(dict[str, Any], f["shares"])
                    feats.append(
                        (name, CategoryShares(tuple((str(k), float(v)) for k, v in cats.items())))
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


def quantile_edges(values: Sequence[float], bins: int) -> tuple[float, ...]:
    """Inner edges at the 1/bins .. (bins-1)/bins quantiles (nearest rank), duplicates merged."""
    ordered = sorted(values)
    n = len(ordered)
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
    n = 0
    for row in rows:
        n += 1
        for f in features:
            v = row.get(f)
            if v is not None and str(v).strip() != "":
                values[f].append(str(v).strip())
    out: list[tuple[str, NumericBins | CategoryShares]] = []
    missing = [f for f in features if not values[f]]
    if missing:
        raise BaselineError(f"no values for feature(s) {', '.join(missing)} in {n} rows")
    for f in features:
        nums = [_number(v) for v in values[f]]
        if all(x is not None for x in nums):
            floats = [x for x in nums if x is not None]
            edges = quantile_edges(floats, bins)
            out.append((f, NumericBins(edges, numeric_shares(floats, edges))))
        else:
            out.append((f, CategoryShares(category_shares(values[f], None))))
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


def share_shift(expected: Mapping[str, float], actual: Mapping[str, float]) -> float:
    """Total variation distance between two category distributions, 0..1."""
    keys = set(expected) | set(actual)
    return 0.5 * sum(abs(actual.get(k, 0.0) - expected.get(k, 0.0)) for k in keys)


def score(baseline: NumericBins | CategoryShares, values: Sequence[str]) -> float | None:
    """The feature's drift score over the sample's `values`; None with no usable value."""
    match baseline:
        case NumericBins():
            nums = [x for x in (_number(v) for v in values) if x is not None]
            if not nums:
                return None
            return psi(baseline.shares, numeric_shares(nums, baseline.edges))
        case CategoryShares():
            if not values:
                return None
            expected = dict(baseline.shares)
            actual = dict(category_shares(list(values), list(expected)))
            return share_shift(expected, actual)


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
        return None if v is None or isinstance(v, dict | list) else str(v)
    if not looks_json:
        if spec.csv_column is not None:
            cells = stripped.split("\n", 1)[0].split(",")
            return cells[spec.csv_column].strip() if spec.csv_column < len(cells) else None
        if spec.json_path is None:
            return stripped
    return None


@dataclass(frozen=True, slots=True)
class Sample:
    """Feature values read from capture lines, and how many lines were unreadable."""

    values: dict[str, list[str]]
    records: int
    unreadable: int


def sample_features(lines: Iterable[str], features: Sequence[FeatureSpec], limit: int) -> Sample:
    """Values of each feature from at most `limit` readable capture lines."""
    values: dict[str, list[str]] = {f.name: [] for f in features}
    records = unreadable = 0
    for line in lines:
        if records >= limit:
            break
        if not line.strip():
            continue
        try:
            doc: Any = json.loads(line)
            cap: Any = doc["captureData"]
            sides = {
                "input": decode_side(cap["endpointInput"]),
                "output": decode_side(cap["endpointOutput"]),
            }
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
            unreadable += 1
            continue
        if sides["input"] is None and sides["output"] is None:
            unreadable += 1
            continue
        records += 1
        for f in features:
            side = sides[f.source]
            if side is None:
                continue
            v = extract(f, side[0], side[1])
            if v is not None:
                values[f.name].append(v)
    return Sample(values, records, unreadable)


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
    baseline_key: str  # object key of the baseline in the capture bucket
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
