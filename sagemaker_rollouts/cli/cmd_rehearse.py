"""`rollout rehearse`: the real canary controller, on a simulated clock, against moto.

What runs is what runs in AWS: the plan from the stack file is provisioned into a moto server
(models, endpoint config, endpoint, alarms, state table, topic), and every tick calls
`sagemaker_rollouts.lambdas.canary_hook.run`, the function the hook Lambda's handler calls, with the same clients,
environment and event shapes. Only the clock and CloudWatch are stood in for:

- time is simulated: the one-minute schedule fires at every multiple of 60 s, and an `alarm` event
  also invokes the hook at once with a "CloudWatch Alarm State Change" event, as the EventBridge
  alarm-state rule would;
- moto never evaluates alarms from metrics, so alarms whose metric the scenario feeds (the
  low-traffic sample alarm from candidate Invocations) are evaluated here (`alarm_sim`) and pushed
  with SetAlarmState; other alarms move only on the scenario's explicit `alarm` events;
- a scenario's `drift:` captures are written to moto's S3 and the real drift job
  (`sagemaker_rollouts.lambdas.drift_job.run`) runs on its schedule; the drift alarms are
  evaluated (`alarm_sim`) from the scores it published;
- operator commands go through `store.record_intent` plus one `run`, exactly as the live
  `rollout pause|resume|promote|abort` commands do.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from sagemaker_rollouts.cli import render
from sagemaker_rollouts.cli.alarm_sim import AlarmState, MetricSeries, evaluate
from sagemaker_rollouts.cli.errors import EXIT_FAILED, EXIT_OK, UsageError
from sagemaker_rollouts.cli.rehearse_native import NativeStep, Summary
from sagemaker_rollouts.cli.scenario import (
    AlarmEvent,
    CommandEvent,
    LoadedScenario,
    MetricEvent,
    load_scenario,
)
from sagemaker_rollouts.cli.stack import LoadedStack, load_stack, rollout_of, select_endpoint
from sagemaker_rollouts.lambdas.drift import FEATURE_METRIC
from sagemaker_rollouts.lambdas.drift import JOB_METRIC as DRIFT_JOB_METRIC
from sagemaker_rollouts.lambdas.drift import METRIC_NAMESPACE as DRIFT_NAMESPACE
from sagemaker_rollouts.lambdas.rollout import RolloutSpec
from sagemaker_rollouts.strategies.plan import AlarmPlan, EndpointPlan

FINISHED = frozenset({"completed", "rolled_back", "failed"})
TICK_SECONDS = 60  # the hook's EventBridge schedule: rate(1 minute)
ALARM_EVENT = "CloudWatch Alarm State Change"
INTENT_OF = {
    "pause": "pause",
    "resume": "resume",
    "promote": "promote",
    "promote-full": "promote_full",
    "abort": "abort",
}


@dataclass(frozen=True, slots=True)
class Step:
    """One hook invocation in the rehearsal and what it decided."""

    at: int  # simulated seconds since the rehearsal started
    trigger: str  # schedule | alarm <name> <state> | command <name>
    decision: str
    reason: str
    status: str
    step_index: int
    candidate_percent: float | None
    weights: dict[str, float]

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "trigger": self.trigger,
            "decision": self.decision,
            "reason": self.reason,
            "status": self.status,
            "step_index": self.step_index,
            "candidate_percent": self.candidate_percent,
            "weights": self.weights,
        }


@dataclass(slots=True)
class Rehearsal:
    endpoint: EndpointPlan
    spec: RolloutSpec
    steps: list[Step] = field(default_factory=list)
    markers: list[tuple[int, str, str]] = field(default_factory=list)  # (t, label, color)
    final_status: str = "in_progress"
    final_percent: float | None = None


@dataclass(frozen=True, slots=True)
class _Resolved:
    """Scenario events with their alarm names and variant names resolved against the plan."""

    alarm_names: dict[int, str]  # event index -> full alarm name
    series: dict[tuple[str, str], MetricSeries]  # (variant, metric) -> levels
    fed_alarms: tuple[AlarmPlan, ...]  # alarms this rehearsal evaluates from fed metrics
    drift_alarms: tuple[AlarmPlan, ...] = ()  # evaluated from the drift job's scores (`drift:`)


def prepare(
    directory: Path, scenario_path: Path, stack: str | None = None, endpoint: str | None = None
) -> tuple[LoadedStack, EndpointPlan, LoadedScenario, _Resolved | None]:
    """Load a scenario and its stack, pick the endpoint and resolve the scenario against it
    (`_Resolved` for a canary endpoint, None for the others, which the emulators run).

    Raises UsageError naming the scenario's line for every problem found."""
    loaded = load_scenario(scenario_path)
    st, ep = prepare_stack(directory, loaded, stack, endpoint)
    return st, ep, loaded, _resolve_for(loaded, ep)


def prepare_stack(
    directory: Path, loaded: LoadedScenario, stack: str | None, endpoint: str | None
) -> tuple[LoadedStack, EndpointPlan]:
    """The stack (`stack`, else the scenario's) and its endpoint (`endpoint`, else the scenario's,
    else the stack's only endpoint, else its only canary endpoint)."""
    scenario = loaded.scenario
    stack_name = stack if stack is not None else scenario.stack
    if stack_name is None:
        raise UsageError(
            f"{loaded.path}: no stack: pass --stack NAME or set `stack:` in the scenario"
        )
    source = None if stack is not None else f"{loaded.where('stack')}: {stack_name}"
    loaded_stack = load_stack(directory, stack_name, source=source)
    wanted = endpoint if endpoint is not None else scenario.endpoint
    plan = loaded_stack.plan
    try:
        if wanted is None and len(plan.endpoints) > 1:
            chosen = select_endpoint(plan, None, canary_only=True)
        else:
            chosen = select_endpoint(plan, wanted, canary_only=False)
    except UsageError as e:
        if endpoint is None and scenario.endpoint is not None:
            raise UsageError(f"{loaded.where('endpoint')}: {e.lines[0]}") from None
        raise
    return loaded_stack, chosen


