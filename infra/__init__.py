"""Pulumi components that render a plan (`sagemaker_rollouts.infra`).

Public: `RolloutEndpoint` and `RolloutEndpointArgs` (the component for your own program),
`StackResources`, and `ConfigError` (what bad args raise). The modules' other names are internal.
Imported lazily: importing one module of this package does not load the component (pulumi_aws).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sagemaker_rollouts.infra.component import (
        ConfigError,
        RolloutEndpoint,
        RolloutEndpointArgs,
        StackResources,
    )

__all__ = ["ConfigError", "RolloutEndpoint", "RolloutEndpointArgs", "StackResources"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'sagemaker_rollouts.infra' has no attribute {name!r}")
    from sagemaker_rollouts.infra import component

    return getattr(component, name)
