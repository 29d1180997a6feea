"""The canary hook's AWS edge: boto3 clients in, controller views out, one call per action.

Every function takes its client as an argument (the Lambda, the CLI and the tests each build their
own); nothing here reads the environment or the clock. Clients use botocore's `standard` retry mode.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sagemaker_rollouts.lambdas.controller import (
    ALARM_STATES,
    ENDPOINT_STATUSES,
    AlarmStateValue,
    AlarmView,
    EndpointView,
)

if TYPE_CHECKING:
    from dataclasses import dataclass
else:  # the same classes, no methods compiled at import (lambdas/records.py)
    from sagemaker_rollouts.lambdas.records import dataclass

IN_PROGRESS_MESSAGE = "Cannot update in-progress endpoint"
SERVICES = ("sagemaker", "cloudwatch", "dynamodb", "sns")
_ALARM_STATE: dict[str, AlarmStateValue] = {s: s for s in ALARM_STATES}


@dataclass(frozen=True, slots=True)
class Clients:
    """The four low-level boto3 clients the hook uses."""

    sagemaker: Any
    cloudwatch: Any
    dynamodb: Any
    sns: Any


def make_clients(region: str | None = None, session: Any = None) -> Clients:
    """Build the hook's four low-level clients with `standard` retries, on the first invocation.

    Without `session` (the Lambda), they come from a botocore session: a boto3 client *is* a
    botocore client (boto3's `Session.client` calls botocore's `create_client` with the same
    credential, region and `AWS_ENDPOINT_URL` chain), and importing botocore alone spares every
    cold start boto3's own import (about 20 ms of boto3's ~125 ms; `bench/bench_hook.py`).
    `session`: any object with boto3's `client(name, region_name=, config=)` (tests pass a
    boto3 session).
    """
    from botocore.config import Config

    config = Config(retries={"mode": "standard"})
    if session is None:
        import botocore.session

        core = botocore.session.get_session()
        made = [core.create_client(n, region_name=region, config=config) for n in SERVICES]
    else:
        made = [session.client(n, region_name=region, config=config) for n in SERVICES]
    return Clients(*made)


def _error_code(err: Exception) -> str:
    response: Mapping[str, Any] = getattr(err, "response", {})
    return str(response.get("Error", {}).get("Code", type(err).__name__))


def _error_message(err: Exception) -> str:
    response: Mapping[str, Any] = getattr(err, "response", {})
    return str(response.get("Error", {}).get("Message", str(err)))


def read_endpoint(sagemaker: Any, endpoint_name: str) -> EndpointView:
    """DescribeEndpoint as an EndpointView: status and each production variant's CurrentWeight.

    A missing endpoint (ValidationException "Could not find endpoint") is status "Missing"; any
    other error propagates (the next tick retries).
    """
    return read_endpoint_and_instances(sagemaker, endpoint_name)[0]


def read_endpoint_and_instances(
    sagemaker: Any, endpoint_name: str
) -> tuple[EndpointView, dict[str, int]]:
    """ONE DescribeEndpoint: the EndpointView (`read_endpoint`) and each production variant's
    CurrentInstanceCount (variants that report none are absent), so a tick that scales the idle
    stable fleet down needs no second describe."""
    from botocore.exceptions import ClientError

    try:
        resp = sagemaker.describe_endpoint(EndpointName=endpoint_name)
    except ClientError as err:
        if _error_code(err) == "ValidationException" and "not find" in _error_message(err):
            return EndpointView("Missing"), {}
        raise
    status = str(resp.get("EndpointStatus"))
    if status not in ENDPOINT_STATUSES:
        raise ValueError(f"unknown EndpointStatus {status!r} for {endpoint_name}")
    weights: dict[str, float] = {}
    instances: dict[str, int] = {}
    variants: list[Mapping[str, Any]] = resp.get("ProductionVariants") or []
    for variant in variants:
        current: Any = variant.get("CurrentWeight")
        live: Any = variant.get("DesiredWeight", 0.0) if current is None else current
        weights[str(variant["VariantName"])] = float(live)
        count: Any = variant.get("CurrentInstanceCount")
        if count is not None:
            instances[str(variant["VariantName"])] = int(count)
    return EndpointView.of(status, weights), instances


def describe_alarm_states(cloudwatch: Any, names: Sequence[str]) -> dict[str, str]:
    """StateValue of every metric and composite alarm among `names` that exists (at most 100
    names): DescribeAlarms with MaxRecords 100, following NextToken to the last page. CloudWatch
    answers DescribeAlarms in pages (botocore's cloudwatch paginators: input/output token
    NextToken, limit key MaxRecords 1..100), so one answer may hold only some of the alarms named.
    Errors propagate (ClientError, BotoCoreError)."""
    if len(names) > 100:
        raise ValueError(f"DescribeAlarms takes at most 100 names, got {len(names)}")
    states: dict[str, str] = {}
    if not names:
        return states
    kwargs: dict[str, Any] = {
        "AlarmNames": list(names),
        "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
        "MaxRecords": 100,
    }
    seen: set[str] = set()
    while True:
        resp = cloudwatch.describe_alarms(**kwargs)
        for alarm in [*resp.get("MetricAlarms", []), *resp.get("CompositeAlarms", [])]:
            states[str(alarm["AlarmName"])] = str(alarm.get("StateValue"))
        token: Any = resp.get("NextToken")
        if not token or token in seen:  # a repeated token would loop forever
            return states
        seen.add(str(token))
        kwargs["NextToken"] = token


def read_alarms(cloudwatch: Any, names: Sequence[str]) -> AlarmView:
    """Every gate and sample alarm's state (`describe_alarm_states`: every page, at most 100
    names).

    A failing call (AccessDenied, throttling past the retries, a network error), on any page,
    becomes `unreadable`, so the controller holds and notifies instead of guessing.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    if len(names) > 100:
        raise ValueError(f"DescribeAlarms takes at most 100 names, got {len(names)}")
    if not names:
        return AlarmView()
    try:
        found = describe_alarm_states(cloudwatch, names)
    except ClientError as err:
        return AlarmView(unreadable=f"DescribeAlarms {_error_code(err)}: {_error_message(err)}")
    except BotoCoreError as err:
        return AlarmView(unreadable=f"DescribeAlarms {type(err).__name__}: {err}")
    states: dict[str, AlarmStateValue] = {}
    for name, value in found.items():
        known = _ALARM_STATE.get(value)
        if known is not None:
            states[name] = known
    return AlarmView.of(states)


