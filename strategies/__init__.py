"""The pure core (`sagemaker_rollouts.strategies`): config model and planners.

No pulumi, boto3 or botocore. Public: `validate_stack` / `validate_component` (raw config to
config, plan and warnings, `pipeline`), `load_config`, `ConfigError`, `build_plan`. Nothing is
imported here until asked for. The canary controller and the other decisions a Lambda takes
live in `sagemaker_rollouts.lambdas`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sagemaker_rollouts.strategies.config_errors import ConfigError
    from sagemaker_rollouts.strategies.config_load import load_config
    from sagemaker_rollouts.strategies.pipeline import (
        Validated,
        validate_component,
        validate_stack,
    )
    from sagemaker_rollouts.strategies.planner import build_plan

_LAZY = {
    "ConfigError": "sagemaker_rollouts.strategies.config_errors",
    "load_config": "sagemaker_rollouts.strategies.config_load",
    "Validated": "sagemaker_rollouts.strategies.pipeline",
    "validate_component": "sagemaker_rollouts.strategies.pipeline",
    "validate_stack": "sagemaker_rollouts.strategies.pipeline",
    "build_plan": "sagemaker_rollouts.strategies.planner",
}

__all__ = [
    "ConfigError",
    "Validated",
    "build_plan",
    "load_config",
    "validate_component",
    "validate_stack",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sagemaker_rollouts.strategies' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
