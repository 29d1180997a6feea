"""A model of SageMaker's deployment guardrails (blue/green and rolling), on a simulated clock.

This is NOT our controller: SageMaker moves the traffic for blue/green and rolling endpoints, and this
module is how a rehearsal stands in for it, from the documented semantics only. Every rule below
names the page it comes from; where the documentation is silent the rule says so and what we assume
(docs/design.md §9). Pure: a deployment policy, a fleet size and alarm-state changes in; the traffic and
capacity timeline out. No pulumi, no boto3.

Sources. The API text is botocore's SageMaker service model (the same text as the API Reference;
`botocore.session.get_session().get_service_model("sagemaker")`, read with botocore 1.44); the
guide pages are the SageMaker Developer Guide's deployment-guardrails pages:
- [BG]   deployment-guardrails-blue-green.html: "SageMaker AI provisions a new fleet with the updates
         (the green fleet). Then ... shifts traffic from the old fleet (the blue fleet) to the green
         fleet. Once the green fleet operates smoothly for a set evaluation period (called the baking
         period), SageMaker AI terminates the blue fleet." "If any of the pre-specified alarms trip
         during any baking period, then all endpoint traffic rolls back to the blue fleet."
- [ALL]  deployment-guardrails-blue-green-all-at-once.html: "SageMaker AI routes 100% of the traffic
         to the new fleet (green fleet). Once the green fleet starts receiving traffic, the baking
         period begins ... If no alarms trip during the baking period, SageMaker AI terminates the
         old fleet"; any alarm: "100% of the traffic shifts back to the blue fleet".
- [CAN]  deployment-guardrails-blue-green-canary.html: "Once SageMaker AI provisions the green fleet,
         SageMaker AI routes a portion of the incoming traffic ... to the canary. Then the baking
         period begins"; after the bake, "the rest of the traffic shifts". Its example policy is
         canary 30%, WaitIntervalInSeconds 600, TerminationWaitInSeconds 600,
         MaximumExecutionTimeoutInSeconds 1800 (a valid policy by AWS's own account).
- [LIN]  deployment-guardrails-blue-green-linear.html: "For each step, there is a baking period";
         "SageMaker AI deactivates the same size portion of the blue fleet"; "If alarms trip during
         any of the baking periods, 100% of the endpoint traffic rolls back to the blue fleet."
- [TRC]  TrafficRoutingConfig (API): Type "ALL_AT_ONCE: ... in a single step. CANARY: ... in two
         steps ... LINEAR: ... in n steps of a configurable size"; WaitIntervalInSeconds "The
         waiting time (in seconds) between incremental steps to turn on traffic on the new
         endpoint fleet"; CanarySize "must be less than or equal to 50% of the variant's total
         instance count"; LinearStepSize "must be 10-50% of the variant's total instance count".
- [BGP]  BlueGreenUpdatePolicy (API): TerminationWaitInSeconds "Additional waiting time in
         seconds after the completion of an endpoint deployment before terminating the old endpoint
         fleet"; MaximumExecutionTimeoutInSeconds "should be larger than the total waiting time
         specified in TerminationWaitInSeconds and WaitIntervalInSeconds".
- [EVT]  SageMaker's own endpoint status while a blue/green update runs: "Baking for X seconds
         (TerminationWaitInSeconds) with traffic enabled on full capacity" (docs/design.md §9).
- [ROL]  RollingUpdatePolicy (API) and deployment-guardrails-rolling.html: MaximumBatchSize
         "Batch size for each rolling step to provision capacity and turn on traffic on the new
         endpoint fleet, and terminate capacity on the old endpoint fleet. Value must be between 5%
         to 50% of the variant's total instance count"; WaitIntervalInSeconds "The length of the
         baking period, during which SageMaker monitors alarms for each batch on the new fleet";
         RollbackMaximumBatchSize: each rollback step provisions capacity and turns on traffic on
         the old fleet and terminates capacity on the new one; "If this field is absent, the
         default value will be set to 100% of total capacity"; MaximumExecutionTimeoutInSeconds
         "The time limit for the total deployment. Exceeding this limit causes a timeout."
- [CAP]  CapacitySize (API): INSTANCE_COUNT or CAPACITY_PERCENT "of your fleet".
- [CFG]  deployment-guardrails-configuration.html: "If any of your alarms trip during the specified
         monitoring period, SageMaker AI initiates a complete rollback".

The bakes, as the sources above give them (rule S5): a blue/green update turns traffic on in
steps ([TRC]: one, two or n); between two steps it bakes WaitIntervalInSeconds ([TRC] "between
incremental steps", [CAN], [LIN]); the bake at full traffic is the termination wait ([EVT], [ALL]:
blue is terminated when the baking period ends, [BGP]), not one more WaitIntervalInSeconds. So
the waits of a blue/green update are (steps - 1) x WaitIntervalInSeconds + TerminationWaitInSeconds:
AWS's canary example waits 600 + 600 = 1,200 s of its 1,800 s timeout. A rolling update bakes
every batch, the last one too ([ROL] "for each batch"), and has no termination wait:
batches x WaitIntervalInSeconds. Steps and batches are counted in whole instances ([CAP], S7):
3 instances in linear steps of 1 are 3 steps, never the 4 that a rounded 33% would give.
`update_waits` is that sum, used by the emulator and by the config check alike.

Where the documentation is silent (our assumptions, each a parameter or a named rule):
- S1 how long provisioning takes: `provisioning_seconds` (default 0, which is the plan's profile).
- S2 how often SageMaker polls the alarms: `alarm_reaction_seconds` after the alarm trips (default 0).
- S3 an alarm already in ALARM when a bake starts trips that bake at its first instant.
- S4 alarms are watched only during baking periods and the termination wait ([EVT]), not while the
     green fleet or a batch is being provisioned.
- S5 ALL_AT_ONCE has one step, so no WaitIntervalInSeconds bake: its baking period ([ALL]) is the
     termination wait. The API still requires WaitIntervalInSeconds; the config warns that it
     has no effect there and that a termination wait of 0 leaves no bake at all.
- S6 exceeding the maximum execution timeout (counted from the update's start, termination wait
     included) rolls the update back like an alarm. Whether AWS refuses a timeout that is not
     larger than the waits ([BGP] "should") is not documented; the config refuses it because
     such an update can only time out.
- S7 traffic shares follow instances: a batch or step of n of N instances carries n/N of requests;
     a CAPACITY_PERCENT size is rounded up to whole instances, at least one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sagemaker_rollouts.strategies.plan import BlueGreenPlan, CapacitySize, RollingPlan

AlarmState = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
Outcome = Literal["completed", "rolled_back", "in_progress"]


@dataclass(frozen=True, slots=True)
class AlarmChange:
    """A rollback alarm's state from `at` seconds (since the update started) on."""

    at: int
    name: str
    state: AlarmState


