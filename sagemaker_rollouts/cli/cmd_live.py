"""The live commands: `rollout status` and `rollout pause|resume|promote [--full]|abort`.

They talk to AWS (or to `AWS_ENDPOINT_URL`, e.g. moto) with the caller's credentials. The rollout
spec, state table and endpoint come from the stack's plan, built offline from `Pulumi.<stack>.yaml`
exactly as `pulumi up` builds it, so the CLI and the deployed hook agree on the rollout id.

An operator command records the intent on the state item (who, when, why) with
`sagemaker_rollouts.lambdas.store.record_intent`, then runs ONE controller decision at once through
`sagemaker_rollouts.lambdas.canary_hook.run`, the function the hook Lambda runs, with the real clock.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from sagemaker_rollouts.cli import render
from sagemaker_rollouts.cli.errors import (
    EXIT_FAILED,
    EXIT_IN_PROGRESS,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
)
from sagemaker_rollouts.cli.provision import AwsClients, find_topic_arn
from sagemaker_rollouts.cli.stack import load_stack, select_endpoint
from sagemaker_rollouts.strategies import dashboard, native
from sagemaker_rollouts.strategies.controller import INTENT_TTL_SECONDS, RolloutState
from sagemaker_rollouts.strategies.plan import DeploymentPlan, EndpointPlan

DONE_OK = "completed"
BROKEN_ENDPOINT = frozenset({"Failed", "UpdateRollbackFailed", "Missing"})


# --------------------------------------------------------------------------- status


@dataclass(frozen=True, slots=True)
class EndpointStatus:
    """What `status` shows for one endpoint, and the verdict a CI job gates on."""

    key: str
    endpoint_name: str
    strategy: str
    endpoint_status: str
    weights: dict[str, float]
    alarms: dict[str, str]  # name -> state ("MISSING" when DescribeAlarms did not return it)
    rollout_id: str | None
    rollout_status: str | None  # None: not a canary, or the hook has not run yet
    step_index: int | None
    history: list[dict[str, Any]]
    verdict: str  # completed | failed | rolled_back | in_progress | not_deployed
    region: str = ""
    # Blue/green and rolling (strategies/native.py): SageMaker's deployment phase and why.
    phase: str | None = None
    phase_reason: str | None = None

    def exit_code(self) -> int:
        """0 completed, 1 failed or rolled back, 2 not deployed (wrong account or region?),
        3 still in progress."""
        match self.verdict:
            case "completed":
                return EXIT_OK
            case "failed" | "rolled_back":
                return EXIT_FAILED
            case "not_deployed":
                return EXIT_USAGE
            case _:
                return EXIT_IN_PROGRESS

    @property
    def dashboard_url(self) -> str:
        """The endpoint's CloudWatch dashboard (declared by the stack; strategies/dashboard.py)."""
        name = dashboard.dashboard_name(self.endpoint_name, self.region)
        return dashboard.dashboard_url(self.region, name)

    def as_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.key,
            "dashboard_url": self.dashboard_url,
            "endpoint_name": self.endpoint_name,
            "strategy": self.strategy,
            "endpoint_status": self.endpoint_status,
            "weights": self.weights,
            "alarms": self.alarms,
            "rollout_id": self.rollout_id,
            "rollout_status": self.rollout_status,
            "step_index": self.step_index,
            "history": self.history,
            "verdict": self.verdict,
            "phase": self.phase,
            "phase_reason": self.phase_reason,
        }


def status(args: argparse.Namespace) -> int:
    stack = load_stack(Path(args.dir), args.stack)
    plan = stack.plan
    endpoints = (
        [select_endpoint(plan, args.endpoint, canary_only=False)]
        if args.endpoint is not None
        else list(plan.endpoints)
    )
    aws = AwsClients.create(plan.region)
    deadline = time.monotonic() + (args.timeout if args.wait else 0.0)
    while True:
        views = [read_status(plan, ep, aws) for ep in endpoints]
        code = _combined(views)
        if code != EXIT_IN_PROGRESS or time.monotonic() >= deadline:
            break
        time.sleep(max(0.0, min(args.interval, deadline - time.monotonic())))
    if args.json:
        render.print_json({"stack": plan.stack, "endpoints": [v.as_json() for v in views]})
    else:
        _print_status(views, waited=args.wait, code=code)
    return code


