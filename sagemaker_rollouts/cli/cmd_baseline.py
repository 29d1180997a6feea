"""`rollout baseline`: build a drift baseline from training data (CSV with a header, or JSON lines).

Each named feature becomes numeric bins (deciles) or category shares (lambdas/drift.py). For
prediction drift, include the model's predictions on the training data as one more column and
list it as a feature (with `source: output` in the stack's `drift.features`).
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sagemaker_rollouts.cli import render
from sagemaker_rollouts.cli.errors import EXIT_OK, UsageError
from sagemaker_rollouts.lambdas.drift import BaselineError, NumericBins, build_baseline


def rows(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a `.csv` (header row names the columns) or `.jsonl` file (one object per line).

    Raises UsageError naming the file and line of a malformed JSON line."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as fh:
            yield from csv.DictReader(fh)
        return
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UsageError(f"{path}:{n}: not a JSON object: {exc.msg}") from None
            if not isinstance(doc, dict):
                raise UsageError(f"{path}:{n}: not a JSON object")
            yield doc


def run(args: argparse.Namespace) -> int:
    source = Path(args.source)
    if not source.is_file():
        raise UsageError(f"--from {source}: file not found")
    if source.suffix.lower() not in (".csv", ".jsonl", ".json"):
        raise UsageError(f"--from {source}: expected a .csv or .jsonl file")
    features = [f.strip() for f in args.features.split(",") if f.strip()]
    if not features:
        raise UsageError("--features: name at least one column, comma-separated")
    if not 2 <= args.bins <= 100:
        raise UsageError(f"--bins: must be 2..100, got {args.bins}")
    try:
        baseline = build_baseline(rows(source), features, bins=args.bins)
    except BaselineError as exc:
        raise UsageError(f"--from {source}: {exc}") from None
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(baseline.to_json() + "\n")
    if args.json:
        render.print_json(json.loads(baseline.to_json()))
    else:
        con = render.console()
        con.print(f"{out}: {baseline.rows} rows")
        for name, f in baseline.features:
            kind = (
                f"numeric, {len(f.shares)} bins"
                if isinstance(f, NumericBins)
                else f"categorical, {len(f.shares)} categories"
            )
            con.print(f"  {name}: {kind}")
    return EXIT_OK
