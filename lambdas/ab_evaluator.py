"""The A/B evaluator Lambda: read per-variant counts -> decide() -> record -> claim -> notify / promote.

Triggered by an EventBridge schedule (`strategy.ab.evaluate_every_minutes`). Environment (read in
`handler` only): AB_SPEC (EvaluatorSpec JSON), STATE_TABLE, TOPIC_ARN.

One test, one state item (`pk = "ab:<endpoint>"`, `sk = "STATE"`): it holds when the test
started, the fingerprint of the spec it runs (variants, weights, metrics, tau), the winner once
claimed, and an outbox of notices not yet published. Each run, in this order:

1. Opens the state item (`UpdateItem ... if_not_exists`, so a retried call changes nothing). The
   first run starts the test at the top of the hour one evaluation interval back; a run that finds
   another spec (a weight or metric changed, no winner yet) restarts it at the next full hour,
   since counts gathered under other weights are no evidence for these.
2. Sums `successes` and `trials` per serving variant from the test's start to now (GetMetricData,
   Sum, hourly periods, every page), capped at the horizon `window_hours`. Counts are cumulative:
   the sequential test (`lambdas.ab_winner`) is valid at every look only on them. A result
   whose `StatusCode` is not Complete after its last page (InternalError, Forbidden, PartialData
   with no NextToken), a call that fails, or a variant with trials but no `successes` datapoint
   at all is no count: the run decides nothing and says why ("metrics unreadable"), never
   reading a gap as zero conversions.
3. Appends the evidence to the history (`sk = "EVAL#<epoch seconds>"`; a retried PutItem writes
   the same item).
4. A winner not yet claimed is claimed with one conditional write (no winner yet) that also
   queues the notice in the outbox and, with `on_winner: promote`, marks the promotion pending,
   and records this run's id. A claim whose write landed but whose response was lost is retried by
   botocore and then fails its condition: the stored run id says it was ours, and the run carries
   on as the claimant. Once a winner is recorded, later runs only add evidence.
5. A pending promotion sets the weights (winner 1, every other variant 0); deferred while the
   endpoint is mid-update, or on an error, it stays pending and the next run tries again. Its
   completion is written with a second notice.
6. Publishes every notice in the outbox and removes each one published (`REMOVE outbox.<id>`).
   A failed Publish leaves it there for the next run: delivery is at least once, never lost.

A sample ratio mismatch (trials split against the weights) is noticed once per test. The function
has reserved concurrency 1, so runs never overlap; the conditions guard against retries.
"""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sagemaker_rollouts.lambdas.ab_winner import (
    Decision,
    EvaluatorSpec,
    MetricRef,
    NoDecision,
    Winner,
    arms_from_counts,
    decide,
    evidence,
    promoted_weights,
)
from sagemaker_rollouts.lambdas.aws_adapter import Clients, make_clients, notify, set_weights

STATE_SK = "STATE"
EVAL_PREFIX = "EVAL#"
PERIOD_SECONDS = 3600

