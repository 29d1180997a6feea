"""Rich rendering shared by the commands: consoles, durations, profiles, weights."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sagemaker_rollouts.strategies.plan import CanaryPlan, EndpointPlan, Profile


def console(*, stderr: bool = False) -> Console:
    """A console on the current sys.stdout/stderr (so tests can capture it); 120 columns when
    the output is not a terminal, so piped tables do not wrap."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 120
    return Console(file=stream, width=width, highlight=False, soft_wrap=True)


def aligned(header: list[str], rows: list[list[str]]) -> list[str]:
    """A plain table: every column but the last padded to its widest cell, the last left free.
    Nothing is cut or folded (long ARNs and reasons stay whole: a terminal wraps the line), so
    it can be read, grepped and copied; used for decision logs."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    return [
        "  ".join([*(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=True)), r[-1]])
        for r in [header, *rows]
    ]


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def duration(seconds: float | None) -> str:
    """`1h 05m`, `10m`, `45s`; `-` for None."""
    if seconds is None:
        return "-"
    s = round(seconds)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    if h:
        return f"{h}h {m:02d}m"
    if m:
        return f"{m}m" if not sec else f"{m}m {sec:02d}s"
    return f"{sec}s"


def clock(seconds: float) -> str:
    """Simulated time as `+HH:MM:SS`."""
    s = round(seconds)
    return f"+{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def profile_rows(p: Profile) -> list[tuple[str, str]]:
    full = (
        "never by itself (no traffic shift)"
        if p.time_to_full_seconds is None
        else duration(p.time_to_full_seconds)
    )
    return [
        ("downtime", yes_no(p.downtime)),
        ("rollback speed", f"{p.rollback_speed}: {p.rollback_note}"),
        ("live-traffic testing", yes_no(p.live_traffic_test)),
        ("extra instances", str(p.extra_instances)),
        ("extra instance-hours", _hours(p)),
        ("time to 100%", full),
    ]


def _hours(p: Profile) -> str:
    # Profile types this as float, but planners give None when the extra fleet runs for as long
    # as the strategy does (shadow, A/B): there is no end to count hours to.
    hours: float | None = p.extra_instance_hours
    if hours is None:
        return f"{p.extra_instances} instance(s) for as long as it runs"
    return f"{hours:g}"


def profile_json(p: Profile) -> dict[str, Any]:
    return {
        "downtime": p.downtime,
        "rollback_speed": p.rollback_speed,
        "rollback_note": p.rollback_note,
        "live_traffic_test": p.live_traffic_test,
        "extra_instances": p.extra_instances,
        "extra_instance_hours": p.extra_instance_hours,
        "time_to_full_seconds": p.time_to_full_seconds,
    }


def endpoint_table(ep: EndpointPlan) -> Table:
    """An endpoint's variants and strategy profile, side by side in one table."""
    t = Table(title=f"{ep.key}: endpoint {ep.endpoint_name} ({ep.strategy})", title_justify="left")
    t.add_column("variant")
    t.add_column("model")
    t.add_column("instances")
    t.add_column("weight", justify="right")
    for v in ep.production_variants:
        t.add_row(
            escape(v.name),
            escape(v.model),
            f"{v.instance_count} x {v.instance_type}",
            str(v.weight),
        )
    for v in ep.shadow_variants:
        t.add_row(
            f"{escape(v.name)} (shadow)",
            escape(v.model),
            f"{v.instance_count} x {v.instance_type}",
            "-",
        )
    return t


def profile_table(ep: EndpointPlan) -> Table:
    t = Table(title=f"{ep.key}: strategy profile", title_justify="left", show_header=False)
    t.add_column("property", style="bold")
    t.add_column("value")
    for k, v in profile_rows(ep.profile):
        t.add_row(k, escape(v))
    if isinstance(ep.strategy_plan, CanaryPlan):
        spec = ep.strategy_plan.rollout
        steps = ", ".join(
            f"{s.candidate_percent}% for {duration(s.bake_seconds)}" for s in spec.steps
        )
        t.add_row("canary steps", steps)
        t.add_row("gate alarms", ", ".join(spec.gate_alarms))
        if spec.sample_alarm is not None:
            t.add_row(
                "low-traffic hold",
                f"{spec.sample_alarm} (< {spec.min_invocations} requests)",
            )
    return t


def weights_text(weights: dict[str, float]) -> str:
    return " ".join(f"{k}={v:g}" for k, v in weights.items())
