"""The live commands: `rollout status` and `rollout pause|resume|promote [--full]|abort`.

They talk to AWS (or to `AWS_ENDPOINT_URL`, e.g. moto) with the caller's credentials. The endpoint,
its rollout spec, state table and alarms come from `cli/target.py`: with `--stack`, the stack's plan,
built offline from `Pulumi.<stack>.yaml` exactly as `pulumi up` builds it (so the CLI and the
deployed hook agree on the rollout id); with `--endpoint NAME` alone, from AWS (the endpoint's tags
and its hook's environment), for an endpoint declared any way, `RolloutEndpoint` included.

An operator command records the intent on the state item (who, when, why) with
`sagemaker_rollouts.lambdas.store.record_intent`, then runs ONE controller decision at once through
`sagemaker_rollouts.lambdas.canary_hook.run`, the function the hook Lambda runs, with the real clock.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from sagemaker_rollouts.cli import render
from sagemaker_rollouts.cli.errors import (
    EXIT_FAILED,
    EXIT_IN_PROGRESS,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
)
from sagemaker_rollouts.cli.target import (
    Target,
    as_deployed,
    every_or_one,
    find_topic,
    resolve,
    the_canary,
)
from sagemaker_rollouts.lambdas.controller import (
    INTENT_TTL_SECONDS,
    EndpointView,
    IntentKind,
    RolloutState,
    command_name,
)
from sagemaker_rollouts.lambdas.rollout import RolloutSpec
from sagemaker_rollouts.simulator.provision import AwsClients
from sagemaker_rollouts.strategies import dashboard, native

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
    # Canary: where the rollout stands (`rollout_view`), None for other strategies.
    rollout: dict[str, Any] | None = None
    gates: tuple[str, ...] = ()  # alarm names that gate the rollout (the rest: sample, baseline)

    @property
    def shown_status(self) -> str:
        """What the header says: the rollout's own status (paused too), else the verdict."""
        return self.verdict if self.rollout_status is None else self.rollout_status

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
            "rollout": self.rollout,
        }

    def line(self, now: float) -> str:
        """One line for a log (`--wait`, `--watch` off a terminal): status, step n of N, shares,
        bake, gates, pause."""
        stamp = time.strftime("%H:%M:%S", time.gmtime(now))
        head = f"{stamp} {self.key}: {self.shown_status}"
        r = self.rollout
        if r is not None:
            head += f" step {r['step']} of {r['steps']}"
            head += (
                f", candidate {_pct(r['live_percent'])} live / {r['intended_percent']}% intended"
            )
            if r["bake_seconds"] is not None and self.rollout_status in ("in_progress", "paused"):
                head += f", bake {r['evidence_seconds']:.0f}s of {r['bake_seconds']}s"
            if r["paused_by"] is not None:
                head += f", paused by {r['paused_by']['who']}"
        elif self.phase is not None:
            head += f" (SageMaker deployment: {self.phase})"
        gates = [f"{n} {s}" for n, s in self.alarms.items() if n in self.gates]
        if gates:
            head += "; gates: " + ", ".join(gates)
        if self.history:
            newest = self.history[0]
            head += f"; last: {newest['kind']}: {newest['reason']}"
        return head

    def change_key(self) -> tuple[Any, ...]:
        """What counts as a change for `--wait` lines: everything but the clock's progress."""
        r = self.rollout or {}
        return (
            self.endpoint_status,
            self.shown_status,
            self.verdict,
            tuple(sorted(self.weights.items())),
            tuple(sorted(self.alarms.items())),
            r.get("step"),
            r.get("intended_percent"),
            None if r.get("paused_by") is None else r["paused_by"].get("who"),
            self.phase,
            None if not self.history else self.history[0].get("version"),
        )


def status(args: argparse.Namespace) -> int:
    resolved, aws = resolve(args, select=every_or_one, clients=AwsClients.create)
    # A canary's rollout as its deployed hook steps it (`as_deployed`): the one a decision
    # taken on what this shows would reach.
    targets = [as_deployed(t, aws) for t in resolved.targets]

    def read() -> list[EndpointStatus]:
        return [read_status(t, aws) for t in targets]

    watch = bool(getattr(args, "watch", False))
    if watch and render.console().is_terminal:
        views, code = _watch_live(read, args)
    elif args.wait or watch:
        views, code = _poll(read, args, log=render.console(stderr=args.json))
    else:
        views = read()
        code = _combined(views)
    if args.json:
        render.print_json({"stack": resolved.stack, "endpoints": [v.as_json() for v in views]})
    elif not (watch and render.console().is_terminal):
        _print_status(views, waited=args.wait or watch, code=code)
    return code