_clients: Clients | None = None


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Lambda entry point: the only place that reads the environment and the clock."""
    global _clients
    if _clients is None:
        _clients = make_clients()
    run_id = str(getattr(context, "aws_request_id", "") or uuid.uuid4())
    return run(event, os.environ, _clients, time.time(), run_id=run_id)


def rollout_key(endpoint_name: str) -> str:
    """The history's partition key for an endpoint's A/B test."""
    return f"ab:{endpoint_name}"


class MetricsUnreadable(Exception):
    """GetMetricData could not give complete counts; the message says which and why."""


def _error_text(err: Exception) -> str:
    response: Mapping[str, Any] = getattr(err, "response", {})
    error: Mapping[str, Any] = response.get("Error", {})
    return f"{error.get('Code', type(err).__name__)}: {error.get('Message', str(err))}"


@dataclass(frozen=True, slots=True)
class Sums:
    """Per-variant sums and how many datapoints each had (0: the metric has no data there)."""

    values: dict[str, float]
    datapoints: dict[str, int] = field(default_factory=lambda: {})


def read_sums(
    cloudwatch: Any,
    ref: MetricRef,
    endpoint: str,
    variants: Sequence[str],
    start: datetime,
    end: datetime,
) -> Sums:
    """Sum of `ref` per variant over [start, end): one GetMetricData query per variant, hourly
    periods, all pages. A variant without datapoints sums to 0 (see `Sums.datapoints`).

    Raises MetricsUnreadable when a result's final StatusCode is not Complete (CloudWatch API:
    `MetricDataResult.StatusCode` is Complete | InternalError | PartialData | Forbidden;
    PartialData "means that an incomplete set of data points were returned. You can use the
    NextToken value ... to get more", InternalError: "Retry your request using NextToken, if
    present"), or when the call fails (throttled past botocore's retries, 5xx, AccessDenied, a
    network error)."""
    from botocore.exceptions import BotoCoreError, ClientError

    queries = [
        {
            "Id": f"v{i}",
            "MetricStat": {
                "Metric": {
                    "Namespace": ref.namespace,
                    "MetricName": ref.metric,
                    "Dimensions": ref.dims(endpoint, v),
                },
                "Period": PERIOD_SECONDS,
                "Stat": "Sum",
            },
            "ReturnData": True,
        }
        for i, v in enumerate(variants)
    ]
    sums = dict.fromkeys(variants, 0.0)
    points = dict.fromkeys(variants, 0)
    status = dict.fromkeys(variants, "Complete")
    messages: dict[str, str] = {}
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {
            "MetricDataQueries": queries,
            "StartTime": start,
            "EndTime": end,
        }
        if token is not None:
            kwargs["NextToken"] = token
        try:
            resp = cloudwatch.get_metric_data(**kwargs)
        except (ClientError, BotoCoreError) as err:
            raise MetricsUnreadable(f"GetMetricData {ref.metric}: {_error_text(err)}") from err
        for result in resp.get("MetricDataResults", []):
            variant = variants[int(str(result["Id"])[1:])]
            values: list[float] = [float(v) for v in result.get("Values", [])]
            sums[variant] += math.fsum(values)
            points[variant] += len(values)
            status[variant] = str(result.get("StatusCode", "Complete"))
            texts = [str(m.get("Value", "")) for m in result.get("Messages", [])]
            if texts:
                messages[variant] = "; ".join(texts)
        token = resp.get("NextToken")
        if not token:
            break
    broken = {v: s for v, s in status.items() if s != "Complete"}
    if broken:
        listed = ", ".join(
            f"{v} {s}" + (f" ({messages[v]})" if v in messages else "") for v, s in broken.items()
        )
        raise MetricsUnreadable(f"GetMetricData {ref.metric}: {listed}")
    return Sums(sums, points)


@dataclass(frozen=True, slots=True)
class TestWindow:
    """The counts' time range: from the test's start to now, capped at the horizon."""

    start: float
    end: float
    horizon: float

    @property
    def ended(self) -> bool:
        return self.end >= self.horizon


def window(spec: EvaluatorSpec, started_at: float, now: float) -> TestWindow:
    """[started_at, min(now, started_at + window_hours))."""
    horizon = started_at + spec.window_hours * 3600.0
    return TestWindow(started_at, min(now, horizon), horizon)


def evaluate(spec: EvaluatorSpec, cloudwatch: Any, now: float, started_at: float) -> Decision:
    """Read the counts of the test that started at `started_at` and decide (no side effects).
    Unreadable metrics are a NoDecision saying why."""
    w = window(spec, started_at, now)
    start = datetime.fromtimestamp(w.start, UTC)
    end = datetime.fromtimestamp(w.end, UTC)
    if w.end <= w.start:
        zero = arms_from_counts(spec.variants, {}, {})
        return NoDecision(zero, (), f"no counts yet: the test starts at {start:%Y-%m-%d %H:%M} UTC")
    try:
        trials = read_sums(cloudwatch, spec.trials, spec.endpoint_name, spec.variants, start, end)
        successes = read_sums(
            cloudwatch, spec.successes, spec.endpoint_name, spec.variants, start, end
        )
    except MetricsUnreadable as err:
        return NoDecision((), (), f"metrics unreadable, no decision: {err}")
    arms = arms_from_counts(spec.variants, successes.values, trials.values)
    silent = [
        a.variant
        for a in arms
        if a.trials >= spec.min_samples and successes.datapoints.get(a.variant, 0) == 0
    ]
    if silent:
        return NoDecision(
            arms,
            (),
            f"metrics unreadable, no decision: no {spec.successes.namespace}/"
            f"{spec.successes.metric} datapoint at all for {', '.join(silent)} over "
            f"{sum(a.trials for a in arms if a.variant in silent)} trials (is the metric "
            "published with this variant's dimensions?): a missing metric is not zero successes",
        )
    decision = decide(
        arms,
        min_samples=spec.min_samples,
        significance=spec.significance,
        tau=spec.tau,
        weights=spec.serving_weights,
        srm_alpha=spec.srm_alpha,
    )
    if w.ended and isinstance(decision, NoDecision):
        return NoDecision(
            decision.arms,
            decision.comparisons,
            f"test horizon reached ({spec.window_hours} h since its start) without a winner: "
            f"inconclusive; {decision.reason}",
            decision.sample_ratio,
        )
    return decision


# --------------------------------------------------------------------------- the state item


@dataclass(frozen=True, slots=True)
class Notice:
    id: str
    subject: str
    message: str  # JSON


@dataclass(frozen=True, slots=True)
class AbState:
    """The state item as read."""

    started_at: float
    fingerprint: str
    winner: str | None = None
    claim_id: str | None = None
    promote_pending: bool = False
    srm_noticed: bool = False
    outbox: tuple[Notice, ...] = ()


def _key(endpoint: str) -> dict[str, Any]:
    return {"pk": {"S": rollout_key(endpoint)}, "sk": {"S": STATE_SK}}


def _parse_state(item: Mapping[str, Any]) -> AbState:
    box: Mapping[str, Any] = item.get("outbox", {}).get("M", {})
    notices = sorted(
        (
            Notice(nid, str(n["M"]["subject"]["S"]), str(n["M"]["message"]["S"]))
            for nid, n in box.items()
        ),
        key=lambda n: n.id,
    )
    return AbState(
        started_at=float(item["started_at"]["N"]),
        fingerprint=str(item.get("fingerprint", {}).get("S", "")),
        winner=str(item["winner"]["S"]) if "winner" in item else None,
        claim_id=str(item["claim_id"]["S"]) if "claim_id" in item else None,
        promote_pending=bool(item.get("promote_pending", {}).get("BOOL", False)),
        srm_noticed="srm_noticed_at" in item,
        outbox=tuple(notices),
    )


def _hour_floor(t: float) -> float:
    return math.floor(t / PERIOD_SECONDS) * PERIOD_SECONDS


def default_start(spec: EvaluatorSpec, now: float) -> float:
    """Where a test first seen at `now` starts: the top of the hour one evaluation interval back
    (when the schedule was set up), chosen before any count is read."""
    return _hour_floor(now - spec.every_minutes * 60.0)


def open_test(dynamodb: Any, table: str, spec: EvaluatorSpec, now: float) -> AbState:
    """The test's state item, created on the first run (start: the top of the hour one
    evaluation interval back, when the schedule was set up) and restarted at the next full hour
    when the spec changed before a winner. Every write is safe to repeat."""
    from botocore.exceptions import ClientError

    fp = spec.fingerprint()
    resp = dynamodb.update_item(
        TableName=table,
        Key=_key(spec.endpoint_name),
        UpdateExpression="SET started_at = if_not_exists(started_at, :s), "
        "fingerprint = if_not_exists(fingerprint, :f), outbox = if_not_exists(outbox, :e)",
        ExpressionAttributeValues={
            ":s": {"N": repr(default_start(spec, now))},
            ":f": {"S": fp},
            ":e": {"M": {}},
        },
        ReturnValues="ALL_NEW",
    )
    state = _parse_state(resp["Attributes"])
    if state.fingerprint == fp or state.winner is not None:
        return state
    try:
        resp = dynamodb.update_item(
            TableName=table,
            Key=_key(spec.endpoint_name),
            UpdateExpression="SET started_at = :s, fingerprint = :f REMOVE srm_noticed_at",
            ConditionExpression="fingerprint = :old AND attribute_not_exists(winner)",
            ExpressionAttributeValues={
                ":s": {"N": repr(_hour_floor(now) + PERIOD_SECONDS)},
                ":f": {"S": fp},
                ":old": {"S": state.fingerprint},
            },
            ReturnValues="ALL_NEW",
        )
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        return read_state(dynamodb, table, spec.endpoint_name) or state  # a retry restarted it
    return _parse_state(resp["Attributes"])


def read_state(dynamodb: Any, table: str, endpoint: str) -> AbState | None:
    """The test's state item (None before the first run)."""
    item = dynamodb.get_item(TableName=table, Key=_key(endpoint), ConsistentRead=True).get("Item")
    return None if item is None or "started_at" not in item else _parse_state(item)


