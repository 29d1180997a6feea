"""The canary controller: one pure decision per tick, and the state it leaves behind.

Theory of operation
-------------------
A canary rollout is an ordered list of steps (candidate %, bake seconds). Its durable progress is a
`RolloutState`: which step it is on, when it entered that step, its status, a version that every
change bumps, and what a rollback (if any) was about. The endpoint's live weights are the truth for
traffic; the state says what they *should* be (`sagemaker_weights(spec, steps[step_index])`).

Each tick (the one-minute schedule, an alarm-state event, or an operator command) the shell reads
the world into plain values (`AlarmView`, `EndpointView`, the pending `Intent`) and asks `decide()` for
exactly one `Decision`. The shell acts on it (weights call, notification) and stores
`apply(state, decision, now)` with a write conditional on the version it read, so two ticks racing
on the same state cannot both step.

Priority, from DESIGN.md §4: rollback beats hold beats advance. In order:

1. A finished rollout (completed, failed, rolled back and applied) never moves again.
2. Rollback: a pending rollback, an operator abort, any gate alarm in ALARM, or INSUFFICIENT_DATA
   past the limit. If the endpoint is mid-update the rollback is recorded as pending (`deferred`)
   and retried first thing on every later tick; it cannot be applied to a Failed or missing
   endpoint.
3. Pause / resume intents (a resume restarts the step's bake: watch a full bake before stepping).
4. Holds that need a human (notify once per distinct reason): endpoint Failed, UpdateRollbackFailed,
   Deleting or missing, a variant missing, alarms unreadable, a gate or sample alarm missing.
5. Holds that wait: gate alarm INSUFFICIENT_DATA (timed against the limit), low traffic (sample
   alarm not OK), endpoint in progress (back off, re-read next tick).
6. Reconcile: live weights differ from the step's weights -> re-apply them; the bake restarts.
   (A promote below the last step goes ahead instead: its weights replace the drifted ones.)
7. Paused -> hold. Bake not over -> hold (a step is never left at the instant it was entered, so a
   duplicate event cannot step twice). Last step baked -> complete. Otherwise, or on promote,
   advance one step (promote_full: straight to the last step, 100%).

Never advance on missing data: advancing needs every gate alarm readable and OK, the sample alarm
(if any) OK, the endpoint InService with both variants and the expected weights.

Standard library only: this module ships inside the hook Lambda's zip.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal, TypeVar, assert_never

from sagemaker_rollouts.strategies.rollout import RolloutSpec, RolloutStatus, sagemaker_weights

AlarmStateValue = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
EndpointStatus = Literal[
    "OutOfService",
    "Creating",
    "Updating",
    "SystemUpdating",
    "RollingBack",
    "InService",
    "Deleting",
    "Failed",
    "UpdateRollbackFailed",
    "Missing",  # DescribeEndpoint said the endpoint does not exist
]
IntentKind = Literal["pause", "resume", "promote", "promote_full", "abort"]

ENDPOINT_STATUSES: tuple[EndpointStatus, ...] = (
    "OutOfService",
    "Creating",
    "Updating",
    "SystemUpdating",
    "RollingBack",
    "InService",
    "Deleting",
    "Failed",
    "UpdateRollbackFailed",
    "Missing",
)
INTENT_KINDS: tuple[IntentKind, ...] = ("pause", "resume", "promote", "promote_full", "abort")
ALARM_STATES: tuple[AlarmStateValue, ...] = ("OK", "ALARM", "INSUFFICIENT_DATA")

# Back off and re-read: SageMaker rejects weight updates while the endpoint is in one of these.
IN_PROGRESS: frozenset[EndpointStatus] = frozenset(
    {"OutOfService", "Creating", "Updating", "SystemUpdating", "RollingBack"}
)
# Stop and tell a human: nothing we can call will help.
BROKEN: frozenset[EndpointStatus] = frozenset(
    {"Failed", "UpdateRollbackFailed", "Deleting", "Missing"}
)
TERMINAL: frozenset[RolloutStatus] = frozenset({"completed", "rolled_back", "failed"})

WEIGHT_TOLERANCE = 1e-6


_V = TypeVar("_V")


def _lookup(pairs: tuple[tuple[str, _V], ...], key: str) -> _V | None:
    """The value paired with `key` in a sorted tuple of pairs (the views stay hashable)."""
    for k, v in pairs:
        if k == key:
            return v
    return None


@dataclass(frozen=True, slots=True)
class Intent:
    """An operator's request recorded on the state item; consumed at most once (by `id`)."""

    kind: IntentKind
    who: str
    at: float
    reason: str
    id: str