def _resolve_for(loaded: LoadedScenario, endpoint: EndpointPlan) -> _Resolved | None:
    from sagemaker_rollouts.cli.rehearse_native import check_native

    if rollout_of(endpoint) is not None:
        return _resolve(loaded, endpoint)
    if loaded.scenario.drift is not None:
        raise UsageError(
            f"{loaded.where('drift')}: captures for the drift job are rehearsed on canary "
            f"endpoints only; endpoint {endpoint.key} is {endpoint.strategy}"
        )
    check_native(loaded, endpoint)
    return None


def summarize(
    directory: Path,
    loaded: LoadedScenario,
    stack: str | None,
    endpoint: str | None,
    printer: _Printer | None = None,
    *,
    skip_quiet: bool = True,
) -> tuple[Summary, Rehearsal | None]:
    """Rehearse one stack's endpoint through the scenario: the canary against moto with the real
    hook, every other strategy through its emulator (rehearse_native)."""
    from sagemaker_rollouts.cli.rehearse_native import (
        rehearse_native,
        summarize_canary,
        with_detection,
    )

    st, ep = prepare_stack(directory, loaded, stack, endpoint)
    resolved = _resolve_for(loaded, ep)
    if resolved is None:
        summary = rehearse_native(st.name, ep, loaded)
        if printer is not None:
            for step in summary.steps:
                printer.native(step)
        return summary, None
    scenario = loaded.scenario
    if scenario.detect is not None and scenario.bad_from is not None:
        # The canary's candidate serves its first step's share from the start.
        spec = rollout_of(ep)
        assert spec is not None
        first = scenario.bad_from if spec.steps[0].candidate_percent > 0 else None
        loaded = with_detection(loaded, first)
        resolved = _resolve(loaded, ep)
    result = rehearse(st, ep, loaded, resolved, printer, skip_quiet=skip_quiet)
    return summarize_canary(st.name, result, loaded), result


def run(args: argparse.Namespace) -> int:
    from sagemaker_rollouts.cli import rehearse_evidence

    if rehearse_evidence.is_evidence_scenario(Path(args.scenario)):
        return rehearse_evidence.run(args)  # shadow comparison / A/B evaluation scenarios
    loaded = load_scenario(Path(args.scenario))
    compare = _compare_list(args, loaded)
    if compare is not None:
        return _run_compare(args, loaded, compare)
    scenario = loaded.scenario
    st, ep = prepare_stack(Path(args.dir), loaded, args.stack, args.endpoint)
    _resolve_for(loaded, ep)  # every scenario problem before anything runs
    show = not args.json
    out = render.console()
    if show:
        what = "" if rollout_of(ep) is not None else f" ({ep.strategy.replace('_', '/')}: emulated)"
        out.print(
            f"[bold]rehearsal[/] {escape(str(loaded.path))}: stack {st.name}, endpoint "
            f"{ep.endpoint_name}{what}, {render.duration(scenario.duration)} simulated"
        )
    printer = _Printer(out) if show else None
    summary, result = summarize(
        Path(args.dir),
        loaded,
        args.stack,
        args.endpoint,
        printer,
        skip_quiet=not args.tick_by_tick,
    )
    if args.png is not None:
        if result is not None:
            _draw(result, Path(args.png), loaded)
        else:
            _draw_summaries([summary], Path(args.png), loaded)
    verdict, problems = check_summary(loaded, summary)
    if args.json:
        render.print_json(rehearsals_json(loaded, [(summary, result)], problems))
    else:
        _summary(out, loaded, summary, problems, verdict)
        if args.png is not None:
            out.print(f"timeline written to {escape(args.png)}")
    return EXIT_OK if verdict else EXIT_FAILED


def _compare_list(args: argparse.Namespace, loaded: LoadedScenario) -> list[str] | None:
    """The stacks to compare (`--compare`, else the scenario's `compare:` unless --stack is given:
    then the scenario runs on that one stack), or None for a single rehearsal.

    Raises UsageError for `--compare` together with --stack or --endpoint (a compared target picks
    its endpoint as `STACK:ENDPOINT`), and for --endpoint with a scenario `compare:` but no --stack."""
    raw = getattr(args, "compare", None)
    flags = [
        f
        for f, v in (("--stack", args.stack), ("--endpoint", getattr(args, "endpoint", None)))
        if v is not None
    ]
    if raw is not None and flags:
        raise UsageError(
            f"--compare cannot be combined with {' and '.join(flags)}: list the targets in "
            "--compare as STACK or STACK:ENDPOINT"
        )
    if (
        raw is None
        and args.stack is None
        and loaded.scenario.compare is not None
        and getattr(args, "endpoint", None) is not None
    ):
        raise UsageError(
            f"{loaded.where('compare')}: the scenario compares stacks, so --endpoint alone is "
            "ambiguous: give --stack too (rehearse that one stack) or list the targets as "
            "STACK:ENDPOINT in compare"
        )
    if raw is not None:
        names = [n.strip() for n in str(raw).split(",") if n.strip()]
        if len(names) < 2:
            raise UsageError(f"--compare {raw!r}: give at least two stacks, comma-separated")
        return names
    if args.stack is None and loaded.scenario.compare is not None:
        return list(loaded.scenario.compare)
    return None


