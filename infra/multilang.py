"""`RolloutEndpoint` for every Pulumi language: the component that `provider/` hosts.

TypeScript, Go, C#, Java and YAML programs use it after `pulumi package add <path-to>/provider`
(a source-based component package: `provider/PulumiPlugin.yaml` runs `provider/__main__.py`,
which calls `pulumi.provider.experimental.component_provider_host`).

Pulumi infers the package schema from the annotations here: the `args` annotation of `__init__`
gives the inputs, the class annotations give the outputs. Its analyzer (pulumi 3.272) handles
TypedDicts of `pulumi.Input[...]` and fails on pydantic models whose fields use `Literal` or
`Annotated` (`TypeError: issubclass() arg 1 must be a class`), so the inputs are TypedDicts that
mirror `RolloutEndpointArgs` key for key (`tests/infra/test_multilang.py` keeps the two in step), and
every value is validated by that pydantic model on construction: the same all-problems
`ConfigError`, the same rules as the Python component and the stack config.

`strategy` and `alarms` are free-form objects (`pulumi.json#/Any`): they take the stack config's
snake_case keys as they are (see the README's strategy section). Values that decide the plan
(models, variants, strategy, alarms, data capture, names) must be known when the program starts;
only the ARN inputs may be other resources' outputs.

No `from __future__ import annotations` here: the analyzer reads the annotations at runtime.
"""

import dataclasses
import re
from typing import Any, NotRequired, TypedDict

import pulumi
from pulumi.provider.experimental.util import camel_case

from sagemaker_rollouts.infra.component import (
    TOKEN,
    RolloutEndpointArgs,
    declare,
    prepare,
    under_paths,
)
from sagemaker_rollouts.infra.errors import ComponentArgsError
from sagemaker_rollouts.strategies.config_errors import ConfigError


class VpcInputs(TypedDict):
    """VPC the model containers run in."""

    subnets: pulumi.Input[list[str]]
    """Subnet ids (1-16)."""
    security_group_ids: pulumi.Input[list[str]]
    """Security group ids (1-5)."""


class ModelInputs(TypedDict):
    """A SageMaker model: an image URI, or a framework + version resolved offline to an image."""

    image: NotRequired[pulumi.Input[str]]
    """Inference image URI (REGISTRY/REPO:TAG or @sha256:...). Exactly one of image, framework."""
    framework: NotRequired[pulumi.Input[str]]
    """SageMaker framework name (e.g. xgboost), resolved to its image for the region."""
    framework_version: NotRequired[pulumi.Input[str]]
    """Framework version, required with framework."""
    py_version: NotRequired[pulumi.Input[str]]
    """Python version of the framework image (e.g. py3), when the framework has several."""
    model_data_url: NotRequired[pulumi.Input[str]]
    """s3://bucket/key of the model artifact (a .tar.gz unless model_data_compression is none)."""
    model_data_compression: NotRequired[pulumi.Input[str]]
    """gzip (default: one .tar.gz) or none (uncompressed files: one object or a prefix ending /)."""
    environment: NotRequired[pulumi.Input[dict[str, str]]]
    """Container environment variables (never secrets)."""
    execution_role_arn: NotRequired[pulumi.Input[str]]
    """This model's execution role; default: the component's, else a new scoped role."""
    vpc: NotRequired[pulumi.Input[VpcInputs]]
    """VPC config of the model containers."""
    network_isolation: NotRequired[pulumi.Input[bool]]
    """No network access from the container (default false)."""


class VariantInputs(TypedDict):
    """A production variant: which model serves on which fleet."""

    name: pulumi.Input[str]
    """Variant name, unique in the endpoint."""
    model: pulumi.Input[str]
    """Key of a model in `models`."""
    instance_type: pulumi.Input[str]
    """SageMaker hosting instance type (e.g. ml.m5.large)."""
    instance_count: NotRequired[pulumi.Input[int]]
    """Instances (default 1)."""
    autoscaling: NotRequired[pulumi.Input[Any]]
    """Target tracking: min_capacity, max_capacity, target_invocations_per_instance and/or
    custom_metric, cooldowns (snake_case keys, see the README's autoscaling section)."""


class DataCaptureInputs(TypedDict):
    """Request/response capture to S3 (the component's encrypted bucket, or a given URI)."""

    enabled: NotRequired[pulumi.Input[bool]]
    """Default true."""
    sampling_percent: NotRequired[pulumi.Input[int]]
    """Share of requests captured, 0-100 (default 100)."""
    destination_prefix: NotRequired[pulumi.Input[str]]
    """Key prefix in the component's capture bucket."""
    destination_s3_uri: NotRequired[pulumi.Input[str]]
    """Capture to this s3:// URI instead of the component's bucket."""
    kms: NotRequired[pulumi.Input[bool]]
    """Encrypt captured data with the KMS key (default true)."""
    retention_days: NotRequired[pulumi.Input[int]]
    """Captured objects expire after this many days (default 30)."""
    on_destroy: NotRequired[pulumi.Input[str]]
    """retain (default: the bucket and its data outlive the stack) or delete (emptied)."""


