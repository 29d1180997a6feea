"""Shadow-report speed: the product's local engine against two baselines measured in the same run.

Contenders, each over the same capture files and each in a fresh child process per measurement:
- product: what `rollout shadow-report --from-dir` runs (`cli.cmd_shadow.compare_local`: up to
  `shadow_small.SMALL_CAPTURE_BYTES` of captures the comparison query evaluated in Python, above
  it the query in its DuckDB spelling on the CLI's DuckDB settings), without `--png`; its clock
  starts with the report plan in hand (`inputs`: `rollout` has it from planning the stack
  before it reads a capture);
- loop: a plain Python loop with the `json` module (parse each line, decode, key, pair each shadow
  record with the nearest production record of its key within the window, count agreement);
- direct: hand-written DuckDB SQL over the same files (`read_ndjson` with typed columns, the same
  keys and the nearest-within-window pairing by window functions), same memory limit and threads;
- with `--engines`, also `small` and `duckdb`: the product's two engines, each forced at every
  size, to measure where they cross (`SMALL_CAPTURE_BYTES` is set from that run).

Run: `python bench/bench_shadow.py [--sizes 10000,100000,500000] [--repeat 3] [--engines]
[--strict]` (repository root, venv active). A size is production requests; at 100% sampling each
gives two captured records, so 500000 is the ~1M-record run. Rounds are interleaved (each round
runs every contender once, in a rotating order) so a noisy neighbour hits all of them alike; each
ratio is taken within a round and reported as median [min-max] over rounds. Targets
(bench/README.md): product <= 1.5 x direct and product <= 1.0 x loop, by wall and by CPU time.
Exit status 1 when the contenders disagree on records, pairs or agreements; with `--strict` also
when a target is missed.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sagemaker_rollouts.simulator import capture_gen  # noqa: E402

SPEC = capture_gen.CaptureSpec(disagree_percent=2.0, sampling_percent=100, gap_ms=3)
WINDOW_S = 5
TOLERANCE = 0.01
CONTENDERS = ("product", "loop", "direct")
TARGETS = {"direct": 1.5, "loop": 1.0}  # product wall time / contender's, at most

CHILD = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
sys.path.insert(0, {bench!r})
import bench_shadow as b
plan = b.inputs({fn!r})  # what `rollout` has loaded before it reads a capture
wall, cpu = time.perf_counter(), time.process_time()
counts = b.{fn}(Path({root_dir!r}), plan)
print(json.dumps({{"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                  "counts": counts}}))
"""


def _plan() -> Any:
    from sagemaker_rollouts.strategies.shadow_compare import (
        FieldSpec,
        ShadowReportPlan,
        Thresholds,
    )

    fields = (FieldSpec("score", "number", json_path="$.score", tolerance=TOLERANCE),)
    return ShadowReportPlan(
        SPEC.production, SPEC.shadow, fields, Thresholds(1, 99.0, 1.2), WINDOW_S, None
    )


def _counts(c: Any) -> dict[str, int]:
    return {
        "records": c.production.records + c.shadow.records,
        "paired": c.paired,
        "agreed": c.fields[0].agreed,
    }


def inputs(fn: str) -> Any:
    """What a contender has before its clock starts. The product's engines: the command module
    and the report plan (`cli.cmd_shadow`, `ShadowReportPlan`), which `rollout shadow-report`
    has loaded (`cli/main.py` imports the command to dispatch to it; the stack's planning makes
    the plan) before it reads any capture. Their import is not the comparison's: ~0.5 ms and
    ~5 ms of CPU (`strategies.shadow_compare`'s ten frozen dataclasses). The baselines have their
    settings as module constants."""
    if fn not in ("product", "small", "duckdb"):
        return None
    import sagemaker_rollouts.cli.cmd_shadow  # noqa: F401

    return _plan()