@dataclass(frozen=True, slots=True)
class GuardrailEvent:
    """One thing SageMaker did: `kind` is provision | shift | bake | terminate | rollback | complete."""

    at: int
    kind: str
    reason: str
    candidate_percent: int
    extra_instances: int


@dataclass(frozen=True, slots=True)
class GuardrailRun:
    """The emulated update. `timeline` and `capacity` are step functions as (seconds, value) points:
    the new fleet's share of requests in percent, and instances running beyond the fleet's size."""

    outcome: Outcome
    events: tuple[GuardrailEvent, ...]
    timeline: tuple[tuple[int, int], ...]
    capacity: tuple[tuple[int, int], ...]
    time_to_full_seconds: int | None  # first time the new fleet had 100%; None if never
    ended_at: int | None  # completion or the last rollback step; None if still running
    rollback_reason: str | None = None

    def extra_instance_seconds(self, until: int) -> int:
        """Integral of `capacity` over [0, until] in instance-seconds."""
        return _integral(self.capacity, until)


@dataclass(frozen=True, slots=True)
class _Phase:
    kind: str  # provision | bake | termination
    label: str
    seconds: int
    percent: int  # the new fleet's share during the phase
    new_instances: int  # instances of the new fleet taking traffic
    extra: int  # instances beyond the fleet's size during the phase
    watched: bool  # alarms can roll back during it (S4)