class HookInputs(TypedDict):
    """The canary hook Lambda."""

    reserved_concurrency: NotRequired[pulumi.Input[int]]
    """Reserved concurrency (default 1); null relies on the state table's conditional writes."""


class RolloutEndpointInputs(TypedDict):
    """Inputs of `RolloutEndpoint`: one endpoint's stack config plus what your platform brings."""

    endpoint_name: NotRequired[pulumi.Input[str]]
    """SageMaker endpoint name (default: the resource name)."""
    models: pulumi.Input[dict[str, ModelInputs]]
    """Models by key."""
    variants: pulumi.Input[list[VariantInputs]]
    """Production variants (1-10)."""
    strategy: pulumi.Input[Any]
    """Exactly one of recreate, shadow, canary, ab, blue_green, rolling, with its settings
    (snake_case keys, as in the stack config)."""
    alarms: NotRequired[pulumi.Input[Any]]
    """Standard alarms (errors_5xx, latency_p99, errors_4xx) and custom ones (snake_case keys)."""
    data_capture: NotRequired[pulumi.Input[DataCaptureInputs]]
    """Data capture settings; off when absent."""
    volume_kms: NotRequired[pulumi.Input[str]]
    """auto (default), on or off: encrypt the endpoint's ML storage volume."""
    hook: NotRequired[pulumi.Input[HookInputs]]
    """Canary hook settings."""
    adopt: NotRequired[pulumi.Input[bool]]
    """Import the existing endpoint of this name instead of creating one (default false)."""
    drift: NotRequired[pulumi.Input[Any]]
    """The drift job: baseline file, features, threshold, gate (snake_case keys, as in the stack
    config); off when absent."""
    tags: NotRequired[pulumi.Input[dict[str, str]]]
    """Tags on every resource."""
    region: NotRequired[pulumi.Input[str]]
    """AWS region (default: aws:region config, else us-east-1)."""
    kms_key_arn: NotRequired[pulumi.Input[str]]
    """Your KMS key instead of the component's."""
    notification_topic_arn: NotRequired[pulumi.Input[str]]
    """Your SNS topic for canary notifications instead of the component's."""
    notification_topic_kms_key_arn: NotRequired[pulumi.Input[str]]
    """The KMS key your topic is encrypted with (publishers get GenerateDataKey*/Decrypt)."""
    permissions_boundary_arn: NotRequired[pulumi.Input[str]]
    """IAM permissions boundary set on every role the component creates."""
    state_table_name: NotRequired[pulumi.Input[str]]
    """Your DynamoDB canary state table (pk, sk strings) instead of the component's."""
    state_table_kms_key_arn: NotRequired[pulumi.Input[str]]
    """The KMS key your state table is encrypted with (its readers get Decrypt/Encrypt/
    GenerateDataKey through DynamoDB)."""
    execution_role_arn: NotRequired[pulumi.Input[str]]
    """SageMaker execution role for models without their own."""
    vpc_subnet_ids: NotRequired[pulumi.Input[list[str]]]
    """Your VPC's subnets for models without their own vpc (with vpcSecurityGroupIds)."""
    vpc_security_group_ids: NotRequired[pulumi.Input[list[str]]]
    """Your security groups for models without their own vpc (with vpcSubnetIds)."""


_MAY_BE_OUTPUT = frozenset(
    {
        "kms_key_arn",
        "notification_topic_arn",
        "notification_topic_kms_key_arn",
        "permissions_boundary_arn",
        "state_table_kms_key_arn",
        "execution_role_arn",
        "vpc_subnet_ids",
        "vpc_security_group_ids",
    }
)


def _known(path: str, value: Any, errs: list[str]) -> Any:
    """`value` with no `pulumi.Output` inside; Outputs are reported at their key path."""
    if isinstance(value, pulumi.Output):
        errs.append(
            f"{path}: must be known when the program starts (a plain value, not another "
            "resource's output): it decides what the component declares"
        )
        return None
    if isinstance(value, dict):
        items: dict[Any, Any] = value  # pyright: ignore[reportUnknownVariableType]
        return {k: _known(f"{path}.{k}", v, errs) for k, v in items.items()}
    if isinstance(value, list):
        seq: list[Any] = value  # pyright: ignore[reportUnknownVariableType]
        return [_known(f"{path}[{i}]", v, errs) for i, v in enumerate(seq)]
    return value


