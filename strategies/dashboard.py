"""The CloudWatch dashboard of one endpoint, as plain data (the `DashboardBody` JSON).

Pure: `infra` declares it (`aws.cloudwatch.Dashboard`) and `rollout status` prints its URL, both
from the functions here. Widgets (CloudWatch dashboard body structure, CloudWatch API reference
"Dashboard Body Structure and Syntax"):

- per-variant invocations, 4XX and 5XX errors, ModelLatency p50 and p99 (namespace AWS/SageMaker,
  dimensions EndpointName + VariantName; ModelLatency is in microseconds);
- for canaries, the candidate's weight (%) and the rollout step from the hook's Embedded Metric
  Format lines (namespace `RolloutSpec.metric_namespace`, dimension EndpointName, metrics
  `CandidateWeight` and `Step`, see lambdas/aws_adapter.py `emf_line`);
- the state of every alarm of the endpoint;
- one row per extra section: `SECTIONS` is the extension point. A section is a function
  `(EndpointPlan) -> list[widget]`; agreement and drift widgets are added there by the features
  that publish those metrics.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, assert_never

from sagemaker_rollouts.strategies.plan import (
    ABPlan,
    BlueGreenPlan,
    CanaryPlan,
    EndpointPlan,
    RecreatePlan,
    RollingPlan,
    ShadowPlan,
)

if TYPE_CHECKING:
    from sagemaker_rollouts.lambdas.rollout import RolloutSpec

Widget = dict[str, Any]
Section = Callable[[EndpointPlan], list[Widget]]

SAGEMAKER_NS = "AWS/SageMaker"
WIDTH = 24  # the dashboard grid is 24 units wide
_NAME_SUFFIX = "-rollout"


def dashboard_name(endpoint_name: str, region: str) -> str:
    """`<endpoint>-<region>-rollout`. Endpoint names are unique per account and region, but
    dashboards are global to the account (botocore cloudwatch model, PutDashboard), hence the
    region. Valid: A-Z, a-z, 0-9, `-`, `_`, at most 255 (PutDashboard DashboardName); endpoint
    names are at most 63 alphanumerics and hyphens."""
    return f"{endpoint_name}-{region}{_NAME_SUFFIX}"


def dashboard_url(region: str, name: str) -> str:
    """Console URL of a dashboard in the commercial partition."""
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#dashboards/dashboard/{name}"
    )


def _variants(ep: EndpointPlan) -> list[str]:
    return [v.name for v in (*ep.production_variants, *ep.shadow_variants)]


def _metric_widget(
    title: str, metrics: list[list[Any]], region: str, *, stat: str = "Sum", unit: str = ""
) -> Widget:
    props: dict[str, Any] = {
        "title": title,
        "region": region,
        "view": "timeSeries",
        "stacked": False,
        "period": 60,
        "stat": stat,
        "metrics": metrics,
    }
    if unit:
        props["yAxis"] = {"left": {"label": unit, "showUnits": False}}
    return {"type": "metric", "properties": props}


def _per_variant(ep: EndpointPlan, metric: str, stat: str | None = None) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for variant in _variants(ep):
        row: list[Any] = [SAGEMAKER_NS, metric, "EndpointName", ep.endpoint_name]
        row += ["VariantName", variant]
        opts: dict[str, Any] = {
            "label": f"{variant} {metric}" if stat is None else f"{variant} {stat}"
        }
        if stat is not None:
            opts["stat"] = stat
        rows.append([*row, opts])
    return rows


def traffic_widgets(ep: EndpointPlan, region: str) -> list[Widget]:
    """Invocations, 4XX/5XX and ModelLatency p50/p99 for every variant (shadow ones too)."""
    errors = _per_variant(ep, "Invocation4XXErrors") + _per_variant(ep, "Invocation5XXErrors")
    latency = _per_variant(ep, "ModelLatency", "p50") + _per_variant(ep, "ModelLatency", "p99")
    return [
        _metric_widget("Invocations per variant", _per_variant(ep, "Invocations"), region),
        _metric_widget("4XX / 5XX errors per variant", errors, region),
        _metric_widget(
            "ModelLatency p50 / p99 per variant", latency, region, stat="p99", unit="microseconds"
        ),
    ]


def _stepped(ep: EndpointPlan, completed: bool) -> RolloutSpec | None:
    """The rollout a canary's hook still steps; None for other strategies and after completion."""
    match ep.strategy_plan:
        case CanaryPlan(rollout=spec):
            return None if completed else spec
        case RecreatePlan() | ShadowPlan() | ABPlan() | BlueGreenPlan() | RollingPlan():
            return None
        case _:
            assert_never(ep.strategy_plan)


