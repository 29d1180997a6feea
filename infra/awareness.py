"""Deploy-time awareness: what `pulumi up` knows about the canary rollouts it is about to deploy.

Before anything is declared, `render` asks an `OutcomeReader` for the recorded outcome of each
canary endpoint's candidate rollout (its id is `RolloutSpec.rollout_id`, known from config alone):

- `rolled_back`: stop with `RolledBackCandidateError` naming the endpoint, the alarm, the time and
  the config key that starts a new attempt. A rolled-back candidate is never redeployed by accident.
- `completed`: render the candidate as the only production variant (see `sagemaker_rollouts.infra.render`).
- anything else, or no record: render the plan as it is.

The reader for real runs queries the stack's state table through `sagemaker_rollouts.lambdas.store.read_outcome`.
Offline runs (`sagemaker_rollouts.simulator.mockrun`) install an override for the duration of one run, so `rollout plan`
and the tests never call AWS.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import dataclasses
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, assert_never, cast

import pulumi

from sagemaker_rollouts.infra.errors import AwsReadError
from sagemaker_rollouts.lambdas.rollout import RolloutOutcome
from sagemaker_rollouts.strategies import native, redeploy
from sagemaker_rollouts.strategies.plan import (
    ABPlan,
    BlueGreenPlan,
    CanaryPlan,
    DeploymentPlan,
    EndpointPlan,
    RecreatePlan,
    RollingPlan,
    ShadowPlan,
)

READ_CONCURRENCY = 50
"""Endpoint reads in flight at once (DescribeEndpoint, then ListTags), and the SageMaker client's
connection pool to match: up to 50 canaries the wait is two round trips whatever their number.
SageMaker has no batch DescribeEndpoint and publishes no control-plane rate for it; a throttled
read is retried (`READ_RETRIES`) with botocore's standard backoff, never failed at once."""

READ_RETRIES = 10
"""Attempts per deploy-time read in botocore's standard retry mode (its default is 3): a burst of
reads that SageMaker or DynamoDB throttles (ThrottlingException, ProvisionedThroughputExceeded)
backs off and succeeds instead of stopping `pulumi up` (botocore `retries/standard.py`)."""

_LOADER_LOCK = threading.Lock()
_LOADER: list[Any] = []  # one botocore data loader for the process (service models, endpoints)


def aws_client(service: str, region: str | None, profile: str | None, *, pool: int = 10) -> Any:
    """A client for a deploy-time read with the deployer's credentials (`aws:profile`).

    A botocore client (what boto3 hands out too, without importing boto3). Every client of the
    process shares one botocore data loader, so the service models, endpoints and partitions are
    parsed once (a second session would parse them again, ~80 ms); each client still gets its own
    session, hence its own credential chain and region. Retries: botocore's standard mode,
    `READ_RETRIES` attempts. `pool`: connections kept (botocore's `max_pool_connections`, default
    10): as many as the reads that run at once. Raises botocore's `ProfileNotFound` (a
    `BotoCoreError`) for an unknown profile, as the readers' callers expect.
    """
    import botocore.loaders
    import botocore.session
    from botocore.config import Config

    with _LOADER_LOCK:  # sessions are not thread-safe; the clients they make are
        if not _LOADER:
            _LOADER.append(botocore.loaders.create_loader())
        session = botocore.session.Session(profile=profile or None)
        session.register_component("data_loader", _LOADER[0])
        config = Config(
            retries={"mode": "standard", "max_attempts": READ_RETRIES}, max_pool_connections=pool
        )
        client = session.create_client(service, region_name=region or None, config=config)
    _retries_without_quota(client)
    return client


class _NoRetryQuota:
    """A retry quota that never refuses: `READ_RETRIES` attempts per read is the only limit."""

    def acquire_retry_quota(self, context: Any) -> bool:
        del context
        return True


