"""From a validated stack config to a DeploymentPlan: one pure function per strategy."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import assert_never

from sagemaker_rollouts.lambdas.rollout import RolloutSpec
from sagemaker_rollouts.strategies import (
    ab,
    aws_limits,
    blue_green,
    canary,
    common,
    deploy_checks,
    recreate,
    rollback,
    rolling,
    shadow,
)
from sagemaker_rollouts.strategies.common import Context
from sagemaker_rollouts.strategies.config import ConfigError, NotificationsConfig, StackConfig
from sagemaker_rollouts.strategies.plan import (
    ABPlan,
    BlueGreenPlan,
    CanaryPlan,
    ChatChannelPlan,
    CiRolePlan,
    DeploymentPlan,
    EndpointPlan,
    NotificationsPlan,
    RecreatePlan,
    RollingPlan,
    ShadowPlan,
    SubscriptionPlan,
)

PLANNERS: dict[str, Callable[[Context], EndpointPlan]] = {
    "recreate": recreate.plan,
    "shadow": shadow.plan,
    "canary": canary.plan,
    "ab": ab.plan,
    "blue_green": blue_green.plan,
    "rolling": rolling.plan,
}

# Gate alarms of a blue/green or rolling endpoint: SageMaker's AutoRollbackConfig.Alarms takes
# 1..10 (botocore AlarmList), and the gates are combined into one metric-math rollback alarm,
# which references at most 10 metrics (strategies/rollback.py).
MAX_ROLLBACK_ALARMS = rollback.MAX_METRICS
# CloudWatch DescribeAlarms AlarmNames: at most 100 (botocore cloudwatch model); the hook reads
# all its alarms in one call.
MAX_DESCRIBE_ALARMS = int(aws_limits.SHAPES["cloudwatch.AlarmNames"]["max"])


def _with_drift(ctx: Context, plan: EndpointPlan, errs: list[str]) -> EndpointPlan:
    """Attach the drift job (and, except for canaries, which add their own, its alarms)."""
    from sagemaker_rollouts.lambdas.drift import (
        BASELINE_PREFIX,
        DriftJobSpec,
        DriftPlan,
        FeatureSpec,
        baseline_key,
    )

    d = ctx.ep.drift
    assert d is not None
    if plan.data_capture is None:
        errs.append(
            f"{ctx.path}.drift: reads captured requests; turn data capture on "
            "(data_capture: {sampling_percent: 10})"
        )
        return plan
    # The variant the new model runs on: its captures are what drift is measured on.
    canary: RolloutSpec | None = None
    match plan.strategy_plan:
        case CanaryPlan(rollout=canary):
            default = canary.candidate_variant
        case ShadowPlan():
            default = plan.shadow_variants[0].name
        case RecreatePlan() | ABPlan() | BlueGreenPlan() | RollingPlan():
            default = plan.production_variants[0].name
        case _:
            assert_never(plan.strategy_plan)
    variant = common.drift_variant(ctx, default)
    prefix = plan.data_capture.destination_prefix.strip("/")
    # Every endpoint capturing into the stack's bucket gets a lifecycle rule on its prefix; one
    # that covers the baseline would expire it, and the drift job would then fail every run.
    for key, other in ctx.stack.endpoints.items():
        dc = other.data_capture
        if dc is None or not dc.enabled or dc.destination_s3_uri is not None:
            continue
        theirs = None if dc.destination_prefix is None else dc.destination_prefix.strip("/")
        if theirs is not None and (theirs == "" or f"{BASELINE_PREFIX}/".startswith(f"{theirs}/")):
            errs.append(
                f"endpoints.{key}.data_capture.destination_prefix: {dc.destination_prefix!r} "
                f"puts the drift baseline ({BASELINE_PREFIX}/) under the capture lifecycle rule, "
                "which would delete it after retention_days; use a prefix such as "
                f"capture/{key}"
            )
    if canary is not None and d.gate:
        # A drift gate has no data until the job's first run and one whole alarm period after
        # it; the controller rolls back past insufficient_data_limit_seconds of that.
        first = 2 * d.every_minutes * 60
        limit = canary.insufficient_data_limit_seconds
        if limit <= first:
            errs.append(
                f"{ctx.path}.strategy.canary.insufficient_data_limit_seconds: {limit} s is not "
                f"longer than the {first} s a drift gate waits for its first scores (one run of "
                f"the drift job every {d.every_minutes} min, then one whole alarm period), so the "
                "canary would roll back before the job ever reports; raise it above "
                f"{first} or lower {ctx.path}.drift.every_minutes"
            )
    job = DriftJobSpec(
        endpoint_name=ctx.endpoint_name,
        variant=variant,
        capture_prefix=prefix,
        baseline_key=baseline_key(ctx.endpoint_name),
        features=tuple(
            FeatureSpec(f.name, f.source, f.json_path, f.csv_column) for f in d.features
        ),
        sample_size=d.sample_size,
        lookback_hours=d.lookback_hours,
        every_minutes=d.every_minutes,
    )
    with open(d.baseline, encoding="utf-8") as fh:  # validated readable by load_config
        baseline_json = fh.read()
    alarms = plan.alarms
    if canary is None:  # a canary's drift alarms are planned with its gates
        alarms = (*alarms, *common.drift_alarms(ctx, default, gates_allowed=False))
    return dataclasses.replace(
        plan,
        alarms=alarms,
        drift=DriftPlan(job=job, baseline_json=baseline_json, threshold=d.threshold, gate=d.gate),
    )


def _gate_problems(plan: EndpointPlan, where: str) -> list[str]:
    """The gate-alarm counts a strategy's watcher can take (`where`: `endpoints.<k>.alarms`)."""
    gates = plan.gate_alarms
    match plan.strategy_plan:
        case BlueGreenPlan() | RollingPlan():
            if 1 <= len(gates) <= MAX_ROLLBACK_ALARMS:
                return []
            return [
                f"{where}: {plan.strategy} needs 1..{MAX_ROLLBACK_ALARMS} auto-rollback alarms "
                f"(enabled standard alarms plus custom alarms with gate: true), got {len(gates)}"
            ]
        case CanaryPlan(rollout=rollout):
            errs: list[str] = []
            if not gates:
                errs.append(
                    f"{where}: a canary needs at least one gate alarm on the candidate, got 0"
                )
            watched = len(rollout.watched_alarms())
            if watched > MAX_DESCRIBE_ALARMS:
                errs.append(
                    f"{where}: the canary hook would watch {watched} alarms (gates, the sample "
                    f"alarm and the stable's baseline alarms); CloudWatch DescribeAlarms reads at "
                    f"most {MAX_DESCRIBE_ALARMS} names per call, so every tick would fail; gate "
                    "fewer alarms (a custom alarm with gate: false is still declared, not watched)"
                )
            return errs
        case RecreatePlan() | ShadowPlan() | ABPlan():
            return []
        case _:
            assert_never(plan.strategy_plan)


