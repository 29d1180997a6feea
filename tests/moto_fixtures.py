"""Fixtures for the canary hook's fault tests: one moto server per test module, one world per test.

A "world" is a real (moto) SageMaker endpoint with a stable and a candidate production variant, its
gate and sample alarms, a state table, an SNS topic, and the hook's clients with call recording and
fault injection through botocore's event system (nothing in the code under test is patched).

moto gaps these stand in for are named at each injection: moto alarms start OK (AWS starts
INSUFFICIENT_DATA) and are never evaluated; weight updates return straight to InService; moto never
answers "Cannot update in-progress endpoint"; moto has no DescribeAlarmHistory, so the hook's clients
answer it from the world's own record of alarm state changes (`World.set_alarm(..., at=...)`), as
CloudWatch records every transition.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders

from sagemaker_rollouts.lambdas import store
from sagemaker_rollouts.lambdas.aws_adapter import Clients, make_clients
from sagemaker_rollouts.lambdas.canary_hook import run
from sagemaker_rollouts.lambdas.controller import RolloutState
from sagemaker_rollouts.lambdas.rollout import RolloutSpec, Step
from sagemaker_rollouts.lambdas.store import HistoryRow, read_history, read_state
from sagemaker_rollouts.simulator.moto_server import moto_server

REGION = "us-east-1"
STEPS = (Step(10, 300), Step(50, 300), Step(100, 300))
T0 = 1_700_000_000.0


_sessions: list[Any] = []
_admins: list[Clients] = []


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """One moto server for the whole test module (each test builds its own uniquely named world)."""
    with moto_server(REGION) as url:
        yield url
    _sessions.clear()
    _admins.clear()


def _session() -> Any:
    """One boto3 session per module: service models load once (each client still has its own
    event hooks, so instrumentation never leaks between clients)."""
    if not _sessions:
        import boto3

        _sessions.append(boto3.session.Session(region_name=REGION))
    return _sessions[0]


def admin_clients() -> Clients:
    """The module's un-instrumented clients for test setup and assertions, made once per module
    (a sagemaker client alone costs about as much CPU as three moto requests). Tests never
    register handlers on them: faults and recording go on each world's own hook clients."""
    if not _admins:
        _admins.append(make_clients(REGION, _session()))
    return _admins[0]


@dataclass
class Recorder:
    """Every AWS operation the hook's clients called, in order, as "service.Operation"."""

    calls: list[str] = field(default_factory=list)
    published: list[dict[str, Any]] = field(default_factory=list)

    def ops(self, service: str | None = None) -> list[str]:
        return [c for c in self.calls if service is None or c.startswith(service + ".")]

    def clear(self) -> None:
        self.calls.clear()
        self.published.clear()


@dataclass
class World:
    spec: RolloutSpec
    env: dict[str, str]
    clients: Clients
    admin: Clients  # un-instrumented clients for test setup and assertions
    table: str
    recorder: Recorder
    logs: list[str] = field(default_factory=list)
    # (alarm, new state, epoch seconds): what CloudWatch's alarm history would hold.
    alarm_log: list[tuple[str, str, float]] = field(default_factory=list)

    def tick(self, now: float, event: dict[str, Any] | None = None) -> dict[str, Any]:
        return run(event or schedule_event(), self.env, self.clients, now, log=self.logs.append)

    def set_alarm(self, name: str, state: str, at: float | None = None) -> None:
        """SetAlarmState; with `at` (simulated epoch seconds) also recorded in the alarm history
        the hook's DescribeAlarmHistory reads."""
        self.admin.cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")
        if at is not None:
            self.alarm_log.append((name, state, at))

    def live(self) -> dict[str, float]:
        resp = self.admin.sagemaker.describe_endpoint(EndpointName=self.spec.endpoint_name)
        return {v["VariantName"]: float(v["CurrentWeight"]) for v in resp["ProductionVariants"]}

    def candidate(self) -> float:
        return self.live()[self.spec.candidate_variant]

    def state(self) -> RolloutState | None:
        return read_state(self.admin.dynamodb, self.table, self.spec.rollout_id)

    def history(self) -> list[HistoryRow]:
        return read_history(self.admin.dynamodb, self.table, self.spec.rollout_id, limit=100)

    def set_weights(self, weights: dict[str, float]) -> None:
        self.admin.sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=self.spec.endpoint_name,
            DesiredWeightsAndCapacities=[
                {"VariantName": k, "DesiredWeight": v} for k, v in weights.items()
            ],
        )