# Where a key path leaves the schema's typed inputs (camelCase names, from the TypedDicts above)
# for the user's own keys (model keys, tag and environment names) or the free-form objects whose
# keys are the stack config's own (strategy, alarms, drift, autoscaling: snake_case, as written).
_NEXT = {
    "top": {
        "models": "model_map",
        "variants": "variant_list",
        "data_capture": "typed",
        "hook": "typed",
    },
    "model": {"vpc": "typed"},
}
_AFTER = {"model_map": "model", "variant_list": "variant"}


def schema_path(path: str) -> str:
    """An args key path (`variants[1].instance_type`) as the schema names it, the way a
    TypeScript or YAML program wrote it (`variants[1].instanceType`): the Pulumi component host
    hands the component snake_case names (pulumi `provider/experimental/util.camel_case` is its
    mapping back); map keys and the free-form objects keep their own keys."""
    out = ""
    state = "top"
    for seg in re.findall(r"\[\d+\]|[^.\[\]]+", path):
        if seg.startswith("["):
            out += seg
            state = _AFTER.get(state, state)
            continue
        if state in ("top", "model", "variant", "typed"):
            name, state = camel_case(seg), _NEXT.get(state, {}).get(seg, "free")
        elif state == "model_map":
            name, state = seg, "model"
        else:
            name = seg
        out += f".{name}" if out else name
    return out


def schema_line(line: str) -> str:
    """A `key.path: message` line with its key path as the schema names it (`schema_path`)."""
    path, sep, message = line.partition(": ")
    if not sep or path == "args" or " " in path:
        return line
    return f"{schema_path(path)}{sep}{message}"


def to_args(inputs: RolloutEndpointInputs | dict[str, Any]) -> RolloutEndpointArgs:
    """Validate multi-language inputs into `RolloutEndpointArgs`.

    Raises `ConfigError` with every problem (args key paths), including plan-deciding values
    that are not known yet.
    """
    errs: list[str] = []
    data: dict[str, Any] = {}
    for key, value in dict(inputs).items():
        if key in _MAY_BE_OUTPUT:
            data[key] = value
        else:
            data[key] = _known(key, value, errs)
    unknown = [e.partition(": ")[0] for e in errs]
    try:
        args = RolloutEndpointArgs.parse(data)
    except ConfigError as exc:
        # an unknown input counts as not given: what that alone says at its path is not news
        errs += [e for e in exc.errors if not under_paths(e, unknown)]
        raise ConfigError(errs) from None
    if errs:
        raise ConfigError(errs)
    return args


class RolloutEndpoint(pulumi.ComponentResource):
    """A SageMaker real-time endpoint with a safe rollout strategy (recreate, shadow, canary with
    a Lambda hook, A/B, blue/green, rolling), its CloudWatch alarms and encrypted data capture."""

    endpoint_name: pulumi.Output[str]
    """The SageMaker endpoint's name."""
    endpoint_arn: pulumi.Output[str]
    """The SageMaker endpoint's ARN."""
    variant_names: pulumi.Output[list[str]]
    """Production variant names, as deployed."""
    shadow_variant_names: pulumi.Output[list[str]]
    """Shadow variant names (shadow strategy)."""
    alarm_names: pulumi.Output[list[str]]
    """CloudWatch alarm names."""
    capture_uri: pulumi.Output[str | None]
    """s3:// URI requests are captured to, when data capture is on."""
    kms_key_arn: pulumi.Output[str | None]
    """The KMS key used (yours or the component's)."""
    state_table_name: pulumi.Output[str | None]
    """Canary state table name (canary strategy)."""
    notification_topic_arn: pulumi.Output[str | None]
    """SNS topic of canary notifications (canary strategy)."""
    hook_function_name: pulumi.Output[str | None]
    """Lambda function stepping the canary (canary strategy)."""

    def __init__(
        self,
        name: str,
        args: RolloutEndpointInputs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # A user's mistake reaches the host program as a RunError (message, no traceback), each
        # line naming its key as the program wrote it (the schema's camelCase names).
        try:
            prepared = prepare(name, to_args(args), opts)
        except ConfigError as exc:
            lines = [schema_line(e) for e in exc.errors]
            raise ComponentArgsError(lines, component=name) from None
        warnings = tuple(schema_line(w) for w in prepared.warnings)
        prepared = dataclasses.replace(prepared, warnings=warnings)
        super().__init__(TOKEN, name, None, prepared.opts)
        prepared.warn(self)
        outputs = declare(self, name, prepared).outputs()
        for key, value in outputs.items():
            setattr(self, key, pulumi.Output.from_input(value))
        self.register_outputs(outputs)
