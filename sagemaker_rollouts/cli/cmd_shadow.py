"""`rollout shadow-report`: compare a shadow variant's captured answers with production's.

Exit codes: 0 promote, 1 reject, 3 keep shadowing (too few pairs or no latency data yet), 2 usage.
Sources: `--from-dir DIR` (capture files laid out as SageMaker writes them, offline), else the
endpoint's capture S3 URI (`--capture-uri`, or the stack's capture bucket found by its name
prefix). `--engine athena` runs the same query on Athena over the Glue table the program declares
with `strategy.shadow.athena: true`.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Only what the comparison itself needs is imported here: `compare` is the report's hot path
# (and the benchmark's); the stack loader (pydantic), rich and the plan types load on use.
from sagemaker_rollouts.cli.errors import EXIT_FAILED, EXIT_IN_PROGRESS, EXIT_OK, UsageError
from sagemaker_rollouts.strategies.shadow_compare import (
    Comparison,
    Dialect,
    Recommendation,
    ShadowReportPlan,
    VariantMetrics,
    comparison_sql,
    differences_sql,
    p99_ratio,
    parse_row,
    recommend,
)

if TYPE_CHECKING:
    from sagemaker_rollouts.strategies.plan import DeploymentPlan, EndpointPlan

EXIT_BY_ACTION = {"promote": EXIT_OK, "reject": EXIT_FAILED, "keep_shadowing": EXIT_IN_PROGRESS}
_DURATION = r"^(\d+)([smhd])$"  # compiled on first use (the report's path never parses)


def parse_time(text: str, now: datetime, arg: str) -> datetime:
    """`2026-11-29T12:00:00Z` (ISO 8601; naive means UTC) or a duration ago (`90m`, `2h`, `1d`)."""
    m = re.match(_DURATION, text.strip())
    if m is not None:
        unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
        return now - timedelta(seconds=int(m.group(1)) * unit)
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{arg}: expected an ISO 8601 time (2026-11-29T12:00:00Z) or a duration ago "
            f"(30m, 2h, 1d), got {text!r}"
        ) from None
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def report_of(ep: EndpointPlan) -> ShadowReportPlan | None:
    """What a shadow endpoint's report compares; None for the other strategies."""
    from sagemaker_rollouts.strategies.plan import ShadowPlan

    return ep.strategy_plan.report if isinstance(ep.strategy_plan, ShadowPlan) else None


def select_shadow_endpoint(plan: DeploymentPlan, wanted: str | None) -> EndpointPlan:
    """The shadow endpoint to report on, by key or name; the only one when `wanted` is None."""
    shadows = [e for e in plan.endpoints if report_of(e) is not None]
    if wanted is not None:
        for e in plan.endpoints:
            if wanted in (e.key, e.endpoint_name):
                if report_of(e) is None:
                    raise UsageError(
                        f"--endpoint {wanted}: uses the {e.strategy} strategy; shadow-report "
                        "compares shadow endpoints only"
                    )
                return e
        known = ", ".join(e.key for e in plan.endpoints)
        raise UsageError(f"--endpoint {wanted}: unknown in stack {plan.stack}; endpoints: {known}")
    if len(shadows) == 1:
        return shadows[0]
    if not shadows:
        raise UsageError(f"stack {plan.stack} has no shadow endpoint")
    raise UsageError(
        f"stack {plan.stack} has several shadow endpoints "
        f"({', '.join(e.key for e in shadows)}); pick one with --endpoint"
    )