def _combined(views: list[EndpointStatus]) -> int:
    codes = {v.exit_code() for v in views}
    if EXIT_FAILED in codes:
        return EXIT_FAILED
    if EXIT_USAGE in codes:
        return EXIT_USAGE
    if EXIT_IN_PROGRESS in codes:
        return EXIT_IN_PROGRESS
    return EXIT_OK


def read_status(plan: DeploymentPlan, ep: EndpointPlan, aws: AwsClients) -> EndpointStatus:
    """One endpoint's live state: DescribeEndpoint, one DescribeAlarms, the state item and the
    newest history rows. Read only."""
    from botocore.exceptions import ClientError

    from sagemaker_rollouts.lambdas import store
    from sagemaker_rollouts.lambdas.aws_adapter import read_endpoint

    view = read_endpoint(aws.sagemaker, ep.endpoint_name)
    weights = {name: w for name, w in view.weights}
    names = [a.name for a in ep.alarms][:100]
    alarms: dict[str, str] = dict.fromkeys(names, "MISSING")
    if names:
        resp = aws.cloudwatch.describe_alarms(AlarmNames=names)
        for a in resp.get("MetricAlarms", []):
            alarms[str(a["AlarmName"])] = str(a["StateValue"])
    rollout_status: str | None = None
    step: int | None = None
    history: list[dict[str, Any]] = []
    spec = ep.canary
    if spec is not None and plan.state_table_name is not None:
        try:
            state = store.read_state(aws.dynamodb, plan.state_table_name, spec.rollout_id)
            rows = store.read_history(aws.dynamodb, plan.state_table_name, spec.rollout_id, 5)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            state, rows = None, []
        if state is not None:
            rollout_status, step = state.status, state.step_index
        history = [
            {
                "version": r.version,
                "at": r.at,
                "kind": r.kind,
                "reason": r.reason,
                "status": r.status,
                "step_index": r.step_index,
                "candidate_percent": r.candidate_percent,
                "alarm": r.alarm,
                "who": r.who,
            }
            for r in rows
        ]
    phase: native.PhaseView | None = None
    if ep.deployment is not None and view.status != "Missing":
        described = aws.sagemaker.describe_endpoint(EndpointName=ep.endpoint_name)
        tags = aws.sagemaker.list_tags(ResourceArn=described["EndpointArn"]).get("Tags", [])
        live = native.LiveEndpoint.from_describe(
            described, {str(t["Key"]): str(t["Value"]) for t in tags}
        )
        phase = native.phase(live)
    if phase is not None:
        verdict = phase.verdict
    elif view.status == "Missing" and rollout_status is None and not history:
        # No endpoint and no rollout record: this stack was never deployed here (or the CLI is
        # pointed at the wrong account or region). Waiting cannot change that.
        verdict = "not_deployed"
    elif view.status in BROKEN_ENDPOINT:
        verdict = "failed"
    elif spec is not None:
        match rollout_status:
            case "completed" | "rolled_back" | "failed":
                verdict = rollout_status
            case _:
                verdict = "in_progress"  # in_progress, paused, or the hook has not run yet
    else:
        verdict = DONE_OK if view.status == "InService" else "in_progress"
    return EndpointStatus(
        key=ep.key,
        endpoint_name=ep.endpoint_name,
        strategy=ep.strategy,
        endpoint_status=view.status,
        weights=weights,
        alarms=alarms,
        rollout_id=None if spec is None else spec.rollout_id,
        rollout_status=rollout_status,
        step_index=step,
        history=history,
        verdict=verdict,
        region=plan.region,
        phase=None if phase is None else phase.phase,
        phase_reason=None if phase is None else phase.reason,
    )


