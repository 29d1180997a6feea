"""Deploy-time awareness under mocks: a fake outcome reader stands in for the state table."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from sagemaker_rollouts.infra.awareness import RolledBackCandidateError
from sagemaker_rollouts.infra.program import export_outputs
from sagemaker_rollouts.infra.render import render
from sagemaker_rollouts.lambdas.rollout import RolloutOutcome
from sagemaker_rollouts.simulator.mockrun import OfflineRun, run_function_offline
from sagemaker_rollouts.strategies.plan import DeploymentPlan
from tests import plan_fixtures as fx

AT = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def reader(outcomes: dict[str, RolloutOutcome]):
    asked: list[str] = []

    def read(rollout_id: str) -> RolloutOutcome | None:
        asked.append(rollout_id)
        return outcomes.get(rollout_id)

    read.asked = asked  # type: ignore[attr-defined]
    return read


def outcome(plan: DeploymentPlan, status: str, **kw: object) -> dict[str, RolloutOutcome]:
    spec = next(fx.rollout_of(e) for e in plan.endpoints if e.strategy == "canary")
    assert spec is not None
    base = {"alarm": None, "at": None, "reason": ""} | kw
    return {spec.rollout_id: RolloutOutcome(spec.rollout_id, status, **base)}  # type: ignore[arg-type]


def run(plan: DeploymentPlan, outcomes: dict[str, RolloutOutcome]) -> OfflineRun:
    return run_function_offline(lambda: export_outputs(render(plan)), outcomes=reader(outcomes))


def test_rolled_back_candidate_stops_before_anything_is_declared() -> None:
    plan = fx.deployment(fx.recreate(), fx.canary(attempt=1))
    alarm = "fraud-detector-candidate-5xx"
    result = run(plan, outcome(plan, "rolled_back", alarm=alarm, at=AT, reason="5xx over 5"))
    assert isinstance(result.error, RolledBackCandidateError)
    assert result.resources == []  # not even the other endpoint or the stack key
    message = str(result.error)
    assert "fraud-detector" in message
    assert alarm in message
    assert "2026-01-01T00:00:00Z" in message
    assert "endpoints.fraud.strategy.canary.attempt" in message
    assert "canary.attempt' 2" in message  # the next attempt number


def test_rolled_back_by_operator_abort_names_no_alarm() -> None:
    plan = fx.deployment(fx.canary(attempt=3))
    result = run(plan, outcome(plan, "rolled_back", at=AT, reason="operator abort"))
    assert isinstance(result.error, RolledBackCandidateError)
    assert "operator abort" in str(result.error)
    assert "canary.attempt' 4" in str(result.error)


def test_a_new_attempt_is_a_new_rollout_and_deploys() -> None:
    rolled = fx.deployment(fx.canary(attempt=1))
    retry = fx.deployment(fx.canary(attempt=2))
    result = run(retry, outcome(rolled, "rolled_back", alarm="x", at=AT))
    assert result.error is None
    assert result.of_type("aws:lambda/function:Function")


def test_completed_rollout_renders_the_candidate_alone() -> None:
    plan = fx.deployment(fx.canary())
    result = run(plan, outcome(plan, "completed", at=AT))
    assert result.error is None
    (config,) = result.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    variants = config.inputs["productionVariants"]
    assert [(v["variantName"], v["initialVariantWeight"]) for v in variants] == [
        ("candidate", 100.0)
    ]
    # It now carries all traffic: at least the stable fleet's size.
    assert variants[0]["initialInstanceCount"] == 3
    models = result.of_type("aws:sagemaker/model:Model")
    assert [m.name for m in models] == ["fraud-model-v2"]
    # No hook: nothing left to step, so no schedule, no alarm rule, no function.
    for token in (
        "aws:lambda/function:Function",
        "aws:cloudwatch/eventRule:EventRule",
        "sagemaker-rollouts:index:CanaryHook",
    ):
        assert result.of_type(token) == [], token
    alarms = [
        a.inputs["dimensions"]["VariantName"]
        for a in result.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    ]
    assert alarms and set(alarms) == {"candidate"}
    # The state table stays: it holds the rollout's history.
    assert result.of_type("aws:dynamodb/table:Table")
    assert result.outputs["completed_canaries"] == ["fraud"]


@pytest.mark.parametrize("status", ["in_progress", "paused", "failed"])
def test_other_outcomes_render_the_plan(status: str) -> None:
    plan = fx.deployment(fx.canary())
    result = run(plan, outcome(plan, status))
    assert result.error is None
    (config,) = result.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    weights = {
        v["variantName"]: v["initialVariantWeight"] for v in config.inputs["productionVariants"]
    }
    assert weights == {"stable": 95.0, "candidate": 5.0}
    (fn,) = result.of_type("aws:lambda/function:Function")
    assert json.loads(fn.inputs["environment"]["variables"]["ROLLOUT_SPEC"])["rollout_id"]


def test_only_canary_candidates_are_looked_up() -> None:
    plan = fx.deployment(fx.recreate(), fx.canary(), fx.shadow())
    read = reader({})
    result = run_function_offline(lambda: export_outputs(render(plan)), outcomes=read)
    assert result.error is None
    assert read.asked == [fx.rollout_of(fx.canary()).rollout_id]  # type: ignore[attr-defined]


def test_the_real_reader_finds_nothing_before_the_first_up() -> None:
    """Stands in for the first `pulumi up` in an account: the state table does not exist yet,
    so DynamoDB answers ResourceNotFoundException and the reader reports no outcome."""
    from sagemaker_rollouts.infra.awareness import dynamodb_reader
    from sagemaker_rollouts.simulator.moto_server import moto_server

    with moto_server():
        read = dynamodb_reader("sagemaker-rollouts-test-rollouts", "us-east-1")
        assert read("fraud-detector/fp-v2/1") is None


def test_the_default_reader_needs_no_aws_without_canaries() -> None:
    from sagemaker_rollouts.infra.awareness import default_reader, no_outcomes

    assert default_reader(fx.deployment(fx.recreate())) is no_outcomes


@pytest.mark.parametrize("rollouts", [1, 12, 150])
def test_the_state_table_is_read_in_one_batch_per_hundred_rollouts(rollouts: int) -> None:
    """Deploy-time reads before anything is declared: one BatchGetItem per 100 canary rollouts
    (DynamoDB's limit per request), not one GetItem per endpoint. Stands in for a stack whose
    canaries ran: every other rollout has a state item, the rest none yet."""
    from sagemaker_rollouts.infra.awareness import dynamodb_reader, read_outcomes
    from sagemaker_rollouts.lambdas import store
    from sagemaker_rollouts.lambdas.controller import RolloutState
    from sagemaker_rollouts.simulator.moto_server import moto_server

    table = "sagemaker-rollouts-batch-rollouts"
    ids = [f"fraud-{i}/fp/1" for i in range(rollouts)]
    with moto_server():
        read = dynamodb_reader(table, "us-east-1")
        client = read._dynamodb()  # type: ignore[attr-defined]
        store.create_state_table(client, table)
        for i, rid in enumerate(ids[::2]):
            status = "rolled_back" if i % 2 else "completed"
            state = RolloutState(status, 0, AT, 1, rollback_alarm="a" if i % 2 else None)
            item = store.state_to_item(rid, state, 0)
            client.put_item(TableName=table, Item=item)
        calls: list[str] = []
        client.meta.events.register(
            "before-call.dynamodb.*", lambda model, **_: calls.append(model.name)
        )
        found = read_outcomes(read, ids)
    assert calls == ["BatchGetItem"] * -(-rollouts // 100)
    assert sorted(found) == sorted(ids[::2])
    assert {o.status for o in found.values()} <= {"completed", "rolled_back"}
    assert all(found[rid].rollout_id == rid for rid in found)


def test_every_endpoint_and_the_state_table_are_read_at_the_same_moment() -> None:
    """SageMaker has no batch DescribeEndpoint: up to `READ_CONCURRENCY` endpoints the reads
    are all in flight at once, and the state table is read while they are, so the wait is one
    endpoint's whatever their number. A barrier every read must reach together, or it times out."""
    import threading

    from sagemaker_rollouts.infra import awareness

    count = 12
    assert count < awareness.READ_CONCURRENCY
    plan = fx.canaries(count)
    barrier = threading.Barrier(count + 1, timeout=30)
    seen: list[str] = []
    asked: list[str] = []

    def read(name: str) -> None:
        seen.append(name)
        barrier.wait()

    def outcomes(rollout_id: str) -> RolloutOutcome | None:
        if not asked:
            barrier.wait()
        asked.append(rollout_id)
        return None

    awareness.check(plan, outcomes, read)
    assert sorted(seen) == sorted(e.endpoint_name for e in plan.endpoints)
    assert sorted(asked) == sorted(fx.rollout_of(e).rollout_id for e in plan.endpoints)


def test_throttled_reads_back_off_and_every_endpoint_is_still_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stands in for SageMaker and DynamoDB throttling a burst of deploy-time reads (HTTP 400
    ThrottlingException; moto never throttles): the first 3 attempts of every DescribeEndpoint
    and ListTags, and the first 4 of the one BatchGetItem, are answered with it at the wire: more
    than botocore's default 3 attempts survive. The readers retry `READ_RETRIES` times with
    standard backoff, so `pulumi up` goes on knowing every endpoint and outcome instead of
    stopping; backoff delays are zeroed to keep the test quick."""
    from botocore.retries import standard

    from sagemaker_rollouts.infra import awareness
    from sagemaker_rollouts.lambdas import store
    from sagemaker_rollouts.lambdas.controller import RolloutState
    from sagemaker_rollouts.simulator.moto_server import moto_server
    from tests.moto_fixtures import create_endpoint, throttle_wire

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda *_a, **_k: 0.0)
    plan = fx.canaries(4)
    table = "sagemaker-rollouts-throttled-rollouts"
    made: list[object] = []
    original = awareness.aws_client

    def throttled_client(service: str, *args: object, **kwargs: object) -> object:
        client = original(service, *args, **kwargs)  # type: ignore[arg-type]
        throttles = {"sagemaker": {"DescribeEndpoint": 3, "ListTags": 3}}
        throttles["dynamodb"] = {"BatchGetItem": 4}
        for operation, times in throttles.get(service, {}).items():
            throttle_wire(client, operation, times=times, per_request=True)
        made.append(client)
        return client

    with moto_server():
        from tests.moto_fixtures import Clients, make_clients

        admin: Clients = make_clients("us-east-1")
        for i, e in enumerate(plan.endpoints):
            create_endpoint(admin, e.endpoint_name, {"stable": 90.0, "candidate": 10.0}, f"t{i}")
        store.create_state_table(admin.dynamodb, table)
        rid = fx.rollout_of(plan.endpoints[0]).rollout_id
        state = RolloutState("completed", 0, AT, 1)
        admin.dynamodb.put_item(TableName=table, Item=store.state_to_item(rid, state, 0))
        monkeypatch.setattr(awareness, "aws_client", throttled_client)
        aware = awareness.check(
            plan,
            awareness.dynamodb_reader(table, "us-east-1"),
            awareness.sagemaker_endpoint_reader("us-east-1"),
        )
    assert len(made) == 2  # one client per service for all the reads
    assert sorted(aware.live) == sorted(e.key for e in plan.endpoints)
    assert all(
        dict(live.weights) == {"stable": 90.0, "candidate": 10.0} for live in aware.live.values()
    )
    assert {k: o.status for k, o in aware.outcomes.items()} == {"fraud0": "completed"}


def test_a_burst_throttled_to_the_last_attempt_exhausts_no_retry_quota(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stands in for SageMaker throttling a whole burst of deploy-time reads for longer (HTTP 400
    ThrottlingException at the wire; moto never throttles): every DescribeEndpoint and ListTags
    of 8 endpoints is throttled on its first `READ_RETRIES - 1` attempts. That is within each
    read's own attempts, but 16 reads x 9 retries cost a shared client's botocore retry quota
    (500 units, 5 per throttled retry, `botocore/retries/quota.py`, `standard.RetryQuotaChecker`)
    more than it holds: with the quota a read is refused its retry long before its last attempt
    and `pulumi up` stops on a throttle its own retries would have outlasted."""
    from botocore.retries import standard

    from sagemaker_rollouts.infra import awareness
    from sagemaker_rollouts.simulator.moto_server import moto_server
    from tests.moto_fixtures import Clients, create_endpoint, make_clients, throttle_wire

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda *_a, **_k: 0.0)
    plan = fx.deployment(*fx.canaries(8).endpoints)
    original = awareness.aws_client
    times = awareness.READ_RETRIES - 1

    def throttled_client(service: str, *args: object, **kwargs: object) -> object:
        client = original(service, *args, **kwargs)  # type: ignore[arg-type]
        for operation in ("DescribeEndpoint", "ListTags"):
            throttle_wire(client, operation, times=times, per_request=True)
        return client

    with moto_server():
        admin: Clients = make_clients("us-east-1")
        for i, e in enumerate(plan.endpoints):
            create_endpoint(admin, e.endpoint_name, {"stable": 90.0, "candidate": 10.0}, f"q{i}")
        monkeypatch.setattr(awareness, "aws_client", throttled_client)
        found = awareness.read_endpoints(
            awareness.sagemaker_endpoint_reader("us-east-1"),
            [e.endpoint_name for e in plan.endpoints],
        )
    assert sorted(found) == sorted(e.endpoint_name for e in plan.endpoints)