def _retries_without_quota(client: Any) -> None:
    """Swap the client's standard-mode retry handler for one without botocore's retry quota.

    botocore's standard mode gives each client a retry quota (`botocore/retries/quota.py`: 500
    units; `standard.RetryQuotaChecker`: 5 per throttled retry, 14 per other retry, 1 or the
    retry's cost back per success) that stops a long-lived client's retry storm against a failing
    service. A deploy-time read client is one-shot and shared by up to `READ_CONCURRENCY` reads
    at once: 50 reads throttled twice each already spend it (500 / 5 = 100 retries), and then
    every further throttle fails at once, stopping `pulumi up` on a throttle each read's own
    `READ_RETRIES` attempts would have outlasted. The handler is botocore's own (same retry
    conditions, same backoff, including the throttling-aware scale of botocore versions that
    have one), registered under the id botocore registers it (`retry-config-<service>`,
    `standard.register_retry_handler`); only the quota is gone. A service failing for good still
    stops the run: each read gives up after its own attempts, and `read_endpoints` starts no
    read once one has failed."""
    import inspect

    from botocore.retries import standard

    name = client.meta.service_model.service_id.hyphenize()
    unique_id = f"retry-config-{name}"
    adapter = standard.RetryEventAdapter()
    backoff_args: dict[str, Any] = {}
    accepts = inspect.signature(standard.ExponentialBackoff).parameters
    detector_type = getattr(standard, "ThrottlingErrorDetector", None)
    if "service_name" in accepts:
        backoff_args["service_name"] = name
    if "throttling_detector" in accepts and detector_type is not None:
        backoff_args["throttling_detector"] = detector_type(adapter)
    handler_args: dict[str, Any] = {}
    if "service_name" in inspect.signature(standard.RetryHandler).parameters:
        handler_args["service_name"] = name  # long-polling operations, where botocore has them
    # The attempts botocore derived from the client's config (`max_attempts` retries + 1).
    attempts = client.meta.config.retries.get("total_max_attempts", READ_RETRIES + 1)
    handler = standard.RetryHandler(
        retry_policy=standard.RetryPolicy(
            retry_checker=standard.StandardRetryConditions(max_attempts=attempts),
            retry_backoff=standard.ExponentialBackoff(**backoff_args),
        ),
        retry_event_adapter=adapter,
        retry_quota=cast(Any, _NoRetryQuota()),  # the one method RetryHandler calls
        **handler_args,
    )
    client.meta.events.unregister(f"needs-retry.{name}", unique_id=unique_id)
    client.meta.events.register(f"needs-retry.{name}", handler.needs_retry, unique_id=unique_id)


OutcomeReader = Callable[[str], RolloutOutcome | None]
"""rollout id -> its recorded outcome, or None when nothing is recorded (or no table yet)."""

_OVERRIDE: contextvars.ContextVar[OutcomeReader | None] = contextvars.ContextVar(
    "sagemaker_rollouts_outcome_reader", default=None
)


def no_outcomes(rollout_id: str) -> RolloutOutcome | None:
    """The reader for a stack that has never run a rollout."""
    del rollout_id
    return None


def set_reader_override(reader: OutcomeReader | None) -> None:
    """Make `default_reader` return `reader` in the current context (offline runs only)."""
    _OVERRIDE.set(reader)


def dynamodb_reader(
    table_name: str, region: str | None, profile: str | None = None
) -> OutcomeReader:
    """Read outcomes from the stack's state table with the deployer's own AWS credentials.

    The client is created on first use, so stacks without canaries never touch AWS here.
    `read_outcome` returns None when the table does not exist yet (first `up`). Any other error
    (no credentials, access denied, keys still unprocessed after the batch's rounds, a state
    item that does not read back) stops the run as `AwsReadError` (a `pulumi.RunError`: the
    message, no traceback): deploying blind could redeploy a rolled-back candidate, which is
    exactly what this check exists to prevent. `profile` is the stack's
    `aws:profile`, so the check reads with the same credentials the provider deploys with.
    """
    return _TableOutcomes(table_name, region, profile)


class _TableOutcomes:
    """`dynamodb_reader`'s reader: one rollout by call, or all of them at once with `many`
    (one BatchGetItem per 100 rollouts, what `check` uses)."""

    def __init__(self, table_name: str, region: str | None, profile: str | None) -> None:
        self.table_name, self.region, self.profile = table_name, region, profile
        self._client: Any = None

    def _dynamodb(self) -> Any:
        if self._client is None:
            self._client = aws_client("dynamodb", self.region, self.profile)
        return self._client

    def __call__(self, rollout_id: str) -> RolloutOutcome | None:
        from botocore.exceptions import BotoCoreError, ClientError

        from sagemaker_rollouts.lambdas.store import MalformedState, read_outcome

        try:
            return read_outcome(self._dynamodb(), self.table_name, rollout_id)
        except (BotoCoreError, ClientError, MalformedState) as exc:
            what = f"rollout {rollout_id!r} from the state table {self.table_name!r}"
            raise AwsReadError(what, exc, profile=self.profile) from None

    def many(self, rollout_ids: Sequence[str]) -> dict[str, RolloutOutcome]:
        from botocore.exceptions import BotoCoreError, ClientError

        from sagemaker_rollouts.lambdas.store import MalformedState, UnreadKeys, read_outcomes

        if not rollout_ids:
            return {}
        try:
            return read_outcomes(self._dynamodb(), self.table_name, list(rollout_ids))
        except (BotoCoreError, ClientError, MalformedState, UnreadKeys) as exc:
            what = f"{len(rollout_ids)} rollout(s) from the state table {self.table_name!r}"
            raise AwsReadError(what, exc, profile=self.profile) from None


