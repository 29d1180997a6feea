"""The rollout state table: one state item per rollout plus its append-only history.

Standard library + a boto3 DynamoDB *low-level* client passed in by the caller. Key schema:
`pk` = rollout id; `sk` = "STATE" for the state item, "HIST#<12-digit version>" for history rows.
Every state write is conditional on the version that was read and appends the history row of the
new version in the same TransactWriteItems, so a duplicate or concurrent writer cannot step twice
and the history has exactly one row per version.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sagemaker_rollouts.lambdas.controller import (
    INTENT_KINDS,
    Intent,
    IntentKind,
    LastRecord,
    Notice,
    RolloutState,
)
from sagemaker_rollouts.lambdas.rollout import RolloutOutcome, RolloutStatus

if TYPE_CHECKING:
    from dataclasses import dataclass
else:  # the same classes, no methods compiled at import (lambdas/records.py)
    from sagemaker_rollouts.lambdas.records import dataclass

STATE_SK = "STATE"
HIST_PREFIX = "HIST#"
_STATUSES: tuple[RolloutStatus, ...] = (
    "in_progress",
    "paused",
    "completed",
    "rolled_back",
    "failed",
)

Item = dict[str, Any]


class RolloutNotFound(LookupError):
    """No state item for this rollout yet (the hook has not run since it was deployed)."""


class MalformedState(ValueError):
    """The state item exists but cannot be read back (edited by hand, truncated, foreign)."""


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One row of a rollout's history: what was decided at `version`, and why."""

    version: int
    at: float
    kind: str  # advance | hold | rollback | complete | reconcile | intent | recover | notify
    reason: str
    status: str
    step_index: int
    candidate_percent: int
    alarm: str | None
    who: str | None
    # On a decision that consumed an operator intent: "applied", or "refused: <why>".
    intent_outcome: str | None = None


def create_state_table(dynamodb: Any, name: str) -> None:
    """The state table as the Pulumi program declares it: pk (rollout id) + sk ("STATE" or
    "HIST#<12-digit version>"), on demand. For rehearsals, tests and benchmarks against moto."""
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def history_sk(version: int) -> str:
    return f"{HIST_PREFIX}{version:012d}"


def state_to_item(rollout_id: str, state: RolloutState, candidate_percent: int) -> Item:
    """The DynamoDB item for `state` (absent attributes mean None)."""
    item: Item = {
        "pk": {"S": rollout_id},
        "sk": {"S": STATE_SK},
        "status": {"S": state.status},
        "step_index": {"N": str(state.step_index)},
        "step_started_at": {"N": repr(float(state.step_started_at))},
        "version": {"N": str(state.version)},
        "pending_rollback": {"BOOL": state.pending_rollback},
        "candidate_percent": {"N": str(candidate_percent)},
    }
    optional: dict[str, str | float | None] = {
        "insufficient_since": state.insufficient_since,
        "rollback_alarm": state.rollback_alarm,
        "rollback_reason": state.rollback_reason,
        "rollback_at": state.rollback_at,
        "last_intent_id": state.last_intent_id,
        "stuck_kind": state.stuck_kind,
        "evidence_since": state.evidence_since,
        "intent_refused": state.intent_refused,
        "missing_alarm": state.missing_alarm,
        "completed_at": state.completed_at,
    }
    for key, value in optional.items():
        if value is None:
            continue
        item[key] = {"S": value} if isinstance(value, str) else {"N": repr(float(value))}
    if state.missing_seconds:
        item["missing_seconds"] = {"N": repr(float(state.missing_seconds))}
    if state.intent is not None:
        item["intent"] = {"M": _intent_to_map(state.intent)}
    if state.outbox:
        item["outbox"] = {
            "L": [
                {"M": {"subject": {"S": n.subject}, "message": {"S": n.message}}}
                for n in state.outbox
            ]
        }
    return item


def item_to_state(item: Mapping[str, Any]) -> RolloutState:
    """Inverse of `state_to_item`. Raises MalformedState naming what is wrong."""
    try:
        return _item_to_state(item)
    except MalformedState:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise MalformedState(f"state item unreadable: {type(err).__name__}: {err}") from err


