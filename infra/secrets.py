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
with its key path (the value itself shown as `[secret]`) before the resource that needs it is
created, as a `ResolvedSecretError` (a `pulumi.RunError`: the message, no traceback).

The project program (infra/program.py) has the same need the other way round: under `pulumi up`
the language host hands it stack config decrypted, and tells it only which *top-level* keys held
a secret (`pulumi.runtime.config.is_config_secret`, filled from `PULUMI_CONFIG_SECRET_KEYS`;
`pulumi.Config.get_object` returns the plain value). `mark_config_secrets` finds which leaves
were `secure:` in the stack file and registers their decrypted values; `resolve` then gives each
as `pulumi.Output.secret(value)` where it reaches a resource, so Pulumi's state holds it
encrypted. The plan itself is built from the real values (fingerprints, `volume_kms: auto`).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
import threading
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, cast

import pulumi
import yaml

from sagemaker_rollouts.infra.errors import ResolvedSecretError
from sagemaker_rollouts.strategies.config import (
    PROJECT,
    SECRET_KEYS,
    SECRET_PLACEHOLDER,
    ConfigError,
    Loc,
    is_unknown,
    key_path,
    load_config,
)
from sagemaker_rollouts.strategies.plan import ModelPlan, VpcPlan
from sagemaker_rollouts.strategies.stackfile import read_stack_yaml

_SECRET_KEY = re.compile("|".join(f"(?:{k})" for k in SECRET_KEYS))
_counter = itertools.count(1)
_lock = threading.Lock()
_outputs: dict[str, pulumi.Output[Any]] = {}
# Decrypted stack-config values that were secret (`mark_config_secrets`), per program run.
_secret_values: ContextVar[frozenset[str]] = ContextVar(
    "sagemaker_rollouts_secret_values", default=frozenset()
)


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
    endpoint config is validated with the real values, and a problem raises `ResolvedSecretError`
    (args key paths, values masked). Each token then resolves to its value *after* that check, so no resource that takes
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
            lines = [_masked(e.removeprefix(prefix), values) for e in exc.errors]
            raise ResolvedSecretError(lines, component=name) from None
        return values

    checked = pulumi.Output.all(*(_outputs[t] for t in tokens)).apply(validate)
    with _lock:
        for i, token in enumerate(tokens):
            _outputs[token] = checked.apply(lambda values, i=i: values[i])


def _masked(line: str, values: Iterable[Any]) -> str:
    """An error line with each secret value in it shown as `[secret]` (quoted, as the checks
    print values with `!r`, and bare)."""
    texts = sorted((v for v in values if isinstance(v, str) and v), key=len, reverse=True)
    for text in texts:
        line = line.replace(repr(text), SECRET_PLACEHOLDER)
    for text in texts:
        if len(text) >= 4:  # shorter ones would also match inside the message's own words
            line = line.replace(text, SECRET_PLACEHOLDER)
    return line


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
    """A plan value as a resource input: a token becomes its Output, a decrypted stack-config
    secret (`mark_config_secrets`) becomes `pulumi.Output.secret(value)`; anything else is
    itself."""
    if isinstance(value, str):
        if is_unknown(value) and value in _outputs:
            return _outputs[value]
        if value in _secret_values.get():
            return pulumi.Output.secret(value)
    return value


def _model_values(model: ModelPlan) -> list[Any]:
    values: list[Any] = [model.image, model.model_data_url, model.execution_role_arn]
    values += [v for _, v in model.environment]
    if model.vpc is not None:
        values += [*model.vpc.subnets, *model.vpc.security_group_ids]
    return values


def has_tokens(model: ModelPlan) -> bool:
    """True when any of the model's values is a component's secret Output or a decrypted
    stack-config secret: what is derived from it (the execution role's grants) is secret too."""
    marked = _secret_values.get()
    return any(isinstance(v, str) and (v in _outputs or v in marked) for v in _model_values(model))


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

    outputs = [_outputs[t] for t in tokens]
    marked = _secret_values.get()
    if any(isinstance(v, str) and v in marked for v in _model_values(model)):
        outputs.append(pulumi.Output.secret(None))  # makes the result secret; dropped by fill
    return pulumi.Output.all(*outputs).apply(lambda values: fill(values[: len(tokens)]))


# --------------------------------------------------------------------------- stack-file secrets

_LEAF = re.compile("|".join(f"(?:{k})" for k in SECRET_KEYS))