def schedule_event() -> dict[str, Any]:
    return {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


def alarm_event(name: str, value: str = "ALARM") -> dict[str, Any]:
    """The EventBridge "CloudWatch Alarm State Change" event, as AWS sends it (abridged)."""
    return {
        "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change",
        "detail": {"alarmName": name, "state": {"value": value, "reason": "threshold crossed"}},
    }


def instrument(clients: Clients, recorder: Recorder) -> None:
    """Record every API call with botocore's `before-call` event (no call is changed)."""

    def record(model: Any, params: dict[str, Any], event_name: str, **_: Any) -> None:
        service = event_name.split(".")[1]
        recorder.calls.append(f"{service}.{model.name}")
        if model.name == "Publish":
            recorder.published.append(params)

    for client in (clients.sagemaker, clients.cloudwatch, clients.dynamodb, clients.sns):
        client.meta.events.register("before-call.*.*", record)


def fail(
    client: Any,
    operation: str,
    code: str,
    message: str,
    times: int | None = None,
) -> Callable[[], None]:
    """Make `operation` answer with an AWS error (`times` times, or until removed) via the
    `before-call` event, which short-circuits the HTTP request. Returns the unregister function."""
    service = client.meta.service_model.service_id.hyphenize()
    left = [times]

    def short_circuit(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if left[0] is not None:
            if left[0] <= 0:
                return None
            left[0] -= 1
        return aws_error(code, message)

    name = f"before-call.{service}.{operation}"
    client.meta.events.register(name, short_circuit)
    return lambda: client.meta.events.unregister(name, short_circuit)


# The error code each service answers an IAM denial with (botocore service models' error shapes;
# SNS's AuthorizationError, CloudWatch's query-protocol AccessDenied).
DENIED = {
    "sagemaker": "AccessDeniedException",
    "cloudwatch": "AccessDenied",
    "dynamodb": "AccessDeniedException",
    "sns": "AuthorizationError",
}


def aws_error(code: str, message: str, status: int = 400) -> tuple[AWSResponse, dict[str, Any]]:
    """A `before-call` short-circuit answer: AWS's error `code` with `message` and HTTP `status`,
    as botocore would parse it (the caller sees `ClientError` with that code and message)."""
    parsed = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return AWSResponse("https://injected", status, HTTPHeaders(), None), parsed


def injected_error(service: str, fault: str) -> tuple[AWSResponse, dict[str, Any]]:
    """A `before-call` short-circuit answer: AWS's error for `fault` (`throttle`: HTTP 400
    ThrottlingException; `5xx`: HTTP 500 InternalFailure; `denied`: `service`'s access-denied
    code, HTTP 400), as botocore would parse it."""
    code, status = {
        "throttle": ("ThrottlingException", 400),
        "5xx": ("InternalFailure", 500),
        "denied": (DENIED[service], 400),
    }[fault]
    return aws_error(code, f"injected {fault}", status)


def crash(client: Any, operation: str, times: int = 1) -> None:
    """The Lambda dies (timeout, OOM) right before `operation` is sent: raise out of the hook."""
    service = client.meta.service_model.service_id.hyphenize()
    left = [times]

    def die(**_: Any) -> None:
        if left[0] > 0:
            left[0] -= 1
            raise SystemExit(f"simulated crash before {operation}")

    client.meta.events.register(f"before-call.{service}.{operation}", die)


def patch_response(client: Any, operation: str, edit: Callable[[dict[str, Any]], None]) -> None:
    """Edit the parsed response of `operation` (`after-call`): e.g. report an endpoint status
    moto never produces."""
    service = client.meta.service_model.service_id.hyphenize()

    def after(parsed: dict[str, Any], **_: Any) -> None:
        edit(parsed)

    client.meta.events.register(f"after-call.{service}.{operation}", after)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def throttle_wire(client: Any, operation: str, times: int, *, per_request: bool = False) -> None:
    """Answer `operation` with HTTP 400 ThrottlingException at the wire (`before-send`), so
    botocore's standard retry mode sees it and retries, as it does with AWS. JSON protocols only.
    `times` throttles in all, or, `per_request`, the first `times` attempts of each distinct
    request (same body), whichever thread sends them. Thread-safe."""
    import threading

    target = client.meta.service_model.operation_model(operation)
    left: dict[bytes, int] = {}
    lock = threading.Lock()

    def send(request: Any, **_: Any) -> AWSResponse | None:
        if target.name not in request.headers.get("X-Amz-Target", b"").decode():
            return None
        body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
        key = body if per_request else b""
        with lock:
            if left.setdefault(key, times) <= 0:
                return None
            left[key] -= 1
        body = json.dumps(
            {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "Rate"}
        ).encode()
        headers = HTTPHeaders()
        headers["Content-Type"] = "application/x-amz-json-1.0"
        return AWSResponse(request.url, 400, headers, _Raw(body))

    service = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(f"before-send.{service}.{operation}", send)


def create_endpoint(admin: Clients, name: str, variants: dict[str, float], suffix: str) -> None:
    """A real (moto) endpoint with one production variant per entry, at the given weights."""
    for variant in variants:
        admin.sagemaker.create_model(
            ModelName=f"m-{variant}-{suffix}",
            ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker",
            PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1"},
        )
    admin.sagemaker.create_endpoint_config(
        EndpointConfigName=f"cfg-{suffix}",
        ProductionVariants=[
            {
                "VariantName": variant,
                "ModelName": f"m-{variant}-{suffix}",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
                "InitialVariantWeight": weight,
            }
            for variant, weight in variants.items()
        ],
    )
    admin.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"cfg-{suffix}")


def put_alarm(admin: Clients, name: str, endpoint: str, variant: str, metric: str) -> None:
    admin.cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/SageMaker",
        MetricName=metric,
        Dimensions=[
            {"Name": "EndpointName", "Value": endpoint},
            {"Name": "VariantName", "Value": variant},
        ],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )


@pytest.fixture
def make_world(moto_url: str) -> Callable[..., World]:
    """Build a fresh world; keyword arguments override RolloutSpec fields."""
    del moto_url
    return new_world


def fork(base: World, **overrides: Any) -> World:
    """Another rollout on `base`'s endpoint, alarms, table and topic (a fresh rollout id, the
    endpoint back at step 0's weights, every alarm OK): a cheap world for table-driven tests. The
    hook's clients are shared, so per-test fault injection must be removed by the test."""
    spec = replace(base.spec, rollout_id=f"{base.spec.endpoint_name}/{uuid.uuid4().hex[:8]}/1")
    spec = replace(spec, **overrides)
    env = {**base.env, "ROLLOUT_SPEC": spec.to_json()}
    w = World(spec, env, base.clients, base.admin, base.table, base.recorder)
    w.alarm_log = base.alarm_log  # the same alarms, the same history
    first = float(spec.steps[0].candidate_percent)
    w.set_weights({spec.stable_variant: 100.0 - first, spec.candidate_variant: first})
    for name in (*spec.gate_alarms, *(() if spec.sample_alarm is None else (spec.sample_alarm,))):
        w.set_alarm(name, "OK")
    base.recorder.clear()
    return w


def new_world(
    *,
    variants: dict[str, float] | None = None,
    create_alarms: bool = True,
    **overrides: Any,
) -> World:
    """A fresh world (endpoint, alarms, state table, topic, instrumented hook clients) on the
    running moto server; keyword arguments override RolloutSpec fields."""
    suffix = uuid.uuid4().hex[:8]
    admin = admin_clients()
    endpoint = f"ep-{suffix}"
    gates = (f"{endpoint}-5xx", f"{endpoint}-latency")
    sample = f"{endpoint}-sample"
    fields: dict[str, Any] = {
        "rollout_id": f"{endpoint}/fp/1",
        "endpoint_name": endpoint,
        "stable_variant": "stable",
        "candidate_variant": "candidate",
        "steps": STEPS,
        "gate_alarms": gates,
        "min_invocations": 50,
        "insufficient_data_limit_seconds": 600,
        "sample_alarm": sample,
    }
    fields.update(overrides)
    spec = RolloutSpec(**fields)
    first = float(spec.steps[0].candidate_percent)
    create_endpoint(
        admin,
        endpoint,
        {"stable": 100.0 - first, "candidate": first} if variants is None else variants,
        suffix,
    )
    if create_alarms:
        put_alarm(admin, gates[0], endpoint, "candidate", "Invocation5XXErrors")
        put_alarm(admin, gates[1], endpoint, "candidate", "ModelLatency")
        put_alarm(admin, sample, endpoint, "candidate", "Invocations")
    table = f"state-{suffix}"
    store.create_state_table(admin.dynamodb, table)
    topic = admin.sns.create_topic(Name=f"rollouts-{suffix}")["TopicArn"]
    clients = make_clients(REGION, _session())
    recorder = Recorder()
    instrument(clients, recorder)
    env = {"ROLLOUT_SPEC": spec.to_json(), "STATE_TABLE": table, "TOPIC_ARN": topic}
    world = World(spec, env, clients, admin, table, recorder)
    answer_alarm_history(clients, world.alarm_log)
    return world