def _run_compare(args: argparse.Namespace, loaded: LoadedScenario, stacks: list[str]) -> int:
    """One scenario against several stacks (or endpoints `stack:endpoint`), side by side."""
    directory = Path(args.dir)
    targets: list[tuple[str, str | None]] = []
    for name in stacks:
        stack, _, endpoint = name.partition(":")
        targets.append((stack, endpoint or None))
    # every stack's problems first, before any rehearsal runs
    errors: list[str] = []
    for stack, endpoint in targets:
        try:
            _, ep = prepare_stack(directory, loaded, stack, endpoint)
            _resolve_for(loaded, ep)
        except UsageError as e:
            errors.extend(f"--compare {stack}: {line}" for line in e.lines)
    if errors:
        raise UsageError(*errors)
    summaries: list[Summary] = []
    runs: list[tuple[Summary, Rehearsal | None]] = []
    verdicts: list[str] = []
    for (stack, endpoint), label in zip(targets, stacks, strict=True):
        summary, result = summarize(
            directory, loaded, stack, endpoint, skip_quiet=not args.tick_by_tick
        )
        summary.stack = label  # `stack` or `stack:endpoint`, as given
        summaries.append(summary)
        runs.append((summary, result))
        _ok, problems = check_summary(loaded, summary)
        verdicts.extend(f"{stack}: {p}" for p in problems)
    if args.png is not None:
        _draw_summaries(summaries, Path(args.png), loaded)
    if args.json:
        render.print_json(rehearsals_json(loaded, runs, verdicts))
    else:
        out = render.console()
        out.print(
            f"[bold]comparison[/] {escape(str(loaded.path))}: "
            f"{render.duration(loaded.scenario.duration)} simulated"
        )
        out.print(compare_table(summaries, loaded))
        for s in summaries:
            for note in s.notes:
                out.print(f"[dim]{escape(s.stack)}: {escape(note)}[/]")
        for p in verdicts:
            out.print(f"[red]expectation not met:[/] {escape(p)}")
        if loaded.scenario.expect is not None and not verdicts:
            out.print("[green]expectation met[/] by every stack")
        if args.png is not None:
            out.print(f"timelines written to {escape(args.png)}")
    return EXIT_FAILED if verdicts else EXIT_OK


NO_TRAFFIC_TEXT = "n/a (no traffic in scenario)"
NO_BAD_FROM_TEXT = "n/a (no bad_from in scenario)"


def served_text(loaded: LoadedScenario, s: Summary) -> str:
    """Requests the candidate served, or n/a when the scenario gives no `traffic:`."""
    return NO_TRAFFIC_TEXT if loaded.scenario.traffic is None else f"{s.served:,.0f}"


def served_bad_text(loaded: LoadedScenario, s: Summary) -> str:
    """Requests served while bad, or n/a without `traffic:` or without `bad_from:`."""
    if loaded.scenario.traffic is None:
        return NO_TRAFFIC_TEXT
    if loaded.scenario.bad_from is None:
        return NO_BAD_FROM_TEXT
    return f"{s.served_bad:,.0f}"


def rehearsal_json(
    loaded: LoadedScenario, s: Summary, result: Rehearsal | None = None
) -> dict[str, Any]:
    """One rehearsal as `--json` prints it: the summary, then every decision.

    Requests are counts (null when the scenario gives no `traffic:`; `..._while_bad` also null
    without `bad_from:`), times are simulated seconds, `candidate_percent` is 0-100 or null."""
    scenario = loaded.scenario
    decisions = [st.as_json() for st in (result.steps if result is not None else s.steps)]
    _ok, problems = check_summary(loaded, s)
    return {
        "stack": s.stack,
        "endpoint": s.endpoint,
        "strategy": s.strategy,
        "outcome": s.outcome,
        "candidate_percent": s.final_percent,
        "time_to_full_seconds": s.time_to_full_seconds,
        "extra_instance_hours": s.extra_instance_hours,
        "requests_served": None if scenario.traffic is None else round(s.served, 3),
        "requests_served_while_bad": (
            None
            if scenario.traffic is None or scenario.bad_from is None
            else round(s.served_bad, 3)
        ),
        "downtime_seconds": s.downtime_seconds,
        "evidence": [list(r) for r in s.evidence],
        "notes": list(s.notes),
        "expectation_met": None if scenario.expect is None else not problems,
        "decisions": decisions,
    }


def rehearsals_json(
    loaded: LoadedScenario,
    runs: Sequence[tuple[Summary, Rehearsal | None]],
    problems: Sequence[str],
) -> dict[str, Any]:
    """The one `--json` shape of a single rehearsal and of `--compare`:
    `{"scenario", "duration_seconds", "rehearsals": [rehearsal_json...], "expect"}` where
    `expect` is null without an `expect:` block, else `{"met": bool, "problems": [str]}`."""
    return {
        "scenario": str(loaded.path),
        "duration_seconds": loaded.scenario.duration,
        "rehearsals": [rehearsal_json(loaded, s, r) for s, r in runs],
        "expect": (
            None
            if loaded.scenario.expect is None
            else {"met": not problems, "problems": list(problems)}
        ),
    }