def capture_uri(plan: DeploymentPlan, ep: EndpointPlan, aws: Any, given: str | None) -> str:
    """Where the endpoint's captures are: `--capture-uri`, the configured S3 URI, or the stack's
    capture bucket (found by the name prefix the program gives it) + the capture prefix."""
    if given is not None:
        return given.rstrip("/")
    if ep.data_capture is None:
        raise UsageError(f"endpoint {ep.key}: data capture is off; nothing to compare")
    if ep.data_capture.destination_s3_uri is not None:
        return ep.data_capture.destination_s3_uri.rstrip("/")
    from sagemaker_rollouts.infra.shared import bucket_prefix

    prefix = bucket_prefix(plan.project, plan.stack)
    names = [b["Name"] for b in aws.s3.list_buckets().get("Buckets", [])]
    found = [n for n in names if n.startswith(prefix)]
    if len(found) != 1:
        raise UsageError(
            f"cannot find the stack's capture bucket ({prefix}*): found {len(found)}; "
            "pass --capture-uri s3://BUCKET/PREFIX"
        )
    return f"s3://{found[0]}/{ep.data_capture.destination_prefix}"


def compare(
    engine: Any,
    report: ShadowReportPlan,
    since: datetime,
    until: datetime,
    *,
    differences: bool = False,
) -> tuple[Comparison, str, list[dict[str, Any]]]:
    """Run the comparison query on `engine`, in the engine's dialect (`engine.dialect`:
    "duckdb" for the local engine, else Athena's); with `differences` (only `--png` draws
    them) also the query listing each numeric field's shadow - production differences (a
    second pass over the captures, so it is skipped otherwise)."""
    local = getattr(engine, "dialect", "athena") == "duckdb"
    dialect: Dialect = "duckdb" if local else "athena"
    sql = comparison_sql(
        table="capture" if report.glue is None or local else report.glue.table,
        production=report.production,
        shadow=report.shadow,
        fields=report.fields,
        since=since,
        until=until,
        window_seconds=report.window_seconds,
        dialect=dialect,
    )
    rows = engine.rows(sql)
    diffs = engine.rows(differences_sql(sql, report.fields)) if differences else []
    return parse_row(rows[0], report.fields), sql, diffs


def compare_local(
    root: Path,
    endpoint: str,
    report: ShadowReportPlan,
    since: datetime,
    until: datetime,
    *,
    differences: bool = False,
) -> tuple[Comparison, list[dict[str, Any]]]:
    """The comparison over capture files under `root` (`--from-dir`, or the downloaded
    captures): on the engine `shadow_engine.open_local` picks by the files' size (the small
    engine in Python, or DuckDB), falling back to DuckDB when the small engine declines. The
    same result either way; `differences` as in `compare`."""
    from sagemaker_rollouts.cli.shadow_small import Declined, small_engine

    small = small_engine(root, endpoint, (report.production, report.shadow), since, until)
    if small is not None:
        try:
            row, diffs = small.comparison(
                production=report.production,
                shadow=report.shadow,
                fields=report.fields,
                since=since,
                until=until,
                window_seconds=report.window_seconds,
                differences=differences,
            )
            return parse_row(row, report.fields), diffs
        except Declined:
            pass  # an input only DuckDB reads exactly as DuckDB does: run it
    from sagemaker_rollouts.cli.shadow_engine import LocalEngine

    engine = LocalEngine(root, endpoint)
    try:
        comparison, _, diffs = compare(engine, report, since, until, differences=differences)
    finally:
        engine.close()
    return comparison, diffs


def run(args: argparse.Namespace) -> int:
    from sagemaker_rollouts.cli import render
    from sagemaker_rollouts.cli.stack import load_stack

    stack = load_stack(Path(args.dir), args.stack, endpoint=getattr(args, "endpoint", None))
    plan = stack.plan
    ep = select_shadow_endpoint(plan, args.endpoint)
    report = report_of(ep)
    assert report is not None  # select_shadow_endpoint returns shadow endpoints only
    now = datetime.now(UTC)
    until = now if args.until is None else parse_time(args.until, now, "--until")
    since = (
        until - timedelta(hours=1) if args.since is None else parse_time(args.since, now, "--since")
    )
    if until <= since:
        raise UsageError(
            f"--since ({since.isoformat()}) must be before --until ({until.isoformat()})"
        )
    result = shadow_report(plan, ep, report, args, since, until)
    if args.json:
        render.print_json(result.as_json())
    else:
        result.print()
    if args.png is not None:
        write_png(Path(args.png), result)
    return EXIT_BY_ACTION[result.recommendation.action]