DEFAULT_TIMEOUT = 3600.0


def _interval(args: argparse.Namespace) -> float:
    if args.interval is not None:
        return float(args.interval)
    return 5.0 if getattr(args, "watch", False) else 15.0


def _poll(
    read: Callable[[], list[EndpointStatus]], args: argparse.Namespace, log: Console
) -> tuple[list[EndpointStatus], int]:
    """`--wait` (and `--watch` off a terminal): poll until every endpoint is finished or the
    timeout, printing one line per endpoint whenever it changes, so a CI log shows progress."""
    timeout = DEFAULT_TIMEOUT if args.timeout is None else float(args.timeout)
    deadline = time.monotonic() + timeout
    seen: dict[str, tuple[Any, ...]] = {}
    settled = False
    while True:
        views = read()
        for v in views:
            key = v.change_key()
            if seen.get(v.key) != key:
                seen[v.key] = key
                log.print(escape(v.line(time.time())))
        code = _combined(views)
        if code != EXIT_IN_PROGRESS and not settled:
            # The reads of one poll are not one snapshot (the endpoint is read before the state
            # item): read once more at once, so the last line shows the weights that go with
            # the finished state.
            settled = True
            continue
        if code != EXIT_IN_PROGRESS or time.monotonic() >= deadline:
            return views, code
        time.sleep(max(0.0, min(_interval(args), deadline - time.monotonic())))


def _watch_live(
    read: Callable[[], list[EndpointStatus]], args: argparse.Namespace
) -> tuple[list[EndpointStatus], int]:
    """`--watch` on a terminal: the status view refreshed in place (rich Live), like
    `kubectl argo rollouts get rollout --watch`, until finished, the timeout or Ctrl-C."""
    from rich.live import Live

    timeout = DEFAULT_TIMEOUT if args.timeout is None else float(args.timeout)
    deadline = time.monotonic() + timeout
    # Lines wrap at the terminal's width here (the shared console soft-wraps, which Live crops).
    out = Console(file=render.console().file, highlight=False)
    views = read()
    code = _combined(views)
    with Live(_status_group(views, time.time()), console=out, auto_refresh=False) as live:
        try:
            while code == EXIT_IN_PROGRESS and time.monotonic() < deadline:
                time.sleep(max(0.0, min(_interval(args), deadline - time.monotonic())))
                views = read()
                code = _combined(views)
                live.update(_status_group(views, time.time()), refresh=True)
        except KeyboardInterrupt:
            pass
    if code == EXIT_IN_PROGRESS:
        out.print("[yellow]still in progress[/]")
    return views, code


def _combined(views: list[EndpointStatus]) -> int:
    codes = {v.exit_code() for v in views}
    if EXIT_FAILED in codes:
        return EXIT_FAILED
    if EXIT_USAGE in codes:
        return EXIT_USAGE
    if EXIT_IN_PROGRESS in codes:
        return EXIT_IN_PROGRESS
    return EXIT_OK


def read_status(ep: Target, aws: AwsClients) -> EndpointStatus:
    """One endpoint's live state: DescribeEndpoint, one DescribeAlarms, the state item and the
    newest history rows. Read only."""
    from botocore.exceptions import ClientError

    from sagemaker_rollouts.lambdas import store
    from sagemaker_rollouts.lambdas.aws_adapter import describe_alarm_states, read_endpoint

    view = read_endpoint(aws.sagemaker, ep.endpoint_name)
    weights = {name: w for name, w in view.weights}
    names = [a.name for a in ep.alarms][:100]
    alarms: dict[str, str] = dict.fromkeys(names, "MISSING")
    alarms.update(describe_alarm_states(aws.cloudwatch, names))  # every page, composites too
    rollout_status: str | None = None
    step: int | None = None
    history: list[dict[str, Any]] = []
    spec = ep.canary
    if spec is not None and ep.state_table is not None:
        malformed: str | None = None
        try:
            try:
                state = store.read_state(aws.dynamodb, ep.state_table, spec.rollout_id)
            except store.MalformedState as err:
                state, malformed = None, str(err)  # the hook recovers it on its next tick
            rows = store.read_history(aws.dynamodb, ep.state_table, spec.rollout_id, 5)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            state, rows = None, []
        if state is not None:
            rollout_status, step = state.status, state.step_index
        rollout = rollout_view(spec, state, view, time.time(), malformed)
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
    else:
        rollout = None
    phase: native.PhaseView | None = None
    if ep.native and view.status != "Missing":
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
        region=ep.region,
        phase=None if phase is None else phase.phase,
        phase_reason=None if phase is None else phase.reason,
        rollout=rollout,
        gates=ep.gates,
    )