def read_outcomes(reader: OutcomeReader, rollout_ids: Sequence[str]) -> dict[str, RolloutOutcome]:
    """rollout id -> outcome for every id with one: in one batch when the reader offers `many`
    (the state table's reader), else one call per id (offline overrides, tests)."""
    many: Callable[[list[str]], dict[str, RolloutOutcome]] | None = getattr(reader, "many", None)
    if many is not None:
        return dict(many(list(rollout_ids)))
    found: dict[str, RolloutOutcome] = {}
    for rid in rollout_ids:
        outcome = reader(rid)
        if outcome is not None:
            found[rid] = outcome
    return found


def default_reader(plan: DeploymentPlan, profile: str | None = None) -> OutcomeReader:
    """The reader `render` uses when none is given: the offline override, or the state table."""
    override = _OVERRIDE.get()
    if override is not None:
        return override
    if plan.state_table_name is None:
        return no_outcomes
    return dynamodb_reader(plan.state_table_name, plan.region, profile)


def dynamodb_outcomes(plan: DeploymentPlan, profile: str | None = None) -> OutcomeReader:
    """The program's reader for real runs (`sagemaker_rollouts.infra.program.main`): see `default_reader`."""
    return default_reader(plan, profile)


@dataclass(frozen=True, slots=True)
class RolledBack:
    """A canary endpoint whose candidate was rolled back, and what the operator can do."""

    endpoint: EndpointPlan
    outcome: RolloutOutcome

    @property
    def retry_key(self) -> str:
        return f"endpoints.{self.endpoint.key}.strategy.canary.attempt"

    @property
    def next_attempt(self) -> int | None:
        tail = self.outcome.rollout_id.rsplit("/", 1)[-1]
        return int(tail) + 1 if tail.isdigit() else None

    def message(self) -> str:
        when = "at an unknown time"
        if self.outcome.at is not None:
            stamp = datetime.fromtimestamp(self.outcome.at, tz=UTC)
            when = "at " + stamp.isoformat(timespec="seconds").replace("+00:00", "Z")
        cause = (
            f"alarm {self.outcome.alarm!r}"
            if self.outcome.alarm is not None
            else "an operator or controller decision (no alarm)"
        )
        nxt = "N+1" if self.next_attempt is None else str(self.next_attempt)
        reason = f" ({self.outcome.reason})" if self.outcome.reason else ""
        return (
            f"endpoint {self.endpoint.endpoint_name!r} (config key endpoints.{self.endpoint.key}): "
            f"candidate rollout {self.outcome.rollout_id!r} was rolled back {when} by {cause}"
            f"{reason}. Not redeploying it. Ship a different model, or retry this candidate by "
            f"raising `{self.retry_key}` (a new attempt is a new rollout): "
            f"pulumi config set --path 'sagemaker-rollouts:{self.retry_key}' {nxt}"
        )


class RolledBackCandidateError(pulumi.RunError):
    """`pulumi up` refused to redeploy one or more rolled-back canary candidates.

    A `RunError`, so the Pulumi CLI shows the message without a Python traceback.
    """

    def __init__(self, rolled_back: Sequence[RolledBack]) -> None:
        self.rolled_back = tuple(rolled_back)
        lines = [r.message() for r in self.rolled_back]
        super().__init__("\n".join(lines))


@dataclass(frozen=True, slots=True)
class Awareness:
    """The outcome of every canary endpoint's candidate, read once before anything is declared."""

    outcomes: dict[str, RolloutOutcome]  # endpoint key -> outcome (only endpoints with a record)
    # endpoint key -> what DescribeEndpoint said (canary, blue/green, rolling endpoints that exist)
    live: dict[str, native.LiveEndpoint] = field(default_factory=dict[str, native.LiveEndpoint])

    def adjusted(self, plan: DeploymentPlan) -> DeploymentPlan:
        """`plan` with each running canary's config weights chosen so that an `up` never moves
        traffic back and, with an unchanged config, declares no change (strategies/redeploy.py).
        Completed canaries are rendered by `rendering(completed=True)` and left alone here."""
        endpoints: list[EndpointPlan] = []
        for e in plan.endpoints:
            if not isinstance(e.strategy_plan, CanaryPlan) or self.completed(e):
                endpoints.append(e)
                continue
            live = self.live.get(e.key)
            tags = None if live is None else dict(live.tags)
            weights = {} if live is None else dict(live.weights)
            percent = redeploy.candidate_percent(e, tags, weights)
            endpoints.append(redeploy.with_candidate_percent(e, percent))
        return dataclasses.replace(plan, endpoints=tuple(endpoints))

    def completed(self, endpoint: EndpointPlan) -> bool:
        found = self.outcomes.get(endpoint.key)
        return found is not None and found.status == "completed"


