"""Hand-built `DeploymentPlan`s for the infra tests: each strategy's shape without the planner.

They exercise what the sample stacks may not (a VPC model, an existing execution role, a 0-weight
variant, every blue/green routing). Built with `replace()` from small defaults so a test states
only what it is about.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from sagemaker_rollouts.lambdas.rollout import RolloutSpec, Step, rollout_id
from sagemaker_rollouts.strategies.plan import (
    ABPlan,
    AlarmPlan,
    BlueGreenPlan,
    CanaryPlan,
    CapacitySize,
    DataCapturePlan,
    DeploymentPlan,
    EndpointPlan,
    ModelPlan,
    Profile,
    RecreatePlan,
    RollingPlan,
    ShadowPlan,
    VariantPlan,
    VpcPlan,
)
from sagemaker_rollouts.strategies.shadow_compare import (
    WHOLE_ANSWER,
    ShadowReportPlan,
    Thresholds,
)

if TYPE_CHECKING:
    from sagemaker_rollouts.lambdas.ab_winner import EvaluatorSpec
    from sagemaker_rollouts.strategies.relative_gates import RelativeAlarmPlan

REGION = "us-east-1"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
PROFILE = Profile(
    downtime=False,
    rollback_speed="fast",
    rollback_note="",
    live_traffic_test=False,
    extra_instances=0,
    time_to_full_seconds=None,
    extra_instance_hours=0.0,
)


def model(key: str, **kw: object) -> ModelPlan:
    base = ModelPlan(
        key=key,
        image=IMAGE,
        model_data_url=f"s3://acme-models/{key}/model.tar.gz",
        environment=(("LOG_LEVEL", "info"),),
        execution_role_arn=None,
        vpc=None,
        network_isolation=True,
        fingerprint=f"fp-{key}",
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def variant(name: str, model_key: str, weight: int = 100, count: int = 1) -> VariantPlan:
    return VariantPlan(
        name=name, model=model_key, instance_type="ml.m5.large", instance_count=count, weight=weight
    )


def alarm(
    endpoint: str, variant_name: str | None, kind: str = "5xx", gate: bool = True
) -> AlarmPlan:
    dims = (("EndpointName", endpoint),)
    if variant_name is not None:
        dims = (*dims, ("VariantName", variant_name))
    latency = kind == "latency"
    return AlarmPlan(
        key=f"{variant_name}-{kind}",
        name=f"{endpoint}-{variant_name}-{kind}",
        namespace="AWS/SageMaker",
        metric="ModelLatency" if latency else "Invocation5XXErrors",
        statistic=None if latency else "Sum",
        extended_statistic="p99" if latency else None,
        threshold=250_000.0 if latency else 5.0,
        comparison="GreaterThanThreshold",
        period_seconds=60,
        evaluation_periods=3,
        datapoints_to_alarm=2,
        treat_missing_data="notBreaching",
        dimensions=dims,
        variant=variant_name,
        gate=gate,
        description=f"{kind} of {variant_name}",
    )


def endpoint(key: str = "ep", name: str = "ep-test", **kw: object) -> EndpointPlan:
    base = EndpointPlan(
        key=key,
        endpoint_name=name,
        strategy_plan=RecreatePlan(),
        models=(model("m1"),),
        production_variants=(variant("primary", "m1"),),
        shadow_variants=(),
        alarms=(alarm(name, "primary"), alarm(name, "primary", "latency")),
        data_capture=None,
        endpoint_kms=True,
        profile=PROFILE,
        tags=(("endpoint", key),),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def deployment(*endpoints: EndpointPlan, stack: str = "test") -> DeploymentPlan:
    canary = any(e.uses_state_table for e in endpoints)
    return DeploymentPlan(
        project="sagemaker-rollouts",
        stack=stack,
        region=REGION,
        endpoints=endpoints,
        tags=(("team", "ml"),),
        needs_capture_bucket=any(
            e.data_capture is not None and e.data_capture.destination_s3_uri is None
            for e in endpoints
        ),
        needs_kms_key=True,
        state_table_name=f"sagemaker-rollouts-{stack}-rollouts" if canary else None,
    )


def recreate() -> EndpointPlan:
    return endpoint("churn", "churn-dev", strategy_plan=RecreatePlan())


def ab_with_dark_variant() -> EndpointPlan:
    name = "ranker-ab"
    return endpoint(
        "ranker",
        name,
        strategy_plan=ABPlan(),
        models=(model("a"), model("b"), model("c")),
        production_variants=(
            variant("control", "a", 70),
            variant("challenger", "b", 30),
            variant("dark", "c", 0),
        ),
        alarms=tuple(alarm(name, v, gate=False) for v in ("control", "challenger", "dark")),
    )


# What the shadow planner always plans: the report's comparison (no Glue table without `athena`).
SHADOW_REPORT = ShadowReportPlan(
    production="live",
    shadow="shadow",
    fields=(WHOLE_ANSWER,),
    thresholds=Thresholds(min_pairs=1, min_agreement=99.0, max_p99_latency_ratio=1.2),
    window_seconds=5,
    glue=None,
)


def shadow() -> EndpointPlan:
    name = "fraud-shadow"
    return endpoint(
        "fraud",
        name,
        strategy_plan=ShadowPlan(SHADOW_REPORT),
        models=(model("live"), model("next")),
        production_variants=(variant("live", "live"),),
        shadow_variants=(variant("shadow", "next", 50),),
        alarms=(alarm(name, "live"), alarm(name, "shadow", gate=False)),
        data_capture=DataCapturePlan(
            sampling_percent=20,
            destination_prefix="capture/fraud-shadow",
            destination_s3_uri=None,
            kms=True,
        ),
    )


def blue_green(routing: str = "LINEAR") -> EndpointPlan:
    name = "search-bg"
    return endpoint(
        "search",
        name,
        production_variants=(variant("primary", "m1", count=4),),
        strategy_plan=BlueGreenPlan(
            routing=routing,  # type: ignore[arg-type]
            wait_seconds=300,
            canary_size=CapacitySize("CAPACITY_PERCENT", 25) if routing == "CANARY" else None,
            linear_step=CapacitySize("CAPACITY_PERCENT", 25) if routing == "LINEAR" else None,
            termination_wait_seconds=120,
            max_execution_timeout_seconds=3600,
        ),
    )


def rolling() -> EndpointPlan:
    return endpoint(
        "recs",
        "recs-rolling",
        production_variants=(variant("primary", "m1", count=6),),
        strategy_plan=RollingPlan(
            maximum_batch_size=CapacitySize("CAPACITY_PERCENT", 25),
            wait_seconds=120,
            rollback_maximum_batch_size=CapacitySize("INSTANCE_COUNT", 2),
            max_execution_timeout_seconds=7200,
        ),
    )


def with_vpc_and_role() -> EndpointPlan:
    """One model in a VPC with a created role, one with an existing role."""
    return endpoint(
        "vpc",
        "vpc-ep",
        strategy_plan=ABPlan(),
        models=(
            model("inside", vpc=VpcPlan(("sg-0123",), ("subnet-a", "subnet-b"))),
            model("byo", execution_role_arn="arn:aws:iam::123456789012:role/existing"),
        ),
        # Local NVMe storage: SageMaker refuses a volume key, so the plan has none.
        production_variants=tuple(
            replace(v, instance_type="ml.g5.xlarge")
            for v in (variant("inside", "inside", 50), variant("byo", "byo", 50))
        ),
        endpoint_kms=False,
    )


def canary(attempt: int = 1, sample_alarm: bool = True) -> EndpointPlan:
    name = "fraud-detector"
    alarms = (
        alarm(name, "stable", gate=False),
        alarm(name, "candidate"),
        alarm(name, "candidate", "latency"),
    )
    sample = None
    if sample_alarm:
        low = replace(
            alarm(name, "candidate", "low-traffic", gate=False),
            metric="Invocations",
            comparison="LessThanThreshold",
            threshold=100.0,
            treat_missing_data="breaching",
        )
        alarms = (*alarms, low)
        sample = low.name
    spec = RolloutSpec(
        rollout_id=rollout_id(name, "fp-v2", attempt),
        endpoint_name=name,
        stable_variant="stable",
        candidate_variant="candidate",
        steps=(Step(5, 600), Step(25, 600), Step(100, 0)),
        gate_alarms=tuple(a.name for a in alarms if a.gate),
        min_invocations=100,
        insufficient_data_limit_seconds=900,
        sample_alarm=sample,
    )
    return endpoint(
        "fraud",
        name,
        strategy_plan=CanaryPlan(spec),
        models=(model("v1"), model("v2")),
        production_variants=(variant("stable", "v1", 95, count=3), variant("candidate", "v2", 5)),
        alarms=alarms,
        data_capture=DataCapturePlan(
            sampling_percent=10,
            destination_prefix="capture/fraud",
            destination_s3_uri=None,
            kms=True,
        ),
    )


# Reading the strategy's own part of a plan (`EndpointPlan.strategy_plan`) in tests: each fails the
# test when the endpoint runs another strategy.


def rollout_of(ep: EndpointPlan) -> RolloutSpec:
    """A canary's rollout (what its hook steps)."""
    assert isinstance(ep.strategy_plan, CanaryPlan), ep.strategy
    return ep.strategy_plan.rollout