def _item_to_state(item: Mapping[str, Any]) -> RolloutState:
    status = _s(item, "status")
    if status not in _STATUSES:
        raise MalformedState(f"unknown rollout status {status!r} in state item")
    intent = item.get("intent")
    return RolloutState(
        status=status,
        step_index=int(_n(item, "step_index")),
        step_started_at=_n(item, "step_started_at"),
        version=int(_n(item, "version")),
        insufficient_since=_n_opt(item, "insufficient_since"),
        pending_rollback=bool(item.get("pending_rollback", {}).get("BOOL", False)),
        rollback_alarm=_s_opt(item, "rollback_alarm"),
        rollback_reason=_s_opt(item, "rollback_reason"),
        rollback_at=_n_opt(item, "rollback_at"),
        intent=None if intent is None else _map_to_intent(intent["M"]),
        last_intent_id=_s_opt(item, "last_intent_id"),
        stuck_kind=_s_opt(item, "stuck_kind"),
        evidence_since=_n_opt(item, "evidence_since"),
        missing_seconds=_n_opt(item, "missing_seconds") or 0.0,
        intent_refused=_s_opt(item, "intent_refused"),
        missing_alarm=_s_opt(item, "missing_alarm"),
        completed_at=_n_opt(item, "completed_at"),
        outbox=tuple(
            Notice(subject=_s(n["M"], "subject"), message=_s(n["M"], "message"))
            for n in item.get("outbox", {}).get("L", [])
        ),
    )


def read_state(dynamodb: Any, table: str, rollout_id: str) -> RolloutState | None:
    """The stored state (strongly consistent read), or None if the rollout has no item yet.
    Raises MalformedState when the item exists but cannot be read."""
    item = _get_state_item(dynamodb, table, rollout_id)
    return None if item is None else item_to_state(item)


def _get_state_item(dynamodb: Any, table: str, rollout_id: str) -> Item | None:
    resp = dynamodb.get_item(
        TableName=table,
        Key={"pk": {"S": rollout_id}, "sk": {"S": STATE_SK}},
        ConsistentRead=True,
    )
    return resp.get("Item")


def write_state(
    dynamodb: Any,
    table: str,
    rollout_id: str,
    expected_version: int,
    state: RolloutState,
    history: HistoryRow,
    *,
    replace_any: bool = False,
) -> bool:
    """Store `state` iff the stored version is still `expected_version` (0: no item yet), and
    append `history` in the same transaction. False when someone else wrote first.

    `replace_any` (recovery of a missing, stale or malformed item): overwrite whatever state item
    is there; the history row's own condition (no row for this version yet) keeps two recoverers,
    or a recoverer and a normal writer, from both succeeding."""
    if state.version != expected_version + 1 or history.version != state.version:
        raise ValueError("a write must bump the version by exactly one")
    if replace_any:
        condition: dict[str, Any] = {}
    elif expected_version == 0:
        condition = {"ConditionExpression": "attribute_not_exists(pk)"}
    else:
        condition = {
            "ConditionExpression": "#v = :expected",
            "ExpressionAttributeNames": {"#v": "version"},
            "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
        }
    put_state = {
        "TableName": table,
        "Item": state_to_item(rollout_id, state, history.candidate_percent),
        **condition,
    }
    put_history = {
        "TableName": table,
        "Item": _history_item(rollout_id, history),
        "ConditionExpression": "attribute_not_exists(sk)",
    }
    try:
        dynamodb.transact_write_items(
            TransactItems=[{"Put": put_state}, {"Put": put_history}],
        )
    except dynamodb.exceptions.TransactionCanceledException as err:
        if _conditional_failure(err):
            return False
        raise
    return True


def record_intent(
    dynamodb: Any,
    table: str,
    rollout_id: str,
    kind: IntentKind,
    who: str,
    reason: str,
    now: float,
    intent_id: str | None = None,
) -> Intent:
    """Record an operator intent on the state item (bumping its version, with a history row).

    The next decision consumes it at most once. Raises RolloutNotFound when the rollout has no
    state item yet and ValueError for an unknown kind; retries a few times on a racing writer.
    """
    if kind not in INTENT_KINDS:
        raise ValueError(f"intent must be one of {', '.join(INTENT_KINDS)}, got {kind!r}")
    intent = Intent(
        kind=kind, who=who, at=now, reason=reason, id=intent_id or uuid.uuid4().hex[:16]
    )
    for _ in range(5):
        item = _get_state_item(dynamodb, table, rollout_id)
        if item is None:
            raise RolloutNotFound(f"no rollout state for {rollout_id} in table {table}")
        state = item_to_state(item)
        new = replace(state, intent=intent, version=state.version + 1)
        row = HistoryRow(
            version=new.version,
            at=now,
            kind="intent",
            reason=f"{kind}: {reason}",
            status=state.status,
            step_index=state.step_index,
            candidate_percent=int(_n(item, "candidate_percent")),
            alarm=None,
            who=who,
        )
        if write_state(dynamodb, table, rollout_id, state.version, new, row):
            return intent
    raise RuntimeError(f"could not record intent on {rollout_id}: too many concurrent writers")