def capacity_size(kind: str, value: int) -> CapacitySize:
    """A config size (`capacity_percent` | `instance_count`, value) as the API's CapacitySize."""
    return CapacitySize(
        "CAPACITY_PERCENT" if kind == "capacity_percent" else "INSTANCE_COUNT", value
    )


def instances_of(size: CapacitySize, fleet: int) -> int:
    """A capacity size in whole instances of a fleet of `fleet` (percentages round up, at least 1).

    INSTANCE_COUNT or CAPACITY_PERCENT, as in the API's CapacitySize."""
    if size.type == "INSTANCE_COUNT":
        return max(1, min(fleet, size.value))
    return max(1, min(fleet, -(-size.value * fleet // 100)))


def share(new_instances: int, fleet: int) -> int:
    """S7: the percent of requests `new_instances` of `fleet` carry, rounded."""
    return min(100, round(100 * new_instances / fleet))


def traffic_steps(policy: BlueGreenPlan, fleet: int) -> list[int]:
    """[TRC]/S7: the green fleet's instances taking traffic after each step, the last is `fleet`.

    ALL_AT_ONCE: [fleet]; CANARY: [canary, fleet]; LINEAR: k x step for k = 1.. until `fleet`."""
    match policy.routing:
        case "ALL_AT_ONCE":
            return [fleet]
        case "CANARY":
            assert policy.canary_size is not None
            return [instances_of(policy.canary_size, fleet), fleet]
        case "LINEAR":
            assert policy.linear_step is not None
            n = instances_of(policy.linear_step, fleet)
            return [min(fleet, k * n) for k in range(1, -(-fleet // n) + 1)]


def blue_green_phases(policy: BlueGreenPlan, fleet: int, provisioning_seconds: int) -> list[_Phase]:
    """[BG] provision the whole green fleet, then [ALL]/[CAN]/[LIN] shift step by step with a
    WaitIntervalInSeconds bake between two steps, then (S5, [EVT]) bake at full traffic for
    TerminationWaitInSeconds with blue still up, then terminate blue."""
    phases = [
        _Phase(
            "provision", "provisioning the green fleet", provisioning_seconds, 0, 0, fleet, False
        )
    ]
    steps = traffic_steps(policy, fleet)
    for i, on in enumerate(steps[:-1]):
        label = f"baking step {i + 1}/{len(steps)} at {share(on, fleet)}%"
        phases.append(_Phase("bake", label, policy.wait_seconds, share(on, fleet), on, fleet, True))
    phases.append(
        _Phase(
            "termination",
            f"step {len(steps)}/{len(steps)}: baking at 100% for the termination wait "
            "(blue still up)",
            policy.termination_wait_seconds,
            100,
            fleet,
            fleet,
            True,
        )
    )
    return phases


def update_waits(policy: BlueGreenPlan | RollingPlan, fleet: int) -> tuple[int, str]:
    """The seconds an update spends baking and waiting when nothing rolls it back and provisioning
    takes no time, and how that sum is made up (for messages), e.g. `(1200, "1 bake of 600 s
    between 2 traffic steps + termination wait 600 s")`.

    S5: blue/green (steps - 1) x WaitIntervalInSeconds + TerminationWaitInSeconds; rolling
    batches x WaitIntervalInSeconds. The emulator completes an update at exactly this time
    (with `provisioning_seconds=0`); MaximumExecutionTimeoutInSeconds must be larger ([BGP])."""
    if isinstance(policy, BlueGreenPlan):
        steps = len(traffic_steps(policy, fleet))
        bakes = steps - 1
        total = bakes * policy.wait_seconds + policy.termination_wait_seconds
        return total, (
            f"{bakes} bake(s) of {policy.wait_seconds} s between {steps} traffic step(s) + "
            f"termination wait {policy.termination_wait_seconds} s"
        )
    batches = -(-fleet // instances_of(policy.maximum_batch_size, fleet))
    return batches * policy.wait_seconds, (
        f"{batches} batch(es) of {instances_of(policy.maximum_batch_size, fleet)} of {fleet} "
        f"instance(s), each baked {policy.wait_seconds} s"
    )


def rolling_phases(policy: RollingPlan, fleet: int, provisioning_seconds: int) -> list[_Phase]:
    """[ROL] per batch: provision the batch (one batch of extra capacity), turn traffic on for it,
    terminate as many old instances, bake WaitIntervalInSeconds watching alarms."""
    n = instances_of(policy.maximum_batch_size, fleet)
    phases: list[_Phase] = []
    on = 0
    k = 0
    batches = -(-fleet // n)
    while on < fleet:
        k += 1
        before = on
        on = min(fleet, on + n)
        phases.append(
            _Phase(
                "provision",
                f"provisioning batch {k}/{batches}",
                provisioning_seconds,
                share(before, fleet),
                before,
                n,
                False,
            )
        )
        label = f"baking batch {k}/{batches} at {share(on, fleet)}%"
        phases.append(_Phase("bake", label, policy.wait_seconds, share(on, fleet), on, n, True))
    return phases


def planned_timeline(
    policy: BlueGreenPlan | RollingPlan, fleet: int
) -> tuple[tuple[int, int], ...]:
    """(seconds, new fleet's %) each time the share changes, with no provisioning time and no
    rollback: the plan's traffic timeline, from the same phases the emulator runs."""
    phases = (
        blue_green_phases(policy, fleet, 0)
        if isinstance(policy, BlueGreenPlan)
        else rolling_phases(policy, fleet, 0)
    )
    points: list[tuple[int, int]] = [(0, 0)]
    t = 0
    for ph in phases:
        if ph.percent != points[-1][1]:
            points.append((t, ph.percent))
        t += ph.seconds
    return tuple(points)


def _state_at(changes: Sequence[AlarmChange], name: str, t: float) -> AlarmState:
    state: AlarmState = "OK"
    for c in changes:
        if c.name == name and c.at <= t:
            state = c.state
    return state


def first_trip(
    changes: Sequence[AlarmChange], alarms: Sequence[str], start: int, end: int
) -> tuple[int, str] | None:
    """The first time in the bake [start, end) (or the instant `start` when end == start) that any
    of `alarms` is ALARM, with its name. S3: an alarm already in ALARM trips at `start`."""
    for name in alarms:
        if _state_at(changes, name, start) == "ALARM":
            return start, name
    hits = sorted(
        (c.at, c.name)
        for c in changes
        if c.name in alarms and c.state == "ALARM" and start < c.at < max(end, start + 1)
    )
    return hits[0] if hits else None


def emulate(
    policy: BlueGreenPlan | RollingPlan,
    fleet: int,
    alarms: Sequence[str],
    changes: Sequence[AlarmChange],
    horizon: int,
    *,
    provisioning_seconds: int = 0,
    alarm_reaction_seconds: int = 0,
) -> GuardrailRun:
    """Run one endpoint update under `policy` for a fleet of `fleet` instances until `horizon`.

    `alarms` are the auto-rollback alarms ([CFG], 1-10 of them); `changes` their states over time
    (all start OK). Raises ValueError for a fleet below 1 or negative times.
    """
    if fleet < 1:
        raise ValueError(f"fleet must have at least 1 instance, got {fleet}")
    if min(provisioning_seconds, alarm_reaction_seconds, horizon) < 0:
        raise ValueError("provisioning_seconds, alarm_reaction_seconds and horizon are >= 0")
    if isinstance(policy, BlueGreenPlan):
        phases = blue_green_phases(policy, fleet, provisioning_seconds)
        rollback_batch = fleet  # [BG]/[LIN]: all traffic back to blue at once
    else:
        phases = rolling_phases(policy, fleet, provisioning_seconds)
        rb = policy.rollback_maximum_batch_size
        rollback_batch = fleet if rb is None else instances_of(rb, fleet)  # [ROL] default 100%
    timeout = policy.max_execution_timeout_seconds

    events: list[GuardrailEvent] = []
    timeline: list[tuple[int, int]] = [(0, 0)]
    capacity: list[tuple[int, int]] = [(0, 0)]
    full_at: int | None = None

    def mark(at: int, kind: str, reason: str, pct: int, extra: int) -> None:
        nonlocal full_at
        events.append(GuardrailEvent(at, kind, reason, pct, extra))
        if timeline[-1][1] != pct:
            timeline.append((at, pct))
        if capacity[-1][1] != extra:
            capacity.append((at, extra))
        if pct == 100 and full_at is None:
            full_at = at

    t = 0
    on = 0
    for ph in phases:
        end = t + ph.seconds
        if ph.kind == "provision" or ph.percent != timeline[-1][1] or ph.extra != capacity[-1][1]:
            shifts = ph.kind != "provision" and ph.percent != timeline[-1][1]
            what = "shift" if shifts else ph.kind
            mark(t, what, ph.label, ph.percent, ph.extra)
        on = ph.new_instances
        trip = first_trip(changes, alarms, t, end) if ph.watched else None
        react = None if trip is None else trip[0] + alarm_reaction_seconds
        stop = end if timeout is None else min(end, timeout)
        if trip is not None and react is not None and react < stop and react <= horizon:
            return _rollback(
                events, timeline, capacity, full_at, react,
                f"alarm {trip[1]} in ALARM during {ph.label}", on, fleet, rollback_batch,
                provisioning_seconds, horizon, isinstance(policy, BlueGreenPlan),
            )  # fmt: skip
        if timeout is not None and end > timeout and timeout <= horizon:
            # S6: the update runs out of time inside this phase.
            return _rollback(
                events, timeline, capacity, full_at, timeout,
                f"maximum execution timeout {timeout}s exceeded during {ph.label}", on, fleet,
                rollback_batch, provisioning_seconds, horizon, isinstance(policy, BlueGreenPlan),
            )  # fmt: skip
        if end > horizon:
            return GuardrailRun(
                "in_progress", tuple(events), tuple(timeline), tuple(capacity), full_at, None
            )
        t = end
    mark(t, "complete", "old fleet terminated: update complete", 100, 0)
    return GuardrailRun("completed", tuple(events), tuple(timeline), tuple(capacity), full_at, t)


def _rollback(
    events: list[GuardrailEvent],
    timeline: list[tuple[int, int]],
    capacity: list[tuple[int, int]],
    full_at: int | None,
    at: int,
    reason: str,
    on: int,
    fleet: int,
    batch: int,
    provisioning_seconds: int,
    horizon: int,
    blue_green: bool,
) -> GuardrailRun:
    """[BG]/[LIN]/[ALL]: blue/green sends all traffic back to blue at once (blue is still up).
    [ROL]: rolling brings the old fleet back `batch` instances at a time, each batch provisioned
    (S1) before its traffic turns on and as many new instances are terminated."""

    def mark(t: int, kind: str, why: str, pct: int, extra: int) -> None:
        events.append(GuardrailEvent(t, kind, why, pct, extra))
        if timeline[-1][1] != pct:
            timeline.append((t, pct))
        if capacity[-1][1] != extra:
            capacity.append((t, extra))

    if blue_green:
        mark(at, "rollback", f"{reason}: all traffic back to the blue fleet", 0, 0)
        return GuardrailRun(
            "rolled_back", tuple(events), tuple(timeline), tuple(capacity), full_at, at, reason
        )
    t = at
    remaining = on
    first = True
    while remaining > 0:
        step = min(batch, remaining)
        why = f"{reason}: " if first else ""
        if provisioning_seconds > 0:
            mark(
                t,
                "provision",
                f"{why}rollback: provisioning {step} old instance(s)",
                share(remaining, fleet),
                step,
            )
            t += provisioning_seconds
            if t > horizon:
                return GuardrailRun(
                    "rolled_back",
                    tuple(events),
                    tuple(timeline),
                    tuple(capacity),
                    full_at,
                    None,
                    reason,
                )
        remaining -= step
        why = f"{reason}: " if first else ""
        mark(
            t,
            "rollback",
            f"{why}{step} instance(s) back on the old fleet",
            share(remaining, fleet),
            0,
        )
        first = False
    if on == 0:
        mark(at, "rollback", f"{reason}: no traffic had moved", 0, 0)
    return GuardrailRun(
        "rolled_back", tuple(events), tuple(timeline), tuple(capacity), full_at, t, reason
    )


def _integral(points: Sequence[tuple[int, int]], until: int) -> int:
    total = 0
    for i, (t, v) in enumerate(points):
        if t >= until:
            break
        nxt = points[i + 1][0] if i + 1 < len(points) else until
        total += v * (min(nxt, until) - t)
    return total
