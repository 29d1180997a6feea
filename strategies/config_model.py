"""The root of the stack config model: one endpoint (`EndpointConfig`), its strategy, the stack.

A strategy's own shape lives in its module (`canary.CanaryConfig`, ...); the shapes every strategy
shares in `config_shapes`; value types in `config_values`. `StackKeys` is the JSON Schema's root
(`rollout schema`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, ConfigDict, Field, WithJsonSchema

from sagemaker_rollouts.strategies.ab import AbConfig
from sagemaker_rollouts.strategies.blue_green import BlueGreenConfig
from sagemaker_rollouts.strategies.canary import CanaryConfig
from sagemaker_rollouts.strategies.config_shapes import (
    AlarmsConfig,
    CiRoleConfig,
    DataCaptureConfig,
    DriftConfig,
    HookConfig,
    KmsDeletionWindow,
    ModelConfig,
    NotificationsConfig,
    VariantConfig,
    volume_kms_word,
)
from sagemaker_rollouts.strategies.config_values import (
    Bool,
    ConfigModel,
    EndpointName,
    Tags,
    Text,
    aws_limit,
)
from sagemaker_rollouts.strategies.recreate import RecreateConfig
from sagemaker_rollouts.strategies.rolling import RollingConfig
from sagemaker_rollouts.strategies.shadow import ShadowConfig

PROJECT = "sagemaker-rollouts"
STRATEGY_KEYS = ("recreate", "shadow", "canary", "ab", "blue_green", "rolling")


class StrategyConfig(ConfigModel):
    """Exactly one strategy, as a key: `strategy: {canary: {...}}` (checked in pass 2)."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "maxProperties": 1})

    recreate: RecreateConfig | None = None
    """Delete the endpoint, then create the new one: downtime, no extra cost."""
    shadow: ShadowConfig | None = None
    """The new model gets a copy of live traffic; only the production variant answers."""
    canary: CanaryConfig | None = None
    """A share of live traffic goes to the candidate in steps while alarms are quiet; the hook rolls back at once when one fires."""
    ab: AbConfig | None = None
    """Several variants at fixed weights; an evaluator picks a winner from their metrics."""
    blue_green: BlueGreenConfig | None = None
    """SageMaker's deployment guardrails: a green fleet beside blue, traffic shifted all at once, as a canary or linearly."""
    rolling: RollingConfig | None = None
    """SageMaker replaces the fleet batch by batch (fleets too large to double)."""

    @property
    def chosen(self) -> list[str]:
        return [k for k in STRATEGY_KEYS if getattr(self, k, None) is not None]

    @property
    def name(self) -> str:
        return self.chosen[0]


class EndpointConfig(ConfigModel):
    endpoint_name: EndpointName | None = None
    """The SageMaker endpoint's name (default: the endpoint's key)."""
    models: dict[Text, ModelConfig] = Field(min_length=1)
    """The models the variants serve, by key (the key is part of the SageMaker model name)."""
    variants: list[VariantConfig] = Field(
        min_length=1, max_length=aws_limit("sagemaker.ProductionVariantList", "max")
    )
    """The production variants: each a model on a fleet of instances."""
    strategy: StrategyConfig
    """How a new model reaches traffic: exactly one of recreate, shadow, canary, ab, blue_green, rolling."""
    alarms: AlarmsConfig = Field(default_factory=AlarmsConfig)
    """CloudWatch alarms per variant (standard ones on AWS/SageMaker metrics) and custom alarms."""
    data_capture: DataCaptureConfig | None = None
    """Capture requests and answers to S3 (default: on for shadow, off otherwise)."""
    volume_kms: Annotated[
        Literal["auto", "on", "off"],
        BeforeValidator(volume_kms_word),
        WithJsonSchema({"anyOf": [{"enum": ["auto", "on", "off"]}, {"type": "boolean"}]}),
    ] = "auto"
    """Encrypt the ML storage volume with the stack key: auto (when the instance type allows it), on or off."""
    tags: Tags = Field(default_factory=dict)
    """Tags on this endpoint's resources, over the stack's tags."""
    hook: HookConfig = Field(default_factory=HookConfig)
    """The canary hook Lambda's settings."""
    # Take over an existing endpoint of this name (Pulumi `import_`) instead of creating one.
    adopt: Bool = False
    """Take over an existing endpoint of this name (Pulumi import) instead of creating one."""
    drift: DriftConfig | None = None
    """A scheduled drift job comparing captured requests with a baseline, with one alarm per feature."""


class StackConfig(ConfigModel):
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


class StackKeys(ConfigModel):
    """The project's top-level config keys (`sagemaker-rollouts:<key>`): the JSON Schema's root."""

    endpoints: dict[str, EndpointConfig] = Field(min_length=1)
    """The endpoints this stack deploys, by key; the key is the endpoint's name unless endpoint_name is set."""
    tags: Tags = Field(default_factory=dict)
    """Tags on every resource of the stack (SageMaker TagList: at most 50 with the program's own 4)."""
    kms_deletion_window_days: KmsDeletionWindow = 30
    """Days the stack's KMS key waits before deletion after `pulumi destroy` (KMS: 7..30)."""
    notifications: NotificationsConfig | None = None
    """Who hears about rollbacks, completions, stuck rollouts, A/B winners and drift."""
    ci_role: CiRoleConfig | None = None
    """An AWS role for the CI/CD pipeline, assumed with GitHub Actions' OIDC token (optional)."""


TOP_LEVEL_KEYS = tuple(StackKeys.model_fields)
