"""`rollout` start-up and teardown against importing the SDKs it stands on, in one run.

    .venv/bin/python bench/bench_cli.py [--rounds 7] [--strict]

Each run is a fresh interpreter; the two commands alternate (product first in even rounds):
- product: `rollout plan --stack canary` (the console script's own path: `main()` with the
  process's argv), output to /dev/null;
- baseline: `python -c "import pulumi, pulumi_aws"`.
Per run: CPU seconds of the whole process (os.wait4: user + sys) and wall seconds. Ratios are
product/baseline pair by pair; medians with min-max. Teardown: the product's command is started
through a small wrapper that stamps `time.monotonic()` from an atexit handler registered first
(so it runs last, right before the interpreter's own teardown or `os._exit`); teardown = the
moment the parent reaps the process minus that stamp (CLOCK_MONOTONIC is system-wide on Linux).
The same command run as a function (`main(argv)`, which returns and lets the interpreter tear
down as before) is timed in the same rounds, for its teardown only.
Information, not a target: `floor`, importing the pulumi_aws service modules the canary stack's
resources live in (each service package imports all its resource classes), which any program
declaring these resources pays; product/floor is what the CLI and the product add on top.
The baseline carries the same atexit stamp: its exit (a bare interpreter's teardown after the
import) is the floor a process exit is compared with.
Information, not a target: `ordinary`, the product with pulumi_aws loaded the ordinary way
(`SAGEMAKER_ROLLOUTS_AWS_LOADER=0`: every class of each used service package executed) in the
same rounds, what the class-by-class loader (infra/aws_loader.py) saves.
Targets: start-up ratio <= 3.0; teardown none worth measuring: the product's time from its last
atexit handler to being reaped at most the baseline's.
No absolute time is asserted; `--strict` exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RATIO_TARGET = 3.0
WRAP = (
    "import atexit, sys, time\n"
    "atexit.register(lambda: print('EXIT_AT', time.monotonic(), file=sys.stderr, flush=True))\n"
    "sys.argv = ['rollout', *sys.argv[1:]]\n"
    "from sagemaker_rollouts.cli.main import main\n"
    "sys.exit(main({argv}))\n"
)


# Children write and use bytecode caches like an installed environment does (pip compiles at
# install); with PYTHONDONTWRITEBYTECODE set and no caches, every run would time the compiler.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


# Where `rollout plan --stack canary`'s CPU goes, phase by phase in one fresh process (process CPU
# time, so a busy machine's waits do not count): the SDKs the baseline imports; the stack's nine
# pulumi_aws service packages, split into their type modules (`_inputs`, `outputs`: hundreds of
# input/output classes per service) and the rest of each package (every resource module of the
# service, used or not); then the CLI's own imports (the config model, planners, rendering); then
# the command's work (read, validate, plan, evaluate the program under mocks, render). With the
# console script's collector policy from the start (`gc_policy.for_this_command`, as `main()` sets
# it before anything is imported), so each phase costs what it costs in the product.
PHASES = """
import importlib, importlib.util, json, os, sys, time
from sagemaker_rollouts.infra.gc_policy import for_this_command
for_this_command()
t = time.process_time
out = {}
def mark(key, since):
    out[key] = t() - since
    return t()
c = t()
import pulumi, pulumi_aws
c = mark("sdk", c)
types = 0.0
for svc, cls in SERVICES:
    name = "pulumi_aws." + svc
    spec = importlib.machinery.PathFinder.find_spec(name, pulumi_aws.__path__)
    bare = importlib.util.module_from_spec(spec)  # the package without its __init__
    real = sys.modules[name]
    sys.modules[name] = bare
    for sub in ("_inputs", "outputs"):
        if os.path.exists(os.path.join(spec.submodule_search_locations[0], sub + ".py")):
            a = t()
            importlib.import_module(name + "." + sub)
            types += t() - a
    sys.modules[name] = real
    getattr(real, cls)  # pulumi's lazy stub loads the whole package (type modules already in)
