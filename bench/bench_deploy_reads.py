"""Deploy-time reads: what `pulumi up` reads before anything is declared, at 1 / 10 / 50 canaries.

Run: `python bench/bench_deploy_reads.py [--sizes 1 10 50] [--latency-ms 40]` (repository root,
venv active).

The product: `infra.awareness.check` with the real readers (`dynamodb_reader`: one BatchGetItem
per 100 rollouts; `sagemaker_endpoint_reader`: DescribeEndpoint + ListTags per endpoint,
`READ_CONCURRENCY` at a time, since SageMaker has no batch DescribeEndpoint). The baseline: what
the program did before, three sequential calls per canary (GetItem, DescribeEndpoint, ListTags),
with clients made the same way (a session per service, in the timed run). Both run against moto on 127.0.0.1 with N canary endpoints created and
half of their rollouts recorded in the state table. moto answers in well under a millisecond,
so each API call is made to take `--latency-ms` (a stand-in for AWS's round trip: every call
sleeps that long in `BaseClient._make_api_call` before it is sent), and calls are counted there.
Prints calls and wall seconds per size, the ratio product / baseline, and how the product's wait
grows from 1 endpoint to the largest size (flat would be 1.0).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
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


@contextmanager
def slowed(latency: float) -> Iterator[Counter[str]]:
    """Every botocore API call waits `latency` seconds, and is counted by operation name."""
    from botocore.client import BaseClient

    calls: Counter[str] = Counter()
    lock = threading.Lock()
    original: Callable[..., Any] = BaseClient._make_api_call  # type: ignore[attr-defined]

    def call(self: Any, operation_name: str, api_params: Any) -> Any:
        with lock:
            calls[operation_name] += 1
        time.sleep(latency)
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = call  # type: ignore[attr-defined,method-assign]
    try:
        yield calls
    finally:
        BaseClient._make_api_call = original  # type: ignore[attr-defined,method-assign]


def _plan(n: int) -> Any:
    from tests import plan_fixtures as fx

    return fx.deployment(
        *(
            dataclasses.replace(fx.canary(), key=f"c{i}", endpoint_name=f"fraud-{i}")
            for i in range(n)
        )
    )


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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--latency-ms", type=float, default=40.0)
    args = parser.parse_args()
    from sagemaker_rollouts.infra.awareness import READ_CONCURRENCY
    from sagemaker_rollouts.simulator.moto_server import moto_server

    latency = args.latency_ms / 1000
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"each API call takes {args.latency_ms:.0f} ms (AWS round-trip stand-in); "
        f"endpoint reads {READ_CONCURRENCY} at a time"
    )
    print("| canaries | product calls | baseline calls | product s | baseline s | ratio |")
    print("|---|---|---|---|---|---|")
    walls: dict[int, float] = {}
    for n in args.sizes:
        plan = _plan(n)
        with moto_server(REGION):
            _provision(plan)
            product(plan)  # clients and imports warm, untimed
            with slowed(latency) as p_calls:
                t = time.perf_counter()
                product(plan)
                p_wall = time.perf_counter() - t
            with slowed(latency) as b_calls:
                t = time.perf_counter()
                baseline(plan)
                b_wall = time.perf_counter() - t
        walls[n] = p_wall
        fmt = lambda c: ", ".join(f"{k} {v}" for k, v in sorted(c.items()))  # noqa: E731
        print(
            f"| {n} | {sum(p_calls.values())} ({fmt(p_calls)}) | {sum(b_calls.values())} "
            f"({fmt(b_calls)}) | {p_wall:.2f} | {b_wall:.2f} | {p_wall / b_wall:.2f} |"
        )
    lo, hi = min(walls), max(walls)
    print(f"product wait at {hi} canaries / at {lo}: {walls[hi] / walls[lo]:.2f} (flat: 1.0)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
