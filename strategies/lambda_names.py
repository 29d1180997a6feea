"""The names of an endpoint's Lambdas (canary hook, A/B evaluator, drift job): pure.

The program names each function explicitly (its log group must be known before it exists), from the
endpoint name alone, so whoever knows the endpoint name finds its Lambdas: `rollout status
--endpoint NAME` reads the hook's environment (rollout spec, state table, topic) with
GetFunctionConfiguration, whichever way the endpoint was declared.
"""

from __future__ import annotations

import hashlib

__all__ = [
    "AB_SUFFIX",
    "DRIFT_SUFFIX",
    "HOOK_SUFFIX",
    "SUFFIXES",
    "function_name",
    "hook_function_name",
]

HOOK_SUFFIX = "-canary-hook"
AB_SUFFIX = "-ab-evaluator"
DRIFT_SUFFIX = "-drift"
# Each function's suffix by its kind (`function_alarms.EndpointFunction.kind`).
SUFFIXES = {"canary_hook": HOOK_SUFFIX, "ab_evaluator": AB_SUFFIX, "drift_job": DRIFT_SUFFIX}
# Lambda's CreateFunction: FunctionName (the name alone) at most 64 characters.
MAX_FUNCTION_NAME = 64


def function_name(endpoint_name: str, suffix: str) -> str:
    """`<endpoint><suffix>`, at most 64 characters; a long endpoint name is shortened and a hash
    of the whole name keeps it unique."""
    if len(endpoint_name) + len(suffix) <= MAX_FUNCTION_NAME:
        return f"{endpoint_name}{suffix}"
    digest = hashlib.sha256(endpoint_name.encode()).hexdigest()[:8]
    return f"{endpoint_name[: MAX_FUNCTION_NAME - len(suffix) - 9]}-{digest}{suffix}"


def hook_function_name(endpoint_name: str) -> str:
    """The canary hook's Lambda name for `endpoint_name`."""
    return function_name(endpoint_name, HOOK_SUFFIX)