def answer_alarm_history(clients: Clients, log: list[tuple[str, str, float]]) -> None:
    """Stand-in for CloudWatch's DescribeAlarmHistory (moto has none): StateUpdate items of the
    named alarm within [StartDate, EndDate], newest first, with the `HistoryData` JSON CloudWatch
    writes (`newState.stateValue`)."""
    import datetime as dt

    asked: list[dict[str, Any]] = []

    def remember(params: dict[str, Any], **_: Any) -> None:
        asked.append(dict(params))  # the API parameters (before-call only sees the wire form)

    def answer(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        params = asked.pop()
        start = params.get("StartDate")
        end = params.get("EndDate")

        def within(at: float) -> bool:
            stamp = dt.datetime.fromtimestamp(at, dt.UTC)
            return (start is None or stamp >= start) and (end is None or stamp <= end)

        items = [
            {
                "AlarmName": name,
                "AlarmType": "MetricAlarm",
                "Timestamp": dt.datetime.fromtimestamp(at, dt.UTC),
                "HistoryItemType": "StateUpdate",
                "HistorySummary": f"Alarm updated to {state}",
                "HistoryData": json.dumps({"version": "1.0", "newState": {"stateValue": state}}),
            }
            for name, state, at in sorted(log, key=lambda e: -e[2])
            if name == params.get("AlarmName") and within(at)
        ]
        parsed = {"AlarmHistoryItems": items, "ResponseMetadata": {"HTTPStatusCode": 200}}
        return AWSResponse("https://injected", 200, HTTPHeaders(), None), parsed

    events = clients.cloudwatch.meta.events
    events.register("before-parameter-build.cloudwatch.DescribeAlarmHistory", remember)
    events.register("before-call.cloudwatch.DescribeAlarmHistory", answer)


def fresh_clients(recorder: Recorder | None = None) -> Clients:
    """Another invocation's clients (a concurrent Lambda has its own)."""
    clients = make_clients(REGION, _session())
    if recorder is not None:
        instrument(clients, recorder)
    return clients


ALARM_PAGE = 50


def page_describe_alarms(client: Any, source: Any, page_size: int = ALARM_PAGE) -> None:
    """Stand-in for CloudWatch's paging of DescribeAlarms (moto answers every alarm at once and
    ignores MaxRecords): at most `MaxRecords` alarms per answer and never more than `page_size`
    (a paginated API may return fewer than asked: only NextToken says whether more are left), by
    name, with a `NextToken` while more are left. The API marks DescribeAlarms
    paginated (botocore's cloudwatch paginators: NextToken, limit key MaxRecords, 1..100), so a
    caller that reads one answer sees only the first page. `source` is an un-instrumented client
    whose (moto) answer is the whole list."""
    asked: list[dict[str, Any]] = []

    def remember(params: dict[str, Any], **_: Any) -> None:
        asked.append(dict(params))

    def answer(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        params = asked.pop()
        whole = source.describe_alarms(
            **{k: v for k, v in params.items() if k not in ("MaxRecords", "NextToken")}
        )
        items = sorted(
            [("MetricAlarms", a) for a in whole.get("MetricAlarms", [])]
            + [("CompositeAlarms", a) for a in whole.get("CompositeAlarms", [])],
            key=lambda kind_alarm: str(kind_alarm[1]["AlarmName"]),
        )
        start = int(params.get("NextToken") or 0)
        size = min(int(params.get("MaxRecords") or page_size), page_size)
        page = items[start : start + size]
        parsed: dict[str, Any] = {
            "MetricAlarms": [a for k, a in page if k == "MetricAlarms"],
            "CompositeAlarms": [a for k, a in page if k == "CompositeAlarms"],
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }
        if start + size < len(items):
            parsed["NextToken"] = str(start + size)
        return AWSResponse("https://injected", 200, HTTPHeaders(), None), parsed

    events = client.meta.events
    events.register("before-parameter-build.cloudwatch.DescribeAlarms", remember)
    events.register("before-call.cloudwatch.DescribeAlarms", answer)
