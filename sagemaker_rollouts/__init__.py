"""sagemaker-rollouts: ship ML models to Amazon SageMaker endpoints safely, with Pulumi.

Public API (imported lazily, so the Lambda zips, which carry this file, need neither pulumi nor
pydantic): `RolloutEndpoint` and `RolloutEndpointArgs` (the component for your own Pulumi
program), `StackResources`. Subpackages: `sagemaker_rollouts.strategies` (pure config and
plans), `sagemaker_rollouts.infra` (Pulumi components), `sagemaker_rollouts.lambdas` (what the
Lambdas run: handlers and the canary controller), `sagemaker_rollouts.cli` (the `rollout` command).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # typed names for editors and pyright; at runtime `__getattr__` imports them
    from sagemaker_rollouts.infra.component import (
        RolloutEndpoint,
        RolloutEndpointArgs,
        StackResources,
    )

__version__ = "0.2.0"

_LAZY = {
    "RolloutEndpoint": "sagemaker_rollouts.infra.component",
    "RolloutEndpointArgs": "sagemaker_rollouts.infra.component",
    "StackResources": "sagemaker_rollouts.infra.component",
}

__all__ = ["RolloutEndpoint", "RolloutEndpointArgs", "StackResources", "__version__"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sagemaker_rollouts' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
