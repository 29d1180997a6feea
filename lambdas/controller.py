"""The canary controller: one pure decision per tick, and the state it leaves behind.

Theory of operation
-------------------
A canary rollout is an ordered list of steps (candidate %, bake seconds). Its durable progress is a
`RolloutState`: which step it is on, its status, its clocks (evidence and missing-data time), a
version that every change bumps, and what a rollback (if any) was about. The endpoint's live weights
are the truth for traffic; the state says what they *should* be (`step_weights(spec, step_index)`).

Each tick (the one-minute schedule, an alarm-state event, or an operator command) the shell reads
the world into plain values (`AlarmView`, `EndpointView`, the pending `Intent`) and asks `decide()` for
exactly one `Decision`. The shell acts on it (weights call, notification) and stores
`apply(state, decision, now)` with a write conditional on the version it read, so two ticks racing
on the same state cannot both step.

Decision table (docs/design.md §4; rollback beats hold beats advance; first matching row wins). It
is `RULES` below, rows evaluated in order; this copy and README.md's are checked against it:

| # | what it sees | what it does |
|---|---|---|
| 1 | the rollout completed, failed or rolled back (and applied) | hold the endpoint to its terminal weights: when it is InService with both variants and the live share differs (a weights call that landed late, a racing `rollout abort` or alarm invocation, a hand edit), put them back (rolled back: candidate 0%; completed: the last step), record it and notify; otherwise nothing |
| 2 | a rollback decided earlier and not yet applied | retry it first (candidate to 0%), whatever the alarms say now |
| 3 | operator abort | candidate to 0% (abort is the one intent that survives a broken baseline) |
| 4 | a gate alarm in ALARM; the step's *total* INSUFFICIENT_DATA time past `insufficient_data_limit_seconds` (open spell or closed ones, also when the spell that crossed it has just ended); the candidate found at 0% | candidate to 0% (alarms are checked before the weights, so the alarm is named; a candidate found at 0% with every gate OK again names the gate whose ALARM the alarm history shows since the step began); endpoint mid-update or the weights call failing: recorded as pending and retried every tick; endpoint broken or a variant missing: hold for a human |
| 5 | the same, while a baseline (stable) alarm is in ALARM | hold and notify: never move every request onto a broken fleet; `rollout abort` decides |
| 6 | a pause or resume intent | recorded, folded into whatever rows 7-13 decide (resume restarts the evidence clock) |
| 7 | endpoint Failed / UpdateRollbackFailed / Deleting / missing, a variant missing, alarms unreadable, an alarm missing, a baseline alarm in ALARM | hold and notify a human (once per *kind* of reason) |
| 8 | a gate alarm in INSUFFICIENT_DATA, low traffic (sample alarm not OK), endpoint updating | hold (back off) |
| 9 | live weights differ from the step's | put the step's weights back |
| 10 | paused | hold |
| 11 | evidence time short of the step's bake | hold |
| 12 | last step baked | completed, notify |
| 13 | otherwise, or `promote` | one step forward (`promote --full`: to 100%) |

Steps are numbered from 1 in every reason a human reads (as in the CLI's tables); the state's
`step_index` stays 0-based.

Operator intents are applied by the decision of the tick that first sees them, or consumed as
*refused* with that decision's reason (`RolloutState.intent_refused`); an intent never waits to fire
later, and one older than `INTENT_TTL_SECONDS` when first seen is refused as expired (abort excepted:
it only ever moves traffic back to the stable fleet).

Clocks. The bake counts only *evidence time*: time in which every gate alarm was OK, the sample alarm
(if any) OK, no baseline alarm in ALARM, and the endpoint InService with both variants. The state keeps
`evidence_since`, the first tick of the current unbroken evidence spell; any tick without evidence
clears it, so an interrupted spell is not credited (time between the last good tick and the loss is
unknown, and undercounting is the safe side). The INSUFFICIENT_DATA limit counts the step's *total*
missing time: closed spells accumulate in `missing_seconds` (credited up to the tick that saw the
spell end: overcounting is the safe side there), plus the open spell since `insufficient_since`;
`missing_alarm` remembers the gate whose spell it was, so a limit crossed by a spell that has just
closed still rolls back naming that alarm. All reset when the step changes.

Terminal rollouts. A rolled-back or completed rollout still owns the endpoint's weights: the state
is the intent, and a weights call that lands after the terminal decision (an advance delayed on the
wire while an operator's abort or an alarm invocation rolled back, or a hand edit) would otherwise
leave a rolled-back candidate serving while every status says rolled back. Each tick compares the
live share with the terminal one and re-applies it, recorded as a history row like any weights
call (`apply` bumps the version for every decision that sets weights).

Never advance on missing data: advancing needs every gate alarm readable and OK, the sample alarm
(if any) OK, the endpoint InService with both variants and the expected weights, and a full bake of
evidence time.

Baseline alarms (`RolloutSpec.baseline_alarms`, the stable variant's alarms when the stack sets
`canary.baseline_alarms: true`) watch the fleet a rollback would send all traffic to. Kayenta judges a
canary *relative to* a baseline (a fresh copy of the old version) and fails the canary when they
differ, so a sick baseline makes any comparison meaningless; Argo Rollouts' analysis watches only what
its AnalysisTemplates query, and an abort always shifts traffic back to the stable ReplicaSet whatever
its health. Here a broken baseline is neither evidence against the candidate nor a safe place to go
back to: the rollout holds (no bake counts) and a human is told; only an explicit abort or an already
decided (pending) rollback moves traffic onto it.

Standard library only: this module ships inside the hook Lambda's zip.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Literal, TypeVar, assert_never, get_args

from sagemaker_rollouts.lambdas.rollout import RolloutSpec, RolloutStatus, sagemaker_weights

if TYPE_CHECKING:
    from dataclasses import dataclass
else:  # the same classes, no methods compiled at import (lambdas/records.py)
    from sagemaker_rollouts.lambdas.records import dataclass

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

# The same values as the Literals above, for membership tests and generators (one list each).
ENDPOINT_STATUSES: tuple[EndpointStatus, ...] = get_args(EndpointStatus)
INTENT_KINDS: tuple[IntentKind, ...] = get_args(IntentKind)
ALARM_STATES: tuple[AlarmStateValue, ...] = get_args(AlarmStateValue)

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
# An intent first seen by a decision this long after it was recorded is refused as expired.
INTENT_TTL_SECONDS = 600


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
class Notice:
    """A notification waiting to be published (the shell's outbox): SNS subject and JSON body."""

    subject: str
    message: str


@dataclass(frozen=True, slots=True)
class Clocks:
    """The step's clocks, epoch seconds. `evidence_since`: first tick of the current unbroken
    evidence spell (None: no evidence now). `insufficient_since`: start of the open
    INSUFFICIENT_DATA spell. `missing_seconds`: INSUFFICIENT_DATA time of the step's closed spells.
    `missing_alarm`: the gate alarm of the newest INSUFFICIENT_DATA spell this step (the one a
    rollback for missing data names)."""

    evidence_since: float | None = None
    insufficient_since: float | None = None
    missing_seconds: float = 0.0
    missing_alarm: str | None = None


@dataclass(frozen=True, slots=True)
class RolloutState:
    """Durable progress of one rollout. `version` 0 means "never stored".

    Invariants: 0 <= step_index < len(spec.steps); `pending_rollback` implies status rolled_back;
    `rollback_alarm/reason/at` are set iff status is rolled_back (alarm may be None: an abort).
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
    stuck_kind: str | None = None  # kind of reason while holding for a human; notify once per kind
    evidence_since: float | None = None
    missing_seconds: float = 0.0
    intent_refused: str | None = None  # why the last consumed intent was refused (None: applied)
    outbox: tuple[Notice, ...] = ()  # notifications decided but not yet published
    missing_alarm: str | None = None  # gate alarm of the step's newest INSUFFICIENT_DATA spell
    # When the rollout completed (None before, and on items stored before this field existed):
    # the scale-down delay counts from it without reading the history on every tick.
    completed_at: float | None = None

    @property
    def clocks(self) -> Clocks:
        return Clocks(
            self.evidence_since, self.insufficient_since, self.missing_seconds, self.missing_alarm
        )


@dataclass(frozen=True, slots=True)
class AlarmView:
    """What one batched DescribeAlarms returned: state per alarm name; a name absent = missing.

    `unreadable` carries the error when DescribeAlarms failed (denied, throttled past retries).
    `fired`: (gate alarm, epoch seconds) of ALARM transitions since the step began, newest first,
    from DescribeAlarmHistory; the shell reads it only when the candidate is found at 0% with no
    gate in ALARM now (a rollback whose record was lost), so the rollback still names its alarm.
    """

    states: tuple[tuple[str, AlarmStateValue], ...] = ()
    unreadable: str | None = None
    fired: tuple[tuple[str, float], ...] = ()

    @classmethod
    def of(
        cls,
        states: Mapping[str, AlarmStateValue],
        unreadable: str | None = None,
        fired: tuple[tuple[str, float], ...] = (),
    ) -> AlarmView:
        return cls(tuple(sorted(states.items())), unreadable, fired)

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
    refused: str | None = None


@dataclass(frozen=True, slots=True)
class Hold:
    """Change no weights. May set the status (pause/resume), move the clocks, or flag that a
    human is needed (`stuck` with its `stuck_kind`; `notify` is true the first tick a given kind
    of stuck reason is seen). `clocks` None keeps the state's clocks."""

    reason: str
    clocks: Clocks | None = None
    status: RolloutStatus | None = None
    stuck: bool = False
    stuck_kind: str | None = None
    notify: bool = False
    intent_id: str | None = None
    refused: str | None = None


@dataclass(frozen=True, slots=True)
class Rollback:
    """Candidate weight to 0 and status rolled_back. `deferred`: the weights call cannot be made
    now (endpoint mid-update, or it failed), so only record the rollback as pending; it is retried
    before anything else on every later tick."""

    reason: str
    alarm: str | None
    weights: tuple[tuple[str, float], ...]
    deferred: bool = False
    intent_id: str | None = None
    refused: str | None = None


@dataclass(frozen=True, slots=True)
class Complete:
    """The last step (100%) baked: the rollout is completed; weights stay as they are."""

    reason: str
    intent_id: str | None = None
    refused: str | None = None


@dataclass(frozen=True, slots=True)
class Reconcile:
    """Live weights differ from the step's: re-apply the step's weights and restart its bake."""

    reason: str
    weights: tuple[tuple[str, float], ...]
    status: RolloutStatus | None = None  # a pause/resume recorded with it
    intent_id: str | None = None
    refused: str | None = None


Decision = Advance | Hold | Rollback | Complete | Reconcile


def command_name(intent: IntentKind) -> str:
    """An intent as its command is spelled (`promote_full` is `promote-full`, the scenario
    command, and `rollout promote --full`), for every reason and line a human reads."""
    return intent.replace("_", "-")


def initial_state(spec: RolloutSpec, now: float) -> RolloutState:
    """A rollout nobody has stored yet: step 0, the weights the endpoint was deployed with."""
    del spec  # every rollout starts at step 0; kept for symmetry with decide()
    return RolloutState(status="in_progress", step_index=0, step_started_at=now, version=0)


def step_weights(spec: RolloutSpec, step_index: int) -> tuple[tuple[str, float], ...]:
    """The SageMaker weights of one step, as sorted (variant, weight) pairs."""
    return tuple(sorted(sagemaker_weights(spec, spec.steps[step_index].candidate_percent).items()))


def rollback_weights(spec: RolloutSpec) -> tuple[tuple[str, float], ...]:
    """Candidate 0, stable 100: where every rollback ends."""
    return tuple(sorted(sagemaker_weights(spec, 0).items()))


def candidate_share(spec: RolloutSpec, endpoint: EndpointView) -> float | None:
    """The candidate's live share of requests in percent; None if unknown or nothing serves."""
    total = math.fsum(w for _, w in endpoint.weights)
    cand = endpoint.weight(spec.candidate_variant)
    if cand is None or total <= 0:
        return None
    return 100.0 * cand / total


def watched_alarms(spec: RolloutSpec) -> tuple[str, ...]:
    """Every alarm the controller reads: gates, the sample alarm, then baseline alarms."""
    return tuple(dict.fromkeys((*spec.gate_alarms, *_sample(spec), *spec.baseline_alarms)))


def has_evidence(spec: RolloutSpec, alarms: AlarmView, endpoint: EndpointView) -> bool:
    """True when this tick counts toward the bake: every gate alarm OK, the sample alarm (if any)
    OK, no baseline alarm in ALARM, the endpoint InService with both variants."""
    if alarms.unreadable is not None or endpoint.status != "InService":
        return False
    if any(endpoint.weight(v) is None for v in (spec.stable_variant, spec.candidate_variant)):
        return False
    if any(alarms.get(n) != "OK" for n in (*spec.gate_alarms, *_sample(spec))):
        return False
    return not any(alarms.get(n) == "ALARM" for n in spec.baseline_alarms)


def next_clocks(
    spec: RolloutSpec, state: RolloutState, alarms: AlarmView, endpoint: EndpointView, now: float
) -> Clocks:
    """The step's clocks after this tick (see the theory of operation). Pure."""
    evidence = has_evidence(spec, alarms, endpoint)
    since = state.evidence_since
    evidence_since = (since if since is not None else now) if evidence else None
    if alarms.unreadable is not None:
        return replace(state.clocks, evidence_since=evidence_since)
    missing_now = next((n for n in spec.gate_alarms if alarms.get(n) == "INSUFFICIENT_DATA"), None)
    open_since = state.insufficient_since
    if missing_now is not None:
        return Clocks(
            evidence_since,
            now if open_since is None else open_since,
            state.missing_seconds,
            missing_now,
        )
    closed = 0.0 if open_since is None else max(0.0, now - open_since)
    return Clocks(evidence_since, None, state.missing_seconds + closed, state.missing_alarm)


def missing_total(clocks: Clocks, now: float) -> float:
    """The step's total INSUFFICIENT_DATA seconds so far, the open spell included."""
    open_spell = 0.0 if clocks.insufficient_since is None else now - clocks.insufficient_since
    return clocks.missing_seconds + max(0.0, open_spell)


def evidence_seconds(clocks: Clocks, now: float) -> float:
    """Seconds of unbroken evidence in the current step as of `now`."""
    return 0.0 if clocks.evidence_since is None else max(0.0, now - clocks.evidence_since)


def decide(
    spec: RolloutSpec,
    state: RolloutState,
    alarms: AlarmView,
    endpoint: EndpointView,
    intent: Intent | None,
    now: float,
) -> Decision:
    """The next move for one rollout (the decision table above, `RULES`). Pure.

    Rollback beats hold beats advance; never advance on missing data. An intent not yet consumed
    is consumed by this decision, applied or refused (with the decision's reason); an intent whose
    id was already consumed is ignored, so replaying the same input changes nothing.
    """
    return _decided(spec, state, alarms, endpoint, intent, now)[1]


def decided_by(
    spec: RolloutSpec,
    state: RolloutState,
    alarms: AlarmView,
    endpoint: EndpointView,
    intent: Intent | None,
    now: float,
) -> Rule:
    """The row of the decision table (`RULES`) that `decide` follows for the same input. Pure."""
    return _decided(spec, state, alarms, endpoint, intent, now)[0]


def _decided(
    spec: RolloutSpec,
    state: RolloutState,
    alarms: AlarmView,
    endpoint: EndpointView,
    intent: Intent | None,
    now: float,
) -> tuple[Rule, Decision]:
    fresh = intent if intent is not None and intent.id != state.last_intent_id else None
    if fresh is not None and fresh.kind != "abort" and now - fresh.at > INTENT_TTL_SECONDS:
        rule, decision = _decide(spec, state, alarms, endpoint, None, now)
        return rule, _refuse(
            decision,
            fresh,
            f"expired: first seen {now - fresh.at:.0f}s after it was given "
            f"(limit {INTENT_TTL_SECONDS}s)",
        )
    rule, decision = _decide(spec, state, alarms, endpoint, fresh, now)
    if fresh is not None and _consumed(decision) != fresh.id:
        return rule, _refuse(decision, fresh, decision.reason)
    return rule, decision


def _refuse(decision: Decision, intent: Intent, why: str) -> Decision:
    """`decision`, also consuming `intent` as refused (it must never fire on a later tick)."""
    note = f"{command_name(intent.kind)} by {intent.who} refused: {why}"
    if decision.reason != why:
        note = f"{decision.reason}; {note}"
    return replace(decision, reason=note, intent_id=intent.id, refused=why)


def _decide(
    spec: RolloutSpec,
    state: RolloutState,
    alarms: AlarmView,
    endpoint: EndpointView,
    fresh: Intent | None,
    now: float,
) -> tuple[Rule, Decision]:
    clocks = next_clocks(spec, state, alarms, endpoint, now)
    return _evaluate(_tick(spec, state, alarms, endpoint, fresh, now, clocks), RULES)


# --------------------------------------------------------------------------- the decision table


@dataclass(frozen=True)
class Tick:
    """What one decision reads: the rollout, its world this tick, and the fresh intent (if any).

    `clocks` are this tick's clocks (`next_clocks`), with the evidence clock restarted when the
    state's was cleared (a resume); `variants_missing` lists the rollout's variants the endpoint
    lacks (none while the endpoint itself is broken: that hold names the endpoint).
    """

    spec: RolloutSpec
    state: RolloutState
    alarms: AlarmView
    endpoint: EndpointView
    intent: Intent | None
    now: float
    clocks: Clocks
    variants_missing: tuple[str, ...]

    @cached_property
    def rollback(self) -> tuple[str, str | None, bool] | None:
        """(reason, alarm, automatic) when the rollout must go back to candidate 0, else None."""
        return _rollback_wanted(
            self.spec, self.state, self.alarms, self.endpoint, self.intent, self.clocks, self.now
        )

    @property
    def promote(self) -> Intent | None:
        i = self.intent
        return i if i is not None and i.kind in ("promote", "promote_full") else None

    @property
    def last(self) -> int:
        return len(self.spec.steps) - 1

    def stuck(self, reason: str, what: str) -> Hold:
        return _stuck(self.state, reason, what, self.clocks)


def _tick(
    spec: RolloutSpec,
    state: RolloutState,
    alarms: AlarmView,
    endpoint: EndpointView,
    intent: Intent | None,
    now: float,
    clocks: Clocks,
) -> Tick:
    # A resume (state.evidence_since cleared by row 6) restarts the evidence clock; otherwise
    # `next_clocks` has already started it at `now` when the state had none.
    if state.evidence_since is None and clocks.evidence_since is not None:
        clocks = replace(clocks, evidence_since=now)
    missing = tuple(
        v
        for v in (spec.stable_variant, spec.candidate_variant)
        if endpoint.status not in BROKEN and endpoint.weight(v) is None
    )
    return Tick(spec, state, alarms, endpoint, intent, now, clocks, missing)


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the decision table: the first rule whose `decide` returns a decision wins
    (None: the row does not apply to this tick; the next row looks).

    `sees` and `does` are the row as a human reads it (the module docstring, README.md "How a
    canary runs" and docs/design.md are checked against `decision_table()`).
    """

    number: int
    name: str
    sees: str
    does: str
    decide: Callable[[Tick], Decision | None]


# --------------------------------------------------------------------------- rules 1-6


def _hold_terminal(t: Tick) -> Decision | None:
    """Row 1: a finished rollout keeps the endpoint at its terminal weights (rolled back:
    candidate 0; completed: the last step). Acts only on an InService endpoint with both variants
    (mid-update the weights are not settled yet; the next tick looks again); a missing variant
    (the next `pulumi up` removed the idle fleet) means there is nothing left to hold."""
    spec, state, endpoint, fresh = t.spec, t.state, t.endpoint, t.intent
    if state.status not in TERMINAL or state.pending_rollback:
        return None
    done = Hold(f"rollout is {state.status}")
    if endpoint.status != "InService" or any(
        endpoint.weight(v) is None for v in (spec.stable_variant, spec.candidate_variant)
    ):
        return done
    live = candidate_share(spec, endpoint)
    abort = fresh.id if fresh is not None and fresh.kind == "abort" else None
    moved = (
        f"the candidate serves {_pct(live)} (a weights call that landed after the decision, "
        "or a change outside the controller)"
    )
    if state.status == "rolled_back" and (live is None or live > WEIGHT_TOLERANCE):
        return Rollback(
            f"rollout is rolled_back but {moved}: candidate back to 0%",
            state.rollback_alarm,
            rollback_weights(spec),
            intent_id=abort,
        )
    last = len(spec.steps) - 1
    if state.status == "completed" and _drifted(spec, endpoint, last):
        return Reconcile(
            f"rollout is completed but {moved}: candidate back to "
            f"{spec.steps[last].candidate_percent}%",
            step_weights(spec, last),
        )
    return done


def _retry_pending(t: Tick) -> Decision | None:
    """Row 2: a rollback decided earlier and not yet applied."""
    return _roll_back(t) if t.state.pending_rollback else None


def _abort(t: Tick) -> Decision | None:
    """Row 3: an operator abort."""
    return _roll_back(t) if t.intent is not None and t.intent.kind == "abort" else None


def _baseline_blocks(t: Tick) -> bool:
    """An automatic rollback the endpoint could take, onto a stable fleet that is alarming."""
    wanted = t.rollback
    return (
        wanted is not None
        and wanted[2]
        and t.endpoint.status not in BROKEN
        and not t.variants_missing
        and _baseline_alarming(t.spec, t.alarms) is not None
    )


def _rollback_due(t: Tick) -> Decision | None:
    """Row 4: an automatic rollback the baseline does not block."""
    return _roll_back(t) if t.rollback is not None and not _baseline_blocks(t) else None


def _roll_back(t: Tick) -> Decision:
    """Rows 2-4: candidate to 0%, unless the endpoint cannot take a weights call at all."""
    assert t.rollback is not None
    reason, alarm, _ = t.rollback
    if t.endpoint.status in BROKEN:
        return t.stuck(
            f"rollback wanted ({reason}) but endpoint is {t.endpoint.status}",
            f"endpoint:{t.endpoint.status}",
        )
    if t.variants_missing:
        return t.stuck(
            f"rollback wanted ({reason}) but variant {t.variants_missing[0]} is missing",
            f"variant-missing:{t.variants_missing[0]}",
        )
    fresh = t.intent
    return Rollback(
        reason,
        alarm,
        rollback_weights(t.spec),
        deferred=t.endpoint.status in IN_PROGRESS,
        intent_id=fresh.id if fresh is not None and fresh.kind == "abort" else None,
    )


def _hold_baseline(t: Tick) -> Decision | None:
    """Row 5: never move every request onto a stable fleet that is itself alarming (a rollback
    row 4 left alone is one the baseline blocks)."""
    if t.rollback is None:
        return None
    broken = _baseline_alarming(t.spec, t.alarms)
    return t.stuck(
        f"rollback wanted ({t.rollback[0]}) but baseline alarm {broken} is ALARM: not moving "
        f"every request onto the stable fleet; a human decides (rollout abort)",
        f"baseline:{broken}",
    )


def _fold(t: Tick) -> Decision | None:
    """Row 6: pause and resume are recorded whatever else holds, folded into that hold (or
    reconcile, rows 7-13) so one decision does all this input asks for and replaying it changes
    nothing more."""
    fresh = t.intent
    if fresh is None or fresh.kind not in ("pause", "resume"):
        return None
    resume = fresh.kind == "resume"
    status: RolloutStatus = "in_progress" if resume else "paused"
    restarted = replace(t.state, evidence_since=None) if resume else t.state
    st = replace(restarted, status=status)
    then = _evaluate(_tick(t.spec, st, t.alarms, t.endpoint, None, t.now, t.clocks), _PROGRESS)[1]
    what = f"{'resumed' if resume else 'paused'} by {fresh.who}: {fresh.reason}"
    match then:
        case Hold():
            return replace(
                then,
                reason=then.reason if then.stuck else f"{what}; {then.reason}",
                status=status,
                intent_id=fresh.id,
            )
        case Reconcile():
            return replace(then, reason=f"{what}; {then.reason}", status=status, intent_id=fresh.id)
        case Advance() | Complete() | Rollback():
            # Unreachable: a paused rollout or a just-restarted evidence clock cannot move.
            raise AssertionError(f"{fresh.kind} cannot {kind(then)}")
        case _:
            assert_never(then)


# --------------------------------------------------------------------------- rules 7-13


def _human_needed(t: Tick) -> tuple[str, str] | None:
    """(reason, kind of reason) of a hold only a human can end, else None."""
    spec, alarms, endpoint = t.spec, t.alarms, t.endpoint
    if endpoint.status in BROKEN:
        return f"endpoint is {endpoint.status}", f"endpoint:{endpoint.status}"
    if t.variants_missing:
        missing = t.variants_missing[0]
        return f"variant {missing} is missing from the endpoint", f"variant-missing:{missing}"
    if alarms.unreadable is not None:
        return f"alarms unreadable: {alarms.unreadable}", "alarms-unreadable"
    for name in (*spec.gate_alarms, *_sample(spec), *spec.baseline_alarms):
        if alarms.get(name) is None:
            return f"alarm {name} is missing", f"alarm-missing:{name}"
    broken = _baseline_alarming(spec, alarms)
    if broken is not None:
        return (
            f"baseline alarm {broken} is ALARM: the stable fleet is unhealthy; holding",
            f"baseline:{broken}",
        )
    return None


def _hold_for_human(t: Tick) -> Decision | None:
    """Row 7: hold and notify a human."""
    needed = _human_needed(t)
    return None if needed is None else t.stuck(*needed)


def _wait_reason(t: Tick) -> str | None:
    """Why this tick must wait and look again (no human needed), else None."""
    spec, alarms = t.spec, t.alarms
    waiting = [n for n in spec.gate_alarms if alarms.get(n) == "INSUFFICIENT_DATA"]
    if waiting:
        return (
            f"alarm {waiting[0]} has INSUFFICIENT_DATA "
            f"({missing_total(t.clocks, t.now):.0f}s of {spec.insufficient_data_limit_seconds}s "
            "allowed this step)"
        )
    if spec.sample_alarm is not None and alarms.get(spec.sample_alarm) != "OK":
        return f"low traffic: sample alarm {spec.sample_alarm} is {alarms.get(spec.sample_alarm)}"
    if t.endpoint.status in IN_PROGRESS:
        return f"endpoint is {t.endpoint.status}: back off"
    return None


def _hold_waiting(t: Tick) -> Decision | None:
    """Row 8: hold and look again."""
    reason = _wait_reason(t)
    return None if reason is None else Hold(reason, clocks=t.clocks)


def _reconcile(t: Tick) -> Decision | None:
    """Row 9: the live weights differ from the step's. A promote below the last step sets the
    next step's weights anyway, so it goes ahead; at the last step it is consumed by the
    reconcile (completion follows the bake)."""
    i = t.state.step_index
    if not _drifted(t.spec, t.endpoint, i) or (t.promote is not None and i < t.last):
        return None
    return Reconcile(
        f"live candidate share {_pct(candidate_share(t.spec, t.endpoint))} differs from step "
        f"{i + 1} ({t.spec.steps[i].candidate_percent}%)",
        step_weights(t.spec, i),
        intent_id=None if t.promote is None else t.promote.id,
    )


def _hold_paused(t: Tick) -> Decision | None:
    """Row 10."""
    paused = t.state.status == "paused" and t.promote is None
    return Hold("paused", clocks=t.clocks) if paused else None


def _hold_baking(t: Tick) -> Decision | None:
    """Row 11: the step's bake (seconds of evidence) is not over and nobody promoted."""
    bake = t.spec.steps[t.state.step_index].bake_seconds
    seen = evidence_seconds(t.clocks, t.now)
    baked = t.clocks.evidence_since is not None and seen >= bake and seen > 0
    if t.promote is not None or baked:
        return None
    return Hold(
        f"baking step {t.state.step_index + 1}: {seen:.0f}s of {bake}s with evidence",
        clocks=t.clocks,
    )


def _complete(t: Tick) -> Decision | None:
    """Row 12: the last step baked (or was promoted)."""
    if t.state.step_index < t.last:
        return None
    promote = t.promote
    return Complete(
        "last step baked" if promote is None else f"promoted by {promote.who}",
        intent_id=None if promote is None else promote.id,
    )


def _advance(t: Tick) -> Decision:
    """Row 13: otherwise, one step forward (`promote --full`: to the last)."""
    promote, i = t.promote, t.state.step_index
    target = t.last if promote is not None and promote.kind == "promote_full" else i + 1
    why = (
        f"step {i + 1} baked ({evidence_seconds(t.clocks, t.now):.0f}s with evidence)"
        if promote is None
        else f"{command_name(promote.kind)} by {promote.who}: {promote.reason}"
    )
    return Advance(
        f"{why}; to {t.spec.steps[target].candidate_percent}%",
        target,
        step_weights(t.spec, target),
        intent_id=None if promote is None else promote.id,
    )


# The decision table (docs/design.md §4): rollback beats hold beats advance; first matching row
# wins. The module docstring and README.md "How a canary runs" print `decision_table()`.
RULES: tuple[Rule, ...] = (
    Rule(
        1,
        "terminal",
        "the rollout completed, failed or rolled back (and applied)",
        "hold the endpoint to its terminal weights: when it is InService with both variants and "
        "the live share differs (a weights call that landed late, a racing `rollout abort` or "
        "alarm invocation, a hand edit), put them back (rolled back: candidate 0%; completed: the "
        "last step), record it and notify; otherwise nothing",
        _hold_terminal,
    ),
    Rule(
        2,
        "pending rollback",
        "a rollback decided earlier and not yet applied",
        "retry it first (candidate to 0%), whatever the alarms say now",
        _retry_pending,
    ),
    Rule(
        3,
        "abort",
        "operator abort",
        "candidate to 0% (abort is the one intent that survives a broken baseline)",
        _abort,
    ),
    Rule(
        4,
        "rollback",
        "a gate alarm in ALARM; the step's *total* INSUFFICIENT_DATA time past "
        "`insufficient_data_limit_seconds` (open spell or closed ones, also when the spell that "
        "crossed it has just ended); the candidate found at 0%",
        "candidate to 0% (alarms are checked before the weights, so the alarm is named; a "
        "candidate found at 0% with every gate OK again names the gate whose ALARM the alarm "
        "history shows since the step began); endpoint mid-update or the weights call failing: "
        "recorded as pending and retried every tick; endpoint broken or a variant missing: hold "
        "for a human",
        _rollback_due,
    ),
    Rule(
        5,
        "baseline blocks rollback",
        "the same, while a baseline (stable) alarm is in ALARM",
        "hold and notify: never move every request onto a broken fleet; `rollout abort` decides",
        _hold_baseline,
    ),
    Rule(
        6,
        "pause or resume",
        "a pause or resume intent",
        "recorded, folded into whatever rows 7-13 decide (resume restarts the evidence clock)",
        _fold,
    ),
    Rule(
        7,
        "human needed",
        "endpoint Failed / UpdateRollbackFailed / Deleting / missing, a variant missing, alarms "
        "unreadable, an alarm missing, a baseline alarm in ALARM",
        "hold and notify a human (once per *kind* of reason)",
        _hold_for_human,
    ),
    Rule(
        8,
        "wait",
        "a gate alarm in INSUFFICIENT_DATA, low traffic (sample alarm not OK), endpoint updating",
        "hold (back off)",
        _hold_waiting,
    ),
    Rule(
        9,
        "reconcile",
        "live weights differ from the step's",
        "put the step's weights back",
        _reconcile,
    ),
    Rule(10, "paused", "paused", "hold", _hold_paused),
    Rule(11, "baking", "evidence time short of the step's bake", "hold", _hold_baking),
    Rule(12, "complete", "last step baked", "completed, notify", _complete),
    Rule(
        13,
        "advance",
        "otherwise, or `promote`",
        "one step forward (`promote --full`: to 100%)",
        _advance,
    ),
)
# Rows 7-13: what a pause or resume (row 6) is folded into.
_PROGRESS: tuple[Rule, ...] = RULES[6:]


def _evaluate(t: Tick, rules: tuple[Rule, ...]) -> tuple[Rule, Decision]:
    """The first rule that decides, and its decision (row 13 always decides)."""
    for rule in rules:
        decision = rule.decide(t)
        if decision is not None:
            return rule, decision
    raise AssertionError("the decision table ends with a rule that always applies")


def decision_table() -> str:
    """`RULES` as the markdown table the docstring and README.md print (`| # | sees | does |`)."""
    rows = [f"| {r.number} | {r.sees} | {r.does} |" for r in RULES]
    return "\n".join(["| # | what it sees | what it does |", "|---|---|---|", *rows])


def apply(state: RolloutState, decision: Decision, now: float) -> RolloutState:
    """The state after `decision` at `now`. Pure.

    Invariant: the version is bumped (by one) exactly when something changed or the decision sets
    weights (every weights call is recorded), and always when the state was never stored
    (version 0), so the shell writes iff the version moved.
    """
    consumed = _consumed(decision)
    if consumed is None:
        last_intent_id, refused = state.last_intent_id, state.intent_refused
    else:
        last_intent_id, refused = consumed, decision.refused
    match decision:
        case Advance(step_index=target):
            new = replace(
                state,
                status="in_progress",
                step_index=target,
                step_started_at=now,
                insufficient_since=None,
                missing_seconds=0.0,
                missing_alarm=None,
                evidence_since=now,
                stuck_kind=None,
            )
        case Hold():
            c = state.clocks if decision.clocks is None else decision.clocks
            new = replace(
                state,
                status=state.status if decision.status is None else decision.status,
                evidence_since=c.evidence_since,
                insufficient_since=c.insufficient_since,
                missing_seconds=c.missing_seconds,
                missing_alarm=c.missing_alarm,
                stuck_kind=decision.stuck_kind if decision.stuck else None,
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
                stuck_kind=None,
            )
        case Complete():
            new = replace(
                state,
                status="completed",
                completed_at=now if state.status != "completed" else state.completed_at,
                insufficient_since=None,
                missing_seconds=0.0,
                missing_alarm=None,
                evidence_since=None,
                stuck_kind=None,
            )
        case Reconcile() if state.status in TERMINAL:
            new = replace(state, stuck_kind=None)  # terminal weights re-applied: no clocks
        case Reconcile():
            new = replace(
                state,
                status=state.status if decision.status is None else decision.status,
                evidence_since=now,
                insufficient_since=None,
                missing_seconds=0.0,
                missing_alarm=None,
                stuck_kind=None,
            )
        case _:
            assert_never(decision)
    new = replace(new, last_intent_id=last_intent_id, intent_refused=refused)
    if new == state and state.version > 0 and changes_weights(decision) is None:
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


@dataclass(frozen=True, slots=True)
class LastRecord:
    """What recovery reads from the rollout's history (newest rows): the newest version, its
    status and step, and the newest rollback row's alarm, reason and time (if any)."""

    version: int
    status: RolloutStatus
    step_index: int
    rollback_alarm: str | None = None
    rollback_reason: str | None = None
    rollback_at: float | None = None


def recover_state(
    spec: RolloutSpec, last: LastRecord, endpoint: EndpointView, now: float, why: str
) -> tuple[RolloutState, str]:
    """Re-derive a lost, stale or malformed state item from the history and the live weights.

    Returns the state to store as version `last.version + 1` (clocks restarted: the bake starts
    over, the safe side) and the reason to record. The step is the one whose percentage matches the
    live candidate share (the nearest such step to the history's), else the history's step. A
    terminal status in the history stands; a rollback in the history with the candidate still
    serving becomes a pending rollback (a decided rollback persists until applied). Pure.
    """
    last_index = min(max(last.step_index, 0), len(spec.steps) - 1)
    live = candidate_share(spec, endpoint)
    matches = [
        i
        for i, s in enumerate(spec.steps)
        if live is not None and abs(s.candidate_percent - live) <= WEIGHT_TOLERANCE
    ]
    step = min(matches, key=lambda i: abs(i - last_index)) if matches else last_index
    status: RolloutStatus = last.status if last.status in (*TERMINAL, "paused") else "in_progress"
    rolled_back = status == "rolled_back"
    pending = rolled_back and live is not None and live > 0
    state = RolloutState(
        status=status,
        step_index=step,
        step_started_at=now,
        version=last.version,
        pending_rollback=pending,
        rollback_alarm=last.rollback_alarm if rolled_back else None,
        rollback_reason=(last.rollback_reason or "rolled back") if rolled_back else None,
        rollback_at=(now if last.rollback_at is None else last.rollback_at)
        if rolled_back
        else None,
    )
    source = "live weights" if matches else f"history (live share {_pct(live)} matches no step)"
    reason = (
        f"recovered: {why}; step {step + 1} ({spec.steps[step].candidate_percent}%) from {source}, "
        f"status {status} from history version {last.version}"
        + ("; rollback not yet applied: pending" if pending else "")
    )
    return state, reason


def _sample(spec: RolloutSpec) -> tuple[str, ...]:
    return () if spec.sample_alarm is None else (spec.sample_alarm,)


def _baseline_alarming(spec: RolloutSpec, alarms: AlarmView) -> str | None:
    if alarms.unreadable is not None:
        return None
    return next((n for n in spec.baseline_alarms if alarms.get(n) == "ALARM"), None)


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


def _stuck(state: RolloutState, reason: str, what: str, clocks: Clocks) -> Hold:
    """A hold that needs a human: notify once per kind of reason (`what`), never per wording."""
    return Hold(reason, clocks=clocks, stuck=True, stuck_kind=what, notify=state.stuck_kind != what)


def _rollback_wanted(
    spec: RolloutSpec,
    state: RolloutState,
    alarms: AlarmView,
    endpoint: EndpointView,
    intent: Intent | None,
    clocks: Clocks,
    now: float,
) -> tuple[str, str | None, bool] | None:
    """(reason, alarm, automatic) when the rollout must go back to candidate 0, else None.

    Alarms are checked before the weights: a candidate found at 0% while its alarm is in ALARM was
    rolled back by us (a crash lost the record), and the alarm is what `pulumi up` must name.
    A candidate found at 0% with no alarm was put there by a lost rollback or by an operator:
    either way it is recorded as rolled back, never reconciled back up. `automatic` is False for
    a pending rollback and an abort (decided already / by a human).
    """
    if state.pending_rollback:
        return (f"retrying pending rollback: {state.rollback_reason}", state.rollback_alarm, False)
    if intent is not None and intent.kind == "abort":
        return (f"aborted by {intent.who}: {intent.reason}", None, False)
    if alarms.unreadable is None:
        for name in spec.gate_alarms:
            if alarms.get(name) == "ALARM":
                return (f"alarm {name} is ALARM", name, True)
        missing = missing_total(clocks, now)
        if missing > spec.insufficient_data_limit_seconds:
            # An open spell names its alarm; a spell that closed this tick names the one it was.
            name = next((n for n in spec.gate_alarms if alarms.get(n) == "INSUFFICIENT_DATA"), None)
            spell = "" if name is not None else " (the spell has ended; the limit was crossed)"
            name = clocks.missing_alarm if name is None else name
            return (
                f"alarm {name or 'a gate'} INSUFFICIENT_DATA: {missing:.0f}s missing this step "
                f"> limit {spec.insufficient_data_limit_seconds}s{spell}",
                name,
                True,
            )
    if candidate_zeroed(spec, state, endpoint):
        if alarms.fired:
            name, at = alarms.fired[0]
            return (
                f"candidate found at 0% after alarm {name} went ALARM at "
                f"{time.strftime('%H:%M:%S', time.gmtime(at))} UTC this step (alarm history): "
                "a rollback whose record was lost; kept rolled back",
                name,
                False,
            )
        return ("candidate found at 0% outside the controller: kept rolled back", None, False)
    return None


def candidate_zeroed(spec: RolloutSpec, state: RolloutState, endpoint: EndpointView) -> bool:
    """True when a rollout still running finds its candidate at weight 0 while its step says
    more: the one case in which the shell reads the gates' alarm history (`AlarmView.fired`)."""
    return (
        state.status not in TERMINAL
        and not state.pending_rollback
        and endpoint.status not in BROKEN
        and endpoint.weight(spec.candidate_variant) == 0.0
        and candidate_share(spec, endpoint) == 0.0
        and spec.steps[state.step_index].candidate_percent > 0
    )


def _drifted(spec: RolloutSpec, endpoint: EndpointView, step_index: int) -> bool:
    live = candidate_share(spec, endpoint)
    if live is None:
        return True
    return abs(live - spec.steps[step_index].candidate_percent) > WEIGHT_TOLERANCE


def _pct(share: float | None) -> str:
    return "unknown (nothing serves)" if share is None else f"{share:g}%"
