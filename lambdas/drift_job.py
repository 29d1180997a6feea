"""The drift job Lambda: sample recent captures -> score each feature -> publish to CloudWatch.

Triggered by an EventBridge schedule (`drift.every_minutes`). Environment (read in `handler`
only): DRIFT_SPEC (DriftJobSpec JSON), CAPTURE_BUCKET, TOPIC_ARN (the stack's rollout-events
topic), ROLLOUT_STACK and ROLLOUT_TARGET (for the commands its notice prints). The baseline is an object in the capture bucket
(`rollout-baselines/<endpoint>.json`, outside every capture prefix so the capture lifecycle rule
never expires it), uploaded by the program.

Bounded work per run: it lists the variant's capture folders of the last `lookback_hours`, newest
hour and newest object first, and streams lines until `sample_size` readable records (malformed
lines are skipped and counted). It then publishes `FeatureDrift` (dimensions EndpointName,
VariantName, Feature) for every feature with a value in the sample, and `MaxFeatureDrift`
(EndpointName, VariantName), in namespace `SageMakerRollouts/Drift`, in one PutMetricData call
(at most 1000 metrics per call; the config allows 20 features), with `DriftJobFailed` 0.

A run that cannot measure (the baseline missing or unreadable, S3 denied, throttled or failing
past botocore's retries, a stream cut mid-read) is never "no drift": it publishes no score, so
the drift alarms go INSUFFICIENT_DATA (a gated canary holds), publishes `DriftJobFailed` 1 (its
alarm goes to ALARM), and tells a human on the stack's topic, once per failure spell: it reads
its own `DriftJobFailed` of the previous two periods and stays quiet when that already says 1
(or notifies anyway when it cannot read it); a failed Publish is recorded as `DriftJobFailed` 2
and retried on the next run. The run then returns `status: failed` instead of raising, so the
asynchronous invocation is not retried into duplicate messages; only a failure to publish the
failure metric itself raises (the Lambda's error, and the health alarm's missing data, show it).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sagemaker_rollouts.lambdas import notify as notify_format
from sagemaker_rollouts.lambdas.drift import (
    FEATURE_METRIC,
    JOB_METRIC,
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
    sns: Any = None


_clients: DriftClients | None = None


def make_clients(region: str | None = None, session: Any = None) -> DriftClients:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard"})
    sess: Any = boto3.session.Session() if session is None else session
    return DriftClients(
        s3=sess.client("s3", region_name=region, config=config),
        cloudwatch=sess.client("cloudwatch", region_name=region, config=config),
        sns=sess.client("sns", region_name=region, config=config),
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
    """One drift measurement at `now`; returns the scores and counts, as data.

    `status` is `measured` or `failed` (with `error`); a failure is reported on CloudWatch and
    SNS (see the module doc). Raises only when the environment is broken (a deployment bug) or
    the failure cannot even be published."""
    spec = DriftJobSpec.from_json(env["DRIFT_SPEC"])
    bucket = env["CAPTURE_BUCKET"]
    dims = [
        {"Name": "EndpointName", "Value": spec.endpoint_name},
        {"Name": "VariantName", "Value": spec.variant},
    ]
    at = datetime.fromtimestamp(now, UTC)
    try:
        text = clients.s3.get_object(Bucket=bucket, Key=spec.baseline_key)["Body"].read()
        baseline = Baseline.from_json(text.decode("utf-8"))
        sample = sample_features(
            recent_lines(clients.s3, bucket, spec, now), spec.features, spec.sample_size
        )
        scores = drift_scores(baseline, spec.features, sample)
    except Exception as exc:  # any way of not measuring is reported, never read as no drift
        return _failed(spec, env, clients, now, dims, exc, log)
    top = max_score(scores)
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
    data.append({"MetricName": JOB_METRIC, "Dimensions": dims, "Value": 0.0, "Timestamp": at})
    clients.cloudwatch.put_metric_data(Namespace=METRIC_NAMESPACE, MetricData=data)
    result = {
        "status": "measured",
        "endpoint": spec.endpoint_name,
        "variant": spec.variant,
        "records": sample.records,
        "unreadable": sample.unreadable,
        "input_only": sample.input_only,
        "scores": scores,
        "max": top,
        "published": len(data) - 1,
    }
    log(json.dumps({"drift": result}, sort_keys=True))
    return result


TOLD, UNTOLD = 1.0, 2.0  # DriftJobFailed values: a failure a human was told of / not yet told


def _told_before(clients: DriftClients, spec: DriftJobSpec, dims: Any, now: float) -> bool:
    """Whether a run of the last two schedule periods already reported a failure and told a
    human (`DriftJobFailed` = 1); False when that cannot be read (then the human is told again
    rather than not at all)."""
    period = spec.every_minutes * 60
    try:
        resp = clients.cloudwatch.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "failed",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": METRIC_NAMESPACE,
                            "MetricName": JOB_METRIC,
                            "Dimensions": dims,
                        },
                        "Period": 60,
                        "Stat": "Minimum",
                    },
                }
            ],
            StartTime=datetime.fromtimestamp(now - 2 * period, UTC),
            EndTime=datetime.fromtimestamp(now - 1, UTC),
        )
        values = [v for r in resp.get("MetricDataResults", []) for v in r.get("Values", [])]
    except Exception:
        return False
    return any(float(v) == TOLD for v in values)


def _failed(
    spec: DriftJobSpec,
    env: Mapping[str, str],
    clients: DriftClients,
    now: float,
    dims: Any,
    exc: Exception,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Report a run that could not measure: tell a human (once per spell), then publish
    `DriftJobFailed` 1 (told) or 2 (not told: the next run tries again)."""
    error = f"{type(exc).__name__}: {exc}"[:500]
    already = _told_before(clients, spec, dims, now)
    topic = env.get("TOPIC_ARN")
    notified = False
    notify_error: str | None = None
    if topic and not already and clients.sns is not None:
        body = {
            "endpoint": spec.endpoint_name,
            "decision": "drift_job_failed",
            "reason": f"the drift job could not measure: {error}",
            "variant": spec.variant,
            "baseline_key": spec.baseline_key,
            "effect": "no drift scores are published: drift alarms go INSUFFICIENT_DATA, so a "
            "canary gated on drift holds (and rolls back past insufficient_data_limit_seconds)",
        }
        try:
            clients.sns.publish(
                TopicArn=topic,
                Subject=f"Drift job failing on {spec.endpoint_name}"[:100],
                MessageStructure="json",
                Message=notify_format.render(
                    f"Drift job failing on {spec.endpoint_name}",
                    body,
                    env.get("ROLLOUT_STACK"),
                    env.get("ROLLOUT_TARGET"),
                ),
            )
            notified = True
        except Exception as sns_exc:  # told nobody: say so in the metric, retry next run
            notify_error = f"{type(sns_exc).__name__}: {sns_exc}"[:500]
    told = already or notified or not topic
    clients.cloudwatch.put_metric_data(
        Namespace=METRIC_NAMESPACE,
        MetricData=[
            {
                "MetricName": JOB_METRIC,
                "Dimensions": dims,
                "Value": TOLD if told else UNTOLD,
                "Timestamp": datetime.fromtimestamp(now, UTC),
            }
        ],
    )
    result = {
        "status": "failed",
        "endpoint": spec.endpoint_name,
        "variant": spec.variant,
        "error": error,
        "notified": notified,
        "already_reported": already,
        "notify_error": notify_error,
    }
    log(json.dumps({"drift": result}, sort_keys=True))
    return result
