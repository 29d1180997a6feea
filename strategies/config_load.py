"""Loading a stack config: every problem from both passes reported at once in one `ConfigError`.

Theory of operation. Two passes:
1. pydantic checks shapes, types and single-field ranges (its error locations become key paths,
   `config_errors`);
2. `check_endpoint` checks what pydantic cannot see field by field: the shared rules of
   `config_rules`, then the chosen strategy's own `check` and `check_gates` (one module per
   strategy, like Argo Rollouts' ValidateRolloutStrategy hands each strategy to its validator).
When pass 1 fails for some fields, pass 2 still runs on a *lenient* copy of the endpoint: fields that
passed their shape check keep their validated value, the failed ones are remembered (`BadPaths`)
and every relation that needs one of them is skipped. So a shape error never hides a relation
error in another field, and never causes a follow-on error of its own.

Every message starts with the key path as a user would type it for `pulumi config set --path`
(for example `endpoints.fraud.strategy.canary.steps[2]`), says what is allowed and what was given.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ValidationError

from sagemaker_rollouts.strategies import ab, blue_green, canary, recreate, rolling, shadow
from sagemaker_rollouts.strategies.config_errors import (
    BadPaths,
    ConfigError,
    Loc,
    adapter,
    field_type,
    given,
    key_path,
    lenient,
    pydantic_errors,
)
from sagemaker_rollouts.strategies.config_model import (
    PROJECT,
    STRATEGY_KEYS,
    TOP_LEVEL_KEYS,
    EndpointConfig,
    StackConfig,
    StackKeys,
)
from sagemaker_rollouts.strategies.config_rules import (
    EndpointChecks,
    check_alarms,
    check_drift,
    check_endpoint_key,
    check_models,
    check_notifications,
    check_storage_and_capture,
    check_tags,
    check_variants,
)
from sagemaker_rollouts.strategies.config_shapes import NotificationsConfig
from sagemaker_rollouts.strategies.config_values import (
    SECRET_PLACEHOLDER,
    describe_value,
    is_unknown,
)

# Each strategy's own rules: `check(chk, key path of its block, its config)` for its block and
# the variants it needs, `check_gates(chk)` for the alarms that gate it (run after every alarm's
# own checks, and only when alarms, strategy and variants all passed their shape checks).
STRATEGY_CHECKS: dict[str, Callable[[EndpointChecks, str, Any], None]] = {
    "recreate": recreate.check,
    "shadow": shadow.check,
    "canary": canary.check,
    "ab": ab.check,
    "blue_green": blue_green.check,
    "rolling": rolling.check,
}
GATE_CHECKS: dict[str, Callable[[EndpointChecks], None]] = {
    "recreate": recreate.check_gates,
    "shadow": shadow.check_gates,
    "canary": canary.check_gates,
    "ab": ab.check_gates,
    "blue_green": blue_green.check_gates,
    "rolling": rolling.check_gates,
}


def check_endpoint(
    key: str, ep: EndpointConfig, region: str, errs: list[str], bad: BadPaths
) -> dict[str, str]:
    """Pass 2 for one (possibly lenient) endpoint; returns the resolved image per model key."""
    chk = EndpointChecks(key=key, ep=ep, bad=bad, errs=errs, region=region)
    check_endpoint_key(chk)
    images = check_models(chk)
    check_variants(chk)
    name = _strategy(chk)
    if name is None:
        return images
    if given(ep.alarms):
        check_alarms(chk)
        if bad.ok(f"{chk.path}.alarms", f"{chk.path}.strategy", f"{chk.path}.variants"):
            GATE_CHECKS[name](chk)
    if ep.drift is not None and bad.ok(f"{chk.path}.drift"):
        check_drift(chk)
    check_storage_and_capture(chk)
    return images


def _strategy(chk: EndpointChecks) -> str | None:
    """Exactly one strategy is chosen; runs its own checks and returns its key (None: none ran)."""
    s = chk.ep.strategy
    if not given(s):
        return None
    chosen = s.chosen
    sp_root = f"{chk.path}.strategy"
    if len(chosen) != 1:
        if chk.bad.ok(sp_root) or not chosen:
            chk.errs.append(
                f"{sp_root}: set exactly one of {', '.join(STRATEGY_KEYS)}, "
                f"got {', '.join(chosen) if chosen else 'none'}"
            )
        return None
    name = chosen[0]
    STRATEGY_CHECKS[name](chk, f"{sp_root}.{name}", getattr(s, name))
    return name


def _validate_endpoint(
    key: str, raw: Any, errs: list[str]
) -> tuple[EndpointConfig, BadPaths] | None:
    prefix: Loc = ("endpoints", key)
    unknown = secret_locations(raw)
    errs += _secret_key_errors(prefix, unknown)
    unknown_paths = [key_path((*prefix, *loc)) for loc in unknown]
    try:
        return EndpointConfig.model_validate(raw), BadPaths((), unknown_paths)
    except ValidationError as exc:
        lines, locs = pydantic_errors(EndpointConfig, exc, prefix, unknown=unknown)
        errs += lines
        if () in locs or not isinstance(raw, Mapping):
            return None
        partial = lenient(EndpointConfig, raw, locs)
        if partial is None:
            return None
        failed = [key_path((*prefix, *loc)) for loc in locs]
        return cast(EndpointConfig, partial), BadPaths(failed, unknown_paths)


# --------------------------------------------------------------------------- secrets offline

# Keys whose value may be a secret (`{secure: ...}` in a stack file, a secret Output in the
# component's args). Offline a secret is unknown (`[secret]`): it is never pattern-checked, and
# the plan only passes it through to a resource input, so it can be unknown there. Every other
# key is read by the plan itself (counts, names that other keys refer to, strategies, the
# framework image lookup, the baseline file), so it cannot be planned unknown.
SECRET_KEYS = (
    r"endpoints\.[^.]+\.models\.[^.]+\.(image|model_data_url|execution_role_arn)",
    r"endpoints\.[^.]+\.models\.[^.]+\.environment\.[^.]+",
    r"endpoints\.[^.]+\.models\.[^.]+\.vpc\.(subnets|security_group_ids)\[\d+\]",
    r"endpoints\.[^.]+\.variants\[\d+\]\.instance_type",
    r"endpoints\.[^.]+\.data_capture\.destination_s3_uri",
    r"endpoints\.[^.]+\.tags\.[^.]+",
    r"tags\.[^.]+",
    r"notifications\.topic_arn",
    r"notifications\.subscriptions\[\d+\]\.endpoint",
    r"notifications\.chat_channels\[\d+\]\.(channel_id|workspace_id|team_id|tenant_id)",
    r"ci_role\.oidc_provider_arn",
)
_SECRET_KEYS = re.compile("|".join(f"(?:{k})" for k in SECRET_KEYS))


def secret_locations(value: Any, at: Loc = ()) -> list[Loc]:
    """Where `value` (raw config) holds the offline placeholder of a secret, as locations."""
    if isinstance(value, Mapping):
        items = cast(Mapping[Any, Any], value)
        return [loc for k, v in items.items() for loc in secret_locations(v, (*at, str(k)))]
    if isinstance(value, list):
        seq = cast(list[Any], value)
        return [loc for i, v in enumerate(seq) for loc in secret_locations(v, (*at, i))]
    return [at] if is_unknown(value) else []


_M = TypeVar("_M", bound=BaseModel)


def validate_allowing_unknowns(model: type[_M], raw: Mapping[str, Any]) -> _M:
    """`raw` validated as `model`, where values unknown here (`is_unknown`: secrets) are kept as
    they are and never checked. Raises ConfigError (key paths relative to `raw`)."""
    unknown = secret_locations(raw)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        lines, locs = pydantic_errors(model, exc, unknown=unknown)
        if lines:
            raise ConfigError(lines) from None
        return cast(_M, lenient(model, raw, locs))


def _secret_key_errors(prefix: Loc, unknown: Iterable[Loc]) -> list[str]:
    out: list[str] = []
    for loc in unknown:
        path = key_path((*prefix, *loc))
        if not _SECRET_KEYS.fullmatch(path):
            out.append(
                f"{path}: a secret (secure:) is unknown offline, and the plan needs this key's "
                "value itself (a count, a choice or a name other keys refer to); keep it in plain "
                "text. Keys that may be secret: image, model_data_url, execution_role_arn, "
                "environment values, vpc ids, instance_type, data_capture.destination_s3_uri, "
                "tag values, notification addresses and ids"
            )
    return out


def load_config(raw: Mapping[str, Any], *, region: str = "us-east-1") -> StackConfig:
    """Validate the project's config keys (`endpoints`, `tags`). Raises ConfigError with all problems.

    Every endpoint is validated on its own, and relation checks run for every field that passed its
    shape check, so no problem hides another.
    """
    errs: list[str] = []
    data = dict(raw)
    for k in sorted(set(data) - set(TOP_LEVEL_KEYS)):
        ns, sep, key = k.partition(":")
        if sep:  # a namespace like ours (misspelt_project_keys): Pulumi would ignore the key
            close = difflib.get_close_matches(key, TOP_LEVEL_KEYS, n=1, cutoff=0.6)
            errs.append(
                f"{k}: unknown namespace {ns!r}, which Pulumi gives to no package; did you "
                f"mean {PROJECT}:{close[0] if close else key}?"
            )
            continue
        close = difflib.get_close_matches(k, TOP_LEVEL_KEYS, n=1, cutoff=0.6)
        hint = f"did you mean {PROJECT}:{close[0]}? " if close else ""
        errs.append(f"{k}: unknown key; {hint}{PROJECT} takes {', '.join(TOP_LEVEL_KEYS)}")
    top: dict[str, Any] = {}
    whole_secret = [k for k in TOP_LEVEL_KEYS if data.get(k) == SECRET_PLACEHOLDER]
    for name in TOP_LEVEL_KEYS:
        if name in whole_secret:
            errs.append(
                f"{name}: encrypted as a whole (secure:), so nothing in it can be planned offline; "
                "encrypt single values instead (pulumi config set --secret --path "
                f"'{PROJECT}:{name}.<key path>')"
            )
            data[name] = {} if name == "endpoints" else None
        if name == "endpoints" or data.get(name) is None:
            continue
        _validate_top(name, data[name], top, errs)
    if isinstance(top.get("notifications"), NotificationsConfig):
        check_notifications(top["notifications"], errs)
    endpoints_raw = data.get("endpoints")
    if "endpoints" in whole_secret:
        endpoints_raw = {}
    elif not isinstance(endpoints_raw, Mapping) or not endpoints_raw:
        given = "none" if not endpoints_raw else describe_value(endpoints_raw)
        errs.append(f"endpoints: must be a mapping with at least 1 endpoint, got {given}")
        endpoints_raw = {}
    stack_tags: dict[str, str] = top.get("tags", {})
    endpoints, images = _endpoints(cast(Mapping[Any, Any], endpoints_raw), stack_tags, region, errs)
    if errs:
        raise ConfigError(errs)
    if any(secret_locations(top.get(name)) for name in top):
        # values unknown offline were kept as they are (lenient): validating again would check them
        return StackConfig.model_construct(endpoints=endpoints, region=region, images=images, **top)
    return StackConfig(endpoints=endpoints, region=region, images=images, **top)


def _endpoints(
    endpoints_raw: Mapping[Any, Any], stack_tags: Mapping[str, str], region: str, errs: list[str]
) -> tuple[dict[str, EndpointConfig], dict[str, str]]:
    """Both passes for every endpoint; the valid ones, and the resolved image per
    `<endpoint>/<model>`; endpoint names unique within the stack."""
    endpoints: dict[str, EndpointConfig] = {}
    images: dict[str, str] = {}
    for key, rawep in endpoints_raw.items():
        key = str(key)
        checked = _validate_endpoint(key, rawep, errs)
        if checked is None:
            continue
        ep, bad = checked
        for mkey, img in check_endpoint(key, ep, region, errs, bad).items():
            images[f"{key}/{mkey}"] = img
        if bad.ok(f"endpoints.{key}.tags"):
            check_tags(f"endpoints.{key}.tags", stack_tags, ep.tags, errs)
        if not bad.failed:
            endpoints[key] = ep
    names: dict[str, str] = {}
    for key, ep in endpoints.items():
        name = ep.endpoint_name if ep.endpoint_name is not None else key
        if name in names:
            errs.append(
                f"endpoints.{key}.endpoint_name: {name!r} is also the name of endpoints.{names[name]}"
            )
        names.setdefault(name, key)
    return endpoints, images


def _validate_top(name: str, raw: Any, top: dict[str, Any], errs: list[str]) -> None:
    """One top-level key other than `endpoints` into `top`; its problems into `errs`."""
    unknown = secret_locations(raw)
    errs += _secret_key_errors((name,), unknown)
    try:
        top[name] = adapter(field_type(StackKeys, name)).validate_python(raw)
    except ValidationError as exc:
        lines, locs = pydantic_errors(StackKeys, exc, (name,), (name,), unknown=unknown)
        errs += lines
        if not lines:  # only unknown values failed: keep them as they are
            top[name] = lenient(field_type(StackKeys, name), raw, locs)


# --------------------------------------------------------------------------- warnings


def misspelt_project_keys(keys: Iterable[str]) -> list[str]:
    """Config keys whose namespace is almost ours (`sagemaker-rolouts:endpoints`): Pulumi hands
    them to no package, so the stack would silently lose them. Returned whole, for `load_config`
    to report with a did-you-mean."""
    out: list[str] = []
    for k in keys:
        ns, sep, _ = k.partition(":")
        similar = difflib.SequenceMatcher(None, ns.lower(), PROJECT).ratio() >= 0.8
        if sep and ns != PROJECT and similar:
            out.append(k)
    return sorted(out)


def project_config(stack_yaml: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """Split a parsed `Pulumi.<stack>.yaml` into this project's keys and the AWS region.

    As the Pulumi CLI does (sdk/go/common/workspace/loaders.go `stackConfigNamespacedWithProject`),
    a key without a namespace belongs to the project: `endpoints:` is `sagemaker-rollouts:endpoints`.
    Unknown project keys are left to `load_config`, which reports them with every other problem;
    so are keys under a misspelt namespace (`misspelt_project_keys`), kept whole.
    """
    config: Any = stack_yaml.get("config") or {}
    if not isinstance(config, Mapping):
        raise ConfigError(["config: must be a mapping of keys to values"])
    ours: dict[str, Any] = {}
    items: dict[str, Any] = {str(k): v for k, v in cast(Mapping[Any, Any], config).items()}
    for k, v in items.items():
        ns, sep, key = k.partition(":")
        if not sep:
            ours[k] = v
        elif ns == PROJECT:
            ours[key] = v
    for k in misspelt_project_keys(items):
        ours[k] = items[k]
    region = items.get("aws:region")
    return ours, "us-east-1" if region is None else str(region)


REGION_KEY = "aws:region"
SKIP_REGION_KEY = "aws:skipRegionValidation"


def provider_region_problems(region: Any, skip: Any = None, *, key: str = REGION_KEY) -> list[str]:
    """What the AWS provider would refuse in the Region it is given, one `key: message` line each
    (empty when nothing): `region` as given under `key` (`aws:region`, or a component's `region`
    argument; None: not given, the default us-east-1 stands), `skip` the stack's
    `aws:skipRegionValidation` (None: not set).

    terraform-provider-aws (internal/conns/config.go `ConfigureProvider`) refuses, when it
    configures itself and so before any resource is declared, a Region that aws-sdk-go-base's
    `validation.SupportedRegion` does not find among its partitions' Regions ("Invalid AWS
    Region: X"), unless `skip_region_validation` is set. Those Regions are generated from AWS's
    endpoints model (`partitions[].regions`), the model botocore ships as `endpoints.json`:
    `aws_limits.REGIONS` is botocore's copy (scripts/gen_limits.py), so a Region AWS opened
    after both were built is refused here as there; `aws:skipRegionValidation: true` skips this
    check as it skips the provider's. A secret Region, or a secret `aws:skipRegionValidation`
    (both unknown offline, where they stand as `SECRET_PLACEHOLDER`), is not checked.
    """
    from sagemaker_rollouts.strategies.aws_limits import REGIONS

    out: list[str] = []
    skipping = False
    if skip == SECRET_PLACEHOLDER:  # decrypted by `pulumi up` only: skipped or not, unknown
        return out
    if skip is not None:
        if isinstance(skip, bool) or str(skip).lower() in ("true", "false"):
            skipping = skip is True or str(skip).lower() == "true"
        else:
            out.append(f"{SKIP_REGION_KEY}: must be true or false, got {describe_value(skip)}")
    if region is None or skipping or region == SECRET_PLACEHOLDER:
        return out
    known = [r for regions in REGIONS.values() for r in regions]
    if isinstance(region, str) and region in known:
        return out
    close = difflib.get_close_matches(str(region), known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}? " if close else ""
    listed = "; ".join(f"{p}: {', '.join(rs)}" for p, rs in sorted(REGIONS.items()))
    out.append(
        f"{key}: {describe_value(region)} is not an AWS Region the AWS provider accepts (it "
        f'stops before declaring anything: "Invalid AWS Region"); {hint}allowed: {listed}. '
        f"For a Region newer than this list set {SKIP_REGION_KEY}: true, as the provider "
        "then does not check it either"
    )
    return out


def stack_region_problems(stack_yaml: Mapping[str, Any]) -> list[str]:
    """`provider_region_problems` of a parsed `Pulumi.<stack>.yaml` (its `aws:region` and
    `aws:skipRegionValidation`); empty when its `config:` is not a mapping (`project_config`
    reports that)."""
    config: Any = stack_yaml.get("config") or {}
    if not isinstance(config, Mapping):
        return []
    items = cast(Mapping[Any, Any], config)
    return provider_region_problems(items.get(REGION_KEY), items.get(SKIP_REGION_KEY))


def strip_secure(value: Any) -> tuple[Any, bool]:
    """A copy of stack-file data with every `{secure: ...}` value (encrypted; undecryptable offline)
    replaced by `[secret]`, and whether any was found."""
    if isinstance(value, Mapping):
        items = cast(Mapping[Any, Any], value)
        if set(items) == {"secure"}:
            return SECRET_PLACEHOLDER, True
        out: dict[str, Any] = {}
        found = False
        for k, v in items.items():
            out[str(k)], secret = strip_secure(v)
            found = found or secret
        return out, found
    if isinstance(value, list):
        pairs = [strip_secure(v) for v in cast(list[Any], value)]
        return [v for v, _ in pairs], any(secret for _, secret in pairs)
    return value, False