def secure_locations(value: Any, at: Loc = ()) -> list[Loc]:
    """Where stack-file data holds an encrypted `{secure: ...}` value (`()`: the value itself)."""
    if isinstance(value, Mapping):
        items = cast(Mapping[Any, Any], value)
        if set(items) == {"secure"}:
            return [at]
        return [loc for k, v in items.items() for loc in secure_locations(v, (*at, str(k)))]
    if isinstance(value, list):
        seq = cast(list[Any], value)
        return [loc for i, v in enumerate(seq) for loc in secure_locations(v, (*at, i))]
    return []


def stack_file_config(stack: str, root: str | None = None) -> dict[str, Any] | None:
    """The `config:` map of `Pulumi.<stack>.yaml` (keys with the project's namespace), read the
    way the Pulumi CLI reads it (`strategies.stackfile`); None when there is no readable file.

    `root`: the project directory (default: `pulumi.get_root_directory()`, "the location of
    Pulumi.yaml", else the working directory, which the language host sets to the program's).
    A `stackConfigDir:` in Pulumi.yaml moves the stack files (Pulumi's project file reference).
    """
    base = Path(root or pulumi.get_root_directory() or os.getcwd())
    try:
        project = read_stack_yaml((base / "Pulumi.yaml").read_text()).data
    except (OSError, yaml.YAMLError):
        project = None
    if isinstance(project, Mapping):
        sub = cast(Mapping[str, Any], project).get("stackConfigDir")
        if isinstance(sub, str) and sub:
            base = base / sub
    for suffix in ("yaml", "yml"):
        try:
            text = (base / f"Pulumi.{stack}.{suffix}").read_text()
        except OSError:
            continue
        try:
            data = read_stack_yaml(text).data
        except yaml.YAMLError:  # unreadable: every key that may be secret is treated as secret
            return None
        if not isinstance(data, Mapping):
            return None
        config = cast(Mapping[str, Any], data).get("config") or {}
        if not isinstance(config, Mapping):
            return None
        items = cast(Mapping[Any, Any], config).items()
        return {(str(k) if ":" in str(k) else f"{PROJECT}:{k}"): v for k, v in items}
    return None


def _leaves(value: Any, at: Loc) -> list[Loc]:
    if isinstance(value, Mapping):
        items = cast(Mapping[Any, Any], value)
        return [loc for k, v in items.items() for loc in _leaves(v, (*at, str(k)))]
    if isinstance(value, list):
        return [loc for i, v in enumerate(cast(list[Any], value)) for loc in _leaves(v, (*at, i))]
    return [at]


def _get(value: Any, loc: Loc) -> Any:
    for part in loc:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def _set(value: Any, loc: Loc, new: Any) -> Any:
    if not loc:
        return new
    head, rest = loc[0], loc[1:]
    if isinstance(value, Mapping) and isinstance(head, str) and head in value:
        items = cast(Mapping[str, Any], value)
        return {k: (_set(v, rest, new) if k == head else v) for k, v in items.items()}
    if isinstance(value, list) and isinstance(head, int) and head < len(value):
        seq = cast(list[Any], value)
        return [_set(v, rest, new) if i == head else v for i, v in enumerate(seq)]
    return value


def mark_config_secrets(
    raw: Mapping[str, Any],
    secret_keys: Iterable[str],
    stack_config: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Register the decrypted values of `raw` (the program's config, keys without namespace) that
    were secret, so `resolve` makes them secret resource inputs; returns `raw` ready to validate.

    `secret_keys`: the top-level keys the engine marked secret (`is_config_secret`). For each,
    the `secure:` leaves of the stack file's value (`stack_config`, `stack_file_config`) say
    which values were secret; without a stack file, or when it shows none under a secret key
    (an ESC environment's secret), every leaf on a key that may be secret (`SECRET_KEYS`) is.
    A `secure:` leaf on a key the plan reads itself, or a whole key encrypted at once, is
    replaced by the offline placeholder, so `load_config` refuses it as `rollout plan` does.
    """
    out = dict(raw)
    marked: set[str] = set()
    for key in secret_keys:
        if key not in out:
            continue
        value = out[key]
        secure = secure_locations((stack_config or {}).get(f"{PROJECT}:{key}"))
        if not secure:
            locs = [loc for loc in _leaves(value, ()) if _LEAF.fullmatch(key_path((key, *loc)))]
        elif () in secure:
            out[key] = SECRET_PLACEHOLDER
            continue
        else:
            locs = []
            for loc in secure:
                if _LEAF.fullmatch(key_path((key, *loc))):
                    locs.append(loc)
                else:
                    value = _set(value, loc, SECRET_PLACEHOLDER)
            out[key] = value
        for loc in locs:
            leaf = _get(value, loc)
            if isinstance(leaf, str) and leaf and not is_unknown(leaf):
                marked.add(leaf)
    _secret_values.set(frozenset(marked))
    return out
