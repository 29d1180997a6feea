"""Shadow-report throughput: captured records per second on the local engine (the Athena-dialect
query transpiled by sqlglot, run on DuckDB) against a plain Python loop over the same files with
the `json` module (parse each line, decode, pair by key, count agreement), measured in one run.

Run: `python bench/bench_shadow.py [--sizes 10000,100000,1000000]` (repository root, venv active).
Default sizes: 10k and 100k (CI); the 1M row is the documented full command. Each size writes its
capture files once (production + shadow, all three encodings), then times each engine once after
one warm-up on the smallest size. Peak memory: the engine's own peak RSS growth, read from
/proc/self/status (VmHWM) in a fresh child process per measurement, so one does not hide another.
Exit status 1 if the two engines disagree on the counts (same files, same pairing rule).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sagemaker_rollouts.cli import capture_gen  # noqa: E402

CHILD = """
import json, sys, time
from datetime import datetime, timedelta
from pathlib import Path
sys.path.insert(0, {root!r})
sys.path.insert(0, {bench!r})
import bench_shadow as b
def hwm():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            return int(line.split()[1])
    return 0
start_mem = hwm()
t = time.perf_counter()
counts = b.{fn}(Path({root_dir!r}))
elapsed = time.perf_counter() - t
print(json.dumps({{"elapsed": elapsed, "counts": counts, "peak_kib": hwm() - start_mem}}))
"""

SPEC = capture_gen.CaptureSpec(disagree_percent=2.0, sampling_percent=100, gap_ms=3)


def local_engine(root: Path) -> dict[str, int]:
    """The shadow report's real path: comparison_sql -> sqlglot -> DuckDB over the files."""
    from sagemaker_rollouts.cli.shadow_engine import LocalEngine
    from sagemaker_rollouts.strategies.shadow_compare import FieldSpec, comparison_sql, parse_row

    fields = [FieldSpec("score", "number", json_path="$.score", tolerance=0.01)]
    sql = comparison_sql(
        table="capture",
        production=SPEC.production,
        shadow=SPEC.shadow,
        fields=fields,
        since=SPEC.start,
        until=SPEC.start + timedelta(days=2),
        window_seconds=5,
    )
    engine = LocalEngine(root, SPEC.endpoint, memory_limit="1GB")
    c = parse_row(engine.rows(sql)[0], fields)
    engine.close()
    return {
        "records": c.production.records + c.shadow.records,
        "paired": c.paired,
        "agreed": c.fields[0].agreed,
    }


def json_loop(root: Path) -> dict[str, int]:
    """Baseline: a plain loop with the json module, streaming line by line; pairs by
    inferenceId (else request hash), keeping only unmatched production answers in memory."""
    waiting: dict[str, float] = {}
    records = paired = agreed = 0
    shadow_seen: dict[str, float] = {}
    for variant in (SPEC.production, SPEC.shadow):
        for path in sorted((root / SPEC.endpoint / variant).rglob("*.jsonl")):
            with path.open(encoding="utf-8") as fh:
                for line in fh:
                    try:
                        doc = json.loads(line)
                        cap = doc["captureData"]
                        out = cap["endpointOutput"]
                        data = out["data"]
                        if out.get("encoding") == "BASE64":
                            data = base64.b64decode(data).decode()
                        score = float(json.loads(data)["score"])
                        key = (
                            doc["eventMetadata"].get("inferenceId")
                            or hashlib.sha256(cap["endpointInput"]["data"].encode()).hexdigest()
                        )
                    except (ValueError, KeyError, TypeError):
                        continue
                    records += 1
                    if variant == SPEC.production:
                        waiting[key] = score
                    else:
                        shadow_seen[key] = score
    for key, s_score in shadow_seen.items():
        p_score = waiting.get(key)
        if p_score is not None:
            paired += 1
            agreed += abs(p_score - s_score) <= 0.01
    return {"records": records, "paired": paired, "agreed": agreed}


def measure(fn: str, root: Path) -> dict[str, object]:
    code = CHILD.format(root=str(ROOT), bench=str(ROOT / "bench"), fn=fn, root_dir=str(root))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000", help="production requests per size")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    failed = False
    print(
        "| requests | captured records | local engine rec/s | json loop rec/s | ratio | "
        "local peak MiB | loop peak MiB |"
    )
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="bench-shadow-") as tmp:
        warm = Path(tmp) / "warm"
        capture_gen.write_tree(warm, _spec(2000))
        measure("local_engine", warm)
        for n in sizes:
            root = Path(tmp) / str(n)
            capture_gen.write_tree(root, _spec(n))
            local = measure("local_engine", root)
            loop = measure("json_loop", root)
            if local["counts"] != loop["counts"]:
                print(f"MISMATCH at {n}: local {local['counts']} vs loop {loop['counts']}")
                failed = True
            recs = int(local["counts"]["records"])  # type: ignore[index]
            lr = recs / float(local["elapsed"])  # type: ignore[arg-type]
            jr = recs / float(loop["elapsed"])  # type: ignore[arg-type]
            print(
                f"| {n:,} | {recs:,} | {lr:,.0f} | {jr:,.0f} | {lr / jr:.2f} | "
                f"{int(local['peak_kib']) / 1024:.0f} | {int(loop['peak_kib']) / 1024:.0f} |"  # type: ignore[call-overload]
            )
    return 1 if failed else 0


def _spec(n: int) -> capture_gen.CaptureSpec:
    from dataclasses import replace

    return replace(SPEC, requests=n, per_file=20000)


if __name__ == "__main__":
    sys.exit(main())
