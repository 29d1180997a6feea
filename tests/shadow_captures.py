"""What the shadow-report tests share: the endpoint their capture trees are written for, the
fields they compare, and the comparison query over a local capture tree."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sagemaker_rollouts.strategies.shadow_compare import (
    PAIRING_ROUNDS,
    Dialect,
    FieldSpec,
    comparison_sql,
)

EP = "fraud-shadow"
SCORE = FieldSpec("score", "number", json_path="$.score", tolerance=0.01)
LABEL = FieldSpec("label", "label", json_path="$.label")
CSV_SCORE = FieldSpec("score", "number", csv_column=0, tolerance=0.01)
CSV_LABEL = FieldSpec("label", "label", csv_column=1)


def comparison_args(
    fields: list[FieldSpec],
    since: datetime,
    until: datetime,
    *,
    window: int = 5,
    rounds: int = PAIRING_ROUNDS,
) -> dict[str, Any]:
    """What both local engines' comparisons take (`comparison_sql`, the small engine's
    `PythonEngine.comparison`): variant "live" (production) against "shadow", `window` seconds
    to pair, `rounds` pairing rounds."""
    return {
        "production": "live",
        "shadow": "shadow",
        "fields": fields,
        "since": since,
        "until": until,
        "window_seconds": window,
        "rounds": rounds,
    }


def capture_sql(
    fields: list[FieldSpec],
    since: datetime,
    until: datetime,
    *,
    dialect: Dialect = "duckdb",
    **kw: int,
) -> str:
    """`comparison_sql` over the table "capture", the local engines' view of a capture tree;
    `kw`: `window` and `rounds` as `comparison_args` takes them."""
    return comparison_sql(
        table="capture", dialect=dialect, **comparison_args(fields, since, until, **kw)
    )