class ReportResult:
    """Everything the report shows, printable and as JSON."""

    def __init__(
        self,
        ep: EndpointPlan,
        report: ShadowReportPlan,
        since: datetime,
        until: datetime,
        engine: str,
        comparison: Comparison,
        metrics: dict[str, VariantMetrics | None],
        recommendation: Recommendation,
        diffs: list[dict[str, Any]],
    ) -> None:
        self.ep, self.report, self.since, self.until, self.engine = ep, report, since, until, engine
        self.comparison, self.metrics, self.recommendation = comparison, metrics, recommendation
        self.diffs = diffs

    def as_json(self) -> dict[str, Any]:
        c = self.comparison
        prod, shadow = self.metrics[self.report.production], self.metrics[self.report.shadow]
        return {
            "endpoint": self.ep.endpoint_name,
            "production": self.report.production,
            "shadow": self.report.shadow,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "engine": self.engine,
            "paired": c.paired,
            "records": {
                self.report.production: asdict(c.production),
                self.report.shadow: asdict(c.shadow),
            },
            "fields": [{**asdict(f), "agreement_percent": f.agreement_percent} for f in c.fields],
            "metrics": {k: None if v is None else asdict(v) for k, v in self.metrics.items()},
            "p99_latency_ratio": None
            if prod is None or shadow is None
            else p99_ratio(prod, shadow),
            "recommendation": asdict(self.recommendation),
        }

    def print(self) -> None:
        from rich.markup import escape
        from rich.table import Table

        from sagemaker_rollouts.cli import render

        out = render.console()
        c, r = self.comparison, self.report
        out.print(
            f"[bold]{escape(self.ep.endpoint_name)}[/]: shadow [bold]{escape(r.shadow)}[/] vs "
            f"production [bold]{escape(r.production)}[/], {self.since:%Y-%m-%d %H:%M} to "
            f"{self.until:%Y-%m-%d %H:%M} UTC ({self.engine} engine)"
        )
        counts = Table(
            "variant",
            "records",
            "paired",
            "unpaired",
            "input-only",
            "output-only",
            "unreadable (skipped)",
        )
        for name, v in ((r.production, c.production), (r.shadow, c.shadow)):
            counts.add_row(
                name,
                str(v.records),
                str(c.paired),
                str(v.unpaired),
                str(v.input_only),
                str(v.output_only),
                str(v.unreadable),
            )
        out.print(counts)
        fields = Table(
            "field", "kind", "compared", "agreed", "agreement", "mean |diff|", "max |diff|"
        )
        for f in c.fields:
            pct = f.agreement_percent
            fields.add_row(
                f.name,
                f.kind,
                str(f.compared),
                str(f.agreed),
                "-" if pct is None else f"{pct:.2f}%",
                "-" if f.mean_abs_diff is None else f"{f.mean_abs_diff:.4g}",
                "-" if f.max_abs_diff is None else f"{f.max_abs_diff:.4g}",
            )
        out.print(fields)
        metrics = Table("variant", "invocations", "5xx errors", "p99 latency")
        for name in (r.production, r.shadow):
            m = self.metrics[name]
            if m is None:
                metrics.add_row(name, "-", "-", "-")
            else:
                metrics.add_row(
                    name,
                    f"{m.invocations:.0f}",
                    f"{m.errors_5xx:.0f}",
                    "-" if m.p99_latency_ms is None else f"{m.p99_latency_ms:.1f} ms",
                )
        out.print(metrics)
        color = {"promote": "green", "reject": "red", "keep_shadowing": "yellow"}[
            self.recommendation.action
        ]
        out.print(
            f"recommendation: [bold {color}]{self.recommendation.action}[/]: "
            f"{escape(self.recommendation.reason)}"
        )