EndpointReader = Callable[[str], native.LiveEndpoint | None]
"""endpoint name -> what DescribeEndpoint and its tags say, or None when it does not exist."""

_ENDPOINT_OVERRIDE: contextvars.ContextVar[EndpointReader | None] = contextvars.ContextVar(
    "sagemaker_rollouts_endpoint_reader", default=None
)


def no_endpoints(endpoint_name: str) -> native.LiveEndpoint | None:
    """The endpoint reader of a stack whose endpoints do not exist yet (and of offline runs)."""
    del endpoint_name
    return None


def set_endpoint_reader_override(reader: EndpointReader | None) -> None:
    """Make `default_endpoint_reader` return `reader` in the current context (offline runs)."""
    _ENDPOINT_OVERRIDE.set(reader)


def sagemaker_endpoint_reader(region: str | None, profile: str | None = None) -> EndpointReader:
    """DescribeEndpoint + ListTags with the deployer's credentials (the stack's `aws:profile`).

    One client for every read (`aws_client`, a pool of `READ_CONCURRENCY` connections). A
    missing endpoint (SageMaker answers ValidationException "Could not find endpoint") is None:
    the first `up`. Other errors stop the run as `AwsReadError` (a `pulumi.RunError`): deploying
    blind over a rollback is what this prevents.
    """
    client: list[Any] = []
    lock = threading.Lock()

    def read(endpoint_name: str) -> native.LiveEndpoint | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            with lock:  # the first read makes the client; the others wait for it
                if not client:
                    client.append(aws_client("sagemaker", region, profile, pool=READ_CONCURRENCY))
            sm = client[0]
            try:
                described = sm.describe_endpoint(EndpointName=endpoint_name)
            except ClientError as exc:
                if "Could not find endpoint" in str(exc):
                    return None
                raise
            tags = sm.list_tags(ResourceArn=described["EndpointArn"]).get("Tags", [])
        except (BotoCoreError, ClientError) as exc:
            what = f"endpoint {endpoint_name!r} (DescribeEndpoint, ListTags)"
            raise AwsReadError(what, exc, profile=profile) from None
        return native.LiveEndpoint.from_describe(
            described, {str(t["Key"]): str(t["Value"]) for t in tags}
        )

    return read


def read_endpoints(reader: EndpointReader, names: Sequence[str]) -> dict[str, native.LiveEndpoint]:
    """endpoint name -> what `reader` says, for every endpoint that exists. SageMaker has no
    batch DescribeEndpoint (and its `Search` is eventually consistent and leaves out the pending
    deployment and rollback configuration a blue/green check needs), so the reads run
    concurrently, `READ_CONCURRENCY` at a time: up to that many endpoints the wait is one
    endpoint's. The first error propagates, and once a read has failed no read starts: the run
    stops anyway, and the queued reads of a failing service would each take their whole retries
    (minutes, beyond `READ_CONCURRENCY` endpoints) before the error is shown."""
    unique = list(dict.fromkeys(names))
    if len(unique) <= 1:
        found = [(n, reader(n)) for n in unique]
    else:
        failed = threading.Event()

        def guarded(name: str) -> native.LiveEndpoint | None:
            if failed.is_set():
                return None  # never seen: the failure itself is raised
            try:
                return reader(name)
            except BaseException:
                failed.set()
                raise

        with concurrent.futures.ThreadPoolExecutor(min(READ_CONCURRENCY, len(unique))) as pool:
            found = list(zip(unique, pool.map(guarded, unique), strict=True))
    return {n: live for n, live in found if live is not None}


def default_endpoint_reader(plan: DeploymentPlan) -> EndpointReader:
    """The offline override, `no_endpoints` when no endpoint is blue/green or rolling, or AWS."""
    override = _ENDPOINT_OVERRIDE.get()
    if override is not None:
        return override
    if not any(_reads_live(e) for e in plan.endpoints):
        return no_endpoints
    return sagemaker_endpoint_reader(plan.region, pulumi.Config("aws").get("profile"))


