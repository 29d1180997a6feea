"""The deployment plan: what a stack will declare, as frozen data.

`strategies.<name>.plan(...)` builds these; `infra/` renders them with pulumi_aws; the CLI prints and
draws them. Nothing here imports pulumi or boto3. Percentages and weights are integers; `weight()`
is the one function that turns a plan weight into a SageMaker variant weight.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, assert_never

if TYPE_CHECKING:  # evidence modules: imported only by stacks (and CLI commands) that use them
    from sagemaker_rollouts.lambdas.ab_winner import EvaluatorSpec
    from sagemaker_rollouts.lambdas.drift import DriftPlan
    from sagemaker_rollouts.lambdas.rollout import RolloutSpec
    from sagemaker_rollouts.strategies.shadow_compare import GlueTable, ShadowReportPlan

if TYPE_CHECKING:
    from sagemaker_rollouts.strategies.relative_gates import RelativeAlarmPlan

StrategyName = Literal["recreate", "shadow", "canary", "ab", "blue_green", "rolling"]
TreatMissingData = Literal["breaching", "notBreaching", "ignore", "missing"]
Comparison = Literal[
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
]
CapacityType = Literal["INSTANCE_COUNT", "CAPACITY_PERCENT"]
RoutingType = Literal["ALL_AT_ONCE", "CANARY", "LINEAR"]
RollbackSpeed = Literal["instant", "fast", "slow", "redeploy"]


def weight(value: int) -> float:
    """A plan weight (integer, 0 legal) as a SageMaker `initial_variant_weight`. Never `or`-defaulted."""
    return float(value)


@dataclass(frozen=True, slots=True)
class VpcPlan:
    security_group_ids: tuple[str, ...]
    subnets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ModelPlan:
    """One SageMaker model. `execution_role_arn` None means the stack creates a scoped role."""

    key: str
    image: str
    model_data_url: str | None
    environment: tuple[tuple[str, str], ...]
    execution_role_arn: str | None
    vpc: VpcPlan | None
    network_isolation: bool
    fingerprint: str
    # False: model_data_url is uncompressed model data (one object, or a prefix ending in "/"),
    # declared as ModelDataSource with CompressionType None instead of ModelDataUrl.
    model_data_compressed: bool = True


@dataclass(frozen=True, slots=True)
class ScalingMetricPlan:
    """A customized metric for target tracking (CloudWatch namespace, name, statistic, target)."""

    namespace: str
    metric: str
    statistic: str
    target: float
    dimensions: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class AutoscalingPlan:
    """Application Auto Scaling of one variant's instance count (`DesiredInstanceCount`).

    Invariant: 1 <= min_capacity <= max_capacity. Target tracking on
    `SageMakerVariantInvocationsPerInstance` when `invocations_per_instance` is set, and/or on
    `custom` (one policy each). Cooldowns in seconds.
    """

    min_capacity: int
    max_capacity: int
    invocations_per_instance: float | None
    custom: ScalingMetricPlan | None
    scale_in_cooldown_seconds: int
    scale_out_cooldown_seconds: int
    follows_share: bool = False  # a canary candidate: its minimum follows its traffic share


@dataclass(frozen=True, slots=True)
class VariantPlan:
    """A production or shadow variant. `weight` 0 is a dark variant and is kept as 0."""

    name: str
    model: str
    instance_type: str
    instance_count: int
    weight: int
    autoscaling: AutoscalingPlan | None = None


# The tags on every alarm an `AlarmPlan` declares: its role in the rollout, "gate" (stops it) or
# "watch", and its key (`candidate.errors_5xx`). `rollout status|history --endpoint NAME` read
# them back. The endpoint's `alarms` and each of its Lambda functions' errors alarms
# (`function_alarms.py`, watch) carry them; rollback and relative-gate alarms, which those
# commands do not list, carry none.
ALARM_ROLE_TAG = "rollouts:alarm-role"
ALARM_KEY_TAG = "rollouts:alarm-key"


def alarm_tags(alarm: AlarmPlan) -> dict[str, str]:
    """`ALARM_ROLE_TAG` and `ALARM_KEY_TAG` of `alarm`."""
    return {ALARM_ROLE_TAG: "gate" if alarm.gate else "watch", ALARM_KEY_TAG: alarm.key}


@dataclass(frozen=True, slots=True)
class AlarmPlan:
    """A CloudWatch alarm. Per-variant alarms carry EndpointName and VariantName dimensions.

    `gate` alarms stop a rollout: canary hook gates, blue/green and rolling auto-rollback alarms.
    Exactly one of `statistic` and `extended_statistic` is set.
    """

    key: str
    name: str
    namespace: str
    metric: str
    statistic: str | None
    extended_statistic: str | None
    threshold: float
    comparison: Comparison
    period_seconds: int
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing_data: TreatMissingData
    dimensions: tuple[tuple[str, str], ...]
    variant: str | None
    gate: bool
    description: str


@dataclass(frozen=True, slots=True)
class DataCapturePlan:
    """Request/response capture into the stack's capture bucket (or a given S3 URI)."""

    sampling_percent: int
    destination_prefix: str
    destination_s3_uri: str | None
    kms: bool
    capture_input: bool = True
    capture_output: bool = True
    retention_days: int = 30  # current captures under the prefix expire after this many days
    on_destroy: Literal["retain", "delete"] = "retain"  # the capture bucket on `pulumi destroy`


