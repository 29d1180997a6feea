"""`rollout plan`: what a stack would declare and how its strategy behaves, without AWS or Pulumi.

The resource list comes from running the real Pulumi program in-process under mocks
(`sagemaker_rollouts.simulator.mockrun.run_offline`), so it is exactly what `pulumi up` would register.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, assert_never

from rich.markup import escape
from rich.table import Table

from sagemaker_rollouts.cli import render
from sagemaker_rollouts.cli.errors import EXIT_FAILED, EXIT_OK
from sagemaker_rollouts.cli.stack import (
    LoadedStack,
    ProgramDir,
    in_project_dir,
    load_stack,
    own_program,
    run_program_offline,
)
from sagemaker_rollouts.strategies.exposure import worst_case_exposure
from sagemaker_rollouts.strategies.plan import (
    ABPlan,
    BlueGreenPlan,
    CanaryPlan,
    EndpointPlan,
    RecreatePlan,
    RollingPlan,
    ShadowPlan,
)

# Imported where they are used, so a plan pays only for what it shows (tests/cli/test_plan.py
# checks what a canary plan imports): the timeline module (matplotlib) for --png, the A/B
# test's design math for A/B endpoints, the policy rules in `policy_findings`.
if TYPE_CHECKING:
    from sagemaker_rollouts.cli.timeline import Marker, Series
    from sagemaker_rollouts.lambdas.ab_winner import EvaluatorSpec
    from sagemaker_rollouts.strategies.relative_gates import RelativeAlarmPlan


def run(args: argparse.Namespace) -> int:
    png = None if args.png is None else Path(args.png).resolve()  # relative to where we started
    program = own_program(Path(args.dir))
    if program is not None:
        return run_program(program, args, png)
    esc_dir = None if getattr(args, "esc_dir", None) is None else Path(args.esc_dir)
    stack = load_stack(Path(args.dir), args.stack, esc_dir=esc_dir)
    from sagemaker_rollouts.simulator.mockrun import (
        run_offline,  # imports pulumi: only this command pays for it
    )

    # The keys ESC supplies that the file does not set join the program's config; the program
    # runs in the project directory, as under `pulumi up`.
    with in_project_dir(stack.path.parent):
        offline = run_offline(stack.path, stack=stack.name, config=stack.esc_config)
    traffic = getattr(args, "traffic", None)
    if png is not None:
        draw_plan(stack, png, traffic)
    if args.json:
        data = plan_json(stack, offline)
        if traffic is not None:
            data["worst_case_exposure"] = exposure_json(stack.plan.endpoints, traffic)
        render.print_json(data)
    else:
        print_plan(stack, offline, png=args.png)
        if traffic is not None:
            print_exposure(stack, traffic)
    warn = render.console(stderr=True)
    for line in (*stack.warnings, *offline.warnings):  # legal, but almost certainly a mistake
        warn.print(f"[yellow]warning:[/] {escape(line)}")
    if offline.error is not None:
        render.console(stderr=True).print(
            f"[red]error:[/] the Pulumi program failed under mocks: {escape(str(offline.error))}"
        )
        return EXIT_FAILED
    return EXIT_OK


def run_program(program: ProgramDir, args: argparse.Namespace, png: Path | None) -> int:
    """`rollout plan --dir D` where D is a project with its own program (e.g. examples/python):
    run D's `__main__.py` under mocks with `Pulumi.<stack>.yaml`'s config, in D, and show what it
    declares: its resources, each `RolloutEndpoint` component's endpoint and strategy profile (the
    plan the component built), the policy pack's findings, and the timeline with --png."""
    ran = run_program_offline(program, args.stack)
    offline, stack_file = ran.offline, ran.stack_file
    endpoints: list[EndpointPlan] = [d.endpoints[0] for d in ran.deployments]
    traffic = getattr(args, "traffic", None)
    if png is not None:
        draw_endpoints(f"planned traffic: {program.project}/{args.stack}", endpoints, png, traffic)
    if args.json:
        render.print_json(
            {
                "program": str(program.main),
                "project": program.project,
                "stack": args.stack,
                "error": None if offline.error is None else str(offline.error),
                "warnings": list(offline.warnings),
                "policy_findings": policy_findings(offline),
                "resources": [
                    {"type": r.type, "name": r.name, "inputs": r.redacted()}
                    for r in offline.resources
                ],
                "endpoints": [endpoint_json(ep) for ep in endpoints],
                **(
                    {}
                    if traffic is None
                    else {"worst_case_exposure": exposure_json(endpoints, traffic)}
                ),
            }
        )
    else:
        out = render.console()
        out.print(
            f"[bold]program[/] {escape(str(program.main))}  [bold]project[/] "
            f"{escape(program.project)}  [bold]stack[/] {escape(args.stack)} ({stack_file})"
        )
        print_resources(offline)
        for ep in endpoints:
            out.print(render.endpoint_table(ep))
            out.print(render.profile_table(ep))
            for table in strategy_tables(ep):
                out.print(table)
        print_findings(offline)
        if traffic is not None:
            print_exposure_of(endpoints, traffic)
        if png is not None:
            out.print(f"timeline written to {png}")
    for line in offline.warnings:
        render.console(stderr=True).print(f"[yellow]warning:[/] {escape(line)}")
    if offline.error is not None:
        render.console(stderr=True).print(
            f"[red]error:[/] the Pulumi program failed under mocks: {escape(str(offline.error))}"
        )
        return EXIT_FAILED
    return EXIT_OK


