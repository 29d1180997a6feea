"""The canary hook Lambda: read state -> decide() -> act -> record, once per invocation.

Triggers: the one-minute EventBridge schedule, and "CloudWatch Alarm State Change" events
(source aws.cloudwatch) for the rollout's alarms, which roll back within the same invocation.
Environment (read in `handler` only): ROLLOUT_SPEC (RolloutSpec JSON), STATE_TABLE, TOPIC_ARN.

A steady-state tick costs three API calls (DescribeEndpoint, DescribeAlarms, GetItem): holds
that change nothing write nothing, and metrics go out as an Embedded Metric Format log line.
Order of effects: a rollback sets the weights first (safety before bookkeeping) and then records;
an advance or reconcile records first (conditional on the version read) and then sets the
weights, so a racing or duplicate invocation that loses the write never touches the endpoint,
and a crash after the write is repaired by the next tick's reconcile.
"""

from __future__ import annotations

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
    read_alarms,
    read_endpoint,
    set_weights,
)
from sagemaker_rollouts.lambdas.store import HistoryRow, read_state, write_state
from sagemaker_rollouts.strategies.controller import (
    Advance,
    AlarmStateValue,
    AlarmView,
    Complete,
    Decision,
    Hold,
    Reconcile,
    Rollback,
    RolloutState,
    apply,
    candidate_share,
    changes_weights,
    decide,
    initial_state,
    kind,
)
from sagemaker_rollouts.strategies.rollout import RolloutSpec

ALARM_EVENT = "CloudWatch Alarm State Change"

_clients: Clients | None = None


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Lambda entry point: the only place that reads the environment and the clock."""
    global _clients
    if _clients is None:
        _clients = make_clients()
    return run(event, os.environ, _clients, time.time())


def run(
    event: Mapping[str, Any],
    env: Mapping[str, str],
    clients: Clients,
    now: float,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """One controller tick at time `now`; returns the decision taken, as data.

    Invariants: at most one step per stored version (writes are conditional); a rollback decided
    while the endpoint is mid-update is recorded as pending and retried on every later tick.
    """
    spec = RolloutSpec.from_json(env["ROLLOUT_SPEC"])
    table = env["STATE_TABLE"]
    topic = env.get("TOPIC_ARN")

    endpoint = read_endpoint(clients.sagemaker, spec.endpoint_name)
    names = (*spec.gate_alarms, *(() if spec.sample_alarm is None else (spec.sample_alarm,)))
    alarms = _with_event(spec, read_alarms(clients.cloudwatch, names), event)
    stored = read_state(clients.dynamodb, table, spec.rollout_id)
    state = initial_state(spec, now) if stored is None else stored

    decision = decide(spec, state, alarms, endpoint, state.intent, now)
    weights = changes_weights(decision)
    applied = False
    conflict = False

    if isinstance(decision, Rollback) and weights is not None:
        applied = set_weights(clients.sagemaker, spec.endpoint_name, weights)
        if not applied:
            decision = replace(
                decision,
                deferred=True,
                reason=f"{decision.reason}; endpoint update in progress, retry next tick",
            )
        new = apply(state, decision, now)
        if new.version != state.version:
            conflict = not _record(clients, table, spec, state, new, decision, now)
    else:
        new = apply(state, decision, now)
        if new.version != state.version:
            conflict = not _record(clients, table, spec, state, new, decision, now)
        if weights is not None and not conflict:
            applied = set_weights(clients.sagemaker, spec.endpoint_name, weights)
            # Not applied: the endpoint is mid-update; the stored step stands and the next tick
            # backs off until it is InService, then reconciles to it.

    result_state = state if conflict else new
    live = candidate_share(spec, endpoint)
    percent = _weights_percent(spec, weights) if applied and weights is not None else live
    notified = False
    if not conflict:
        notified = _maybe_notify(clients, topic, spec, state, result_state, decision, applied, now)

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
        "notified": notified,
        "now": now,
    }
    metrics: dict[str, float] = {"Step": float(result_state.step_index)}
    if percent is not None:
        metrics["CandidateWeight"] = float(percent)
    log(emf_line(spec.metric_namespace, spec.endpoint_name, metrics, result, now))
    return result


def _with_event(spec: RolloutSpec, alarms: AlarmView, event: Mapping[str, Any]) -> AlarmView:
    """Trust an alarm event's ALARM for our gate alarms even if DescribeAlarms lags or failed."""
    if event.get("source") != "aws.cloudwatch" or event.get("detail-type") != ALARM_EVENT:
        return alarms
    detail: Mapping[str, Any] = event.get("detail") or {}
    name = detail.get("alarmName")
    state: Mapping[str, Any] = detail.get("state") or {}
    if name not in spec.gate_alarms or state.get("value") != "ALARM":
        return alarms
    states: dict[str, AlarmStateValue] = dict(alarms.states)
    states[str(name)] = "ALARM"
    return AlarmView.of(states)


def _weights_percent(spec: RolloutSpec, weights: tuple[tuple[str, float], ...]) -> float | None:
    total = sum(w for _, w in weights)
    cand = dict(weights).get(spec.candidate_variant)
    return None if cand is None or total <= 0 else 100.0 * cand / total


def _record(
    clients: Clients,
    table: str,
    spec: RolloutSpec,
    old: RolloutState,
    new: RolloutState,
    decision: Decision,
    now: float,
) -> bool:
    row = HistoryRow(
        version=new.version,
        at=now,
        kind=kind(decision),
        reason=decision.reason,
        status=new.status,
        step_index=new.step_index,
        candidate_percent=_target_percent(spec, new, decision),
        alarm=decision.alarm if isinstance(decision, Rollback) else None,
        who=None
        if new.intent is None or new.last_intent_id == old.last_intent_id
        else new.intent.who,
    )
    return write_state(clients.dynamodb, table, spec.rollout_id, old.version, new, row)


def _target_percent(spec: RolloutSpec, state: RolloutState, decision: Decision) -> int:
    if isinstance(decision, Rollback):
        return 0
    return spec.steps[state.step_index].candidate_percent


def _maybe_notify(
    clients: Clients,
    topic: str | None,
    spec: RolloutSpec,
    old: RolloutState,
    new: RolloutState,
    decision: Decision,
    applied: bool,
    now: float,
) -> bool:
    """SNS on rollback (when decided, and when a deferred one is finally applied), completion,
    and the first tick a hold needs a human."""
    subject: str | None = None
    match decision:
        case Rollback():
            if old.status != "rolled_back":
                subject = f"Canary rolled back: {spec.endpoint_name}"
            elif old.pending_rollback and applied:
                subject = f"Canary rollback applied: {spec.endpoint_name}"
        case Complete():
            subject = f"Canary completed: {spec.endpoint_name}"
        case Hold(notify=True):
            subject = f"Canary stuck: {spec.endpoint_name}"
        case Advance() | Reconcile() | Hold():
            pass
    if subject is None:
        return False
    return notify(
        clients.sns,
        topic,
        subject,
        {
            "rollout_id": spec.rollout_id,
            "endpoint": spec.endpoint_name,
            "decision": kind(decision),
            "reason": decision.reason,
            "status": new.status,
            "step_index": new.step_index,
            "alarm": new.rollback_alarm,
            "pending": new.pending_rollback,
            "at": now,
        },
    )