class RolledBackDeploymentError(pulumi.RunError):
    """`pulumi up` refused to run over a SageMaker-native (blue/green, rolling) rollback.

    A `RunError`, so the Pulumi CLI shows the message without a Python traceback.
    """

    def __init__(self, messages: Sequence[str]) -> None:
        self.messages = tuple(messages)
        super().__init__("\n".join(self.messages))


def check_native(plan: DeploymentPlan, reader: EndpointReader) -> None:
    """Raise `RolledBackDeploymentError` if SageMaker rolled back any blue/green or rolling
    endpoint and its `attempt` was not raised since. Reads only such endpoints."""
    problems: list[str] = []
    for e in plan.endpoints:
        match e.strategy_plan:
            case BlueGreenPlan() | RollingPlan() as deployment:
                attempt = deployment.attempt
            case RecreatePlan() | ShadowPlan() | CanaryPlan() | ABPlan():
                continue  # SageMaker rolls back only its own deployments
            case _:
                assert_never(e.strategy_plan)
        found = native.check_deploy(
            reader(e.endpoint_name),
            config_path=f"endpoints.{e.key}",
            strategy_key=e.strategy,
            attempt=attempt,
        )
        if found is not None:
            problems.append(found)
    if problems:
        raise RolledBackDeploymentError(problems)


def _reads_live(e: EndpointPlan) -> bool:
    """Endpoints whose live state this run needs: native deployments (rollbacks), canaries
    (weights) and A/B endpoints (variants that may leave, `infra.scaling_guard`)."""
    match e.strategy_plan:
        case BlueGreenPlan() | RollingPlan() | CanaryPlan() | ABPlan():
            return True
        case RecreatePlan() | ShadowPlan():
            return e.adopt
        case _:
            assert_never(e.strategy_plan)


class AdoptionError(pulumi.RunError):
    """`adopt: true` names an endpoint that does not exist: the import would fail.

    A `RunError`, so the Pulumi CLI shows the message without a Python traceback.
    """

    def __init__(self, missing: Sequence[EndpointPlan], region: str) -> None:
        self.missing = tuple(missing)
        super().__init__(
            "\n".join(
                f"endpoints.{e.key}.adopt: no endpoint named {e.endpoint_name!r} in {region} to "
                "adopt (DescribeEndpoint: Could not find endpoint); check endpoint_name and "
                "aws:region, or unset adopt to create it"
                for e in self.missing
            )
        )


def check(
    plan: DeploymentPlan, reader: OutcomeReader, endpoints: EndpointReader | None = None
) -> Awareness:
    """Read every canary candidate's outcome and every native endpoint's live config; raise if
    a canary candidate or a SageMaker-native deployment was rolled back.

    `endpoints` defaults to `default_endpoint_reader(plan)`. Invariant: raises before any
    resource is declared, listing every rolled-back endpoint.
    """
    read = default_endpoint_reader(plan) if endpoints is None else endpoints
    watched = [e for e in plan.endpoints if _reads_live(e)]
    canaries = [
        (e, p.rollout) for e in plan.endpoints if isinstance(p := e.strategy_plan, CanaryPlan)
    ]
    names = [e.endpoint_name for e in watched]
    ids = [spec.rollout_id for _, spec in canaries]
    # The state table is read while the endpoints are (independent reads: the wait is the
    # longer of the two, not their sum). Its errors surface after the endpoints' checks.
    if ids and names and read is not no_endpoints:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pending = pool.submit(contextvars.copy_context().run, read_outcomes, reader, ids)
            by_name = read_endpoints(read, names)
    else:
        pending = None
        by_name = read_endpoints(read, names)
    live = {e.key: by_name[e.endpoint_name] for e in watched if e.endpoint_name in by_name}
    # Offline (`no_endpoints`) nothing can be known about a live endpoint: not checked.
    missing = [e for e in plan.endpoints if e.adopt and e.key not in live]
    if missing and read is not no_endpoints:
        raise AdoptionError(missing, plan.region)
    check_native(plan, by_name.get)
    recorded = read_outcomes(reader, ids) if pending is None else pending.result()
    outcomes: dict[str, RolloutOutcome] = {}
    rolled_back: list[RolledBack] = []
    for endpoint, spec in canaries:
        outcome = recorded.get(spec.rollout_id)
        if outcome is None:
            continue
        outcomes[endpoint.key] = outcome
        if outcome.status == "rolled_back":
            rolled_back.append(RolledBack(endpoint, outcome))
    if rolled_back:
        raise RolledBackCandidateError(rolled_back)
    return Awareness(outcomes, live)