def exposure_json(endpoints: Sequence[EndpointPlan], traffic: float) -> dict[str, Any]:
    return {
        ep.key: [
            {
                "step": e.step,
                "percent": e.percent,
                "detection_seconds": e.detection_seconds,
                "reaction_seconds": e.reaction_seconds,
                "requests": e.requests,
            }
            for e in worst_case_exposure(ep, traffic)
        ]
        for ep in endpoints
    }


def print_exposure(stack: LoadedStack, requests_per_minute: float) -> None:
    print_exposure_of(stack.plan.endpoints, requests_per_minute)


def print_exposure_of(endpoints: Sequence[EndpointPlan], requests_per_minute: float) -> None:
    """Per endpoint and step: requests a bad candidate can answer before traffic leaves it."""
    out = render.console()
    for ep in endpoints:
        t = Table(
            title=f"worst-case exposure: {ep.key} ({ep.strategy}) at "
            f"{requests_per_minute:g} requests/min",
            title_justify="left",
        )
        for col in ("step", "candidate %", "detection", "reaction", "bad requests at most"):
            t.add_column(col, justify="right")
        for e in worst_case_exposure(ep, requests_per_minute):
            t.add_row(
                str(e.step),
                f"{e.percent}%",
                f"{e.detection_seconds}s",
                f"{e.reaction_seconds}s",
                "until a human acts" if e.requests is None else f"{e.requests:,.0f}",
            )
        out.print(t)
    out.print(
        "[dim]detection: the slowest gate alarm's period x datapoints; reaction: the canary "
        "hook's one-minute tick at worst; SageMaker's alarm polling is undocumented (0 assumed)[/]"
    )


def draw_plan(stack: LoadedStack, path: Path, traffic: float | None = None) -> None:
    """Planned candidate % over time for every endpoint of the stack (see `draw_endpoints`)."""
    draw_endpoints(f"planned traffic: stack {stack.name}", stack.plan.endpoints, path, traffic)