def rollout_widgets(ep: EndpointPlan, region: str, *, completed: bool = False) -> list[Widget]:
    """The canary candidate's weight (%) and step index, from the hook's EMF metrics (none after
    the canary `completed`: its hook is removed)."""
    spec = _stepped(ep, completed)
    if spec is None:
        return []
    ns, dims = spec.metric_namespace, ["EndpointName", ep.endpoint_name]
    weight = _metric_widget(
        f"Candidate {spec.candidate_variant} weight (%)",
        [[ns, "CandidateWeight", *dims, {"label": "candidate %"}]],
        region,
        stat="Maximum",
        unit="%",
    )
    weight["properties"]["yAxis"]["left"].update(min=0, max=100)
    step = _metric_widget(
        "Rollout step", [[ns, "Step", *dims, {"label": "step index"}]], region, stat="Maximum"
    )
    return [weight, step]


def alarm_widget(ep: EndpointPlan, alarm_arns: Sequence[str]) -> Widget:
    """The state of the endpoint's alarms (at most 100 per widget: the CloudWatch limit)."""
    return {
        "type": "alarm",
        "properties": {
            "title": f"Alarms of {ep.endpoint_name}",
            "alarms": list(alarm_arns)[:100],
            "sortBy": "stateUpdatedTimestamp",
            "states": [],
        },
    }


def text_widget(ep: EndpointPlan, stack: str, *, completed: bool = False) -> Widget:
    """What this endpoint runs, and the `rollout` commands that act on it."""
    lines = [f"## {ep.endpoint_name} ({ep.strategy})", ""]
    lines.append(f"`rollout status --stack {stack} --endpoint {ep.key}`")
    if _stepped(ep, completed) is not None:
        lines.append(f"`rollout pause|resume|promote|abort --stack {stack} --endpoint {ep.key}`")
    return {"type": "text", "properties": {"markdown": "\n".join(lines)}}


# The extension point: further sections (agreement, drift) append themselves here.
SECTIONS: list[Section] = []


def dashboard_body(
    ep: EndpointPlan,
    *,
    region: str,
    stack: str,
    alarm_arns: Sequence[str],
    sections: Sequence[Section] | None = None,
    completed: bool = False,
) -> dict[str, Any]:
    """The dashboard body of `ep`: rows of widgets laid out on the 24-unit grid.

    `alarm_arns`: ARNs of the endpoint's alarms (the alarm widget needs ARNs, not names).
    `sections`: extra widget rows (default `SECTIONS`).
    `completed`: a finished canary (no hook left: no rollout widgets, no operator commands).
    """
    rows: list[list[Widget]] = [
        [
            text_widget(ep, stack, completed=completed),
            *rollout_widgets(ep, region, completed=completed),
        ],
        traffic_widgets(ep, region),
    ]
    if alarm_arns:
        rows.append([alarm_widget(ep, alarm_arns)])
    for section in SECTIONS if sections is None else sections:
        widgets = section(ep)
        if widgets:
            rows.append(widgets)
    placed: list[Widget] = []
    y = 0
    for row in rows:
        width = max(WIDTH // len(row), 6)
        height = 3 if all(w["type"] == "text" for w in row) else 6
        for i, widget in enumerate(row):
            placed.append(
                {**widget, "x": (i * width) % WIDTH, "y": y, "width": width, "height": height}
            )
        y += height * ((len(row) * width + WIDTH - 1) // WIDTH)
    return {"widgets": placed}


_VALID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


def is_valid_dashboard_name(name: str) -> bool:
    """PutDashboard's DashboardName: A-Z, a-z, 0-9, `-`, `_`, at most 255 (botocore model)."""
    return _VALID.fullmatch(name) is not None
