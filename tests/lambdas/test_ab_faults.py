"""Fault matrix for the A/B evaluator: the real `ab_evaluator.run` against moto in server mode on
127.0.0.1, with one fault injected at every AWS call it makes, through botocore's event system on
the evaluator's own clients (nothing in the code under test is patched).

Faults, each standing in for a real AWS behaviour:
- throttle: `ThrottlingException` as the caller sees it once botocore's retries are spent (a
  `before-call` short-circuit sits above the retry loop, so it is the final answer);
- 5xx: HTTP 500 `InternalFailure` / `InternalServerError` (a service-side failure, after retries);
- denied: `AccessDeniedException` / `AccessDenied` / `AuthorizationError` (IAM, SCP, KMS);
- lost: the request reaches the service and takes effect, the response never arrives (the
  connection times out, `ReadTimeoutError` in `before-send`), and botocore's standard retry mode
  sends the same request again, as it does with AWS;
- partial: GetMetricData answers 200 with a result whose `StatusCode` is InternalError, Forbidden or
  PartialData and no values (CloudWatch's documented per-query failure modes).

After the faulty run, the fault is gone and the evaluator runs twice more. Whatever the fault, the
test ends where a run without faults would: one winner recorded (the true one), its notice
delivered to the topic's subscriber (an SQS queue: at least once, never lost), the outbox empty,
and with `on_winner: promote` all traffic on the winner. A faulty run never names a winner from
unreadable counts.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import ReadTimeoutError
from botocore.httpsession import URLLib3Session

from sagemaker_rollouts.lambdas import ab_evaluator, store
from sagemaker_rollouts.lambdas.ab_winner import EvaluatorSpec, MetricRef
from sagemaker_rollouts.lambdas.aws_adapter import Clients, make_clients
from tests.moto_fixtures import REGION, _session, admin_clients, create_endpoint, injected_error

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
COUNTS = {"control": (500, 10000), "challenger": (640, 10000)}  # challenger wins (p ~ 0.0009)
SUCCESSES = MetricRef("Shop/Business", "Orders", (("service", "shop"),))
TRIALS = MetricRef("AWS/SageMaker", "Invocations")


@dataclass
class AbWorld:
    spec: EvaluatorSpec
    env: dict[str, str]
    clients: Clients
    admin: Clients
    sqs: Any
    queue_url: str
    table: str
    results: list[dict[str, Any] | None] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def run(self, now: float) -> dict[str, Any] | None:
        """One invocation; None when it raised (as Lambda would record a failed invocation)."""
        try:
            out = ab_evaluator.run({}, self.env, self.clients, now, log=lambda _: None)
        except Exception as err:
            self.errors.append(f"{type(err).__name__}: {err}")
            out = None
        self.results.append(out)
        return out

    def delivered(self) -> list[dict[str, Any]]:
        """Every notice the topic's SQS subscriber received so far (drained)."""
        out: list[dict[str, Any]] = []
        while True:
            resp = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            msgs = resp.get("Messages", [])
            if not msgs:
                return out
            for m in msgs:
                envelope = json.loads(m["Body"])
                body = json.loads(envelope["Message"])
                if body.get("endpoint") == self.spec.endpoint_name:  # the queue is shared
                    out.append({"subject": envelope.get("Subject"), **body})
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])

    def state(self) -> ab_evaluator.AbState | None:
        return ab_evaluator.read_state(self.admin.dynamodb, self.table, self.spec.endpoint_name)

    def weights(self) -> dict[str, float]:
        resp = self.admin.sagemaker.describe_endpoint(EndpointName=self.spec.endpoint_name)
        return {
            v["VariantName"]: float(v.get("CurrentWeight", 0.0)) for v in resp["ProductionVariants"]
        }


@dataclass(frozen=True)
class Shared:
    """One state table, topic and subscribed queue for the module; each test has its endpoint."""

    table: str
    topic: str
    queue_url: str


@pytest.fixture(scope="module")
def shared(moto_url: str) -> Shared:
    del moto_url
    suffix = uuid.uuid4().hex[:8]
    admin = admin_clients()
    table = f"ab-state-{suffix}"
    store.create_state_table(admin.dynamodb, table)
    topic = admin.sns.create_topic(Name=f"ab-{suffix}")["TopicArn"]
    sqs = _session().client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName=f"ab-{suffix}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    admin.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return Shared(table, topic, queue_url)


