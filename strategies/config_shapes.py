"""Config shapes every strategy shares: models, variants, alarms, data capture, drift, notifications.

Pass 1 only (pydantic: shapes, types, single-field ranges); the rules between fields live in
`config_rules` and in each strategy's module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

from pydantic import (
    BeforeValidator,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    model_validator,
)
from pydantic_core import PydanticCustomError, core_schema

from sagemaker_rollouts.strategies.config_values import (
    Bool,
    ConfigModel,
    EnvKey,
    EnvValue,
    Int,
    MapValue,
    Name,
    Number,
    Period,
    Text,
    TreatMissing,
    VersionText,
    aws_length,
    aws_limit,
    aws_shape,
    matches,
)

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
    from pydantic.json_schema import JsonSchemaValue
    from pydantic_core import CoreSchema

_SUBNET = aws_shape("sagemaker.SubnetId")
_SG = aws_shape("sagemaker.SecurityGroupId")


class VpcConfig(ConfigModel):
    """Subnets (1..16) and security groups (1..5) for the model container (botocore VpcConfig)."""

    subnets: list[
        Annotated[
            Text,
            Field(max_length=_SUBNET["max"]),
            matches(_SUBNET["pattern"], "a subnet id like subnet-0abc"),
        ]
    ] = Field(
        min_length=aws_limit("sagemaker.Subnets", "min"),
        max_length=aws_limit("sagemaker.Subnets", "max"),
    )
    """Subnet ids (subnet-...), 1..16."""
    security_group_ids: list[
        Annotated[
            Text,
            Field(max_length=_SG["max"]),
            matches(_SG["pattern"], "a security group id like sg-0abc"),
        ]
    ] = Field(
        min_length=aws_limit("sagemaker.VpcSecurityGroupIds", "min"),
        max_length=aws_limit("sagemaker.VpcSecurityGroupIds", "max"),
    )
    """Security group ids (sg-...), 1..5."""


class ModelConfig(ConfigModel):
    """A model: an image URI, or a framework + version resolved offline to an image URI."""

    image: (
        Annotated[
            VersionText,
            Field(max_length=aws_limit("sagemaker.ContainerImage", "max")),
            matches(
                r"[\w.-]+(:\d+)?/[\w./-]+(:[\w.-]+|@sha256:[0-9a-f]{64})?",
                "an image URI like REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:DIGEST",
            ),
        ]
        | None
    ) = None
    """Inference image URI (REGISTRY/REPO:TAG or @sha256:DIGEST); a string, never a number. Exactly one of image, framework."""
    framework: Text | None = None
    """A SageMaker framework name (xgboost, pytorch, ...) resolved offline to its image for the Region."""
    framework_version: VersionText | None = None
    """The framework's version, as a string (quote it: YAML reads 1.10 as 1.1). Required with framework."""
    py_version: VersionText | None = None
    """Python version of the framework image (py3, py310), when the framework has several."""
    model_data_url: (
        Annotated[
            Text,
            Field(max_length=aws_limit("sagemaker.Url", "max")),
            # The API's Url also allows https://; the program grants the execution role read
            # access to the artifact by its S3 ARN, so it takes s3://BUCKET/KEY only.
            matches(r"s3://[^/]+/.+", "an s3://BUCKET/KEY URL of the model artifact"),
        ]
        | None
    ) = None
    """s3://BUCKET/KEY of the model artifact (model.tar.gz); the execution role may read it."""
    # How the artifact at model_data_url is packed (CreateModel, S3ModelDataSource
    # CompressionType): gzip, a single .tar.gz (ModelDataUrl: "must point to a single gzip
    # compressed tar archive (.tar.gz suffix)"); none, uncompressed model files: one object, or
    # every object under a prefix ending in "/" (S3DataType S3Prefix: "A valid key name prefix
    # ... always ends with a forward slash (/)"), sent as ModelDataSource.
    model_data_compression: Literal["gzip", "none"] = "gzip"
    """How model_data_url is packed: gzip (one .tar.gz) or none (uncompressed files: one object, or a prefix ending in /)."""
    environment: Annotated[
        dict[EnvKey, EnvValue], Field(max_length=aws_limit("sagemaker.EnvironmentMap", "max"))
    ] = Field(default_factory=dict)
    """Container environment variables (never secrets); numbers and booleans are sent as strings."""
    execution_role_arn: (
        Annotated[
            Text,
            Field(
                min_length=aws_limit("sagemaker.RoleArn", "min"),
                max_length=aws_limit("sagemaker.RoleArn", "max"),
            ),
            matches(
                aws_shape("sagemaker.RoleArn")["pattern"],
                "an IAM role ARN like arn:aws:iam::123456789012:role/NAME",
            ),
        ]
        | None
    ) = None
    """SageMaker execution role for this model (default: one the program creates)."""
    vpc: VpcConfig | None = None
    """VPC subnets and security groups the model container runs in."""
    network_isolation: Bool = False
    """No network access from the container (needs model_data_url or a self-contained image)."""


