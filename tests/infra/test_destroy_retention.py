"""What `pulumi destroy` leaves behind, capture retention, the KMS window and hook concurrency.

Provider behaviour these stand on: `aws_s3_bucket.force_destroy` makes the provider delete every
object version before DeleteBucket (without it a bucket with captures fails with BucketNotEmpty);
Pulumi's `retain_on_delete` drops a resource from the state without deleting it; KMS
ScheduleKeyDeletion takes a 7..30 day window.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from sagemaker_rollouts.simulator.mockrun import OfflineRun, read_stack_config, run_offline
from sagemaker_rollouts.strategies.config import ConfigError

ROOT = Path(__file__).resolve().parents[2]
CANARY = ROOT / "Pulumi.canary.yaml"
KEY = "sagemaker-rollouts:endpoints"
BUCKET_PARTS = (
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
)


def endpoints() -> dict[str, Any]:
    return copy.deepcopy(read_stack_config(CANARY)[KEY])


def run(config: dict[str, Any] | None = None) -> OfflineRun:
    return run_offline(CANARY, config=config)


@cache
def default_run() -> OfflineRun:
    result = run()
    result.raise_error()
    return result


def with_capture(**capture: Any) -> dict[str, Any]:
    eps = endpoints()
    eps["fraud"]["data_capture"].update(capture)
    return {KEY: eps}


def test_captures_expire_per_endpoint_prefix_and_old_versions_soon_after() -> None:
    result = run(with_capture(retention_days=14))
    result.raise_error()
    (lifecycle,) = result.of_type(BUCKET_PARTS[3])
    (rule,) = lifecycle.inputs["rules"]
    assert rule["status"] == "Enabled"
    assert rule["filter"] == {"prefix": "capture/fraud-detector/"}
    assert rule["expiration"] == {"days": 14}
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 7}
    # parts of uploads that never completed are dropped too (checkov CKV_AWS_300)
    assert rule["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}


def test_retention_defaults_to_30_days() -> None:
    (lifecycle,) = default_run().of_type(BUCKET_PARTS[3])
    assert lifecycle.inputs["rules"][0]["expiration"] == {"days": 30}


def test_retain_is_the_default_and_keeps_the_bucket_its_guards_and_its_key() -> None:
    result = default_run()
    for token in BUCKET_PARTS:
        (part,) = result.of_type(token)
        assert part.retain_on_delete, token
    (bucket,) = result.of_type(BUCKET_PARTS[0])
    assert bucket.inputs["forceDestroy"] is False
    (key,) = result.of_type("aws:kms/key:Key")
    assert key.retain_on_delete  # retained captures stay readable


def test_on_destroy_delete_empties_the_bucket_and_lets_everything_go() -> None:
    result = run(with_capture(on_destroy="delete"))
    result.raise_error()
    (bucket,) = result.of_type(BUCKET_PARTS[0])
    assert bucket.inputs["forceDestroy"] is True
    for token in BUCKET_PARTS:
        (part,) = result.of_type(token)
        assert not part.retain_on_delete, token
    (key,) = result.of_type("aws:kms/key:Key")
    assert not key.retain_on_delete


def test_endpoints_sharing_the_bucket_must_agree_on_destroy() -> None:
    eps = endpoints()
    eps["fraud"]["data_capture"]["on_destroy"] = "delete"
    second = copy.deepcopy(eps["fraud"])
    second["endpoint_name"] = "fraud-detector-eu"
    second["data_capture"]["on_destroy"] = "retain"
    eps["fraud2"] = second
    result = run({KEY: eps})
    assert isinstance(result.error, ConfigError)
    (line,) = [e for e in result.error.errors if "on_destroy" in e]
    assert "endpoints.fraud.data_capture.on_destroy=delete" in line
    assert "endpoints.fraud2.data_capture.on_destroy=retain" in line
    assert result.resources == []


@pytest.mark.parametrize(
    ("value", "error"),
    [("keep", "endpoints.fraud.data_capture.on_destroy")],  # retain / delete: tests above
)
def test_on_destroy_values(value: str, error: str | None) -> None:
    result = run(with_capture(on_destroy=value))
    if error is None:
        result.raise_error()
    else:
        assert isinstance(result.error, ConfigError)
        assert any(e.startswith(error) for e in result.error.errors)


@pytest.mark.parametrize(
    ("days", "error"),
    [(0, True), (-5, True), ("x", True)],  # a valid value: see the 14-day test
)
def test_retention_days_must_be_a_positive_number_of_days(days: Any, error: bool) -> None:
    result = run(with_capture(retention_days=days))
    assert isinstance(result.error, ConfigError) == error
    if error:
        assert isinstance(result.error, ConfigError)
        assert any(
            e.startswith("endpoints.fraud.data_capture.retention_days") for e in result.error.errors
        )


@pytest.mark.parametrize(
    ("window", "expected"),
    [(None, 30), (7, 7), (6, "error"), (31, "error")],
)
def test_kms_deletion_window_is_7_to_30_days(window: int | None, expected: Any) -> None:
    config: dict[str, Any] = {}
    if window is not None:
        config["sagemaker-rollouts:kms_deletion_window_days"] = window
    result = run(config)
    if expected == "error":
        assert isinstance(result.error, ConfigError)
        assert any(e.startswith("kms_deletion_window_days") for e in result.error.errors)
        assert result.resources == []
        return
    result.raise_error()
    (key,) = result.of_type("aws:kms/key:Key")
    assert key.inputs["deletionWindowInDays"] == expected


@pytest.mark.parametrize(
    ("hook", "expected"),
    [({}, 1), ({"reserved_concurrency": 2}, 2), ({"reserved_concurrency": None}, None)],
)
def test_hook_reserved_concurrency(hook: dict[str, Any], expected: int | None) -> None:
    eps = endpoints()
    if hook:
        eps["fraud"]["hook"] = hook
    result = run({KEY: eps})
    result.raise_error()
    (fn,) = result.of_type("aws:lambda/function:Function")
    assert fn.inputs.get("reservedConcurrentExecutions") == expected


def test_a_zero_reservation_would_stop_the_hook_and_is_refused() -> None:
    eps = endpoints()
    eps["fraud"]["hook"] = {"reserved_concurrency": 0}
    result = run({KEY: eps})
    assert isinstance(result.error, ConfigError)
    assert any(
        e.startswith("endpoints.fraud.hook.reserved_concurrency") for e in result.error.errors
    )
