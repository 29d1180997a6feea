"""Synthetic SageMaker data-capture records, in SageMaker's own format, for rehearsals, tests and
the benchmark.

One record per line: `{"captureData": {"endpointInput": {...}, "endpointOutput": {...}},
"eventMetadata": {"eventId", "inferenceTime", "inferenceId"?}, "eventVersion": "0"}`, where each
side is {observedContentType, mode (INPUT/OUTPUT), data, encoding (CSV | JSON | BASE64)}. Files go
to `<endpoint>/<variant>/yyyy/mm/dd/hh/<name>.jsonl`, as SageMaker writes them under the capture
destination. Deterministic for a given seed.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

Encoding = Literal["CSV", "JSON", "BASE64"]
ENCODINGS: tuple[Encoding, ...] = ("CSV", "JSON", "BASE64")
# DataCaptureConfig.CaptureOptions[].CaptureMode (SageMaker API reference, CaptureOption:
# `Input | Output | InputAndOutput`): which sides a capture line holds. `Input` alone writes no
# `endpointOutput`, `Output` alone no `endpointInput`.
CaptureMode = Literal["InputAndOutput", "Input", "Output"]
CAPTURE_MODES: tuple[CaptureMode, ...] = ("InputAndOutput", "Input", "Output")


@dataclass(frozen=True, slots=True)
class CaptureSpec:
    """What to generate: `requests` production requests from `start`, one every `gap_ms`; the
    shadow receives `sampling_percent` of them; the shadow's score differs from production's by
    more than any small tolerance for `disagree_percent` of the pairs (its label flips too).

    Requests carry features `amount` (numeric, N(mean, 1)) and `country` (categorical).
    Answers are JSON `{"score": float, "label": "fraud"|"ok"}`. `distinct_bodies`: draw each
    request from that many distinct bodies (repeats, as real traffic has); None: all distinct.
    `capture_mode`: which sides every line holds (see `CaptureMode`).
    """

    endpoint: str = "fraud-shadow"
    production: str = "live"
    shadow: str = "shadow"
    requests: int = 1000
    sampling_percent: int = 100
    disagree_percent: float = 0.0
    with_inference_id: bool = True
    start: datetime = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    gap_ms: int = 50
    amount_mean: float = 0.0
    encoding: Encoding | None = None  # None: rotate through CSV, JSON, BASE64
    seed: int = 7
    per_file: int = 5000
    distinct_bodies: int | None = None
    capture_mode: CaptureMode = "InputAndOutput"


def _side(mode: str, content_type: str, text: str, encoding: Encoding) -> dict[str, str]:
    data = base64.b64encode(text.encode()).decode() if encoding == "BASE64" else text
    return {
        "observedContentType": content_type,
        "mode": mode,
        "data": data,
        "encoding": encoding,
    }


def record(
    *,
    request: str,
    answer: str,
    at: datetime,
    encoding: Encoding,
    inference_id: str | None,
    event_id: str,
    capture_mode: CaptureMode = "InputAndOutput",
) -> str:
    """One capture line exactly as SageMaker writes it under `capture_mode`."""
    request_type = "text/csv" if encoding == "CSV" else "application/json"
    meta: dict[str, str] = {
        "eventId": event_id,
        "inferenceTime": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{at.microsecond // 1000:03d}Z",
    }
    if inference_id is not None:
        meta["inferenceId"] = inference_id
    capture: dict[str, dict[str, str]] = {}
    if capture_mode != "Output":
        capture["endpointInput"] = _side("INPUT", request_type, request, encoding)
    if capture_mode != "Input":
        capture["endpointOutput"] = _side("OUTPUT", "application/json", answer, encoding)
    return json.dumps(
        {
            "captureData": capture,
            "eventMetadata": meta,
            "eventVersion": "0",
        },
        separators=(",", ":"),
    )


def records(spec: CaptureSpec) -> Iterator[tuple[str, datetime, str]]:
    """(variant, inference time, line) for every captured record, production and shadow."""
    rng = random.Random(spec.seed)
    countries = ("US", "DE", "FR", "BR", "IN")
    bodies = (
        None
        if spec.distinct_bodies is None
        else [
            (round(rng.gauss(spec.amount_mean, 1.0), 4), countries[rng.randrange(len(countries))])
            for _ in range(spec.distinct_bodies)
        ]
    )
    for i in range(spec.requests):
        at = spec.start + timedelta(milliseconds=i * spec.gap_ms)
        if bodies is None:
            amount = round(rng.gauss(spec.amount_mean, 1.0), 4)
            country = countries[rng.randrange(len(countries))]
        else:
            amount, country = bodies[rng.randrange(len(bodies))]
        encoding = spec.encoding if spec.encoding is not None else ENCODINGS[i % 3]
        request = (
            f"{amount},{country}"
            if encoding == "CSV"
            else json.dumps({"amount": amount, "country": country})
        )
        score = round(rng.random(), 4)
        label = "fraud" if score >= 0.5 else "ok"
        iid = str(uuid.UUID(int=rng.getrandbits(128))) if spec.with_inference_id else None
        prod = json.dumps({"score": score, "label": label})
        yield (
            spec.production,
            at,
            record(
                request=request,
                answer=prod,
                at=at,
                encoding=encoding,
                inference_id=iid,
                event_id=str(uuid.UUID(int=rng.getrandbits(128))),
                capture_mode=spec.capture_mode,
            ),
        )
        if rng.random() * 100 >= spec.sampling_percent:
            continue
        if rng.random() * 100 < spec.disagree_percent:
            s_score = round((score + 0.5) % 1.0, 4)
            s_label = "ok" if label == "fraud" else "fraud"
        else:
            s_score, s_label = round(score + rng.uniform(-0.001, 0.001), 4), label
        shadow_at = at + timedelta(milliseconds=rng.randint(1, 40))
        yield (
            spec.shadow,
            shadow_at,
            record(
                request=request,
                answer=json.dumps({"score": s_score, "label": s_label}),
                at=shadow_at,
                encoding=encoding,
                inference_id=iid,
                event_id=str(uuid.UUID(int=rng.getrandbits(128))),
                capture_mode=spec.capture_mode,
            ),
        )


def object_key(endpoint: str, variant: str, at: datetime, part: int) -> str:
    """`<endpoint>/<variant>/yyyy/mm/dd/hh/<part>.jsonl`, relative to the capture destination."""
    return (
        f"{endpoint}/{variant}/{at.astimezone(UTC).strftime('%Y/%m/%d/%H')}/part-{part:05d}.jsonl"
    )


def files(spec: CaptureSpec, extra_lines: dict[str, list[str]] | None = None) -> dict[str, str]:
    """Relative object key -> file text. `extra_lines[variant]` are appended to that variant's
    first file (malformed lines for tests)."""
    out: dict[str, list[str]] = {}
    counts: dict[tuple[str, str], int] = {}
    for variant, at, line in records(spec):
        hour = at.astimezone(UTC).strftime("%Y/%m/%d/%H")
        n = counts.get((variant, hour), 0)
        counts[(variant, hour)] = n + 1
        out.setdefault(object_key(spec.endpoint, variant, at, n // spec.per_file), []).append(line)
    for variant, lines in (extra_lines or {}).items():
        first = min(k for k in out if f"/{variant}/" in k)
        out[first].extend(lines)
    return {k: "\n".join(v) + "\n" for k, v in out.items()}


def write_tree(
    root: Path, spec: CaptureSpec, extra_lines: dict[str, list[str]] | None = None
) -> int:
    """Write the capture files under `root`; returns the number of files."""
    written = files(spec, extra_lines)
    for key, text in written.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return len(written)


def upload(
    s3: object,
    bucket: str,
    prefix: str,
    spec: CaptureSpec,
    extra_lines: dict[str, list[str]] | None = None,
) -> int:
    """Put the capture files to `s3://bucket/prefix/...` (moto in rehearsals and tests)."""
    written = files(spec, extra_lines)
    for key, text in written.items():
        s3.put_object(Bucket=bucket, Key=f"{prefix.strip('/')}/{key}", Body=text.encode())  # type: ignore[attr-defined]
    return len(written)
