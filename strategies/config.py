"""The stack config model: what a team writes in `Pulumi.<stack>.yaml`, validated before anything runs.

Two passes, and every problem from both is reported at once in one `ConfigError`:
1. pydantic checks shapes, types and single-field ranges (its error locations become key paths);
2. `_relations` checks what pydantic cannot see field by field: references between variants, models
   and strategies, SageMaker's cross-field limits (DESIGN.md §3), and framework image resolution.
Limits that SageMaker's own API model states (instance types, wait ranges, name patterns, alarm
counts) are read from botocore's service model, not copied by hand.

Every message starts with the key path as a user would type it for `pulumi config set --path`
(for example `endpoints.fraud.strategy.canary.steps[2]`), says what is allowed and what was given.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

PROJECT = "sagemaker-rollouts"
STRATEGY_KEYS = ("recreate", "shadow", "canary", "ab", "blue_green", "rolling")


class ConfigError(ValueError):
    """Every problem in a stack config, each as `key.path: message`. Raised before any resource."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        super().__init__(
            f"{len(self.errors)} problem(s) in the stack config:\n"
            + "\n".join(f"  - {e}" for e in self.errors)
        )


# --------------------------------------------------------------------------- SageMaker's API model


@functools.cache
def _sagemaker_model() -> Any:
    import botocore.session  # botocore ships SageMaker's service model; no network, ~0.1 s

    session: Any = botocore.session.get_session()
    return session.get_service_model("sagemaker")


def _shape_meta(shape: str) -> dict[str, Any]:
    return dict(_sagemaker_model().shape_for(shape).metadata)


@functools.cache
def hosting_instance_types() -> frozenset[str]:
    return frozenset(_sagemaker_model().shape_for("ProductionVariantInstanceType").enum)


def _range(shape: str) -> tuple[int, int]:
    meta = _shape_meta(shape)
    return int(meta["min"]), int(meta["max"])


# Families with local NVMe instance storage: SageMaker rejects an endpoint-config KMS key on them.
_NVME_FAMILIES = frozenset(
    [
        "g5",
        "g6",
        "g6e",
        "g7",
        "g7e",
        "p5",
        "p5e",
        "p5en",
        "p6-b200",
        "p6-b300",
        "p6e-gb200",
        "trn1",
        "trn1n",
        "trn2",
    ]
)


def has_local_nvme(instance_type: str) -> bool:
    """True for instance types with local NVMe storage (ml.m5d, ml.g4dn, ml.g5, ml.p4d, ...)."""
    parts = instance_type.split(".")
    if len(parts) < 2:
        return False
    family = parts[1]
    return family in _NVME_FAMILIES or re.fullmatch(r"[a-z]+\d+[a-z]*d[a-z]*", family) is not None


# --------------------------------------------------------------------------- shapes (pass 1)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Name = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")]
Percent = Annotated[int, Field(ge=0, le=100)]
Seconds = Annotated[int, Field(ge=0)]


class VpcConfig(_Model):
    subnets: list[str] = Field(min_length=1, max_length=16)
    security_group_ids: list[str] = Field(min_length=1, max_length=5)


class ModelConfig(_Model):
    """A model: an image URI, or a framework + version resolved offline to an image URI."""

    image: str | None = None
    framework: str | None = None
    framework_version: str | None = None
    py_version: str | None = None
    model_data_url: Annotated[str, Field(pattern=r"^s3://[^/]+/.+")] | None = None
    environment: dict[str, str] = Field(default_factory=dict)
    execution_role_arn: (
        Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+")] | None
    ) = None
    vpc: VpcConfig | None = None
    network_isolation: bool = False


class VariantConfig(_Model):
    name: Name
    model: str
    instance_type: str
    instance_count: Annotated[int, Field(ge=1)] = 1


class Size(_Model):
    """A capacity size: a share of the fleet or a number of instances."""

    type: Literal["capacity_percent", "instance_count"] = "capacity_percent"
    value: Annotated[int, Field(ge=1)]


class RecreateConfig(_Model):
    pass


class OutputField(_Model):
    """One field of the models' answers to compare (shadow report) or watch (drift).

    `json_path` (`$.a.b`) reads a JSON answer, `csv_column` (0-based) a CSV one; neither: the whole
    answer. `kind: label` compares exactly; `number` agrees within `tolerance` (absolute).
    """

    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
    json_path: Annotated[str, Field(pattern=r"^\$(\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*$")] | None = (
        None
    )
    csv_column: Annotated[int, Field(ge=0, le=10000)] | None = None
    kind: Literal["label", "number"] = "label"
    tolerance: Annotated[float, Field(ge=0)] | None = None