@dataclass(frozen=True, slots=True)
class RolloutState:
    """Durable progress of one rollout. `version` 0 means "never stored".

    Invariants: 0 <= step_index < len(spec.steps); `pending_rollback` implies status rolled_back;
    `rollback_alarm/reason/at` are set iff status is rolled_back.
    """

    status: RolloutStatus
    step_index: int
    step_started_at: float
    version: int
    insufficient_since: float | None = None
    pending_rollback: bool = False  # rollback decided, weights not yet applied
    rollback_alarm: str | None = None
    rollback_reason: str | None = None
    rollback_at: float | None = None
    intent: Intent | None = None  # the last intent recorded by an operator (maybe already consumed)
    last_intent_id: str | None = None  # the last intent a decision consumed
    stuck_reason: str | None = None  # set while holding for a human; notify once per reason


@dataclass(frozen=True, slots=True)
class AlarmView:
    """What one batched DescribeAlarms returned: state per alarm name; a name absent = missing.

    `unreadable` carries the error when DescribeAlarms failed (denied, throttled past retries).
    """

    states: tuple[tuple[str, AlarmStateValue], ...] = ()
    unreadable: str | None = None

    @classmethod
    def of(cls, states: Mapping[str, AlarmStateValue], unreadable: str | None = None) -> AlarmView:
        return cls(tuple(sorted(states.items())), unreadable)

    def get(self, name: str) -> AlarmStateValue | None:
        return _lookup(self.states, name)


@dataclass(frozen=True, slots=True)
class EndpointView:
    """DescribeEndpoint as the controller needs it: status and each variant's live weight."""

    status: EndpointStatus
    weights: tuple[tuple[str, float], ...] = ()

    @classmethod
    def of(cls, status: EndpointStatus, weights: Mapping[str, float]) -> EndpointView:
        return cls(status, tuple(sorted(weights.items())))

    def weight(self, variant: str) -> float | None:
        return _lookup(self.weights, variant)


@dataclass(frozen=True, slots=True)
class Advance:
    """Move to `step_index` and set `weights` (state is written before the weights call)."""

    reason: str
    step_index: int
    weights: tuple[tuple[str, float], ...]
    intent_id: str | None = None


@dataclass(frozen=True, slots=True)
class Hold:
    """Change no weights. May set the status (pause/resume), track INSUFFICIENT_DATA, or flag that a
    human is needed (`stuck`; `notify` is true the first tick a given stuck reason is seen)."""

    reason: str
    insufficient_since: float | None = None
    status: RolloutStatus | None = None
    restart_bake: bool = False
    stuck: bool = False
    notify: bool = False
    intent_id: str | None = None


@dataclass(frozen=True, slots=True)
class Rollback:
    """Candidate weight to 0 and status rolled_back. `deferred`: the endpoint is mid-update, so only
    record the rollback as pending; it is retried before anything else on the next tick."""

    reason: str
    alarm: str | None
    weights: tuple[tuple[str, float], ...]
    deferred: bool = False
    intent_id: str | None = None


@dataclass(frozen=True, slots=True)
class Complete:
    """The last step (100%) baked: the rollout is completed; weights stay as they are."""

    reason: str
    intent_id: str | None = None


@dataclass(frozen=True, slots=True)
class Reconcile:
    """Live weights differ from the step's: re-apply the step's weights and restart its bake."""

    reason: str
    weights: tuple[tuple[str, float], ...]
    status: RolloutStatus | None = None  # a pause/resume recorded with it
    intent_id: str | None = None


Decision = Advance | Hold | Rollback | Complete | Reconcile


def initial_state(spec: RolloutSpec, now: float) -> RolloutState:
    """A rollout nobody has stored yet: step 0, the weights the endpoint was deployed with."""
    del spec  # every rollout starts at step 0; kept for symmetry with decide()
    return RolloutState(status="in_progress", step_index=0, step_started_at=now, version=0)


