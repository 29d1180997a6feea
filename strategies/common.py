"""Pieces every strategy's plan shares: models, variants, alarms, data capture, encryption, tags."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sagemaker_rollouts.lambdas.rollout import fingerprint
from sagemaker_rollouts.strategies import autoscaling
from sagemaker_rollouts.strategies.config_values import STANDARD_STATISTICS, has_local_nvme
from sagemaker_rollouts.strategies.plan import (
    AlarmPlan,
    DataCapturePlan,
    ModelPlan,
    TreatMissingData,
    VariantPlan,
    VpcPlan,
)

if TYPE_CHECKING:
    # Annotations only: the config model imports the strategy modules, which import this one.
    from sagemaker_rollouts.strategies.config_model import EndpointConfig, StackConfig
    from sagemaker_rollouts.strategies.config_shapes import (
        CustomAlarm,
        StandardAlarm,
        VariantConfig,
    )

SAGEMAKER_NS = "AWS/SageMaker"


@dataclass(frozen=True, slots=True)
class Context:
    """One endpoint's config with what every planner needs beside it."""

    key: str
    ep: EndpointConfig
    stack: StackConfig
    project: str
    stack_name: str

    @property
    def endpoint_name(self) -> str:
        return self.key if self.ep.endpoint_name is None else self.ep.endpoint_name

    @property
    def path(self) -> str:
        return f"endpoints.{self.key}"

    def variant(self, name: str) -> VariantConfig:
        return next(v for v in self.ep.variants if v.name == name)


def models(ctx: Context, variants: Iterable[VariantConfig]) -> tuple[ModelPlan, ...]:
    """The models the given variants serve, in config order; unused models are not declared."""
    used = {v.model for v in variants}
    out: list[ModelPlan] = []
    for mkey, m in ctx.ep.models.items():
        if mkey not in used:
            continue
        image = ctx.stack.image_of(ctx.key, mkey)
        env = tuple(sorted(m.environment.items()))
        out.append(
            ModelPlan(
                key=mkey,
                image=image,
                model_data_url=m.model_data_url,
                environment=env,
                execution_role_arn=m.execution_role_arn,
                vpc=None
                if m.vpc is None
                else VpcPlan(tuple(m.vpc.security_group_ids), tuple(m.vpc.subnets)),
                network_isolation=m.network_isolation,
                # the compression joins the fingerprint only when it is not the default, so
                # existing rollouts keep their ids
                fingerprint=fingerprint(image, m.model_data_url, env)
                if m.model_data_compression == "gzip"
                else fingerprint(image, m.model_data_url, env, "uncompressed"),
                model_data_compressed=m.model_data_compression == "gzip",
            )
        )
    return tuple(out)


def variant(
    v: VariantConfig, weight: int, *, count: int | None = None, endpoint_name: str = ""
) -> VariantPlan:
    return VariantPlan(
        name=v.name,
        model=v.model,
        instance_type=v.instance_type,
        instance_count=v.instance_count if count is None else count,
        weight=weight,
        autoscaling=autoscaling.plan_for(v.autoscaling, endpoint_name, v.name),
    )


_STANDARD = {
    # key: (metric, statistic, extended statistic, comparison, unit scale, name suffix)
    "errors_5xx": ("Invocation5XXErrors", "Sum", None, 1.0, "5xx"),
    "errors_4xx": ("Invocation4XXErrors", "Sum", None, 1.0, "4xx"),
    # ModelLatency is reported in microseconds; the config speaks milliseconds.
    "latency_p99": ("ModelLatency", None, "p99", 1000.0, "latency-p99"),
}


def _windows(a: StandardAlarm | CustomAlarm) -> tuple[int, int, int]:
    d = a.evaluation_periods if a.datapoints_to_alarm is None else a.datapoints_to_alarm
    return a.period_seconds, a.evaluation_periods, d


def variant_alarms(ctx: Context, variant_name: str, *, gate: bool) -> list[AlarmPlan]:
    """The standard per-variant alarms, dimensioned by EndpointName and VariantName."""
    out: list[AlarmPlan] = []
    for key, (metric, stat, ext, scale, suffix) in _STANDARD.items():
        cfg: StandardAlarm = getattr(ctx.ep.alarms, key)
        if not cfg.enabled:
            continue
        period, evals, dta = _windows(cfg)
        out.append(
            AlarmPlan(
                key=f"{variant_name}.{key}",
                name=f"{ctx.endpoint_name}-{variant_name}-{suffix}",
                namespace=SAGEMAKER_NS,
                metric=metric,
                statistic=stat,
                extended_statistic=ext,
                threshold=cfg.threshold * scale,
                comparison="GreaterThanThreshold",
                period_seconds=period,
                evaluation_periods=evals,
                datapoints_to_alarm=dta,
                treat_missing_data=cfg.treat_missing_data,
                dimensions=(("EndpointName", ctx.endpoint_name), ("VariantName", variant_name)),
                variant=variant_name,
                gate=gate,
                description=f"{metric} of variant {variant_name} on endpoint {ctx.endpoint_name} "
                f"({ctx.path}.alarms.{key})",
            )
        )
    return out


def drift_variant(ctx: Context, default: str) -> str:
    d = ctx.ep.drift
    return default if d is None or d.variant is None else d.variant


