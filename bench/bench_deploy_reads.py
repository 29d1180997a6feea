"""Deploy-time reads: what `pulumi up` reads before anything is declared, at 1 / 10 / 50 canaries.

Run: `python bench/bench_deploy_reads.py [--sizes 1 10 50] [--latency-ms 40]` (repository root,
venv active).

The product: `infra.awareness.check` with the real readers (`dynamodb_reader`: one BatchGetItem
per 100 rollouts; `sagemaker_endpoint_reader`: DescribeEndpoint + ListTags per endpoint,
`READ_CONCURRENCY` at a time, since SageMaker has no batch DescribeEndpoint; the state table read
while the endpoints are). The baseline: what
the program did before, three sequential calls per canary (GetItem, DescribeEndpoint, ListTags),
with clients made the same way (a session per service, in the timed run). Both run against moto on 127.0.0.1 with N canary endpoints created and
half of their rollouts recorded in the state table. moto runs in a process of its own, as AWS
would: in this process its request handling would take the GIL from the readers' threads and
the wait would measure moto. moto answers in a few milliseconds, so each API call is made to take
`--latency-ms` (a stand-in for AWS's round trip: every call sleeps that long in
`BaseClient._make_api_call` before it is sent), and calls are counted there. Prints calls, wall
seconds and this process's CPU seconds per size, the ratio product / baseline, and how the
product's wait grows from 1 endpoint to the largest size (flat would be 1.0).
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REGION = "us-east-1"
TABLE = "sagemaker-rollouts-bench-rollouts"


Answers = dict[tuple[str, bytes], tuple[int, dict[str, str], bytes]]
"""(URL, request body) -> moto's (status, headers, body) for that request."""


@contextmanager
def slowed(latency: float, answers: Answers) -> Iterator[Counter[str]]:
    """AWS as the readers see it: every API call is counted by operation name and answered
    `latency` seconds after it is sent, with moto's answer to the same request. The first time a
    request is seen it goes to moto and its answer is kept (the untimed warm-up sends them all);
    later it is replayed, so the timed runs measure this process, not moto's CPU (AWS's capacity
    does not shrink when we read 50 endpoints at once; a 2-core moto's does)."""
    from botocore.awsrequest import AWSResponse, HTTPHeaders
    from botocore.client import BaseClient
    from botocore.endpoint import Endpoint

    calls: Counter[str] = Counter()
    lock = threading.Lock()
    original_call: Callable[..., Any] = BaseClient._make_api_call  # type: ignore[attr-defined]
    original_send: Callable[..., Any] = Endpoint._send  # type: ignore[attr-defined]

    def call(self: Any, operation_name: str, api_params: Any) -> Any:
        with lock:
            calls[operation_name] += 1
        return original_call(self, operation_name, api_params)

    class _Raw:
        def __init__(self, body: bytes) -> None:
            self.body = body

        def stream(self, **_: Any) -> Iterator[bytes]:
            yield self.body

    def send(self: Any, request: Any) -> Any:
        body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
        key = (request.url, body)
        started = time.perf_counter()
        if key not in answers:
            response = original_send(self, request)
            answers[key] = (response.status_code, dict(response.headers), response.content)
        status, headers, content = answers[key]
        time.sleep(max(0.0, latency - (time.perf_counter() - started)))
        return AWSResponse(request.url, status, HTTPHeaders.from_dict(headers), _Raw(content))

    BaseClient._make_api_call = call  # type: ignore[attr-defined,method-assign]
    Endpoint._send = send  # type: ignore[attr-defined,method-assign]
    try:
        yield calls
    finally:
        BaseClient._make_api_call = original_call  # type: ignore[attr-defined,method-assign]
        Endpoint._send = original_send  # type: ignore[attr-defined,method-assign]


@contextmanager
def moto_process(region: str) -> Iterator[str]:
    """moto's server in a child process on a free 127.0.0.1 port, this process's environment
    pointed at it (fake credentials, `AWS_ENDPOINT_URL`) until the block ends."""
    import socket
    import subprocess
    import urllib.request

    from sagemaker_rollouts.simulator.moto_server import FAKE_ENV

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    child = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    saved = dict(os.environ)
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        os.environ.update(FAKE_ENV | {"AWS_DEFAULT_REGION": region, "AWS_REGION": region})
        os.environ["AWS_ENDPOINT_URL"] = url
        os.environ.pop("AWS_PROFILE", None)
        yield url
    finally:
        os.environ.clear()
        os.environ.update(saved)
        child.terminate()
        child.wait(timeout=10)


def _plan(n: int) -> Any:
    from tests import plan_fixtures as fx

    return fx.canaries(n)


