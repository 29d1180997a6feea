"""`rollout history`: the audit trail of an endpoint's rollouts, as a table or JSON.

Sources, each read only:
- canary rollouts: every history row of every rollout of the endpoint in the stack's state table
  (decisions with their reasons and evidence, operator intents with who and why and whether the
  decision that consumed them applied or refused them, alarms named by rollbacks, recoveries and
  notifications);
- A/B tests: the evaluator's recorded evaluations (decision and per-variant evidence) and the
  recorded winner;
- every strategy: the endpoint's alarms' state changes from CloudWatch's alarm history
  (DescribeAlarmHistory keeps two weeks, per its API reference): gate alarms, drift alarms,
  blue/green and rolling auto-rollback alarms;
- blue/green and rolling: SageMaker keeps no history of a deployment's phases that the API returns,
  so the current phase from DescribeEndpoint (strategies/native.py) is the last row, and the
  rollback alarm's transitions above are what made SageMaker roll back.

Rows are ordered by time; steps are numbered from 1, as in every table.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from typing import Any

from rich.markup import escape

from sagemaker_rollouts.cli import render
from sagemaker_rollouts.cli.errors import EXIT_OK, UsageError
from sagemaker_rollouts.cli.target import Target, every_or_one, resolve
from sagemaker_rollouts.simulator.provision import AwsClients
from sagemaker_rollouts.strategies import native


@dataclass(frozen=True, slots=True)
class Entry:
    """One row of the audit trail. `step` is 1-based (None where no step applies)."""

    at: float
    source: str  # canary | ab | alarm | deployment
    kind: str
    reason: str
    rollout_id: str | None = None
    version: int | None = None
    status: str | None = None
    step: int | None = None
    candidate_percent: int | None = None
    who: str | None = None
    alarm: str | None = None
    intent: str | None = None  # an intent row: applied / refused: why / pending
    evidence: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "source": self.source,
            "rollout_id": self.rollout_id,
            "version": self.version,
            "kind": self.kind,
            "status": self.status,
            "step": self.step,
            "candidate_percent": self.candidate_percent,
            "who": self.who,
            "alarm": self.alarm,
            "intent": self.intent,
            "reason": self.reason,
            "evidence": self.evidence,
        }


@dataclass
class EndpointHistory:
    key: str
    endpoint_name: str
    strategy: str
    entries: list[Entry] = field(default_factory=list[Entry])
    rollouts: dict[str, str] = field(default_factory=dict[str, str])  # id -> newest status
    notes: list[str] = field(default_factory=list[str])

    def as_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.key,
            "endpoint_name": self.endpoint_name,
            "strategy": self.strategy,
            "rollouts": [{"rollout_id": k, "status": v} for k, v in self.rollouts.items()],
            "entries": [e.as_json() for e in self.entries],
            "notes": self.notes,
        }


def run(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise UsageError(f"--limit: must be at least 1, got {args.limit}")
    resolved, aws = resolve(args, select=every_or_one, clients=AwsClients.create)
    found = [collect(t, aws, time.time(), rollout=args.rollout) for t in resolved.targets]
    for h in found:
        h.entries = h.entries[-args.limit :]
    if args.json:
        render.print_json({"stack": resolved.stack, "endpoints": [h.as_json() for h in found]})
    else:
        print_history(found)
    return EXIT_OK


def collect(
    ep: Target,
    aws: Any,
    now: float,
    *,
    rollout: str | None = None,
) -> EndpointHistory:
    """Everything recorded about one endpoint's rollouts, oldest first (`ep`: however it was
    addressed, `cli/target.py`)."""
    history = EndpointHistory(ep.key, ep.endpoint_name, ep.strategy)
    if ep.state_table is not None:
        _canary_rows(ep.state_table, ep, aws, history, rollout)
        if ep.ab is not None:
            _ab_rows(ep.state_table, ep, aws, history)
    _alarm_rows(ep, aws, history, now)
    if ep.native:
        _phase_row(ep, aws, history, now)
    history.entries.sort(key=lambda e: (e.at, e.version or 0))
    return history


def _table_missing(err: Exception) -> bool:
    response: Any = getattr(err, "response", {})
    return response.get("Error", {}).get("Code") == "ResourceNotFoundException"


def _canary_rows(
    table: str, ep: Target, aws: Any, history: EndpointHistory, only: str | None
) -> None:
    from botocore.exceptions import ClientError

    from sagemaker_rollouts.lambdas import store

    try:
        rollouts = store.read_endpoint_history(aws.dynamodb, table, ep.endpoint_name)
    except ClientError as err:
        if not _table_missing(err):
            raise
        raise UsageError(
            f"state table {table} not found: is the stack deployed (pulumi up) in this account "
            "and region?"
        ) from None
    if only is not None:
        if only not in rollouts:
            known = ", ".join(sorted(rollouts)) or "none recorded"
            raise UsageError(f"--rollout {only}: not a rollout of {ep.key} (rollouts: {known})")
        rollouts = {only: rollouts[only]}
    for rollout_id, rows in rollouts.items():
        history.rollouts[rollout_id] = rows[-1].status if rows else "unknown"
        outcomes = _intent_outcomes(rows)
        for r in rows:
            history.entries.append(
                Entry(
                    at=r.at,
                    source="canary",
                    kind=r.kind,
                    reason=r.reason,
                    rollout_id=rollout_id,
                    version=r.version,
                    status=r.status,
                    step=r.step_index + 1,
                    candidate_percent=r.candidate_percent,
                    who=r.who,
                    alarm=r.alarm,
                    intent=outcomes.get(r.version, r.intent_outcome),
                )
            )


def _intent_outcomes(rows: list[Any]) -> dict[int, str]:
    """For each intent row (by version): what the decision that consumed it did ("applied",
    "refused: why"), or "pending" when no decision has consumed it yet."""
    out: dict[int, str] = {}
    for i, r in enumerate(rows):
        if r.kind != "intent":
            continue
        later = next(
            (x for x in rows[i + 1 :] if x.kind not in ("intent", "notify") and x.who == r.who),
            None,
        )
        newer_intent = any(x.kind == "intent" for x in rows[i + 1 :])
        if later is None:
            out[r.version] = "superseded" if newer_intent else "pending"
        elif later.intent_outcome is not None:
            out[r.version] = f"{later.intent_outcome} ({later.kind}, version {later.version})"
        else:
            refused = " refused: " in later.reason
            out[r.version] = (
                f"refused ({later.kind}, version {later.version})"
                if refused
                else f"applied ({later.kind}, version {later.version})"
            )
    return out


def _ab_rows(table: str, ep: Target, aws: Any, history: EndpointHistory) -> None:
    from botocore.exceptions import ClientError

    from sagemaker_rollouts.lambdas.ab_evaluator import read_evaluations, recorded_winner

    try:
        evaluations = read_evaluations(aws.dynamodb, table, ep.endpoint_name, limit=200)
        winner = recorded_winner(aws.dynamodb, table, ep.endpoint_name)
    except ClientError as err:
        if not _table_missing(err):
            raise
        return
    for data in evaluations:
        at = float(data.pop("at"))
        history.entries.append(
            Entry(
                at=at,
                source="ab",
                kind=f"ab-{data.get('decision', 'evaluation')}",
                reason=str(data.get("reason", "")),
                evidence=data,
            )
        )
    if winner is not None:
        history.notes.append(f"A/B winner recorded: {winner}")


def _alarm_rows(ep: Target, aws: Any, history: EndpointHistory, now: float) -> None:
    """State changes of the endpoint's alarms from CloudWatch's alarm history (two weeks)."""
    from datetime import UTC, datetime

    from botocore.exceptions import BotoCoreError, ClientError

    gates = {a.name for a in ep.alarms if a.gate}
    for alarm in ep.alarms:
        try:
            resp = aws.cloudwatch.describe_alarm_history(
                AlarmName=alarm.name,
                HistoryItemType="StateUpdate",
                StartDate=datetime.fromtimestamp(now - 14 * 86400, UTC),
                EndDate=datetime.fromtimestamp(now, UTC),
                ScanBy="TimestampDescending",
                MaxRecords=100,
            )
        except (ClientError, BotoCoreError) as err:
            history.notes.append(f"alarm history unavailable ({type(err).__name__}: {err})")
            return
        for item in resp.get("AlarmHistoryItems", []):
            try:
                data: Any = json.loads(str(item.get("HistoryData") or "{}"))
            except ValueError:
                data = {}
            new_state: Any = (data.get("newState") or {}).get("stateValue")
            old_state: Any = (data.get("oldState") or {}).get("stateValue")
            reason: Any = (data.get("newState") or {}).get("stateReason") or item.get(
                "HistorySummary", ""
            )
            stamp: Any = item.get("Timestamp")
            at = stamp.timestamp() if isinstance(stamp, datetime) else float(stamp or 0)
            role = "gate" if alarm.name in gates else "watch"
            history.entries.append(
                Entry(
                    at=at,
                    source="alarm",
                    kind=f"alarm {new_state or '?'}",
                    reason=f"{role} alarm {alarm.key}"
                    + (f" {old_state} -> {new_state}" if old_state else f" -> {new_state}")
                    + (f": {reason}" if reason else ""),
                    alarm=alarm.name,
                )
            )


def _phase_row(ep: Target, aws: Any, history: EndpointHistory, now: float) -> None:
    from botocore.exceptions import ClientError

    try:
        described = aws.sagemaker.describe_endpoint(EndpointName=ep.endpoint_name)
    except ClientError:
        history.notes.append(f"endpoint {ep.endpoint_name} not found: nothing deployed")
        return
    tags = aws.sagemaker.list_tags(ResourceArn=described["EndpointArn"]).get("Tags", [])
    live = native.LiveEndpoint.from_describe(
        described, {str(t["Key"]): str(t["Value"]) for t in tags}
    )
    view = native.phase(live)
    modified: Any = described.get("LastModifiedTime")
    at = modified.timestamp() if hasattr(modified, "timestamp") else now
    history.entries.append(
        Entry(
            at=at,
            source="deployment",
            kind=f"phase {view.phase}",
            reason=f"SageMaker deployment ({ep.strategy}): {view.reason} "
            "(current phase; SageMaker keeps no phase history)",
            status=view.verdict,
        )
    )


def print_history(found: list[EndpointHistory]) -> None:
    out = render.console()
    for h in found:
        rollouts = ", ".join(f"{k} ({v})" for k, v in h.rollouts.items()) or "none recorded"
        out.print(
            f"[bold]{escape(h.key)}[/]: endpoint {escape(h.endpoint_name)} ({h.strategy}); "
            f"rollouts: {escape(rollouts)}"
        )
        for note in h.notes:
            out.print(f"  [dim]{escape(note)}[/]")
        if not h.entries:
            out.print("  nothing recorded yet")
            continue
        several = len(h.rollouts) > 1
        header = [
            "  when (UTC)",
            *(["rollout"] if several else []),
            "kind",
            "step",
            "cand. %",
            "alarm",
            "who: what [intent outcome]",
        ]
        rows: list[list[str]] = []
        for e in h.entries:
            what = e.reason if e.intent is None else f"{e.reason} [{e.intent}]"
            rows.append(
                [
                    "  " + time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(e.at)),
                    *([_short(e.rollout_id) or "-"] if several else []),
                    e.kind,
                    "" if e.step is None else str(e.step),
                    "" if e.candidate_percent is None else str(e.candidate_percent),
                    e.alarm or "",
                    (f"{e.who}: " if e.who else "") + what,
                ]
            )
        for line in render.aligned(header, rows):
            out.print(escape(line))


def _short(rollout_id: str | None) -> str:
    """`endpoint/fingerprint/attempt` -> `fingerprint/attempt` (the endpoint is in the title)."""
    if rollout_id is None:
        return ""
    parts = rollout_id.split("/")
    return "/".join(parts[1:]) if len(parts) > 1 else rollout_id