def _print_status(views: list[EndpointStatus], *, waited: bool, code: int) -> None:
    out = render.console()
    for v in views:
        if v.verdict == "not_deployed":
            out.print(
                f"[bold]{escape(v.key)}[/]: [red]not deployed[/]: endpoint "
                f"{escape(v.endpoint_name)} does not exist in {v.region} and no rollout is "
                "recorded; wrong account or region, or `pulumi up` has not run"
            )
            continue
        color = {"completed": "green", "in_progress": "yellow"}.get(v.verdict, "red")
        out.print(
            f"[bold]{escape(v.key)}[/]: endpoint {escape(v.endpoint_name)} ({v.strategy}) "
            f"{v.endpoint_status}  rollout [{color}]{v.verdict}[/]"
            + ("" if v.step_index is None else f" at step {v.step_index}")
            + ("" if v.phase is None else f" (SageMaker deployment: {v.phase})")
        )
        if v.phase_reason is not None:
            out.print(f"  {escape(v.phase_reason)}")
        out.print(f"dashboard: {v.dashboard_url}")
        t = Table(show_header=True)
        t.add_column("variant")
        t.add_column("weight", justify="right")
        total = sum(v.weights.values())
        for name, w in v.weights.items():
            share = "" if total <= 0 else f" ({100 * w / total:g}%)"
            t.add_row(escape(name), f"{w:g}{share}")
        out.print(t)
        a = Table(show_header=True)
        a.add_column("alarm")
        a.add_column("state")
        for name, state in v.alarms.items():
            style = {"OK": "green", "ALARM": "red"}.get(state, "yellow")
            a.add_row(escape(name), f"[{style}]{state}[/]")
        out.print(a)
        if v.history:
            h = Table(title="last decisions", title_justify="left")
            for col in ("when (UTC)", "kind", "candidate %", "who", "reason"):
                h.add_column(col)
            for r in v.history:
                h.add_row(
                    time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r["at"])),
                    r["kind"],
                    str(r["candidate_percent"]),
                    escape(r["who"] or ""),
                    escape(r["reason"]),
                )
            out.print(h)
    if waited and code == EXIT_IN_PROGRESS:
        out.print("[yellow]still in progress at the timeout[/]")


# --------------------------------------------------------------------------- operator commands


def operate(args: argparse.Namespace) -> int:
    """Record an operator intent and run one controller decision now; print what changed."""
    from botocore.exceptions import ClientError

    from sagemaker_rollouts.lambdas import store
    from sagemaker_rollouts.lambdas.aws_adapter import Clients
    from sagemaker_rollouts.lambdas.canary_hook import run as hook_run

    stack = load_stack(Path(args.dir), args.stack)
    plan = stack.plan
    ep = select_endpoint(plan, args.endpoint, canary_only=True)
    spec = ep.canary
    assert spec is not None and plan.state_table_name is not None
    kind = "promote_full" if args.command == "promote" and args.full else args.command
    aws = AwsClients.create(plan.region)
    topic = find_topic_arn(plan, aws.sns)
    env = {
        "ROLLOUT_SPEC": spec.to_json(),
        "STATE_TABLE": plan.state_table_name,
        "TOPIC_ARN": "" if topic is None else topic,
    }
    hook_clients = Clients(
        sagemaker=aws.sagemaker, cloudwatch=aws.cloudwatch, dynamodb=aws.dynamodb, sns=aws.sns
    )
    who = _who(aws)
    reason = args.reason if args.reason else f"rollout {args.command} from the CLI"
    tick = {"source": "rollout.cli", "detail-type": "Operator Command", "detail": {"kind": kind}}

    table = plan.state_table_name

    def read_or_recover() -> RolloutState | None:
        """The state item; a malformed one is first re-derived by one hook decision (from the
        history and the live weights, recorded as a `recover` row), as the hook itself would:
        an abort must never end in a traceback because someone broke the item."""
        try:
            return store.read_state(aws.dynamodb, table, spec.rollout_id)
        except store.MalformedState:
            hook_run(tick, env, hook_clients, time.time(), log=_quiet)
            return store.read_state(aws.dynamodb, table, spec.rollout_id)

    try:
        before = read_or_recover()
        if before is None:
            # The hook has not run since the deploy: its first decision creates the state item.
            # Only when the endpoint is at the plan's first step: otherwise the local stack file
            # is not what was deployed (another rollout id) and a first tick would "reconcile"
            # live traffic back to step 0.
            # A rollout with history but no state item lost it: the hook recovers it from the
            # history and the live weights, so the first-step check does not apply.
            if not store.read_history(aws.dynamodb, plan.state_table_name, spec.rollout_id, 1):
                _check_first_step(aws, ep)
            hook_run(tick, env, hook_clients, time.time(), log=_quiet)
            before = store.read_state(aws.dynamodb, plan.state_table_name, spec.rollout_id)
        weights_before = _live_weights(aws, ep)
        try:
            intent = store.record_intent(
                aws.dynamodb, plan.state_table_name, spec.rollout_id, kind, who, reason, time.time()
            )
        except store.MalformedState:  # broken between our read and the intent's: recover, again
            read_or_recover()
            intent = store.record_intent(
                aws.dynamodb, plan.state_table_name, spec.rollout_id, kind, who, reason, time.time()
            )
        result = hook_run(tick, env, hook_clients, time.time(), log=_quiet)
        after = store.read_state(aws.dynamodb, plan.state_table_name, spec.rollout_id)
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise UsageError(
                f"state table {plan.state_table_name} not found in {plan.region}: is stack "
                f"{plan.stack} deployed (pulumi up) in this account?"
            ) from None
        raise
    assert before is not None and after is not None
    weights_after = _live_weights(aws, ep)
    refused = after.intent_refused if after.last_intent_id == intent.id else None
    applied = after.last_intent_id == intent.id and refused is None
    finished = after.status in ("completed", "rolled_back", "failed")
    ok = _goal_met(kind, after.status) and (applied or finished)
    if args.json:
        render.print_json(
            {
                "endpoint": ep.key,
                "rollout_id": spec.rollout_id,
                "intent": {"kind": kind, "who": who, "at": intent.at, "reason": reason},
                "applied": applied,
                "refused": refused,
                "decision": result["decision"],
                "reason": result["reason"],
                "before": {
                    "status": before.status,
                    "step_index": before.step_index,
                    "weights": weights_before,
                },
                "after": {
                    "status": after.status,
                    "step_index": after.step_index,
                    "weights": weights_after,
                },
                "notification_topic": topic,
            }
        )
    else:
        out = render.console()
        out.print(
            f"[bold]{kind}[/] recorded for {escape(spec.rollout_id)} by {escape(who)}: "
            f"{escape(reason)}"
        )
        out.print(f"decision: [bold]{result['decision']}[/]: {escape(str(result['reason']))}")
        t = Table(show_header=True)
        t.add_column("")
        t.add_column("before")
        t.add_column("after")
        t.add_row("status", before.status, after.status)
        t.add_row("step", str(before.step_index), str(after.step_index))
        t.add_row(
            "weights",
            escape(render.weights_text(weights_before)),
            escape(render.weights_text(weights_after)),
        )
        out.print(t)
        if topic is None:
            out.print("[yellow]warning:[/] no notification topic found; nothing was published")
        if not applied and finished:
            out.print(f"the rollout is {after.status}: {kind} has no effect")
        elif refused is not None:
            out.print(
                f"[yellow]refused:[/] {escape(refused)}; the intent is recorded as refused and "
                "will not fire later: run the command again when the reason has cleared"
            )
        elif not applied:
            out.print(
                "[yellow]not applied:[/] the hook could not decide now (see its reason); the "
                "intent expires unless a tick within "
                f"{INTENT_TTL_SECONDS // 60} minutes applies it"
            )
    return EXIT_OK if ok else EXIT_FAILED