class ScalingMetricConfig(ConfigModel):
    """A CloudWatch metric to track instead of (or beside) invocations per instance."""

    namespace: str
    """CloudWatch namespace of the metric."""
    metric: str
    """CloudWatch metric name."""
    statistic: Literal["Average", "Minimum", "Maximum", "SampleCount", "Sum"] = "Average"
    """Statistic tracked."""
    target: Annotated[Number, Field(gt=0)]
    """Target value, in the metric's unit."""
    dimensions: dict[str, str] | None = None  # default: EndpointName + VariantName
    """Metric dimensions (default: EndpointName and VariantName of this variant)."""


class AutoscalingConfig(ConfigModel):
    """Target tracking of one variant's instance count (Application Auto Scaling)."""

    min_capacity: Annotated[Int, Field(ge=1)] = 1
    """Fewest instances."""
    max_capacity: Annotated[Int, Field(ge=1)]
    """Most instances (at least instance_count)."""
    target_invocations_per_instance: Annotated[Number, Field(gt=0)] | None = None
    """Target of SageMakerVariantInvocationsPerInstance (requests per instance per minute)."""
    custom_metric: ScalingMetricConfig | None = None
    """A CloudWatch metric to track instead of (or beside) invocations per instance."""
    scale_in_cooldown_seconds: Annotated[Int, Field(ge=0)] = 300
    """Seconds after a scale-in before the next one."""
    scale_out_cooldown_seconds: Annotated[Int, Field(ge=0)] = 60
    """Seconds after a scale-out before the next one."""


class VariantConfig(ConfigModel):
    """One production variant: a model on a fleet of instances."""

    name: Name
    """The variant's name (SageMaker VariantName); strategies refer to variants by it."""
    model: Text
    """Key of the model (under models) this variant serves."""
    instance_type: Text
    """SageMaker hosting instance type, e.g. ml.m5.large."""
    instance_count: Annotated[Int, Field(ge=aws_limit("sagemaker.InitialTaskCount", "min"))] = 1
    """Instances in the variant's fleet."""
    autoscaling: AutoscalingConfig | None = None
    """Target tracking of the instance count (Application Auto Scaling)."""


class StandardAlarm(ConfigModel):
    enabled: Bool = True
    """Declare this alarm."""
    threshold: Annotated[Number, Field(ge=0)]
    """The alarm fires above this value (unit: see the alarm)."""
    period_seconds: Period = 60
    """Seconds per datapoint (10, 20, 30 or a multiple of 60)."""
    evaluation_periods: Annotated[Int, Field(ge=1)] = 2
    """Datapoints the alarm looks at."""
    datapoints_to_alarm: Annotated[Int, Field(ge=1)] | None = None
    """Breaching datapoints out of evaluation_periods that fire it (default: all)."""
    treat_missing_data: TreatMissing = "notBreaching"
    """How missing datapoints count."""


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


class RelativeErrorRate(ConfigModel):
    """Candidate 5xx rate minus the stable variant's, in percentage points, per period."""

    enabled: Bool = True
    """Declare this gate."""
    threshold: Annotated[Number, Field(gt=0, le=100)] = 1.0
    """Percentage points the candidate's 5xx rate may exceed the stable's (0..100)."""
    # Periods where the candidate served fewer invocations read 0 (too few to judge a rate).
    min_invocations: Annotated[Int, Field(ge=1)] = 50
    """Periods where the candidate served fewer invocations read 0 (too few to judge)."""
    period_seconds: Period = 60
    """Seconds per datapoint (10, 20, 30 or a multiple of 60)."""
    evaluation_periods: Annotated[Int, Field(ge=1)] = 3
    """Datapoints the alarm looks at."""
    datapoints_to_alarm: Annotated[Int, Field(ge=1)] | None = None
    """Breaching datapoints out of evaluation_periods that fire it (default: all)."""
    treat_missing_data: TreatMissing = "notBreaching"
    """How missing datapoints count."""