def read_history(dynamodb: Any, table: str, rollout_id: str, limit: int = 20) -> list[HistoryRow]:
    """The newest `limit` history rows, newest first."""
    resp = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :hist)",
        ExpressionAttributeValues={":pk": {"S": rollout_id}, ":hist": {"S": HIST_PREFIX}},
        ScanIndexForward=False,
        Limit=limit,
        ConsistentRead=True,
    )
    return [_item_to_history(i) for i in resp.get("Items", [])]


def last_record(rows: list[HistoryRow]) -> LastRecord | None:
    """What recovery needs from the newest history rows (newest first), or None if there are none:
    the newest version, status and step, and the newest rollback row's alarm, reason and time."""
    if not rows:
        return None
    newest = rows[0]
    status = newest.status if newest.status in _STATUSES else "in_progress"
    rollback = next((r for r in rows if r.kind == "rollback"), None)
    return LastRecord(
        version=newest.version,
        status=status,  # type: ignore[arg-type]
        step_index=newest.step_index,
        rollback_alarm=None if rollback is None else rollback.alarm,
        rollback_reason=None if rollback is None else rollback.reason,
        rollback_at=None if rollback is None else rollback.at,
    )


def read_outcome(dynamodb: Any, table_name: str, rollout_id: str) -> RolloutOutcome | None:
    """What deploy-time awareness needs: None when the table or the rollout's item is missing."""
    try:
        state = read_state(dynamodb, table_name, rollout_id)
    except dynamodb.exceptions.ResourceNotFoundException:
        return None
    return None if state is None else _outcome(rollout_id, state)


class UnreadKeys(RuntimeError):
    """BatchGetItem still left keys unprocessed after `read_outcomes`' last round (throttling)."""


BATCH_GET_LIMIT = 100  # keys per BatchGetItem request (DynamoDB API reference, BatchGetItem)
_BATCH_ATTEMPTS = 8


def read_outcomes(
    dynamodb: Any, table_name: str, rollout_ids: list[str]
) -> dict[str, RolloutOutcome]:
    """`read_outcome` for many rollouts at once: one BatchGetItem per 100 ids (strongly
    consistent), so deploy-time awareness costs the same one call for 1 or 100 canary endpoints.

    Keys DynamoDB leaves unprocessed (throttling, the 16 MB response limit) are asked again, at
    most 8 rounds, then this raises `UnreadKeys`: a check that cannot read must not deploy blind. A missing
    table (the first `up`) is no outcome for anyone. Raises MalformedState like `read_state`.
    """
    found: dict[str, RolloutOutcome] = {}
    wanted = list(dict.fromkeys(rollout_ids))
    for start in range(0, len(wanted), BATCH_GET_LIMIT):
        keys: list[Item] = [
            {"pk": {"S": rid}, "sk": {"S": STATE_SK}}
            for rid in wanted[start : start + BATCH_GET_LIMIT]
        ]
        for attempt in range(_BATCH_ATTEMPTS):
            if attempt:  # AWS: retry unprocessed keys with exponential backoff
                time.sleep(min(0.05 * 2**attempt, 2.0))
            request = {table_name: {"Keys": keys, "ConsistentRead": True}}
            try:
                resp = dynamodb.batch_get_item(RequestItems=request)
            except dynamodb.exceptions.ResourceNotFoundException:
                return {}
            for item in resp.get("Responses", {}).get(table_name, []):
                rid = _s(item, "pk")
                found[rid] = _outcome(rid, item_to_state(item))
            keys = resp.get("UnprocessedKeys", {}).get(table_name, {}).get("Keys", [])
            if not keys:
                break
        else:
            raise UnreadKeys(
                f"{table_name}: BatchGetItem left {len(keys)} keys unprocessed after "
                f"{_BATCH_ATTEMPTS} rounds"
            )
    return found