def step_weights(spec: RolloutSpec, step_index: int) -> tuple[tuple[str, float], ...]:
    """The SageMaker weights of one step, as sorted (variant, weight) pairs."""
    return tuple(sorted(sagemaker_weights(spec, spec.steps[step_index].candidate_percent).items()))


def rollback_weights(spec: RolloutSpec) -> tuple[tuple[str, float], ...]:
    return tuple(sorted(sagemaker_weights(spec, 0).items()))


def candidate_share(spec: RolloutSpec, endpoint: EndpointView) -> float | None:
    """The candidate's live share of requests in percent; None if unknown or nothing serves."""
    total = math.fsum(w for _, w in endpoint.weights)
    cand = endpoint.weight(spec.candidate_variant)
    if cand is None or total <= 0:
        return None
    return 100.0 * cand / total


def decide(
    spec: RolloutSpec,
    state: RolloutState,
    alarms: AlarmView,
    endpoint: EndpointView,
    intent: Intent | None,
    now: float,
) -> Decision:
    """The next move for one rollout (DESIGN.md §4). Pure.

    Rollback beats hold beats advance; never advance on missing data; an intent whose id was
    already consumed is ignored, so replaying the same input changes nothing.
    """
    fresh = intent if intent is not None and intent.id != state.last_intent_id else None
    if state.status in TERMINAL and not state.pending_rollback:
        return Hold(f"rollout is {state.status}", insufficient_since=state.insufficient_since)

    ins_since = _insufficient_since(spec, state, alarms, now)
    variants_missing = [
        v
        for v in (spec.stable_variant, spec.candidate_variant)
        if endpoint.status not in BROKEN and endpoint.weight(v) is None
    ]

    def stuck(reason: str) -> Hold:
        return _stuck(state, reason, ins_since)

    def progress(st: RolloutState, intent: Intent | None) -> Decision:
        return _progress(spec, st, alarms, endpoint, intent, now, ins_since, variants_missing)

    # 1. Rollback, unless the endpoint cannot take a weights call at all.
    wanted = _rollback_wanted(spec, state, alarms, endpoint, fresh, now)
    if wanted is not None:
        reason, alarm = wanted
        if endpoint.status in BROKEN:
            return stuck(f"rollback wanted ({reason}) but endpoint is {endpoint.status}")
        if variants_missing:
            return stuck(f"rollback wanted ({reason}) but variant {variants_missing[0]} is missing")
        return Rollback(
            reason,
            alarm,
            rollback_weights(spec),
            deferred=endpoint.status in IN_PROGRESS,
            intent_id=fresh.id if fresh is not None and fresh.kind == "abort" else None,
        )

    # 2. Pause and resume are recorded whatever else holds, folded into that hold (or reconcile)
    #    so one decision does all this input asks for and replaying it changes nothing more.
    if fresh is not None and (fresh.kind == "pause" or fresh.kind == "resume"):
        resume = fresh.kind == "resume"
        status: RolloutStatus = "in_progress" if resume else "paused"
        then = progress(
            replace(state, status=status, step_started_at=now if resume else state.step_started_at),
            None,
        )
        what = f"{'resumed' if resume else 'paused'} by {fresh.who}: {fresh.reason}"
        match then:
            case Hold():
                return replace(
                    then,
                    reason=then.reason if then.stuck else f"{what}; {then.reason}",
                    status=status,
                    restart_bake=resume,
                    intent_id=fresh.id,
                )
            case Reconcile():
                return replace(
                    then, reason=f"{what}; {then.reason}", status=status, intent_id=fresh.id
                )
            case Advance() | Complete() | Rollback():
                # Unreachable: a paused rollout or a just-restarted bake cannot move.
                raise AssertionError(f"{fresh.kind} cannot {kind(then)}")
            case _:
                assert_never(then)
    return progress(state, fresh)