@dataclass(frozen=True, slots=True)
class CapacitySize:
    type: CapacityType
    value: int


@dataclass(frozen=True, slots=True)
class BlueGreenPlan:
    """SageMaker-native blue/green: `deployment_config.blue_green_update_policy`."""

    routing: RoutingType
    wait_seconds: int
    canary_size: CapacitySize | None
    linear_step: CapacitySize | None
    termination_wait_seconds: int
    max_execution_timeout_seconds: int | None
    attempt: int = 1  # raised to deploy again after a SageMaker rollback


@dataclass(frozen=True, slots=True)
class RollingPlan:
    """SageMaker-native rolling update: `deployment_config.rolling_update_policy`."""

    maximum_batch_size: CapacitySize
    wait_seconds: int
    rollback_maximum_batch_size: CapacitySize | None
    max_execution_timeout_seconds: int | None
    attempt: int = 1  # raised to deploy again after a SageMaker rollback


@dataclass(frozen=True, slots=True)
class Profile:
    """How a strategy behaves for this stack: the comparison a team uses to choose one."""

    downtime: bool
    rollback_speed: RollbackSpeed
    rollback_note: str
    live_traffic_test: bool
    extra_instances: int
    time_to_full_seconds: int | None  # None: never shifts all traffic by itself (shadow, A/B)
    extra_instance_hours: float | None  # None: for as long as the setup runs (shadow, A/B)


@dataclass(frozen=True, slots=True)
class RecreatePlan:
    """Recreate: the endpoint is deleted before its replacement is created (downtime)."""


@dataclass(frozen=True, slots=True)
class ShadowPlan:
    """Shadow: the shadow variant gets a copy of production traffic; `report` says what
    `rollout shadow-report` compares (and the Glue table to declare, with `athena`)."""

    report: ShadowReportPlan


@dataclass(frozen=True, slots=True)
class CanaryPlan:
    """Canary: the hook Lambda steps the candidate's weight through `rollout.steps`.

    `relative_alarms`: metric-math gates on the candidate relative to the stable variant.
    `hook_reserved_concurrency`: the hook's reserved concurrency; None: unreserved (conditional
    writes only).
    """

    rollout: RolloutSpec
    relative_alarms: tuple[RelativeAlarmPlan, ...] = ()
    hook_reserved_concurrency: int | None = 1


@dataclass(frozen=True, slots=True)
class ABPlan:
    """A/B: fixed weights; `evaluator` None when `successes` is not configured (none declared)."""

    evaluator: EvaluatorSpec | None = None


# What only one strategy has: exactly one of these per endpoint, handled with `match` and
# `assert_never`, so pyright names every place a new strategy must be handled. Evidence that
# applies across strategies (drift, alarms, data capture) stays on `EndpointPlan`.
StrategyPlan = RecreatePlan | ShadowPlan | CanaryPlan | ABPlan | BlueGreenPlan | RollingPlan


def strategy_name(plan: StrategyPlan) -> StrategyName:
    """The config's name of a strategy plan (`strategy.<name>` in a stack file)."""
    match plan:
        case RecreatePlan():
            return "recreate"
        case ShadowPlan():
            return "shadow"
        case CanaryPlan():
            return "canary"
        case ABPlan():
            return "ab"
        case BlueGreenPlan():
            return "blue_green"
        case RollingPlan():
            return "rolling"
        case _:
            assert_never(plan)


