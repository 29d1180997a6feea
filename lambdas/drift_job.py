"""The drift job Lambda: sample recent captures -> score each feature -> publish to CloudWatch.

Triggered by an EventBridge schedule (`drift.every_minutes`). Environment (read in `handler`
only): DRIFT_SPEC (DriftJobSpec JSON) and CAPTURE_BUCKET. The baseline is an object in the
capture bucket (`<capture prefix>/_baselines/<endpoint>.json`), uploaded by the program.

Bounded work per run: it lists the variant's capture folders of the last `lookback_hours`, newest
hour and newest object first, and streams lines until `sample_size` readable records (malformed
lines are skipped and counted). It then publishes `FeatureDrift` (dimensions EndpointName,
VariantName, Feature) for every feature with a value in the sample, and `MaxFeatureDrift`
(EndpointName, VariantName), in namespace `SageMakerRollouts/Drift`, in one PutMetricData call
(at most 1000 metrics per call; the config allows 20 features).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sagemaker_rollouts.strategies.drift import (
    FEATURE_METRIC,
    MAX_METRIC,
    METRIC_NAMESPACE,
    Baseline,
    DriftJobSpec,
    drift_scores,
    max_score,
    sample_features,
)


@dataclass(frozen=True, slots=True)
class DriftClients:
    s3: Any
    cloudwatch: Any


_clients: DriftClients | None = None


def make_clients(region: str | None = None, session: Any = None) -> DriftClients:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard"})
    sess: Any = boto3.session.Session() if session is None else session
    return DriftClients(
        s3=sess.client("s3", region_name=region, config=config),
        cloudwatch=sess.client("cloudwatch", region_name=region, config=config),
    )


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Lambda entry point: the only place that reads the environment and the clock."""
    global _clients
    if _clients is None:
        _clients = make_clients()
    return run(event, os.environ, _clients, time.time())


def hour_prefixes(spec: DriftJobSpec, now: float) -> list[str]:
    """The variant's capture folders for the last `lookback_hours`, newest first."""
    t = datetime.fromtimestamp(now, UTC).replace(minute=0, second=0, microsecond=0)
    base = f"{spec.capture_prefix}/{spec.endpoint_name}/{spec.variant}"
    return [
        f"{base}/{(t - timedelta(hours=h)).strftime('%Y/%m/%d/%H')}/"
        for h in range(spec.lookback_hours + 1)
    ]


def recent_lines(s3: Any, bucket: str, spec: DriftJobSpec, now: float) -> Iterator[str]:
    """Capture lines, newest objects first, streamed (never a whole object in memory)."""
    for prefix in hour_prefixes(spec, now):
        objects: list[dict[str, Any]] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            objects.extend(page.get("Contents", []))
        objects.sort(key=lambda o: (o["LastModified"], o["Key"]), reverse=True)
        for obj in objects:
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"]
            for raw in body.iter_lines():
                yield raw.decode("utf-8", errors="replace")


def run(
    event: Mapping[str, Any],
    env: Mapping[str, str],
    clients: DriftClients,
    now: float,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """One drift measurement at `now`; returns the scores and counts, as data."""
    spec = DriftJobSpec.from_json(env["DRIFT_SPEC"])
    bucket = env["CAPTURE_BUCKET"]
    text = clients.s3.get_object(Bucket=bucket, Key=spec.baseline_key)["Body"].read()
    baseline = Baseline.from_json(text.decode("utf-8"))
    sample = sample_features(
        recent_lines(clients.s3, bucket, spec, now), spec.features, spec.sample_size
    )
    scores = drift_scores(baseline, spec.features, sample)
    top = max_score(scores)
    dims = [
        {"Name": "EndpointName", "Value": spec.endpoint_name},
        {"Name": "VariantName", "Value": spec.variant},
    ]
    at = datetime.fromtimestamp(now, UTC)
    data: list[dict[str, Any]] = [
        {
            "MetricName": FEATURE_METRIC,
            "Dimensions": [*dims, {"Name": "Feature", "Value": name}],
            "Value": value,
            "Timestamp": at,
        }
        for name, value in scores.items()
        if value is not None
    ]
    if top is not None:
        data.append({"MetricName": MAX_METRIC, "Dimensions": dims, "Value": top, "Timestamp": at})
    if data:
        clients.cloudwatch.put_metric_data(Namespace=METRIC_NAMESPACE, MetricData=data)
    result = {
        "endpoint": spec.endpoint_name,
        "variant": spec.variant,
        "records": sample.records,
        "unreadable": sample.unreadable,
        "scores": scores,
        "max": top,
        "published": len(data),
    }
    log(json.dumps({"drift": result}, sort_keys=True))
    return result
