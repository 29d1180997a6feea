"""Canary hook benchmark: API calls per tick in every rollout state, cold import cost, zip size.

Run: `python bench/bench_hook.py [--strict] [--runs N]` (from the repository root, venv active).
Prints a table with the targets. Counted rows (API calls, zip bytes) always gate: exit 1 on a
FAIL. Timed rows are ratios against a baseline measured in the same run, never absolute times;
they gate only with `--strict`, because a shared 2-core machine moves them by several percent.

API calls: a tick that changes nothing, in each state a rollout goes through (rolling out,
baking the last step, completed within the scale-down delay, scaled down, rolled back), counted
with botocore's `before-call` event on the hook's four clients against moto on 127.0.0.1.
Cold import: fresh interpreters, interleaved, the import's CPU time taken inside the child,
against `import boto3` alone (what every Python Lambda that calls AWS pays). The hook's first
invocation imports the handler and then the SDK modules `make_clients` needs (botocore's session
and config: it never imports boto3 itself). Rows:
- with bytecode caches (as an installed boto3 has them, and as our modules would be with a
  cache): handler + boto3 / boto3 (as if the hook imported boto3) and handler + what it really
  imports / boto3;
- as shipped: the hook's own zip unpacked, our modules from its sources with no bytecode cache
  (the zip carries sources and /var/task is read-only, so Python compiles them at every cold
  start; the SDK keeps its caches, as the runtime's boto3 and botocore have them), with what
  the handler really imports.
Each prints the median of the per-pair ratios and their range (min-max) over the pairs.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import uuid
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sagemaker_rollouts.infra.lambda_code import HOOK_HANDLER, build_zip  # noqa: E402
from sagemaker_rollouts.lambdas import store  # noqa: E402
from sagemaker_rollouts.lambdas.aws_adapter import Clients, make_clients  # noqa: E402
from sagemaker_rollouts.lambdas.canary_hook import run  # noqa: E402
from sagemaker_rollouts.lambdas.rollout import RolloutSpec, Step  # noqa: E402
from sagemaker_rollouts.simulator.moto_server import moto_server  # noqa: E402

RUNS = 15  # interleaved pairs per row (--runs N)
T0 = 1_700_000_000.0


def _world(admin: Clients, **overrides: Any) -> tuple[RolloutSpec, dict[str, str]]:
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
        **overrides,
    )
    return spec, {"ROLLOUT_SPEC": spec.to_json(), "STATE_TABLE": name, "TOPIC_ARN": topic}


def _stable_fleet(clients: Clients, spec: RolloutSpec, count: int) -> None:
    """AWS reports each variant's CurrentInstanceCount and applies DesiredInstanceCount; moto
    drops the count after a weight update, so both are stood in for (botocore events)."""
    fleet = [count]

    def edit(parsed: dict[str, Any], **_: Any) -> None:
        for v in parsed.get("ProductionVariants", []):
            if v["VariantName"] == spec.stable_variant:
                v["CurrentInstanceCount"] = fleet[0]

    def update(params: dict[str, Any], **_: Any) -> None:
        for v in params.get("DesiredWeightsAndCapacities", []):
            if v["VariantName"] == spec.stable_variant and "DesiredInstanceCount" in v:
                fleet[0] = int(v["DesiredInstanceCount"])

    clients.sagemaker.meta.events.register("after-call.sagemaker.DescribeEndpoint", edit)
    clients.sagemaker.meta.events.register(
        "provide-client-params.sagemaker.UpdateEndpointWeightsAndCapacities", update
    )


def count_calls() -> dict[str, list[str]]:
    """State -> the API calls of one tick that changes nothing in that state."""
    found: dict[str, list[str]] = {}
    with moto_server():
        admin = make_clients("us-east-1")
        for scenario in ("forward", "rollback"):
            spec, env = _world(admin, scale_down_delay_seconds=600)
            clients = make_clients("us-east-1")
            _stable_fleet(clients, spec, 3)
            calls: list[str] = []

            def record(model: Any, _calls: list[str] = calls, **_: Any) -> None:
                _calls.append(model.name)

            for client in (clients.sagemaker, clients.cloudwatch, clients.dynamodb, clients.sns):
                client.meta.events.register("before-call.*.*", record)
            quiet: list[str] = []

            def tick(
                now: float,
                env: dict[str, str] = env,
                clients: Clients = clients,
                quiet: list[str] = quiet,
            ) -> Any:
                return run({}, env, clients, now, log=quiet.append)

            def measure(state: str, now: float, status: str, calls: list[str] = calls) -> None:
                calls.clear()
                result = tick(now)
                assert result["status"] == status and result["decision"] in ("hold", "reconcile")
                found[state] = list(calls)

            tick(T0)  # first tick stores step 0
            if scenario == "forward":
                measure("rolling out (step 0, baking)", T0 + 60, "in_progress")
                assert tick(T0 + 600)["decision"] == "advance"
                measure("baking the last step", T0 + 660, "in_progress")
                assert tick(T0 + 1200)["status"] == "completed"
                measure("completed (stable fleet kept)", T0 + 1260, "completed")
                assert tick(T0 + 1800)["scaled_down"] == 1
                measure("scaled down", T0 + 1860, "completed")
            else:
                admin.cloudwatch.set_alarm_state(
                    AlarmName=spec.gate_alarms[0], StateValue="ALARM", StateReason="bench"
                )
                assert tick(T0 + 60)["decision"] == "rollback"
                measure("rolled back", T0 + 120, "rolled_back")
    return found


# With bytecode caches written and used (pip compiles at install; so does AWS's runtime boto3).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _import_seconds(stmt: str, cwd: Path = ROOT, *, write_bytecode: bool = True) -> float:
    # CPU seconds of the import (a shared 2-core machine stretches wall time many times over)
    code = f"import time; t = time.process_time(); {stmt}; print(time.process_time() - t)"
    env = ENV if write_bytecode else {**ENV, "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


HOOK = "import sagemaker_rollouts.lambdas.canary_hook"
# What the first invocation imports after the handler: `aws_adapter.make_clients`'s own imports
# (tests/lambdas/test_hook_cold_start.py holds it to exactly these, and never boto3).
SDK = "import botocore.session, botocore.config"


def import_ratio(shipped: Path, pairs: int = RUNS) -> dict[str, list[float]]:
    """Cold imports in fresh interpreters, interleaved: boto3 alone, the handler alone, handler +
    boto3 (what the first invocation pays), and handler + boto3 from the zip's files without
    bytecode (as shipped: sources compiled at every cold start)."""
    for stmt in ("import boto3", f"{HOOK}, boto3", f"{HOOK}; {SDK}"):  # write the caches once
        _import_seconds(stmt)
    runs: dict[str, list[float]] = {
        "base": [],
        "hook": [],
        "hook_boto": [],
        "hook_sdk": [],
        "shipped": [],
    }
    for _ in range(pairs):
        runs["base"].append(_import_seconds("import boto3"))
        runs["hook_boto"].append(_import_seconds(f"{HOOK}, boto3"))
        runs["hook_sdk"].append(_import_seconds(f"{HOOK}; {SDK}"))
        runs["hook"].append(_import_seconds(HOOK))
        runs["shipped"].append(_import_seconds(f"{HOOK}; {SDK}", cwd=shipped, write_bytecode=False))
    return runs


def _runs(argv: list[str]) -> int:
    if "--runs" in argv:
        return int(argv[argv.index("--runs") + 1])
    return RUNS


def main() -> int:
    per_state = count_calls()
    with tempfile.TemporaryDirectory() as tmp:
        zip_path = build_zip(Path(tmp) / "hook.zip", HOOK_HANDLER)
        size = zip_path.stat().st_size
        shipped = Path(tmp) / "task"
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(shipped)
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        runs = import_ratio(shipped, _runs(sys.argv[1:]))
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    med = statistics.median
    base, hook, hook_boto, hook_sdk, as_shipped = (
        med(runs[k]) for k in ("base", "hook", "hook_boto", "hook_sdk", "shipped")
    )
    pair = [hb / b for hb, b in zip(runs["hook_boto"], runs["base"], strict=True)]
    ratio = med(pair)
    sdk_pair = [h / b for h, b in zip(runs["hook_sdk"], runs["base"], strict=True)]
    sdk_ratio = med(sdk_pair)
    shipped_pair = [s / b for s, b in zip(runs["shipped"], runs["base"], strict=True)]
    shipped_ratio = med(shipped_pair)
    strict = "--strict" in sys.argv[1:]
    rows = [
        (
            f"tick API calls, {state}",
            f"{len(calls)} ({', '.join(calls)})",
            "<= 3",
            True,
            len(calls) <= 3,
        )
        for state, calls in per_state.items()
    ]
    rows += [
        (
            # What a cold start pays: the handler and the boto3 it needs (it imports boto3 lazily,
            # so timing the handler alone would hide boto3's cost). Median of the pair ratios.
            "cold import: handler + boto3 / boto3",
            f"{ratio:.3f} ({min(pair):.3f}-{max(pair):.3f}; "
            f"{hook_boto * 1000:.0f} ms / {base * 1000:.0f} ms)",
            "<= 1.10",
            strict,
            ratio <= 1.10,
        ),
        (
            "cold import: handler + what it imports (botocore) / boto3",
            f"{sdk_ratio:.3f} ({min(sdk_pair):.3f}-{max(sdk_pair):.3f}; "
            f"{hook_sdk * 1000:.0f} ms / {base * 1000:.0f} ms)",
            "<= 1.10",
            strict,
            sdk_ratio <= 1.10,
        ),
        (
            "cold import as shipped: handler (zip sources) + botocore / boto3",
            f"{shipped_ratio:.3f} ({min(shipped_pair):.3f}-{max(shipped_pair):.3f}; "
            f"{as_shipped * 1000:.0f} ms / {base * 1000:.0f} ms)",
            "<= 1.10",
            strict,
            shipped_ratio <= 1.10,
        ),
        (
            "info: our modules with caches (handler + boto3 - boto3); their compile as shipped",
            f"{(hook_boto - base) * 1000:.1f} ms; {(as_shipped - hook_sdk) * 1000:.1f} ms",
            "-",
            False,
            True,
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
