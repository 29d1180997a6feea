"""The rehearsal engine behind `rollout rehearse`: the real canary controller, simulated clock, moto.

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

Strategies the controller does not drive (recreate, shadow, blue/green, rolling) are rehearsed
through their emulator (`simulator/native.py`); `summarize` picks one for the endpoint. What a
rehearsal reports while it runs goes to an `Observer` (the CLI's printer), nothing is printed here.
"""

from __future__ import annotations

import getpass
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sagemaker_rollouts.cli.errors import UsageError
from sagemaker_rollouts.cli.stack import LoadedStack, load_stack, rollout_of, select_endpoint
from sagemaker_rollouts.lambdas.drift import FEATURE_METRIC
from sagemaker_rollouts.lambdas.drift import JOB_METRIC as DRIFT_JOB_METRIC
from sagemaker_rollouts.lambdas.drift import METRIC_NAMESPACE as DRIFT_NAMESPACE
from sagemaker_rollouts.lambdas.rollout import RolloutSpec
from sagemaker_rollouts.simulator.alarm_sim import AlarmState, MetricSeries, evaluate
from sagemaker_rollouts.simulator.native import NativeStep, Summary
from sagemaker_rollouts.simulator.scenario import (
    AlarmEvent,
    CommandEvent,
    LoadedScenario,
    MetricEvent,
    load_scenario,
)
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
class Resolved:
    """Scenario events with their alarm names and variant names resolved against the plan."""

    alarm_names: dict[int, str]  # event index -> full alarm name
    series: dict[tuple[str, str], MetricSeries]  # (variant, metric) -> levels
    fed_alarms: tuple[AlarmPlan, ...]  # alarms this rehearsal evaluates from fed metrics
    drift_alarms: tuple[AlarmPlan, ...] = ()  # evaluated from the drift job's scores (`drift:`)


def prepare(
    directory: Path, scenario_path: Path, stack: str | None = None, endpoint: str | None = None
) -> tuple[LoadedStack, EndpointPlan, LoadedScenario, Resolved | None]:
    """Load a scenario and its stack, pick the endpoint and resolve the scenario against it
    (`Resolved` for a canary endpoint, None for the others, which the emulators run).

    Raises UsageError naming the scenario's line for every problem found."""
    loaded = load_scenario(scenario_path)
    st, ep = prepare_stack(directory, loaded, stack, endpoint)
    return st, ep, loaded, resolve_for(loaded, ep)


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


def resolve_for(loaded: LoadedScenario, endpoint: EndpointPlan) -> Resolved | None:
    from sagemaker_rollouts.simulator.native import check_native

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
    observer: Observer | None = None,
    *,
    skip_quiet: bool = True,
) -> tuple[Summary, Rehearsal | None]:
    """Rehearse one stack's endpoint through the scenario: the canary against moto with the real
    hook, every other strategy through its emulator (rehearse_native)."""
    from sagemaker_rollouts.simulator.native import (
        rehearse_native,
        summarize_canary,
        with_detection,
    )

    st, ep = prepare_stack(directory, loaded, stack, endpoint)
    resolved = resolve_for(loaded, ep)
    if resolved is None:
        summary = rehearse_native(st.name, ep, loaded)
        if observer is not None:
            for step in summary.steps:
                observer.native(step)
        return summary, None
    scenario = loaded.scenario
    if scenario.detect is not None and scenario.bad_from is not None:
        # The canary's candidate serves its first step's share from the start.
        spec = rollout_of(ep)
        assert spec is not None
        first = scenario.bad_from if spec.steps[0].candidate_percent > 0 else None
        loaded = with_detection(loaded, first)
        resolved = _resolve(loaded, ep)
    result = rehearse(st, ep, loaded, resolved, observer, skip_quiet=skip_quiet)
    return summarize_canary(st.name, result, loaded), result


class Observer(Protocol):
    """What a rehearsal reports while it runs (`rollout rehearse` prints it: cli/rehearse_output).

    `begin(duration)` once before the clock starts, `at(t)` after each simulated time `t` was
    played, `end()` once at the end (also when the rehearsal fails); `note` for what the world
    did (metric fed, alarm moved, drift job ran), `decision` for each hook invocation, `native`
    for each step of an emulated (non-canary) rehearsal. Times are simulated seconds.
    """

    def begin(self, duration: int) -> None: ...

    def at(self, t: int) -> None: ...

    def end(self) -> None: ...

    def note(self, t: int, text: str) -> None: ...

    def decision(self, step: Step) -> None: ...

    def native(self, step: NativeStep) -> None: ...


