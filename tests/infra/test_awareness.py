"""Deploy-time awareness under mocks: a fake outcome reader stands in for the state table."""

from __future__ import annotations

import json

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