def recorded_winner(dynamodb: Any, table: str, endpoint: str) -> str | None:
    """The winner recorded for this endpoint's A/B test, if any."""
    state = read_state(dynamodb, table, endpoint)
    return None if state is None else state.winner


def _notice_value(notice: Notice, now: float) -> dict[str, Any]:
    return {
        "M": {
            "subject": {"S": notice.subject},
            "message": {"S": notice.message},
            "at": {"N": repr(float(now))},
        }
    }


def _notice(
    spec: EvaluatorSpec, run_id: str, what: str, subject: str, body: Mapping[str, Any], now: float
) -> Notice:
    message = json.dumps(
        {**body, "endpoint": spec.endpoint_name, "on_winner": spec.on_winner, "at": now},
        sort_keys=True,
        default=str,
    )
    return Notice(f"{int(now):012d}-{what}-{run_id}", subject, message)


def claim_winner(
    dynamodb: Any,
    table: str,
    spec: EvaluatorSpec,
    winner: str,
    notice: Notice,
    run_id: str,
    now: float,
) -> bool:
    """Record the winner, its notice and (with `promote`) the pending promotion, unless a winner
    is recorded already; True if the claim is ours, including a claim of ours whose response was
    lost (botocore retried it and the retry failed its condition: the stored run id is ours)."""
    from botocore.exceptions import ClientError

    expression = (
        "SET winner = :w, decided_at = :t, on_winner = :o, claim_id = :r, outbox.#n = :notice"
    )
    values: dict[str, Any] = {
        ":w": {"S": winner},
        ":t": {"N": repr(float(now))},
        ":o": {"S": spec.on_winner},
        ":r": {"S": run_id},
        ":notice": _notice_value(notice, now),
    }
    if spec.on_winner == "promote":
        expression += ", promote_pending = :p"
        values[":p"] = {"BOOL": True}
    try:
        dynamodb.update_item(
            TableName=table,
            Key=_key(spec.endpoint_name),
            UpdateExpression=expression,
            ConditionExpression="attribute_exists(started_at) AND attribute_not_exists(winner)",
            ExpressionAttributeNames={"#n": notice.id},
            ExpressionAttributeValues=values,
        )
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        state = read_state(dynamodb, table, spec.endpoint_name)
        return state is not None and state.claim_id == run_id
    return True


