"""Valid stack configs to start from, and a helper to break them one key at a time; the
arguments of one `RolloutEndpoint` component as a user's program passes them."""

from __future__ import annotations

import copy
import re
from typing import Any

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def model(version: str) -> dict[str, Any]:
    return {"image": IMAGE, "model_data_url": f"s3://acme-ml-models/fraud/{version}/model.tar.gz"}


def canary() -> dict[str, Any]:
    return {
        "endpoints": {
            "fraud": {
                "endpoint_name": "fraud-detector",
                "models": {"v1": model("v1"), "v2": model("v2")},
                "variants": [
                    {
                        "name": "stable",
                        "model": "v1",
                        "instance_type": "ml.m5.large",
                        "instance_count": 2,
                    },
                    {
                        "name": "candidate",
                        "model": "v2",
                        "instance_type": "ml.m5.large",
                        "instance_count": 1,
                    },
                ],
                "strategy": {
                    "canary": {
                        "stable": "stable",
                        "candidate": "candidate",
                        "steps": [5, 25, 50],
                        "bake_seconds": 600,
                    }
                },
            }
        },
        "tags": {"team": "fraud"},
    }


def component_canary(**extra: Any) -> dict[str, Any]:
    """A `RolloutEndpoint`'s arguments (`RolloutEndpointArgs` as a dict): endpoint
    "fraud-detector", model v1 on two ml.m5.large "stable" instances, v2 on one "candidate", a
    canary at 5 then 50 percent; a new copy every call, with `extra`'s keys set on top."""
    args: dict[str, Any] = {
        "endpoint_name": "fraud-detector",
        "models": {
            "v1": {"image": IMAGE, "model_data_url": "s3://models/fraud/v1/model.tar.gz"},
            "v2": {"image": IMAGE, "model_data_url": "s3://models/fraud/v2/model.tar.gz"},
        },
        "variants": [
            {"name": "stable", "model": "v1", "instance_type": "ml.m5.large", "instance_count": 2},
            {"name": "candidate", "model": "v2", "instance_type": "ml.m5.large"},
        ],
        "strategy": {"canary": {"stable": "stable", "candidate": "candidate", "steps": [5, 50]}},
    }
    return args | extra


def single(
    strategy: dict[str, Any], *, count: int = 4, itype: str = "ml.m5.large"
) -> dict[str, Any]:
    return {
        "endpoints": {
            "svc": {
                "models": {"m": model("v1")},
                "variants": [
                    {
                        "name": "primary",
                        "model": "m",
                        "instance_type": itype,
                        "instance_count": count,
                    }
                ],
                "strategy": strategy,
            }
        }
    }


def two(strategy: dict[str, Any]) -> dict[str, Any]:
    cfg = canary()
    cfg["endpoints"]["fraud"]["strategy"] = strategy
    return cfg


def with_key(cfg: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `cfg` with the value at a `pulumi config set --path`-style path replaced.

    `value` DELETE removes the key.
    """
    out = copy.deepcopy(cfg)
    parts: list[str | int] = [
        int(p[1:-1]) if p.startswith("[") else p for p in re.findall(r"\[\d+\]|[^.\[\]]+", path)
    ]
    node: Any = out
    for p in parts[:-1]:
        if isinstance(p, str) and isinstance(node, dict) and p not in node:
            node[p] = {}
        node = node[p]
    last = parts[-1]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return out


DELETE = object()
