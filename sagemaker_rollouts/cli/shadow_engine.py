"""Where the shadow comparison runs: locally on DuckDB, or on Athena over the Glue table.

The query is `strategies.shadow_compare.comparison_sql`, written in each engine's dialect
(`Engine.dialect`): Athena runs the Trino text, the local engine the DuckDB text, which equals
what `to_duckdb` (sqlglot's transpiler) makes of the Trino text (tests/test_shadow_report.py
holds them equal), so both engines run the same query and no transpiler runs at report time.
DuckDB streams the capture files (it never holds them all in memory; `memory_limit` caps it),
reading each line as one text column, exactly like the Glue table's single `line` column.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sagemaker_rollouts.strategies.shadow_compare import VariantMetrics, hour_partition

if TYPE_CHECKING:
    import tempfile

TABLE = "capture"
# `<root>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>`: the partition keys, as the Glue table
# projects them from the S3 path.
_PATH_RE = r"/([^/]+)/(\d{4}/\d{2}/\d{2}/\d{2})/[^/]+$"


def to_duckdb(sql: str) -> str:
    """Athena (Trino) SQL -> DuckDB SQL, by sqlglot's transpiler, parsing each line once: the
    reference `comparison_sql(dialect="duckdb")` is tested against (not used at report time).

    The shared text reads a capture line's fields with `json_extract_scalar(doc, '$.a.b')` on
    `doc = try(json_parse(line))`, which Athena evaluates on the parsed value. DuckDB's JSON
    type is text, so each extraction would parse the line again (about eight times a line).
    The rewrite turns `doc` into ONE `json_extract_string(line, [paths])` (DuckDB parses the
    document once and returns one text per path; DuckDB docs, "JSON Processing Functions":
    "extract multiple values at once by providing a list of paths") over exactly the paths the
    query reads, and each extraction into an element of that list. Like Athena's extraction it
    gives NULL for a missing key or a JSON null, and NULL for an invalid line under `try`; a
    path read with `json_extract` (only ever tested with `IS NULL`) is present when the key is.
    The `decoded` step is materialized: several later steps read its per-line decoding, which
    DuckDB would otherwise inline into each and compute again (Athena plans its own)."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="trino")
    tree = _parse_doc_once(tree)
    for cte in tree.find_all(exp.CTE):
        if cte.alias == "decoded":
            cte.set("materialized", True)
    out = tree.sql(dialect="duckdb")
    # Trino's sha256 returns bytes, so the shared text hex-encodes them; DuckDB's returns the
    # hex text already, and sqlglot keeps the meaning with HEX(UNHEX(...)): skip the round trip
    # (the key is only compared within one engine, so its letter case does not matter).
    return out.replace("HEX(UNHEX(SHA256(", "((SHA256(")


def _parse_doc_once(tree: Any) -> Any:
    from sqlglot import exp

    def doc_path(node: Any) -> str | None:
        if not isinstance(node, exp.JSONExtractScalar | exp.JSONExtract):
            return None
        col = node.this
        if not (isinstance(col, exp.Column) and col.name == "doc" and not col.table):
            return None
        path = node.expression
        if not isinstance(path, exp.JSONPath):
            return None
        keys: list[str] = []
        for part in path.expressions[1:]:
            if not isinstance(part, exp.JSONPathKey) or not isinstance(part.this, str):
                return None
            keys.append(part.this)
        return "$." + ".".join(keys) if keys else None

    found = [
        (node, path)
        for node in list(tree.find_all(exp.JSONExtractScalar, exp.JSONExtract))
        if (path := doc_path(node)) is not None
    ]
    parses = [
        t
        for t in tree.find_all(exp.Try)
        if isinstance(t.this, exp.ParseJSON)
        and isinstance(t.parent, exp.Alias)
        and t.parent.alias == "doc"
    ]
    if not found or len(parses) != 1:
        return tree
    paths = sorted({p for _, p in found})
    line = parses[0].this.this
    parses[0].this.replace(
        exp.Anonymous(
            this="json_extract_string",
            expressions=[
                line.copy(),
                exp.Array(expressions=[exp.Literal.string(p) for p in paths]),
            ],
        )
    )
    for node, path in found:
        node.replace(
            exp.Bracket(
                this=exp.column("doc"),
                expressions=[exp.Literal.number(paths.index(path))],  # sqlglot: 0-based
            )
        )
    return tree