def rollout_view(
    spec: RolloutSpec,
    state: RolloutState | None,
    endpoint: EndpointView,
    now: float,
    malformed: str | None = None,
) -> dict[str, Any]:
    """Where a canary stands, as `status` shows it (and `--json` gives it under "rollout"):
    step n of N (1-based, as in every table), live and intended candidate share (percent), the
    bake's evidence seconds against the step's bake, the next step, who paused it and why.
    Before the hook's first tick the rollout is at step 1 with no evidence yet. Pure."""
    from sagemaker_rollouts.lambdas.controller import (
        candidate_share,
        evidence_seconds,
        missing_total,
    )

    index = 0 if state is None else state.step_index
    current = spec.steps[index]
    finished = state is not None and state.status in ("completed", "rolled_back", "failed")
    intended = (
        0 if state is not None and state.status == "rolled_back" else current.candidate_percent
    )
    following = spec.steps[index + 1] if index + 1 < len(spec.steps) else None
    paused_by: dict[str, Any] | None = None
    if (
        state is not None
        and state.status == "paused"
        and state.intent is not None
        and state.intent.kind == "pause"
    ):
        paused_by = {"who": state.intent.who, "reason": state.intent.reason, "at": state.intent.at}
    evidence = 0.0 if state is None else evidence_seconds(state.clocks, now)
    return {
        "step": index + 1,
        "steps": len(spec.steps),
        "status": None if state is None else state.status,
        "live_percent": candidate_share(spec, endpoint),
        "intended_percent": intended,
        "bake_seconds": None if finished else current.bake_seconds,
        "evidence_seconds": 0.0 if finished else evidence,
        "missing_data_seconds": 0.0 if state is None else missing_total(state.clocks, now),
        "insufficient_data_limit_seconds": spec.insufficient_data_limit_seconds,
        "next": None
        if finished or following is None
        else {"step": index + 2, "candidate_percent": following.candidate_percent},
        "paused_by": paused_by,
        "pending_rollback": state is not None and state.pending_rollback,
        "rollback": None
        if state is None or state.status != "rolled_back"
        else {
            "alarm": state.rollback_alarm,
            "reason": state.rollback_reason,
            "at": state.rollback_at,
        },
        "last_intent_refused": None if state is None else state.intent_refused,
        "waiting_for": None if state is None else state.stuck_kind,
        "state_malformed": malformed,
    }


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{share:g}%"


def _print_status(views: list[EndpointStatus], *, waited: bool, code: int) -> None:
    out = render.console()
    out.print(_status_group(views, time.time()))
    if waited and code == EXIT_IN_PROGRESS:
        out.print("[yellow]still in progress at the timeout[/]")


_STATUS_COLOR = {"completed": "green", "in_progress": "yellow", "paused": "yellow"}


def _status_group(views: list[EndpointStatus], now: float) -> Group:
    """The status view of every endpoint (printed once, or refreshed in place by --watch)."""
    parts: list[RenderableType] = []
    for v in views:
        parts.extend(_endpoint_view(v, now))
    return Group(*parts)


