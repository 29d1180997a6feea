"""The stack config model: what a team writes in `Pulumi.<stack>.yaml`, validated before anything runs.

Theory of operation. Two passes, and every problem from both is reported at once in one
`ConfigError`:
1. pydantic checks shapes, types and single-field ranges (its error locations become key paths);
2. `_check_endpoint` checks what pydantic cannot see field by field: references between variants,
   models and strategies, SageMaker's and CloudWatch's cross-field limits (docs/design.md §3, §9), and
   framework image resolution.
When pass 1 fails for some fields, pass 2 still runs on a *lenient* copy of the endpoint: fields that
passed their shape check keep their validated value, the failed ones are remembered (`_Bad`) and
every relation that needs one of them is skipped. So a shape error never hides a relation error in
another field, and never causes a follow-on error of its own.

AWS limits come from `aws_limits` (generated from botocore's SageMaker and CloudWatch models and
EC2's instance-store table by `scripts/gen_limits.py`); where the AWS provider validates more
strictly than the API (terraform-provider-aws `internal/service/sagemaker/endpoint.go`, which
pulumi-aws bridges), the provider's range is used and cited. No botocore import here.

Types follow what `pulumi up` hands the program: the Pulumi CLI reads stack files with go-yaml v2
and passes structured config as JSON, so integers arrive as numbers, `0.02` set with
`pulumi config set --path` arrives as a string, and unquoted yes/no/on/off/y/n arrive as booleans.
Integers refuse booleans (`instance_count: true` is an error, never 1); numbers in string maps
(environment, tags, dimensions) become strings exactly as the AWS provider would send them.

Every message starts with the key path as a user would type it for `pulumi config set --path`
(for example `endpoints.fraud.strategy.canary.steps[2]`), says what is allowed and what was given.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import re
import types
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, cast, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)
from pydantic.fields import FieldInfo

from sagemaker_rollouts.strategies import aws_limits
from sagemaker_rollouts.strategies.guardrails import capacity_size, update_waits
from sagemaker_rollouts.strategies.plan import BlueGreenPlan, RollingPlan, RoutingType

PROJECT = "sagemaker-rollouts"
STRATEGY_KEYS = ("recreate", "shadow", "canary", "ab", "blue_green", "rolling")
SECRET_PLACEHOLDER = "[secret]"
# A secret the component received as a `pulumi.Output` stands as `[secret:<n>]` until the engine
# resolves it (infra/secrets.py); like `[secret]`, it is unknown to every check here.
_SECRET_TOKEN = re.compile(r"\[secret(:\d+)?\]")


def is_unknown(value: object) -> bool:
    """True for the placeholder of a secret not known here: `[secret]` (an encrypted stack-file
    value offline) or `[secret:<n>]` (a component's secret Output, resolved by the engine)."""
    return isinstance(value, str) and _SECRET_TOKEN.fullmatch(value) is not None


# Tags the program adds to every endpoint's resources (strategies/common.py `tags`); they count
# toward SageMaker's 50-tag limit (botocore TagList max).
MANAGED_TAG_KEYS = ("managed-by", "rollouts:stack", "rollouts:endpoint", "rollouts:strategy")


class ConfigError(ValueError):
    """Every problem in a stack config, each as `key.path: message`. Raised before any resource."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        super().__init__(
            f"{len(self.errors)} problem(s) in the stack config:\n"
            + "\n".join(f"  - {e}" for e in self.errors)
        )


# --------------------------------------------------------------------------- AWS limits


def _shape(name: str) -> dict[str, Any]:
    return aws_limits.SHAPES[name]


def _lim(name: str, key: str) -> int:
    return int(_shape(name)[key])


def hosting_instance_types() -> frozenset[str]:
    """SageMaker's hosting instance types (botocore `ProductionVariantInstanceType`)."""
    return _HOSTING


_HOSTING = frozenset(aws_limits.ENUMS["sagemaker.ProductionVariantInstanceType"])
_NVME = frozenset(aws_limits.NVME_INSTANCE_TYPES)


def has_local_nvme(instance_type: str) -> bool:
    """True for hosting instance types with local NVMe instance storage (ml.m5d, ml.g5, ml.dl1...).

    Source: EC2's instance-store table for the same instance type (generated into
    `aws_limits.NVME_INSTANCE_TYPES`). On these a KmsKeyId is accepted but "does not encrypt
    instance local storage" (`NVME_KMS_DOC`).
    """
    return instance_type in _NVME


# CreateEndpointConfig KmsKeyId, botocore's SageMaker model (botocore 1.44; the API Reference has the
# same text): "Certain Nitro-based instances include local storage, dependent on the instance type.
# Local storage volumes are encrypted using a hardware module on the instance. If any of the
# models that you specify in the ProductionVariants parameter use nitro-based instances with
# local storage, the KmsKeyId parameter does not encrypt instance local storage." Older text
# said the call fails; the current text does not, so `volume_kms: on` is allowed there, with a
# warning (`volume_kms: auto` leaves the key off, as it would encrypt nothing).
NVME_KMS_DOC = (
    "CreateEndpointConfig KmsKeyId: on nitro-based instances with local storage the key "
    '"does not encrypt instance local storage" (it is encrypted by a hardware module)'
)

# Blue/green and rolling deployment_config ranges where the provider is stricter than the API:
# terraform-provider-aws internal/service/sagemaker/endpoint.go validates
# maximum_execution_timeout_in_seconds with validation.IntBetween(600, 14400) (API: 600..28800).
PROVIDER_MAX_EXECUTION_TIMEOUT = (600, 14400)
# CloudWatch PutMetricAlarm (API reference, "Period" and "EvaluationPeriods"): period x evaluation
# periods may not exceed one day for periods under an hour, and 7 days for longer periods.
CW_WINDOW_SHORT = 86_400
CW_WINDOW_LONG = 604_800
STANDARD_STATISTICS = tuple(aws_limits.ENUMS["cloudwatch.Statistic"])

# CloudWatch extended statistics (User Guide, "CloudWatch statistics definitions"): percentiles
# p0..p100, trimmed mean / winsorized mean / trimmed count / trimmed sum as shorthand (tm99) or
# ranges (TM(10%:90%), tm(150:1000)), percentile rank PR(:300) and IQM.
_NUM = r"\d+(\.\d+)?"
_PCT = r"(\d{1,2}(\.\d+)?|100(\.0+)?)"
_EXTENDED_STAT = re.compile(
    rf"p{_PCT}|(tm|wm|tc|ts|TM|WM|TC|TS){_PCT}"
    rf"|(tm|wm|tc|ts|TM|WM|TC|TS)\(({_PCT}%)?:({_PCT}%)?\)"
    rf"|(tm|wm|tc|ts|TM|WM|TC|TS|pr|PR)\(({_NUM})?:({_NUM})?\)"
    r"|IQM|iqm"
)


def is_extended_statistic(statistic: str) -> bool:
    """True for a CloudWatch extended statistic (p99, tm90, TM(10%:90%), PR(:300), IQM)."""
    return _EXTENDED_STAT.fullmatch(statistic) is not None and statistic not in ("tm(:)", "TM(:)")


# --------------------------------------------------------------------------- value types


def _describe(value: Any) -> str:
    """A short repr of what the user gave: never a whole list or mapping."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return f"a list of {len(cast(list[Any], value))}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "...'"


_QUOTE_HINT = "YAML reads unquoted yes/no/on/off/y/n/true/false as booleans: quote it"


def _whole_number(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"must be a whole number, got {_describe(value)}")
    return value


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"must be a number, got {_describe(value)}")
    return value


def _go_string(value: Any) -> Any:
    """A scalar as the AWS provider turns it into a string (numbers and booleans in string maps)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return json.dumps(int(value) if value.is_integer() else value)
    return value


def _text(value: Any) -> Any:
    """Strings; a number written unquoted (`name: 2024`) is its digits; a boolean is refused."""
    if isinstance(value, bool):
        raise ValueError(f"must be a string, got {_describe(value)} ({_QUOTE_HINT})")
    if isinstance(value, int | float):
        return _go_string(value)
    return value


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {value}")
    return value


def _matches(regex: str, what: str) -> AfterValidator:
    """A pattern check whose message says what is allowed in words (the regex is in the schema)."""
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not is_unknown(value) and compiled.fullmatch(value) is None:
            raise ValueError(f"must be {what}, got {_describe(value)}")
        return value

    return AfterValidator(check)


def _sm_name_rules(shape: str) -> tuple[Any, AfterValidator]:
    """Length and pattern of a SageMaker name shape (EndpointName, VariantName) from the API model."""
    pattern = _shape(shape)["pattern"]
    length = Field(
        min_length=1,
        max_length=_lim(shape, "max"),
        json_schema_extra={"pattern": f"^(?:{pattern})$"},
    )
    words = "letters, digits and hyphens, starting and ending with a letter or digit"
    return length, _matches(pattern, f"{words} (SageMaker {shape.removeprefix('sagemaker.')})")


_VARIANT_NAME = _sm_name_rules("sagemaker.VariantName")
_ENDPOINT_NAME = _sm_name_rules("sagemaker.EndpointName")
Int = Annotated[int, BeforeValidator(_whole_number)]
Number = Annotated[float, BeforeValidator(_number), AfterValidator(_finite)]
Text = Annotated[str, BeforeValidator(_text)]
# Numbers and booleans are fine in string maps: the provider sends them as strings.
MapValue = Annotated[
    str,
    BeforeValidator(_go_string),
    WithJsonSchema({"type": ["string", "number", "boolean"]}),
]
Percent = Annotated[Int, Field(ge=0, le=100)]
Seconds = Annotated[Int, Field(ge=0)]
Name = Annotated[str, BeforeValidator(_text), _VARIANT_NAME[0], _VARIANT_NAME[1]]
EndpointName = Annotated[str, BeforeValidator(_text), _ENDPOINT_NAME[0], _ENDPOINT_NAME[1]]


def _tag_chars(value: str) -> str:
    # SageMaker TagKey/TagValue pattern ([\p{L}\p{Z}\p{N}_.:/=+\-@]*): letters, spaces, digits, _.:/=+-@
    for ch in value:
        if unicodedata.category(ch)[0] not in "LZN" and ch not in "_.:/=+-@":
            raise ValueError(
                f"may hold letters, digits, spaces and _ . : / = + - @ only, got {ch!r} "
                "(SageMaker TagKey/TagValue)"
            )
    return value


def _tag_key(value: str) -> str:
    if value.lower().startswith("aws:"):
        raise ValueError("the aws: prefix is reserved for AWS's own tags")
    return _tag_chars(value)


TagKey = Annotated[
    str,
    Field(min_length=_lim("sagemaker.TagKey", "min"), max_length=_lim("sagemaker.TagKey", "max")),
    AfterValidator(_tag_key),
]
TagValue = Annotated[
    MapValue, Field(max_length=_lim("sagemaker.TagValue", "max")), AfterValidator(_tag_chars)
]
Tags = Annotated[dict[TagKey, TagValue], Field(max_length=_lim("sagemaker.TagList", "max"))]

EnvKey = Annotated[
    str,
    Field(max_length=_lim("sagemaker.EnvironmentKey", "max")),
    _matches(
        _shape("sagemaker.EnvironmentKey")["pattern"],
        "a letter or _ followed by letters, digits or _ (SageMaker EnvironmentKey)",
    ),
]
EnvValue = Annotated[MapValue, Field(max_length=_lim("sagemaker.EnvironmentValue", "max"))]


# --------------------------------------------------------------------------- shapes (pass 1)


def _len(shape: str) -> Any:
    """min/max length of a string or list shape from the API model."""
    return Field(min_length=_lim(shape, "min"), max_length=_lim(shape, "max"))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_SUBNET = _shape("sagemaker.SubnetId")
_SG = _shape("sagemaker.SecurityGroupId")


class VpcConfig(_Model):
    """Subnets (1..16) and security groups (1..5) for the model container (botocore VpcConfig)."""

    subnets: list[
        Annotated[
            Text,
            Field(max_length=_SUBNET["max"]),
            _matches(_SUBNET["pattern"], "a subnet id like subnet-0abc"),
        ]
    ] = Field(
        min_length=_lim("sagemaker.Subnets", "min"), max_length=_lim("sagemaker.Subnets", "max")
    )
    security_group_ids: list[
        Annotated[
            Text,
            Field(max_length=_SG["max"]),
            _matches(_SG["pattern"], "a security group id like sg-0abc"),
        ]
    ] = Field(
        min_length=_lim("sagemaker.VpcSecurityGroupIds", "min"),
        max_length=_lim("sagemaker.VpcSecurityGroupIds", "max"),
    )


class ModelConfig(_Model):
    """A model: an image URI, or a framework + version resolved offline to an image URI."""

    image: (
        Annotated[
            Text,
            Field(max_length=_lim("sagemaker.ContainerImage", "max")),
            _matches(
                r"[\w.-]+(:\d+)?/[\w./-]+(:[\w.-]+|@sha256:[0-9a-f]{64})?",
                "an image URI like REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:DIGEST",
            ),
        ]
        | None
    ) = None
    framework: Text | None = None
    framework_version: Text | None = None
    py_version: Text | None = None
    model_data_url: (
        Annotated[
            Text,
            Field(max_length=_lim("sagemaker.Url", "max")),
            # The API's Url also allows https://; the program grants the execution role read
            # access to the artifact by its S3 ARN, so it takes s3://BUCKET/KEY only.
            _matches(r"s3://[^/]+/.+", "an s3://BUCKET/KEY URL of the model artifact"),
        ]
        | None
    ) = None
    # How the artifact at model_data_url is packed (CreateModel, S3ModelDataSource
    # CompressionType): gzip, a single .tar.gz (ModelDataUrl: "must point to a single gzip
    # compressed tar archive (.tar.gz suffix)"); none, uncompressed model files: one object, or
    # every object under a prefix ending in "/" (S3DataType S3Prefix: "A valid key name prefix
    # ... always ends with a forward slash (/)"), sent as ModelDataSource.
    model_data_compression: Literal["gzip", "none"] = "gzip"
    environment: Annotated[
        dict[EnvKey, EnvValue], Field(max_length=_lim("sagemaker.EnvironmentMap", "max"))
    ] = Field(default_factory=dict)
    execution_role_arn: (
        Annotated[
            Text,
            Field(
                min_length=_lim("sagemaker.RoleArn", "min"),
                max_length=_lim("sagemaker.RoleArn", "max"),
            ),
            _matches(
                _shape("sagemaker.RoleArn")["pattern"],
                "an IAM role ARN like arn:aws:iam::123456789012:role/NAME",
            ),
        ]
        | None
    ) = None
    vpc: VpcConfig | None = None
    network_isolation: bool = False


class ScalingMetricConfig(_Model):
    """A CloudWatch metric to track instead of (or beside) invocations per instance."""

    namespace: str
    metric: str
    statistic: Literal["Average", "Minimum", "Maximum", "SampleCount", "Sum"] = "Average"
    target: Annotated[float, Field(gt=0)]
    dimensions: dict[str, str] | None = None  # default: EndpointName + VariantName


class AutoscalingConfig(_Model):
    """Target tracking of one variant's instance count (Application Auto Scaling)."""

    min_capacity: Annotated[int, Field(ge=1)] = 1
    max_capacity: Annotated[int, Field(ge=1)]
    target_invocations_per_instance: Annotated[float, Field(gt=0)] | None = None
    custom_metric: ScalingMetricConfig | None = None
    scale_in_cooldown_seconds: Annotated[int, Field(ge=0)] = 300
    scale_out_cooldown_seconds: Annotated[int, Field(ge=0)] = 60


class VariantConfig(_Model):
    """One production variant: a model on a fleet of instances."""

    name: Name
    model: Text
    instance_type: Text
    instance_count: Annotated[Int, Field(ge=_lim("sagemaker.InitialTaskCount", "min"))] = 1
    autoscaling: AutoscalingConfig | None = None


class Size(_Model):
    """A capacity size: a share of the fleet or a number of instances (botocore CapacitySize)."""

    type: Literal["capacity_percent", "instance_count"] = "capacity_percent"
    value: Annotated[Int, Field(ge=_lim("sagemaker.CapacitySizeValue", "min"))]


class RecreateConfig(_Model):
    pass


class OutputField(_Model):
    """One field of the models' answers to compare (shadow report) or watch (drift).

    `json_path` (`$.a.b`) reads a JSON answer, `csv_column` (0-based) a CSV one; neither: the whole
    answer. `kind: label` compares exactly; `number` agrees within `tolerance` (absolute).
    """

    name: Annotated[
        Text,
        Field(json_schema_extra={"pattern": r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"}),
        _matches(
            r"[A-Za-z_][A-Za-z0-9_]{0,62}", "1..63 letters, digits or _, not starting with a digit"
        ),
    ]
    json_path: (
        Annotated[
            Text,
            _matches(
                r"\$(\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*", "a JSON path like $.scores[0].label"
            ),
        ]
        | None
    ) = None
    csv_column: Annotated[Int, Field(ge=0, le=10000)] | None = None
    kind: Literal["label", "number"] = "label"
    tolerance: Annotated[Number, Field(ge=0)] | None = None


class PromoteWhen(_Model):
    """Thresholds for the shadow report's recommendation. `min_agreement` is a percent (0-100)."""

    min_pairs: Annotated[Int, Field(ge=1)] = 1000
    min_agreement: Annotated[Number, Field(ge=0, le=100)] = 99.0
    max_p99_latency_ratio: Annotated[Number, Field(gt=0)] = 1.2


class ShadowConfig(_Model):
    production: Text
    shadow: Text
    sampling_percent: Annotated[Int, Field(ge=1, le=100)] = 100
    promote_when: PromoteWhen = Field(default_factory=PromoteWhen)
    outputs: list[OutputField] = Field(default_factory=list[OutputField], max_length=20)
    pair_window_seconds: Annotated[Int, Field(ge=1, le=3600)] = 5
    athena: bool = False  # declare a Glue table over the capture prefix for `--engine athena`


class CanaryStep(_Model):
    percent: Int
    bake_seconds: Seconds | None = None


def _step(value: Any) -> Any:
    """A bare number is a step's percent: `5` (or "5", as `pulumi config set` may store it) means
    `{percent: 5}`."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"percent": value}
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
        return {"percent": value}
    if isinstance(value, Mapping):
        return cast(Mapping[str, Any], value)
    raise ValueError(
        f"must be a percent (1..100) or a mapping {{percent, bake_seconds}}, got {_describe(value)}"
    )


Step = Annotated[CanaryStep, BeforeValidator(_step)]


class CanaryConfig(_Model):
    stable: Text
    candidate: Text
    steps: list[Step] = Field(min_length=1)
    bake_seconds: Seconds = 600
    min_invocations: Annotated[Int, Field(ge=0)] = 100
    insufficient_data_limit_seconds: Seconds = 900
    attempt: Annotated[Int, Field(ge=1)] = 1
    # The stable variant's standard alarms watch the fleet a rollback would send all traffic to:
    # in ALARM they hold the rollout and notify; they never roll the candidate back.
    baseline_alarms: bool = False
    # After completion the stable variant (weight 0) keeps its full fleet this long, a fast way
    # back, then the hook scales it to one instance (like Argo Rollouts' scaleDownDelaySeconds).
    # null: keep it at full size until the next `pulumi up` removes it.
    scale_down_delay_seconds: Seconds | None = 600
    # Gates on the candidate judged against the live stable variant (strategies/relative_gates.py).
    relative_gates: RelativeGatesConfig | None = None


class MetricRefConfig(_Model):
    """A CloudWatch metric summed per variant (A/B evaluator): the variant's name goes under
    `variant_dimension`, the endpoint's under `endpoint_dimension` (null: none), plus `dimensions`."""

    namespace: Annotated[Text, _len("cloudwatch.Namespace")]
    metric: Annotated[Text, _len("cloudwatch.MetricName")]
    dimensions: dict[
        Annotated[str, _len("cloudwatch.DimensionName")],
        Annotated[MapValue, _len("cloudwatch.DimensionValue")],
    ] = Field(default_factory=dict)
    variant_dimension: Annotated[Text, _len("cloudwatch.DimensionName")] = "VariantName"
    endpoint_dimension: Annotated[Text, _len("cloudwatch.DimensionName")] | None = "EndpointName"


class AbConfig(_Model):
    weights: dict[Text, Int] = Field(min_length=2)
    # The evaluator Lambda is declared only when `successes` is set.
    successes: MetricRefConfig | None = None
    trials: MetricRefConfig | None = None  # default: AWS/SageMaker Invocations
    min_samples: Annotated[Int, Field(ge=30)] = 1000
    significance: Annotated[Number, Field(gt=0, le=0.2)] = 0.05
    on_winner: Literal["notify", "promote"] = "notify"
    evaluate_every_minutes: Annotated[Int, Field(ge=1, le=1440)] = 60
    # The test's horizon: counts are cumulative from its start; no winner is named after it.
    window_hours: Annotated[Int, Field(ge=1, le=24 * 63)] = 168
    # Planning and the sequential test's tau (strategies/ab_winner.py): the control's expected
    # rate and the smallest relative lift worth finding (0.2: 5% -> 6%).
    baseline_rate: Annotated[Number, Field(gt=0, lt=1)] = 0.05
    minimum_detectable_lift: Annotated[Number, Field(gt=0, le=10)] = 0.2
    # Trials per hour across the serving variants, for `rollout plan`'s duration and MDE only.
    expected_trials_per_hour: Annotated[Number, Field(gt=0)] | None = None
    # Sample-ratio-mismatch check: hold while the split of trials contradicts the weights at p <.
    srm_alpha: Annotated[Number, Field(gt=0, le=0.05)] = 0.001


_WAIT = _shape("sagemaker.WaitIntervalInSeconds")
_TERMINATION = _shape("sagemaker.TerminationWaitInSeconds")
WaitSeconds = Annotated[Int, Field(ge=_WAIT["min"], le=_WAIT["max"])]
Timeout = Annotated[
    Int, Field(ge=PROVIDER_MAX_EXECUTION_TIMEOUT[0], le=PROVIDER_MAX_EXECUTION_TIMEOUT[1])
]


class TrafficRouting(_Model):
    type: Literal["all_at_once", "canary", "linear"] = "all_at_once"
    wait_seconds: WaitSeconds = 300
    canary_size: Size | None = None
    linear_step: Size | None = None


class BlueGreenConfig(_Model):
    traffic_routing: TrafficRouting = Field(default_factory=TrafficRouting)
    termination_wait_seconds: Annotated[
        Int, Field(ge=_TERMINATION["min"], le=_TERMINATION["max"])
    ] = 0
    max_execution_timeout_seconds: Timeout | None = None
    # Raised to deploy again after SageMaker rolled a deployment back (strategies/native.py).
    attempt: Annotated[Int, Field(ge=1)] = 1


class RollingConfig(_Model):
    maximum_batch_size: Size
    wait_seconds: WaitSeconds = 300
    rollback_maximum_batch_size: Size | None = None
    max_execution_timeout_seconds: Timeout | None = None
    # Raised to deploy again after SageMaker rolled a deployment back (strategies/native.py).
    attempt: Annotated[Int, Field(ge=1)] = 1


class StrategyConfig(_Model):
    """Exactly one strategy, as a key: `strategy: {canary: {...}}` (checked in pass 2)."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "maxProperties": 1})

    recreate: RecreateConfig | None = None
    shadow: ShadowConfig | None = None
    canary: CanaryConfig | None = None
    ab: AbConfig | None = None
    blue_green: BlueGreenConfig | None = None
    rolling: RollingConfig | None = None

    @property
    def chosen(self) -> list[str]:
        return [k for k in STRATEGY_KEYS if getattr(self, k, None) is not None]

    @property
    def name(self) -> str:
        return self.chosen[0]


TreatMissing = Literal["breaching", "notBreaching", "ignore", "missing"]
Period = Annotated[Int, Field(ge=_lim("cloudwatch.Period", "min"))]


class StandardAlarm(_Model):
    enabled: bool = True
    threshold: Annotated[Number, Field(ge=0)]
    period_seconds: Period = 60
    evaluation_periods: Annotated[Int, Field(ge=1)] = 2
    datapoints_to_alarm: Annotated[Int, Field(ge=1)] | None = None
    treat_missing_data: TreatMissing = "notBreaching"


# Each standard alarm's defaults. A block the stack gives is laid over them key by key, so
# `errors_4xx: {enabled: true}` turns the alarm on with its default threshold, and
# `latency_p99: {threshold: 150}` keeps latency's 3 evaluation periods.
STANDARD_ALARM_DEFAULTS: dict[str, dict[str, Any]] = {
    "errors_5xx": {"threshold": 1},
    "latency_p99": {"threshold": 1000, "evaluation_periods": 3},
    "errors_4xx": {"enabled": False, "threshold": 50},
}


def _over_defaults(key: str) -> BeforeValidator:
    def merge(value: Any) -> Any:
        if isinstance(value, dict):
            return {**STANDARD_ALARM_DEFAULTS[key], **cast(dict[str, Any], value)}
        return value

    return BeforeValidator(merge)


def _errors5xx() -> StandardAlarm:
    return StandardAlarm.model_validate(STANDARD_ALARM_DEFAULTS["errors_5xx"])


def _latency() -> StandardAlarm:
    return StandardAlarm.model_validate(STANDARD_ALARM_DEFAULTS["latency_p99"])


def _errors4xx() -> StandardAlarm:
    return StandardAlarm.model_validate(STANDARD_ALARM_DEFAULTS["errors_4xx"])


class RelativeErrorRate(_Model):
    """Candidate 5xx rate minus the stable variant's, in percentage points, per period."""

    enabled: bool = True
    threshold: Annotated[Number, Field(gt=0, le=100)] = 1.0
    # Periods where the candidate served fewer invocations read 0 (too few to judge a rate).
    min_invocations: Annotated[Int, Field(ge=1)] = 50
    period_seconds: Period = 60
    evaluation_periods: Annotated[Int, Field(ge=1)] = 3
    datapoints_to_alarm: Annotated[Int, Field(ge=1)] | None = None
    treat_missing_data: TreatMissing = "notBreaching"


class RelativeLatency(_Model):
    """Candidate p99 ModelLatency divided by the stable variant's, per period."""

    enabled: bool = True
    threshold: Annotated[Number, Field(gt=1)] = 1.5
    min_invocations: Annotated[Int, Field(ge=1)] = 50
    period_seconds: Period = 60
    evaluation_periods: Annotated[Int, Field(ge=1)] = 3
    datapoints_to_alarm: Annotated[Int, Field(ge=1)] | None = None
    treat_missing_data: TreatMissing = "notBreaching"


class RelativeGatesConfig(_Model):
    """`strategy.canary.relative_gates`: metric-math gate alarms on the candidate relative to the
    stable variant; `{}` turns both on with their defaults."""

    error_rate: RelativeErrorRate = Field(default_factory=RelativeErrorRate)
    latency_p99: RelativeLatency = Field(default_factory=RelativeLatency)


class CustomAlarm(_Model):
    key: Annotated[
        Text,
        _matches(r"[A-Za-z0-9_.-]{1,64}", "1..64 letters, digits, _ . or -"),
    ]
    namespace: Annotated[
        Text,
        _len("cloudwatch.Namespace"),
        _matches(_shape("cloudwatch.Namespace")["pattern"], "a namespace not starting with ':'"),
    ]
    metric: Annotated[Text, _len("cloudwatch.MetricName")]
    statistic: Text = "Average"
    threshold: Number
    comparison: Literal[
        "GreaterThanOrEqualToThreshold",
        "GreaterThanThreshold",
        "LessThanThreshold",
        "LessThanOrEqualToThreshold",
    ] = "GreaterThanThreshold"
    period_seconds: Period = 60
    evaluation_periods: Annotated[Int, Field(ge=1)] = 1
    datapoints_to_alarm: Annotated[Int, Field(ge=1)] | None = None
    treat_missing_data: TreatMissing = "missing"
    dimensions: (
        Annotated[
            dict[
                Annotated[str, _len("cloudwatch.DimensionName")],
                Annotated[MapValue, _len("cloudwatch.DimensionValue")],
            ],
            Field(max_length=_lim("cloudwatch.Dimensions", "max")),
        ]
        | None
    ) = None
    variant: Text | None = None
    gate: bool = True


class AlarmsConfig(_Model):
    """Per-variant alarms on AWS/SageMaker metrics (EndpointName + VariantName), plus custom ones.

    `latency_p99.threshold` is in milliseconds (ModelLatency itself is in microseconds).
    """

    errors_5xx: Annotated[StandardAlarm, _over_defaults("errors_5xx")] = Field(
        default_factory=_errors5xx
    )
    latency_p99: Annotated[StandardAlarm, _over_defaults("latency_p99")] = Field(
        default_factory=_latency
    )
    errors_4xx: Annotated[StandardAlarm, _over_defaults("errors_4xx")] = Field(
        default_factory=_errors4xx
    )
    custom: list[CustomAlarm] = Field(default_factory=list[CustomAlarm])


class DataCaptureConfig(_Model):
    enabled: bool = True
    sampling_percent: Annotated[
        Int,
        Field(
            ge=_lim("sagemaker.SamplingPercentage", "min"),
            le=_lim("sagemaker.SamplingPercentage", "max"),
        ),
    ] = 100
    destination_prefix: (
        Annotated[Text, _matches(r"[A-Za-z0-9!_.*'()/-]*", "an S3 key prefix")] | None
    ) = None
    destination_s3_uri: (
        Annotated[
            Text,
            Field(max_length=_lim("sagemaker.DestinationS3Uri", "max")),
            _matches(r"s3://[^/]+(/.*)?", "an s3://BUCKET/PREFIX URI"),
        ]
        | None
    ) = None
    kms: bool = True
    # Captured objects under this endpoint's prefix expire after this many days (S3 lifecycle).
    retention_days: Annotated[Int, Field(ge=1)] = 30
    # `pulumi destroy`: keep the capture bucket and its data (retain) or empty and delete it.
    on_destroy: Literal["retain", "delete"] = "retain"


class HookConfig(_Model):
    """The canary hook Lambda. `reserved_concurrency`: 1 (one decision at a time), or None to rely
    on the state table's conditional writes alone. Lambda refuses a reservation that would leave
    the account's unreserved concurrency under its minimum ("You can reserve up to the Unreserved
    account concurrency value ... minus 100", Lambda Developer Guide, configuration-concurrency;
    new accounts have reduced concurrency quotas, Lambda quotas), so on a young account the
    reservation fails with InvalidParameterValueException."""

    reserved_concurrency: Annotated[Int, Field(ge=1)] | None = 1


def _volume_kms(value: Any) -> Any:
    # go-yaml v2 reads unquoted on/off/yes/no as booleans: `volume_kms: off` means "off".
    if isinstance(value, bool):
        return "on" if value else "off"
    return value


class DriftFeatureConfig(_Model):
    """A feature of the captured requests (`source: input`) or answers (`output`: prediction
    drift). `json_path` reads JSON bodies, `csv_column` (0-based) CSV bodies; both may be set when
    the endpoint receives either."""

    name: Annotated[
        Text,
        Field(json_schema_extra={"pattern": r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"}),
        _matches(
            r"[A-Za-z_][A-Za-z0-9_]{0,62}", "1..63 letters, digits or _, not starting with a digit"
        ),
    ]
    source: Literal["input", "output"] = "input"
    json_path: (
        Annotated[
            Text,
            _matches(r"\$(\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*", "a JSON path like $.features[0]"),
        ]
        | None
    ) = None
    csv_column: Annotated[Int, Field(ge=0, le=10000)] | None = None


class DriftConfig(_Model):
    """The scheduled drift job: PSI per feature (bins for numbers, shares for categories) against a
    baseline file made by `rollout baseline`, published to CloudWatch, with one alarm per feature.
    `gate: true` makes a canary's drift alarms gate alarms (hold; roll back past the limit)."""

    baseline: Annotated[Text, Field(min_length=1)]
    features: list[DriftFeatureConfig] = Field(min_length=1, max_length=20)
    variant: Text | None = None  # default: the canary candidate, the shadow, or the first variant
    sample_size: Annotated[Int, Field(ge=100, le=10000)] = 1000
    lookback_hours: Annotated[Int, Field(ge=1, le=48)] = 1
    every_minutes: Annotated[Int, Field(ge=1, le=1440)] = 15
    threshold: Annotated[Number, Field(gt=0)] = 0.2
    evaluation_periods: Annotated[Int, Field(ge=1, le=24)] = 2
    gate: bool = False


class EndpointConfig(_Model):
    endpoint_name: EndpointName | None = None
    models: dict[Text, ModelConfig] = Field(min_length=1)
    variants: list[VariantConfig] = Field(
        min_length=1, max_length=_lim("sagemaker.ProductionVariantList", "max")
    )
    strategy: StrategyConfig
    alarms: AlarmsConfig = Field(default_factory=AlarmsConfig)
    data_capture: DataCaptureConfig | None = None
    volume_kms: Annotated[
        Literal["auto", "on", "off"],
        BeforeValidator(_volume_kms),
        WithJsonSchema({"anyOf": [{"enum": ["auto", "on", "off"]}, {"type": "boolean"}]}),
    ] = "auto"
    tags: Tags = Field(default_factory=dict)
    hook: HookConfig = Field(default_factory=HookConfig)
    # Take over an existing endpoint of this name (Pulumi `import_`) instead of creating one.
    adopt: bool = False
    drift: DriftConfig | None = None


# KMS ScheduleKeyDeletion PendingWindowInDays: 7..30 (botocore kms model).
KmsDeletionWindow = Annotated[Int, Field(ge=7, le=30)]


class StackConfig(_Model):
    endpoints: dict[str, EndpointConfig] = Field(min_length=1)
    tags: Tags = Field(default_factory=dict)
    region: str = "us-east-1"
    # The stack KMS key's waiting period before deletion after `pulumi destroy` (KMS: 7..30 days).
    kms_deletion_window_days: KmsDeletionWindow = 30
    notifications: NotificationsConfig | None = None
    ci_role: CiRoleConfig | None = None
    # Resolved images per (endpoint key, model key), filled by `load_config` (framework lookups).
    images: dict[str, str] = Field(default_factory=dict)

    def image_of(self, endpoint_key: str, model_key: str) -> str:
        return self.images[f"{endpoint_key}/{model_key}"]


class SubscriptionConfig(_Model):
    """One subscriber of the rollout topic (SNS Subscribe: Protocol, Endpoint)."""

    protocol: Literal["email", "https", "sqs", "lambda"]
    endpoint: str  # address, URL or ARN, as the protocol wants (checked in pass 2)


class ChatChannelConfig(_Model):
    """A Slack channel or Microsoft Teams channel that AWS Chatbot posts the topic's messages to.

    The workspace (Slack) or team (Teams) must be authorized in the AWS Chatbot console once.
    """

    kind: Literal["slack", "teams"]
    channel_id: str
    workspace_id: str | None = None  # Slack workspace (team) id, T...
    team_id: str | None = None  # Teams team id (a GUID)
    tenant_id: str | None = None  # Teams tenant id (a GUID)


class NotificationsConfig(_Model):
    """Who hears about rollbacks, completions, stuck rollouts, A/B winners and drift."""

    topic_arn: str | None = None  # bring your own topic instead of the stack's
    # The KMS key your topic is encrypted with (SNS server-side encryption): the hook and the A/B
    # evaluator get kms:GenerateDataKey* and kms:Decrypt on it, which publishing to an encrypted
    # topic needs (SNS Developer Guide, "Encryption at rest"). Only with `topic_arn`.
    topic_kms_key_arn: (
        Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$")]
        | None
    ) = None
    subscriptions: list[SubscriptionConfig] = Field(default_factory=list[SubscriptionConfig])
    chat_channels: list[ChatChannelConfig] = Field(default_factory=list[ChatChannelConfig])


class CiRoleConfig(_Model):
    """The CI/CD pipeline's AWS roles, assumed with GitHub Actions' OIDC token (optional).

    The deploy role trusts only `refs` (jobs without an environment) and `environments` (jobs
    in a protected environment); pull requests never get it. With `preview_role`, a second,
    read-only role trusts the repository's pull requests (for `pulumi preview`).
    """

    github_repository: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")]
    refs: list[Annotated[str, Field(pattern=r"^refs/(heads|tags)/[^*?]+$")]] = Field(
        default_factory=lambda: ["refs/heads/main"]
    )
    environments: list[Annotated[str, Field(pattern=r"^[^*?:]+$")]] = Field(
        default_factory=lambda: ["production", "staging"]
    )
    # GitHub's IAM OIDC provider is one per account (its ARN is fixed by the issuer URL): the
    # first stack declares it; another stack in the account sets `declare_oidc_provider: false`
    # (uses arn:<partition>:iam::<account>:oidc-provider/token.actions.githubusercontent.com)
    # or names one with `oidc_provider_arn`.
    oidc_provider_arn: str | None = None
    declare_oidc_provider: bool = True
    # Default `<project>-<stack>-deploy` / `<project>-<stack>-preview`: one pair per stack.
    role_name: Annotated[str, Field(pattern=r"^[\w+=,.@-]{1,64}$")] | None = None
    preview_role: bool = True


class StackKeys(_Model):
    """The project's top-level config keys (`sagemaker-rollouts:<key>`): the JSON Schema's root."""

    endpoints: dict[str, EndpointConfig] = Field(min_length=1)
    tags: Tags = Field(default_factory=dict)
    kms_deletion_window_days: KmsDeletionWindow = 30
    notifications: NotificationsConfig | None = None
    ci_role: CiRoleConfig | None = None


TOP_LEVEL_KEYS = tuple(StackKeys.model_fields)


# --------------------------------------------------------------------------- pass 1: messages


Loc = tuple[int | str, ...]


def key_path(loc: Iterable[int | str]) -> str:
    """`("endpoints", "fraud", "variants", 0, "name")` -> `endpoints.fraud.variants[0].name`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types an annotation can hold (Annotated, Optional and unions removed)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [t for a in get_args(annotation) for t in _unwrap(a)]
    return [annotation]


def _model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class that holds the key at `loc` (its last part), walking fields and containers."""
    current: list[Any] = [root]
    for part in loc[:-1]:
        nxt: list[Any] = []
        for t in current:
            if isinstance(t, type) and issubclass(t, BaseModel):
                field = t.model_fields.get(str(part))
                if field is not None:
                    nxt += _unwrap(field.annotation)
            elif get_origin(t) is list and isinstance(part, int):
                nxt += _unwrap(get_args(t)[0])
            elif get_origin(t) is dict:
                nxt += _unwrap(get_args(t)[1])
        current = nxt
    for t in current:
        if isinstance(t, type) and issubclass(t, BaseModel):
            return t
    return None


def _unknown_key(root: type[BaseModel], loc: Loc) -> str:
    model = _model_at(root, loc) if loc else None
    if model is None:
        return "unknown key"
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key; {hint}allowed here: {', '.join(allowed)}"


_TYPE_WORDS = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping of keys to values",
    "model_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values",
    "list_type": "a list",
}


def _bounds(root: type[BaseModel], loc: Loc) -> tuple[Any, Any]:
    """The (ge, le) bounds declared on the field at `loc`, where the model states them."""
    model = _model_at(root, loc) if loc else None
    if model is None or not isinstance(loc[-1], str) or loc[-1] not in model.model_fields:
        return None, None
    lo = hi = None
    todo: list[Any] = [model.model_fields[str(loc[-1])]]
    while todo:
        item = todo.pop()
        lo = getattr(item, "ge", lo)
        hi = getattr(item, "le", hi)
        todo += list(getattr(item, "metadata", ()))
        if isinstance(item, FieldInfo):
            todo.append(item.annotation)
        elif get_origin(item) is Annotated:
            todo += list(get_args(item)[1:])
        elif get_origin(item) in (Union, types.UnionType):
            todo += list(get_args(item))
    return lo, hi


def _message(root: type[BaseModel], err: Any, loc: Loc) -> str:
    kind: str = err["type"]
    ctx: dict[str, Any] = err.get("ctx") or {}
    given = _describe(err.get("input"))
    if kind == "extra_forbidden":
        return _unknown_key(root, loc)
    if kind == "missing":
        return "required key is missing"
    if kind in _TYPE_WORDS:
        return f"must be {_TYPE_WORDS[kind]}, got {given}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        lo, hi = _bounds(root, loc)
        if lo is not None and hi is not None:
            return f"must be {lo}..{hi}, got {given}"
        op = {"greater_than_equal": ">=", "less_than_equal": "<=", "greater_than": ">"}.get(
            kind, "<"
        )
        limit = next(iter(ctx.values())) if ctx else "?"
        return f"must be {op} {limit}, got {given}"
    if kind in ("too_short", "too_long", "string_too_short", "string_too_long"):
        value = err.get("input")
        if isinstance(value, str):
            unit, n = "characters", len(value)
        else:
            unit, n = "items", ctx.get("actual_length", "?")
        if "min_length" in ctx:
            return f"must have at least {ctx['min_length']} {unit}, got {n}"
        return f"must have at most {ctx.get('max_length')} {unit}, got {n}"
    if kind == "literal_error":
        return f"must be {ctx.get('expected')}, got {given}"
    if kind == "string_pattern_mismatch":
        return f"does not have the expected form, got {given}"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    return f"{err['msg']}, got {given}"


def _pydantic_errors(
    root: type[BaseModel],
    exc: ValidationError,
    prefix: Loc = (),
    at: Loc = (),
    unknown: Iterable[Loc] = (),
) -> tuple[list[str], list[Loc]]:
    """Readable `path: message` lines, and the failed locations (relative to the validated value).

    `prefix` is the user's key path of the validated value; `at` its location inside `root` (for a
    single field validated on its own). Failures at or under an `unknown` location (a secret,
    `[secret]` offline) are returned as locations but never as messages: an unknown value is
    not checked (`secret_locations`).
    """
    seen: set[str] = set()
    out: list[str] = []
    locs: list[Loc] = []
    hidden = tuple(unknown)
    for err in exc.errors(include_url=False):
        loc: Loc = tuple(err["loc"])
        # A dict key that fails its own check is reported under the key itself.
        if loc and loc[-1] == "[key]":
            loc = loc[:-1]
        locs.append(loc)
        if any(loc[: len(u)] == u for u in hidden):
            continue
        line = f"{key_path((*prefix, *loc)) or 'config'}: {_message(root, err, (*at, *loc))}"
        if line not in seen:
            seen.add(line)
            out.append(line)
    return out, locs


def describe_validation_error(
    exc: ValidationError, root: type[BaseModel] | None = None, prefix: Loc = ()
) -> list[str]:
    """pydantic's errors as `key.path: message` lines in this module's words.

    `root` is the model that was validated (for "did you mean" and range hints); `prefix` is the
    key path the validated data sits at (e.g. `("endpoints", "fraud")`).
    """
    return _pydantic_errors(EndpointConfig if root is None else root, exc, prefix)[0]


# --------------------------------------------------------------------------- lenient pass-1 result


def _given(value: object) -> bool:
    """False for a part of a lenient model whose shape check failed (it holds None)."""
    return value is not None


class _Bad:
    """The key paths whose shape check failed, or whose value is unknown offline (a secret):
    relations that need them are skipped. Only `failed` ones keep the endpoint out of the config."""

    def __init__(self, paths: Iterable[str], unknown: Iterable[str] = ()) -> None:
        self.unknown = set(unknown)
        self.paths = set(paths) | self.unknown

    @property
    def failed(self) -> set[str]:
        return self.paths - self.unknown

    def ok(self, *paths: str) -> bool:
        """True when no failed path is any of `paths` or lies under one."""
        for p in paths:
            for b in self.paths:
                if b == p or b.startswith((p + ".", p + "[")):
                    return False
        return True


@functools.cache
def _adapter(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)


def _field_type(model: type[BaseModel], name: str) -> Any:
    field = model.model_fields[name]
    return Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation


def _lenient(annotation: Any, raw: Any, bad: list[Loc]) -> Any:
    """`raw` validated where it is good; failed parts are None (models built without validation)."""
    if not bad:
        try:
            return _adapter(annotation).validate_python(raw)
        except ValidationError:
            return None
    if () in bad:
        return raw if is_unknown(raw) else None
    for t in _unwrap(annotation):
        if isinstance(t, type) and issubclass(t, BaseModel) and isinstance(raw, Mapping):
            values: dict[str, Any] = {}
            items = cast(Mapping[str, Any], raw)
            for name in t.model_fields:
                sub = [loc[1:] for loc in bad if loc[0] == name]
                if name in items:
                    values[name] = _lenient(_field_type(t, name), items[name], sub)
                elif sub:
                    values[name] = None
            return t.model_construct(**values)
        if get_origin(t) is list and isinstance(raw, list):
            (item,) = get_args(t)
            return [
                _lenient(item, v, [loc[1:] for loc in bad if loc[0] == i])
                for i, v in enumerate(cast(list[Any], raw))
            ]
        if get_origin(t) is dict and isinstance(raw, Mapping):
            value_type = get_args(t)[1]
            return {
                str(k): _lenient(value_type, v, [loc[1:] for loc in bad if loc[0] == k])
                for k, v in cast(Mapping[Any, Any], raw).items()
            }
    return None


# --------------------------------------------------------------------------- relations (pass 2)


def _check_alarm_windows(
    path: str,
    alarm: StandardAlarm | CustomAlarm | RelativeErrorRate | RelativeLatency,
    errs: list[str],
    bad: _Bad,
) -> None:
    period, evals = alarm.period_seconds, alarm.evaluation_periods
    if bad.ok(f"{path}.period_seconds"):
        # CloudWatch PutMetricAlarm "Period": 10, 20, 30 (high resolution) or a multiple of 60.
        if period not in (10, 20, 30) and (period < 60 or period % 60):
            errs.append(
                f"{path}.period_seconds: must be 10, 20, 30 or a multiple of 60 seconds, got {period}"
            )
        elif bad.ok(f"{path}.evaluation_periods"):
            cap = CW_WINDOW_SHORT if period < 3600 else CW_WINDOW_LONG
            if period * evals > cap:
                errs.append(
                    f"{path}.evaluation_periods: period_seconds x evaluation_periods must be at "
                    f"most {cap} s for a {period} s period (CloudWatch PutMetricAlarm), got "
                    f"{period} x {evals} = {period * evals} s"
                )
    d = alarm.datapoints_to_alarm
    if (
        bad.ok(f"{path}.datapoints_to_alarm", f"{path}.evaluation_periods")
        and d is not None
        and d > evals
    ):
        errs.append(f"{path}.datapoints_to_alarm: must be 1..evaluation_periods ({evals}), got {d}")


def canary_steps(c: CanaryConfig) -> list[tuple[int, int]]:
    """The config's steps as (percent, bake seconds); a step without its own bake uses `bake_seconds`."""
    return [
        (s.percent, c.bake_seconds if s.bake_seconds is None else s.bake_seconds) for s in c.steps
    ]


def _size_pct(size: Size, count: int) -> float:
    return size.value if size.type == "capacity_percent" else 100.0 * size.value / count


def gate_alarm_count(ep: EndpointConfig) -> int:
    """How many alarms gate this endpoint's rollout: enabled standard alarms (on the candidate, or
    the one variant) plus custom alarms with `gate: true` (a canary's stable-only ones excluded)."""
    a = ep.alarms
    n = sum(1 for s in (a.errors_5xx, a.latency_p99, a.errors_4xx) if s.enabled)
    stable = ep.strategy.canary.stable if ep.strategy.canary is not None else None
    return n + sum(1 for c in a.custom if c.gate and (stable is None or c.variant != stable))


_NAME_KEY = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*")


def _check_endpoint(
    key: str, ep: EndpointConfig, region: str, errs: list[str], bad: _Bad
) -> dict[str, str]:
    """Cross-field rules for one endpoint; returns the resolved image per model key."""
    p = f"endpoints.{key}"
    images: dict[str, str] = {}
    # The endpoint key names the component's children (`{key}-config`, `{key}-model-{model}`),
    # which become SageMaker EndpointConfigName/ModelName values: letters, digits and hyphens.
    if ep.endpoint_name is None and bad.ok(f"{p}.endpoint_name"):
        if not _NAME_KEY.fullmatch(key) or len(key) > _lim("sagemaker.EndpointName", "max"):
            errs.append(
                f"{p}: the endpoint key is the endpoint name, so it must be 1..63 letters, digits "
                "and hyphens, starting and ending with a letter or digit (SageMaker EndpointName); "
                "rename the key"
            )
    elif not _NAME_KEY.fullmatch(key):
        errs.append(
            f"{p}: the endpoint key is part of the generated SageMaker endpoint-config and model "
            "names, so it may hold letters, digits and hyphens only, starting and ending with a "
            "letter or digit; rename the key"
        )

    models: dict[str, ModelConfig] = ep.models if _given(ep.models) else {}
    for mkey, m in models.items():
        mp = f"{p}.models.{mkey}"
        if not re.fullmatch(r"[a-zA-Z0-9-]+", mkey):
            errs.append(
                f"{mp}: the model key is part of the generated SageMaker model name, so it may "
                "hold letters, digits and hyphens only; rename the key"
            )
        image = m.image if _given(m) else None
        if image is not None and is_unknown(image) and bad.ok(f"{mp}.framework"):
            if m.framework is None:  # unknown offline: passed through as it is
                images[mkey] = image
            else:
                errs.append(f"{mp}: set exactly one of image or framework (+ framework_version)")
            continue
        if not _given(m) or not bad.ok(f"{mp}.image", f"{mp}.framework"):
            continue
        if (m.image is None) == (m.framework is None):
            errs.append(f"{mp}: set exactly one of image or framework (+ framework_version)")
        elif m.framework is not None:
            if m.framework_version is None:
                if bad.ok(f"{mp}.framework_version"):
                    errs.append(f"{mp}.framework_version: required with framework {m.framework!r}")
            elif bad.ok(f"{mp}.framework_version", f"{mp}.py_version", f"{p}.variants"):
                used = [v for v in ep.variants if _given(v) and v.model == mkey]
                itype = used[0].instance_type if used else None
                if is_unknown(itype):  # unknown offline: the SDK's default image
                    itype = None
                try:
                    images[mkey] = resolve_framework_image(
                        m.framework, m.framework_version, region, m.py_version, itype
                    )
                except UnknownFramework as exc:
                    errs.append(f"{mp}.framework: {exc}")
                except ValueError as exc:
                    errs.append(f"{mp}.framework_version: {exc}")
        elif m.image is not None:
            images[mkey] = m.image
        url = m.model_data_url
        # botocore sagemaker model: ContainerDefinition.ModelDataUrl and S3ModelDataSource.
        if (
            url is not None
            and not is_unknown(url)
            and bad.ok(f"{mp}.model_data_url", f"{mp}.model_data_compression")
            and m.model_data_compression == "gzip"
            and not url.endswith(".tar.gz")
        ):
            errs.append(
                f"{mp}.model_data_url: "
                + ("is an S3 prefix; " if url.endswith("/") else "")
                + "SageMaker's ModelDataUrl must name a single gzip-compressed tar archive "
                f"(.tar.gz), got {url!r}; for uncompressed model files set "
                f"{mp}.model_data_compression: none"
            )
        if (
            m.network_isolation
            and m.model_data_url is None
            and m.image is None
            and bad.ok(f"{mp}.network_isolation", f"{mp}.model_data_url")
        ):
            errs.append(f"{mp}.network_isolation: needs model_data_url or a self-contained image")

    variants_ok = _given(ep.variants)
    variants = list(ep.variants) if variants_ok else []
    names_ok = all(_given(v) and bad.ok(f"{p}.variants[{i}].name") for i, v in enumerate(variants))
    names: dict[str, int] = {}
    for i, v in enumerate(variants):
        vp = f"{p}.variants[{i}]"
        if not _given(v):
            continue
        if bad.ok(f"{vp}.name"):
            if v.name in names:
                errs.append(
                    f"{vp}.name: variant names must be unique, {v.name!r} is also "
                    f"variants[{names[v.name]}]"
                )
            names.setdefault(v.name, i)
        if bad.ok(f"{vp}.model", f"{p}.models") and _given(ep.models) and v.model not in ep.models:
            errs.append(
                f"{vp}.model: must be one of the endpoint's models ({', '.join(ep.models)}), "
                f"got {v.model!r}"
            )
        if bad.ok(f"{vp}.autoscaling", f"{vp}.instance_count"):
            _check_autoscaling(vp, v, errs)
        if bad.ok(f"{vp}.instance_type") and v.instance_type not in _HOSTING:
            close = suggest_instance_type(v.instance_type)
            hint = f"did you mean {close}?" if close else "for example ml.m5.large, ml.c5.xlarge"
            errs.append(
                f"{vp}.instance_type: not a SageMaker hosting instance type, got "
                f"{v.instance_type!r} ({hint})"
            )

    def variant(path: str, name: str | None) -> VariantConfig | None:
        if name is None or not bad.ok(path):
            return None
        if name not in names:
            if names_ok:
                errs.append(
                    f"{path}: must name one of the variants ({', '.join(names)}), got {name!r}"
                )
            return None
        return variants[names[name]]

    s = ep.strategy
    if not _given(s):
        return images
    chosen = s.chosen
    sp_root = f"{p}.strategy"
    if len(chosen) != 1:
        if bad.ok(sp_root) or not chosen:
            errs.append(
                f"{sp_root}: set exactly one of {', '.join(STRATEGY_KEYS)}, "
                f"got {', '.join(chosen) if chosen else 'none'}"
            )
        return images
    name = chosen[0]
    sp = f"{sp_root}.{name}"
    single = ("recreate", "blue_green", "rolling")
    if name in single and variants_ok and len(variants) != 1:
        why = {
            "recreate": "recreate replaces the endpoint with one variant",
            "blue_green": "blue/green shifts one variant, kept under the same name across updates",
            # deployment-guardrails-exclusions.html: rolling deployments exclude
            # "Multi-variant inference endpoints".
            "rolling": "SageMaker rejects rolling updates on multi-variant endpoints",
        }[name]
        errs.append(f"{p}.variants: {name} needs exactly one variant ({why}), got {len(variants)}")

    if s.shadow is not None:
        prod = variant(f"{sp}.production", s.shadow.production)
        shadow = variant(f"{sp}.shadow", s.shadow.shadow)
        if variants_ok and len(variants) != 2:
            errs.append(
                f"{p}.variants: shadow takes exactly one production and one shadow variant, "
                f"got {len(variants)} variants"
            )
        if prod is not None and prod is shadow:
            errs.append(f"{sp}.shadow: must differ from production")
        dc = ep.data_capture
        if dc is not None and bad.ok(f"{p}.data_capture.enabled") and dc.enabled is False:
            errs.append(
                f"{p}.data_capture.enabled: shadow compares captured responses; it must be on"
            )
        if bad.ok(f"{sp}.outputs"):
            _check_outputs(f"{sp}.outputs", s.shadow.outputs, errs)

    if s.canary is not None:
        c = s.canary
        stable = variant(f"{sp}.stable", c.stable)
        cand = variant(f"{sp}.candidate", c.candidate)
        if stable is not None and stable is cand:
            errs.append(f"{sp}.candidate: must differ from stable")
        if variants_ok and len(variants) != 2:
            errs.append(
                f"{p}.variants: canary takes a stable and a candidate variant, got {len(variants)}"
            )
        if bad.ok(f"{sp}.steps", f"{sp}.bake_seconds"):
            prev = 0
            for i, (pct, bake) in enumerate(canary_steps(c)):
                if not 1 <= pct <= 100 or pct <= prev:
                    errs.append(f"{sp}.steps[{i}]: must be 1..100 and increasing, got {pct}")
                elif bake > 86400:
                    errs.append(f"{sp}.steps[{i}].bake_seconds: must be 0..86400, got {bake}")
                prev = max(prev, pct)
        elif _given(c.steps):
            # Some steps failed their shape check: still order-check the ones that passed.
            prev = 0
            for i, st in enumerate(c.steps):
                if not _given(st) or not bad.ok(f"{sp}.steps[{i}]"):
                    continue
                if not 1 <= st.percent <= 100 or st.percent <= prev:
                    errs.append(f"{sp}.steps[{i}]: must be 1..100 and increasing, got {st.percent}")
                prev = max(prev, st.percent)
        rg = c.relative_gates
        if _given(rg) and rg is not None:
            from sagemaker_rollouts.strategies.relative_gates import config_problems

            for key in ("error_rate", "latency_p99"):
                gate = getattr(rg, key)
                if _given(gate):
                    _check_alarm_windows(f"{sp}.relative_gates.{key}", gate, errs, bad)
            if bad.ok(f"{sp}.relative_gates"):
                # cast: pyright sees this module under two names (strategies.config and
                # sagemaker_rollouts.strategies.config); the object is the one it expects.
                errs.extend(config_problems(f"{sp}.relative_gates", cast(Any, rg)))

    if s.ab is not None and bad.ok(f"{sp}.weights"):
        for vname in s.ab.weights:
            variant(f"{sp}.weights.{vname}", vname)
        if names_ok:
            for v in variants:
                if _given(v) and v.name not in s.ab.weights:
                    errs.append(f"{sp}.weights: missing a weight for variant {v.name!r}")
        for vname, w in s.ab.weights.items():
            if w < 0:
                errs.append(f"{sp}.weights.{vname}: must be >= 0 (0 is a dark variant), got {w}")
        if sum(w for w in s.ab.weights.values() if w > 0) == 0:
            errs.append(
                f"{sp}.weights: at least one weight must be positive so some variant serves"
            )
    if s.ab is not None:
        serving = [k for k, w in s.ab.weights.items() if w > 0] if bad.ok(f"{sp}.weights") else []
        checkable = bad.ok(f"{sp}.weights", f"{sp}.successes")
        if checkable and s.ab.successes is not None and len(serving) < 2:
            errs.append(
                f"{sp}.successes: the evaluator compares serving variants; needs at least two "
                f"with a positive weight, got {len(serving)}"
            )
        for ref_key in ("successes", "trials"):
            ref = getattr(s.ab, ref_key) if bad.ok(f"{sp}.{ref_key}") else None
            dmax = _lim("cloudwatch.Dimensions", "max")
            if ref is not None and len(ref.dimensions) + 2 > dmax:
                errs.append(
                    f"{sp}.{ref_key}.dimensions: CloudWatch allows at most {dmax} dimensions "
                    f"(2 are added: variant and endpoint), got {len(ref.dimensions)}"
                )
        if (
            bad.ok(f"{sp}.successes", f"{sp}.trials", f"{sp}.on_winner")
            and s.ab.successes is None
            and (s.ab.trials is not None or s.ab.on_winner == "promote")
        ):
            errs.append(f"{sp}.successes: required to evaluate a winner (trials or on_winner set)")
        if (
            bad.ok(f"{sp}.baseline_rate", f"{sp}.minimum_detectable_lift")
            and s.ab.baseline_rate * (1 + s.ab.minimum_detectable_lift) >= 1
        ):
            errs.append(
                f"{sp}.minimum_detectable_lift: baseline_rate x (1 + minimum_detectable_lift) "
                f"must stay below 1 (a rate), got {s.ab.baseline_rate:g} x "
                f"(1 + {s.ab.minimum_detectable_lift:g})"
            )

    first = variants[0] if variants else None
    count_ok = first is not None and bad.ok(f"{p}.variants[0].instance_count")
    count = first.instance_count if first is not None and count_ok else 1
    if s.blue_green is not None and bad.ok(f"{sp}.traffic_routing"):
        bg, r = s.blue_green, s.blue_green.traffic_routing
        rp = f"{sp}.traffic_routing"
        sizes_ok = True
        if r.type == "canary":
            # TrafficRoutingConfig CanarySize: "less than or equal to 50% of the variant's total
            # instance count" (botocore sagemaker model).
            if r.canary_size is None:
                errs.append(f"{rp}.canary_size: required for canary traffic routing")
                sizes_ok = False
            elif count_ok and _size_pct(r.canary_size, count) > 50:
                errs.append(
                    f"{rp}.canary_size: must be at most 50% of the variant's {count} instance(s), "
                    f"got {r.canary_size.value} {r.canary_size.type}"
                )
        elif r.canary_size is not None:
            errs.append(f"{rp}.canary_size: only for type canary, got type {r.type}")
        if r.type == "linear":
            # TrafficRoutingConfig LinearStepSize: "must be 10-50% of the variant's total
            # instance count" (botocore sagemaker model).
            if r.linear_step is None:
                errs.append(f"{rp}.linear_step: required for linear traffic routing")
                sizes_ok = False
            elif count_ok:
                pct = _size_pct(r.linear_step, count)
                if not 10 <= pct <= 50:
                    errs.append(
                        f"{rp}.linear_step: must be 10..50% of the variant's {count} instance(s), "
                        f"got {r.linear_step.value} {r.linear_step.type}"
                    )
        elif r.linear_step is not None:
            errs.append(f"{rp}.linear_step: only for type linear, got type {r.type}")
        if (
            sizes_ok
            and count_ok
            and bad.ok(f"{sp}.termination_wait_seconds", f"{sp}.max_execution_timeout_seconds")
        ):
            _check_timeout(sp, _blue_green_policy(bg), count, errs)

    if s.rolling is not None and bad.ok(f"{sp}.maximum_batch_size"):
        ro = s.rolling
        batch = ro.maximum_batch_size
        pct = _size_pct(batch, count)
        # RollingUpdatePolicy MaximumBatchSize: "Value must be between 5% to 50% of the variant's
        # total instance count" (botocore sagemaker model). A one-instance fleet can only take a
        # batch of 1 (100%): the docs do not say AWS refuses it, so it is allowed with a warning
        # (config_warnings).
        if batch.type == "capacity_percent" and not 5 <= pct <= 50:
            errs.append(
                f"{sp}.maximum_batch_size: must be 5..50 capacity_percent, got {batch.value}"
            )
        if (
            count_ok
            and batch.type == "instance_count"
            and not 1 <= batch.value <= max(1, count // 2)
        ):
            errs.append(
                f"{sp}.maximum_batch_size: must be 1..{max(1, count // 2)} instances "
                f"(at most 50% of {count}), got {batch.value}"
            )
        if count_ok and bad.ok(
            f"{sp}.wait_seconds",
            f"{sp}.max_execution_timeout_seconds",
            f"{sp}.rollback_maximum_batch_size",
        ):
            _check_timeout(sp, _rolling_policy(ro), count, errs)

    # Alarms.
    alarms = ep.alarms
    if _given(alarms):
        for akey in ("errors_5xx", "latency_p99", "errors_4xx"):
            std = getattr(alarms, akey, None)
            if std is not None:
                _check_alarm_windows(f"{p}.alarms.{akey}", std, errs, bad)
        keys: set[str] = set()
        for i, ca in enumerate(alarms.custom or []):
            cp = f"{p}.alarms.custom[{i}]"
            if not _given(ca):
                continue
            _check_alarm_windows(cp, ca, errs, bad)
            if bad.ok(f"{cp}.key"):
                reserved = ("errors_5xx", "latency_p99", "errors_4xx", "low_traffic")
                if ca.key in keys or ca.key in reserved:
                    errs.append(
                        f"{cp}.key: must be unique among the endpoint's alarms, got {ca.key!r}"
                    )
                keys.add(ca.key)
            if ca.variant is not None:
                variant(f"{cp}.variant", ca.variant)
            if (
                bad.ok(f"{cp}.statistic")
                and ca.statistic not in STANDARD_STATISTICS
                and not is_extended_statistic(ca.statistic)
            ):
                errs.append(
                    f"{cp}.statistic: must be SampleCount, Average, Sum, Minimum, Maximum or an "
                    "extended statistic such as p99, p99.9, tm90, TM(10%:90%), wm99, tc90, ts90, "
                    f"PR(:300) or IQM, got {ca.statistic!r}"
                )
        all_ok = bad.ok(f"{p}.alarms", f"{p}.strategy", f"{p}.variants")
        if all_ok and name in ("blue_green", "rolling"):
            n = gate_alarm_count(ep)
            lo, hi = _lim("sagemaker.AlarmList", "min"), _lim("sagemaker.AlarmList", "max")
            if not lo <= n <= hi:
                errs.append(
                    f"{p}.alarms: {name} needs {lo}..{hi} auto-rollback alarms (enabled standard "
                    f"alarms plus custom alarms with gate: true; SageMaker AlarmList), got {n}"
                )
        if all_ok and name == "canary" and gate_alarm_count(ep) < 1:
            errs.append(
                f"{p}.alarms: a canary needs at least one gate alarm on the candidate "
                "(an enabled standard alarm or a custom alarm with gate: true), got 0"
            )

    if ep.drift is not None and bad.ok(f"{p}.drift"):
        _check_drift(p, ep, names, errs)

    dc = ep.data_capture
    if dc is not None and dc.destination_s3_uri and dc.destination_prefix:
        errs.append(f"{p}.data_capture: set destination_s3_uri or destination_prefix, not both")
    return images


def _check_outputs(path: str, fields: Sequence[OutputField], errs: list[str]) -> None:
    seen: set[str] = set()
    for i, f in enumerate(fields):
        fp = f"{path}[{i}]"
        if f.name in seen:
            errs.append(f"{fp}.name: must be unique, {f.name!r} is used twice")
        seen.add(f.name)
        if f.json_path is not None and f.csv_column is not None:
            errs.append(f"{fp}: set json_path (JSON answers) or csv_column (CSV answers), not both")
        if f.tolerance is not None and f.kind != "number":
            errs.append(f"{fp}.tolerance: only for kind number, got kind {f.kind}")


def _check_drift(p: str, ep: EndpointConfig, names: Mapping[str, int], errs: list[str]) -> None:
    """Drift reads the stack's capture bucket and a baseline file holding every feature."""
    from sagemaker_rollouts.strategies.drift import BaselineError, load_baseline_file

    d = ep.drift
    assert d is not None
    dp = f"{p}.drift"
    features = d.features  # shape errors anywhere under drift skip these checks (caller)
    if d.variant is not None and d.variant not in names:
        errs.append(
            f"{dp}.variant: must name one of the variants ({', '.join(names)}), got {d.variant!r}"
        )
    dc = ep.data_capture
    if dc is not None and not dc.enabled:
        errs.append(f"{p}.data_capture.enabled: drift reads captured requests; it must be on")
    elif dc is not None and dc.destination_s3_uri is not None:
        errs.append(
            f"{dp}: reads the stack's capture bucket; unset data_capture.destination_s3_uri"
        )
    seen: set[str] = set()
    for i, f in enumerate(features):
        if f.name in seen:
            errs.append(f"{dp}.features[{i}].name: must be unique, {f.name!r} is used twice")
        seen.add(f.name)
    try:
        baseline = load_baseline_file(d.baseline)
    except (OSError, BaselineError) as exc:
        errs.append(f"{dp}.baseline: cannot use {d.baseline!r}: {exc}")
        return
    known = {n for n, _ in baseline.features}
    for i, f in enumerate(features):
        if f.name not in known:
            errs.append(
                f"{dp}.features[{i}].name: {f.name!r} is not in the baseline "
                f"({', '.join(sorted(known))}); rebuild it with rollout baseline --features"
            )


def _blue_green_policy(bg: BlueGreenConfig) -> BlueGreenPlan:
    r = bg.traffic_routing
    return BlueGreenPlan(
        routing=cast(RoutingType, r.type.upper()),
        wait_seconds=r.wait_seconds,
        canary_size=None if r.canary_size is None else capacity_size(*_size_args(r.canary_size)),
        linear_step=None if r.linear_step is None else capacity_size(*_size_args(r.linear_step)),
        termination_wait_seconds=bg.termination_wait_seconds,
        max_execution_timeout_seconds=bg.max_execution_timeout_seconds,
    )


def _rolling_policy(ro: RollingConfig) -> RollingPlan:
    rb = ro.rollback_maximum_batch_size
    return RollingPlan(
        maximum_batch_size=capacity_size(*_size_args(ro.maximum_batch_size)),
        wait_seconds=ro.wait_seconds,
        rollback_maximum_batch_size=None if rb is None else capacity_size(*_size_args(rb)),
        max_execution_timeout_seconds=ro.max_execution_timeout_seconds,
    )


def _size_args(size: Size) -> tuple[str, int]:
    return size.type, size.value


def _check_timeout(
    sp: str, policy: BlueGreenPlan | RollingPlan, fleet: int, errs: list[str]
) -> None:
    """MaximumExecutionTimeoutInSeconds "should be larger than the total waiting time specified in
    TerminationWaitInSeconds and WaitIntervalInSeconds" (botocore sagemaker model,
    BlueGreenUpdatePolicy); for rolling, "Exceeding this limit causes a timeout"
    (RollingUpdatePolicy). The waits are counted as the guardrails emulator runs them
    (`guardrails.update_waits`, rule S5): a timeout not larger than them can only time out."""
    timeout = policy.max_execution_timeout_seconds
    if timeout is None:
        return
    waits, how = update_waits(policy, fleet)
    if timeout <= waits:
        errs.append(
            f"{sp}.max_execution_timeout_seconds: must be greater than the waits of the update "
            f"({waits} s: {how}), got {timeout}"
        )


def _check_tags(
    path: str, stack_tags: Mapping[str, str], ep_tags: Mapping[str, str], errs: list[str]
) -> None:
    merged = set(stack_tags) | set(ep_tags) | set(MANAGED_TAG_KEYS)
    limit = _lim("sagemaker.TagList", "max")
    if len(merged) > limit:
        errs.append(
            f"{path}: the endpoint's resources would carry {len(merged)} tags (stack tags, "
            f"endpoint tags and the {len(MANAGED_TAG_KEYS)} tags the program adds: "
            f"{', '.join(MANAGED_TAG_KEYS)}); SageMaker allows at most {limit}"
        )


# --------------------------------------------------------------------------- images


def suggest_instance_type(given: str) -> str | None:
    """The hosting instance type a user most likely meant, or None.

    The common slips come first, exactly: a missing `ml.` prefix (`m5.large`) and upper case
    (`ML.M5.LARGE`); only then the closest spelling (difflib ratio >= 0.8).
    """
    text = given.strip().lower()
    for candidate in (text, f"ml.{text}"):
        if candidate in _HOSTING:
            return candidate
    close = difflib.get_close_matches(text, sorted(_HOSTING), n=1, cutoff=0.8)
    return close[0] if close else None


class UnknownFramework(ValueError):
    """The framework name is not one the sagemaker SDK's image tables know."""


def resolve_framework_image(
    framework: str, version: str, region: str, py_version: str | None, instance_type: str | None
) -> str:
    """An inference image URI from the sagemaker SDK's offline tables (imported only when needed).

    Raises UnknownFramework for an unknown framework name, ValueError when the version (or
    py_version / region) has no image.
    """
    try:
        from sagemaker.core import image_uris  # type: ignore[import-untyped]  # heavy (~2 s): only for stacks that name a framework
    except ImportError as exc:  # the `frameworks` extra is optional: image_uri needs none of it
        raise ValueError(
            "resolving a framework image needs the `frameworks` extra "
            "(pip install 'sagemaker-rollouts[frameworks]'), or give image_uri instead"
        ) from exc
    tables = Path(str(image_uris.__file__)).parent / "image_uri_config"
    known = sorted(p.stem for p in tables.glob("*.json"))
    if known and framework not in known:
        shown = ", ".join(k for k in known if "-" not in k)[:400]
        raise UnknownFramework(
            f"unknown framework {framework!r}; known frameworks include: {shown}"
        )
    try:
        retrieve: Any = image_uris.retrieve  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        return str(
            retrieve(
                framework=framework,
                region=region,
                version=version,
                py_version=py_version,
                instance_type=instance_type,
                image_scope="inference",
            )
        )
    except Exception as exc:  # the SDK raises ValueError/KeyError/others with good text
        raise ValueError(
            f"cannot resolve an image for {framework} {version} in {region}: {exc}"
        ) from exc


# --------------------------------------------------------------------------- entry points


def _check_autoscaling(path: str, v: VariantConfig, errs: list[str]) -> None:
    a = v.autoscaling
    if not isinstance(a, AutoscalingConfig):
        return
    ap = f"{path}.autoscaling"
    if a.max_capacity < a.min_capacity:
        errs.append(
            f"{ap}.max_capacity: must be at least min_capacity ({a.min_capacity}), "
            f"got {a.max_capacity}"
        )
    if v.instance_count > a.max_capacity:
        # Below the minimum is fine: registering the target scales the variant up to it (and a
        # canary candidate's minimum follows its share).
        errs.append(
            f"{path}.instance_count: must be at most autoscaling max_capacity "
            f"({a.max_capacity}), got {v.instance_count}"
        )
    if a.target_invocations_per_instance is None and a.custom_metric is None:
        errs.append(f"{ap}: set target_invocations_per_instance, custom_metric or both")


def _validate_endpoint(key: str, raw: Any, errs: list[str]) -> tuple[EndpointConfig, _Bad] | None:
    prefix: Loc = ("endpoints", key)
    unknown = secret_locations(raw)
    errs += _secret_key_errors(prefix, unknown)
    unknown_paths = [key_path((*prefix, *loc)) for loc in unknown]
    try:
        return EndpointConfig.model_validate(raw), _Bad((), unknown_paths)
    except ValidationError as exc:
        lines, locs = _pydantic_errors(EndpointConfig, exc, prefix, unknown=unknown)
        errs += lines
        if () in locs or not isinstance(raw, Mapping):
            return None
        lenient = _lenient(EndpointConfig, raw, locs)
        if lenient is None:
            return None
        failed = [key_path((*prefix, *loc)) for loc in locs]
        return cast(EndpointConfig, lenient), _Bad(failed, unknown_paths)


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
        lines, locs = _pydantic_errors(model, exc, unknown=unknown)
        if lines:
            raise ConfigError(lines) from None
        return cast(_M, _lenient(model, raw, locs))


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


_SUBSCRIBER = {
    "email": (r"[^@\s]+@[^@\s]+\.[^@\s]+", "an email address"),
    "https": (r"https://[^\s]+", "an https:// URL"),
    "sqs": (r"arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[\w-]{1,80}", "an SQS queue ARN"),
    "lambda": (
        r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[\w-]{1,64}(:[\w$-]+)?",
        "a Lambda function ARN",
    ),
}


def _check_notifications(n: NotificationsConfig, errs: list[str]) -> None:
    """Each subscriber's endpoint fits its protocol; each chat channel has its ids."""
    if (
        n.topic_arn is not None
        and not is_unknown(n.topic_arn)
        and not re.fullmatch(
            r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}(\.fifo)?", n.topic_arn
        )
    ):
        errs.append(f"notifications.topic_arn: must be an SNS topic ARN, got {n.topic_arn!r}")
    for i, sub in enumerate(n.subscriptions):
        pattern, what = _SUBSCRIBER[sub.protocol]
        if not is_unknown(sub.endpoint) and not re.fullmatch(pattern, sub.endpoint):
            errs.append(
                f"notifications.subscriptions[{i}].endpoint: protocol {sub.protocol} needs "
                f"{what}, got {sub.endpoint!r}"
            )
    for i, ch in enumerate(n.chat_channels):
        cp = f"notifications.chat_channels[{i}]"
        needed = ("workspace_id",) if ch.kind == "slack" else ("team_id", "tenant_id")
        errs.extend(
            f"{cp}.{k}: required for a {ch.kind} channel" for k in needed if getattr(ch, k) is None
        )
        unused = ("team_id", "tenant_id") if ch.kind == "slack" else ("workspace_id",)
        errs.extend(
            f"{cp}.{k}: not used by a {ch.kind} channel"
            for k in unused
            if getattr(ch, k) is not None
        )


def load_config(raw: Mapping[str, Any], *, region: str = "us-east-1") -> StackConfig:
    """Validate the project's config keys (`endpoints`, `tags`). Raises ConfigError with all problems.

    Every endpoint is validated on its own, and relation checks run for every field that passed its
    shape check, so no problem hides another.
    """
    errs: list[str] = []
    data = dict(raw)
    for k in sorted(set(data) - set(TOP_LEVEL_KEYS)):
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
        unknown = secret_locations(data[name])
        errs += _secret_key_errors((name,), unknown)
        try:
            top[name] = _adapter(_field_type(StackKeys, name)).validate_python(data[name])
        except ValidationError as exc:
            lines, locs = _pydantic_errors(StackKeys, exc, (name,), (name,), unknown=unknown)
            errs += lines
            if not lines:  # only unknown values failed: keep them as they are
                top[name] = _lenient(_field_type(StackKeys, name), data[name], locs)
    stack_tags: dict[str, str] = top.get("tags", {})
    if isinstance(top.get("notifications"), NotificationsConfig):
        _check_notifications(top["notifications"], errs)
    endpoints_raw = data.get("endpoints")
    endpoints: dict[str, EndpointConfig] = {}
    images: dict[str, str] = {}
    if "endpoints" in whole_secret:
        endpoints_raw = {}
    elif not isinstance(endpoints_raw, Mapping) or not endpoints_raw:
        given = "none" if not endpoints_raw else _describe(endpoints_raw)
        errs.append(f"endpoints: must be a mapping with at least 1 endpoint, got {given}")
        endpoints_raw = {}
    for key, rawep in cast(Mapping[Any, Any], endpoints_raw).items():
        key = str(key)
        checked = _validate_endpoint(key, rawep, errs)
        if checked is None:
            continue
        ep, bad = checked
        for mkey, img in _check_endpoint(key, ep, region, errs, bad).items():
            images[f"{key}/{mkey}"] = img
        if bad.ok(f"endpoints.{key}.tags"):
            _check_tags(f"endpoints.{key}.tags", stack_tags, ep.tags, errs)
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
    if errs:
        raise ConfigError(errs)
    if any(secret_locations(top.get(name)) for name in top):
        # values unknown offline were kept as they are (lenient): validating again would check them
        return StackConfig.model_construct(endpoints=endpoints, region=region, images=images, **top)
    return StackConfig(endpoints=endpoints, region=region, images=images, **top)


# --------------------------------------------------------------------------- warnings


def _secret_paths(value: Any, path: str) -> list[str]:
    if isinstance(value, BaseModel):
        return [
            p
            for name in type(value).model_fields
            for p in _secret_paths(getattr(value, name), f"{path}.{name}")
        ]
    if isinstance(value, Mapping):
        items = cast(Mapping[Any, Any], value)
        return [p for k, v in items.items() for p in _secret_paths(v, f"{path}.{k}")]
    if isinstance(value, list):
        seq = cast(list[Any], value)
        return [p for i, v in enumerate(seq) for p in _secret_paths(v, f"{path}[{i}]")]
    return [path] if is_unknown(value) else []


def config_warnings(config: StackConfig) -> list[str]:
    """Legal configs that are almost certainly a mistake, as `key.path: message` (never blocking).

    `rollout plan` prints them and the program logs them with `pulumi.log.warn`.
    """
    out: list[str] = []
    for key, ep in config.endpoints.items():
        p = f"endpoints.{key}"
        dc = ep.data_capture
        if dc is not None and dc.enabled and dc.sampling_percent == 0:
            out.append(
                f"{p}.data_capture.sampling_percent: 0% captures nothing while data capture is "
                "on; set a percent above 0, or enabled: false to turn capture off"
            )
        for i, ca in enumerate(ep.alarms.custom):
            if ca.dimensions is None and ca.namespace != "AWS/SageMaker":
                added = "EndpointName" + ("/VariantName" if ca.variant is not None else "")
                out.append(
                    f"{p}.alarms.custom[{i}]: namespace {ca.namespace!r} is not AWS/SageMaker, yet "
                    f"the alarm gets {added} dimensions added; unless {ca.metric!r} is published "
                    "with exactly those dimensions the alarm never sees data: set dimensions"
                )
        count = ep.variants[0].instance_count
        ro = ep.strategy.rolling
        if ro is not None:
            size = ro.maximum_batch_size
            batch = size.value if size.type == "instance_count" else -(-size.value * count // 100)
            if batch >= count:
                out.append(
                    f"{p}.strategy.rolling.maximum_batch_size: one batch ({batch} instance(s)) is "
                    f"the whole fleet of {count}: every instance is replaced at once, so the "
                    "rolling update protects nothing; add instances or use blue_green"
                )
        bgc = ep.strategy.blue_green
        # SageMaker Developer Guide, deployment-guardrails-exclusions.html: "Endpoints that use
        # Inf1 (Inferentia-based) instances ... cannot use deployment guardrails ... and your
        # endpoint will fall back to using a blue/green deployment with all at once traffic
        # shifting and no final baking period". AWS accepts the update: warn, do not refuse.
        native = ep.strategy.blue_green is not None or ep.strategy.rolling is not None
        inf1 = sorted(
            {v.instance_type for v in ep.variants if v.instance_type.startswith("ml.inf1.")}
        )
        if native and inf1:
            out.append(
                f"{p}.strategy.{ep.strategy.name}: {', '.join(inf1)} (Inf1) cannot use SageMaker's "
                "deployment guardrails: the update falls back to blue/green all at once with no "
                "final baking period and no auto-rollback bake (deployment-guardrails-exclusions); "
                "use a canary, or Inf2 instances"
            )
        # guardrails S5: ALL_AT_ONCE has one traffic step, so WaitIntervalInSeconds ("between
        # incremental steps") never runs; its baking period is the termination wait.
        if (
            bgc is not None
            and bgc.traffic_routing.type == "all_at_once"
            and bgc.termination_wait_seconds == 0
        ):
            out.append(
                f"{p}.strategy.blue_green.termination_wait_seconds: 0 with all_at_once "
                "traffic leaves no baking period at full traffic (the bake is the "
                "termination wait; wait_seconds is the wait between traffic steps, and "
                "all_at_once has one), so the rollback alarms are barely watched: set "
                "termination_wait_seconds, or use canary or linear traffic routing"
            )
        if ep.volume_kms == "on":
            nvme = sorted({v.instance_type for v in ep.variants if has_local_nvme(v.instance_type)})
            if nvme:
                out.append(
                    f"{p}.volume_kms: on, but {', '.join(nvme)} keep their ML storage on local "
                    f"NVMe instance storage, which the key does not encrypt ({NVME_KMS_DOC}); "
                    "the key is set as asked (an SCP may require it) and covers no local storage"
                )
        c = ep.strategy.canary
        if c is not None:
            names = {v.name: v for v in ep.variants}
            stable, cand = names.get(c.stable), names.get(c.candidate)
            last = canary_steps(c)[-1][0]
            if stable is not None and cand is not None:
                needed = -(-stable.instance_count * last // 100)
                if cand.instance_count < needed:
                    out.append(
                        f"{p}.strategy.canary.steps: at the last step ({last}%) the candidate's "
                        f"{cand.instance_count} instance(s) carry the load of {needed} stable "
                        f"instance(s) (stable: {stable.instance_count} for 100%); raise the "
                        f"candidate's instance_count to {needed} or lower the last step"
                    )
            standard = (ep.alarms.errors_5xx, ep.alarms.latency_p99, ep.alarms.errors_4xx)
            if c.baseline_alarms and not any(a.enabled for a in standard):
                out.append(
                    f"{p}.strategy.canary.baseline_alarms: true, but every standard alarm "
                    f"({p}.alarms.errors_5xx / latency_p99 / errors_4xx) is disabled, so the "
                    "stable fleet is still unwatched; enable one of them"
                )
    out += [
        f"{path}: encrypted (secure:) and not decryptable offline, so its form was not checked; "
        "the program checks the decrypted value at `pulumi up`"
        for path in [
            *_secret_paths(config.endpoints, "endpoints"),
            *_secret_paths(config.tags, "tags"),
            *_secret_paths(config.notifications, "notifications"),
            *_secret_paths(config.ci_role, "ci_role"),
        ]
    ]
    return out


def project_config(stack_yaml: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """Split a parsed `Pulumi.<stack>.yaml` into this project's keys and the AWS region.

    As the Pulumi CLI does (sdk/go/common/workspace/loaders.go `stackConfigNamespacedWithProject`),
    a key without a namespace belongs to the project: `endpoints:` is `sagemaker-rollouts:endpoints`.
    Unknown project keys are left to `load_config`, which reports them with every other problem.
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
    region = items.get("aws:region")
    return ours, "us-east-1" if region is None else str(region)


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