def compare_table(summaries: Sequence[Summary], loaded: LoadedScenario) -> Table:
    """Side by side: time to 100%, extra instance-hours, exposure, downtime, outcome."""
    t = Table(title="side by side", title_justify="left")
    t.add_column("")
    for s in summaries:
        t.add_column(f"{s.stack} ({s.strategy.replace('_', '/')})", justify="right")
    rows: list[tuple[str, Callable[[Summary], str]]] = [
        ("outcome", lambda s: s.outcome),
        (
            "time to 100%",
            lambda s: (
                "never"
                if s.time_to_full_seconds is None
                else render.duration(s.time_to_full_seconds)
            ),
        ),
        ("extra instance-hours", lambda s: f"{s.extra_instance_hours:g}"),
        ("requests served by candidate", lambda s: served_text(loaded, s)),
    ]
    if loaded.scenario.bad_from is not None:
        rows.append(
            (
                f"… while bad (from {render.clock(loaded.scenario.bad_from)})",
                lambda s: served_bad_text(loaded, s),
            )
        )
    rows.append(
        (
            "downtime",
            lambda s: render.duration(s.downtime_seconds) if s.downtime_seconds else "none",
        )
    )
    for label, fn in rows:
        t.add_row(label, *(escape(fn(s)) for s in summaries))
    return t


def rehearse(
    stack: LoadedStack,
    endpoint: EndpointPlan,
    loaded: LoadedScenario,
    resolved: _Resolved,
    printer: _Printer | None = None,
    *,
    skip_quiet: bool = True,
) -> Rehearsal:
    """Provision the plan into a fresh moto server and drive the hook through the scenario.

    `skip_quiet`: a schedule tick that follows a hold which wrote nothing, with nothing changed in
    the world since (no scenario event, no fed alarm moved), is computed from the pure controller
    on the views read once (`_QuietTicks`) instead of three API calls; every other tick runs the
    real hook. The steps are identical to a tick-by-tick run (`skip_quiet=False`), which
    tests/cli/test_rehearse_speed.py checks for every shipped scenario.
    """
    from sagemaker_rollouts.cli.moto_server import moto_server
    from sagemaker_rollouts.cli.provision import AwsClients, provision
    from sagemaker_rollouts.lambdas import store
    from sagemaker_rollouts.lambdas.aws_adapter import Clients
    from sagemaker_rollouts.lambdas.canary_hook import run as hook_run

    spec = rollout_of(endpoint)
    assert spec is not None
    scenario = loaded.scenario
    result = Rehearsal(endpoint=endpoint, spec=spec)
    base = float(int(time.time()) // 60 * 60)  # simulated epoch: "now", on a minute boundary
    who = f"{_user()} (rehearsal)"
    with moto_server(stack.plan.region):
        aws = AwsClients.create(stack.plan.region)
        provisioned = provision(stack.plan, aws)
        table = provisioned.table_name
        assert table is not None
        env = {
            "ROLLOUT_SPEC": spec.to_json(),
            "STATE_TABLE": provisioned.table_name,
            "TOPIC_ARN": provisioned.topic_arn,
        }
        hook_clients = Clients(
            sagemaker=aws.sagemaker, cloudwatch=aws.cloudwatch, dynamodb=aws.dynamodb, sns=aws.sns
        )
        alarm_states: dict[str, AlarmState] = {a.name: "OK" for a in endpoint.alarms}

        finished = False  # a finished rollout never moves again (controller rule 1)
        quiet = _QuietTicks(spec, hook_clients, table) if skip_quiet else None

        def invoke(t: int, trigger: str, event: dict[str, Any]) -> None:
            nonlocal finished
            out = None if quiet is None or trigger != "schedule" else quiet.tick(base + t)
            if out is None:
                out = hook_run(event, env, hook_clients, base + t, log=_quiet)
                if quiet is not None:
                    quiet.after_hook(out)
            # Once the hook holds a finished rollout, the schedule's remaining ticks would only
            # repeat that hold; they are skipped to keep rehearsals fast. Scenario events still
            # invoke the hook.
            finished = out["decision"] == "hold" and out["status"] in FINISHED
            pct = out.get("candidate_percent")
            weights = {} if pct is None else _weights(spec, float(pct))
            step = Step(
                at=t,
                trigger=trigger,
                decision=str(out["decision"]),
                reason=str(out["reason"]),
                status=str(out["status"]),
                step_index=int(out["step_index"]),
                candidate_percent=None if pct is None else float(pct),
                weights=weights,
            )
            result.steps.append(step)
            if printer is not None:
                printer.decision(step)

        def set_alarm(t: int, name: str, state: AlarmState, why: str) -> None:
            aws.cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=why)
            alarm_states[name] = state
            if quiet is not None:
                quiet.forget()

        drift = _DriftFeed.start(aws, endpoint, scenario, base) if resolved.drift_alarms else None
        ticks = set(range(0, scenario.duration + 1, TICK_SECONDS))
        events = scenario.ordered_events()
        times = sorted(ticks | {e.at for e in events})
        index_of = {id(e): i for i, e in enumerate(scenario.events)}
        progress = _progress(printer, scenario.duration)
        task = progress.add_task("simulating", total=scenario.duration) if progress else None
        try:
            for t in times:
                for e in (e for e in events if e.at == t):
                    i = index_of[id(e)]
                    if quiet is not None:
                        quiet.forget()  # any scenario event may change what the hook reads
                    match e:
                        case MetricEvent(metric=m):
                            variant = _variant(spec, endpoint, m.variant)
                            aws.cloudwatch.put_metric_data(
                                Namespace="AWS/SageMaker",
                                MetricData=[
                                    {
                                        "MetricName": m.name,
                                        "Dimensions": [
                                            {"Name": "EndpointName", "Value": spec.endpoint_name},
                                            {"Name": "VariantName", "Value": variant},
                                        ],
                                        "Timestamp": base + t,
                                        "Value": m.value,
                                    }
                                ],
                            )
                            if printer is not None:
                                printer.note(t, f"metric {variant} {m.name} = {m.value:g}/min")
                        case AlarmEvent(state=state):
                            name = resolved.alarm_names[i]
                            why = e.reason if e.reason is not None else f"scenario events[{i}]"
                            set_alarm(t, name, state, why)
                            result.markers.append((t, f"{name} {state}", _color(state)))
                            if printer is not None:
                                printer.note(t, f"alarm {name} -> {state}")
                            # The EventBridge alarm-state rule invokes the hook at once.
                            invoke(t, f"alarm {name} {state}", _alarm_event(name, state, base + t))
                        case CommandEvent(command=command):
                            reason = e.reason if e.reason is not None else f"scenario events[{i}]"
                            result.markers.append((t, command, "tab:purple"))
                            if store.read_state(aws.dynamodb, table, spec.rollout_id) is None:
                                # An intent needs a state item; the hook's first tick creates it.
                                invoke(t, "schedule", _tick())
                            store.record_intent(
                                aws.dynamodb,
                                env["STATE_TABLE"],
                                spec.rollout_id,
                                INTENT_OF[command],  # type: ignore[arg-type]
                                who,
                                reason,
                                base + t,
                            )
                            invoke(t, f"command {command}", _tick())
                if t in ticks and not finished:
                    if drift is not None and drift.due(t):
                        scores = drift.run(t)
                        if printer is not None:
                            text = ", ".join(f"{k} {v:.3f}" for k, v in scores.items())
                            printer.note(t, f"drift job: {text or drift.failure}")
                    for alarm in resolved.drift_alarms:
                        assert drift is not None
                        new = evaluate(alarm, drift.series(alarm), t, alarm_states[alarm.name])
                        if new != alarm_states[alarm.name]:
                            set_alarm(t, alarm.name, new, "rehearsal: evaluated from drift job")
                            result.markers.append((t, f"{alarm.name} {new}", _color(new)))
                            if printer is not None:
                                printer.note(t, f"alarm {alarm.name} -> {new} (from drift job)")
                            if new == "ALARM":  # the EventBridge alarm-state rule
                                invoke(
                                    t,
                                    f"alarm {alarm.name} {new}",
                                    _alarm_event(alarm.name, new, base + t),
                                )
                    # CloudWatch's part: evaluate the alarms whose metric the scenario feeds.
                    for alarm in resolved.fed_alarms:
                        assert alarm.variant is not None
                        series = resolved.series[(alarm.variant, alarm.metric)]
                        new = evaluate(alarm, series, t, alarm_states[alarm.name])
                        if new != alarm_states[alarm.name]:
                            set_alarm(t, alarm.name, new, "rehearsal: evaluated from metrics")
                            if printer is not None:
                                printer.note(t, f"alarm {alarm.name} -> {new} (from metrics)")
                    invoke(t, "schedule", _tick())
                if progress is not None and task is not None:
                    progress.update(task, completed=t)
        finally:
            if progress is not None:
                progress.stop()
        state = store.read_state(aws.dynamodb, env["STATE_TABLE"], spec.rollout_id)
        described = aws.sagemaker.describe_endpoint(EndpointName=spec.endpoint_name)
    result.final_status = "in_progress" if state is None else state.status
    live = {
        str(v["VariantName"]): float(v.get("CurrentWeight", v.get("DesiredWeight", 0.0)))
        for v in described.get("ProductionVariants", [])
    }
    total = sum(live.values())
    cand = live.get(spec.candidate_variant)
    result.final_percent = None if cand is None or total <= 0 else 100.0 * cand / total
    return result