def test_no_endpoint_read_starts_once_one_has_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failing read stops `pulumi up`; the reads still queued behind it (more endpoints than
    `READ_CONCURRENCY`) must not each run their whole retries first. One reader thread here, so
    the queue order is the names' order."""
    from sagemaker_rollouts.infra import awareness

    monkeypatch.setattr(awareness, "READ_CONCURRENCY", 1)
    asked: list[str] = []

    def read(name: str) -> None:
        asked.append(name)
        if name == "ep-1":
            raise awareness.AwsReadError(name, RuntimeError("expired"), profile=None)

    names = [f"ep-{i}" for i in range(6)]
    with pytest.raises(awareness.AwsReadError, match="ep-1"):
        awareness.read_endpoints(read, names)
    assert asked == ["ep-0", "ep-1"]


def _state_table_answering(
    monkeypatch: pytest.MonkeyPatch, answer: Callable[[list[str]], dict[str, Any]]
) -> Any:
    """A state-table reader whose BatchGetItem is answered by `answer(rollout ids)` (botocore's
    Stubber, no AWS): the stand-in for what moto never answers."""
    from botocore.stub import ANY, Stubber

    from sagemaker_rollouts.infra import awareness
    from sagemaker_rollouts.lambdas import store

    monkeypatch.setattr(store.time, "sleep", lambda _s: None)
    original = awareness.aws_client

    def stubbed(service: str, *args: Any, **kwargs: Any) -> Any:
        client = original(service, *args, **kwargs)
        stub = Stubber(client)
        for _ in range(10):
            stub.add_response("batch_get_item", answer(ids), {"RequestItems": ANY})
        stub.activate()
        return client

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setattr(awareness, "aws_client", stubbed)
    plan = fx.canaries(2)
    ids = [fx.rollout_of(e).rollout_id for e in plan.endpoints]
    return plan, awareness.dynamodb_reader("rollouts-state", "us-east-1")


