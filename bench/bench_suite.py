"""Where the test suite's CPU goes: per test module and per test, one process per test folder.

Run: `.venv/bin/python bench/bench_suite.py [--folders cli lambdas ...] [--top 15] [--weights]`
(from the repository root). Each folder of tests/ runs in its own `pytest -n 0` process with this
file loaded as a plugin (`-p bench_suite`), which reads the process's CPU time (every thread: the
moto server threads included) and its children's (subprocess tests) around each test, setup and
teardown included, and the time spent in the cyclic collector (`gc.callbacks`). It prints the
modules by CPU, the costliest tests, and what an idle two-worker run (`-n 2 --dist loadfile`)
would take: each worker collects the whole suite, then the modules go, heaviest first, to
whichever worker is free (tests/conftest.py orders them so; tests/module_cpu.json holds the
weights, rewritten by `--weights`). CPU time, not wall time: the machine is shared.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("strategies", "lambdas", "cli", "infra", "project")
WEIGHTS = ROOT / "tests" / "module_cpu.json"

# ----------------------------------------------------------------------------- the plugin side

_rows: list[dict[str, Any]] = []
_collect: dict[str, float] = {}
_gc = {"total": 0.0, "test": 0.0, "start": 0.0}


def _children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    del info
    if phase == "start":
        _gc["start"] = time.process_time()
    else:
        spent = time.process_time() - _gc["start"]
        _gc["total"] += spent
        _gc["test"] += spent


def pytest_configure(config: Any) -> None:
    del config
    gc.callbacks.append(_on_gc)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: Any, nextitem: Any) -> Any:
    """CPU of one test's setup, call and teardown."""
    del nextitem
    cpu, children = time.process_time(), _children()
    _gc["test"] = 0.0
    yield
    _rows.append(
        {
            "test": item.nodeid,
            "module": item.nodeid.split("::", 1)[0],
            "cpu": time.process_time() - cpu,
            "children": _children() - children,
            "gc": _gc["test"],
        }
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: Any) -> Any:
    """CPU of importing and collecting each test module."""
    cpu = time.process_time()
    yield
    if type(collector).__name__ == "Module":
        _collect[collector.nodeid] = time.process_time() - cpu


def pytest_sessionfinish(session: Any) -> None:
    del session
    out = os.environ.get("BENCH_SUITE_OUT")
    if out:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        Path(out).write_text(
            json.dumps(
                {
                    "rows": _rows,
                    "collect": _collect,
                    "process_cpu": time.process_time(),
                    "gc": _gc["total"],
                    "max_rss_mib": usage.ru_maxrss / 1024,
                }
            )
        )


# ----------------------------------------------------------------------------- the runner side


def run_folder(folder: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        env = {
            **os.environ,
            "BENCH_SUITE_OUT": str(out),
            # this file as the plugin; nothing else (an empty entry would put the cwd on the path)
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT / "bench"), os.environ.get("PYTHONPATH")) if p
            ),
            "MPLBACKEND": "Agg",
        }
        argv = [sys.executable, "-m", "pytest", "-n", "0", "-q", "-p", "no:cacheprovider"]
        argv += ["-p", "bench_suite", f"tests/{folder}"]
        proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
        tail = proc.stdout.strip().splitlines()[-1:] or [proc.stderr.strip()[-300:]]
        print(f"  tests/{folder}: {tail[0]}", file=sys.stderr)
        if proc.returncode != 0:
            failed = [line for line in proc.stdout.splitlines() if line.startswith("FAILED")]
            print("\n".join(failed), file=sys.stderr)
        return json.loads(out.read_text())


def two_workers(modules: dict[str, float], collect: float) -> tuple[float, float]:
    """Idle wall estimate of `-n 2 --dist loadfile` with modules sent heaviest first to the
    worker that frees up first; (estimate, CPU of the last module a worker is left alone with)."""
    workers = [collect, collect]
    for _name, cost in sorted(modules.items(), key=lambda kv: -kv[1]):
        i = workers.index(min(workers))
        workers[i] += cost
    return max(workers), max(workers) - min(workers)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folders", nargs="+", default=list(FOLDERS))
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--weights", action="store_true", help=f"rewrite {WEIGHTS.name}")
    parser.add_argument("--json", type=Path, help="write every measurement here")
    args = parser.parse_args()

    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    runs = {folder: run_folder(folder) for folder in args.folders}
    rows = [r for run in runs.values() for r in run["rows"]]
    modules: dict[str, dict[str, float]] = {}
    for r in rows:
        m = modules.setdefault(r["module"], {"cpu": 0.0, "children": 0.0, "gc": 0.0, "tests": 0})
        m["cpu"] += r["cpu"]
        m["children"] += r["children"]
        m["gc"] += r["gc"]
        m["tests"] += 1
    cost = {name: m["cpu"] + m["children"] for name, m in modules.items()}
    collect = sum(sum(run["collect"].values()) for run in runs.values())
    total_cpu = sum(cost.values())
    in_gc = sum(run["gc"] for run in runs.values())

    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    peaks = ", ".join(f"{f} {run['max_rss_mib']:.0f}" for f, run in runs.items())
    print(f"peak RSS per process, MiB: {peaks}")
    print(f"\n{len(rows)} tests, {len(modules)} modules: {total_cpu:.1f} s of CPU in tests")
    print(f"(of which {sum(m['children'] for m in modules.values()):.1f} s in child processes")
    print(f" and {in_gc:.1f} s in the cyclic collector); collecting the suite {collect:.1f} s")
    wall, tail = two_workers(cost, collect)
    print(f"idle two-worker estimate: {wall:.1f} s (workers differ by {tail:.1f} s)")
    print("\n| module | CPU s | of which children | of which gc | tests |\n|---|---|---|---|---|")
    for name in sorted(cost, key=lambda n: -cost[n])[: args.top]:
        m = modules[name]
        print(
            f"| {name} | {cost[name]:.1f} | {m['children']:.1f} | {m['gc']:.1f} | {m['tests']:.0f} |"
        )
    print("\n| test | CPU s |\n|---|---|")
    for r in sorted(rows, key=lambda r: -(r["cpu"] + r["children"]))[: args.top]:
        print(f"| {r['test']} | {r['cpu'] + r['children']:.2f} |")
    if args.weights:
        WEIGHTS.write_text(
            json.dumps({n: round(c, 1) for n, c in sorted(cost.items())}, indent=1) + "\n"
        )
        print(f"\nwrote {WEIGHTS.relative_to(ROOT)}")
    if args.json:
        args.json.write_text(json.dumps(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