def _check_first_step(aws: AwsClients, ep: EndpointPlan) -> None:
    from sagemaker_rollouts.strategies.controller import step_weights

    spec = ep.canary
    assert spec is not None
    live = _live_weights(aws, ep)
    want = dict(step_weights(spec, 0))
    if live and all(abs(live.get(k, -1.0) - w) < 1e-6 for k, w in want.items()):
        return
    raise UsageError(
        f"no rollout state for {spec.rollout_id} and endpoint {ep.endpoint_name} is not at the "
        f"plan's first step (live {render.weights_text(live) or 'missing'}); is "
        "Pulumi.<stack>.yaml the config that was deployed?"
    )


def _goal_met(kind: str, status: str) -> bool:
    match kind:
        case "pause":
            return status == "paused"
        case "resume" | "promote" | "promote_full":
            return status in ("in_progress", "completed")
        case "abort":
            return status == "rolled_back"
        case _:
            return False


def _live_weights(aws: AwsClients, ep: EndpointPlan) -> dict[str, float]:
    from sagemaker_rollouts.lambdas.aws_adapter import read_endpoint

    return {name: w for name, w in read_endpoint(aws.sagemaker, ep.endpoint_name).weights}


def _who(aws: AwsClients) -> str:
    """$USER, else the caller identity's ARN."""
    user = os.environ.get("USER")
    if user:
        return user
    try:
        return str(aws.sts.get_caller_identity()["Arn"])
    except Exception:  # no identity is not a reason to refuse an abort
        return "unknown"


def _quiet(_line: str) -> None:
    """The hook's EMF log lines belong in CloudWatch Logs, not on the operator's terminal."""
