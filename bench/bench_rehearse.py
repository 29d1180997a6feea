"""Rehearsal speed: simulated seconds per wall second, as ratios against today's tick-by-tick
rehearsal measured in the same run (issue 12).

Run: `python bench/bench_rehearse.py [--strict]` (repository root, venv active).

- baseline: the tick-by-tick rehearsal (`rollout rehearse --tick-by-tick`: the hook, with its three
  API calls to moto, on every simulated minute) over the first BASELINE_SECONDS of the day-long
  canary scenario; its simulated seconds per wall second;
- 24 h canary: scenarios/day-long-canary.yaml as `rollout rehearse` runs it (quiet ticks skipped);
- 4 h linear blue/green: bench/scenarios/linear-4h.yaml (the guardrails emulator).

Each row is timed inside one process after one warm-up rehearsal (imports, botocore models, moto),
median of RUNS.
The decisions of the fast and the tick-by-tick canary runs are compared too (they must be equal).
Exit 1 when the decisions differ; with `--strict` also when the 24 h canary is slower than 15 s or
under 5x the baseline's rate.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sagemaker_rollouts.simulator import rehearsal  # noqa: E402
from sagemaker_rollouts.simulator.scenario import load_scenario  # noqa: E402

RUNS = 1  # each row is long enough (0.3-3 s) that one run after the warm-up is stable to ~10%
BASELINE_SECONDS = 7200
DAY = ROOT / "scenarios" / "day-long-canary.yaml"
LINEAR = ROOT / "bench" / "scenarios" / "linear-4h.yaml"


def _timed(path: Path, *, skip: bool, duration: int | None = None) -> tuple[float, int, list]:
    loaded = load_scenario(path)
    if duration is not None:
        short = loaded.scenario.model_copy(
            update={
                "duration": duration,
                "events": tuple(e for e in loaded.scenario.events if e.at <= duration),
                "expect": None,
            }
        )
        loaded = replace(loaded, scenario=short)
    t0 = time.perf_counter()
    summary, result = rehearsal.summarize(ROOT, loaded, None, None, skip_quiet=skip)
    wall = time.perf_counter() - t0
    steps = [s.as_json() for s in (result.steps if result is not None else summary.steps)]
    return wall, loaded.scenario.duration, steps


def _median(path: Path, *, skip: bool, duration: int | None = None) -> tuple[float, int, list]:
    runs = [_timed(path, skip=skip, duration=duration) for _ in range(RUNS)]
    wall = statistics.median(r[0] for r in runs)
    return wall, runs[0][1], runs[0][2]


def main() -> int:
    strict = "--strict" in sys.argv
    _timed(DAY, skip=True, duration=600)  # warm-up: imports, botocore models, moto backends
    base_wall, base_sim, base_steps = _median(DAY, skip=False, duration=BASELINE_SECONDS)
    fast_short, _, fast_short_steps = _median(DAY, skip=True, duration=BASELINE_SECONDS)
    day_wall, day_sim, _ = _median(DAY, skip=True)
    lin_wall, lin_sim, _ = _median(LINEAR, skip=True)
    base_rate = base_sim / base_wall
    rows = [
        ("tick-by-tick canary (baseline)", base_sim, base_wall, base_rate),
        ("same 2 h, quiet ticks skipped", base_sim, fast_short, base_sim / fast_short),
        ("24 h canary (day-long-canary)", day_sim, day_wall, day_sim / day_wall),
        ("4 h linear blue/green (emulated)", lin_sim, lin_wall, lin_sim / lin_wall),
    ]
    print(
        f"{'rehearsal':<34} {'simulated s':>11} {'wall s':>8} {'sim s / wall s':>15} {'x baseline':>11}"
    )
    for label, sim, wall, rate in rows:
        print(f"{label:<34} {sim:>11} {wall:>8.3f} {rate:>15,.0f} {rate / base_rate:>11.1f}")
    same = base_steps == fast_short_steps
    print(f"decisions identical to tick-by-tick: {'yes' if same else 'NO'}")
    print(f"24 h canary wall time: {day_wall:.2f} s (target < 15 s)")
    if not same:
        return 1
    if strict and (day_wall >= 15 or day_sim / day_wall < 5 * base_rate):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