class PromoteWhen(_Model):
    """Thresholds for the shadow report's recommendation. `min_agreement` is a percent (0-100)."""

    min_pairs: Annotated[int, Field(ge=1)] = 1000
    min_agreement: Annotated[float, Field(ge=0, le=100)] = 99.0
    max_p99_latency_ratio: Annotated[float, Field(gt=0)] = 1.2


class ShadowConfig(_Model):
    production: str
    shadow: str
    sampling_percent: Annotated[int, Field(ge=1, le=100)] = 100
    promote_when: PromoteWhen = Field(default_factory=PromoteWhen)
    outputs: list[OutputField] = Field(default_factory=list[OutputField], max_length=20)
    pair_window_seconds: Annotated[int, Field(ge=1, le=3600)] = 5
    athena: bool = False  # declare a Glue table over the capture prefix for `--engine athena`


class CanaryStep(_Model):
    percent: int
    bake_seconds: Seconds | None = None


class CanaryConfig(_Model):
    stable: str
    candidate: str
    steps: list[int | CanaryStep] = Field(min_length=1)
    bake_seconds: Seconds = 600
    min_invocations: Annotated[int, Field(ge=0)] = 100
    insufficient_data_limit_seconds: Seconds = 900
    attempt: Annotated[int, Field(ge=1)] = 1


class MetricRefConfig(_Model):
    """A CloudWatch metric summed per variant (A/B evaluator): the variant's name goes under
    `variant_dimension`, the endpoint's under `endpoint_dimension` (null: none), plus `dimensions`."""

    namespace: Annotated[str, Field(min_length=1, max_length=255)]
    metric: Annotated[str, Field(min_length=1, max_length=255)]
    dimensions: dict[str, str] = Field(default_factory=dict)
    variant_dimension: Annotated[str, Field(min_length=1, max_length=255)] = "VariantName"
    endpoint_dimension: Annotated[str, Field(min_length=1, max_length=255)] | None = "EndpointName"


class AbConfig(_Model):
    weights: dict[str, int] = Field(min_length=2)
    # The evaluator Lambda is declared only when `successes` is set.
    successes: MetricRefConfig | None = None
    trials: MetricRefConfig | None = None  # default: AWS/SageMaker Invocations
    min_samples: Annotated[int, Field(ge=30)] = 1000
    significance: Annotated[float, Field(gt=0, le=0.2)] = 0.05
    on_winner: Literal["notify", "promote"] = "notify"
    evaluate_every_minutes: Annotated[int, Field(ge=1, le=1440)] = 60
    window_hours: Annotated[int, Field(ge=1, le=24 * 63)] = 168


class TrafficRouting(_Model):
    type: Literal["all_at_once", "canary", "linear"] = "all_at_once"
    wait_seconds: int = 300
    canary_size: Size | None = None
    linear_step: Size | None = None


class BlueGreenConfig(_Model):
    traffic_routing: TrafficRouting = Field(default_factory=TrafficRouting)
    termination_wait_seconds: int = 0
    max_execution_timeout_seconds: int | None = None
    # Raised to deploy again after SageMaker rolled a deployment back (strategies/native.py).
    attempt: Annotated[int, Field(ge=1)] = 1


class RollingConfig(_Model):
    maximum_batch_size: Size
    wait_seconds: int = 300
    rollback_maximum_batch_size: Size | None = None
    max_execution_timeout_seconds: int | None = None
    # Raised to deploy again after SageMaker rolled a deployment back (strategies/native.py).
    attempt: Annotated[int, Field(ge=1)] = 1


