"""The canary hook Lambda: read state -> decide() -> act -> record, once per invocation.

Triggers: the one-minute EventBridge schedule, and "CloudWatch Alarm State Change" events
(source aws.cloudwatch) for the rollout's alarms, which roll back within the same invocation.
Environment (read in `handler` only): ROLLOUT_SPEC (RolloutSpec JSON), STATE_TABLE, TOPIC_ARN.

A steady-state tick costs three API calls (DescribeEndpoint, DescribeAlarms, GetItem): holds
that change nothing write nothing, and metrics go out as an Embedded Metric Format log line. Only a
tick that finds no state item also queries the history (a rollout's first tick, or a lost item).

A finished rollout (rolled back or completed) still holds the endpoint to its terminal weights:
every tick compares the live share with it and re-applies and records it when something moved them
(a weights call that landed late, a racing operator command or alarm invocation, a hand edit).

Order of effects, and what each failure leaves behind:
- A rollback sets the weights first (safety before bookkeeping) and then records. If the weights
  call fails for any reason (mid-update, throttled past botocore's retries, 5xx, timeout, denied)
  the rollback is recorded as *pending* and retried first on every later tick, whatever the alarms
  do meanwhile. If the state write fails after the weights were set, the invocation raises so an
  alarm event is redelivered by Lambda's asynchronous retries; the next tick finds the candidate at
  0% and records the rollback with its alarm: the one in ALARM now, or, when it has cleared since,
  the gate whose ALARM transition DescribeAlarmHistory shows since the step began.
- An advance or reconcile records first (conditional on the version read) and then sets the
  weights, so a racing or duplicate invocation that loses the write never touches the endpoint,
  and a crash after the write is repaired by the next tick's reconcile.
- Notifications go through an outbox on the state item: a notice is stored with the decision that
  causes it, published after the write, and cleared by a following write ("notify" history row). A
  failed Publish leaves it pending; every later tick retries it (delivery is at least once).
- A missing, stale or malformed state item is re-derived from the live weights and the history
  (`recover_state`), recorded as a "recover" history row and notified; a conditional write that
  fails while the stored version is still the one read (the state is behind its own history) is
  recovered the same way, so a conflict never repeats silently.
- DescribeEndpoint or GetItem failing raises out of the invocation: nothing was decided, nothing
  changes, the next tick (or the redelivered event) decides again.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from sagemaker_rollouts.lambdas.aws_adapter import (
    Clients,
    emf_line,
    make_clients,
    notify,
    read_alarm_history,
    read_alarms,
    read_endpoint_and_instances,
    set_instances,
    set_weights,
)
from sagemaker_rollouts.lambdas.controller import (
    Advance,
    AlarmStateValue,
    AlarmView,
    Complete,
    Decision,
    EndpointView,
    Hold,
    LastRecord,
    Notice,
    Reconcile,
    Rollback,
    RolloutState,
    apply,
    candidate_share,
    candidate_zeroed,
    changes_weights,
    decide,
    initial_state,
    kind,
    recover_state,
    watched_alarms,
)
from sagemaker_rollouts.lambdas.rollout import RolloutSpec
from sagemaker_rollouts.lambdas.scale_down import MIN_INSTANCES, scale_down_target
from sagemaker_rollouts.lambdas.store import (
    HistoryRow,
    MalformedState,
    last_record,
    read_history,
    read_state,
    write_state,
)

ALARM_EVENT = "CloudWatch Alarm State Change"
MAX_OUTBOX = 20  # oldest pending notices are dropped beyond this (SNS down for a long time)
_ATTEMPTS = 3  # decide-and-record attempts per invocation when a write loses a race

_clients: Clients | None = None


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Lambda entry point: the only place that reads the environment and the clock."""
    global _clients
    if _clients is None:
        _clients = make_clients()
    return run(event, os.environ, _clients, time.time())


class RollbackNotRecorded(RuntimeError):
    """The rollback's weights call succeeded but its state write failed: the invocation fails so
    an alarm event is redelivered; the next tick records it (the alarm is checked first)."""