def shadow_report(
    plan: DeploymentPlan,
    ep: EndpointPlan,
    report: ShadowReportPlan,
    args: argparse.Namespace,
    since: datetime,
    until: datetime,
    aws: Any = None,
) -> ReportResult:
    """Read, compare, fetch CloudWatch figures and recommend."""
    from sagemaker_rollouts.cli import shadow_engine

    want_png = getattr(args, "png", None) is not None
    metrics: dict[str, VariantMetrics | None] = {}
    if args.from_dir is not None:
        root = Path(args.from_dir)
        if not root.is_dir():
            raise UsageError(f"--from-dir {root}: not a directory")
        comparison, diffs = compare_local(
            root, ep.endpoint_name, report, since, until, differences=want_png
        )
        engine_name = "local"
        if not args.no_metrics:
            aws = aws if aws is not None else _clients(plan)
    else:
        aws = aws if aws is not None else _clients(plan)
        if args.engine == "athena":
            if report.glue is None:
                raise UsageError(
                    f"--engine athena: endpoints.{ep.key}.strategy.shadow.athena is off, so the "
                    "stack declares no Glue table; set it to true and run pulumi up"
                )
            uri = capture_uri(plan, ep, aws, args.capture_uri)
            bucket = uri.removeprefix("s3://").split("/", 1)[0]
            engine = shadow_engine.AthenaEngine(
                aws.athena, report.glue.database, f"s3://{bucket}/athena-results/"
            )
            comparison, _, diffs = compare(engine, report, since, until, differences=want_png)
            engine_name = "athena"
        else:
            uri = capture_uri(plan, ep, aws, args.capture_uri)
            with shadow_engine.scratch_dir() as tmp:
                shadow_engine.download_captures(
                    aws.s3,
                    uri,
                    ep.endpoint_name,
                    (report.production, report.shadow),
                    since,
                    until,
                    Path(tmp),
                )
                comparison, diffs = compare_local(
                    Path(tmp), ep.endpoint_name, report, since, until, differences=want_png
                )
            engine_name = "local"
    for variant in (report.production, report.shadow):
        metrics[variant] = (
            None
            if aws is None
            else shadow_engine.variant_metrics(
                aws.cloudwatch, ep.endpoint_name, variant, since, until
            )
        )
    rec = recommend(
        comparison, metrics[report.production], metrics[report.shadow], report.thresholds
    )
    return ReportResult(ep, report, since, until, engine_name, comparison, metrics, rec, diffs)


def _clients(plan: DeploymentPlan) -> Any:
    from sagemaker_rollouts.simulator.provision import AwsClients

    return AwsClients.create(plan.region)


def write_png(path: Path, result: ReportResult) -> None:
    """Histogram of shadow - production per numeric field; agreement bars for label fields."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    numeric = [f for f in result.comparison.fields if f.kind == "number"]
    labels = [f for f in result.comparison.fields if f.kind == "label"]
    panels = len(numeric) + (1 if labels else 0)
    fig, axes = plt.subplots(1, max(1, panels), figsize=(5 * max(1, panels), 3.5), squeeze=False)
    i = 0
    for f in numeric:
        ax = axes[0][i]
        values = [float(d["diff"]) for d in result.diffs if d["field"] == f.name]
        ax.hist(values, bins=40, color="tab:blue")
        ax.set_title(f"{f.name}: shadow - production")
        ax.set_xlabel("difference")
        ax.set_ylabel("pairs")
        i += 1
    if labels:
        ax = axes[0][i]
        ax.bar(
            [f.name for f in labels],
            [f.agreement_percent or 0.0 for f in labels],
            color="tab:green",
        )
        ax.axhline(result.report.thresholds.min_agreement, color="tab:red", linestyle="--")
        ax.set_ylim(0, 100)
        ax.set_title("label agreement %")
    fig.suptitle(
        f"{result.ep.endpoint_name}: {result.comparison.paired} pairs, "
        f"{result.recommendation.action}"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