class StrategyConfig(_Model):
    """Exactly one strategy, as a key: `strategy: {canary: {...}}`."""

    recreate: RecreateConfig | None = None
    shadow: ShadowConfig | None = None
    canary: CanaryConfig | None = None
    ab: AbConfig | None = None
    blue_green: BlueGreenConfig | None = None
    rolling: RollingConfig | None = None

    @property
    def name(self) -> str:
        chosen = [k for k in STRATEGY_KEYS if getattr(self, k) is not None]
        return chosen[0]

    @model_validator(mode="after")
    def _exactly_one(self) -> StrategyConfig:
        chosen = [k for k in STRATEGY_KEYS if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError(
                f"exactly one of {', '.join(STRATEGY_KEYS)} is allowed, "
                f"got {', '.join(chosen) if chosen else 'none'}"
            )
        return self


TreatMissing = Literal["breaching", "notBreaching", "ignore", "missing"]


class StandardAlarm(_Model):
    enabled: bool = True
    threshold: Annotated[float, Field(ge=0)]
    period_seconds: int = 60
    evaluation_periods: Annotated[int, Field(ge=1)] = 2
    datapoints_to_alarm: Annotated[int, Field(ge=1)] | None = None
    treat_missing_data: TreatMissing = "notBreaching"


def _errors5xx() -> StandardAlarm:
    return StandardAlarm(threshold=1)


def _latency() -> StandardAlarm:
    return StandardAlarm(threshold=1000, evaluation_periods=3)


def _errors4xx() -> StandardAlarm:
    return StandardAlarm(enabled=False, threshold=50)


class CustomAlarm(_Model):
    key: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    namespace: str
    metric: str
    statistic: str = "Average"
    threshold: float
    comparison: Literal[
        "GreaterThanOrEqualToThreshold",
        "GreaterThanThreshold",
        "LessThanThreshold",
        "LessThanOrEqualToThreshold",
    ] = "GreaterThanThreshold"
    period_seconds: int = 60
    evaluation_periods: Annotated[int, Field(ge=1)] = 1
    datapoints_to_alarm: Annotated[int, Field(ge=1)] | None = None
    treat_missing_data: TreatMissing = "missing"
    dimensions: dict[str, str] | None = None
    variant: str | None = None
    gate: bool = True


class AlarmsConfig(_Model):
    """Per-variant alarms on AWS/SageMaker metrics (EndpointName + VariantName), plus custom ones.

    `latency_p99.threshold` is in milliseconds (ModelLatency itself is in microseconds).
    """

    errors_5xx: StandardAlarm = Field(default_factory=_errors5xx)
    latency_p99: StandardAlarm = Field(default_factory=_latency)
    errors_4xx: StandardAlarm = Field(default_factory=_errors4xx)
    custom: list[CustomAlarm] = Field(default_factory=list[CustomAlarm])


class DataCaptureConfig(_Model):
    enabled: bool = True
    sampling_percent: Percent = 100
    destination_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9!_.*'()/-]*$")] | None = None
    destination_s3_uri: Annotated[str, Field(pattern=r"^s3://[^/]+(/.*)?$")] | None = None
    kms: bool = True
    # Captured objects under this endpoint's prefix expire after this many days (S3 lifecycle).
    retention_days: Annotated[int, Field(ge=1)] = 30
    # `pulumi destroy`: keep the capture bucket and its data (retain) or empty and delete it.
    on_destroy: Literal["retain", "delete"] = "retain"


class HookConfig(_Model):
    """The canary hook Lambda. `reserved_concurrency`: 1 (one decision at a time), or None to rely
    on the state table's conditional writes alone. Lambda refuses a reservation that would leave
    the account's unreserved concurrency under its minimum ("You can reserve up to the Unreserved
    account concurrency value ... minus 100", Lambda Developer Guide, configuration-concurrency;
    new accounts have reduced concurrency quotas, Lambda quotas), so on a young account the
    reservation fails with InvalidParameterValueException."""

    reserved_concurrency: Annotated[int, Field(ge=1)] | None = 1


class EndpointConfig(_Model):
    endpoint_name: Name | None = None
    models: dict[str, ModelConfig] = Field(min_length=1)
    variants: list[VariantConfig] = Field(min_length=1, max_length=10)
    strategy: StrategyConfig
    alarms: AlarmsConfig = Field(default_factory=AlarmsConfig)
    data_capture: DataCaptureConfig | None = None
    volume_kms: Literal["auto", "on", "off"] = "auto"
    tags: dict[str, str] = Field(default_factory=dict)
    hook: HookConfig = Field(default_factory=HookConfig)


class StackConfig(_Model):
    endpoints: dict[str, EndpointConfig] = Field(min_length=1)
    tags: dict[str, str] = Field(default_factory=dict)
    region: str = "us-east-1"
    # The stack KMS key's waiting period before deletion after `pulumi destroy` (KMS: 7..30 days).
    kms_deletion_window_days: Annotated[int, Field(ge=7, le=30)] = 30
    # Resolved images per (endpoint key, model key), filled by `load_config` (framework lookups).
    images: dict[str, str] = Field(default_factory=dict)

    def image_of(self, endpoint_key: str, model_key: str) -> str:
        return self.images[f"{endpoint_key}/{model_key}"]


# --------------------------------------------------------------------------- relations (pass 2)


def _path(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("int", "CanaryStep") or part.startswith(("function-", "literal[")):
            continue  # pydantic's union-member markers are not part of the user's key path
        else:
            out += f".{part}" if out else part
    return out


def _pydantic_errors(exc: ValidationError, prefix: tuple[str, ...] = ()) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for err in exc.errors(include_url=False):
        path = _path((*prefix, *err["loc"])) or "config"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key; check its spelling and where it is nested"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif "input" in err and err["type"] != "value_error":
            msg = f"{msg}, got {err['input']!r}"
        line = f"{path}: {msg}"
        if line not in seen:
            seen.add(line)
            out.append(line)
    return out


def _check_period(path: str, period: int, errs: list[str]) -> None:
    if period not in (10, 20, 30) and (period < 60 or period % 60):
        errs.append(f"{path}: must be 10, 20, 30 or a multiple of 60 seconds, got {period}")


def _check_alarm_windows(path: str, alarm: StandardAlarm | CustomAlarm, errs: list[str]) -> None:
    _check_period(f"{path}.period_seconds", alarm.period_seconds, errs)
    d = alarm.datapoints_to_alarm
    if d is not None and d > alarm.evaluation_periods:
        errs.append(
            f"{path}.datapoints_to_alarm: must be 1..evaluation_periods "
            f"({alarm.evaluation_periods}), got {d}"
        )


def canary_steps(c: CanaryConfig) -> list[tuple[int, int]]:
    """The config's steps as (percent, bake seconds); a bare number bakes `bake_seconds`."""
    out: list[tuple[int, int]] = []
    for s in c.steps:
        if isinstance(s, int):
            out.append((s, c.bake_seconds))
        else:
            out.append((s.percent, c.bake_seconds if s.bake_seconds is None else s.bake_seconds))
    return out


def _size_pct(size: Size, count: int) -> float:
    return size.value if size.type == "capacity_percent" else 100.0 * size.value / count


def _check_endpoint(key: str, ep: EndpointConfig, region: str, errs: list[str]) -> dict[str, str]:
    """Cross-field rules for one endpoint; returns the resolved image per model key."""
    p = f"endpoints.{key}"
    images: dict[str, str] = {}
    types = hosting_instance_types()
    if ep.endpoint_name is None and not re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", key):
        errs.append(
            f"{p}: the endpoint key is used as the endpoint name and must match "
            "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}; set endpoint_name or rename the key"
        )

    for mkey, m in ep.models.items():
        mp = f"{p}.models.{mkey}"
        if (m.image is None) == (m.framework is None):
            errs.append(f"{mp}: set exactly one of image or framework (+ framework_version)")
        elif m.framework is not None:
            if m.framework_version is None:
                errs.append(f"{mp}.framework_version: required with framework {m.framework!r}")
            else:
                used = [v for v in ep.variants if v.model == mkey]
                itype = used[0].instance_type if used else None
                try:
                    images[mkey] = resolve_framework_image(
                        m.framework, m.framework_version, region, m.py_version, itype
                    )
                except ValueError as exc:
                    errs.append(f"{mp}.framework: {exc}")
        else:
            assert m.image is not None
            if not re.fullmatch(
                r"[\w.-]+(:\d+)?/[\w./-]+(:[\w.-]+|@sha256:[0-9a-f]{64})?", m.image
            ):
                errs.append(
                    f"{mp}.image: must be an image URI like REGISTRY/REPO:TAG, got {m.image!r}"
                )
            images[mkey] = m.image
        if m.network_isolation and m.model_data_url is None and m.image is None:
            errs.append(f"{mp}.network_isolation: needs model_data_url or a self-contained image")

    names: dict[str, int] = {}
    for i, v in enumerate(ep.variants):
        vp = f"{p}.variants[{i}]"
        if v.name in names:
            errs.append(
                f"{vp}.name: variant names must be unique, {v.name!r} is also variants[{names[v.name]}]"
            )
        names.setdefault(v.name, i)
        if v.model not in ep.models:
            errs.append(
                f"{vp}.model: must be one of the endpoint's models ({', '.join(ep.models)}), got {v.model!r}"
            )
        if v.instance_type not in types:
            errs.append(
                f"{vp}.instance_type: not a SageMaker hosting instance type, got {v.instance_type!r} "
                "(for example ml.m5.large, ml.c5.xlarge, ml.g5.xlarge)"
            )

    def variant(path: str, name: str) -> VariantConfig | None:
        if name not in names:
            errs.append(f"{path}: must name one of the variants ({', '.join(names)}), got {name!r}")
            return None
        return ep.variants[names[name]]

    sp = f"{p}.strategy.{ep.strategy.name}"
    s = ep.strategy
    single = ("recreate", "blue_green", "rolling")
    if s.name in single and len(ep.variants) != 1:
        why = {
            "recreate": "recreate replaces the endpoint with one variant",
            "blue_green": "blue/green shifts one variant, kept under the same name across updates",
            "rolling": "SageMaker rejects rolling updates on multi-variant endpoints",
        }[s.name]
        errs.append(
            f"{p}.variants: {s.name} needs exactly one variant ({why}), got {len(ep.variants)}"
        )

    if s.shadow is not None:
        prod = variant(f"{sp}.production", s.shadow.production)
        shadow = variant(f"{sp}.shadow", s.shadow.shadow)
        if len(ep.variants) != 2:
            errs.append(
                f"{p}.variants: shadow takes exactly one production and one shadow variant, "
                f"got {len(ep.variants)} variants"
            )
        if prod is not None and prod is shadow:
            errs.append(f"{sp}.shadow: must differ from production")
        if ep.data_capture is not None and not ep.data_capture.enabled:
            errs.append(
                f"{p}.data_capture.enabled: shadow compares captured responses; it must be on"
            )
        _check_outputs(f"{sp}.outputs", s.shadow.outputs, errs)

    if s.canary is not None:
        c = s.canary
        stable = variant(f"{sp}.stable", c.stable)
        cand = variant(f"{sp}.candidate", c.candidate)
        if stable is not None and stable is cand:
            errs.append(f"{sp}.candidate: must differ from stable")
        if len(ep.variants) != 2:
            errs.append(
                f"{p}.variants: canary takes a stable and a candidate variant, got {len(ep.variants)}"
            )
        prev = 0
        for i, (pct, bake) in enumerate(canary_steps(c)):
            if not 1 <= pct <= 100 or pct <= prev:
                errs.append(f"{sp}.steps[{i}]: must be 1..100 and increasing, got {pct}")
            elif bake > 86400:
                errs.append(f"{sp}.steps[{i}].bake_seconds: must be 0..86400, got {bake}")
            prev = max(prev, pct)

    if s.ab is not None:
        for vname in s.ab.weights:
            variant(f"{sp}.weights.{vname}", vname)
        for v in ep.variants:
            if v.name not in s.ab.weights:
                errs.append(f"{sp}.weights: missing a weight for variant {v.name!r}")
        for vname, w in s.ab.weights.items():
            if w < 0:
                errs.append(f"{sp}.weights.{vname}: must be >= 0 (0 is a dark variant), got {w}")
        if sum(w for w in s.ab.weights.values() if w > 0) == 0:
            errs.append(
                f"{sp}.weights: at least one weight must be positive so some variant serves"
            )
        serving = [k for k, w in s.ab.weights.items() if w > 0]
        if s.ab.successes is not None and len(serving) < 2:
            errs.append(
                f"{sp}.successes: the evaluator compares serving variants; needs at least two "
                f"with a positive weight, got {len(serving)}"
            )
        for key in ("successes", "trials"):
            ref = getattr(s.ab, key)
            if ref is not None and len(ref.dimensions) + 2 > 30:
                errs.append(f"{sp}.{key}.dimensions: CloudWatch allows at most 30 dimensions")
        if s.ab.successes is None and (s.ab.trials is not None or s.ab.on_winner == "promote"):
            errs.append(f"{sp}.successes: required to evaluate a winner (trials or on_winner set)")

    count = ep.variants[0].instance_count
    wmin, wmax = _range("WaitIntervalInSeconds")
    tmin, tmax = _range("MaximumExecutionTimeoutInSeconds")
    if s.blue_green is not None:
        bg, r = s.blue_green, s.blue_green.traffic_routing
        rp = f"{sp}.traffic_routing"
        if not wmin <= r.wait_seconds <= wmax:
            errs.append(f"{rp}.wait_seconds: must be {wmin}..{wmax}, got {r.wait_seconds}")
        twmin, twmax = _range("TerminationWaitInSeconds")
        if not twmin <= bg.termination_wait_seconds <= twmax:
            errs.append(
                f"{sp}.termination_wait_seconds: must be {twmin}..{twmax}, got {bg.termination_wait_seconds}"
            )
        steps = 1
        if r.type == "canary":
            if r.canary_size is None:
                errs.append(f"{rp}.canary_size: required for canary traffic routing")
            elif _size_pct(r.canary_size, count) > 50:
                errs.append(
                    f"{rp}.canary_size: must be at most 50% of the variant's {count} instance(s), "
                    f"got {r.canary_size.value} {r.canary_size.type}"
                )
            steps = 2
        elif r.canary_size is not None:
            errs.append(f"{rp}.canary_size: only for type canary, got type {r.type}")
        if r.type == "linear":
            if r.linear_step is None:
                errs.append(f"{rp}.linear_step: required for linear traffic routing")
            else:
                pct = _size_pct(r.linear_step, count)
                if not 10 <= pct <= 50:
                    errs.append(
                        f"{rp}.linear_step: must be 10..50% of the variant's {count} instance(s), "
                        f"got {r.linear_step.value} {r.linear_step.type}"
                    )
                steps = max(1, -(-100 // max(1, int(pct))))
        elif r.linear_step is not None:
            errs.append(f"{rp}.linear_step: only for type linear, got type {r.type}")
        _check_timeout(
            sp,
            bg.max_execution_timeout_seconds,
            steps * r.wait_seconds + bg.termination_wait_seconds,
            tmin,
            tmax,
            errs,
        )

    if s.rolling is not None:
        ro = s.rolling
        if not wmin <= ro.wait_seconds <= wmax:
            errs.append(f"{sp}.wait_seconds: must be {wmin}..{wmax}, got {ro.wait_seconds}")
        pct = _size_pct(ro.maximum_batch_size, count)
        if ro.maximum_batch_size.type == "capacity_percent" and not 5 <= pct <= 50:
            errs.append(
                f"{sp}.maximum_batch_size: must be 5..50 capacity_percent, got {ro.maximum_batch_size.value}"
            )
        if (
            ro.maximum_batch_size.type == "instance_count"
            and not 1 <= ro.maximum_batch_size.value <= max(1, count // 2)
        ):
            errs.append(
                f"{sp}.maximum_batch_size: must be 1..{max(1, count // 2)} instances "
                f"(at most 50% of {count}), got {ro.maximum_batch_size.value}"
            )
        batches = max(1, -(-100 // max(1, int(pct))))
        _check_timeout(
            sp, ro.max_execution_timeout_seconds, batches * ro.wait_seconds, tmin, tmax, errs
        )

    # Alarms.
    for akey in ("errors_5xx", "latency_p99", "errors_4xx"):
        _check_alarm_windows(f"{p}.alarms.{akey}", getattr(ep.alarms, akey), errs)
    keys: set[str] = set()
    for i, ca in enumerate(ep.alarms.custom):
        cp = f"{p}.alarms.custom[{i}]"
        _check_alarm_windows(cp, ca, errs)
        if ca.key in keys or ca.key in ("errors_5xx", "latency_p99", "errors_4xx", "low_traffic"):
            errs.append(f"{cp}.key: must be unique among the endpoint's alarms, got {ca.key!r}")
        keys.add(ca.key)
        if ca.variant is not None:
            variant(f"{cp}.variant", ca.variant)
        if not re.fullmatch(
            r"(SampleCount|Average|Sum|Minimum|Maximum|p\d{1,2}(\.\d+)?)", ca.statistic
        ):
            errs.append(
                f"{cp}.statistic: must be SampleCount, Average, Sum, Minimum, Maximum or a percentile "
                f"like p99, got {ca.statistic!r}"
            )

    # Encryption of the ML storage volume.
    nvme = [v.instance_type for v in ep.variants if has_local_nvme(v.instance_type)]
    if ep.volume_kms == "on" and nvme:
        errs.append(
            f"{p}.volume_kms: SageMaker rejects a KMS key on instance types with local NVMe storage "
            f"({', '.join(sorted(set(nvme)))}); use auto or off"
        )
    if (
        ep.data_capture is not None
        and ep.data_capture.destination_s3_uri
        and ep.data_capture.destination_prefix
    ):
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


def _check_timeout(
    sp: str, timeout: int | None, waits: int, tmin: int, tmax: int, errs: list[str]
) -> None:
    if timeout is None:
        return
    if not tmin <= timeout <= tmax:
        errs.append(f"{sp}.max_execution_timeout_seconds: must be {tmin}..{tmax}, got {timeout}")
    elif timeout <= waits:
        errs.append(
            f"{sp}.max_execution_timeout_seconds: must be greater than the sum of the waits "
            f"({waits} s), got {timeout}"
        )


# --------------------------------------------------------------------------- images


def resolve_framework_image(
    framework: str, version: str, region: str, py_version: str | None, instance_type: str | None
) -> str:
    """An inference image URI from the sagemaker SDK's offline tables (imported only when needed)."""
    try:
        from sagemaker.core import image_uris  # type: ignore[import-untyped]  # heavy (~2 s): only for stacks that name a framework
    except ImportError as exc:  # pragma: no cover - sagemaker-core is a dependency
        raise ValueError("needs sagemaker-core installed to resolve framework images") from exc
    tables = Path(str(image_uris.__file__)).parent / "image_uri_config"
    known = sorted(p.stem for p in tables.glob("*.json"))
    if known and framework not in known:
        shown = ", ".join(k for k in known if "-" not in k)[:400]
        raise ValueError(f"unknown framework {framework!r}; known frameworks include: {shown}")
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


def load_config(raw: Mapping[str, Any], *, region: str = "us-east-1") -> StackConfig:
    """Validate the project's config keys (`endpoints`, `tags`). Raises ConfigError with all problems.

    Each endpoint is validated on its own, so a shape error in one endpoint does not hide the
    relation errors of another.
    """
    errs: list[str] = []
    data = dict(raw)
    unknown = sorted(set(data) - set(TOP_KEYS))
    errs += [f"{k}: unknown key; the project takes {', '.join(TOP_KEYS)}" for k in unknown]
    try:
        top = _Top.model_validate({k: v for k, v in data.items() if k in TOP_KEYS})
    except ValidationError as exc:
        raise ConfigError(errs + _pydantic_errors(exc)) from None
    endpoints: dict[str, EndpointConfig] = {}
    images: dict[str, str] = {}
    for key, rawep in top.endpoints.items():
        try:
            ep = EndpointConfig.model_validate(rawep)
        except ValidationError as exc:
            errs += _pydantic_errors(exc, ("endpoints", key))
            continue
        endpoints[key] = ep
        for mkey, img in _check_endpoint(key, ep, region, errs).items():
            images[f"{key}/{mkey}"] = img
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
    return StackConfig(
        endpoints=endpoints,
        tags=top.tags,
        region=region,
        images=images,
        kms_deletion_window_days=top.kms_deletion_window_days,
    )


class _Top(_Model):
    endpoints: dict[str, Any] = Field(min_length=1)
    tags: dict[str, str] = Field(default_factory=dict)
    # KMS ScheduleKeyDeletion PendingWindowInDays: 7..30 (botocore kms model).
    kms_deletion_window_days: Annotated[int, Field(ge=7, le=30)] = 30


TOP_KEYS = ("endpoints", "tags", "kms_deletion_window_days")


def project_config(stack_yaml: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """Split a parsed `Pulumi.<stack>.yaml` into this project's keys and the AWS region."""
    config: Any = stack_yaml.get("config") or {}
    if not isinstance(config, Mapping):
        raise ConfigError(["config: must be a mapping of keys to values"])
    ours: dict[str, Any] = {}
    errs: list[str] = []
    items: dict[str, Any] = {str(k): v for k, v in cast(Mapping[Any, Any], config).items()}
    for k, v in items.items():
        ns, _, key = str(k).partition(":")
        if ns == PROJECT:
            if key not in TOP_KEYS:
                errs.append(f"{k}: unknown key; {PROJECT} takes {', '.join(TOP_KEYS)}")
            ours[key] = v
    if errs:
        raise ConfigError(errs)
    return ours, str(items.get("aws:region", "us-east-1"))


SECRET_PLACEHOLDER = "[secret]"


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