def check_summary(loaded: LoadedScenario, result: Summary) -> tuple[bool, list[str]]:
    """Whether the scenario's `expect` holds; the problems (with their lines) when it does not."""
    expect = loaded.scenario.expect
    if expect is None:
        return True, []
    problems: list[str] = []
    if expect.outcome is not None and expect.outcome != result.outcome:
        problems.append(
            f"{loaded.where('expect.outcome')}: expected {expect.outcome}, got {result.outcome}"
        )
    want = expect.candidate_percent
    got = result.final_percent
    if want is not None and (got is None or abs(got - want) > 1e-6):
        problems.append(
            f"{loaded.where('expect.candidate_percent')}: expected {want}, "
            f"got {'unknown' if got is None else f'{got:g}'}"
        )
    if expect.downtime_seconds is not None and expect.downtime_seconds != result.downtime_seconds:
        problems.append(
            f"{loaded.where('expect.downtime_seconds')}: expected {expect.downtime_seconds}, "
            f"got {result.downtime_seconds}"
        )
    most = expect.bad_requests_at_most
    if most is not None and result.served_bad > most + 1e-9:
        problems.append(
            f"{loaded.where('expect.bad_requests_at_most')}: expected at most {most}, "
            f"got {result.served_bad:,.0f}"
        )
    return not problems, problems


# --------------------------------------------------------------------------- scenario resolution