def new_world(
    shared: Shared, on_winner: str = "notify", counts: dict[str, tuple[int, int]] = COUNTS
) -> AbWorld:
    """A fresh endpoint (real, in moto) with its metrics, on the shared table and topic."""
    suffix = uuid.uuid4().hex[:8]
    admin = admin_clients()
    endpoint = f"ab-{suffix}"
    create_endpoint(admin, endpoint, {"control": 1.0, "challenger": 1.0}, suffix)
    spec = EvaluatorSpec(
        endpoint_name=endpoint,
        variants=("control", "challenger"),
        weights=(("control", 50), ("challenger", 50)),
        successes=SUCCESSES,
        trials=TRIALS,
        min_samples=1000,
        significance=0.05,
        on_winner="promote" if on_winner == "promote" else "notify",
        window_hours=168,
        every_minutes=60,
    )
    admin.cloudwatch.put_metric_data(
        Namespace=SUCCESSES.namespace,
        MetricData=[_datum(SUCCESSES, endpoint, v, n) for v, (n, _) in counts.items()],
    )
    admin.cloudwatch.put_metric_data(
        Namespace=TRIALS.namespace,
        MetricData=[_datum(TRIALS, endpoint, v, n) for v, (_, n) in counts.items()],
    )
    # An earlier run opened the test an hour ago (it started at 10:00): the faulty run is not the
    # first, as almost every run is not.
    ab_evaluator.open_test(admin.dynamodb, shared.table, spec, NOW.timestamp() - 3600)
    env = {"AB_SPEC": spec.to_json(), "STATE_TABLE": shared.table, "TOPIC_ARN": shared.topic}
    sqs = _session().client("sqs", region_name=REGION)
    clients = make_clients(REGION, _session())
    return AbWorld(spec, env, clients, admin, sqs, shared.queue_url, shared.table)


def _datum(ref: MetricRef, endpoint: str, variant: str, value: int) -> dict[str, Any]:
    return {
        "MetricName": ref.metric,
        "Dimensions": ref.dims(endpoint, variant),
        "Value": float(value),
        "Timestamp": NOW - timedelta(minutes=30),
    }


# --------------------------------------------------------------------------- fault injection

SERVICE = {
    "GetMetricData": "cloudwatch",
    "PutItem": "dynamodb",
    "UpdateItem": "dynamodb",
    "GetItem": "dynamodb",
    "Publish": "sns",
    "UpdateEndpointWeightsAndCapacities": "sagemaker",
}
# Which UpdateItem: each of the evaluator's writes, told apart by its expression.
WRITES = {
    "open": b"if_not_exists(started_at",
    "claim": b"attribute_not_exists(winner)",
    "clear": b"REMOVE outbox",
    "promoted": b"promoted_at",
}


def _matches(body: Any, marker: bytes | None) -> bool:
    if marker is None:
        return True
    raw = body if isinstance(body, bytes) else str(body or "").encode()
    return marker in raw