def _provision(plan: Any) -> None:
    import boto3

    from sagemaker_rollouts.lambdas import store
    from sagemaker_rollouts.lambdas.controller import RolloutState
    from tests import plan_fixtures as fx

    sm = boto3.client("sagemaker", region_name=REGION)
    ddb = boto3.client("dynamodb", region_name=REGION)
    store.create_state_table(ddb, TABLE)
    role = "arn:aws:iam::123456789012:role/bench"
    for i, e in enumerate(plan.endpoints):
        name = e.endpoint_name
        sm.create_model(
            ModelName=f"{name}-m",
            ExecutionRoleArn=role,
            PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"},
        )
        sm.create_endpoint_config(
            EndpointConfigName=f"{name}-c",
            ProductionVariants=[
                {
                    "VariantName": v,
                    "ModelName": f"{name}-m",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                    "InitialVariantWeight": w,
                }
                for v, w in (("stable", 95.0), ("candidate", 5.0))
            ],
        )
        sm.create_endpoint(
            EndpointName=name, EndpointConfigName=f"{name}-c", Tags=[{"Key": "k", "Value": "v"}]
        )
        if i % 2 == 0:
            rid = fx.rollout_of(e).rollout_id
            state = RolloutState("completed", 0, 0.0, 1)
            ddb.put_item(TableName=TABLE, Item=store.state_to_item(rid, state, 0))


def product(plan: Any) -> None:
    from sagemaker_rollouts.infra import awareness

    awareness.check(
        plan,
        awareness.dynamodb_reader(TABLE, REGION),
        awareness.sagemaker_endpoint_reader(REGION),
    )


def baseline(plan: Any) -> None:
    """Three sequential calls per canary: the state item, the endpoint, its tags; its clients
    made in the timed run, as the product's readers make theirs (one session each)."""
    import boto3

    from tests import plan_fixtures as fx

    sm = boto3.session.Session().client("sagemaker", region_name=REGION)
    ddb = boto3.session.Session().client("dynamodb", region_name=REGION)
    for e in plan.endpoints:
        rid = fx.rollout_of(e).rollout_id
        ddb.get_item(TableName=TABLE, Key={"pk": {"S": rid}, "sk": {"S": "STATE"}})
        arn = sm.describe_endpoint(EndpointName=e.endpoint_name)["EndpointArn"]
        sm.list_tags(ResourceArn=arn)


def _timed(
    run: Callable[[], None], latency: float, answers: Answers
) -> tuple[float, float, Counter[str]]:
    """(wall seconds, this process's CPU seconds, calls by operation) of one run."""
    with slowed(latency, answers) as calls:
        t, c = time.perf_counter(), time.process_time()
        run()
        return time.perf_counter() - t, time.process_time() - c, calls


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--latency-ms", type=float, default=40.0)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved pairs per size")
    args = parser.parse_args()
    from sagemaker_rollouts.infra import awareness

    latency = args.latency_ms / 1000
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"each API call takes {args.latency_ms:.0f} ms (AWS round-trip stand-in); "
        f"endpoint reads {awareness.READ_CONCURRENCY} at a time; medians of {args.rounds} "
        "interleaved rounds (min-max)"
    )
    print(
        "| canaries | product calls | baseline calls | product s (CPU s) | baseline s (CPU s) "
        "| ratio |"
    )
    print("|---|---|---|---|---|---|")
    walls: dict[int, float] = {}
    for n in args.sizes:
        plan = _plan(n)
        product_runs: list[tuple[float, float, Counter[str]]] = []
        baseline_runs: list[tuple[float, float, Counter[str]]] = []
        with moto_process(REGION):
            _provision(plan)
            answers: Answers = {}
            for warm in (product, baseline):  # imports warm and moto's answers kept, untimed
                _timed(functools.partial(warm, plan), 0.0, answers)
            for _ in range(args.rounds):
                # a first `up` parses the service models once: the shared loader starts empty
                awareness._LOADER.clear()  # pyright: ignore[reportPrivateUsage]
                product_runs.append(_timed(functools.partial(product, plan), latency, answers))
                baseline_runs.append(_timed(functools.partial(baseline, plan), latency, answers))
        p_wall = statistics.median(r[0] for r in product_runs)
        b_wall = statistics.median(r[0] for r in baseline_runs)
        p_cpu = statistics.median(r[1] for r in product_runs)
        b_cpu = statistics.median(r[1] for r in baseline_runs)
        p_calls, b_calls = product_runs[0][2], baseline_runs[0][2]
        walls[n] = p_wall
        spread = lambda runs: f"{min(r[0] for r in runs):.2f}-{max(r[0] for r in runs):.2f}"  # noqa: E731
        fmt = lambda c: ", ".join(f"{k} {v}" for k, v in sorted(c.items()))  # noqa: E731
        print(
            f"| {n} | {sum(p_calls.values())} ({fmt(p_calls)}) | {sum(b_calls.values())} "
            f"({fmt(b_calls)}) | {p_wall:.2f} ({p_cpu:.2f}; {spread(product_runs)}) "
            f"| {b_wall:.2f} ({b_cpu:.2f}; {spread(baseline_runs)}) | {p_wall / b_wall:.2f} |"
        )
    lo, hi = min(walls), max(walls)
    print(f"product wait at {hi} canaries / at {lo}: {walls[hi] / walls[lo]:.2f} (flat: 1.0)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