def _resolve(loaded: LoadedScenario, endpoint: EndpointPlan) -> _Resolved:
    """Map alarm references (full name, config key, `candidate.`/`stable.` key) and metric
    variants onto the plan; every unknown reference is a UsageError naming its line."""
    spec = rollout_of(endpoint)
    assert spec is not None
    by_ref: dict[str, str] = {}
    for a in endpoint.alarms:
        by_ref[a.name] = a.name
        by_ref[a.key] = a.name
        for role, vname in (("candidate", spec.candidate_variant), ("stable", spec.stable_variant)):
            if a.variant == vname and a.key.startswith(f"{vname}."):
                by_ref[f"{role}.{a.key.removeprefix(vname + '.')}"] = a.name
    errors: list[str] = []
    names: dict[int, str] = {}
    levels: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for i, e in enumerate(loaded.scenario.events):
        match e:
            case AlarmEvent(alarm=ref):
                if ref in by_ref:
                    names[i] = by_ref[ref]
                else:
                    known = ", ".join(sorted({a.key for a in endpoint.alarms}))
                    errors.append(
                        f"{loaded.where(f'events[{i}].alarm')}: unknown alarm {ref!r} on endpoint "
                        f"{endpoint.key}; use an alarm name or one of its config keys: {known}"
                    )
            case MetricEvent(metric=m):
                try:
                    variant = _variant(spec, endpoint, m.variant)
                except KeyError:
                    known = ", ".join(
                        dict.fromkeys(["candidate", "stable", *_variant_names(endpoint)])
                    )
                    errors.append(
                        f"{loaded.where(f'events[{i}].metric.variant')}: unknown variant "
                        f"{m.variant!r}; use one of {known}"
                    )
                    continue
                levels.setdefault((variant, m.name), []).append((e.at, m.value))
            case CommandEvent():
                pass
    drift: tuple[AlarmPlan, ...] = ()
    if loaded.scenario.drift is not None:
        if endpoint.drift is None:
            errors.append(
                f"{loaded.where('drift')}: endpoint {endpoint.key} has no drift job: add a "
                f"`drift:` block to its config (see Pulumi.canary-drift.yaml)"
            )
        else:
            drift = tuple(a for a in endpoint.alarms if a.namespace == DRIFT_NAMESPACE)
    if errors:
        raise UsageError(*errors)
    series = {k: MetricSeries(tuple(sorted(v, key=lambda p: p[0]))) for k, v in levels.items()}
    fed = tuple(
        a
        for a in endpoint.alarms
        if a.namespace == "AWS/SageMaker"
        and a.variant is not None
        and (a.variant, a.metric) in series
    )
    return _Resolved(alarm_names=names, series=series, fed_alarms=fed, drift_alarms=drift)


def _variant_names(endpoint: EndpointPlan) -> list[str]:
    return [v.name for v in endpoint.production_variants]


def _variant(spec: RolloutSpec, endpoint: EndpointPlan, ref: str) -> str:
    if ref == "candidate":
        return spec.candidate_variant
    if ref == "stable":
        return spec.stable_variant
    if ref in _variant_names(endpoint):
        return ref
    raise KeyError(ref)


# --------------------------------------------------------------------------- drift job


class _DriftFeed:
    """The scenario's `drift:` captures and the real drift job (`lambdas.drift_job.run`) against
    moto's S3 and CloudWatch, on the job's schedule (every `drift.every_minutes`).

    Each run first writes the last period's captures (cli/capture_gen, SageMaker's format) under
    the job's capture prefix, then runs the job at that time; the scores it publishes become the
    levels `alarm_sim` evaluates the drift alarms on (the datapoint of a run at t falls in the
    period [t, t + period), as CloudWatch files a datapoint by its timestamp).
    """

    def __init__(self, aws: Any, endpoint: EndpointPlan, feed: Any, base: float) -> None:
        from sagemaker_rollouts.lambdas.drift_job import DriftClients

        assert endpoint.drift is not None and rollout_of(endpoint) is not None
        self.aws = aws
        self.endpoint = endpoint
        self.plan = endpoint.drift
        self.feed = feed
        self.base = base
        self.bucket = "rehearsal-captures"
        self.period = self.plan.job.every_minutes * 60
        self.levels: dict[str | None, list[tuple[int, float]]] = {}
        self.failure = ""  # what the last run printed instead of scores
        self.clients = DriftClients(s3=aws.s3, cloudwatch=aws.cloudwatch)
        self.env = {"DRIFT_SPEC": self.plan.job.to_json(), "CAPTURE_BUCKET": self.bucket}

    @classmethod
    def start(cls, aws: Any, endpoint: EndpointPlan, scenario: Any, base: float) -> _DriftFeed:
        self = cls(aws, endpoint, scenario.drift, base)
        aws.s3.create_bucket(Bucket=self.bucket)
        aws.s3.put_object(
            Bucket=self.bucket,
            Key=self.plan.job.baseline_key,
            Body=self.plan.baseline_json.encode(),
        )
        return self

    def due(self, t: int) -> bool:
        return t > 0 and t % self.period == 0

    def run(self, t: int) -> dict[str, float]:
        """Write the period [t - period, t)'s captures, run the job at t; its scores."""
        from datetime import UTC, datetime

        from sagemaker_rollouts.cli import capture_gen
        from sagemaker_rollouts.lambdas.drift_job import run as drift_run

        job = self.plan.job
        spec = rollout_of(self.endpoint)
        assert spec is not None
        rpm = self.feed.requests_per_minute
        stable = spec.stable_variant if job.variant != spec.stable_variant else "other"
        captures = capture_gen.CaptureSpec(
            endpoint=job.endpoint_name,
            production=stable,
            shadow=job.variant,
            requests=rpm * self.period // 60,
            gap_ms=60_000 // rpm,
            amount_mean=self.feed.amount_mean if t - self.period >= self.feed.drifted_from else 0.0,
            start=datetime.fromtimestamp(self.base + t - self.period, UTC),
            seed=t,
        )
        for key, text in capture_gen.files(captures).items():
            key = key.replace("/part-", f"/t{t:07d}-part-")  # one object per period and part
            self.aws.s3.put_object(
                Bucket=self.bucket, Key=f"{job.capture_prefix}/{key}", Body=text.encode()
            )
        out = drift_run({}, self.env, self.clients, self.base + t, log=_quiet)
        self.levels.setdefault(_JOB, []).append((t, 0.0 if out["status"] == "measured" else 1.0))
        if out["status"] != "measured":
            self.failure = f"failed, no scores published ({out['error']})"
            return {}
        self.failure = "no record to score"
        scores = {str(k): float(v) for k, v in out["scores"].items() if v is not None}
        for name, value in scores.items():
            self.levels.setdefault(name, []).append((t, value))
        if out["max"] is not None:
            self.levels.setdefault(None, []).append((t, float(out["max"])))
        return scores

    def series(self, alarm: AlarmPlan) -> MetricSeries:
        """The published levels of the drift alarm's metric (a feature's, the maximum, or the
        job's health)."""
        if alarm.metric == DRIFT_JOB_METRIC:
            return MetricSeries(tuple(self.levels.get(_JOB, [])))
        feature = dict(alarm.dimensions).get("Feature") if alarm.metric == FEATURE_METRIC else None
        return MetricSeries(tuple(self.levels.get(feature, [])))