def _progress(
    spec: RolloutSpec,
    state: RolloutState,
    alarms: AlarmView,
    endpoint: EndpointView,
    fresh: Intent | None,
    now: float,
    ins_since: float | None,
    variants_missing: list[str],
) -> Decision:
    """Rows 3-7 of the theory of operation: holds, reconcile, complete, advance."""

    def stuck(reason: str) -> Hold:
        return _stuck(state, reason, ins_since)

    # 3. Holds that need a human.
    if endpoint.status in BROKEN:
        return stuck(f"endpoint is {endpoint.status}")
    if variants_missing:
        return stuck(f"variant {variants_missing[0]} is missing from the endpoint")
    if alarms.unreadable is not None:
        return stuck(f"alarms unreadable: {alarms.unreadable}")
    for name in (*spec.gate_alarms, *_sample(spec)):
        if alarms.get(name) is None:
            return stuck(f"alarm {name} is missing")

    # 4. Holds that wait.
    waiting = [n for n in spec.gate_alarms if alarms.get(n) == "INSUFFICIENT_DATA"]
    if waiting:
        return Hold(
            f"alarm {waiting[0]} has INSUFFICIENT_DATA",
            insufficient_since=ins_since,
        )
    if spec.sample_alarm is not None and alarms.get(spec.sample_alarm) != "OK":
        return Hold(
            f"low traffic: sample alarm {spec.sample_alarm} is {alarms.get(spec.sample_alarm)}",
            insufficient_since=ins_since,
        )
    if endpoint.status in IN_PROGRESS:
        return Hold(f"endpoint is {endpoint.status}: back off", insufficient_since=ins_since)

    # 5. Reconcile drift. A promote below the last step sets the next step's weights anyway, so it
    #    goes ahead; at the last step it is consumed by the reconcile (completion follows the bake).
    promote = fresh if fresh is not None and fresh.kind in ("promote", "promote_full") else None
    last = len(spec.steps) - 1
    if _drifted(spec, endpoint, state.step_index) and (promote is None or state.step_index >= last):
        live = candidate_share(spec, endpoint)
        return Reconcile(
            f"live candidate share {_pct(live)} differs from step {state.step_index} "
            f"({spec.steps[state.step_index].candidate_percent}%)",
            step_weights(spec, state.step_index),
            intent_id=None if promote is None else promote.id,
        )

    # 6. Progress.
    if state.status == "paused" and promote is None:
        return Hold("paused", insufficient_since=ins_since)
    bake = spec.steps[state.step_index].bake_seconds
    baked = now >= state.step_started_at + bake and now > state.step_started_at
    if promote is None and not baked:
        left = state.step_started_at + bake - now
        return Hold(
            f"baking step {state.step_index}: {max(left, 0.0):.0f}s left",
            insufficient_since=ins_since,
        )
    if state.step_index >= last:
        return Complete(
            "last step baked" if promote is None else f"promoted by {promote.who}",
            intent_id=None if promote is None else promote.id,
        )
    target = (
        last if promote is not None and promote.kind == "promote_full" else state.step_index + 1
    )
    why = (
        f"step {state.step_index} baked"
        if promote is None
        else f"{promote.kind} by {promote.who}: {promote.reason}"
    )
    return Advance(
        f"{why}; to {spec.steps[target].candidate_percent}%",
        target,
        step_weights(spec, target),
        intent_id=None if promote is None else promote.id,
    )


def apply(state: RolloutState, decision: Decision, now: float) -> RolloutState:
    """The state after `decision` at `now`. Pure.

    Invariant: the version is bumped (by one) exactly when something changed, and always when the
    state was never stored (version 0), so the shell writes iff the version moved.
    """
    consumed = _consumed(decision)
    last_intent_id = state.last_intent_id if consumed is None else consumed
    match decision:
        case Advance(step_index=target):
            new = replace(
                state,
                status="in_progress",
                step_index=target,
                step_started_at=now,
                insufficient_since=None,
                stuck_reason=None,
                last_intent_id=last_intent_id,
            )
        case Hold():
            new = replace(
                state,
                status=state.status if decision.status is None else decision.status,
                step_started_at=now if decision.restart_bake else state.step_started_at,
                insufficient_since=decision.insufficient_since,
                stuck_reason=decision.reason if decision.stuck else None,
                last_intent_id=last_intent_id,
            )
        case Rollback(reason=reason, alarm=alarm, deferred=deferred):
            first = state.status != "rolled_back"
            new = replace(
                state,
                status="rolled_back",
                pending_rollback=deferred,
                rollback_alarm=alarm if first else state.rollback_alarm,
                rollback_reason=reason if first else state.rollback_reason,
                rollback_at=now if first else state.rollback_at,
                stuck_reason=None,
                last_intent_id=last_intent_id,
            )
        case Complete():
            new = replace(
                state,
                status="completed",
                insufficient_since=None,
                stuck_reason=None,
                last_intent_id=last_intent_id,
            )
        case Reconcile():
            new = replace(
                state,
                status=state.status if decision.status is None else decision.status,
                last_intent_id=last_intent_id,
                step_started_at=now,
                insufficient_since=None,
                stuck_reason=None,
            )
        case _:
            assert_never(decision)
    if new == state and state.version > 0:
        return state
    return replace(new, version=state.version + 1)