def relative_of(ep: EndpointPlan) -> tuple[RelativeAlarmPlan, ...]:
    """A canary's gates relative to the stable variant."""
    assert isinstance(ep.strategy_plan, CanaryPlan), ep.strategy
    return ep.strategy_plan.relative_alarms


def native_of(ep: EndpointPlan) -> BlueGreenPlan | RollingPlan:
    """A blue/green or rolling endpoint's SageMaker deployment policy."""
    assert isinstance(ep.strategy_plan, BlueGreenPlan | RollingPlan), ep.strategy
    return ep.strategy_plan


def evaluator_of(ep: EndpointPlan) -> EvaluatorSpec | None:
    """An A/B endpoint's evaluator (None without `successes`)."""
    assert isinstance(ep.strategy_plan, ABPlan), ep.strategy
    return ep.strategy_plan.evaluator


def report_of(ep: EndpointPlan) -> ShadowReportPlan:
    """A shadow endpoint's report plan."""
    assert isinstance(ep.strategy_plan, ShadowPlan), ep.strategy
    return ep.strategy_plan.report


def canaries(count: int) -> DeploymentPlan:
    """`count` canary endpoints `fraud-0` .. `fraud-{count-1}` (config keys `fraud0` ..), each the
    sample canary stack's endpoint, planned by the real pipeline: each has its own rollout id."""
    import copy

    from sagemaker_rollouts.strategies.config import load_config
    from sagemaker_rollouts.strategies.planner import build_plan
    from tests.stackdata import canary as canary_stack

    base = canary_stack()["endpoints"]["fraud"]
    endpoints = {
        f"fraud{i}": copy.deepcopy(base) | {"endpoint_name": f"fraud-{i}"} for i in range(count)
    }
    return build_plan(
        load_config({"endpoints": endpoints}), project="sagemaker-rollouts", stack="canary"
    )