class RelativeLatency(ConfigModel):
    """Candidate p99 ModelLatency divided by the stable variant's, per period."""

    enabled: Bool = True
    """Declare this gate."""
    threshold: Annotated[Number, Field(gt=1)] = 1.5
    """Largest candidate/stable p99 latency ratio (> 1)."""
    min_invocations: Annotated[Int, Field(ge=1)] = 50
    """Periods where the candidate served fewer invocations read 0 (too few to judge)."""
    period_seconds: Period = 60
    """Seconds per datapoint (10, 20, 30 or a multiple of 60)."""
    evaluation_periods: Annotated[Int, Field(ge=1)] = 3
    """Datapoints the alarm looks at."""
    datapoints_to_alarm: Annotated[Int, Field(ge=1)] | None = None
    """Breaching datapoints out of evaluation_periods that fire it (default: all)."""
    treat_missing_data: TreatMissing = "notBreaching"
    """How missing datapoints count."""


class RelativeGatesConfig(ConfigModel):
    """`strategy.canary.relative_gates`: metric-math gate alarms on the candidate relative to the
    stable variant; `{}` turns both on with their defaults."""

    error_rate: RelativeErrorRate = Field(default_factory=RelativeErrorRate)
    """Candidate 5xx rate minus the stable's, in percentage points."""
    latency_p99: RelativeLatency = Field(default_factory=RelativeLatency)
    """Candidate p99 latency divided by the stable's."""


class CustomAlarm(ConfigModel):
    key: Annotated[
        Text,
        matches(r"[A-Za-z0-9_.-]{1,64}", "1..64 letters, digits, _ . or -"),
    ]
    """The alarm's key (part of its name), unique on the endpoint."""
    namespace: Annotated[
        Text,
        aws_length("cloudwatch.Namespace"),
        matches(aws_shape("cloudwatch.Namespace")["pattern"], "a namespace not starting with ':'"),
    ]
    """CloudWatch namespace of the metric."""
    metric: Annotated[Text, aws_length("cloudwatch.MetricName")]
    """CloudWatch metric name."""
    statistic: Text = "Average"
    """A statistic (Average, Sum, ...) or an extended one (p99, tm90, ...)."""
    threshold: Number
    """Compared with the statistic, in the metric's unit."""
    comparison: Literal[
        "GreaterThanOrEqualToThreshold",
        "GreaterThanThreshold",
        "LessThanThreshold",
        "LessThanOrEqualToThreshold",
    ] = "GreaterThanThreshold"
    """How the statistic is compared with the threshold."""
    period_seconds: Period = 60
    """Seconds per datapoint (10, 20, 30 or a multiple of 60)."""
    evaluation_periods: Annotated[Int, Field(ge=1)] = 1
    """Datapoints the alarm looks at."""
    datapoints_to_alarm: Annotated[Int, Field(ge=1)] | None = None
    """Breaching datapoints out of evaluation_periods that fire it (default: all)."""
    treat_missing_data: TreatMissing = "missing"
    """How missing datapoints count."""
    dimensions: (
        Annotated[
            dict[
                Annotated[str, aws_length("cloudwatch.DimensionName")],
                Annotated[MapValue, aws_length("cloudwatch.DimensionValue")],
            ],
            Field(max_length=aws_limit("cloudwatch.Dimensions", "max")),
        ]
        | None
    ) = None
    """Metric dimensions (default: EndpointName, plus VariantName with variant)."""
    variant: Text | None = None
    """Watch this variant only (default: the endpoint)."""
    gate: Bool = True
    """The alarm gates the rollout (hold, roll back); false: it only notifies."""


# What each standard alarm watches (AWS/SageMaker metrics per variant) and the unit of its threshold.
_STANDARD_ALARM_WATCHES = {
    "errors_5xx": "Invocation5XXErrors (Sum per period): threshold is a count of 5xx answers",
    "latency_p99": "ModelLatency p99: threshold is in milliseconds (the metric is in microseconds)",
    "errors_4xx": "Invocation4XXErrors (Sum per period): threshold is a count of 4xx answers",
}


