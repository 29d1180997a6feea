"""The hook's first invocation loads botocore, never boto3: what `bench/bench_hook.py` times as
its cold import (`SDK`) is what the handler really imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import json, sys
import sagemaker_rollouts.lambdas.canary_hook as hook
before = set(sys.modules)
import botocore.session, botocore.config  # bench_hook.SDK
after_sdk = set(sys.modules)
clients = hook.make_clients("us-east-1")
made = set(sys.modules)
print(json.dumps({
    "boto3": sorted(m for m in made if m == "boto3" or m.startswith("boto3.")),
    "outside_botocore": sorted(
        m for m in made - after_sdk if m.split(".")[0] not in ("botocore",)
    ),
    "sdk_new": sorted(m.split(".")[0] for m in after_sdk - before),
    "services": [c.meta.service_model.service_name for c in (
        clients.sagemaker, clients.cloudwatch, clients.dynamodb, clients.sns)],
    "retries": [c.meta.config.retries for c in (clients.sagemaker, clients.sns)],
    "region": clients.sagemaker.meta.region_name,
}))
"""


def test_first_invocation_makes_its_clients_from_botocore_without_boto3() -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        # Fake credentials: the clients are only built, never called.
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    out = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    seen = json.loads(out.stdout)
    assert seen["boto3"] == []
    # Building the clients needs nothing beyond botocore (and the stdlib it loads lazily).
    assert all(m.split(".")[0] in sys.stdlib_module_names for m in seen["outside_botocore"]), seen[
        "outside_botocore"
    ]
    # botocore and its own dependencies (urllib3, dateutil, jmespath, ...), not boto3's.
    assert "botocore" in seen["sdk_new"]
    assert not {"boto3", "s3transfer"} & set(seen["sdk_new"])
    assert seen["services"] == ["sagemaker", "cloudwatch", "dynamodb", "sns"]
    assert all(r.get("mode") == "standard" for r in seen["retries"])
    assert seen["region"] == "us-east-1"