def draw_endpoints(
    title: str, endpoints: Sequence[EndpointPlan], path: Path, traffic: float | None = None
) -> None:
    """Planned candidate % over time for every endpoint that shifts traffic; with `traffic`
    (requests per minute) a second panel draws the worst-case exposure of each step. A recreate
    endpoint's downtime (its length is the new endpoint's creation time, unknown offline) is
    marked where it starts."""
    from sagemaker_rollouts.cli.timeline import Exposure, Marker, Series, write_png

    series: list[Series] = []
    markers: list[Marker] = []
    for ep in endpoints:
        points = list(ep.timeline)
        if not points:
            continue
        end = ep.profile.time_to_full_seconds
        last_t = points[-1][0]
        # hold the last level for a while so the final step is visible, unless the timeline
        # already ends with a hold (a canary's final bake: the chart then ends where it ends)
        if not (len(points) >= 2 and points[-2][1] == points[-1][1]):
            tail = max(600, last_t // 10) if end is None or end <= last_t else end - last_t
            points.append((last_t + tail, points[-1][1]))
        series.append(
            Series(f"{ep.key} ({ep.strategy})", [(float(t), float(p)) for t, p in points])
        )
        if ep.profile.downtime:
            markers.append(
                Marker(0.0, f"{ep.key}: downtime until the new endpoint is InService", "tab:red")
            )
    exposure = (
        None
        if traffic is None
        else Exposure(
            traffic,
            [
                (
                    f"{ep.key} ({ep.strategy})",
                    [(e.step, e.percent, e.requests) for e in worst_case_exposure(ep, traffic)],
                )
                for ep in endpoints
                if ep.timeline or isinstance(ep.strategy_plan, CanaryPlan)
            ],
        )
    )
    write_png(path, title, series, markers, exposure=exposure)


def print_plan(stack: LoadedStack, offline: Any, *, png: str | None) -> None:
    out = render.console()
    plan = stack.plan
    out.print(f"[bold]stack[/] {plan.stack}  [bold]region[/] {plan.region}  ({stack.path})")
    if stack.environments:
        out.print(f"[bold]Pulumi ESC environments[/] {escape(', '.join(stack.environments))}")
    if stack.unresolved:
        out.print(
            f"[yellow]not resolved offline[/] ({len(stack.unresolved)}; "
            "`pulumi up` opens the environments in Pulumi Cloud):"
        )
        for line in stack.unresolved:
            out.print(f"  {escape(line)}")
    print_resources(offline)
    for ep in plan.endpoints:
        out.print(render.endpoint_table(ep))
        out.print(render.profile_table(ep))
        for table in strategy_tables(ep):
            out.print(table)
    print_findings(offline)
    if png is not None:
        out.print(f"timeline written to {png}")


def print_resources(offline: Any) -> None:
    t = Table(
        title=f"{len(offline.resources)} resources `pulumi up` would declare", title_justify="left"
    )
    t.add_column("type")
    t.add_column("name")
    for r in offline.resources:
        t.add_row(escape(r.type), escape(r.name))
    render.console().print(t)


def print_findings(offline: Any) -> None:
    out = render.console()
    findings = policy_findings(offline)
    if findings:
        out.print(f"[bold]policy findings[/] ({len(findings)}; pack: policies/)")
        for f in findings:
            color = "red" if f["level"] == "mandatory" else "yellow"
            out.print(
                f"  [{color}]{f['level']}[/] {escape(f['policy'])}: "
                f"{escape(f['resource'])}: {escape(f['message'])}"
            )
    else:
        out.print("[bold]policy findings[/] none (pack: policies/)")


def ab_design_table(key: str, spec: EvaluatorSpec) -> Table:
    """The A/B test's design: what it can find, after how many trials, in how long."""
    from sagemaker_rollouts.lambdas.ab_winner import design

    d = design(spec)
    t = Table(title=f"{key}: A/B test design (mSPRT)", title_justify="left", show_header=False)
    t.add_column("what")
    t.add_column("value")
    lift = spec.minimum_detectable_lift
    challenged = f"{100 * spec.baseline_rate:g}% -> {100 * spec.baseline_rate * (1 + lift):.3g}%"
    t.add_row(
        "decision rule",
        f"always-valid mSPRT, every {spec.every_minutes} min; every pair of serving "
        f"variants at alpha {d.alpha_per_test:.4g} (significance {spec.significance:g}); "
        f"no decision on a sample ratio mismatch (p < {spec.srm_alpha:g})",
    )
    t.add_row(
        "planned sample size",
        f"{d.planned_trials:,} trials for {100 * d.power:.0f}% power at a lift of "
        f"{100 * lift:g}% ({challenged}): " + ", ".join(f"{v} {n:,}" for v, n in d.per_variant),
    )
    t.add_row("median sample size", f"{d.median_trials:,} trials (half of such tests stop by then)")
    if d.expected_trials_per_hour is None:
        t.add_row(
            "expected duration",
            "set strategy.ab.expected_trials_per_hour for the duration and the minimum "
            "detectable effect",
        )
    else:
        assert d.planned_hours is not None and d.median_hours is not None
        t.add_row(
            "expected duration",
            f"{render.duration(d.median_hours * 3600)} median, "
            f"{render.duration(d.planned_hours * 3600)} for {100 * d.power:.0f}% power, at "
            f"{d.expected_trials_per_hour:g} trials/hour"
            + (
                f" [yellow](longer than the {d.horizon_hours} h horizon)[/]"
                if d.planned_hours > d.horizon_hours
                else ""
            ),
        )
        t.add_row(
            "minimum detectable effect",
            f"no lift up to 10x is found with {100 * d.power:.0f}% power in {d.horizon_hours} h"
            if d.mde_lift is None
            else f"a relative lift of {100 * d.mde_lift:.1f}% "
            f"({100 * spec.baseline_rate:g}% -> {100 * spec.baseline_rate * (1 + d.mde_lift):.3g}%) "
            f"with {100 * d.power:.0f}% power within the {d.horizon_hours} h horizon",
        )
    return t


def strategy_tables(ep: EndpointPlan) -> list[Table]:
    """What only the endpoint's strategy plans, as tables: an A/B evaluator's design, a canary's
    gates relative to the stable variant."""
    match ep.strategy_plan:
        case ABPlan(evaluator=spec) if spec is not None:
            return [ab_design_table(ep.key, spec)]
        case CanaryPlan(relative_alarms=relative) if relative:
            return [relative_gates_table(ep.key, relative)]
        case (
            RecreatePlan()
            | ShadowPlan()
            | CanaryPlan()
            | ABPlan()
            | BlueGreenPlan()
            | RollingPlan()
        ):
            return []
        case _:
            assert_never(ep.strategy_plan)


def relative_gates_table(key: str, relative: Sequence[RelativeAlarmPlan]) -> Table:
    """A canary's gates relative to the stable variant: name, what fires it, and its window."""
    t = Table(title=f"{key}: gates relative to the stable variant", title_justify="left")
    for col in ("alarm", "fires when", "window"):
        t.add_column(col)
    for r in relative:
        what = (
            f"{r.candidate} 5xx rate - {r.stable}'s > {r.threshold:g} points"
            if r.key.endswith("error_rate")
            else f"{r.candidate} p99 / {r.stable}'s > {r.threshold:g}"
        )
        period = r.metrics[0].period_seconds
        t.add_row(
            escape(r.name),
            escape(what),
            f"{r.datapoints_to_alarm} of {r.evaluation_periods} x {period} s",
        )
    return t


def policy_findings(offline: Any) -> list[dict[str, str]]:
    """The policy pack's findings (advisory and mandatory) on what the program declared."""
    from sagemaker_rollouts.infra import policies

    if offline.error is not None:
        return []
    return [
        {
            "policy": f.policy,
            "level": f.level,
            "resource": "stack" if f.resource is None else f"{f.resource.type} {f.resource.name}",
            "message": f.message,
        }
        for f in policies.evaluate(offline.policy_resources())
    ]


def plan_json(stack: LoadedStack, offline: Any) -> dict[str, Any]:
    """Machine-readable plan: resources with redacted inputs, endpoints with profile and timeline."""
    plan = stack.plan
    return {
        "stack": plan.stack,
        "project": plan.project,
        "region": plan.region,
        "config": stack.config,
        "esc": {"environments": list(stack.environments), "unresolved": list(stack.unresolved)},
        "error": None if offline.error is None else str(offline.error),
        "warnings": [*stack.warnings, *offline.warnings],
        "policy_findings": policy_findings(offline),
        "resources": [
            {"type": r.type, "name": r.name, "inputs": r.redacted()} for r in offline.resources
        ],
        "endpoints": [endpoint_json(ep) for ep in plan.endpoints],
    }


def endpoint_json(ep: EndpointPlan) -> dict[str, Any]:
    """One endpoint of a plan, as `rollout plan --json` gives it."""
    steps: list[list[int]] | None = None
    ab_design: dict[str, Any] | None = None
    relative: tuple[RelativeAlarmPlan, ...] = ()
    match ep.strategy_plan:
        case CanaryPlan(rollout=rollout, relative_alarms=relative):
            steps = [[s.candidate_percent, s.bake_seconds] for s in rollout.steps]
        case ABPlan(evaluator=spec):
            from sagemaker_rollouts.lambdas.ab_winner import design

            ab_design = None if spec is None else design(spec).to_json()
        case RecreatePlan() | ShadowPlan() | BlueGreenPlan() | RollingPlan():
            pass
        case _:
            assert_never(ep.strategy_plan)
    return {
        "key": ep.key,
        "endpoint_name": ep.endpoint_name,
        "strategy": ep.strategy,
        "production_variants": [
            {
                "name": v.name,
                "model": v.model,
                "instance_type": v.instance_type,
                "instance_count": v.instance_count,
                "weight": v.weight,
            }
            for v in ep.production_variants
        ],
        "shadow_variants": [v.name for v in ep.shadow_variants],
        "alarms": [{"key": a.key, "name": a.name, "gate": a.gate} for a in ep.alarms],
        "canary_steps": steps,
        "profile": render.profile_json(ep.profile),
        "timeline": [list(p) for p in ep.timeline],
        "ab_design": ab_design,
        "relative_gates": [
            {
                "key": r.key,
                "name": r.name,
                "expression": r.expression,
                "threshold": r.threshold,
                "comparison": r.comparison,
                "metrics": [
                    {
                        "id": m.id,
                        "metric": m.metric,
                        "stat": m.stat,
                        "period_seconds": m.period_seconds,
                        "dimensions": dict(m.dimensions),
                    }
                    for m in r.metrics
                ],
            }
            for r in relative
        ],
    }
