"""The A/B evaluator Lambda: read per-variant counts -> decide() -> record -> notify / promote.

Triggered by an EventBridge schedule (`strategy.ab.evaluate_every_minutes`). Environment (read in
`handler` only): AB_SPEC (EvaluatorSpec JSON), STATE_TABLE, TOPIC_ARN.

Each run sums the `successes` and `trials` metrics per serving variant over the last
`window_hours` (GetMetricData, Sum, hourly periods), asks `strategies.ab_winner.decide`, and
appends the evidence to the rollout history (`pk = "ab:<endpoint>"`, `sk = "EVAL#<epoch seconds>"`).
The first time a winner is found (with `on_winner: promote`, after its weights are applied: the
winner's weight 1, every other variant's 0) it is written to the state item (`sk = "STATE"`)
under the condition that no winner exists yet, and only the run that wins that write notifies.
Once a winner is recorded later runs only add evidence: they never move traffic again (an
operator may have moved it since). The function has reserved concurrency 1.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sagemaker_rollouts.lambdas.aws_adapter import Clients, make_clients, notify, set_weights
from sagemaker_rollouts.strategies.ab_winner import (
    Decision,
    EvaluatorSpec,
    MetricRef,
    Winner,
    arms_from_counts,
    decide,
    evidence,
    promoted_weights,
)

STATE_SK = "STATE"
EVAL_PREFIX = "EVAL#"
PERIOD_SECONDS = 3600

_clients: Clients | None = None


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Lambda entry point: the only place that reads the environment and the clock."""
    global _clients
    if _clients is None:
        _clients = make_clients()
    return run(event, os.environ, _clients, time.time())


def rollout_key(endpoint_name: str) -> str:
    """The history's partition key for an endpoint's A/B test."""
    return f"ab:{endpoint_name}"


def read_sums(
    cloudwatch: Any,
    ref: MetricRef,
    endpoint: str,
    variants: Sequence[str],
    start: datetime,
    end: datetime,
) -> dict[str, float]:
    """Sum of `ref` per variant over [start, end): one GetMetricData query per variant, hourly
    periods, all pages. A variant without datapoints sums to 0."""
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
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {
            "MetricDataQueries": queries,
            "StartTime": start,
            "EndTime": end,
        }
        if token is not None:
            kwargs["NextToken"] = token
        resp = cloudwatch.get_metric_data(**kwargs)
        for result in resp.get("MetricDataResults", []):
            idx = int(str(result["Id"])[1:])
            sums[variants[idx]] += float(sum(result.get("Values", [])))
        token = resp.get("NextToken")
        if not token:
            return sums


def evaluate(spec: EvaluatorSpec, cloudwatch: Any, now: float) -> Decision:
    """Read the counts for the last `window_hours` and decide (no side effects)."""
    end = datetime.fromtimestamp(now, UTC)
    start = end - timedelta(hours=spec.window_hours)
    successes = read_sums(cloudwatch, spec.successes, spec.endpoint_name, spec.variants, start, end)
    trials = read_sums(cloudwatch, spec.trials, spec.endpoint_name, spec.variants, start, end)
    arms = arms_from_counts(spec.variants, successes, trials)
    return decide(arms, min_samples=spec.min_samples, significance=spec.significance)


def _claim_winner(dynamodb: Any, table: str, spec: EvaluatorSpec, winner: str, now: float) -> bool:
    """Record the winner on the state item unless one is recorded already; True if we did."""
    from botocore.exceptions import ClientError

    try:
        dynamodb.update_item(
            TableName=table,
            Key={"pk": {"S": rollout_key(spec.endpoint_name)}, "sk": {"S": STATE_SK}},
            UpdateExpression="SET winner = :w, decided_at = :t, on_winner = :o",
            ConditionExpression="attribute_not_exists(winner)",
            ExpressionAttributeValues={
                ":w": {"S": winner},
                ":t": {"N": repr(float(now))},
                ":o": {"S": spec.on_winner},
            },
        )
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def recorded_winner(dynamodb: Any, table: str, endpoint: str) -> str | None:
    """The winner recorded for this endpoint's A/B test, if any."""
    item = dynamodb.get_item(
        TableName=table,
        Key={"pk": {"S": rollout_key(endpoint)}, "sk": {"S": STATE_SK}},
        ConsistentRead=True,
    ).get("Item")
    if item is None or "winner" not in item:
        return None
    return str(item["winner"]["S"])


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
) -> dict[str, Any]:
    """One evaluation at `now`; returns what was decided and done, as data.

    Invariant: notification and promotion happen at most once per endpoint (conditional write)."""
    spec = EvaluatorSpec.from_json(env["AB_SPEC"])
    table = env["STATE_TABLE"]
    topic = env.get("TOPIC_ARN")
    decision = evaluate(spec, clients.cloudwatch, now)
    data = evidence(decision)
    record_evaluation(clients.dynamodb, table, spec.endpoint_name, now, data)
    actions: list[str] = []
    if isinstance(decision, Winner):
        if recorded_winner(clients.dynamodb, table, spec.endpoint_name) is not None:
            actions.append("already_decided")  # an operator may have moved weights since
        else:
            applied = True
            if spec.on_winner == "promote":
                weights = promoted_weights(spec, decision.variant)
                applied = set_weights(clients.sagemaker, spec.endpoint_name, list(weights.items()))
                actions.append("promoted" if applied else "promote_deferred")
            # Deferred (endpoint mid-update): nothing claimed, the next run tries again.
            if applied and _claim_winner(clients.dynamodb, table, spec, decision.variant, now):
                notify(
                    clients.sns,
                    topic,
                    f"A/B winner on {spec.endpoint_name}: {decision.variant}",
                    {**data, "endpoint": spec.endpoint_name, "on_winner": spec.on_winner},
                )
                actions.append("notified")
    result = {**data, "endpoint": spec.endpoint_name, "actions": actions}
    log(json.dumps({"ab_evaluation": result}, sort_keys=True, default=str))
    return result
