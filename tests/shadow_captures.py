"""What the shadow-report tests share: the endpoint their capture trees are written for, the
fields they compare, and the comparison query over a local capture tree."""

from __future__ import annotations

from datetime import datetime

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


def capture_sql(
    fields: list[FieldSpec],
    since: datetime,
    until: datetime,
    *,
    window: int = 5,
    rounds: int = PAIRING_ROUNDS,
    dialect: Dialect = "duckdb",
) -> str:
    """`comparison_sql` of variant "live" (production) against "shadow" over the table
    "capture" (the local engines' view of a capture tree), `window` seconds to pair."""
    return comparison_sql(
        table="capture",
        production="live",
        shadow="shadow",
        fields=fields,
        since=since,
        until=until,
        window_seconds=window,
        rounds=rounds,
        dialect=dialect,
    )