def _queue_notice(
    dynamodb: Any, table: str, endpoint: str, notice: Notice, now: float, extra: str = ""
) -> None:
    """Add one notice to the outbox (same id twice: the same entry)."""
    dynamodb.update_item(
        TableName=table,
        Key=_key(endpoint),
        UpdateExpression=f"SET outbox.#n = :notice{extra}",
        ExpressionAttributeNames={"#n": notice.id},
        ExpressionAttributeValues={":notice": _notice_value(notice, now), ":t": {"N": repr(now)}}
        if extra
        else {":notice": _notice_value(notice, now)},
    )


def flush_outbox(
    clients: Clients, table: str, endpoint: str, topic: str | None, outbox: Sequence[Notice]
) -> tuple[int, int]:
    """Publish every pending notice, oldest first, removing each one once published. A failed
    Publish (or removal) stops the flush; what is left is sent by the next run. Returns
    (published, still pending). Without a topic nothing is sent and nothing is removed."""
    if topic is None:
        return 0, len(outbox)
    sent = 0
    for notice in outbox:
        try:
            notify(clients.sns, topic, notice.subject, json.loads(notice.message))
        except Exception:
            break
        sent += 1
        try:
            clients.dynamodb.update_item(
                TableName=table,
                Key=_key(endpoint),
                UpdateExpression="REMOVE outbox.#n",
                ExpressionAttributeNames={"#n": notice.id},
            )
        except Exception:
            break  # published, still stored: sent again next run (at least once)
    return sent, len(outbox) - sent


def promote(
    clients: Clients, table: str, spec: EvaluatorSpec, winner: str, run_id: str, now: float
) -> str:
    """Apply a pending promotion: "promoted", "promote_deferred" (mid-update) or
    "promote_failed: <error>" (it stays pending for the next run)."""
    from botocore.exceptions import BotoCoreError, ClientError

    weights = promoted_weights(spec, winner)
    try:
        applied = set_weights(clients.sagemaker, spec.endpoint_name, list(weights.items()))
    except (ClientError, BotoCoreError) as err:
        return f"promote_failed: UpdateEndpointWeightsAndCapacities {_error_text(err)}"
    if not applied:
        return "promote_deferred"
    notice = _notice(
        spec,
        run_id,
        "promoted",
        f"A/B promoted on {spec.endpoint_name}: {winner}",
        {"decision": "promoted", "winner": winner, "weights": weights},
        now,
    )
    _queue_notice(
        clients.dynamodb,
        table,
        spec.endpoint_name,
        notice,
        now,
        extra=", promoted_at = :t REMOVE promote_pending",
    )
    return "promoted"


