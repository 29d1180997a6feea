"""Secret `pulumi.Output` values in a `RolloutEndpoint`'s endpoint config.

A component's args are validated and planned before anything is declared, but a secret Output
(`pulumi.Output.secret(...)`, `config.require_secret(...)`) has no value yet: it is unknown, like an
encrypted stack-file value offline. So each one, on a key that may be secret
(`strategies.config.SECRET_KEYS`), is registered here and stands in the args as the token
`[secret:<n>]`, which the config checks treat as unknown (`config.is_unknown`). Where the plan
reaches a resource, `resolve` turns a token back into its Output, so the engine sees the real
(still secret) value; `resolve_model` gives the derived values (the execution role's S3 and ECR
grants) from the real artifact URL and image. When the engine resolves the value, it is checked
for real against the same rules as the stack config (`check`), and a bad value fails the update
with its key path before the resource that needs it is created.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import threading
from collections.abc import Mapping
from typing import Any, cast

import pulumi

from sagemaker_rollouts.strategies.config import (
    SECRET_KEYS,
    ConfigError,
    is_unknown,
    key_path,
    load_config,
)
from sagemaker_rollouts.strategies.plan import ModelPlan, VpcPlan

_SECRET_KEY = re.compile("|".join(f"(?:{k})" for k in SECRET_KEYS))
_counter = itertools.count(1)
_lock = threading.Lock()
_outputs: dict[str, pulumi.Output[Any]] = {}


def tokenize(
    args: Mapping[str, Any], *, prefix: tuple[str, ...]
) -> tuple[dict[str, Any], list[str]]:
    """A copy of `args` with every Output on a key that may be secret replaced by a token, and the
    key paths of Outputs on other keys (which cannot be planned unknown). `prefix` is where the
    args sit in a stack config (`("endpoints", name)`), for matching `SECRET_KEYS`."""
    refused: list[str] = []

    def walk(value: Any, at: tuple[str | int, ...]) -> Any:
        if isinstance(value, pulumi.Output):
            path = key_path((*prefix, *at))
            if not _SECRET_KEY.fullmatch(path):
                refused.append(key_path(at))
                return value
            with _lock:
                token = f"[secret:{next(_counter)}]"
                _outputs[token] = cast(pulumi.Output[Any], value)
            return token
        if isinstance(value, Mapping):
            items = cast(Mapping[Any, Any], value)
            return {k: walk(v, (*at, str(k))) for k, v in items.items()}
        if isinstance(value, list):
            seq = cast(list[Any], value)
            return [walk(v, (*at, i)) for i, v in enumerate(seq)]
        return value

    out = {k: walk(v, (k,)) for k, v in args.items()}
    return out, refused


def check(raw_endpoint: Mapping[str, Any], name: str, region: str) -> None:
    """Make every secret of the endpoint checked before use: once the engine knows them all, the
    endpoint config is validated with the real values, and a problem raises ConfigError (args key
    paths). Each token then resolves to its value *after* that check, so no resource that takes
    a secret is created with a bad one."""
    tokens = _tokens_in(raw_endpoint)
    if not tokens:
        return

    def validate(values: list[Any]) -> list[Any]:
        filled = _fill(raw_endpoint, dict(zip(tokens, values, strict=True)))
        try:
            load_config({"endpoints": {name: filled}}, region=region)
        except ConfigError as exc:
            prefix = f"endpoints.{name}."
            raise ConfigError([e.removeprefix(prefix) for e in exc.errors]) from None
        return values

    checked = pulumi.Output.all(*(_outputs[t] for t in tokens)).apply(validate)
    with _lock:
        for i, token in enumerate(tokens):
            _outputs[token] = checked.apply(lambda values, i=i: values[i])


def _tokens_in(value: Any) -> list[str]:
    if isinstance(value, Mapping):
        return [t for v in cast(Mapping[Any, Any], value).values() for t in _tokens_in(v)]
    if isinstance(value, list):
        return [t for v in cast(list[Any], value) for t in _tokens_in(v)]
    return [value] if isinstance(value, str) and value in _outputs else []


def _fill(value: Any, real: Mapping[str, Any]) -> Any:
    if isinstance(value, Mapping):
        return {k: _fill(v, real) for k, v in cast(Mapping[Any, Any], value).items()}
    if isinstance(value, list):
        return [_fill(v, real) for v in cast(list[Any], value)]
    if isinstance(value, str) and value in real:
        return real[value]
    return value


def resolve(value: Any) -> Any:
    """A plan value as a resource input: a token becomes its Output; anything else is itself."""
    if isinstance(value, str) and is_unknown(value) and value in _outputs:
        return _outputs[value]
    return value


def has_tokens(model: ModelPlan) -> bool:
    """True when any of the model's values is a component's secret Output."""
    values = [model.image, model.model_data_url, model.execution_role_arn]
    values += [v for _, v in model.environment]
    if model.vpc is not None:
        values += [*model.vpc.subnets, *model.vpc.security_group_ids]
    return any(isinstance(v, str) and v in _outputs for v in values)


def resolve_model(model: ModelPlan) -> pulumi.Output[ModelPlan]:
    """The model with every token replaced by its real value (an Output, secret when any was)."""
    tokens = sorted(
        {
            v
            for v in (
                model.image,
                model.model_data_url,
                model.execution_role_arn,
                *(v for _, v in model.environment),
                *(() if model.vpc is None else (*model.vpc.subnets, *model.vpc.security_group_ids)),
            )
            if isinstance(v, str) and v in _outputs
        }
    )

    def fill(values: list[Any]) -> ModelPlan:
        real = dict(zip(tokens, values, strict=True))

        def r(v: Any) -> Any:
            return real.get(v, v) if isinstance(v, str) else v

        vpc = model.vpc
        return dataclasses.replace(
            model,
            image=r(model.image),
            model_data_url=r(model.model_data_url),
            execution_role_arn=r(model.execution_role_arn),
            environment=tuple((k, r(v)) for k, v in model.environment),
            vpc=None
            if vpc is None
            else VpcPlan(
                tuple(r(x) for x in vpc.security_group_ids), tuple(r(x) for x in vpc.subnets)
            ),
        )

    return pulumi.Output.all(*(_outputs[t] for t in tokens)).apply(fill)