@dataclass(frozen=True, slots=True)
class EndpointPlan:
    """One endpoint: what every strategy declares, and `strategy_plan`, what only its own does."""

    key: str
    endpoint_name: str
    strategy_plan: StrategyPlan
    models: tuple[ModelPlan, ...]
    production_variants: tuple[VariantPlan, ...]
    shadow_variants: tuple[VariantPlan, ...]
    alarms: tuple[AlarmPlan, ...]
    data_capture: DataCapturePlan | None
    endpoint_kms: bool  # encrypt the endpoint's ML storage volume with the stack key
    profile: Profile
    tags: tuple[tuple[str, str], ...]
    timeline: tuple[tuple[int, int], ...] = field(default=())  # (seconds, candidate %) points
    # Import the existing endpoint `endpoint_name` (leaving its config alone) instead of creating.
    adopt: bool = False
    # Tags on the endpoint only (not its models or config): what the next `up` reads back.
    endpoint_tags: tuple[tuple[str, str], ...] = ()
    drift: DriftPlan | None = None  # the endpoint's `drift` job

    @property
    def strategy(self) -> StrategyName:
        return strategy_name(self.strategy_plan)

    @property
    def uses_state_table(self) -> bool:
        """True when a Lambda of this strategy keeps its state and history in the stack's state
        table and notifies on its topic: the canary hook, the A/B evaluator (with `successes`)."""
        match self.strategy_plan:
            case CanaryPlan():
                return True
            case ABPlan(evaluator=evaluator):
                return evaluator is not None
            case RecreatePlan() | ShadowPlan() | BlueGreenPlan() | RollingPlan():
                return False
            case _:
                assert_never(self.strategy_plan)

    @property
    def glue_table(self) -> GlueTable | None:
        """The Glue table `rollout shadow-report --engine athena` reads (shadow with `athena`)."""
        match self.strategy_plan:
            case ShadowPlan(report=report):
                return report.glue
            case RecreatePlan() | CanaryPlan() | ABPlan() | BlueGreenPlan() | RollingPlan():
                return None
            case _:
                assert_never(self.strategy_plan)

    def model(self, key: str) -> ModelPlan:
        for m in self.models:
            if m.key == key:
                return m
        raise KeyError(key)

    @property
    def gate_alarms(self) -> tuple[AlarmPlan, ...]:
        return tuple(a for a in self.alarms if a.gate)


@dataclass(frozen=True, slots=True)
class SubscriptionPlan:
    """An SNS subscriber: protocol email | https | sqs | lambda, and its address/URL/ARN."""

    protocol: str
    endpoint: str


@dataclass(frozen=True, slots=True)
class ChatChannelPlan:
    """A Slack (workspace_id) or Teams (team_id + tenant_id) channel fed by AWS Chatbot."""

    kind: str
    channel_id: str
    workspace_id: str | None = None
    team_id: str | None = None
    tenant_id: str | None = None


@dataclass(frozen=True, slots=True)
class NotificationsPlan:
    """Subscribers of the rollout topic; `topic_arn` set: the user's own topic, none created."""

    topic_arn: str | None
    subscriptions: tuple[SubscriptionPlan, ...]
    chat_channels: tuple[ChatChannelPlan, ...]
    topic_kms_key_arn: str | None = None  # the key a brought topic is encrypted with


@dataclass(frozen=True, slots=True)
class CiRolePlan:
    """The optional CI/CD role: GitHub repository, refs and environments it trusts."""

    github_repository: str
    refs: tuple[str, ...]
    environments: tuple[str, ...]
    oidc_provider_arn: str | None  # None: declare it (or use the account's, see below)
    role_name: str  # the deploy role
    preview_role_name: str | None = None  # the pull requests' read-only role, when wanted
    declare_oidc_provider: bool = True


@dataclass(frozen=True, slots=True)
class DeploymentPlan:
    project: str
    stack: str
    region: str
    endpoints: tuple[EndpointPlan, ...]
    tags: tuple[tuple[str, str], ...]
    needs_capture_bucket: bool
    needs_kms_key: bool
    state_table_name: str | None  # set when any endpoint runs a canary
    topic_name: str | None = None  # rollout notifications; with the state table or subscribers
    notifications: NotificationsPlan | None = None
    ci_role: CiRolePlan | None = None
    kms_deletion_window_days: int = 30  # 7..30: the stack key's wait before deletion
    # The capture bucket: (prefix, days) expiry rules, and what `pulumi destroy` does with it.
    capture_retention: tuple[tuple[str, int], ...] = ()
    capture_on_destroy: Literal["retain", "delete"] = "retain"
    # How the endpoints were declared: "stack" (a stack file, the project's own program) or
    # "component" (`RolloutEndpoint` in a user's program): decides how the operator commands in
    # notifications address an endpoint (`operator_args`).
    origin: Literal["stack", "component"] = "stack"

    def operator_args(self, ep: EndpointPlan) -> str:
        """The `rollout` arguments that address `ep` once deployed (`notify.target_args`):
        `--stack S --endpoint E` for a stack file, `--endpoint E --region R` for a component."""
        from sagemaker_rollouts.lambdas.notify import target_args

        return target_args(
            origin=self.origin, stack=self.stack, endpoint_name=ep.endpoint_name, region=self.region
        )

    def endpoint(self, key: str) -> EndpointPlan:
        for e in self.endpoints:
            if e.key == key:
                return e
        raise KeyError(key)
