"""SageMaker-native deployments (blue/green, rolling) as the operator and `pulumi up` see them.

SageMaker moves the traffic and rolls back by itself; nothing of ours records it. What is left to
read is DescribeEndpoint: `EndpointStatus`, the config the endpoint runs (`EndpointConfigName`),
the config being deployed (`PendingDeploymentSummary`, with one status per variant such as
`Baking` or `ActivatingTraffic`), `LastDeploymentConfig` and `FailureReason`. The stack tags the
endpoint with the config name it last deployed (`DEPLOYED_CONFIG_TAG`) and the attempt number
(`ATTEMPT_TAG`); after a rollback the endpoint is InService on the *old* config while the tag
names the new one (the AWS provider's waiter only waits for InService, so `pulumi up` reported
success).

`phase(live)` is the phase and the verdict a CI job gates on; `check_deploy(...)` is what
`pulumi up` does about it: stop before declaring anything when the endpoint runs another config
than the stack deployed, until `strategy.<blue_green|rolling>.attempt` is raised.

Where AWS's docs are silent (the exact `FailureReason` text after an alarm rollback, whether the
status passes through `RollingBack` for blue/green), the phase is decided from the config names,
which do not depend on that text.

Pure: no pulumi, no boto3.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

DEPLOYED_CONFIG_TAG = "rollouts:endpoint-config"
ATTEMPT_TAG = "rollouts:attempt"

Phase = Literal[
    "creating", "provisioning", "shifting", "baking", "rolling_back", "rolled_back",
    "completed", "failed",
]  # fmt: skip
Verdict = Literal["completed", "rolled_back", "failed", "in_progress"]

_IN_PROGRESS = frozenset({"Creating", "Updating", "SystemUpdating"})
_FAILED = frozenset({"Failed", "UpdateRollbackFailed", "OutOfService", "Deleting"})


@dataclass(frozen=True, slots=True)
class LiveEndpoint:
    """What DescribeEndpoint and the endpoint's tags say about one endpoint.

    `deployed_config` / `deployed_attempt`: the stack's tags (None on an endpoint the stack has
    not tagged yet). `pending_variant_statuses`: every `VariantStatus.Status` of the pending
    deployment's variants (e.g. "Creating", "ActivatingTraffic", "Baking").
    """

    name: str
    status: str
    config_name: str | None
    deployed_config: str | None
    deployed_attempt: int | None
    pending_config: str | None
    pending_variant_statuses: tuple[str, ...]
    failure_reason: str | None
    has_auto_rollback: bool
    tags: tuple[tuple[str, str], ...] = ()
    weights: tuple[tuple[str, float], ...] = ()  # production variant -> CurrentWeight

    @classmethod
    def from_describe(cls, describe: Mapping[str, Any], tags: Mapping[str, str]) -> LiveEndpoint:
        """From a DescribeEndpoint response (botocore shape) and the endpoint's tags."""
        pending: dict[str, Any] = dict(describe.get("PendingDeploymentSummary") or {})
        statuses: list[str] = []
        variants: list[Any] = list(pending.get("ProductionVariants") or [])
        for variant in variants:
            entries: list[Any] = list(dict(variant).get("VariantStatus") or [])
            statuses.extend(str(dict(vs).get("Status")) for vs in entries)
        last: dict[str, Any] = dict(describe.get("LastDeploymentConfig") or {})
        rollback: dict[str, Any] = dict(last.get("AutoRollbackConfiguration") or {})
        weights: list[tuple[str, float]] = []
        live_variants: list[Any] = list(describe.get("ProductionVariants") or [])
        for variant in live_variants:
            v = dict(variant)
            current = v.get("CurrentWeight")
            if current is not None:
                weights.append((str(v.get("VariantName")), float(current)))
        attempt = tags.get(ATTEMPT_TAG)
        return cls(
            name=str(describe.get("EndpointName")),
            status=str(describe.get("EndpointStatus")),
            config_name=_str(describe.get("EndpointConfigName")),
            deployed_config=tags.get(DEPLOYED_CONFIG_TAG),
            deployed_attempt=int(attempt) if attempt is not None and attempt.isdigit() else None,
            pending_config=_str(pending.get("EndpointConfigName")),
            pending_variant_statuses=tuple(statuses),
            failure_reason=_str(describe.get("FailureReason")),
            has_auto_rollback=bool(rollback.get("Alarms")),
            tags=tuple(sorted(tags.items())),
            weights=tuple(weights),
        )


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class PhaseView:
    phase: Phase
    verdict: Verdict
    reason: str


def phase(live: LiveEndpoint) -> PhaseView:
    """The deployment phase of a blue/green or rolling endpoint, and the CI verdict.

    Verdicts follow the canary's exit codes: completed 0, rolled_back / failed 1, in_progress 3.
    A rollback in progress is already a rolled-back deployment for a CI gate.
    """
    if live.status in _FAILED:
        why = "" if live.failure_reason is None else f": {live.failure_reason}"
        return PhaseView("failed", "failed", f"endpoint is {live.status}{why}")
    if live.status == "RollingBack":
        return PhaseView(
            "rolling_back",
            "rolled_back",
            f"SageMaker is rolling back to {live.config_name}"
            + ("" if live.failure_reason is None else f": {live.failure_reason}"),
        )
    if live.status in _IN_PROGRESS:
        statuses = set(live.pending_variant_statuses)
        target = live.pending_config or "the new config"
        if live.status == "Creating":
            return PhaseView("creating", "in_progress", "endpoint is being created")
        if "Baking" in statuses:
            return PhaseView("baking", "in_progress", f"baking {target} with traffic")
        if "ActivatingTraffic" in statuses:
            return PhaseView("shifting", "in_progress", f"shifting traffic to {target}")
        return PhaseView("provisioning", "in_progress", f"provisioning {target}")
    # InService (or anything else SageMaker serves from)
    if live.deployed_config is not None and live.config_name != live.deployed_config:
        why = "" if live.failure_reason is None else f" (FailureReason: {live.failure_reason})"
        return PhaseView(
            "rolled_back",
            "rolled_back",
            f"endpoint runs {live.config_name} but the stack deployed {live.deployed_config}: "
            f"SageMaker rolled the deployment back{why}",
        )
    return PhaseView("completed", "completed", f"serving {live.config_name}")


def check_deploy(
    live: LiveEndpoint | None, *, config_path: str, strategy_key: str, attempt: int
) -> str | None:
    """Why `pulumi up` must stop for this endpoint, or None when it may go on.

    Stops when SageMaker rolled back (the endpoint runs another config than the stack deployed)
    and `strategy.<strategy_key>.attempt` is not above the attempt that was rolled back; the
    message names the endpoint, the config it runs, why, and the command that acknowledges it.
    `config_path` is the endpoint's key path (`endpoints.<key>`).
    """
    if live is None:
        return None
    view = phase(live)
    if view.phase not in ("rolled_back", "rolling_back"):
        return None
    rolled = live.deployed_attempt if live.deployed_attempt is not None else 1
    if attempt > rolled:
        return None
    key = f"{config_path}.strategy.{strategy_key}.attempt"
    return (
        f"endpoint {live.name!r} ({config_path}): {view.reason}. Pulumi's state still records "
        f"{live.deployed_config} as deployed, so this `pulumi up` would report success over "
        f"the rollback. Not deploying. Fix the cause, then acknowledge and deploy again by "
        f"raising `{key}` (a new attempt replaces the endpoint config and starts a new "
        f"SageMaker deployment): pulumi config set --path 'sagemaker-rollouts:{key}' "
        f"{rolled + 1}"
    )