def _endpoint_view(v: EndpointStatus, now: float) -> list[RenderableType]:
    if v.verdict == "not_deployed":
        return [
            Text.from_markup(
                f"[bold]{escape(v.key)}[/]: [red]not deployed[/]: endpoint "
                f"{escape(v.endpoint_name)} does not exist in {v.region} and no rollout is "
                "recorded; wrong account or region, or `pulumi up` has not run"
            )
        ]
    parts: list[RenderableType] = []
    shown = v.shown_status
    color = _STATUS_COLOR.get(shown, "red")
    r = v.rollout
    where = "" if r is None else f" at step {r['step']} of {r['steps']}"
    parts.append(
        Text.from_markup(
            f"[bold]{escape(v.key)}[/]: endpoint {escape(v.endpoint_name)} ({v.strategy}) "
            f"{v.endpoint_status}  rollout [{color}]{shown}[/]{where}"
            + ("" if v.phase is None else f" (SageMaker deployment: {v.phase})")
        )
    )
    lines: list[str] = []
    if v.phase_reason is not None:
        lines.append(v.phase_reason)
    if r is not None:
        lines.extend(_rollout_lines(v, r, now))
    lines.append(f"dashboard: {v.dashboard_url}")
    parts.extend(Text(f"  {line}") for line in lines)
    t = Table(show_header=True)
    t.add_column("variant")
    t.add_column("weight", justify="right")
    total = sum(v.weights.values())
    for name, w in v.weights.items():
        share = "" if total <= 0 else f" ({100 * w / total:g}%)"
        t.add_row(escape(name), f"{w:g}{share}")
    parts.append(t)
    a = Table(show_header=True)
    a.add_column("alarm", overflow="fold")
    a.add_column("role")
    a.add_column("state")
    for name, state in v.alarms.items():
        style = {"OK": "green", "ALARM": "red"}.get(state, "yellow")
        a.add_row(escape(name), "gate" if name in v.gates else "watch", f"[{style}]{state}[/]")
    parts.append(a)
    if v.history:
        parts.append(Text("last decisions (newest first; rollout history shows them all):"))
        lines = render.aligned(
            ["  when (UTC)", "kind", "step", "cand. %", "who: reason"],
            [
                [
                    "  " + time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(row["at"])),
                    row["kind"],
                    str(row["step_index"] + 1),
                    str(row["candidate_percent"]),
                    (f"{row['who']}: " if row["who"] else "") + row["reason"],
                ]
                for row in v.history
            ],
        )
        parts.extend(Text(line) for line in lines)
    return parts


def _rollout_lines(v: EndpointStatus, r: dict[str, Any], now: float) -> list[str]:
    """The canary's own lines: share, bake, next step, pause, rollback, refused intent."""
    del now
    lines = [
        f"candidate: {_pct(r['live_percent'])} live, {r['intended_percent']}% intended "
        f"(step {r['step']} of {r['steps']})"
    ]
    if r["state_malformed"] is not None:
        lines.append(f"state item malformed ({r['state_malformed']}); the hook re-derives it")
    if r["bake_seconds"] is not None:
        bake = r["bake_seconds"]
        seen = min(r["evidence_seconds"], float(bake))
        pct = 100.0 if bake <= 0 else 100.0 * seen / bake
        lines.append(
            f"bake: {render.duration(seen)} of {render.duration(bake)} with evidence ({pct:.0f}%)"
            + (
                ""
                if not r["missing_data_seconds"]
                else f"; INSUFFICIENT_DATA {r['missing_data_seconds']:.0f}s of "
                f"{r['insufficient_data_limit_seconds']}s allowed this step"
            )
        )
        nxt = r["next"]
        lines.append(
            "next: complete after the bake"
            if nxt is None
            else f"next: step {nxt['step']} ({nxt['candidate_percent']}%) after the bake"
        )
    gates = [f"{n} {s}" for n, s in v.alarms.items() if n in v.gates]
    if gates:
        lines.append("gates: " + ", ".join(gates))
    if r["paused_by"] is not None:
        p = r["paused_by"]
        lines.append(
            f"paused by {p['who']} at {time.strftime('%H:%M:%S', time.gmtime(p['at']))} UTC"
            + (f": {p['reason']}" if p["reason"] else "")
            + " (rollout resume continues it)"
        )
    if r["waiting_for"] is not None:
        lines.append(f"held for a human: {r['waiting_for']}")
    if r["pending_rollback"]:
        lines.append("rollback decided, not yet applied: retried every tick")
    if r["rollback"] is not None:
        rb = r["rollback"]
        lines.append(
            f"rolled back: {rb['reason']}"
            + ("" if rb["alarm"] is None else f" (alarm {rb['alarm']})")
        )
    if r["last_intent_refused"] is not None:
        lines.append(f"last operator intent refused: {r['last_intent_refused']}")
    return lines


# --------------------------------------------------------------------------- operator commands