def _duckdb() -> Any:
    """DuckDB's native module. duckdb 2.x's `duckdb` package is a Python layer over the C++
    extension `_duckdb` (its `__init__` re-exports `_duckdb.connect`); importing that layer
    costs ~0.15-0.2 s CPU (`duckdb._relation` and friends), the extension alone ~0.02 s, and the
    engine needs only connect / execute / fetchall. Falls back to the package when the
    extension is not importable on its own (older layouts)."""
    try:
        import _duckdb  # pyright: ignore[reportMissingImports]

        return _duckdb
    except ImportError:
        import duckdb

        return duckdb


class LocalEngine:
    """DuckDB over capture files under `root` (`<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl`);
    runs DuckDB-dialect SQL (`comparison_sql(..., dialect="duckdb")`)."""

    dialect = "duckdb"

    def __init__(self, root: Path, endpoint: str, *, memory_limit: str = "512MB") -> None:
        self._con = _duckdb().connect(config={"memory_limit": memory_limit, "threads": 2})
        # DuckDB draws a progress bar on stdout for a query running over 2 s (on by default):
        # it would land in the middle of the report, or of its --json document.
        self._con.execute("SET enable_progress_bar = false")
        pattern = str(root / endpoint / "*" / "*" / "*" / "*" / "*" / "*.jsonl")
        has_files = any((root / endpoint).rglob("*.jsonl")) if (root / endpoint).is_dir() else False
        if has_files:
            # One text column per line: no CSV quoting, a delimiter that valid JSON text never
            # holds (control characters must be escaped in JSON). A garbage line that does hold it
            # keeps its first field (strict_mode off), as Hive's LazySimpleSerDe under the Glue
            # table does, and is then counted unreadable by the query.
            source = (
                f"read_csv('{pattern}', columns={{'line': 'VARCHAR'}}, delim=chr(1), "
                "header=false, quote='', escape='', filename=true, auto_detect=false, "
                "strict_mode=false, max_line_size=16777216)"
            )
            self._con.execute(
                f"CREATE VIEW {TABLE} AS SELECT line, "
                f"regexp_extract(replace(filename, '\\', '/'), '{_PATH_RE}', 1) AS variant, "
                f"regexp_extract(replace(filename, '\\', '/'), '{_PATH_RE}', 2) AS hour "
                f"FROM {source}"
            )
        else:
            self._con.execute(
                f"CREATE VIEW {TABLE} AS SELECT CAST(NULL AS VARCHAR) AS line, "
                "CAST(NULL AS VARCHAR) AS variant, CAST(NULL AS VARCHAR) AS hour WHERE false"
            )

    def rows(self, sql: str) -> list[dict[str, Any]]:
        """Run DuckDB-dialect `sql` and return its rows as dicts."""
        cur = self._con.execute(sql)
        names = [d[0] for d in cur.description or ()]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def close(self) -> None:
        self._con.close()


@dataclass(frozen=True, slots=True)
class AthenaEngine:
    """Athena over the Glue table the program declares (`strategy.shadow.athena: true`);
    runs Athena-dialect (Trino) SQL."""

    dialect = "athena"
    athena: Any
    database: str
    output_location: str
    workgroup: str = "primary"
    poll_seconds: float = 1.0
    timeout_seconds: float = 900.0

    def rows(self, sql: str) -> list[dict[str, Any]]:
        """Run `sql` as is; rows as dicts of text values (Athena returns strings; parse_row
        converts). Raises RuntimeError when the query fails or outlasts `timeout_seconds`."""
        qid = self.athena.start_query_execution(
            QueryString=sql,
            QueryExecutionContext={"Database": self.database},
            ResultConfiguration={"OutputLocation": self.output_location},
            WorkGroup=self.workgroup,
        )["QueryExecutionId"]
        deadline = time.monotonic() + self.timeout_seconds
        while True:
            status = self.athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"][
                "Status"
            ]
            state = status["State"]
            if state == "SUCCEEDED":
                break
            if state in ("FAILED", "CANCELLED"):
                raise RuntimeError(
                    f"Athena query {qid} {state}: {status.get('StateChangeReason', '')}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"Athena query {qid} still {state} after {self.timeout_seconds} s"
                )
            time.sleep(self.poll_seconds)
        out: list[dict[str, Any]] = []
        names: list[str] | None = None
        for page in self.athena.get_paginator("get_query_results").paginate(QueryExecutionId=qid):
            for row in page["ResultSet"]["Rows"]:
                values = [c.get("VarCharValue") for c in row["Data"]]
                if names is None:
                    names = [str(v) for v in values]  # the first row holds the column names
                    continue
                out.append(dict(zip(names, values, strict=True)))
        return out