_JOB = "\0job"  # the drift job's health among _DriftFeed.levels (no feature has this name)


# --------------------------------------------------------------------------- hook plumbing


class _QuietTicks:
    """Schedule ticks where nothing can change, computed without calling AWS.

    The hook's tick is `decide(spec, state, alarms, endpoint, intent, now)` on three reads
    (DescribeEndpoint, DescribeAlarms of `watched_alarms(spec)`, GetItem), then writes (and queues
    a notice) only if `apply` bumped the version, sets weights only for Advance/Reconcile/Rollback,
    and publishes only what its outbox holds (so a state with pending notices is left to it). So after a tick that held and wrote nothing, while the rehearsal
    changes nothing in moto (no scenario event, no fed alarm moved: the caller calls `forget`),
    the next tick reads the same three views, and if the pure decision on them is again such a
    hold, its outcome is exactly the hook's. Anything else (an advance, a write, a notification)
    falls back to the real hook. moto has no timers of its own: an endpoint or alarm only changes
    when this rehearsal calls it.
    """

    def __init__(self, spec: RolloutSpec, clients: Any, table: str) -> None:
        self.spec = spec
        self.clients = clients
        self.table = table
        self._views: tuple[Any, Any, Any] | None = None
        self._armed = False

    def forget(self) -> None:
        self._views = None
        self._armed = False

    def after_hook(self, out: dict[str, Any]) -> None:
        """Arm after a real hook run that held and changed nothing in the world."""
        self.forget()
        self._armed = (
            out["decision"] == "hold"
            and not out["weights_applied"]
            and not out["notified"]
            and not out["conflict"]
        )

    def tick(self, now: float) -> dict[str, Any] | None:
        """The hook's result for a schedule tick at `now`, or None: run the real hook."""
        from sagemaker_rollouts.lambdas.aws_adapter import read_alarms, read_endpoint
        from sagemaker_rollouts.lambdas.controller import (
            Hold,
            apply,
            candidate_share,
            decide,
            kind,
            watched_alarms,
        )
        from sagemaker_rollouts.lambdas.store import read_state

        if not self._armed:
            return None
        spec = self.spec
        if self._views is None:
            state = read_state(self.clients.dynamodb, self.table, spec.rollout_id)
            if state is None or state.outbox:
                # no item yet (the hook creates or recovers it), or notices waiting to be
                # published (the hook would retry them): only the real hook does that
                self.forget()
                return None
            self._views = (
                state,
                read_alarms(self.clients.cloudwatch, watched_alarms(spec)),
                read_endpoint(self.clients.sagemaker, spec.endpoint_name),
            )
        state, alarms, endpoint = self._views
        decision = decide(spec, state, alarms, endpoint, state.intent, now)
        if (
            not isinstance(decision, Hold)
            or decision.notify
            or apply(state, decision, now).version != state.version
        ):
            self.forget()
            return None
        return {
            "decision": kind(decision),
            "reason": decision.reason,
            "status": state.status,
            "step_index": state.step_index,
            "candidate_percent": candidate_share(spec, endpoint),
            "weights_applied": False,
            "notified": False,
            "conflict": False,
        }


