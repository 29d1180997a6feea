"""`rollout ab-report`: the A/B evaluator's numbers on demand, and the recorded winner if any.

Runs the evaluator's own reading and decision code (`lambdas.ab_evaluator.evaluate`, the pure
`lambdas.ab_winner.decide`) against CloudWatch (or `AWS_ENDPOINT_URL`), without side effects.
Exit codes: 0 a winner is clear, 3 no decision yet, 2 usage.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import Any

from sagemaker_rollouts.cli import render
from sagemaker_rollouts.cli.errors import EXIT_IN_PROGRESS, EXIT_OK, UsageError
from sagemaker_rollouts.lambdas.ab_winner import Decision, EvaluatorSpec, Winner, evidence
from sagemaker_rollouts.strategies.plan import ABPlan, DeploymentPlan, EndpointPlan


def evaluator_of(ep: EndpointPlan) -> EvaluatorSpec | None:
    """An A/B endpoint's evaluator (with `successes`); None otherwise."""
    return ep.strategy_plan.evaluator if isinstance(ep.strategy_plan, ABPlan) else None


def select_ab_endpoint(plan: DeploymentPlan, wanted: str | None) -> EndpointPlan:
    """The A/B endpoint with an evaluator, by key or name; the only one when `wanted` is None."""
    evaluated = [e for e in plan.endpoints if evaluator_of(e) is not None]
    if wanted is not None:
        for e in plan.endpoints:
            if wanted in (e.key, e.endpoint_name):
                if evaluator_of(e) is None:
                    hint = (
                        f"set endpoints.{e.key}.strategy.ab.successes to evaluate a winner"
                        if e.strategy == "ab"
                        else f"it uses the {e.strategy} strategy"
                    )
                    raise UsageError(f"--endpoint {wanted}: no A/B evaluator; {hint}")
                return e
        known = ", ".join(e.key for e in plan.endpoints)
        raise UsageError(f"--endpoint {wanted}: unknown in stack {plan.stack}; endpoints: {known}")
    if len(evaluated) == 1:
        return evaluated[0]
    if not evaluated:
        raise UsageError(
            f"stack {plan.stack} has no A/B endpoint with an evaluator "
            "(strategy.ab.successes names the business metric)"
        )
    raise UsageError(
        f"stack {plan.stack} has several A/B endpoints "
        f"({', '.join(e.key for e in evaluated)}); pick one with --endpoint"
    )


def report(spec: EvaluatorSpec, aws: Any, table: str | None, now: float) -> dict[str, Any]:
    """The decision now, as evidence JSON, plus the recorded winner (when the table exists)."""
    from botocore.exceptions import ClientError

    from sagemaker_rollouts.lambdas.ab_evaluator import default_start, evaluate, read_state

    state = None
    if table is not None:
        try:
            state = read_state(aws.dynamodb, table, spec.endpoint_name)
        except ClientError:
            state = None  # not deployed yet, or no access: the numbers still stand
    started_at = default_start(spec, now) if state is None else state.started_at
    decision: Decision = evaluate(spec, aws.cloudwatch, now, started_at)
    recorded = None if state is None else state.winner
    return {
        **evidence(decision),
        "endpoint": spec.endpoint_name,
        "window_hours": spec.window_hours,
        "started_at": started_at,
        "min_samples": spec.min_samples,
        "significance": spec.significance,
        "on_winner": spec.on_winner,
        "recorded_winner": recorded,
        "winner_now": decision.variant if isinstance(decision, Winner) else None,
    }


def run(args: argparse.Namespace) -> int:
    from sagemaker_rollouts.cli.target import resolve
    from sagemaker_rollouts.simulator.provision import AwsClients

    resolved, aws = resolve(
        args,
        select=lambda plan, wanted: [select_ab_endpoint(plan, wanted)],
        clients=AwsClients.create,
        want="ab",
    )
    (ep,) = resolved.targets
    spec = ep.ab
    if spec is None:
        from sagemaker_rollouts.strategies.lambda_names import AB_SUFFIX, function_name

        raise UsageError(
            f"--endpoint {args.endpoint}: no A/B evaluator (no Lambda "
            f"{function_name(ep.endpoint_name, AB_SUFFIX)} in {ep.region}); set "
            "strategy.ab.successes to evaluate a winner"
        )
    from sagemaker_rollouts.lambdas.aws_adapter import read_endpoint

    if read_endpoint(aws.sagemaker, spec.endpoint_name).status == "Missing":
        # No endpoint: no metrics will ever arrive, so "no decision yet" (3) would make a CI gate
        # wait forever. It is a usage problem (wrong account or region, or not deployed).
        raise UsageError(
            f"endpoint {spec.endpoint_name} ({ep.key}) does not exist in {ep.region}: "
            "wrong account or region, or `pulumi up` has not run"
        )
    data = report(spec, aws, ep.state_table, time.time())
    if args.json:
        render.print_json(data)
    else:
        print_report(data)
    return EXIT_OK if data["winner_now"] is not None else EXIT_IN_PROGRESS


def print_report(data: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    out = render.console()
    out.print(
        f"[bold]{escape(data['endpoint'])}[/]: A/B test since "
        f"{datetime.fromtimestamp(data['started_at'], UTC):%Y-%m-%d %H:%M} UTC (horizon "
        f"{data['window_hours']} h; min_samples {data['min_samples']}, significance "
        f"{data['significance']:g}, mSPRT)"
    )
    arms = Table("variant", "successes", "trials", "rate")
    for a in data["arms"]:
        rate = a["rate"]
        arms.add_row(
            a["variant"],
            str(a["successes"]),
            str(a["trials"]),
            "-" if rate is None else f"{100 * rate:.2f}%",
        )
    out.print(arms)
    if data["comparisons"]:
        comps = Table("leader", "vs", "z", "always-valid p", "significant")
        for c in data["comparisons"]:
            comps.add_row(
                c["leader"],
                c["other"],
                "-" if c["z"] is None else f"{c['z']:.3f}",
                "-" if c["p_value"] is None else f"{c['p_value']:.4g}",
                render.yes_no(bool(c["significant"])),
            )
        out.print(comps)
    if data["winner_now"] is not None:
        out.print(
            f"decision: [bold green]winner {escape(data['winner_now'])}[/]: {escape(data['reason'])}"
        )
    else:
        out.print(f"decision: [bold yellow]none yet[/]: {escape(data['reason'])}")
    if data["recorded_winner"] is not None:
        out.print(
            f"recorded winner: {escape(data['recorded_winner'])} (on_winner: {data['on_winner']})"
        )