def operate(args: argparse.Namespace) -> int:
    """Record an operator intent and run one controller decision now; print what changed."""
    from botocore.exceptions import ClientError

    from sagemaker_rollouts.lambdas import store
    from sagemaker_rollouts.lambdas.aws_adapter import Clients
    from sagemaker_rollouts.lambdas.canary_hook import run as hook_run

    resolved, aws = resolve(args, select=the_canary, clients=AwsClients.create, want="canary")
    (ep,) = resolved.targets
    # The topic (and table) the deployed hook uses, not names derived from the local plan: a
    # brought topic is the only one the platform team hears.
    ep = as_deployed(ep, aws)
    spec = ep.canary
    table = ep.state_table
    assert spec is not None and table is not None
    kind = "promote_full" if args.command == "promote" and args.full else args.command
    topic = find_topic(ep, aws.sns)
    env = {
        "ROLLOUT_SPEC": spec.to_json(),
        "STATE_TABLE": table,
        "TOPIC_ARN": "" if topic is None else topic,
        # What the deployed hook's notifications say (`lambdas/notify.py`), so a notice this
        # decision publishes tells on-call the same command as the hook's own.
        "ROLLOUT_STACK": ep.stack,
        "ROLLOUT_TARGET": ep.notify_target,
    }
    hook_clients = Clients(
        sagemaker=aws.sagemaker, cloudwatch=aws.cloudwatch, dynamodb=aws.dynamodb, sns=aws.sns
    )
    who = _who(aws)
    reason = args.reason if args.reason else f"rollout {args.command} from the CLI"
    tick = {"source": "rollout.cli", "detail-type": "Operator Command", "detail": {"kind": kind}}

    offset = _aws_clock_offset(aws, ep.endpoint_name)

    def aws_now() -> float:
        return time.time() + offset

    def tick_now() -> dict[str, Any]:
        """One hook decision now, run with the hook's environment as the Lambda has it (the
        notifier reads `ROLLOUT_TARGET` there): a notice says what the hook's own say."""
        with hook_environment(env):
            return hook_run(tick, env, hook_clients, aws_now(), log=_quiet)

    def read_or_recover() -> RolloutState | None:
        """The state item; a malformed one is first re-derived by one hook decision (from the
        history and the live weights, recorded as a `recover` row), as the hook itself would:
        an abort must never end in a traceback because someone broke the item."""
        try:
            return store.read_state(aws.dynamodb, table, spec.rollout_id)
        except store.MalformedState:
            tick_now()
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
            if not store.read_history(aws.dynamodb, table, spec.rollout_id, 1):
                _check_first_step(aws, ep)
            tick_now()
            before = store.read_state(aws.dynamodb, table, spec.rollout_id)
        weights_before = _live_weights(aws, ep)
        try:
            intent = store.record_intent(
                aws.dynamodb, table, spec.rollout_id, kind, who, reason, aws_now()
            )
        except store.MalformedState:  # broken between our read and the intent's: recover, again
            read_or_recover()
            intent = store.record_intent(
                aws.dynamodb, table, spec.rollout_id, kind, who, reason, aws_now()
            )
        result = tick_now()
        after = store.read_state(aws.dynamodb, table, spec.rollout_id)
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise UsageError(
                f"state table {table} not found in {ep.region}: is {ep.address} deployed "
                "(pulumi up) in this account?"
            ) from None
        raise
    assert before is not None and after is not None
    weights_after = _live_weights(aws, ep)
    refused = after.intent_refused if after.last_intent_id == intent.id else None
    applied = after.last_intent_id == intent.id and refused is None
    finished = after.status in ("completed", "rolled_back", "failed")
    # Recorded is not done: while SageMaker refuses the weights call (the endpoint is Updating,
    # or started updating after the hook's DescribeEndpoint) traffic has not moved; the hook's
    # next InService tick moves it (a pending rollback, or a reconcile to the stored step).
    traffic_pending = not _weights_at(_target(spec, after), weights_after)
    ok = _goal_met(kind, after.status) and (applied or finished) and not traffic_pending
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
                "traffic_pending": traffic_pending,
                "notification_topic": topic,
            }
        )
    else:
        _print_operated(
            kind,
            spec.rollout_id,
            who,
            reason,
            result,
            (before, after),
            (weights_before, weights_after),
            topic,
            refused=refused,
            applied=applied,
            finished=finished,
            traffic_pending=traffic_pending,
        )
    return EXIT_OK if ok else EXIT_FAILED