class _StandardAlarmSchema:
    """The JSON Schema of one standard alarm block with its own defaults: every key optional
    (a block is laid over the defaults), `threshold` included. Made when a JSON Schema is asked
    for (as `WithJsonSchema` would give it), not when the config model is imported."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __get_pydantic_json_schema__(
        self, core: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = StandardAlarm.model_json_schema(mode="validation")
        schema.pop("required", None)
        props = cast(dict[str, dict[str, Any]], schema["properties"])
        for name, value in STANDARD_ALARM_DEFAULTS[self.key].items():
            props[name]["default"] = value
        on = STANDARD_ALARM_DEFAULTS[self.key].get("enabled", True)
        schema["title"] = self.key
        schema["description"] = (
            f"{_STANDARD_ALARM_WATCHES[self.key]}. {'On' if on else 'Off'} by default; a block "
            "given here is laid over the defaults key by key."
        )
        return schema


def _standard_alarm_schema(key: str) -> _StandardAlarmSchema:
    return _StandardAlarmSchema(key)


class AlarmsConfig(ConfigModel):
    """Per-variant alarms on AWS/SageMaker metrics (EndpointName + VariantName), plus custom ones.

    `latency_p99.threshold` is in milliseconds (ModelLatency itself is in microseconds).
    """

    errors_5xx: Annotated[
        StandardAlarm, _over_defaults("errors_5xx"), _standard_alarm_schema("errors_5xx")
    ] = Field(default_factory=_errors5xx)
    """5xx answers per variant (Invocation5XXErrors): on by default, threshold 1 per period."""
    latency_p99: Annotated[
        StandardAlarm, _over_defaults("latency_p99"), _standard_alarm_schema("latency_p99")
    ] = Field(default_factory=_latency)
    """p99 model latency per variant in milliseconds: on by default, threshold 1000 ms over 3 periods."""
    errors_4xx: Annotated[
        StandardAlarm, _over_defaults("errors_4xx"), _standard_alarm_schema("errors_4xx")
    ] = Field(default_factory=_errors4xx)
    """4xx answers per variant (Invocation4XXErrors): off by default (threshold 50); set enabled: true."""
    custom: list[CustomAlarm] = Field(default_factory=list[CustomAlarm])
    """Your own CloudWatch alarms; with gate: true they gate the rollout like the standard ones."""
    # Standard alarms off by default whose block the stack gave without `enabled` (see
    # `config_warnings`: such a block declares no alarm).
    _left_off: frozenset[str] = PrivateAttr(default=frozenset())

    @model_validator(mode="wrap")
    @classmethod
    def _remember_blocks_left_off(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        made = handler(data)
        if isinstance(made, AlarmsConfig) and isinstance(data, Mapping):
            given = cast(Mapping[str, Any], data)
            made._left_off = frozenset(
                k
                for k, defaults in STANDARD_ALARM_DEFAULTS.items()
                if defaults.get("enabled", True) is False
                and isinstance(given.get(k), Mapping)
                and "enabled" not in cast(Mapping[str, Any], given[k])
            )
        return made

    @property
    def left_off(self) -> frozenset[str]:
        """Standard alarms, off by default, given as a block without `enabled`: still off."""
        return self._left_off


class DataCaptureConfig(ConfigModel):
    enabled: Bool = True
    """Capture requests and answers."""
    sampling_percent: Annotated[
        Int,
        Field(
            ge=aws_limit("sagemaker.SamplingPercentage", "min"),
            le=aws_limit("sagemaker.SamplingPercentage", "max"),
        ),
    ] = 100
    """Percent of requests captured (0..100)."""
    destination_prefix: (
        Annotated[Text, matches(r"[A-Za-z0-9!_.*'()/-]*", "an S3 key prefix")] | None
    ) = None
    """Key prefix in the stack's capture bucket (default: the endpoint's name)."""
    destination_s3_uri: (
        Annotated[
            Text,
            Field(max_length=aws_limit("sagemaker.DestinationS3Uri", "max")),
            matches(r"s3://[^/]+(/.*)?", "an s3://BUCKET/PREFIX URI"),
        ]
        | None
    ) = None
    """Capture to your own bucket instead (s3://BUCKET/PREFIX)."""
    kms: Bool = True
    """Encrypt captures with the stack key."""
    # Captured objects under this endpoint's prefix expire after this many days (S3 lifecycle).
    retention_days: Annotated[Int, Field(ge=1)] = 30
    """Days captured objects are kept (S3 lifecycle)."""
    # `pulumi destroy`: keep the capture bucket and its data (retain) or empty and delete it.
    on_destroy: Literal["retain", "delete"] = "retain"
    """At `pulumi destroy`: retain the capture bucket and its data, or delete them."""


class HookConfig(ConfigModel):
    """The canary hook Lambda. `reserved_concurrency`: 1 (one decision at a time), or None to rely
    on the state table's conditional writes alone. Lambda refuses a reservation that would leave
    the account's unreserved concurrency under its minimum ("You can reserve up to the Unreserved
    account concurrency value ... minus 100", Lambda Developer Guide, configuration-concurrency;
    new accounts have reduced concurrency quotas, Lambda quotas), so on a young account the
    reservation fails with InvalidParameterValueException."""

    reserved_concurrency: Annotated[Int, Field(ge=1)] | None = 1
    """Reserved concurrency of the hook Lambda (1: one decision at a time; null: none)."""


def volume_kms_word(value: Any) -> Any:
    # go-yaml v2 reads unquoted on/off/yes/no as booleans: `volume_kms: off` means "off".
    if isinstance(value, bool):
        return "on" if value else "off"
    return value


class DriftFeatureConfig(ConfigModel):
    """A feature of the captured requests (`source: input`) or answers (`output`: prediction
    drift). `json_path` reads JSON bodies, `csv_column` (0-based) CSV bodies; both may be set when
    the endpoint receives either."""

    name: Annotated[
        Text,
        Field(json_schema_extra={"pattern": r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"}),
        matches(
            r"[A-Za-z_][A-Za-z0-9_]{0,62}", "1..63 letters, digits or _, not starting with a digit"
        ),
    ]
    """The feature's name, as in the baseline."""
    source: Literal["input", "output"] = "input"
    """input: from captured requests; output: from answers (prediction drift)."""
    json_path: (
        Annotated[
            Text,
            matches(r"\$(\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*", "a JSON path like $.features[0]"),
        ]
        | None
    ) = None
    """Where the feature is in a JSON body ($.features[0])."""
    csv_column: Annotated[Int, Field(ge=0, le=10000)] | None = None
    """0-based column in a CSV body."""


class DriftConfig(ConfigModel):
    """The scheduled drift job: PSI per feature (bins for numbers, shares for categories) against a
    baseline file made by `rollout baseline`, published to CloudWatch, with one alarm per feature.
    `gate: true` makes a canary's drift alarms gate alarms (hold; roll back past the limit)."""

    baseline: Annotated[Text, Field(min_length=1)]
    """Path of the baseline file made by `rollout baseline`."""
    features: list[DriftFeatureConfig] = Field(min_length=1, max_length=20)
    """The features to watch (1..20)."""
    variant: Text | None = None  # default: the canary candidate, the shadow, or the first variant
    """Variant whose captures are read (default: the canary candidate, the shadow, or the first variant)."""
    sample_size: Annotated[Int, Field(ge=100, le=10000)] = 1000
    """Captured records read per run."""
    lookback_hours: Annotated[Int, Field(ge=1, le=48)] = 1
    """Hours of captures each run reads."""
    every_minutes: Annotated[Int, Field(ge=1, le=1440)] = 15
    """Minutes between runs."""
    threshold: Annotated[Number, Field(gt=0)] = 0.2
    """PSI above which a feature's alarm fires."""
    evaluation_periods: Annotated[Int, Field(ge=1, le=24)] = 2
    """Runs over the threshold in a row before the alarm fires."""
    gate: Bool = False
    """A canary's drift alarms gate it (hold; roll back past the limit)."""


# KMS ScheduleKeyDeletion PendingWindowInDays: 7..30 (botocore kms model).
KmsDeletionWindow = Annotated[Int, Field(ge=7, le=30)]


class SubscriptionConfig(ConfigModel):
    """One subscriber of the rollout topic (SNS Subscribe: Protocol, Endpoint)."""

    protocol: Literal["email", "https", "sqs", "lambda"]
    """SNS protocol."""
    endpoint: str  # address, URL or ARN, as the protocol wants (checked in pass 2)
    """Address, URL or ARN, as the protocol wants."""


class ChatChannelConfig(ConfigModel):
    """A Slack channel or Microsoft Teams channel that AWS Chatbot posts the topic's messages to.

    The workspace (Slack) or team (Teams) must be authorized in the AWS Chatbot console once.
    """

    kind: Literal["slack", "teams"]
    """slack or teams."""
    channel_id: str
    """The channel's id."""
    workspace_id: str | None = None  # Slack workspace (team) id, T...
    """Slack workspace id (T...)."""
    team_id: str | None = None  # Teams team id (a GUID)
    """Teams team id (a GUID)."""
    tenant_id: str | None = None  # Teams tenant id (a GUID)
    """Teams tenant id (a GUID)."""


class NotificationsConfig(ConfigModel):
    """Who hears about rollbacks, completions, stuck rollouts, A/B winners and drift."""

    topic_arn: str | None = None  # bring your own topic instead of the stack's
    """Your own SNS topic instead of the stack's."""
    # SNS server-side encryption: publishers need kms:GenerateDataKey* and kms:Decrypt on the key
    # (SNS Developer Guide, "Encryption at rest").
    topic_kms_key_arn: (
        Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$")]
        | None
    ) = None
    """The KMS key your topic is encrypted with: the hook and the A/B evaluator get
    kms:GenerateDataKey* and kms:Decrypt on it. Only with `topic_arn`."""
    subscriptions: list[SubscriptionConfig] = Field(default_factory=list[SubscriptionConfig])
    """Subscribers of the topic."""
    chat_channels: list[ChatChannelConfig] = Field(default_factory=list[ChatChannelConfig])
    """Slack or Teams channels fed by AWS Chatbot."""


# IAM role names (CreateRole RoleName): `^[\w+=,.@-]{1,64}$`, as pydantic-core's regex engine reads
# it. Compiling that counted Unicode class costs the engine about 23 ms, in every process that
# imports the config model (every `rollout` command); the uncounted class takes about 1 ms. So
# the engine checks the characters and `_RoleNameLength` the count (1..64 characters), failing
# with the same error type, and the JSON Schema keeps the one pattern.
ROLE_NAME_PATTERN = r"^[\w+=,.@-]{1,64}$"
_ROLE_NAME_CHARS = r"^[\w+=,.@-]+$"


class _RoleNameLength:
    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    @staticmethod
    def check(value: str) -> str:
        if len(value) > 64:  # the characters passed `_ROLE_NAME_CHARS` (at least one of them)
            raise PydanticCustomError(
                "string_pattern_mismatch",
                "String should match pattern '{pattern}'",
                {"pattern": ROLE_NAME_PATTERN},
            )
        return value

    def __get_pydantic_json_schema__(
        self, core: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core)
        schema["pattern"] = ROLE_NAME_PATTERN
        return schema


class CiRoleConfig(ConfigModel):
    """The CI/CD pipeline's AWS roles, assumed with GitHub Actions' OIDC token (optional).

    The deploy role trusts only `refs` (jobs without an environment) and `environments` (jobs
    in a protected environment); pull requests never get it. With `preview_role`, a second,
    read-only role trusts the repository's pull requests (for `pulumi preview`).
    """

    github_repository: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")]
    """OWNER/REPO whose workflows may assume the roles."""
    refs: list[Annotated[str, Field(pattern=r"^refs/(heads|tags)/[^*?]+$")]] = Field(
        default_factory=lambda: ["refs/heads/main"]
    )
    """Git refs (refs/heads/..., refs/tags/..., no wildcards) whose jobs may assume the deploy role."""
    environments: list[Annotated[str, Field(pattern=r"^[^*?:]+$")]] = Field(
        default_factory=lambda: ["production", "staging"]
    )
    """GitHub environments whose jobs may assume the deploy role."""
    # GitHub's IAM OIDC provider is one per account (its ARN is fixed by the issuer URL): the
    # first stack declares it; another stack in the account sets `declare_oidc_provider: false`
    # (uses arn:<partition>:iam::<account>:oidc-provider/token.actions.githubusercontent.com)
    # or names one with `oidc_provider_arn`.
    oidc_provider_arn: str | None = None
    """An existing IAM OIDC provider for token.actions.githubusercontent.com to use."""
    declare_oidc_provider: Bool = True
    """Declare GitHub's OIDC provider (one per account: false in every stack but one)."""
    # Default `<project>-<stack>-deploy` / `<project>-<stack>-preview`: one pair per stack.
    role_name: Annotated[str, Field(pattern=_ROLE_NAME_CHARS), _RoleNameLength()] | None = None
    """The deploy role's name (default: <project>-<stack>-deploy)."""
    preview_role: Bool = True
    """Also declare a read-only role for pull requests (pulumi preview)."""
