"""Program evaluation under mocks vs the same resources declared directly, as ratios in one run.

    .venv/bin/python bench/bench_program.py [--sizes 1 10 50] [--repeat 3]

For N canary endpoints (copies of the canary sample's endpoint), it times
- `program`: the real program (`infra.program.main`: validate, plan, render) under the recording
  mocks of `rollout plan` (`infra.mockrun.run_offline`);
- `baseline`: a plain Pulumi program registering the very resources the program declared (same
  types, names, inputs and parents, as `pulumi.CustomResource` / `pulumi.ComponentResource`,
  which is what pulumi_aws's classes do underneath), under the same mocks.
The ratio program/baseline is the program's own overhead; per-endpoint cost shows linearity.
Best of `--repeat` runs; no absolute times are asserted anywhere.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pulumi  # noqa: E402

from sagemaker_rollouts.infra.mockrun import (  # noqa: E402
    OfflineRun,
    RecordedResource,
    run_function_offline,
    run_offline,
)
from tests.stackdata import canary  # noqa: E402


def stack_config(n: int) -> dict[str, Any]:
    base = canary()["endpoints"]["fraud"]
    endpoints: dict[str, Any] = {}
    for i in range(n):
        ep = copy.deepcopy(base)
        ep["endpoint_name"] = f"fraud-{i}"
        endpoints[f"fraud{i}"] = ep
    return {"sagemaker-rollouts:endpoints": endpoints, "sagemaker-rollouts:tags": {"team": "x"}}


def replay(resources: list[RecordedResource]) -> None:
    """Register `resources` directly, parents first, with the inputs the program gave them."""
    by_urn: dict[str, pulumi.Resource] = {}
    pending = list(resources)
    while pending:
        rest: list[RecordedResource] = []
        for r in pending:
            if (
                r.parent is not None
                and r.parent not in by_urn
                and any(p.urn == r.parent for p in resources)
            ):
                rest.append(r)
                continue
            opts = pulumi.ResourceOptions(parent=by_urn.get(r.parent or ""))
            if r.custom:
                res: pulumi.Resource = pulumi.CustomResource(r.type, r.name, dict(r.inputs), opts)
            else:
                res = pulumi.ComponentResource(r.type, r.name, None, opts)
            by_urn[r.urn] = res
        if len(rest) == len(pending):
            raise RuntimeError("unresolvable parents")
        pending = rest


def best(fn: Any, repeat: int) -> tuple[float, OfflineRun]:
    times: list[float] = []
    run: OfflineRun | None = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        run = fn()
        times.append(time.perf_counter() - t0)
    assert run is not None
    return min(times), run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    run_offline(config=stack_config(1)).raise_error()  # warm imports and caches once
    print(
        f"{'endpoints':>9} {'resources':>9} {'program s':>10} {'baseline s':>10} {'ratio':>6} {'ms/endpoint':>11}"
    )
    rows: list[tuple[int, float, float]] = []
    for n in args.sizes:
        cfg = stack_config(n)
        t_prog, run = best(lambda cfg=cfg: run_offline(config=cfg), args.repeat)
        run.raise_error()
        resources = run.resources
        t_base, base = best(
            lambda resources=resources: run_function_offline(lambda: replay(resources)),
            args.repeat,
        )
        base.raise_error()
        assert len(base.resources) == len(resources)
        rows.append((n, t_prog, t_base))
        print(
            f"{n:>9} {len(resources):>9} {t_prog:>10.3f} {t_base:>10.3f} "
            f"{t_prog / t_base:>6.2f} {1000 * t_prog / n:>11.1f}"
        )
    if len(rows) >= 2:
        (n0, p0, _), (n1, p1, _) = rows[-2], rows[-1]
        print(f"marginal cost per endpoint {n0}->{n1}: {1000 * (p1 - p0) / (n1 - n0):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