def record_evaluation(
    dynamodb: Any, table: str, endpoint: str, now: float, data: Mapping[str, Any]
) -> None:
    """Append one evaluation (its evidence as JSON) to the history."""
    dynamodb.put_item(
        TableName=table,
        Item={
            "pk": {"S": rollout_key(endpoint)},
            "sk": {"S": f"{EVAL_PREFIX}{int(now):012d}"},
            "at": {"N": repr(float(now))},
            "decision": {"S": str(data["decision"])},
            "evidence": {"S": json.dumps(data, sort_keys=True, default=str)},
        },
    )


def read_evaluations(
    dynamodb: Any, table: str, endpoint: str, limit: int = 20
) -> list[dict[str, Any]]:
    """The newest evaluations first, each as its evidence dict plus `at`."""
    resp = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
        ExpressionAttributeValues={
            ":pk": {"S": rollout_key(endpoint)},
            ":p": {"S": EVAL_PREFIX},
        },
        ScanIndexForward=False,
        Limit=limit,
    )
    out: list[dict[str, Any]] = []
    for item in resp.get("Items", []):
        data: dict[str, Any] = json.loads(item["evidence"]["S"])
        data["at"] = float(item["at"]["N"])
        out.append(data)
    return out


def run(
    event: Mapping[str, Any],
    env: Mapping[str, str],
    clients: Clients,
    now: float,
    log: Callable[[str], None] = print,
    run_id: str | None = None,
) -> dict[str, Any]:
    """One evaluation at `now`; returns what was decided and done, as data.

    Invariants: a winner is claimed at most once per test (conditional write) and its notice is
    stored with the claim, so it is published at least once whatever fails after; traffic moves
    only for a claimed winner; unreadable metrics never decide."""
    spec = EvaluatorSpec.from_json(env["AB_SPEC"])
    table = env["STATE_TABLE"]
    topic = env.get("TOPIC_ARN") or None
    rid = run_id if run_id is not None else uuid.uuid4().hex
    state = open_test(clients.dynamodb, table, spec, now)
    decision = evaluate(spec, clients.cloudwatch, now, state.started_at)
    data = {**evidence(decision), "started_at": state.started_at}
    record_evaluation(clients.dynamodb, table, spec.endpoint_name, now, data)
    actions: list[str] = []
    winner = state.winner
    promote_pending = state.promote_pending
    if isinstance(decision, Winner):
        if winner is not None:
            actions.append("already_decided")  # an operator may have moved weights since
        else:
            notice = _notice(
                spec,
                rid,
                "winner",
                f"A/B winner on {spec.endpoint_name}: {decision.variant}",
                {
                    **data,
                    "next": "all traffic moves to the winner (on_winner: promote)"
                    if spec.on_winner == "promote"
                    else "traffic is unchanged (on_winner: notify): promote it yourself",
                },
                now,
            )
            if claim_winner(clients.dynamodb, table, spec, decision.variant, notice, rid, now):
                winner = decision.variant
                promote_pending = spec.on_winner == "promote"
                actions.append("claimed")
            else:
                actions.append("already_decided")
    elif (
        decision.sample_ratio is not None
        and decision.sample_ratio.mismatch
        and not state.srm_noticed
        and winner is None
    ):
        notice = _notice(
            spec,
            rid,
            "srm",
            f"A/B test on {spec.endpoint_name} holds: sample ratio mismatch",
            data,
            now,
        )
        _queue_notice(
            clients.dynamodb,
            table,
            spec.endpoint_name,
            notice,
            now,
            extra=", srm_noticed_at = :t",
        )
        actions.append("srm_noticed")
    if promote_pending and winner is not None:
        actions.append(promote(clients, table, spec, winner, rid, now))
    pending = read_state(clients.dynamodb, table, spec.endpoint_name)
    sent, left = flush_outbox(
        clients, table, spec.endpoint_name, topic, () if pending is None else pending.outbox
    )
    if sent:
        actions.append("notified")
    result = {
        **data,
        "endpoint": spec.endpoint_name,
        "actions": actions,
        "recorded_winner": winner,
        "notices_pending": left,
    }
    log(json.dumps({"ab_evaluation": result}, sort_keys=True, default=str))
    return result