def changes_weights(decision: Decision) -> tuple[tuple[str, float], ...] | None:
    """The weights the shell must set for `decision`, or None when it sets none."""
    match decision:
        case Advance(weights=w) | Reconcile(weights=w):
            return w
        case Rollback(weights=w, deferred=deferred):
            return None if deferred else w
        case Hold() | Complete():
            return None
        case _:
            assert_never(decision)


def kind(decision: Decision) -> str:
    """A decision's lower-case name, for logs, history rows and metrics."""
    return type(decision).__name__.lower()


def _sample(spec: RolloutSpec) -> tuple[str, ...]:
    return () if spec.sample_alarm is None else (spec.sample_alarm,)


def _consumed(decision: Decision) -> str | None:
    match decision:
        case (
            Advance(intent_id=i)
            | Hold(intent_id=i)
            | Rollback(intent_id=i)
            | Complete(intent_id=i)
            | Reconcile(intent_id=i)
        ):
            return i
        case _:
            assert_never(decision)


def _stuck(state: RolloutState, reason: str, ins_since: float | None) -> Hold:
    """A hold that needs a human: notify once per distinct reason, not on every tick."""
    return Hold(
        reason, insufficient_since=ins_since, stuck=True, notify=state.stuck_reason != reason
    )


def _insufficient_since(
    spec: RolloutSpec, state: RolloutState, alarms: AlarmView, now: float
) -> float | None:
    """When the current INSUFFICIENT_DATA spell started; unchanged while alarms are unreadable."""
    if alarms.unreadable is not None:
        return state.insufficient_since
    if any(alarms.get(n) == "INSUFFICIENT_DATA" for n in spec.gate_alarms):
        return now if state.insufficient_since is None else state.insufficient_since
    return None


def _rollback_wanted(
    spec: RolloutSpec,
    state: RolloutState,
    alarms: AlarmView,
    endpoint: EndpointView,
    intent: Intent | None,
    now: float,
) -> tuple[str, str | None] | None:
    """(reason, alarm) when the rollout must go back to candidate 0, else None.

    A candidate found at 0% while every step is above 0 was put there by a rollback whose record
    was lost (a crash between the weights call and the state write) or by an operator: either
    way it is recorded as rolled back, never reconciled back up.
    """
    if state.pending_rollback:
        return (f"retrying pending rollback: {state.rollback_reason}", state.rollback_alarm)
    if intent is not None and intent.kind == "abort":
        return (f"aborted by {intent.who}: {intent.reason}", None)
    if (
        endpoint.status not in BROKEN
        and endpoint.weight(spec.candidate_variant) == 0.0
        and candidate_share(spec, endpoint) == 0.0
        and spec.steps[state.step_index].candidate_percent > 0
    ):
        return ("candidate found at 0% outside the controller: kept rolled back", None)
    if alarms.unreadable is None:
        for name in spec.gate_alarms:
            if alarms.get(name) == "ALARM":
                return (f"alarm {name} is ALARM", name)
        since = _insufficient_since(spec, state, alarms, now)
        if since is not None and now - since > spec.insufficient_data_limit_seconds:
            name = next(n for n in spec.gate_alarms if alarms.get(n) == "INSUFFICIENT_DATA")
            return (
                f"alarm {name} INSUFFICIENT_DATA for {now - since:.0f}s "
                f"> limit {spec.insufficient_data_limit_seconds}s",
                name,
            )
    return None


def _drifted(spec: RolloutSpec, endpoint: EndpointView, step_index: int) -> bool:
    live = candidate_share(spec, endpoint)
    if live is None:
        return True
    return abs(live - spec.steps[step_index].candidate_percent) > WEIGHT_TOLERANCE


def _pct(share: float | None) -> str:
    return "unknown (nothing serves)" if share is None else f"{share:g}%"