def run(
    event: Mapping[str, Any],
    env: Mapping[str, str],
    clients: Clients,
    now: float,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """One controller tick at time `now`; returns the decision taken, as data.

    Invariants: at most one step per stored version (writes are conditional); a rollback once
    decided is either applied or stored as pending, whatever the weights call does; a lost or
    stale state item is recovered and notified, never spun on. Raises when DescribeEndpoint or
    GetItem fail (nothing decided), and RollbackNotRecorded (see its docstring).
    """
    spec = RolloutSpec.from_json(env["ROLLOUT_SPEC"])
    table = env["STATE_TABLE"]
    topic = env.get("TOPIC_ARN") or None

    endpoint, instances = read_endpoint_and_instances(clients.sagemaker, spec.endpoint_name)
    alarms = _with_event(spec, read_alarms(clients.cloudwatch, watched_alarms(spec)), event)
    state, recovered = _load(clients, table, spec, endpoint, topic, now)
    alarms = _with_history(clients, spec, state, alarms, endpoint, now)

    applied = False
    conflict = False
    decision: Decision = Hold("not decided")
    weights: tuple[tuple[str, float], ...] | None = None
    new = state
    for _ in range(_ATTEMPTS):
        decision = decide(spec, state, alarms, endpoint, state.intent, now)
        weights = changes_weights(decision)
        applied = False
        if isinstance(decision, Rollback) and weights is not None:
            error = _try_set_weights(clients, spec, weights)
            applied = error is None
            if applied:
                # What the endpoint now serves: a re-decision after a lost race must see it.
                endpoint = EndpointView.of(endpoint.status, dict(weights))
            else:
                decision = replace(decision, deferred=True, reason=f"{decision.reason}; {error}")
        new = _with_notice(apply(state, decision, now), spec, state, decision, applied, topic, now)
        if new.version == state.version:
            conflict = False
            break
        try:
            conflict = not _record(clients, table, spec, state, new, decision, now)
        except Exception as err:
            if isinstance(decision, Rollback) and applied:
                _notify_direct(clients, topic, spec, decision, f"state write failed: {err}", now)
                raise RollbackNotRecorded(
                    f"rollback applied to {spec.endpoint_name} but not recorded: {err}"
                ) from err
            raise
        if not conflict:
            break
        # Lost the race: re-read. Someone else moved (a duplicate event, an operator): decide
        # again on their state. The stored version did not move: our state is behind its own
        # history (restored, edited): recover it.
        state, again = _after_conflict(clients, table, spec, state, endpoint, topic, now)
        recovered = recovered or again
        if not isinstance(decision, Rollback) and not again:
            break  # an advance/reconcile that lost the race is the winner's to make

    if not conflict and weights is not None and not isinstance(decision, Rollback):
        applied = _set_after_record(clients, spec, weights)
    result_state = state if conflict else new
    sent, result_state = _flush_outbox(clients, table, spec, result_state, topic, now)

    scaled_down = None
    if result_state.status == "completed" and not conflict:
        scaled_down = _scale_down_stable(clients, table, spec, result_state, instances, now)

    live = candidate_share(spec, endpoint)
    percent = _weights_percent(spec, weights) if applied and weights is not None else live
    result: dict[str, Any] = {
        "rollout_id": spec.rollout_id,
        "decision": kind(decision),
        "reason": decision.reason,
        "status": result_state.status,
        "step_index": result_state.step_index,
        "candidate_percent": percent,
        "version": result_state.version,
        "weights_applied": applied,
        "conflict": conflict,
        "notified": sent > 0,
        "notices_pending": len(result_state.outbox),
        "recovered": recovered,
        "intent_refused": result_state.intent_refused,
        "scaled_down": scaled_down,
        "now": now,
    }
    metrics: dict[str, float] = {"Step": float(result_state.step_index)}
    if percent is not None:
        metrics["CandidateWeight"] = float(percent)
    log(emf_line(spec.metric_namespace, spec.endpoint_name, metrics, result, now))
    return result


def _with_history(
    clients: Clients,
    spec: RolloutSpec,
    state: RolloutState,
    alarms: AlarmView,
    endpoint: EndpointView,
    now: float,
) -> AlarmView:
    """`alarms` with the gates' ALARM transitions since the step began, read only when a running
    rollout finds its candidate at 0% and no gate is in ALARM now: our own rollback whose state
    write failed, with the alarm cleared since (the record must still name it)."""
    if not candidate_zeroed(spec, state, endpoint) or alarms.unreadable is not None:
        return alarms
    if any(alarms.get(n) == "ALARM" for n in spec.gate_alarms):
        return alarms
    fired = read_alarm_history(clients.cloudwatch, spec.gate_alarms, state.step_started_at, now)
    return replace(alarms, fired=fired)


def _scale_down_stable(
    clients: Clients,
    table: str,
    spec: RolloutSpec,
    state: RolloutState,
    instances: Mapping[str, int],
    now: float,
) -> int | None:
    """After completion and `scale_down_delay_seconds`, scale the idle stable variant (weight 0)
    to its minimum (lambdas/scale_down.py). Returns the count set, or None. A separate step
    after the controller's decision: the decision table itself is unchanged.

    Costs no read of its own: the instance count comes from the tick's DescribeEndpoint and the
    completion time from the state item; only an item stored before `completed_at` existed
    falls back to the history (while the fleet is still above its minimum)."""
    if spec.scale_down_delay_seconds is None:
        return None
    count = instances.get(spec.stable_variant)
    if count is None or count <= MIN_INSTANCES:
        return None
    completed_at = state.completed_at
    if completed_at is None:
        rows = read_history(clients.dynamodb, table, spec.rollout_id, 20)
        completed_at = next((r.at for r in rows if r.kind == "complete"), None)
    target = scale_down_target(
        delay_seconds=spec.scale_down_delay_seconds,
        completed_at=completed_at,
        now=now,
        stable_instances=count,
    )
    if target is None:
        return None
    return (
        target
        if set_instances(clients.sagemaker, spec.endpoint_name, spec.stable_variant, target)
        else None
    )


def _load(
    clients: Clients,
    table: str,
    spec: RolloutSpec,
    endpoint: EndpointView,
    topic: str | None,
    now: float,
) -> tuple[RolloutState, bool]:
    """The state to decide on, and whether it had to be recovered. A missing item with no
    history is a rollout's first tick; a missing item with history, or a malformed item, is
    recovered from the history and the live weights."""
    try:
        stored = read_state(clients.dynamodb, table, spec.rollout_id)
        broken: str | None = None
    except MalformedState as err:
        stored, broken = None, f"state item malformed ({err})"
    if stored is not None:
        return stored, False
    return _recover(
        clients,
        table,
        spec,
        endpoint,
        topic,
        now,
        broken or "state item missing",
        first=broken is None,
    )


def _after_conflict(
    clients: Clients,
    table: str,
    spec: RolloutSpec,
    old: RolloutState,
    endpoint: EndpointView,
    topic: str | None,
    now: float,
) -> tuple[RolloutState, bool]:
    try:
        stored = read_state(clients.dynamodb, table, spec.rollout_id)
    except MalformedState as err:
        return _recover(clients, table, spec, endpoint, topic, now, f"malformed ({err})")
    if stored is None:
        return _recover(clients, table, spec, endpoint, topic, now, "state item missing")
    if stored.version == old.version:
        return _recover(
            clients,
            table,
            spec,
            endpoint,
            topic,
            now,
            f"state item at version {old.version} is behind its history (write conflict)",
        )
    return stored, False


def _recover(
    clients: Clients,
    table: str,
    spec: RolloutSpec,
    endpoint: EndpointView,
    topic: str | None,
    now: float,
    why: str,
    *,
    first: bool = False,
) -> tuple[RolloutState, bool]:
    """Re-derive the state from history + live weights and store it with a "recover" row."""
    rows = read_history(clients.dynamodb, table, spec.rollout_id, limit=20)
    last = last_record(rows)
    if last is None:
        if first:
            return initial_state(spec, now), False  # the rollout's first tick
        last = LastRecord(version=0, status="in_progress", step_index=0)
    derived, reason = recover_state(spec, last, endpoint, now, why)
    new = replace(derived, version=last.version + 1)
    if topic is not None:
        new = replace(new, outbox=(_notice(spec, "state recovered", new, "recover", reason, now),))
    row = _row(spec, new, "recover", reason, None, None, now)
    if write_state(
        clients.dynamodb, table, spec.rollout_id, last.version, new, row, replace_any=True
    ):
        return new, True
    stored = read_state(clients.dynamodb, table, spec.rollout_id)  # someone else recovered first
    if stored is None:
        raise RuntimeError(f"state of {spec.rollout_id} vanished during recovery")
    return stored, True


def _try_set_weights(
    clients: Clients, spec: RolloutSpec, weights: tuple[tuple[str, float], ...]
) -> str | None:
    """The rollback's weights call; None when applied, else why not (never raises an AWS or
    network error: a decided rollback must be stored as pending whatever went wrong)."""
    try:
        if set_weights(clients.sagemaker, spec.endpoint_name, weights):
            return None
        return "endpoint update in progress, retry next tick"
    except Exception as err:  # ClientError, BotoCoreError (timeouts, connection), anything else
        return f"weights call failed ({_code(err)}), retry next tick"


def _code(err: BaseException) -> str:
    """An AWS error code when the error carries one (ClientError), else the exception's name."""
    response: Any = getattr(err, "response", None)
    if isinstance(response, Mapping):
        error: Any = response.get("Error") or {}  # type: ignore[union-attr]
        if isinstance(error, Mapping) and error.get("Code"):  # type: ignore[union-attr]
            return str(error.get("Code"))  # type: ignore[union-attr]
    return type(err).__name__


def _set_after_record(
    clients: Clients, spec: RolloutSpec, weights: tuple[tuple[str, float], ...]
) -> bool:
    """An advance/reconcile's weights call after its record. Any failure leaves the stored step
    standing; the next InService tick reconciles live weights to it."""
    try:
        return set_weights(clients.sagemaker, spec.endpoint_name, weights)
    except Exception:
        return False


def _with_event(spec: RolloutSpec, alarms: AlarmView, event: Mapping[str, Any]) -> AlarmView:
    """Trust an alarm event's ALARM for our gate and baseline alarms even if DescribeAlarms lags or
    failed."""
    if event.get("source") != "aws.cloudwatch" or event.get("detail-type") != ALARM_EVENT:
        return alarms
    detail: Mapping[str, Any] = event.get("detail") or {}
    name = detail.get("alarmName")
    state: Mapping[str, Any] = detail.get("state") or {}
    watched = (*spec.gate_alarms, *spec.baseline_alarms)
    if name not in watched or state.get("value") != "ALARM":
        return alarms
    if alarms.unreadable is not None and name in spec.baseline_alarms:
        return alarms
    states: dict[str, AlarmStateValue] = dict(alarms.states)
    states[str(name)] = "ALARM"
    return AlarmView.of(states)


def _weights_percent(spec: RolloutSpec, weights: tuple[tuple[str, float], ...]) -> float | None:
    total = sum(w for _, w in weights)
    cand = dict(weights).get(spec.candidate_variant)
    return None if cand is None or total <= 0 else 100.0 * cand / total


def _row(
    spec: RolloutSpec,
    new: RolloutState,
    row_kind: str,
    reason: str,
    alarm: str | None,
    who: str | None,
    now: float,
    percent: int | None = None,
) -> HistoryRow:
    return HistoryRow(
        version=new.version,
        at=now,
        kind=row_kind,
        reason=reason,
        status=new.status,
        step_index=new.step_index,
        candidate_percent=(
            spec.steps[new.step_index].candidate_percent if percent is None else percent
        ),
        alarm=alarm,
        who=who,
    )


def _record(
    clients: Clients,
    table: str,
    spec: RolloutSpec,
    old: RolloutState,
    new: RolloutState,
    decision: Decision,
    now: float,
) -> bool:
    rolled_back = isinstance(decision, Rollback) or new.status == "rolled_back"
    consumed = new.intent is not None and new.last_intent_id != old.last_intent_id
    row = _row(
        spec,
        new,
        kind(decision),
        decision.reason,
        decision.alarm if isinstance(decision, Rollback) else None,
        new.intent.who if consumed and new.intent is not None else None,
        now,
        percent=0 if rolled_back else None,
    )
    if consumed:
        outcome = "applied" if decision.refused is None else f"refused: {decision.refused}"
        row = replace(row, intent_outcome=outcome)
    return write_state(clients.dynamodb, table, spec.rollout_id, old.version, new, row)


def _subject(old: RolloutState, decision: Decision, applied: bool) -> str | None:
    """What a decision is worth telling a human, if anything: rollback (when decided, and when a
    pending one is finally applied), completion, the first tick a hold needs a human (once per
    kind of reason), and a refused intent."""
    match decision:
        case Rollback():
            if old.status != "rolled_back":
                return "rolled back"
            if old.pending_rollback and applied:
                return "rollback applied"
            if applied:
                return "rollback re-applied"  # a terminal rollout's weights had moved
            return None
        case Complete():
            return "completed"
        case Reconcile() if old.status == "completed":
            return "completion re-applied"
        case Hold(notify=True):
            return "stuck"
        case Advance() | Reconcile() | Hold():
            return "intent refused" if decision.refused is not None else None


def _with_notice(
    new: RolloutState,
    spec: RolloutSpec,
    old: RolloutState,
    decision: Decision,
    applied: bool,
    topic: str | None,
    now: float,
) -> RolloutState:
    """`new` with the decision's notification queued in its outbox (written with the decision)."""
    what = _subject(old, decision, applied)
    if what is None or topic is None or new.version == old.version:
        return new
    notice = _notice(spec, what, new, kind(decision), decision.reason, now)
    return replace(new, outbox=(*new.outbox, notice)[-MAX_OUTBOX:])


def _notice(
    spec: RolloutSpec, what: str, new: RolloutState, decided: str, reason: str, now: float
) -> Notice:
    body = {
        "rollout_id": spec.rollout_id,
        "endpoint": spec.endpoint_name,
        "decision": decided,
        "reason": reason,
        "status": new.status,
        "step_index": new.step_index,
        "alarm": new.rollback_alarm,
        "pending": new.pending_rollback,
        "at": now,
    }
    if new.status == "completed":
        delay = spec.scale_down_delay_seconds
        body["next"] = (
            f"{spec.candidate_variant} serves all traffic. The stable variant "
            f"{spec.stable_variant} stays at weight 0 with its fleet"
            + (
                " until the next `pulumi up`"
                if delay is None
                else f" for {delay} s (a fast way back), then is scaled to 1 instance"
            )
            + "; the next `pulumi up` removes it."
        )
    return Notice(
        subject=f"Canary {what}: {spec.endpoint_name}",
        message=json.dumps(body, sort_keys=True, default=str),
    )


def _flush_outbox(
    clients: Clients,
    table: str,
    spec: RolloutSpec,
    state: RolloutState,
    topic: str | None,
    now: float,
) -> tuple[int, RolloutState]:
    """Publish pending notices; clear the published ones with one write. Returns how many were
    published and the state after. A failed Publish stops the flush: the rest stay pending for the
    next tick; a failed clearing write leaves them all pending (sent again: at least once)."""
    if not state.outbox or topic is None:
        return 0, state
    sent = 0
    for notice in state.outbox:
        try:
            notify(clients.sns, topic, notice.subject, json.loads(notice.message))
        except Exception:
            break
        sent += 1
    if sent == 0:
        return 0, state
    cleared = replace(state, outbox=state.outbox[sent:], version=state.version + 1)
    subjects = "; ".join(n.subject for n in state.outbox[:sent])
    row = _row(
        spec,
        cleared,
        "notify",
        f"sent: {subjects}",
        None,
        None,
        now,
        percent=0 if cleared.status == "rolled_back" else None,
    )
    try:
        ok = write_state(clients.dynamodb, table, spec.rollout_id, state.version, cleared, row)
    except Exception:
        ok = False  # stays pending: sent again next tick (at least once)
    return sent, cleared if ok else state


def _notify_direct(
    clients: Clients,
    topic: str | None,
    spec: RolloutSpec,
    decision: Rollback,
    why: str,
    now: float,
) -> None:
    """Best effort, when the outbox itself cannot be written: tell a human at once."""
    with contextlib.suppress(Exception):
        notify(
            clients.sns,
            topic,
            f"Canary rolled back (not recorded): {spec.endpoint_name}",
            {
                "rollout_id": spec.rollout_id,
                "reason": decision.reason,
                "alarm": decision.alarm,
                "error": why,
                "at": now,
            },
        )