def product(root: Path, plan: Any) -> dict[str, int]:
    """The report's real path, as `rollout shadow-report --from-dir` runs it (no --png): the
    engine chosen by the captures' size (`cmd_shadow.compare_local`)."""
    from sagemaker_rollouts.cli.cmd_shadow import compare_local

    until = SPEC.start + timedelta(days=2)
    c, _ = compare_local(root, SPEC.endpoint, plan, SPEC.start, until)
    return _counts(c)


def small(root: Path, plan: Any) -> dict[str, int]:
    """The small engine forced (`shadow_small.PythonEngine`), whatever the size."""
    from sagemaker_rollouts.cli.shadow_small import PythonEngine, capture_files
    from sagemaker_rollouts.strategies.shadow_compare import parse_row

    until = SPEC.start + timedelta(days=2)
    files = capture_files(str(root), SPEC.endpoint)
    assert files is not None
    row, _ = PythonEngine(files).comparison(
        production=plan.production,
        shadow=plan.shadow,
        fields=plan.fields,
        since=SPEC.start,
        until=until,
        window_seconds=plan.window_seconds,
    )
    return _counts(parse_row(row, plan.fields))


def duckdb(root: Path, plan: Any) -> dict[str, int]:
    """The DuckDB engine forced (`shadow_engine.LocalEngine`), whatever the size."""
    from sagemaker_rollouts.cli.cmd_shadow import compare
    from sagemaker_rollouts.cli.shadow_engine import LocalEngine

    engine = LocalEngine(root, SPEC.endpoint)  # the CLI's defaults (memory_limit 512MB)
    c, _, _ = compare(engine, plan, SPEC.start, SPEC.start + timedelta(days=2))
    engine.close()
    return _counts(c)


def loop(root: Path, _: Any = None) -> dict[str, int]:
    """Baseline: plain Python, the json module, one parse per line; pairs each shadow record
    with the nearest unpaired production record of its key within the window (bisect on the
    production times of that key)."""
    prod: dict[str, list[tuple[float, float]]] = {}
    shadow: list[tuple[str, float, float]] = []
    records = 0
    for variant in (SPEC.production, SPEC.shadow):
        for path in sorted((root / SPEC.endpoint / variant).rglob("*.jsonl")):
            with path.open(encoding="utf-8") as fh:
                for line in fh:
                    try:
                        doc = json.loads(line)
                        cap = doc["captureData"]
                        meta = doc["eventMetadata"]
                        out, inp = cap["endpointOutput"], cap["endpointInput"]
                        data, req = out["data"], inp["data"]
                        if out.get("encoding") == "BASE64":
                            data = base64.b64decode(data).decode()
                        if inp.get("encoding") == "BASE64":
                            req = base64.b64decode(req).decode()
                        score = float(json.loads(data)["score"])
                        at = datetime.fromisoformat(meta["inferenceTime"]).timestamp()
                        key = meta.get("inferenceId") or hashlib.sha256(req.encode()).hexdigest()
                    except (ValueError, KeyError, TypeError):
                        continue
                    records += 1
                    if variant == SPEC.production:
                        prod.setdefault(key, []).append((at, score))
                    else:
                        shadow.append((key, at, score))
    paired = agreed = 0
    for rows in prod.values():
        rows.sort()
    used: set[tuple[str, int]] = set()
    for key, at, s_score in sorted(shadow, key=lambda r: r[1]):
        rows = prod.get(key)
        if not rows:
            continue
        i = bisect.bisect_left(rows, (at, float("-inf")))
        best: tuple[float, int] | None = None
        for j in (i - 1, i, i + 1):
            if 0 <= j < len(rows) and (key, j) not in used:
                d = abs(rows[j][0] - at)
                if d <= WINDOW_S and (best is None or d < best[0]):
                    best = (d, j)
        if best is not None:
            used.add((key, best[1]))
            paired += 1
            agreed += abs(rows[best[1]][1] - s_score) <= TOLERANCE
    return {"records": records, "paired": paired, "agreed": agreed}