def _unprocessed(ids: list[str]) -> dict[str, Any]:
    keys = [{"pk": {"S": rid}, "sk": {"S": "STATE"}} for rid in ids]
    return {
        "Responses": {"rollouts-state": []},
        "UnprocessedKeys": {"rollouts-state": {"Keys": keys}},
    }


def _malformed(ids: list[str]) -> dict[str, Any]:
    items = [{"pk": {"S": rid}, "sk": {"S": "STATE"}, "status": {"S": "??"}} for rid in ids]
    return {"Responses": {"rollouts-state": items}, "UnprocessedKeys": {}}


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        # DynamoDB under throttling answers BatchGetItem 200 with the keys it could not read in
        # UnprocessedKeys (DynamoDB API reference, BatchGetItem), for as long as it throttles.
        (_unprocessed, "unprocessed"),
        # A state item edited by hand or by another tool.
        (_malformed, "state item"),
    ],
)
def test_a_state_table_that_cannot_be_read_stops_the_run_with_its_message(
    monkeypatch: pytest.MonkeyPatch, answer: Callable[[list[str]], dict[str, Any]], says: str
) -> None:
    """Not a traceback: a `pulumi.RunError` (`AwsReadError`) naming the table and the cause."""
    import pulumi

    from sagemaker_rollouts.infra import awareness

    plan, reader = _state_table_answering(monkeypatch, answer)
    with pytest.raises(awareness.AwsReadError, match=says) as caught:
        awareness.check(plan, reader, awareness.no_endpoints)
    assert isinstance(caught.value, pulumi.RunError)
    assert "rollouts-state" in str(caught.value)