def read_alarm_history(
    cloudwatch: Any, names: Sequence[str], since: float, until: float
) -> tuple[tuple[str, float], ...]:
    """(alarm, epoch seconds) of every transition to ALARM of `names` in [since, until], newest
    first: one DescribeAlarmHistory call per name (HistoryItemType StateUpdate, at most 100
    records each). CloudWatch keeps alarm history for two weeks, even of a deleted alarm
    (DescribeAlarmHistory API reference). Best effort: a failing call contributes nothing (this
    only names the alarm of a rollback whose record was lost; it decides nothing)."""
    from datetime import UTC, datetime

    found: list[tuple[str, float]] = []
    for name in names:
        try:
            resp = cloudwatch.describe_alarm_history(
                AlarmName=name,
                HistoryItemType="StateUpdate",
                StartDate=datetime.fromtimestamp(since, UTC),
                EndDate=datetime.fromtimestamp(until, UTC),
                ScanBy="TimestampDescending",
                MaxRecords=100,
            )
        except Exception:  # ClientError, BotoCoreError: the record is only less precise
            continue
        for item in resp.get("AlarmHistoryItems", []):
            try:
                data: Any = json.loads(str(item.get("HistoryData") or "{}"))
                new_state: Any = data.get("newState", {}).get("stateValue")
                at: Any = item["Timestamp"]
            except (ValueError, AttributeError, KeyError):
                continue
            if new_state == "ALARM":
                stamp = at.timestamp() if isinstance(at, datetime) else float(at)
                found.append((str(item.get("AlarmName") or name), stamp))
    return tuple(sorted(found, key=lambda f: -f[1]))


def set_instances(sagemaker: Any, endpoint_name: str, variant: str, count: int) -> bool:
    """UpdateEndpointWeightsAndCapacities with only DesiredInstanceCount (the weight is kept).
    False when the endpoint is mid-update; other errors propagate."""
    from botocore.exceptions import ClientError

    try:
        sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=endpoint_name,
            DesiredWeightsAndCapacities=[{"VariantName": variant, "DesiredInstanceCount": count}],
        )
    except ClientError as err:
        if _error_code(err) == "ValidationException" and IN_PROGRESS_MESSAGE.lower() in (
            _error_message(err).lower()
        ):
            return False
        raise
    return True


def set_weights(sagemaker: Any, endpoint_name: str, weights: Sequence[tuple[str, float]]) -> bool:
    """UpdateEndpointWeightsAndCapacities. False when SageMaker says the endpoint is mid-update
    (ValidationException "Cannot update in-progress endpoint"); other errors propagate."""
    from botocore.exceptions import ClientError

    try:
        sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=endpoint_name,
            DesiredWeightsAndCapacities=[
                {"VariantName": name, "DesiredWeight": weight} for name, weight in weights
            ],
        )
    except ClientError as err:
        if _error_code(err) == "ValidationException" and IN_PROGRESS_MESSAGE.lower() in (
            _error_message(err).lower()
        ):
            return False
        raise
    return True


def notify(sns: Any, topic_arn: str | None, subject: str, message: Mapping[str, Any]) -> bool:
    """Publish one notification; False when no topic is configured.

    One message per protocol (`lambdas.notify.render`): plain text for email, the JSON record
    (the body plus endpoint, decision, alarm, evidence and the `rollout` commands) for SQS and
    Lambda, an AWS Chatbot custom notification for HTTPS and chat channels. The commands address
    the endpoint with the `ROLLOUT_TARGET` environment variable (`--stack S --endpoint E` or
    `--endpoint E --region R`), else the stack name in `ROLLOUT_STACK`.
    """
    if not topic_arn:
        return False
    # Imported here: most ticks notify nobody, and a cold start compiles every module it loads.
    from sagemaker_rollouts.lambdas import notify as notify_format

    sns.publish(
        TopicArn=topic_arn,
        Subject=subject[:100],
        MessageStructure="json",
        Message=notify_format.render(
            subject,
            message,
            os.environ.get("ROLLOUT_STACK"),
            os.environ.get("ROLLOUT_TARGET"),
        ),
    )
    return True


def emf_line(
    namespace: str,
    endpoint_name: str,
    metrics: Mapping[str, float],
    properties: Mapping[str, Any],
    now: float,
) -> str:
    """One CloudWatch Embedded Metric Format log line: a structured log record whose metrics
    CloudWatch Logs extracts by itself, so publishing them costs no API call."""
    record: dict[str, Any] = {
        "_aws": {
            "Timestamp": int(now * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [["EndpointName"]],
                    "Metrics": [
                        {"Name": name, "Unit": "Percent" if name == "CandidateWeight" else "Count"}
                        for name in metrics
                    ],
                }
            ],
        },
        "EndpointName": endpoint_name,
        **properties,
        **metrics,
    }
    return json.dumps(record, sort_keys=True, default=str)
