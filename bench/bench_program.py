"""Program evaluation under mocks: the product against a hand-written pulumi_aws program.

    .venv/bin/python bench/bench_program.py [--sizes 1 10 50] [--rounds 5]
    .venv/bin/python bench/bench_program.py --check 2     # only the resource-by-resource check

For N canary endpoints (copies of the canary sample's endpoint) it runs, each in a fresh
interpreter, in interleaved pairs (product first in even rounds, baseline first in odd ones):
- `product`: the real program under the recording mocks of `rollout plan`
  (`simulator.mockrun.run_offline`: validate, plan, render; the offline runner's collector policy on);
- `baseline`: `bench/handwritten_canary.py`, a plain program of real pulumi_aws classes declaring
  the very same resources with the same inputs, under the same mocks
  (`simulator.mockrun.run_function_offline`, the interpreter's collector defaults).
Before timing, both run once in one process and their recordings are compared resource by
resource (URN, inputs, dependencies, options, stack outputs); every timed child also reports a
digest of its recording, and the two must agree at every size (exit 1 otherwise).

Per child: `eval` = CPU seconds of the run itself (program modules imported before it), `gc` =
CPU seconds inside the cyclic collector during the run (`gc.callbacks`, thread CPU time) and the number of full
(generation 2) collections, `proc` = CPU seconds of the whole process (os.wait4: interpreter
start, imports, run, teardown). Ratios are product/baseline pair by pair; medians with min-max.
With `--ordinary`, each round also runs the product with pulumi_aws loaded the ordinary way
(`SAGEMAKER_ROLLOUTS_AWS_LOADER=0`: no class-by-class loading, infra/aws_loader.py), reported as
its own eval ratio against the same baseline (information: what the loader saves).
No absolute time is asserted anywhere; `--strict` exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import copy
import gc
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET = 0.9  # product/baseline evaluation CPU, at every size
# Children write and use bytecode caches like an installed environment does (pip compiles at
# install); with PYTHONDONTWRITEBYTECODE set and no caches, every run would time the compiler.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def stack_config(n: int) -> dict[str, Any]:
    from tests.stackdata import canary

    base = canary()["endpoints"]["fraud"]
    endpoints: dict[str, Any] = {}
    for i in range(n):
        ep = copy.deepcopy(base)
        ep["endpoint_name"] = f"fraud-{i}"
        endpoints[f"fraud{i}"] = ep
    return {"sagemaker-rollouts:endpoints": endpoints, "sagemaker-rollouts:tags": {"team": "x"}}


def normalized(run: Any) -> list[Any]:
    """A recording as comparable data: resources by URN with redacted inputs and options."""
    from sagemaker_rollouts.simulator.mockrun import redact

    rows = [
        [
            r.urn,
            redact(r.inputs),
            sorted(r.depends_on),
            r.delete_before_replace,
            list(r.replace_on_changes),
            list(r.ignore_changes),
            r.protect,
            r.provider,
            r.retain_on_delete,
            r.import_id,
        ]
        for r in run.resources
    ]
    return [sorted(rows, key=lambda row: row[0]), redact(run.outputs)]


def digest(run: Any) -> str:
    text = json.dumps(normalized(run), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_product(n: int) -> Any:
    from sagemaker_rollouts.simulator.mockrun import run_offline

    return run_offline(config=stack_config(n))


def run_baseline(n: int) -> Any:
    sys.path.insert(0, str(ROOT / "bench"))
    from handwritten_canary import program

    from sagemaker_rollouts.simulator.mockrun import run_function_offline

    return run_function_offline(lambda: program(n))


def child(kind: str, n: int) -> int:
    """One timed run in this (fresh) process; prints one JSON line."""
    import sagemaker_rollouts.simulator.mockrun  # imports outside the timed run

    if kind == "product":
        import sagemaker_rollouts.infra.program  # noqa: F401
    else:
        sys.path.insert(0, str(ROOT / "bench"))
        import handwritten_canary  # noqa: F401
    gc_time = [0.0]
    started = [0.0]
    full = [0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        # CPU time of the collecting thread: a collection holds the GIL, and wall time would
        # count the moments a loaded machine gave the CPU to someone else.
        if phase == "start":
            started[0] = time.thread_time()
        else:
            gc_time[0] += time.thread_time() - started[0]
            if info["generation"] == 2:
                full[0] += 1

    gc.callbacks.append(on_gc)
    c0, w0 = time.process_time(), time.perf_counter()
    run = run_product(n) if kind == "product" else run_baseline(n)
    c1, w1 = time.process_time(), time.perf_counter()
    gc.callbacks.remove(on_gc)
    run.raise_error()
    out = {
        "eval": c1 - c0,
        "wall": w1 - w0,
        "gc": gc_time[0],
        "full": full[0],
        "resources": len(run.resources),
        "digest": digest(run),
    }
    print(json.dumps(out), flush=True)
    return 0


def spawn(kind: str, n: int, env: dict[str, str] | None = None) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--n", str(n)]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env or ENV
    )
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} n={n} failed:\n{err.decode()[-3000:]}")
    data = json.loads(out.decode().strip().splitlines()[-1])
    data["proc"] = usage.ru_utime + usage.ru_stime
    data["maxrss_mib"] = usage.ru_maxrss / 1024
    return data


def check(n: int) -> list[str]:
    """Differences between the product's and the baseline's recordings (empty: the same)."""
    prod, base = run_product(n), run_baseline(n)
    prod.raise_error()
    base.raise_error()
    p_rows, p_out = normalized(prod)
    b_rows, b_out = normalized(base)
    problems: list[str] = []
    p_by = {row[0]: row for row in p_rows}
    b_by = {row[0]: row for row in b_rows}
    for urn in sorted(p_by.keys() - b_by.keys()):
        problems.append(f"only in product: {urn}")
    for urn in sorted(b_by.keys() - p_by.keys()):
        problems.append(f"only in baseline: {urn}")
    fields = ("inputs", "depends_on", "dbr", "replace_on_changes", "ignore_changes", "protect")
    fields += ("provider", "retain_on_delete", "import_id")
    for urn in sorted(p_by.keys() & b_by.keys()):
        for name, a, b in zip(fields, p_by[urn][1:], b_by[urn][1:], strict=True):
            if a != b:
                a_s, b_s = json.dumps(a, sort_keys=True), json.dumps(b, sort_keys=True)
                at = next((i for i, (x, y) in enumerate(zip(a_s, b_s, strict=False)) if x != y), 0)
                at = max(0, at - 60)
                problems.append(
                    f"{urn} {name}:\n  product  ...{a_s[at : at + 300]}\n"
                    f"  baseline ...{b_s[at : at + 300]}"
                )
    if p_out != b_out:
        problems.append(f"stack outputs differ:\n  product  {p_out}\n  baseline {b_out}")
    return problems


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def spread(xs: list[float], fmt: str = "{:.2f}") -> str:
    return f"{fmt.format(min(xs))}-{fmt.format(max(xs))}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved pairs per size")
    parser.add_argument("--check", type=int, metavar="N", help="only compare recordings at N")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--ordinary", action="store_true", help="also time the product without the aws loader"
    )
    parser.add_argument("--child", choices=["product", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.n)

    problems = check(args.check or 2)
    if problems:
        print("the baseline does not declare what the product declares:")
        print("\n".join(problems))
        return 1
    print(f"check: product and baseline recordings equal at {args.check or 2} endpoints")
    if args.check:
        return 0

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    spawn("baseline", args.sizes[0])  # warm-up: file cache, .pyc
    rows: list[dict[str, Any]] = []
    failed = False
    for n in args.sizes:
        pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
        ordinary: list[float] = []
        for r in range(args.rounds):
            if r % 2 == 0:
                p = spawn("product", n)
                b = spawn("baseline", n)
            else:
                b = spawn("baseline", n)
                p = spawn("product", n)
            if p["digest"] != b["digest"] or p["resources"] != b["resources"]:
                print(f"n={n}: recordings differ ({p['digest']} vs {b['digest']})")
                return 1
            pairs.append((p, b))
            if args.ordinary:
                o = spawn("product", n, {**ENV, "SAGEMAKER_ROLLOUTS_AWS_LOADER": "0"})
                if o["digest"] != b["digest"]:
                    print(f"n={n}: ordinary-import recording differs ({o['digest']})")
                    return 1
                ordinary.append(o["eval"] / b["eval"])
        ratio = [p["eval"] / b["eval"] for p, b in pairs]
        ratio_proc = [p["proc"] / b["proc"] for p, b in pairs]
        row = {
            "n": n,
            "resources": pairs[0][0]["resources"],
            "p_eval": med([p["eval"] for p, _ in pairs]),
            "b_eval": med([b["eval"] for _, b in pairs]),
            "ratio": med(ratio),
            "ratio_spread": spread(ratio),
            "ratio_proc": med(ratio_proc),
            "ratio_proc_spread": spread(ratio_proc),
            "p_gc": med([p["gc"] for p, _ in pairs]),
            "b_gc": med([b["gc"] for _, b in pairs]),
            "p_full": med([p["full"] for p, _ in pairs]),
            "b_full": med([b["full"] for _, b in pairs]),
            "p_rss": med([p["maxrss_mib"] for p, _ in pairs]),
            "b_rss": med([b["maxrss_mib"] for _, b in pairs]),
            "ordinary": f"{med(ordinary):.2f} ({spread(ordinary)})" if ordinary else "",
        }
        rows.append(row)
        failed |= row["ratio"] > TARGET
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"{args.rounds} interleaved pairs per size, fresh interpreters; medians (min-max of ratios)"
    )
    head = (
        f"{'endpoints':>9} {'resources':>9} {'product s':>9} {'baseline s':>10} "
        f"{'eval ratio':>17} {'process ratio':>17} {'gc s p/b':>11} {'full gc p/b':>11} "
        f"{'ms/endpoint':>11} {'peak MiB p/b':>12}"
    )
    print(head)
    for r in rows:
        print(
            f"{r['n']:>9} {r['resources']:>9} {r['p_eval']:>9.3f} {r['b_eval']:>10.3f} "
            f"{r['ratio']:>5.2f} ({r['ratio_spread']:>9}) "
            f"{r['ratio_proc']:>5.2f} ({r['ratio_proc_spread']:>9}) "
            f"{r['p_gc']:>5.2f}/{r['b_gc']:<5.2f} {r['p_full']:>5.0f}/{r['b_full']:<5.0f} "
            f"{1000 * r['p_eval'] / r['n']:>11.1f} {r['p_rss']:>5.0f}/{r['b_rss']:<6.0f}"
        )
    if args.ordinary:
        print("info: eval ratio of the product with pulumi_aws loaded the ordinary way:")
        for r in rows:
            print(f"{r['n']:>9} {r['ordinary']}")
    if len(rows) >= 2:
        (a, b) = rows[-2], rows[-1]
        marginal = 1000 * (b["p_eval"] - a["p_eval"]) / (b["n"] - a["n"])
        print(f"product marginal cost per endpoint {a['n']}->{b['n']}: {marginal:.1f} ms")
    print(f"target: eval ratio <= {TARGET} at every size: {'MISSED' if failed else 'met'}")
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