DIRECT_SQL = """
WITH raw AS (
  SELECT regexp_extract(filename, '/([^/]+)/\\d{{4}}/\\d{{2}}/\\d{{2}}/\\d{{2}}/[^/]+$', 1)
           AS variant,
         captureData AS c, eventMetadata AS m
  FROM read_ndjson('{pattern}', filename = true, ignore_errors = true, columns = {{
    'captureData': 'STRUCT(endpointInput STRUCT(data VARCHAR, encoding VARCHAR),
                           endpointOutput STRUCT(data VARCHAR, encoding VARCHAR))',
    'eventMetadata': 'STRUCT(eventId VARCHAR, inferenceId VARCHAR, inferenceTime VARCHAR)'}})
),
rec AS (
  SELECT variant = '{shadow}' AS is_shadow,
    coalesce(m.inferenceId, sha256(CASE WHEN c.endpointInput.encoding = 'BASE64'
      THEN decode(from_base64(c.endpointInput.data)) ELSE c.endpointInput.data END)) AS k,
    CAST(m.inferenceTime AS TIMESTAMPTZ) AS t, m.eventId AS ev,
    TRY_CAST(json_extract_string(CASE WHEN c.endpointOutput.encoding = 'BASE64'
      THEN decode(from_base64(c.endpointOutput.data)) ELSE c.endpointOutput.data END,
      '$.score') AS DOUBLE) AS score
  FROM raw
  WHERE c.endpointOutput.data IS NOT NULL AND m.inferenceTime IS NOT NULL
),
o AS (
  SELECT *,
    sum(CASE WHEN is_shadow THEN 0 ELSE 1 END) OVER w AS p_seq,
    max(CASE WHEN is_shadow THEN NULL ELSE t END) OVER w AS prev_at,
    min(CASE WHEN is_shadow THEN NULL ELSE t END) OVER (PARTITION BY k ORDER BY t, is_shadow, ev
      ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS next_at
  FROM rec
  WINDOW w AS (PARTITION BY k ORDER BY t, is_shadow, ev
    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
c AS (
  SELECT k, score, CASE
      WHEN epoch_ms(t) - epoch_ms(prev_at) <= {window_ms} AND (next_at IS NULL
        OR epoch_ms(next_at) - epoch_ms(t) > {window_ms}
        OR epoch_ms(t) - epoch_ms(prev_at) <= epoch_ms(next_at) - epoch_ms(t)) THEN p_seq
      WHEN epoch_ms(next_at) - epoch_ms(t) <= {window_ms} THEN p_seq + 1 END AS cand
  FROM o WHERE is_shadow
),
pairs AS (
  SELECT c.score AS s, p.score AS p FROM c JOIN o p ON p.k = c.k AND p.p_seq = c.cand
    AND NOT p.is_shadow
  QUALIFY row_number() OVER (PARTITION BY c.k, c.cand) = 1
)
SELECT (SELECT count(*) FROM rec) AS records, count(*) AS paired,
  count_if(abs(p - s) <= {tolerance}) AS agreed
FROM pairs
"""


def direct(root: Path, _: Any = None) -> dict[str, int]:
    """Baseline: hand-written DuckDB SQL over the same files, same engine settings as the CLI."""
    import duckdb

    con = duckdb.connect(config={"memory_limit": "512MB", "threads": 2})
    con.execute("SET enable_progress_bar = false")  # as the product's engine (no stdout bar)
    pattern = str(root / SPEC.endpoint / "*" / "*" / "*" / "*" / "*" / "*.jsonl")
    sql = DIRECT_SQL.format(
        pattern=pattern, shadow=SPEC.shadow, window_ms=WINDOW_S * 1000, tolerance=TOLERANCE
    )
    records, paired, agreed = con.execute(sql).fetchone() or (0, 0, 0)
    con.close()
    return {"records": int(records), "paired": int(paired), "agreed": int(agreed)}


# Children write and use bytecode caches (as an installed package does): with
# PYTHONDONTWRITEBYTECODE set, every child would time the compiler on our modules.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measure(fn: str, root: Path) -> dict[str, Any]:
    code = CHILD.format(root=str(ROOT), bench=str(ROOT / "bench"), fn=fn, root_dir=str(root))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=ENV
    )
    return json.loads([x for x in out.stdout.splitlines() if x.startswith("{")][-1])


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"