def inject(w: AbWorld, op: str, fault: str, marker: bytes | None = None) -> None:
    """The evaluator's next call of `op` (whose body holds `marker`) meets `fault`, once."""
    service = SERVICE[op]
    client: Any = getattr(w.clients, service)
    hyphen = client.meta.service_model.service_id.hyphenize()
    left = [1]

    if fault == "lost":
        session = URLLib3Session()

        def send(request: Any, **_: Any) -> None:
            if left[0] <= 0 or not _matches(request.body, marker):
                return
            left[0] -= 1
            session.send(request)  # it lands ...
            raise ReadTimeoutError(endpoint_url=request.url)  # ... and the answer is lost

        client.meta.events.register(f"before-send.{hyphen}.{op}", send)
        return

    def answer(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if left[0] <= 0 or not _matches(params.get("body"), marker):
            return None
        left[0] -= 1
        return injected_error(service, fault)

    client.meta.events.register(f"before-call.{hyphen}.{op}", answer)


def converged(w: AbWorld, *, promoted: bool) -> None:
    """Where a run without faults ends: the true winner, told at least once, nothing pending."""
    state = w.state()
    assert state is not None and state.winner == "challenger", (state, w.errors)
    assert state.outbox == () and not state.promote_pending, (state, w.errors)
    notices = w.delivered()
    winners = [n for n in notices if n["decision"] == "winner"]
    assert winners and all(n["winner"] == "challenger" for n in winners), notices
    if promoted:
        assert [n["decision"] for n in notices].count("promoted") >= 1, notices
        assert w.weights() == {"control": 0.0, "challenger": 1.0}
    else:
        assert w.weights() == {"control": 1.0, "challenger": 1.0}  # notify moves nothing
    assert all(r is None or r["winner"] in (None, "challenger") for r in w.results)


CELLS = [
    ("GetMetricData", None),
    ("UpdateItem", "open"),
    ("PutItem", None),
    ("UpdateItem", "claim"),
    ("GetItem", None),
    ("Publish", None),
    ("UpdateItem", "clear"),
]


@pytest.mark.parametrize("fault", ["throttle", "5xx", "denied", "lost"])
@pytest.mark.parametrize(("op", "which"), CELLS, ids=[f"{o}-{w or ''}" for o, w in CELLS])
def test_a_fault_at_any_call_never_loses_or_invents_a_winner(
    shared: Shared, op: str, which: str | None, fault: str
) -> None:
    w = new_world(shared)
    inject(w, op, fault, None if which is None else WRITES[which])
    first = w.run(NOW.timestamp())
    if op == "GetMetricData" and fault != "lost":
        # Unreadable counts decide nothing, and say why; nothing is claimed.
        assert first is not None and first["decision"] == "none", first
        assert first["reason"].startswith("metrics unreadable, no decision: GetMetricData")
        assert w.state() is not None and w.state().winner is None  # type: ignore[union-attr]
    if op == "Publish" and fault != "lost":
        # Claimed, the notice kept in the outbox for the next run.
        assert first is not None and first["actions"] == ["claimed"], first
        assert first["notices_pending"] == 1
        assert w.delivered() == []
    if op == "UpdateItem" and which == "claim" and fault == "lost":
        # The landed claim, retried by botocore, fails its condition: recognised as ours.
        assert first is not None and first["actions"] == ["claimed", "notified"], (first, w.errors)
    w.run(NOW.timestamp() + 3600)
    w.run(NOW.timestamp() + 7200)
    converged(w, promoted=False)


PROMOTE_CELLS = [
    ("UpdateEndpointWeightsAndCapacities", None),
    ("UpdateItem", "promoted"),
    ("UpdateItem", "claim"),
]


@pytest.mark.parametrize("fault", ["throttle", "5xx", "denied", "lost"])
@pytest.mark.parametrize(
    ("op", "which"), PROMOTE_CELLS, ids=[f"{o}-{w or ''}" for o, w in PROMOTE_CELLS]
)
def test_a_fault_around_a_promotion_still_promotes_once_and_tells(
    shared: Shared, op: str, which: str | None, fault: str
) -> None:
    w = new_world(shared, on_winner="promote")
    inject(w, op, fault, None if which is None else WRITES[which])
    first = w.run(NOW.timestamp())
    if op == "UpdateEndpointWeightsAndCapacities" and fault != "lost":
        assert first is not None and first["actions"][:2] == [
            "claimed",
            "promote_failed: "
            "UpdateEndpointWeightsAndCapacities "
            + {
                "throttle": "ThrottlingException",
                "5xx": "InternalFailure",
                "denied": "AccessDeniedException",
            }[fault]
            + f": injected {fault}",
        ], first
        assert w.weights() == {"control": 1.0, "challenger": 1.0}
        state = w.state()
        assert state is not None and state.promote_pending
    w.run(NOW.timestamp() + 3600)
    w.run(NOW.timestamp() + 7200)
    converged(w, promoted=True)


PARTIAL = [
    # (status of the challenger's Orders result, messages)
    ("InternalError", []),
    ("Forbidden", [{"Code": "Forbidden", "Value": "no access to Shop/Business"}]),
    ("PartialData", []),
]


@pytest.mark.parametrize(("status", "messages"), PARTIAL)
def test_a_metric_result_that_is_not_complete_is_no_count(
    shared: Shared, status: str, messages: list[dict[str, str]]
) -> None:
    """AWS: GetMetricData answers 200 with a per-query StatusCode and no values for the query it
    could not serve; before this, a missing Orders sum read as zero conversions and the other
    variant won."""
    w = new_world(shared, counts={"control": (640, 10000), "challenger": (500, 10000)})
    cw: Any = w.clients.cloudwatch
    left = [2]  # both pages of the Orders read in this run (trials are read first)

    def edit(parsed: dict[str, Any], model: Any, **_: Any) -> None:
        results = parsed.get("MetricDataResults", [])
        if left[0] <= 0 or not any(r.get("Values") and max(r["Values"]) < 1000 for r in results):
            return
        left[0] -= 1
        for r in results:
            if r["Id"] == "v0":  # control's successes: the one that would make it win
                r.update(
                    {"StatusCode": status, "Values": [], "Timestamps": [], "Messages": messages}
                )

    cw.meta.events.register("after-call.cloudwatch.GetMetricData", edit)
    out = w.run(NOW.timestamp())
    assert out is not None and out["decision"] == "none"
    assert out["reason"] == (
        f"metrics unreadable, no decision: GetMetricData Orders: control {status}"
        + (f" ({messages[0]['Value']})" if messages else "")
    )
    assert w.state() is not None and w.state().winner is None  # type: ignore[union-attr]
    assert w.delivered() == []


def test_partial_data_with_a_next_token_is_read_to_the_last_page(shared: Shared) -> None:
    """AWS: PartialData with a NextToken is CloudWatch's pagination: the rest comes on the next
    page and the sums are complete."""
    w = new_world(shared)
    cw: Any = w.clients.cloudwatch
    pages: list[dict[str, Any]] = []

    def first_page(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        del params
        pages.append({})
        if len(pages) % 2 == 1:  # the first page of each read: half of the control's data
            parsed = {
                "MetricDataResults": [
                    {"Id": "v0", "StatusCode": "PartialData", "Values": [], "Timestamps": []},
                    {"Id": "v1", "StatusCode": "PartialData", "Values": [], "Timestamps": []},
                ],
                "NextToken": "page-2",
                "ResponseMetadata": {"HTTPStatusCode": 200},
            }
            return AWSResponse("https://injected", 200, HTTPHeaders(), None), parsed
        return None

    cw.meta.events.register("before-call.cloudwatch.GetMetricData", first_page)
    out = w.run(NOW.timestamp())
    assert len(pages) == 4  # two reads (trials, successes), two pages each
    assert out is not None and out["winner"] == "challenger", out


def test_a_successes_metric_with_no_datapoints_for_a_serving_variant_is_no_count(
    shared: Shared,
) -> None:
    """A business metric published without this variant's dimensions sums to nothing: it is
    missing, not zero conversions."""
    w = new_world(shared, counts={"challenger": (500, 10000)})
    w.admin.cloudwatch.put_metric_data(
        Namespace=TRIALS.namespace,
        MetricData=[
            {
                "MetricName": TRIALS.metric,
                "Dimensions": TRIALS.dims(w.spec.endpoint_name, "control"),
                "Value": 10000.0,
                "Timestamp": NOW - timedelta(minutes=30),
            }
        ],
    )
    out = w.run(NOW.timestamp())
    assert out is not None and out["decision"] == "none"
    assert "no Shop/Business/Orders datapoint at all for control" in out["reason"]


def test_a_sample_ratio_mismatch_holds_and_is_noticed_once(shared: Shared) -> None:
    w = new_world(shared, counts={"control": (500, 12000), "challenger": (640, 8000)})
    first = w.run(NOW.timestamp())
    second = w.run(NOW.timestamp() + 3600)
    assert first is not None and second is not None
    assert first["reason"].startswith("sample ratio mismatch")
    assert (first["actions"], second["actions"]) == (["srm_noticed", "notified"], [])
    notices = w.delivered()
    assert len(notices) == 1 and "sample ratio mismatch" in notices[0]["subject"]


def test_a_changed_spec_restarts_the_test_at_the_next_hour(shared: Shared) -> None:
    """Counts gathered under other weights are no evidence for these."""
    w = new_world(shared)
    started = w.state()
    assert started is not None and started.started_at == NOW.timestamp() - 7200
    spec = json.loads(w.env["AB_SPEC"])
    spec["weights"] = [["control", 70], ["challenger", 30]]
    w.env["AB_SPEC"] = json.dumps(spec)
    out = w.run(NOW.timestamp())
    state = w.state()
    assert state is not None and state.started_at == NOW.timestamp() + 3600
    assert out is not None and out["winner"] is None
    assert [a["trials"] for a in out["arms"]] == [0, 0]
