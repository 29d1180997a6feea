"""What a config change does to a live stack: replace, update in place, or leave alone.

One table (`CHANGES`) is the source for the README's "What a config change does" section
(`markdown_table()`, checked by a test) and for the tests that render a sample stack twice under
mocks, before and after each change, and compare the inputs that drive replacement.

What drives replacement is the provider's schema: pulumi-aws bridges terraform-provider-aws,
whose `ForceNew` fields replace a resource when they change (`FORCE_NEW`, read from
`internal/service/sagemaker/{model,endpoint_configuration,endpoint}.go` and
`internal/service/cloudwatch/metric_alarm.go`). A resource whose ForceNew input changes, or
that references a replaced resource through one, is replaced; any other input change is an
in-place update; no input change, no call at all.

Downtime: SageMaker's UpdateEndpoint brings the new fleet up before traffic moves (an endpoint
update is not downtime); replacing the endpoint itself is, unless the name changes too (then
the old endpoint serves until it is deleted, but clients must learn the new name).

Pure: no pulumi, no boto3. `apply_change` edits a plain stack-config mapping.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Effect = Literal["replace", "update", "none"]

MODEL = "aws:sagemaker/model:Model"
ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"

ALL_BUT_TAGS = "*"
"""Every input except `tags` is ForceNew."""

FORCE_NEW: dict[str, tuple[str, ...]] = {
    # model.go: primary_container (every field), execution_role_arn, vpc_config,
    # enable_network_isolation, name ... all ForceNew; only tags update in place.
    MODEL: (ALL_BUT_TAGS,),
    # endpoint_configuration.go: every argument ForceNew except tags.
    ENDPOINT_CONFIG: (ALL_BUT_TAGS,),
    # endpoint.go: `name` and `deployment_config.auto_rollback_configuration` are ForceNew;
    # `endpoint_config_name` and the update policies go through UpdateEndpoint.
    ENDPOINT: ("name", "deploymentConfig.autoRollbackConfiguration"),
    # metric_alarm.go: `alarm_name` is ForceNew; metrics, thresholds and windows update in place.
    METRIC_ALARM: ("name",),
}

ROLES: dict[str, str] = {
    MODEL: "model",
    ENDPOINT_CONFIG: "endpoint config",
    ENDPOINT: "endpoint",
}


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """One row: a change to a sample stack's config and what `pulumi up` then does.

    `key` is a path under `sagemaker-rollouts:endpoints` (dots and `[i]`), `value` the new
    value (None deletes the key, `append` adds `value` to the list at `key`).
    """

    id: str
    stack: str  # sample stack, `Pulumi.<stack>.yaml`
    description: str
    key: str
    value: Any
    model: Effect
    endpoint_config: Effect
    endpoint: Effect
    downtime: bool
    note: str
    append: bool = False

    def effects(self) -> dict[str, Effect]:
        return {
            "model": self.model,
            "endpoint config": self.endpoint_config,
            "endpoint": self.endpoint,
        }


_GATE = {
    "key": "queue-depth",
    "namespace": "Acme/Search",
    "metric": "QueueDepth",
    "statistic": "Maximum",
    "threshold": 500,
    "gate": True,
}

CHANGES: tuple[ConfigChange, ...] = (
    ConfigChange(
        "bg-new-model", "bluegreen", "new model artifact (blue/green)",
        "search.models.current.model_data_url", "s3://acme-ml-models/search/v13/model.tar.gz",
        "replace", "replace", "update", False,
        "UpdateEndpoint: SageMaker's blue/green shift, rolled back on the rollback alarm",
    ),
    ConfigChange(
        "bg-enable-4xx", "bluegreen", "enable a standard gate alarm",
        "search.alarms.errors_4xx", {"enabled": True, "threshold": 50},
        "none", "none", "none", False,
        "a new per-gate alarm; the rollback alarm's expression gains it in place",
    ),
    ConfigChange(
        "bg-retune-latency", "bluegreen", "raise a gate's threshold",
        "search.alarms.latency_p99.threshold", 300,
        "none", "none", "none", False,
        "PutMetricAlarm on the gate and the rollback alarm",
    ),
    ConfigChange(
        "bg-disable-gate", "bluegreen", "disable a gate alarm",
        "search.alarms.latency_p99.enabled", False,
        "none", "none", "none", False,
        "the gate's alarm is deleted; the rollback alarm keeps its name",
    ),
    ConfigChange(
        "bg-add-custom-gate", "bluegreen", "add a custom gate alarm",
        "search.alarms.custom", _GATE,
        "none", "none", "none", False,
        "at most 10 gates: one metric-math alarm references at most 10 metrics",
        append=True,
    ),
    ConfigChange(
        "bg-routing", "bluegreen", "change blue/green traffic routing",
        "search.strategy.blue_green.traffic_routing.wait_seconds", 900,
        "none", "none", "update", False,
        "the deployment config is stored on the endpoint; it applies to the next update",
    ),
    ConfigChange(
        "bg-instance-count", "bluegreen", "change the instance count",
        "search.variants[0].instance_count", 6,
        "none", "replace", "update", False,
        "a new endpoint config; UpdateEndpoint with the blue/green policy",
    ),
    ConfigChange(
        "bg-attempt", "bluegreen", "raise the attempt after a SageMaker rollback",
        "search.strategy.blue_green.attempt", 2,
        "none", "replace", "update", False,
        "the config's replacement trigger: SageMaker runs the deployment again",
    ),
    ConfigChange(
        "bg-tags", "bluegreen", "change endpoint tags",
        "search.tags", {"owner": "search-team"},
        "update", "update", "update", False,
        "tags only (AddTags/DeleteTags): no deployment",
    ),
    ConfigChange(
        "bg-endpoint-name", "bluegreen", "rename the endpoint",
        "search.endpoint_name", "search-embeddings-v2",
        "none", "none", "replace", False,
        "a second endpoint under the new name; clients must switch to it",
    ),
    ConfigChange(
        "rolling-retune-custom", "rolling", "retune a custom gate alarm",
        "recs.alarms.custom[0].threshold", 0.015,
        "none", "none", "none", False,
        "PutMetricAlarm on the gate and the rollback alarm",
    ),
    ConfigChange(
        "rolling-new-model", "rolling", "new model artifact (rolling)",
        "recs.models.current.model_data_url", "s3://acme-ml-models/recs/v32/model.tar.gz",
        "replace", "replace", "update", False,
        "UpdateEndpoint: SageMaker replaces the fleet batch by batch",
    ),
    ConfigChange(
        "canary-retune", "canary", "retune a canary gate alarm",
        "fraud.alarms.latency_p99.threshold", 400,
        "none", "none", "none", False,
        "alarms and the hook's spec update in place",
    ),
    ConfigChange(
        "canary-later-steps", "canary", "change later canary steps or bake time",
        "fraud.strategy.canary.bake_seconds", 900,
        "none", "none", "none", False,
        "only the hook's spec changes",
    ),
    ConfigChange(
        "canary-new-candidate", "canary", "new candidate model (canary)",
        "fraud.models.v2.model_data_url", "s3://acme-ml-models/fraud/v3/model.tar.gz",
        "replace", "replace", "update", False,
        "a new rollout: the candidate variant starts at the first step's share",
    ),
    ConfigChange(
        "canary-capture", "canary", "change data capture sampling",
        "fraud.data_capture.sampling_percent", 50,
        "none", "replace", "update", False,
        "capture settings live in the endpoint config",
    ),
    ConfigChange(
        "recreate-new-model", "dev", "new model artifact (recreate)",
        "churn.models.current.model_data_url", "s3://acme-ml-models/churn/v8/model.tar.gz",
        "replace", "replace", "replace", True,
        "recreate: the endpoint is deleted before the new one is created",
    ),
    ConfigChange(
        "recreate-retune", "dev", "retune an alarm (recreate)",
        "churn.alarms.latency_p99.threshold", 3000,
        "none", "none", "none", False,
        "alarms only",
    ),
)  # fmt: skip


_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _parts(key: str) -> list[str | int]:
    return [name if name else int(index) for name, index in _PART.findall(key)]


def apply_change(endpoints: Mapping[str, Any], change: ConfigChange) -> dict[str, Any]:
    """A deep copy of the `sagemaker-rollouts:endpoints` mapping with `change` applied.

    Missing mapping keys on the way are created (an alarm the sample leaves at its default);
    a list index past the end raises IndexError (a stale table).
    """
    out: dict[str, Any] = copy.deepcopy(dict(endpoints))
    parts = _parts(change.key)
    node: Any = out
    for part in parts[:-1]:
        node = node.setdefault(part, {}) if isinstance(part, str) else node[part]
    last = parts[-1]
    if change.append:
        node.setdefault(last, []).append(copy.deepcopy(change.value))
    elif change.value is None:
        del node[last]
    else:
        node[last] = copy.deepcopy(change.value)
    return out


def markdown_table() -> str:
    """The README table: one row per change, generated from `CHANGES`."""
    head = (
        "| change (sample stack) | model | endpoint config | endpoint | downtime | why |\n"
        "|---|---|---|---|---|---|\n"
    )
    rows = [
        f"| {c.description} (`{c.stack}`: `{c.key}`) | {c.model} | {c.endpoint_config} | "
        f"{c.endpoint} | {'yes' if c.downtime else 'no'} | {c.note} |"
        for c in CHANGES
    ]
    return head + "\n".join(rows) + "\n"