def _tick() -> dict[str, Any]:
    """The EventBridge schedule's event (what `rate(1 minute)` sends)."""
    return {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


def _alarm_event(name: str, state: str, now: float) -> dict[str, Any]:
    """An EventBridge "CloudWatch Alarm State Change" event for one alarm."""
    return {
        "source": "aws.cloudwatch",
        "detail-type": ALARM_EVENT,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "detail": {"alarmName": name, "state": {"value": state}},
    }


def _weights(spec: RolloutSpec, candidate_percent: float) -> dict[str, float]:
    return {
        spec.stable_variant: round(100.0 - candidate_percent, 6),
        spec.candidate_variant: round(candidate_percent, 6),
    }


def _quiet(_line: str) -> None:
    """The hook's structured log lines (EMF) go to CloudWatch Logs in AWS; here, nowhere."""


def _user() -> str:
    try:
        return os.environ.get("USER") or getpass.getuser()
    except Exception:  # getuser raises when no name can be found (some containers)
        return "operator"


def _color(state: str) -> str:
    return {"ALARM": "tab:red", "OK": "tab:green"}.get(state, "tab:orange")


# --------------------------------------------------------------------------- output


class _Printer:
    """Prints each decision that changes something, and a hold only when its reason changes
    (a bake countdown would otherwise print every minute)."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self._last_hold: str | None = None
        self.progress: Progress | None = None

    def _print(self, text: str) -> None:
        out = self.progress.console if self.progress is not None else self.out
        out.print(text, soft_wrap=True)

    def note(self, t: int, text: str) -> None:
        self._print(f"[dim]{render.clock(t)}[/]  [cyan]{escape(text)}[/]")

    def native(self, step: NativeStep) -> None:
        """A step of an emulated (non-canary) rehearsal: SageMaker's move or a window."""
        color = {"shift": "green", "complete": "bold green", "rollback": "bold red"}.get(
            step.decision, "white"
        )
        self._print(
            f"[dim]{render.clock(step.at)}[/]  [{color}]{step.decision:<9}[/] "
            f"{escape(render.weights_text(step.weights)):<28} {escape(step.reason)}"
        )

    def decision(self, step: Step) -> None:
        if step.decision == "hold":
            shape = re.sub(r"\d+(\.\d+)?", "#", step.reason)
            if shape == self._last_hold:
                return
            self._last_hold = shape
        else:
            self._last_hold = None
        color = {
            "advance": "green",
            "complete": "bold green",
            "rollback": "bold red",
            "reconcile": "yellow",
        }.get(step.decision, "white")
        self._print(
            f"[dim]{render.clock(step.at)}[/]  [{color}]{step.decision:<9}[/] "
            f"{escape(render.weights_text(step.weights)):<28} {escape(step.reason)}"
        )


def _progress(printer: _Printer | None, total: int) -> Progress | None:
    """A transient progress bar for long scenarios on a terminal."""
    if printer is None or total < 3600 or not printer.out.is_terminal:
        return None
    progress = Progress(
        TextColumn("[dim]simulated[/]"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} s"),
        console=printer.out,
        transient=True,
    )
    printer.progress = progress
    progress.start()
    return progress


def _summary(
    out: Any, loaded: LoadedScenario, result: Summary, problems: Sequence[str], ok: bool
) -> None:
    t = Table(show_header=False, title="result", title_justify="left")
    t.add_column("k", style="bold")
    t.add_column("v")
    t.add_row("outcome", result.outcome)
    pct = result.final_percent
    t.add_row("candidate traffic", "unknown" if pct is None else f"{pct:g}%")
    full = result.time_to_full_seconds
    t.add_row("time to 100%", "never" if full is None else render.duration(full))
    t.add_row("extra instance-hours", f"{result.extra_instance_hours:g}")
    t.add_row("requests served by candidate", served_text(loaded, result))
    t.add_row("… while bad", served_bad_text(loaded, result))
    t.add_row(
        "downtime",
        render.duration(result.downtime_seconds) if result.downtime_seconds else "none",
    )
    for label, value in result.evidence:
        t.add_row(label, value)
    out.print(t)
    for note in result.notes:
        out.print(f"[dim]{escape(note)}[/]")
    for p in problems:
        out.print(f"[red]expectation not met:[/] {escape(p)}")
    if ok:
        out.print("[green]expectation met[/]" if not problems else "")


def _draw_summaries(summaries: Sequence[Summary], path: Path, loaded: LoadedScenario) -> None:
    """Every rehearsal's candidate share on one figure (markers: alarms and rollbacks)."""
    from sagemaker_rollouts.cli.timeline import Marker, Series, Span, write_png

    end = float(loaded.scenario.duration)
    series: list[Series] = []
    markers: list[Marker] = []
    spans = [
        Span(a, b, kind, s.stack, i)
        for i, s in enumerate(summaries)
        for a, b, kind in s.spans
        if b > a
    ]
    for s in summaries:
        points = list(s.timeline)
        if points:
            points.append((end, points[-1][1]))
        series.append(Series(f"{s.stack} ({s.strategy.replace('_', '/')})", points))
        at: set[int] = set()
        for t, label, color in s.markers:  # one label per time and stack (alarm, then rollback)
            if t not in at:
                at.add(t)
                markers.append(Marker(float(t), f"{s.stack}: {label}", color))
    names = " vs ".join(s.stack for s in summaries)
    write_png(path, f"rehearsal {loaded.path.name}: {names}", series, markers, spans=spans)


def _draw(result: Rehearsal, path: Path, loaded: LoadedScenario) -> None:
    from sagemaker_rollouts.cli.timeline import Marker, Series, write_png

    points: list[tuple[float, float]] = []
    for s in result.steps:
        if s.candidate_percent is not None:
            points.append((float(s.at), s.candidate_percent))
    if points:
        points.append((float(loaded.scenario.duration), points[-1][1]))
    planned = [(float(t), float(p)) for t, p in result.endpoint.timeline]
    if planned:
        planned.append((float(loaded.scenario.duration), planned[-1][1]))
    markers = [Marker(float(t), label, color) for t, label, color in result.markers]
    rollback = next((s for s in result.steps if s.decision == "rollback"), None)
    if rollback is not None and all(m.at_seconds != rollback.at for m in markers):
        markers.append(Marker(float(rollback.at), "rollback", "tab:red"))  # e.g. past a limit
    write_png(
        path,
        f"rehearsal {loaded.path.name}: {result.endpoint.endpoint_name} -> {result.final_status}",
        [Series("rehearsed", points)],
        markers,
        dashed=[Series("planned", planned)] if planned else [],
    )
