"""The CrossGuard adapter: every rule of `sagemaker_rollouts.infra.policies` as a `pulumi_policy`
policy. `policies/__main__.py` serves them as the `sagemaker-rollouts` policy pack; the tests
call the same objects with `pulumi_policy` args built directly.

Needs the `pulumi-policy` package (extra `[policy]`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from sagemaker_rollouts.infra import policies

PACK_NAME = "sagemaker-rollouts"
_LEVELS = {
    "mandatory": EnforcementLevel.MANDATORY,
    "advisory": EnforcementLevel.ADVISORY,
    "disabled": EnforcementLevel.DISABLED,
}


def _schema(policy: policies.Policy) -> PolicyConfigSchema | None:
    if not policy.config_schema:
        return None
    return PolicyConfigSchema({k: dict(v) for k, v in policy.config_schema.items()})


def _resource_validation(policy: policies.ResourcePolicy) -> Any:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in policy.types:
            return
        for message in policy.check(args.props, policy.settings(args.get_config())):
            report(message, None)

    return validate


def _stack_validation(policy: policies.StackPolicy) -> Any:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        resources = [
            policies.Resource(
                r.resource_type,
                r.name,
                r.props,
                urn=r.urn,
                depends_on=tuple(
                    dict.fromkeys(
                        [d.urn for d in r.dependencies]
                        + [d.urn for deps in r.property_dependencies.values() for d in deps]
                    )
                ),
            )
            for r in args.resources
        ]
        found = policy.check(resources, args.stack_tags, policy.settings(args.get_config()))
        for resource, message in found:
            report(message, None if resource is None else resource.urn or None)

    return validate


def pack_policies(
    levels: Mapping[str, policies.Level] | None = None,
) -> list[Policy]:
    """One `pulumi_policy` policy per rule, at its default level unless `levels` names another.

    Levels can also be changed without code: `pulumi preview --policy-pack policies
    --policy-pack-config cfg.json` with `{"<policy>": {"enforcementLevel": "advisory"}}`.
    Raises ValueError naming every unknown policy or level in `levels`.
    """
    given = dict(levels or {})
    errors = policies.config_errors(given)
    if errors:
        raise ValueError("invalid policy levels: " + "; ".join(errors))
    out: list[Policy] = []
    for p in policies.POLICIES:
        level = _LEVELS[given.get(p.name, p.level)]
        if isinstance(p, policies.ResourcePolicy):
            out.append(
                ResourceValidationPolicy(
                    p.name,
                    p.description,
                    validate=_resource_validation(p),
                    enforcement_level=level,
                    config_schema=_schema(p),
                )
            )
        else:
            out.append(
                StackValidationPolicy(
                    p.name,
                    p.description,
                    validate=_stack_validation(p),
                    enforcement_level=level,
                    config_schema=_schema(p),
                )
            )
    return out