def rehearse(
    stack: LoadedStack,
    endpoint: EndpointPlan,
    loaded: LoadedScenario,
    resolved: Resolved,
    observer: Observer | None = None,
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
    from sagemaker_rollouts.simulator.moto_server import moto_server
    from sagemaker_rollouts.simulator.provision import AwsClients, provision

    spec = rollout_of(endpoint)
    assert spec is not None
    result = Rehearsal(endpoint=endpoint, spec=spec)
    base = float(int(time.time()) // 60 * 60)  # simulated epoch: "now", on a minute boundary
    with moto_server(stack.plan.region):
        aws = AwsClients.create(stack.plan.region)
        provisioned = provision(stack.plan, aws)
        world = _CanaryWorld(aws, provisioned, endpoint, spec, resolved, result, observer, base)
        world.quiet = _QuietTicks(spec, world.clients, world.table) if skip_quiet else None
        world.play(loaded.scenario)
        state, described = world.final()
    result.final_status = "in_progress" if state is None else state.status
    live = {
        str(v["VariantName"]): float(v.get("CurrentWeight", v.get("DesiredWeight", 0.0)))
        for v in described.get("ProductionVariants", [])
    }
    total = sum(live.values())
    cand = live.get(spec.candidate_variant)
    result.final_percent = None if cand is None or total <= 0 else 100.0 * cand / total
    return result


class _CanaryWorld:
    """One canary rehearsal inside a running moto server: the provisioned stack, the real hook
    (`lambdas.canary_hook.run`), CloudWatch's part (alarms evaluated from fed metrics and drift
    scores) and the simulated clock."""

    def __init__(
        self,
        aws: Any,
        provisioned: Any,
        endpoint: EndpointPlan,
        spec: RolloutSpec,
        resolved: Resolved,
        result: Rehearsal,
        observer: Observer | None,
        base: float,
    ) -> None:
        from sagemaker_rollouts.lambdas.aws_adapter import Clients

        assert provisioned.table_name is not None
        self.aws = aws
        self.endpoint = endpoint
        self.spec = spec
        self.resolved = resolved
        self.result = result
        self.observer = observer
        self.base = base
        self.table: str = provisioned.table_name
        self.env = {
            "ROLLOUT_SPEC": spec.to_json(),
            "STATE_TABLE": provisioned.table_name,
            "TOPIC_ARN": provisioned.topic_arn,
        }
        self.clients = Clients(
            sagemaker=aws.sagemaker, cloudwatch=aws.cloudwatch, dynamodb=aws.dynamodb, sns=aws.sns
        )
        self.alarm_states: dict[str, AlarmState] = {a.name: "OK" for a in endpoint.alarms}
        self.finished = False  # a finished rollout never moves again (controller rule 1)
        self.quiet: _QuietTicks | None = None
        self.drift: _DriftFeed | None = None
        self.who = f"{_user()} (rehearsal)"

    def note(self, t: int, text: str) -> None:
        if self.observer is not None:
            self.observer.note(t, text)

    def play(self, scenario: Any) -> None:
        """Every scenario event at its time, and every schedule tick until the rollout is
        finished or the scenario's duration is up."""
        if self.resolved.drift_alarms:
            self.drift = _DriftFeed.start(self.aws, self.endpoint, scenario, self.base)
        ticks = set(range(0, scenario.duration + 1, TICK_SECONDS))
        events = scenario.ordered_events()
        times = sorted(ticks | {e.at for e in events})
        index_of = {id(e): i for i, e in enumerate(scenario.events)}
        if self.observer is not None:
            self.observer.begin(scenario.duration)
        try:
            for t in times:
                for e in (e for e in events if e.at == t):
                    if self.quiet is not None:
                        self.quiet.forget()  # any scenario event may change what the hook reads
                    self.event(t, index_of[id(e)], e)
                if t in ticks and not self.finished:
                    self.tick(t)
                if self.observer is not None:
                    self.observer.at(t)
        finally:
            if self.observer is not None:
                self.observer.end()

    def final(self) -> tuple[Any, dict[str, Any]]:
        """The rollout's state item (None if never created) and DescribeEndpoint, at the end."""
        from sagemaker_rollouts.lambdas import store

        state = store.read_state(self.aws.dynamodb, self.table, self.spec.rollout_id)
        described = self.aws.sagemaker.describe_endpoint(EndpointName=self.spec.endpoint_name)
        return state, described

    def invoke(self, t: int, trigger: str, event: dict[str, Any]) -> None:
        """One hook invocation at `t` (or its quiet equivalent), recorded as a Step."""
        from sagemaker_rollouts.lambdas.canary_hook import run as hook_run

        quiet = self.quiet
        out = None if quiet is None or trigger != "schedule" else quiet.tick(self.base + t)
        if out is None:
            out = hook_run(event, self.env, self.clients, self.base + t, log=_quiet)
            if quiet is not None:
                quiet.after_hook(out)
        # Once the hook holds a finished rollout, the schedule's remaining ticks would only
        # repeat that hold; they are skipped to keep rehearsals fast. Scenario events still
        # invoke the hook.
        self.finished = out["decision"] == "hold" and out["status"] in FINISHED
        pct = out.get("candidate_percent")
        step = Step(
            at=t,
            trigger=trigger,
            decision=str(out["decision"]),
            reason=str(out["reason"]),
            status=str(out["status"]),
            step_index=int(out["step_index"]),
            candidate_percent=None if pct is None else float(pct),
            weights={} if pct is None else _weights(self.spec, float(pct)),
        )
        self.result.steps.append(step)
        if self.observer is not None:
            self.observer.decision(step)

    def set_alarm(self, name: str, state: AlarmState, why: str) -> None:
        self.aws.cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=why)
        self.alarm_states[name] = state
        if self.quiet is not None:
            self.quiet.forget()

    def event(self, t: int, i: int, e: Any) -> None:
        """Scenario event `events[i]` at `t`."""
        match e:
            case MetricEvent(metric=m):
                variant = _variant(self.spec, self.endpoint, m.variant)
                self.aws.cloudwatch.put_metric_data(
                    Namespace="AWS/SageMaker",
                    MetricData=[
                        {
                            "MetricName": m.name,
                            "Dimensions": [
                                {"Name": "EndpointName", "Value": self.spec.endpoint_name},
                                {"Name": "VariantName", "Value": variant},
                            ],
                            "Timestamp": self.base + t,
                            "Value": m.value,
                        }
                    ],
                )
                self.note(t, f"metric {variant} {m.name} = {m.value:g}/min")
            case AlarmEvent(state=state):
                name = self.resolved.alarm_names[i]
                why = e.reason if e.reason is not None else f"scenario events[{i}]"
                self.set_alarm(name, state, why)
                self.result.markers.append((t, f"{name} {state}", _color(state)))
                self.note(t, f"alarm {name} -> {state}")
                # The EventBridge alarm-state rule invokes the hook at once.
                self.invoke(t, f"alarm {name} {state}", _alarm_event(name, state, self.base + t))
            case CommandEvent(command=command):
                self.command(t, i, command, e.reason)
            case _:
                pass

    def command(self, t: int, i: int, command: str, reason: str | None) -> None:
        """An operator command, as `rollout pause|resume|promote|abort` sends it: the intent
        recorded on the state item, then one hook run."""
        from sagemaker_rollouts.lambdas import store

        self.result.markers.append((t, command, "tab:purple"))
        if store.read_state(self.aws.dynamodb, self.table, self.spec.rollout_id) is None:
            # An intent needs a state item; the hook's first tick creates it.
            self.invoke(t, "schedule", _tick())
        store.record_intent(
            self.aws.dynamodb,
            self.env["STATE_TABLE"],
            self.spec.rollout_id,
            INTENT_OF[command],  # type: ignore[arg-type]
            self.who,
            reason if reason is not None else f"scenario events[{i}]",
            self.base + t,
        )
        self.invoke(t, f"command {command}", _tick())

    def tick(self, t: int) -> None:
        """A schedule tick: the drift job if due, CloudWatch's alarm evaluation, then the hook."""
        drift = self.drift
        if drift is not None and drift.due(t):
            scores = drift.run(t)
            text = ", ".join(f"{k} {v:.3f}" for k, v in scores.items())
            self.note(t, f"drift job: {text or drift.failure}")
        for alarm in self.resolved.drift_alarms:
            assert drift is not None
            new = evaluate(alarm, drift.series(alarm), t, self.alarm_states[alarm.name])
            if new != self.alarm_states[alarm.name]:
                self.set_alarm(alarm.name, new, "rehearsal: evaluated from drift job")
                self.result.markers.append((t, f"{alarm.name} {new}", _color(new)))
                self.note(t, f"alarm {alarm.name} -> {new} (from drift job)")
                if new == "ALARM":  # the EventBridge alarm-state rule
                    event = _alarm_event(alarm.name, new, self.base + t)
                    self.invoke(t, f"alarm {alarm.name} {new}", event)
        # CloudWatch's part: evaluate the alarms whose metric the scenario feeds.
        for alarm in self.resolved.fed_alarms:
            assert alarm.variant is not None
            series = self.resolved.series[(alarm.variant, alarm.metric)]
            new = evaluate(alarm, series, t, self.alarm_states[alarm.name])
            if new != self.alarm_states[alarm.name]:
                self.set_alarm(alarm.name, new, "rehearsal: evaluated from metrics")
                self.note(t, f"alarm {alarm.name} -> {new} (from metrics)")
        self.invoke(t, "schedule", _tick())


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


def _resolve(loaded: LoadedScenario, endpoint: EndpointPlan) -> Resolved:
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
    return Resolved(alarm_names=names, series=series, fed_alarms=fed, drift_alarms=drift)


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

        from sagemaker_rollouts.lambdas.drift_job import run as drift_run
        from sagemaker_rollouts.simulator import capture_gen

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
