"""What the program reads back at deploy time about an endpoint a previous `pulumi up` left
(`strategies.native.LiveEndpoint`, built from DescribeEndpoint and the endpoint's tags), for
tests that run the program again over it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sagemaker_rollouts.strategies.native import LiveEndpoint


def in_service(
    name: str, weights: Mapping[str, float], tags: Mapping[str, Any] | None = None
) -> LiveEndpoint:
    """Endpoint `name` InService with no deployment pending and no blue/green state (config not
    tagged by the stack, no auto-rollback): the canary's hook has moved its variants to
    `weights` (variant -> CurrentWeight); `tags` as declared (values as strings, sorted)."""
    return LiveEndpoint(
        name=name,
        status="InService",
        config_name=None,
        deployed_config=None,
        deployed_attempt=None,
        pending_config=None,
        pending_variant_statuses=(),
        failure_reason=None,
        has_auto_rollback=False,
        tags=tuple(sorted((k, str(v)) for k, v in (tags or {}).items())),
        weights=tuple(weights.items()),
    )