def _print_operated(
    kind: IntentKind,
    rollout_id: str,
    who: str,
    reason: str,
    result: dict[str, Any],
    states: tuple[RolloutState, RolloutState],
    weights: tuple[dict[str, float], dict[str, float]],
    topic: str | None,
    *,
    refused: str | None,
    applied: bool,
    finished: bool,
    traffic_pending: bool,
) -> None:
    """What an operator command did, for a terminal: the intent, the decision, before and after."""
    before, after = states
    weights_before, weights_after = weights
    spec_id = rollout_id
    out = render.console()
    out.print(
        f"[bold]{command_name(kind)}[/] recorded for {escape(spec_id)} by {escape(who)}: "
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
    if traffic_pending:
        out.print(
            f"[yellow]recorded, traffic not moved yet:[/] {escape(str(result['reason']))}; "
            "the hook moves it on its next tick once the endpoint is InService (every "
            "minute); check with `rollout status`"
        )
    elif not applied and finished:
        out.print(f"the rollout is {after.status}: {command_name(kind)} has no effect")
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


def _target(spec: RolloutSpec, state: RolloutState) -> dict[str, float] | None:
    """The weights the stored state holds the endpoint to (None for a failed rollout: no
    target): the rollback's for rolled_back, else the current step's."""
    from sagemaker_rollouts.lambdas.controller import rollback_weights, step_weights

    if state.status == "failed":
        return None
    if state.status == "rolled_back":
        return dict(rollback_weights(spec))
    return dict(step_weights(spec, state.step_index))


def _weights_at(target: dict[str, float] | None, live: dict[str, float]) -> bool:
    return target is None or all(abs(live.get(k, -1.0) - w) < 1e-6 for k, w in target.items())


def _check_first_step(aws: AwsClients, ep: Target) -> None:
    from sagemaker_rollouts.lambdas.controller import step_weights

    spec = ep.canary
    assert spec is not None
    live = _live_weights(aws, ep)
    want = dict(step_weights(spec, 0))
    if live and all(abs(live.get(k, -1.0) - w) < 1e-6 for k, w in want.items()):
        return
    raise UsageError(
        f"no rollout state for {spec.rollout_id} and endpoint {ep.endpoint_name} is not at the "
        f"plan's first step (live {render.weights_text(live) or 'missing'}); "
        + (
            "is Pulumi.<stack>.yaml the config that was deployed?"
            if ep.address.startswith("--stack ")
            else "the hook's rollout spec is not what the endpoint runs: has `pulumi up` finished?"
        )
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


def _live_weights(aws: AwsClients, ep: Target) -> dict[str, float]:
    from sagemaker_rollouts.lambdas.aws_adapter import read_endpoint

    return {name: w for name, w in read_endpoint(aws.sagemaker, ep.endpoint_name).weights}


CLOCK_TOLERANCE_SECONDS = 2.0


def _aws_clock_offset(aws: AwsClients, endpoint_name: str) -> float:
    """Seconds to add to this machine's clock to read AWS's: an operator command decides and
    records on the clock the hook Lambda ticks on, so a machine a few minutes off (AWS accepts
    signed requests up to 5 minutes off: SigV4's RequestTimeTooSkewed) neither shortens nor
    stretches a bake. From the `Date` header (RFC 9110 HTTP-date, whole seconds) of one
    DescribeEndpoint, a call the command needs anyway (an error answer carries one too); within
    CLOCK_TOLERANCE_SECONDS, or when there is no answer or no header, 0."""
    from email.utils import parsedate_to_datetime

    from botocore.exceptions import ClientError

    before = time.time()
    try:
        resp: Any = aws.sagemaker.describe_endpoint(EndpointName=endpoint_name)
    except ClientError as err:
        resp = err.response
    except Exception:  # no answer, no clock to compare with: this machine's, as before
        return 0.0
    after = time.time()
    try:
        header = str(resp["ResponseMetadata"]["HTTPHeaders"]["date"])
        server = parsedate_to_datetime(header).timestamp() + 0.5  # the second's middle
    except (KeyError, TypeError, ValueError):
        return 0.0
    offset = server - (before + after) / 2
    return 0.0 if abs(offset) <= CLOCK_TOLERANCE_SECONDS else offset


def _who(aws: AwsClients) -> str:
    """$USER, else the caller identity's ARN."""
    user = os.environ.get("USER")
    if user:
        return user
    try:
        return str(aws.sts.get_caller_identity()["Arn"])
    except Exception:  # no identity is not a reason to refuse an abort
        return "unknown"


@contextmanager
def hook_environment(env: Mapping[str, str]) -> Iterator[None]:
    """Run with `env` in the process environment, as the hook Lambda runs with its own (the
    notifier reads `ROLLOUT_STACK` and `ROLLOUT_TARGET` there); restored on exit."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _quiet(_line: str) -> None:
    """The hook's EMF log lines belong in CloudWatch Logs, not on the operator's terminal."""