def hours_between(since: datetime, until: datetime) -> list[str]:
    """Every `yyyy/mm/dd/hh` capture folder that can hold records in [since, until)."""
    t = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    out: list[str] = []
    while t < until:
        out.append(hour_partition(t))
        t += timedelta(hours=1)
    return out


def download_captures(
    s3: Any,
    uri: str,
    endpoint: str,
    variants: Sequence[str],
    since: datetime,
    until: datetime,
    dest: Path,
    *,
    max_hours: int = 48,
) -> int:
    """Copy the capture objects of `variants` for the hours of [since, until) from `uri`
    (`s3://bucket/prefix`) into `dest`, keeping `<endpoint>/<variant>/yyyy/mm/dd/hh/` so the
    local engine sees the Glue table's layout. Returns the number of objects.

    Streams object by object to disk (bounded memory). Raises ValueError past `max_hours`
    (a longer range is the Athena engine's job).
    """
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    prefix = prefix.strip("/")
    hours = hours_between(since, until)
    if len(hours) > max_hours:
        raise ValueError(
            f"--since/--until span {len(hours)} hours; the local engine reads at most {max_hours} "
            "(use --engine athena for longer ranges)"
        )
    n = 0
    paginator = s3.get_paginator("list_objects_v2")
    for variant in variants:
        for hour in hours:
            rel = f"{endpoint}/{variant}/{hour}/"
            key_prefix = f"{prefix}/{rel}" if prefix else rel
            for page in paginator.paginate(Bucket=bucket, Prefix=key_prefix):
                for obj in page.get("Contents", []):
                    key = str(obj["Key"])
                    target = dest / rel / Path(key).name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    s3.download_file(bucket, key, str(target))
                    n += 1
    return n


def scratch_dir() -> tempfile.TemporaryDirectory[str]:
    """A private temporary folder for downloaded captures (customer data: removed on exit)."""
    import tempfile

    return tempfile.TemporaryDirectory(prefix="rollout-shadow-", dir=os.environ.get("TMPDIR"))


def variant_metrics(
    cloudwatch: Any, endpoint: str, variant: str, since: datetime, until: datetime
) -> VariantMetrics | None:
    """AWS/SageMaker Invocations, Invocation5XXErrors (Sum) and ModelLatency p99 for one variant
    (dimensions EndpointName, VariantName) over [since, until). None when CloudWatch has no
    invocation data. ModelLatency is in microseconds (SageMaker's metric docs); returned in ms.
    Shadow variants publish under their own VariantName."""
    dims = [
        {"Name": "EndpointName", "Value": endpoint},
        {"Name": "VariantName", "Value": variant},
    ]
    seconds = max(60, int((until - since).total_seconds()))
    period = max(60, (seconds // 1440 // 60 + 1) * 60)  # at most 1,440 datapoints per call

    def total(metric: str) -> float | None:
        resp = cloudwatch.get_metric_statistics(
            Namespace="AWS/SageMaker",
            MetricName=metric,
            Dimensions=dims,
            StartTime=since,
            EndTime=until,
            Period=period,
            Statistics=["Sum"],
        )
        points = resp.get("Datapoints", [])
        return None if not points else float(sum(p["Sum"] for p in points))

    invocations = total("Invocations")
    if invocations is None:
        return None
    errors = total("Invocation5XXErrors")
    resp = cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName="ModelLatency",
        Dimensions=dims,
        StartTime=since,
        EndTime=until,
        Period=seconds // 60 * 60 if seconds >= 60 else 60,
        ExtendedStatistics=["p99"],
    )
    p99s = [
        float(p["ExtendedStatistics"]["p99"])
        for p in resp.get("Datapoints", [])
        if "p99" in p.get("ExtendedStatistics", {})
    ]
    return VariantMetrics(
        invocations=invocations,
        errors_5xx=0.0 if errors is None else errors,
        p99_latency_ms=None if not p99s else max(p99s) / 1000.0,
    )
