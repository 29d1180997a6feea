"""shadow: the new model gets a copy of live traffic; only the production variant answers."""

from __future__ import annotations

from sagemaker_rollouts.strategies import common
from sagemaker_rollouts.strategies.common import Context
from sagemaker_rollouts.strategies.plan import EndpointPlan, Profile


def plan(ctx: Context) -> EndpointPlan:
    """One production variant at weight 100 and one shadow variant whose weight is its sampling %.

    SageMaker copies to a shadow variant the share of requests given by its weight relative to the
    production variant's, so weight == sampling percent against a production weight of 100.
    Data capture is on by default: the shadow's answers are only ever captured, never returned.
    """
    # The report's module is imported only when a stack has a shadow endpoint.
    from sagemaker_rollouts.strategies.shadow_compare import (
        WHOLE_ANSWER,
        FieldSpec,
        ShadowReportPlan,
        Thresholds,
        glue_names,
    )

    s = ctx.ep.strategy.shadow
    assert s is not None
    prod, shadow = ctx.variant(s.production), ctx.variant(s.shadow)
    alarms = (
        common.variant_alarms(ctx, prod.name, gate=False)
        + common.variant_alarms(ctx, shadow.name, gate=False)
        + common.custom_alarms(ctx, gates_allowed=False)
    )
    return EndpointPlan(
        key=ctx.key,
        endpoint_name=ctx.endpoint_name,
        strategy="shadow",
        models=common.models(ctx, [prod, shadow]),
        production_variants=(common.variant(prod, 100, endpoint_name=ctx.endpoint_name),),
        shadow_variants=(
            common.variant(shadow, s.sampling_percent, endpoint_name=ctx.endpoint_name),
        ),
        deployment=None,
        replace_on_change=False,
        alarms=tuple(alarms),
        data_capture=common.data_capture(ctx, default_on=True),
        endpoint_kms=common.endpoint_kms(ctx, [prod, shadow]),
        canary=None,
        profile=Profile(
            downtime=False,
            rollback_speed="instant",
            rollback_note="drop the shadow variant; users never saw its answers",
            live_traffic_test=True,
            extra_instances=shadow.instance_count,
            time_to_full_seconds=None,
            extra_instance_hours=None,
        ),
        tags=common.tags(ctx, "shadow"),
        timeline=((0, 0),),
        shadow_report=ShadowReportPlan(
            production=prod.name,
            shadow=shadow.name,
            fields=tuple(
                FieldSpec(
                    name=f.name,
                    kind=f.kind,
                    json_path=f.json_path,
                    csv_column=f.csv_column,
                    tolerance=0.0 if f.tolerance is None else f.tolerance,
                )
                for f in s.outputs
            )
            or (WHOLE_ANSWER,),
            thresholds=Thresholds(
                min_pairs=s.promote_when.min_pairs,
                min_agreement=s.promote_when.min_agreement,
                max_p99_latency_ratio=s.promote_when.max_p99_latency_ratio,
            ),
            window_seconds=s.pair_window_seconds,
            glue=glue_names(ctx.project, ctx.stack_name, ctx.endpoint_name) if s.athena else None,
        ),
    )