def drift_alarms(ctx: Context, default_variant: str, *, gates_allowed: bool) -> list[AlarmPlan]:
    """One alarm per drift feature (a gate when `drift.gate` and the strategy has gates), a
    warning on the maximum, and a warning on the job's health, on the metrics the drift job
    publishes (lambdas/drift.py).

    A job that cannot measure never reads as "no drift": the feature and maximum alarms treat
    missing data as missing, so they go INSUFFICIENT_DATA when the job stops publishing scores
    (a canary's gate then holds the bake, and rolls back past `insufficient_data_limit_seconds`,
    lambdas/controller.py), and the health alarm goes to ALARM when the job reports a failure
    or publishes nothing at all (missing data is breaching there)."""
    d = ctx.ep.drift
    if d is None:
        return []
    from sagemaker_rollouts.lambdas.drift import (
        FEATURE_METRIC,
        JOB_METRIC,
        MAX_METRIC,
        METRIC_NAMESPACE,
    )

    variant_name = drift_variant(ctx, default_variant)
    base = (("EndpointName", ctx.endpoint_name), ("VariantName", variant_name))
    period = d.every_minutes * 60
    out: list[AlarmPlan] = []
    rows: list[tuple[str, str, tuple[tuple[str, str], ...], bool, str, float, TreatMissingData]] = [
        *(
            (
                f"drift.{f.name}",
                FEATURE_METRIC,
                (*base, ("Feature", f.name)),
                gates_allowed and d.gate,
                f"drift of feature {f.name}",
                d.threshold,
                "missing",
            )
            for f in d.features
        ),
        ("drift.max", MAX_METRIC, base, False, "largest feature drift", d.threshold, "missing"),
        ("drift.job", JOB_METRIC, base, False, "drift job failures", 0.0, "breaching"),
    ]
    for key, metric, dims, gate, what, threshold, missing in rows:
        out.append(
            AlarmPlan(
                key=key,
                name=f"{ctx.endpoint_name}-{key.replace('.', '-')}",
                namespace=METRIC_NAMESPACE,
                metric=metric,
                statistic="Maximum",
                extended_statistic=None,
                threshold=threshold,
                comparison="GreaterThanThreshold",
                period_seconds=period,
                evaluation_periods=d.evaluation_periods,
                datapoints_to_alarm=d.evaluation_periods,
                treat_missing_data=missing,
                dimensions=dims,
                variant=variant_name,
                gate=gate,
                description=f"{what} of variant {variant_name} on {ctx.endpoint_name} "
                f"({ctx.path}.drift)",
            )
        )
    return out


def custom_alarms(ctx: Context, *, gates_allowed: bool) -> list[AlarmPlan]:
    out: list[AlarmPlan] = []
    for i, ca in enumerate(ctx.ep.alarms.custom):
        period, evals, dta = _windows(ca)
        if ca.dimensions is not None:
            dims = tuple(ca.dimensions.items())
        else:
            dims = (("EndpointName", ctx.endpoint_name),)
            if ca.variant is not None:
                dims += (("VariantName", ca.variant),)
        percentile = ca.statistic not in STANDARD_STATISTICS  # p99, tm90, IQM, ...
        out.append(
            AlarmPlan(
                key=ca.key,
                name=f"{ctx.endpoint_name}-{ca.key}",
                namespace=ca.namespace,
                metric=ca.metric,
                statistic=None if percentile else ca.statistic,
                extended_statistic=ca.statistic if percentile else None,
                threshold=ca.threshold,
                comparison=ca.comparison,
                period_seconds=period,
                evaluation_periods=evals,
                datapoints_to_alarm=dta,
                treat_missing_data=ca.treat_missing_data,
                dimensions=dims,
                variant=ca.variant,
                gate=ca.gate and gates_allowed,
                description=f"{ca.namespace}/{ca.metric} ({ctx.path}.alarms.custom[{i}])",
            )
        )
    return out


def data_capture(ctx: Context, *, default_on: bool) -> DataCapturePlan | None:
    dc = ctx.ep.data_capture
    if dc is None:
        if not default_on:
            return None
        return DataCapturePlan(100, f"capture/{ctx.endpoint_name}", None, True)
    if not dc.enabled:
        return None
    prefix = (
        f"capture/{ctx.endpoint_name}" if dc.destination_prefix is None else dc.destination_prefix
    )
    return DataCapturePlan(
        dc.sampling_percent,
        prefix.strip("/"),
        dc.destination_s3_uri,
        dc.kms,
        retention_days=dc.retention_days,
        on_destroy=dc.on_destroy,
    )


def endpoint_kms(ctx: Context, variants: Sequence[VariantConfig]) -> bool:
    """Whether the endpoint config gets the stack's volume key (KmsKeyId).

    `auto`: unless an instance type has local NVMe storage, where the key "does not encrypt
    instance local storage" (config.NVME_KMS_DOC) and so would protect nothing; `on`: always
    (allowed there, with a config warning); `off`: never."""
    match ctx.ep.volume_kms:
        case "off":
            return False
        case "on":
            return True
        case "auto":
            return not any(has_local_nvme(v.instance_type) for v in variants)


def tags(ctx: Context, strategy: str) -> tuple[tuple[str, str], ...]:
    merged = {
        **ctx.stack.tags,
        **ctx.ep.tags,
        "managed-by": ctx.project,
        "rollouts:stack": ctx.stack_name,
        "rollouts:endpoint": ctx.key,
        "rollouts:strategy": strategy,
    }
    return tuple(sorted(merged.items()))


def hours(instances: int, seconds: int | None) -> float | None:
    return None if seconds is None else round(instances * seconds / 3600.0, 3)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)