out["types"] = types
c = mark("services", c)
out["services"] -= types
from sagemaker_rollouts.cli import cmd_plan, main
c = mark("cli_imports", c)
sys.stdout = open(os.devnull, "w")
main.main(["plan", "--stack", "canary"])
c = mark("command", c)
sys.stderr.write("PHASES " + json.dumps(out) + "\\n")
"""
# The same process as the product runs it: pulumi_aws's service packages loaded class by class
# (infra/aws_loader.py), so their loading is inside the command, for the classes it uses only.
PHASES_AS_RUN = """
import json, os, sys, time
from sagemaker_rollouts.infra.gc_policy import for_this_command
for_this_command()  # as the console script's `main()` does first
t = time.process_time
out = {}
def mark(key, since):
    out[key] = t() - since
    return t()
c = t()
import pulumi, pulumi_aws
c = mark("sdk", c)
from sagemaker_rollouts.cli import cmd_plan, main
c = mark("cli_imports", c)
sys.stdout = open(os.devnull, "w")
main.main(["plan", "--stack", "canary"])
c = mark("command", c)
sys.stderr.write("PHASES " + json.dumps(out) + "\\n")
"""
SERVICES = [
    ("sagemaker", "Endpoint"),
    ("s3", "Bucket"),
    ("cloudwatch", "MetricAlarm"),
    ("iam", "Role"),
    ("lambda_", "Function"),
    ("kms", "Key"),
    ("dynamodb", "Table"),
    ("sns", "Topic"),
    ("appautoscaling", "Target"),
]


def phases(py: str, code: str = PHASES) -> dict[str, float]:
    code = f"SERVICES = {SERVICES!r}\n" + code
    done = subprocess.run([py, "-c", code], cwd=ROOT, env=ENV, capture_output=True, text=True)
    line = [x for x in done.stderr.splitlines() if x.startswith("PHASES ")]
    if done.returncode != 0 or not line:
        raise RuntimeError(f"phases child failed:\n{done.stderr[-2000:]}")
    return json.loads(line[-1].removeprefix("PHASES "))


def spawn(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env or ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    reaped = time.monotonic()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{cmd} exited {code}:\n{err.decode()[-2000:]}")
    stamps = [line for line in err.decode().splitlines() if line.startswith("EXIT_AT ")]
    teardown = reaped - float(stamps[-1].split()[1]) if stamps else None
    return {
        "cpu": usage.ru_utime + usage.ru_stime,
        "wall": reaped - t0,
        "teardown": teardown,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args()
    py = sys.executable
    product = [py, "-c", WRAP.format(argv=""), "plan", "--stack", "canary"]
    # pulumi_aws binds service packages lazily: touching a class loads the package.
    classes = (
        "sagemaker.Endpoint s3.Bucket cloudwatch.MetricAlarm iam.Role lambda_.Function kms.Key "
        "dynamodb.Table sns.Topic appautoscaling.Target"
    )
    floor_cmd = [
        py,
        "-c",
        "import pulumi, pulumi_aws\n" + "".join(f"pulumi_aws.{c}\n" for c in classes.split()),
    ]
    as_function = [py, "-c", WRAP.format(argv="sys.argv[1:]"), "plan", "--stack", "canary"]
    baseline = [py, "-c", WRAP.split("sys.argv = ")[0] + "import pulumi, pulumi_aws\n"]
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    spawn(product)  # warm-up: file cache, .pyc
    spawn(baseline)
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    old_teardown: list[float] = []
    floor_cpu: list[float] = []
    ordinary_cpu: list[float] = []
    ordinary_env = {**ENV, "SAGEMAKER_ROLLOUTS_AWS_LOADER": "0"}
    for r in range(args.rounds):
        if r % 2 == 0:
            p = spawn(product)
            b = spawn(baseline)
        else:
            b = spawn(baseline)
            p = spawn(product)
        pairs.append((p, b))
        floor_cpu.append(spawn(floor_cmd)["cpu"])
        ordinary_cpu.append(spawn(product, ordinary_env)["cpu"])
        old = spawn(as_function)["teardown"]
        if old is not None:
            old_teardown.append(old)
    phase_runs = [phases(py) for _ in range(3)]
    as_run = [phases(py, PHASES_AS_RUN) for _ in range(3)]
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    cpu = [p["cpu"] / b["cpu"] for p, b in pairs]
    wall = [p["wall"] / b["wall"] for p, b in pairs]
    teardown = [p["teardown"] for p, _ in pairs if p["teardown"] is not None]
    med = statistics.median
    print(f"{args.rounds} interleaved pairs, fresh interpreters; medians (min-max)")
    print(
        f"rollout plan --stack canary: cpu {med([p['cpu'] for p, _ in pairs]):.3f} s, "
        f"wall {med([p['wall'] for p, _ in pairs]):.3f} s"
    )
    print(
        f"import pulumi, pulumi_aws:   cpu {med([b['cpu'] for _, b in pairs]):.3f} s, "
        f"wall {med([b['wall'] for _, b in pairs]):.3f} s"
    )
    print(f"ratio cpu  {med(cpu):.2f} ({min(cpu):.2f}-{max(cpu):.2f})  target <= {RATIO_TARGET}")
    print(
        f"info: import pulumi, pulumi_aws + the stack's 9 service modules: cpu "
        f"{med(floor_cpu):.3f} s; product / that floor {med([p['cpu'] for p, _ in pairs]) / med(floor_cpu):.2f}"
    )
    ordinary = [o / b["cpu"] for o, (_, b) in zip(ordinary_cpu, pairs, strict=True)]
    print(
        f"info: the same command with pulumi_aws loaded the ordinary way "
        f"(SAGEMAKER_ROLLOUTS_AWS_LOADER=0): cpu {med(ordinary_cpu):.3f} s, ratio "
        f"{med(ordinary):.2f} ({min(ordinary):.2f}-{max(ordinary):.2f})"
    )
    print("info: where the product's CPU goes as it runs (one fresh process, CPU s, median of 3):")
    for key, label in {
        "sdk": "import pulumi, pulumi_aws",
        "cli_imports": "the CLI's own imports",
        "command": "the command's work, loading the pulumi_aws classes it uses",
    }.items():
        print(f"  {med([r[key] for r in as_run]):.3f}  {label}")
    labels = {
        "sdk": "import pulumi, pulumi_aws",
        "types": "9 service packages: their _inputs/outputs type modules",
        "services": "9 service packages: every resource module in them",
        "cli_imports": "the CLI's own imports (config model, planners, rendering)",
        "command": "the command's work (validate, plan, evaluate under mocks, render)",
    }
    print("info: the same, with the 9 service packages loaded the ordinary way first (CPU s):")
    for key, label in labels.items():
        print(f"  {med([r[key] for r in phase_runs]):.3f}  {label}")
    print(f"ratio wall {med(wall):.2f} ({min(wall):.2f}-{max(wall):.2f})")
    floor = [b["teardown"] for _, b in pairs if b["teardown"] is not None]
    ok_teardown = bool(teardown) and bool(floor) and med(teardown) <= med(floor)
    if teardown and floor:
        print(
            f"exit after the command's work: {1000 * med(teardown):.1f} ms "
            f"({1000 * min(teardown):.1f}-{1000 * max(teardown):.1f})  target <= the baseline's "
            f"{1000 * med(floor):.1f} ms ({1000 * min(floor):.1f}-{1000 * max(floor):.1f})"
        )
    if old_teardown:
        print(
            f"teardown of the same command returning from main(argv): "
            f"{1000 * med(old_teardown):.1f} ms "
            f"({1000 * min(old_teardown):.1f}-{1000 * max(old_teardown):.1f})"
        )
    met = med(cpu) <= RATIO_TARGET and ok_teardown
    print(f"targets: {'met' if met else 'MISSED'}")
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main())