def _outcome(rollout_id: str, state: RolloutState) -> RolloutOutcome:
    if state.status == "rolled_back":
        return RolloutOutcome(
            rollout_id=rollout_id,
            status=state.status,
            alarm=state.rollback_alarm,
            at=state.rollback_at,
            reason=state.rollback_reason or "rolled back",
        )
    return RolloutOutcome(
        rollout_id=rollout_id,
        status=state.status,
        alarm=None,
        at=None,
        reason=f"{state.status} at step {state.step_index + 1}",
    )


def _conditional_failure(err: Exception) -> bool:
    response: Mapping[str, Any] = getattr(err, "response", {})
    reasons: list[Mapping[str, Any]] = response.get("CancellationReasons") or []
    if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
        return True
    return "ConditionalCheckFailed" in str(err)


def _history_item(rollout_id: str, row: HistoryRow) -> Item:
    item: Item = {
        "pk": {"S": rollout_id},
        "sk": {"S": history_sk(row.version)},
        "version": {"N": str(row.version)},
        "at": {"N": repr(float(row.at))},
        "kind": {"S": row.kind},
        "reason": {"S": row.reason},
        "status": {"S": row.status},
        "step_index": {"N": str(row.step_index)},
        "candidate_percent": {"N": str(row.candidate_percent)},
    }
    if row.alarm is not None:
        item["alarm"] = {"S": row.alarm}
    if row.who is not None:
        item["who"] = {"S": row.who}
    if row.intent_outcome is not None:
        item["intent_outcome"] = {"S": row.intent_outcome}
    return item


def _item_to_history(item: Mapping[str, Any]) -> HistoryRow:
    return HistoryRow(
        version=int(_n(item, "version")),
        at=_n(item, "at"),
        kind=_s(item, "kind"),
        reason=_s(item, "reason"),
        status=_s(item, "status"),
        step_index=int(_n(item, "step_index")),
        candidate_percent=int(_n(item, "candidate_percent")),
        alarm=_s_opt(item, "alarm"),
        who=_s_opt(item, "who"),
        intent_outcome=_s_opt(item, "intent_outcome"),
    )


def read_endpoint_history(
    dynamodb: Any, table: str, endpoint_name: str, limit: int = 1000
) -> dict[str, list[HistoryRow]]:
    """Every rollout of one endpoint recorded in the table (rollout ids start with
    "<endpoint>/"), each with its history rows oldest first. One paginated Scan (the state
    table holds one stack's rollouts: small); stops after `limit` rows in all."""
    found: dict[str, list[HistoryRow]] = {}
    kwargs: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "begins_with(pk, :ep) AND begins_with(sk, :hist)",
        "ExpressionAttributeValues": {
            ":ep": {"S": f"{endpoint_name}/"},
            ":hist": {"S": HIST_PREFIX},
        },
        "ConsistentRead": True,
    }
    total = 0
    while total < limit:
        resp = dynamodb.scan(**kwargs)
        for item in resp.get("Items", []):
            found.setdefault(str(item["pk"]["S"]), []).append(_item_to_history(item))
            total += 1
        token = resp.get("LastEvaluatedKey")
        if not token:
            break
        kwargs["ExclusiveStartKey"] = token
    return {k: sorted(v, key=lambda r: r.version) for k, v in found.items()}


def _intent_to_map(intent: Intent) -> Item:
    return {
        "kind": {"S": intent.kind},
        "who": {"S": intent.who},
        "at": {"N": repr(float(intent.at))},
        "reason": {"S": intent.reason},
        "id": {"S": intent.id},
    }


def _map_to_intent(m: Mapping[str, Any]) -> Intent:
    kind = _s(m, "kind")
    if kind not in INTENT_KINDS:
        raise ValueError(f"unknown intent kind {kind!r} in state item")
    return Intent(
        kind=kind,
        who=_s(m, "who"),
        at=_n(m, "at"),
        reason=_s(m, "reason"),
        id=_s(m, "id"),
    )


def _s(item: Mapping[str, Any], key: str) -> str:
    return str(item[key]["S"])


def _s_opt(item: Mapping[str, Any], key: str) -> str | None:
    value = item.get(key)
    return None if value is None else str(value["S"])


def _n(item: Mapping[str, Any], key: str) -> float:
    return float(item[key]["N"])


def _n_opt(item: Mapping[str, Any], key: str) -> float | None:
    value = item.get(key)
    return None if value is None else float(value["N"])