def _load() -> str:
    """The 1-minute load average (the bench shares its cores: it says how noisy the run was)."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def _ratios(runs: dict[str, list[dict[str, Any]]], a: str, b: str, key: str) -> list[float]:
    return [x[key] / y[key] for x, y in zip(runs[a], runs[b], strict=True)]


def _capture_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*.jsonl"))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,100000", help="production requests per size")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds per size")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument(
        "--engines",
        action="store_true",
        help="also time the small engine and DuckDB forced (where the crossover is)",
    )
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    contenders = CONTENDERS + (("small", "duckdb") if args.engines else ())
    failed = missed = False
    print(f"load average at start: {_load()} ({os.cpu_count()} cores)")
    print(
        "| requests | records | capture bytes | product s (cpu s) | loop s (cpu s) | "
        "direct s (cpu s) | product / direct | product / loop | by CPU: product / direct | "
        "product / loop |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    engines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-shadow-") as tmp:
        for n in sizes:
            root = Path(tmp) / str(n)
            capture_gen.write_tree(root, replace(SPEC, requests=n, per_file=20000))
            runs: dict[str, list[dict[str, Any]]] = {c: [] for c in contenders}
            if n == sizes[0]:
                for fn in contenders:  # warm-up, not timed: writes the bytecode caches
                    measure(fn, root)
            for r in range(args.repeat):
                k = r % len(contenders)
                for fn in contenders[k:] + contenders[:k]:
                    runs[fn].append(measure(fn, root))
            counts = {fn: runs[fn][0]["counts"] for fn in contenders}
            if len({json.dumps(c, sort_keys=True) for c in counts.values()}) != 1:
                print(f"MISMATCH at {n}: {counts}")
                failed = True
            for other, limit in TARGETS.items():
                for key in ("wall", "cpu"):
                    if statistics.median(_ratios(runs, "product", other, key)) > limit:
                        missed = True

            def cell(fn: str, runs: dict[str, list[dict[str, Any]]] = runs) -> str:
                wall = statistics.median(r["wall"] for r in runs[fn])
                cpu = statistics.median(r["cpu"] for r in runs[fn])
                return f"{wall:.3f} ({cpu:.3f})"

            print(
                f"| {n:,} | {counts['product']['records']:,} | {_capture_bytes(root):,} | "
                f"{cell('product')} | {cell('loop')} | {cell('direct')} | "
                f"{_spread(_ratios(runs, 'product', 'direct', 'wall'))} | "
                f"{_spread(_ratios(runs, 'product', 'loop', 'wall'))} | "
                f"{_spread(_ratios(runs, 'product', 'direct', 'cpu'))} | "
                f"{_spread(_ratios(runs, 'product', 'loop', 'cpu'))} |"
            )
            if args.engines:
                engines.append(
                    f"| {n:,} | {_capture_bytes(root):,} | {cell('small')} | {cell('duckdb')} | "
                    f"{_spread(_ratios(runs, 'small', 'duckdb', 'cpu'))} | "
                    f"{_spread(_ratios(runs, 'small', 'loop', 'cpu'))} | "
                    f"{_spread(_ratios(runs, 'duckdb', 'loop', 'cpu'))} |"
                )
    if engines:
        print("\nengines forced (the crossover: small / duckdb by CPU passes 1):")
        print(
            "| requests | capture bytes | small s (cpu s) | duckdb s (cpu s) | "
            "by CPU: small / duckdb | small / loop | duckdb / loop |"
        )
        print("|---|---|---|---|---|---|---|")
        print("\n".join(engines))
    print(
        f"targets: product / direct <= {TARGETS['direct']}, product / loop <= {TARGETS['loop']} "
        f"(median of {args.repeat} interleaved rounds, wall and CPU time): "
        f"{'MISSED' if missed else 'met'}; load average at end: {_load()}"
    )
    return 1 if failed or (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
