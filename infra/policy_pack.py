"""The CrossGuard adapter: every rule of `sagemaker_rollouts.infra.policies` as a `pulumi_policy`
policy. `policies/__main__.py` serves them as the `sagemaker-rollouts` policy pack; the tests
call the same objects with `pulumi_policy` args built directly.

Needs the `pulumi-policy` package (extra `[policy]`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

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


def plain(value: Any) -> Any:
    """The analyzer's props as plain data for the rules.

    Pulumi's policy analyzer hands rules `unknown_checking_proxy(props)` (pulumi_policy
    `policy.py`, `Analyze`/`AnalyzeStack`): `_DictProxy`/`_ListProxy`, a `Mapping`/`Sequence`
    but not a `dict`/`list`, whose item access raises `UnknownValueError` on a value unknown
    during preview. This walks them (proxies or plain values alike) into dicts and lists, with
    `policies.UNKNOWN` where a value is unknown, so every rule reads the same shapes whether
    it runs in the engine, in `evaluate` or in the tests.
    """
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key in value:  # type: ignore[reportUnknownVariableType]
            try:
                item = value[key]  # type: ignore[reportUnknownVariableType]
            except UnknownValueError:
                out[str(key)] = policies.UNKNOWN  # type: ignore[reportUnknownArgumentType]
                continue
            out[str(key)] = plain(item)  # type: ignore[reportUnknownArgumentType]
        return out
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        items: list[Any] = []
        for i in range(len(value)):  # type: ignore[reportUnknownArgumentType]
            try:
                items.append(plain(value[i]))  # type: ignore[reportUnknownArgumentType]
            except UnknownValueError:
                items.append(policies.UNKNOWN)
        return items
    return value


def _engine_unknown(e: policies.UnknownValueError) -> UnknownValueError:
    """Our rule's "needs an unknown value" as the engine's own exception, which its analyzer
    reports as an advisory "can't run policy ... during preview" diagnostic."""
    return UnknownValueError(UNKNOWN_STRING_VALUE, e.path)


def _resource_validation(policy: policies.ResourcePolicy) -> Any:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in policy.types:
            return
        settings = policy.settings(plain(args.get_config()))
        try:
            messages = policy.check(plain(args.props), settings)
        except policies.UnknownValueError as e:
            raise _engine_unknown(e) from None
        for message in messages:
            report(message, None)

    return validate


def _stack_validation(policy: policies.StackPolicy) -> Any:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        resources = [
            policies.Resource(
                r.resource_type,
                r.name,
                plain(r.props),
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
        settings = policy.settings(plain(args.get_config()))
        try:
            found = policy.check(resources, dict(args.stack_tags), settings)
        except policies.UnknownValueError as e:
            raise _engine_unknown(e) from None
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
