"""Warnings: legal configs that are almost certainly a mistake (never blocking).

`rollout plan` prints them and the program logs them with `pulumi.log.warn`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from pydantic import BaseModel

from sagemaker_rollouts.strategies.canary import canary_steps
from sagemaker_rollouts.strategies.config_model import EndpointConfig, StackConfig
from sagemaker_rollouts.strategies.config_values import (
    NVME_KMS_DOC,
    has_local_nvme,
    is_unknown,
)

# The warning on a secret the offline plan could not check (a stack file's `secure:` value). A
# component's secret Outputs are checked once the engine resolves them (infra/secrets.py `check`),
# offline under mocks as under `pulumi up`, so the component drops it (pipeline.validate_component).
UNCHECKED_SECRET = (
    "encrypted (secure:) and not decryptable offline, so its form was not checked; "
    "the program checks the decrypted value at `pulumi up`"
)


def secret_paths(value: Any, path: str) -> list[str]:
    if isinstance(value, BaseModel):
        return [
            p
            for name in type(value).model_fields
            for p in secret_paths(getattr(value, name), f"{path}.{name}")
        ]
    if isinstance(value, Mapping):
        items = cast(Mapping[Any, Any], value)
        return [p for k, v in items.items() for p in secret_paths(v, f"{path}.{k}")]
    if isinstance(value, list):
        seq = cast(list[Any], value)
        return [p for i, v in enumerate(seq) for p in secret_paths(v, f"{path}[{i}]")]
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
        if dc is not None and dc.enabled and dc.destination_s3_uri and not dc.kms:
            # SageMaker writes captures with the execution role; without a KmsKeyId S3 applies
            # the bucket's default encryption, and a customer managed default key needs
            # kms:GenerateDataKey for the writer (S3 User Guide, "Using server-side encryption
            # with AWS KMS keys"), which the program cannot know to grant.
            out.append(
                f"{p}.data_capture.kms: false with your own destination_s3_uri: captures get "
                "that bucket's default encryption; if it is a customer managed KMS key, the "
                "execution role needs kms:GenerateDataKey on it and every capture write fails "
                "without it; keep kms: true (captures are then encrypted with the stack key, "
                "which the roles are granted)"
            )
        for akey in sorted(ep.alarms.left_off):
            out.append(
                f"{p}.alarms.{akey}: the block does not set enabled, and {akey} is off by "
                f"default, so no {akey} alarm is declared; add enabled: true to turn it on "
                f"(or enabled: false to say it stays off)"
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
        out += _native_warnings(p, ep)
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
        f"{path}: {UNCHECKED_SECRET}"
        for path in [
            *secret_paths(config.endpoints, "endpoints"),
            *secret_paths(config.tags, "tags"),
            *secret_paths(config.notifications, "notifications"),
            *secret_paths(config.ci_role, "ci_role"),
        ]
    ]
    return out


def _native_warnings(p: str, ep: EndpointConfig) -> list[str]:
    """Blue/green without a bake at full traffic; a volume key that encrypts no local storage."""
    out: list[str] = []
    # SageMaker Developer Guide, deployment-guardrails-exclusions.html: "Endpoints that use
    # Inf1 (Inferentia-based) instances ... cannot use deployment guardrails ... and your
    # endpoint will fall back to using a blue/green deployment with all at once traffic
    # shifting and no final baking period". AWS accepts the update: warn, do not refuse.
    native = ep.strategy.blue_green is not None or ep.strategy.rolling is not None
    inf1 = sorted({v.instance_type for v in ep.variants if v.instance_type.startswith("ml.inf1.")})
    if native and inf1:
        out.append(
            f"{p}.strategy.{ep.strategy.name}: {', '.join(inf1)} (Inf1) cannot use SageMaker's "
            "deployment guardrails: the update falls back to blue/green all at once with no "
            "final baking period and no auto-rollback bake (deployment-guardrails-exclusions); "
            "use a canary, or Inf2 instances"
        )
    bgc = ep.strategy.blue_green
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
    return out