def build_plan(
    config: StackConfig, *, project: str, stack: str, region: str | None = None
) -> DeploymentPlan:
    """The whole stack's plan. Raises ConfigError for rules that need the planned alarms.

    `region` defaults to the one the config was validated for (`aws:region`).
    """
    endpoints: list[EndpointPlan] = []
    errs: list[str] = []
    for key, ep in config.endpoints.items():
        ctx = Context(key=key, ep=ep, stack=config, project=project, stack_name=stack)
        plan = PLANNERS[ep.strategy.name](ctx)
        if ep.adopt:
            plan = dataclasses.replace(plan, adopt=True)
        if ep.drift is not None:
            plan = _with_drift(ctx, plan, errs)
        errs += deploy_checks.plan_problems(plan, ctx.path, stack)  # what `pulumi up` would fail on
        errs += _gate_problems(plan, f"{ctx.path}.alarms")
        endpoints.append(plan)
    in_bucket = [
        (e, e.data_capture)
        for e in endpoints
        if e.data_capture is not None and e.data_capture.destination_s3_uri is None
    ]
    choices = {dc.on_destroy for _, dc in in_bucket}
    if len(choices) > 1:
        keys = ", ".join(
            f"endpoints.{e.key}.data_capture.on_destroy={dc.on_destroy}" for e, dc in in_bucket
        )
        errs.append(
            f"data_capture.on_destroy: the endpoints share one capture bucket, so they must agree "
            f"(retain or delete), got {keys}"
        )
    if errs:
        raise ConfigError(errs)
    capture = any(
        e.data_capture is not None and e.data_capture.destination_s3_uri is None for e in endpoints
    )
    kms = any(
        e.endpoint_kms or (e.data_capture is not None and e.data_capture.kms) for e in endpoints
    )
    # A/B evaluators record their evidence in the rollout history and notify like the hook does.
    canaries = any(e.uses_state_table for e in endpoints)
    notify = notifications_plan(config.notifications)
    # A drift job that cannot measure tells a human on the stack's topic.
    drifts = any(e.drift is not None for e in endpoints)
    return DeploymentPlan(
        project=project,
        stack=stack,
        region=config.region if region is None else region,
        endpoints=tuple(endpoints),
        tags=tuple(sorted({**config.tags, "managed-by": project, "rollouts:stack": stack}.items())),
        needs_capture_bucket=capture,
        needs_kms_key=kms or canaries or capture,
        state_table_name=f"{project}-{stack}-rollouts" if canaries else None,
        topic_name=f"{project}-{stack}-rollout-events"
        if canaries or drifts or notify is not None
        else None,
        notifications=notify,
        ci_role=None
        if config.ci_role is None
        else CiRolePlan(
            config.ci_role.github_repository,
            tuple(config.ci_role.refs),
            tuple(config.ci_role.environments),
            config.ci_role.oidc_provider_arn,
            config.ci_role.role_name or f"{project}-{stack}-deploy"[:64],
            preview_role_name=(
                f"{config.ci_role.role_name or f'{project}-{stack}'}-preview"[:64]
                if config.ci_role.preview_role
                else None
            ),
            declare_oidc_provider=config.ci_role.declare_oidc_provider
            and config.ci_role.oidc_provider_arn is None,
        ),
        kms_deletion_window_days=config.kms_deletion_window_days,
        capture_retention=tuple(
            sorted({(dc.destination_prefix, dc.retention_days) for _, dc in in_bucket})
        ),
        capture_on_destroy="delete" if choices == {"delete"} else "retain",
    )


def notifications_plan(cfg: NotificationsConfig | None) -> NotificationsPlan | None:
    """The stack's subscribers (None: nobody configured)."""
    if cfg is None:
        return None
    return NotificationsPlan(
        topic_arn=cfg.topic_arn,
        subscriptions=tuple(SubscriptionPlan(s.protocol, s.endpoint) for s in cfg.subscriptions),
        chat_channels=tuple(
            ChatChannelPlan(c.kind, c.channel_id, c.workspace_id, c.team_id, c.tenant_id)
            for c in cfg.chat_channels
        ),
        topic_kms_key_arn=cfg.topic_kms_key_arn,
    )
