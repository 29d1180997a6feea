"""shadow: the new model gets a copy of live traffic; only the production variant answers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import Field

from sagemaker_rollouts.strategies import common
from sagemaker_rollouts.strategies.common import Context
from sagemaker_rollouts.strategies.config_rules import EndpointChecks
from sagemaker_rollouts.strategies.config_values import (
    Bool,
    ConfigModel,
    Int,
    Number,
    Text,
    matches,
)
from sagemaker_rollouts.strategies.plan import EndpointPlan, Profile, ShadowPlan


class OutputField(ConfigModel):
    """One field of the models' answers to compare (shadow report) or watch (drift).

    `json_path` (`$.a.b`) reads a JSON answer, `csv_column` (0-based) a CSV one; neither: the whole
    answer. `kind: label` compares exactly; `number` agrees within `tolerance` (absolute).
    """

    name: Annotated[
        Text,
        Field(json_schema_extra={"pattern": r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"}),
        matches(
            r"[A-Za-z_][A-Za-z0-9_]{0,62}", "1..63 letters, digits or _, not starting with a digit"
        ),
    ]
    """The field's name in reports (letters, digits, _)."""
    json_path: (
        Annotated[
            Text,
            matches(r"\$(\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*", "a JSON path like $.scores[0].label"),
        ]
        | None
    ) = None
    """Where the field is in a JSON answer ($.a.b[0])."""
    csv_column: Annotated[Int, Field(ge=0, le=10000)] | None = None
    """0-based column of a CSV answer."""
    kind: Literal["label", "number"] = "label"
    """label: compared exactly; number: agrees within tolerance."""
    tolerance: Annotated[Number, Field(ge=0)] | None = None
    """Largest absolute difference that still agrees (kind number)."""


class PromoteWhen(ConfigModel):
    """Thresholds for the shadow report's recommendation. `min_agreement` is a percent (0-100)."""

    min_pairs: Annotated[Int, Field(ge=1)] = 1000
    """Fewest compared request pairs before a recommendation."""
    min_agreement: Annotated[Number, Field(ge=0, le=100)] = 99.0
    """Percent (0..100) of pairs that must agree."""
    max_p99_latency_ratio: Annotated[Number, Field(gt=0)] = 1.2
    """Highest shadow/production p99 latency ratio."""


class ShadowConfig(ConfigModel):
    production: Text
    """The variant that answers requests."""
    shadow: Text
    """The variant that gets a copy of the traffic."""
    sampling_percent: Annotated[Int, Field(ge=1, le=100)] = 100
    """Percent of requests copied to the shadow (1..100)."""
    promote_when: PromoteWhen = Field(default_factory=PromoteWhen)
    """Thresholds for the shadow report's recommendation."""
    outputs: list[OutputField] = Field(default_factory=list[OutputField], max_length=20)
    """Fields of the answers to compare (default: the whole answer)."""
    pair_window_seconds: Annotated[Int, Field(ge=1, le=3600)] = 5
    """Seconds within which a production and a shadow answer to the same request are paired."""
    athena: Bool = False  # declare a Glue table over the capture prefix for `--engine athena`
    """Declare a Glue table over the capture prefix for `rollout shadow-report --engine athena`."""


def check(chk: EndpointChecks, sp: str, cfg: ShadowConfig) -> None:
    """Two distinct variants named by production and shadow; capture on; output fields."""
    p = chk.path
    prod = chk.variant(f"{sp}.production", cfg.production)
    shadow = chk.variant(f"{sp}.shadow", cfg.shadow)
    if chk.variants_ok and len(chk.variants) != 2:
        chk.errs.append(
            f"{p}.variants: shadow takes exactly one production and one shadow variant, "
            f"got {len(chk.variants)} variants"
        )
    if prod is not None and prod is shadow:
        chk.errs.append(f"{sp}.shadow: must differ from production")
    dc = chk.ep.data_capture
    if dc is not None and chk.bad.ok(f"{p}.data_capture.enabled") and dc.enabled is False:
        chk.errs.append(
            f"{p}.data_capture.enabled: shadow compares captured responses; it must be on"
        )
    if chk.bad.ok(f"{sp}.outputs"):
        check_outputs(f"{sp}.outputs", cfg.outputs, chk.errs)


def check_outputs(path: str, fields: Sequence[OutputField], errs: list[str]) -> None:
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


def check_gates(chk: EndpointChecks) -> None:
    """No gate alarms: the shadow never answers, nothing moves traffic."""


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
        models=common.models(ctx, [prod, shadow]),
        production_variants=(common.variant(prod, 100, endpoint_name=ctx.endpoint_name),),
        shadow_variants=(
            common.variant(shadow, s.sampling_percent, endpoint_name=ctx.endpoint_name),
        ),
        alarms=tuple(alarms),
        data_capture=common.data_capture(ctx, default_on=True),
        endpoint_kms=common.endpoint_kms(ctx, [prod, shadow]),
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
        strategy_plan=ShadowPlan(
            report=ShadowReportPlan(
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
                glue=glue_names(ctx.project, ctx.stack_name, ctx.endpoint_name)
                if s.athena
                else None,
            )
        ),
    )
