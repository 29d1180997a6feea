"""Canary hook benchmark: API calls per steady-state tick, cold import cost, zip size.

Run: `python bench/bench_hook.py [--strict]` (from the repository root, venv active). Prints a table
with the targets of issue 3. Counted rows (API calls, zip bytes) always gate: exit 1 on a FAIL.
Timed rows are ratios against a baseline measured in the same run, never absolute times; they gate
only with `--strict`, because a shared 2-core machine moves them by several percent.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sagemaker_rollouts.cli.moto_server import moto_server  # noqa: E402
from sagemaker_rollouts.lambdas import store  # noqa: E402
from sagemaker_rollouts.lambdas.aws_adapter import Clients, make_clients  # noqa: E402
from sagemaker_rollouts.lambdas.canary_hook import run  # noqa: E402
from sagemaker_rollouts.lambdas.packaging import build_hook_zip  # noqa: E402
from sagemaker_rollouts.strategies.rollout import RolloutSpec, Step  # noqa: E402

RUNS = 15
T0 = 1_700_000_000.0


def _world(admin: Clients) -> tuple[RolloutSpec, dict[str, str]]:
    suffix = uuid.uuid4().hex[:8]
    name = f"bench-{suffix}"
    for variant in ("stable", "candidate"):
        admin.sagemaker.create_model(
            ModelName=f"{name}-{variant}",
            ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker",
            PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1"},
        )
    admin.sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": v,
                "ModelName": f"{name}-{v}",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
                "InitialVariantWeight": w,
            }
            for v, w in (("stable", 90.0), ("candidate", 10.0))
        ],
    )
    admin.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    alarms = (f"{name}-5xx", f"{name}-latency", f"{name}-sample")
    for alarm in alarms:
        admin.cloudwatch.put_metric_alarm(
            AlarmName=alarm,
            Namespace="AWS/SageMaker",
            MetricName="Invocation5XXErrors",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1.0,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
    store.create_state_table(admin.dynamodb, name)
    topic = admin.sns.create_topic(Name=name)["TopicArn"]
    spec = RolloutSpec(
        rollout_id=f"{name}/fp/1",
        endpoint_name=name,
        stable_variant="stable",
        candidate_variant="candidate",
        steps=(Step(10, 600), Step(100, 600)),
        gate_alarms=alarms[:2],
        min_invocations=50,
        insufficient_data_limit_seconds=600,
        sample_alarm=alarms[2],
    )
    return spec, {"ROLLOUT_SPEC": spec.to_json(), "STATE_TABLE": name, "TOPIC_ARN": topic}


def count_calls() -> tuple[int, list[str]]:
    """API calls of a steady-state tick (a hold during the bake), counted with `before-call`."""
    with moto_server():
        admin = make_clients("us-east-1")
        spec, env = _world(admin)
        clients = make_clients("us-east-1")
        calls: list[str] = []

        def record(model: Any, **_: Any) -> None:
            calls.append(model.name)

        for client in (clients.sagemaker, clients.cloudwatch, clients.dynamodb, clients.sns):
            client.meta.events.register("before-call.*.*", record)
        quiet: list[str] = []
        run({}, env, clients, T0, log=quiet.append)  # first tick stores step 0
        calls.clear()
        result = run({}, env, clients, T0 + 60, log=quiet.append)
        assert result["decision"] == "hold", result
        del spec
        return len(calls), calls


def _import_seconds(stmt: str) -> float:
    code = f"import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


def import_ratio() -> tuple[float, float, float, float]:
    """Median cold import of the handler (and handler + boto3, what the first invocation pays)
    over a bare `import boto3`, each in a fresh interpreter, interleaved."""
    base: list[float] = []
    hook: list[float] = []
    hook_boto: list[float] = []
    for _ in range(RUNS):
        base.append(_import_seconds("import boto3"))
        hook.append(_import_seconds("import sagemaker_rollouts.lambdas.canary_hook"))
        hook_boto.append(_import_seconds("import sagemaker_rollouts.lambdas.canary_hook, boto3"))
    b, h, hb = statistics.median(base), statistics.median(hook), statistics.median(hook_boto)
    return b, h, hb, hb / b


def zip_size() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        return build_hook_zip(Path(tmp) / "hook.zip").stat().st_size


def main() -> int:
    n, calls = count_calls()
    base, hook, hook_boto, ratio = import_ratio()
    size = zip_size()
    strict = "--strict" in sys.argv[1:]
    rows = [
        ("steady-state tick API calls", f"{n} ({', '.join(calls)})", "<= 3", True, n <= 3),
        (
            # What a cold start pays: the handler and the boto3 it needs (it imports boto3 lazily,
            # so timing the handler alone would hide boto3's cost).
            "cold import: handler + boto3 / boto3",
            f"{ratio:.3f} ({hook_boto * 1000:.0f} ms / {base * 1000:.0f} ms)",
            "<= 1.10",
            strict,
            ratio <= 1.10,
        ),
        (
            "info: handler module alone / boto3",
            f"{hook / base:.3f} ({hook * 1000:.0f} ms / {base * 1000:.0f} ms)",
            "-",
            False,
            True,
        ),
        (
            "hook zip size",
            f"{size} B ({size / 1024:.1f} KiB)",
            "<= 64 KiB",
            True,
            size <= 64 * 1024,
        ),
    ]
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    print(f"{'measure':<{width}}  {'value':<{vwidth}}  {'target':<9}  result")
    for name, value, target, gating, ok in rows:
        verdict = "PASS" if ok else ("FAIL" if gating else "over")
        print(f"{name:<{width}}  {value:<{vwidth}}  {target:<9}  {verdict}")
    return 0 if all(ok for *_, gating, ok in rows if gating) else 1


if __name__ == "__main__":
    raise SystemExit(main())
