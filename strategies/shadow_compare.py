"""Shadow comparison: pair the production and shadow answers SageMaker captured, measure agreement,
and recommend promote / keep shadowing / reject. Pure: SQL text in, plain rows out, no engine here.

Theory of operation
-------------------
SageMaker data capture writes one JSON line per request and variant under
`<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl` (production and shadow variants alike):
`captureData.endpointInput` / `endpointOutput` = {observedContentType, mode, data, encoding} with
encoding CSV | JSON | BASE64 (`data` is then text, JSON text, or base64 of the raw bytes), and
`eventMetadata` = {eventId, inferenceTime, inferenceId only when the caller sent `InferenceId`}.
Source: SageMaker developer guide, "Capture data from real-time endpoint" (record format), and
docs/design.md §9.

SageMaker documents no id shared by a request and its shadow copy, so the pairing rule is ours:
1. the key of a record is its `inferenceId` when the caller sent one (callers who want exact
   pairing send `InferenceId` on InvokeEndpoint), else the SHA-256 of the decoded request body;
2. the shadow sees only a sampled share of the requests (`InitialSamplingPercentage`) and a body
   may repeat, so records are never paired by their rank: every shadow record proposes to the
   NEAREST production record of its key whose `inferenceTime` is at most `pair_window_seconds`
   away (the copy is sent at once; ties: the earlier one); a production record wanted by several
   shadow records keeps the nearest of them (ties: the earlier), and the others propose again,
   to the nearest production record still unpaired, for up to `PAIRING_ROUNDS` rounds. An
   unsampled repeat thus never shifts a later pair: the same body at 10:00:00 and 10:01:40 in
   production and its shadow copy at 10:01:41 make one pair (10:01:40 with 10:01:41). The rounds
   are the one approximation: a chain of more than `PAIRING_ROUNDS` copies of one body, each
   nearer to its neighbour's request than to its own, inside one window, leaves the last copies
   unpaired (counted as unpaired, never mispaired across bodies).
A production record without a partner is "unpaired" (expected: the shadow sees only its sampling
share), so is a shadow record. A side counts as captured when its `data` is there: with
CaptureMode `Input` SageMaker writes no `endpointOutput`, with `Output` no `endpointInput`
(SageMaker API reference, CaptureOption: `Input | Output | InputAndOutput`). A line with a
request, a parseable time and no answer is "input-only": counted as such, never compared. A line
with an answer and no request is paired by its `inferenceId` when it has one (the body is only
the fallback key); without one it is "output-only": counted, never compared. A line that is not
JSON, lacks a parseable `inferenceTime`, has neither side, or has a side whose BASE64 does not
decode to UTF-8 text is "unreadable": counted and skipped, the rest of the file is still read.

One source of truth for the query: `comparison_sql` writes it once; Athena runs its Trino text
over the Glue table the program declares, and the local engine runs the same query in DuckDB's
spelling, which is what sqlglot's transpiler makes of the Trino text (parsing each line once
there: `cli/shadow_engine.to_duckdb`); a test holds the two texts equal, so no transpiler runs
at report time. Pairing uses window functions only (a running count and the previous / next
production time in (time, variant, eventId) order per key), so both engines compute the same
pairs. The table it reads has three columns: `line` (one capture line), `variant` and `hour`
(`yyyy/MM/dd/HH`), the two partition keys projected from the S3 path.

Agreement per output field: labels agree when equal as text (after trimming); numbers agree when
`|production - shadow| <= tolerance`, and report the mean and max absolute difference. A paired
answer that lacks the field on either side counts as a disagreement (never promote on missing data).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

ERROR_RATE_MARGIN = 0.001
Action = Literal["promote", "keep_shadowing", "reject"]
FieldKind = Literal["label", "number"]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One answer field to compare. `json_path` for JSON answers, `csv_column` (0-based) for CSV;
    neither: the whole answer text. `tolerance` (absolute, numbers only) defaults to 0."""

    name: str
    kind: FieldKind = "label"
    json_path: str | None = None
    csv_column: int | None = None
    tolerance: float = 0.0


WHOLE_ANSWER = FieldSpec(name="answer")


@dataclass(frozen=True, slots=True)
class Thresholds:
    """`strategy.shadow.promote_when`: min pairs, min agreement (percent 0-100), max p99 ratio."""

    min_pairs: int
    min_agreement: float
    max_p99_latency_ratio: float


@dataclass(frozen=True, slots=True)
class VariantCounts:
    records: int  # readable records inside the time range
    unreadable: int  # malformed lines, skipped (any time: an unreadable line has no time)
    unpaired: int
    input_only: int = 0  # request captured without its answer (CaptureMode `Input` only)
    output_only: int = 0  # answer without request and without InferenceId: nothing to pair by


@dataclass(frozen=True, slots=True)
class FieldAgreement:
    """Agreement on one field over `paired` pairs. `agreement_percent` is None with no pairs."""

    name: str
    kind: FieldKind
    compared: int  # pairs where both answers have the field (numbers: parse as numbers)
    agreed: int
    paired: int
    mean_abs_diff: float | None  # numbers only
    max_abs_diff: float | None

    @property
    def agreement_percent(self) -> float | None:
        return None if self.paired == 0 else 100.0 * self.agreed / self.paired


@dataclass(frozen=True, slots=True)
class Comparison:
    paired: int
    production: VariantCounts
    shadow: VariantCounts
    fields: tuple[FieldAgreement, ...]


@dataclass(frozen=True, slots=True)
class VariantMetrics:
    """CloudWatch AWS/SageMaker figures for one variant over the report's range.

    `p99_latency_ms`: ModelLatency p99 (published in microseconds, shown in ms); None: no data.
    """

    invocations: float
    errors_5xx: float
    p99_latency_ms: float | None

    @property
    def error_rate(self) -> float | None:
        return None if self.invocations <= 0 else self.errors_5xx / self.invocations


@dataclass(frozen=True, slots=True)
class Recommendation:
    action: Action
    reason: str


@dataclass(frozen=True, slots=True)
class GlueTable:
    """The Glue database and table over one endpoint's capture prefix (`--engine athena`)."""

    database: str
    table: str


@dataclass(frozen=True, slots=True)
class ShadowReportPlan:
    """What `rollout shadow-report` compares for one shadow endpoint, from `strategy.shadow`."""

    production: str
    shadow: str
    fields: tuple[FieldSpec, ...]
    thresholds: Thresholds
    window_seconds: int
    glue: GlueTable | None  # declared only with `strategy.shadow.athena: true`


def glue_names(project: str, stack: str, endpoint_name: str) -> GlueTable:
    """Glue names: lowercase letters, digits and underscores (Athena's rule for table names),
    database per stack, table per endpoint, each at most 255 characters (Glue's limit)."""

    def clean(text: str) -> str:
        return "".join(c if c.isalnum() else "_" for c in text.lower())[:200]

    return GlueTable(database=clean(f"{project}_{stack}"), table=clean(f"{endpoint_name}_capture"))


# Hive's plain-text SerDe with a delimiter valid JSON text never holds (control characters must be
# escaped in JSON): each capture line lands whole in the one `line` column, so a malformed line is
# still a row the query counts as unreadable (a JSON SerDe would fail the query, or drop it
# silently with `ignore.malformed.json`). The local engine reads the files the same way.
LINE_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
LINE_INPUT_FORMAT = "org.apache.hadoop.mapred.TextInputFormat"
LINE_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
LINE_DELIMITER = "\u0001"
DEFAULT_HISTORY_DAYS = 400  # captures in a bucket we do not manage: project this many days back
HOUR_FORMAT = "yyyy/MM/dd/HH"  # Java DateTimeFormatter pattern of `hour_partition`'s text


@dataclass(frozen=True, slots=True)
class GlueTableSpec:
    """Everything the program declares for one endpoint's Glue table (see `glue_table_spec`).

    `columns` / `partition_keys`: (name, Hive type) in order; `parameters`: table parameters
    (partition projection); `location`: the endpoint's capture prefix, ending in `/`.
    """

    database: str
    table: str
    location: str
    columns: tuple[tuple[str, str], ...]
    partition_keys: tuple[tuple[str, str], ...]
    parameters: tuple[tuple[str, str], ...]
    serde: str
    serde_parameters: tuple[tuple[str, str], ...]
    input_format: str
    output_format: str


def glue_table_spec(
    glue: GlueTable,
    *,
    capture_uri: str,
    endpoint_name: str,
    variants: Sequence[str],
    history_days: int = DEFAULT_HISTORY_DAYS,
) -> GlueTableSpec:
    """The Glue table `comparison_sql` reads on Athena, over one endpoint's data capture.

    SageMaker writes captures to `<capture_uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl`
    (SageMaker developer guide, "Capture data from real-time endpoint": "the data is stored in
    ... s3://{destination-bucket-prefix}/{endpoint-name}/{variant-name}/yyyy/mm/dd/hh/
    {filename}.jsonl"). The table has the columns the query reads: `line` (string, one capture
    line) plus the partition keys `variant` (string) and `hour` (string, `yyyy/MM/dd/HH`).

    Partitions are projected, never crawled or added (Athena user guide, "Use partition
    projection with Amazon Athena" and "Supported types for partition projection"): `variant` is
    an `enum` of `variants` (the production and shadow variant names), `hour` a `date` with
    format `yyyy/MM/dd/HH`, interval 1 HOURS, range `NOW-<history_days>DAYS,NOW`, and
    `storage.location.template` = `<capture_uri>/<endpoint>/${variant}/${hour}/` (the Firehose
    example in the same guide projects the same `yyyy/MM/dd/HH` folders).

    `capture_uri`: `s3://bucket[/prefix]` (a trailing `/` is dropped). Raises ValueError for a
    URI that is not `s3://`, no variants, a variant name holding `,` (the enum's separator), or
    `history_days` < 1.
    """
    problems: list[str] = []
    if not capture_uri.startswith("s3://") or len(capture_uri.rstrip("/")) <= len("s3://"):
        problems.append(f"capture_uri must be s3://bucket[/prefix], got {capture_uri!r}")
    if not variants:
        problems.append("variants: at least one variant name")
    problems += [f"variant name {v!r} holds ',' (the enum separator)" for v in variants if "," in v]
    if history_days < 1:
        problems.append(f"history_days must be >= 1, got {history_days}")
    if problems:
        raise ValueError("; ".join(problems))
    root = f"{capture_uri.rstrip('/')}/{endpoint_name}"
    return GlueTableSpec(
        database=glue.database,
        table=glue.table,
        location=f"{root}/",
        columns=(("line", "string"),),
        partition_keys=(("variant", "string"), ("hour", "string")),
        parameters=(
            ("EXTERNAL", "TRUE"),
            ("projection.enabled", "true"),
            ("projection.variant.type", "enum"),
            ("projection.variant.values", ",".join(variants)),
            ("projection.hour.type", "date"),
            ("projection.hour.format", HOUR_FORMAT),
            ("projection.hour.range", f"NOW-{history_days}DAYS,NOW"),
            ("projection.hour.interval", "1"),
            ("projection.hour.interval.unit", "HOURS"),
            ("storage.location.template", f"{root}/${{variant}}/${{hour}}/"),
        ),
        serde=LINE_SERDE,
        serde_parameters=(
            ("field.delim", LINE_DELIMITER),
            ("serialization.format", LINE_DELIMITER),
        ),
        input_format=LINE_INPUT_FORMAT,
        output_format=LINE_OUTPUT_FORMAT,
    )


# --------------------------------------------------------------------------- the query


Dialect = Literal["athena", "duckdb"]

# The capture-line fields the query reads, in one place: Athena reads each from the parsed line
# (`json_extract_scalar(doc, path)`); DuckDB extracts them all in one parse of the line
# (`json_extract_string(line, [paths])`, then `doc[i]`, 1-based). Sorted, as
# `cli/shadow_engine.to_duckdb` lists the paths it finds in the Athena text.
_DOC_PATHS = (
    "$.captureData.endpointInput.data",
    "$.captureData.endpointInput.encoding",
    "$.captureData.endpointOutput.data",
    "$.captureData.endpointOutput.encoding",
    "$.eventMetadata.eventId",
    "$.eventMetadata.inferenceId",
    "$.eventMetadata.inferenceTime",
)


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def hour_partition(t: datetime) -> str:
    """The `hour` partition value (`yyyy/MM/dd/HH`, UTC) SageMaker's capture path gives `t`."""
    return t.astimezone(UTC).strftime("%Y/%m/%d/%H")


# The few spellings that differ between Athena (Trino) and DuckDB. The DuckDB texts are what
# sqlglot's Trino -> DuckDB transpiler (plus `to_duckdb`'s parse-once rewrite) makes of the
# Athena texts; tests/test_shadow_report.py checks the whole query both ways, so the local
# engine needs no transpiler at run time (importing sqlglot and transpiling cost ~0.5 s a run).
def _doc(d: Dialect) -> str:
    """One parse of the capture line (NULL when it is not JSON)."""
    if d == "athena":
        return "try(json_parse(line))"
    return f"TRY(JSON_EXTRACT_STRING(line, [{', '.join(_lit(p) for p in _DOC_PATHS)}]))"


def _get(d: Dialect, path: str) -> str:
    """A scalar of the parsed line as text (NULL when missing or JSON null)."""
    if d == "athena":
        return f"json_extract_scalar(doc, {_lit(path)})"
    return f"doc[{_DOC_PATHS.index(path) + 1}]"


def _b64_text(d: Dialect, x: str) -> str:
    if d == "athena":
        return f"try(from_utf8(from_base64({x})))"
    return f"TRY(DECODE(FROM_BASE64({x})))"


def _timestamp(d: Dialect, x: str) -> str:
    return f"from_iso8601_timestamp({x})" if d == "athena" else f"CAST({x} AS TIMESTAMPTZ)"


def _sha256_hex(d: Dialect, x: str) -> str:
    # Trino's sha256 returns bytes, hex-encoded here; DuckDB's returns the hex text already
    # (the key is compared within one engine only, so the letter case does not matter).
    return f"to_hex(sha256(to_utf8({x})))" if d == "athena" else f"((SHA256(ENCODE({x}))))"


def _json_scalar(d: Dialect, x: str, path: str) -> str:
    if d == "athena":
        return f"try(json_extract_scalar({x}, {_lit(path)}))"
    return f"TRY({x} ->> {_lit(path)})"


def _trim_blanks(d: Dialect, x: str) -> str:
    """`x` without space, tab, newline and carriage return around it."""
    if d == "athena":
        return f"trim(BOTH concat(' ', chr(9), chr(10), chr(13)) FROM {x})"
    return f"TRIM({x}, ' ' || CHR(9) || CHR(10) || CHR(13))"


def _ms_between(d: Dialect, a: str, b: str) -> str:
    unit = "'millisecond'" if d == "athena" else "'MILLISECOND'"
    return f"date_diff({unit}, {a}, {b})"


def _decoded(d: Dialect, side: str) -> str:
    base = _get(d, f"$.captureData.{side}.data")
    enc = _get(d, f"$.captureData.{side}.encoding")
    return f"CASE {enc} WHEN 'BASE64' THEN {_b64_text(d, base)} ELSE {base} END"


def _field_value(d: Dialect, f: FieldSpec, answer: str) -> str:
    if f.json_path is not None:
        raw = _json_scalar(d, answer, f.json_path)
    elif f.csv_column is not None:
        raw = f"split_part({answer}, ',', {f.csv_column + 1})"
    else:
        raw = answer
    text = f"nullif({_trim_blanks(d, raw)}, '')"
    return f"try_cast({text} AS double)" if f.kind == "number" else text


PAIRING_ROUNDS = 3  # rounds of "propose to the nearest, nearest proposer wins" (see module doc)


def _pairing_round(d: Dialect, r: int, source: str, window_ms: int, nfields: int) -> str:
    """CTEs `o{r}` (records of `source` numbered in merged time order per key), `c{r}` (each
    shadow record's nearest production record within the window), `w{r}` (the nearest proposer
    of each production record wins) and `m{r}` (the pairs, with both sides' field values)."""
    order = "ORDER BY at_time, is_shadow, event_id"
    vals = ", ".join(f"v{i}" for i in range(nfields))
    prod_vals = ", ".join(f"pr.v{i} AS p{i}" for i in range(nfields))
    shadow_vals = ", ".join(f"w.v{i} AS s{i}" for i in range(nfields))
    return f"""o{r} AS (
  SELECT pair_key, at_time, is_shadow, event_id, {vals},
    sum(1 - is_shadow) OVER (PARTITION BY pair_key {order}
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS p_seq,
    max(CASE WHEN is_shadow = 0 THEN at_time END) OVER (PARTITION BY pair_key {order}
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS prev_at,
    min(CASE WHEN is_shadow = 0 THEN at_time END) OVER (PARTITION BY pair_key {order}
      ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS next_at
  FROM {source}
),
c{r} AS (
  SELECT pair_key, at_time, event_id, {vals},
    CASE WHEN d_prev <= {window_ms} AND (d_next IS NULL OR d_next > {window_ms}
           OR d_prev <= d_next) THEN p_seq
         WHEN d_next <= {window_ms} THEN p_seq + 1 END AS cand,
    CASE WHEN d_prev <= {window_ms} AND (d_next IS NULL OR d_next > {window_ms}
           OR d_prev <= d_next) THEN d_prev
         WHEN d_next <= {window_ms} THEN d_next END AS dist
  FROM (
    SELECT pair_key, at_time, event_id, {vals}, p_seq,
      {_ms_between(d, "prev_at", "at_time")} AS d_prev,
      {_ms_between(d, "at_time", "next_at")} AS d_next
    FROM o{r}
    WHERE is_shadow = 1
  ) s
),
k{r} AS (
  SELECT c{r}.*, row_number() OVER (PARTITION BY pair_key, cand ORDER BY dist, at_time, event_id)
    AS rank_at_cand
  FROM c{r}
  WHERE cand IS NOT NULL
),
w{r} AS (
  SELECT * FROM k{r} WHERE rank_at_cand = 1
),
m{r} AS (
  SELECT w.pair_key, w.at_time AS s_at, w.event_id AS s_event, pr.at_time AS p_at,
    pr.event_id AS p_event, {prod_vals}, {shadow_vals}
  FROM w{r} w
  JOIN o{r} pr ON pr.pair_key = w.pair_key AND pr.p_seq = w.cand AND pr.is_shadow = 0
)"""


def comparison_sql(
    *,
    table: str,
    production: str,
    shadow: str,
    fields: Sequence[FieldSpec],
    since: datetime,
    until: datetime,
    window_seconds: int,
    rounds: int = PAIRING_ROUNDS,
    dialect: Dialect = "athena",
) -> str:
    """The whole comparison as ONE query returning one row; see `parse_row`.

    `since` <= inferenceTime < `until` (timezone-aware); partitions outside the hours are pruned.
    Pairing: `rounds` rounds of the rule in the module doc. Each capture line is parsed once
    (`doc`); every field is read from that parse. `dialect`: "athena" (Trino, the text Athena
    runs) or "duckdb" (the same query as sqlglot transpiles it for the local engine; a test holds
    the two equal). Raises ValueError for an empty or inverted range, a field list without
    fields, or `rounds` < 1.
    """
    if until <= since:
        raise ValueError(f"until ({_iso(until)}) must be after since ({_iso(since)})")
    if not fields:
        raise ValueError("at least one output field to compare")
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    return (
        _query(
            table=table,
            production=production,
            shadow=shadow,
            fields=fields,
            since=since,
            until=until,
            window_ms=int(window_seconds) * 1000,
            rounds=rounds,
            dialect=dialect,
        )
        + f",\n{_summary(production, shadow, fields)}"
    )


def _query(
    *,
    table: str,
    production: str,
    shadow: str,
    fields: Sequence[FieldSpec],
    since: datetime,
    until: datetime,
    window_ms: int,
    rounds: int,
    dialect: Dialect,
) -> str:
    """Every CTE of the comparison, up to `pairs` (all rounds' pairs); no final SELECT."""
    d = dialect
    p, s = _lit(production), _lit(shadow)
    n = len(fields)
    vals = ", ".join(f"v{i}" for i in range(n))
    values = ", ".join(f"{_field_value(d, f, 'answer')} AS v{i}" for i, f in enumerate(fields))
    key = f"coalesce(inference_id, {_sha256_hex(d, 'request')})"
    materialized = " MATERIALIZED" if d == "duckdb" else ""
    # A side counts as captured when its `data` is there (CaptureMode Input writes no
    # endpointOutput, Output no endpointInput); captured but not decodable is unreadable.
    ok = "parsed AND at_time IS NOT NULL"
    parts = [
        f"""WITH raw AS (
  SELECT variant, doc,
    -- a blank line is no record; trimmed only when it does not parse (the rare case)
    CASE WHEN doc IS NULL THEN trim(line) = '' ELSE false END AS blank
  FROM (
    SELECT variant, line, {_doc(d)} AS doc
    FROM {table}
    WHERE variant IN ({p}, {s})
      AND hour BETWEEN {_lit(hour_partition(since))} AND {_lit(hour_partition(until))}
      AND line IS NOT NULL
  ) lines
),
decoded AS{materialized} (
  SELECT variant, blank, parsed, at_time,
    CASE WHEN {ok} AND answer IS NOT NULL AND (request IS NOT NULL
           OR (request_data IS NULL AND inference_id IS NOT NULL)) THEN 'readable'
         WHEN {ok} AND request IS NOT NULL AND answer_data IS NULL THEN 'input_only'
         WHEN {ok} AND answer IS NOT NULL AND request_data IS NULL THEN 'output_only'
         WHEN blank THEN 'blank'
         ELSE 'unreadable' END AS state,
    CASE WHEN answer IS NOT NULL THEN {key} END AS pair_key,
    CASE WHEN variant = {p} THEN 0 ELSE 1 END AS is_shadow,
    coalesce(event_id, '') AS event_id, {values}
  FROM (
    SELECT
      variant,
      blank,
      doc IS NOT NULL AS parsed,
      {_get(d, "$.eventMetadata.inferenceId")} AS inference_id,
      {_get(d, "$.eventMetadata.eventId")} AS event_id,
      try({_timestamp(d, _get(d, "$.eventMetadata.inferenceTime"))}) AS at_time,
      {_get(d, "$.captureData.endpointInput.data")} AS request_data,
      {_get(d, "$.captureData.endpointOutput.data")} AS answer_data,
      {_decoded(d, "endpointInput")} AS request,
      {_decoded(d, "endpointOutput")} AS answer
    FROM raw
  ) sides
),
classified AS (
  SELECT variant, pair_key, at_time, is_shadow, event_id, {vals}, state
  FROM decoded
  WHERE NOT (parsed AND at_time IS NOT NULL AND (at_time < {_timestamp(d, _lit(_iso(since)))}
    OR at_time >= {_timestamp(d, _lit(_iso(until)))}))
),
readable AS (
  SELECT pair_key, at_time, is_shadow, event_id, {vals}
  FROM classified
  WHERE state = 'readable'
)"""
    ]
    source = "readable"
    for r in range(1, rounds + 1):
        parts.append(_pairing_round(dialect, r, source, window_ms, n))
        if r < rounds:
            # The next round: what this round left unpaired, in keys where a proposal lost.
            parts.append(
                f"""lk{r} AS (
  SELECT DISTINCT pair_key FROM k{r} WHERE rank_at_cand > 1
),
mk{r} AS (
  SELECT m.* FROM m{r} m JOIN lk{r} ON m.pair_key = lk{r}.pair_key
),
l{r} AS (
  SELECT o.pair_key, o.at_time, o.is_shadow, o.event_id, {", ".join(f"o.v{i}" for i in range(n))}
  FROM o{r} o JOIN lk{r} ON o.pair_key = lk{r}.pair_key
  WHERE NOT EXISTS (SELECT 1 FROM mk{r} m WHERE o.is_shadow = 1
      AND m.pair_key = o.pair_key AND m.s_at = o.at_time AND m.s_event = o.event_id)
    AND NOT EXISTS (SELECT 1 FROM mk{r} m WHERE o.is_shadow = 0
      AND m.pair_key = o.pair_key AND m.p_at = o.at_time AND m.p_event = o.event_id)
)"""
            )
            source = f"l{r}"
    union = "\n  UNION ALL ".join(f"SELECT * FROM m{r}" for r in range(1, rounds + 1))
    parts.append(f"pairs AS (\n  {union}\n)")
    return ",\n".join(parts)


def _summary(production: str, shadow: str, fields: Sequence[FieldSpec]) -> str:
    p, s = _lit(production), _lit(shadow)
    selects: list[str] = []
    for i, f in enumerate(fields):
        if f.kind == "number":
            diff = f"abs(p{i} - s{i})"
            selects.append(
                f"count_if(p{i} IS NOT NULL AND s{i} IS NOT NULL) AS f{i}_compared, "
                f"count_if({diff} <= {float(f.tolerance)!r}) AS f{i}_agreed, "
                f"avg({diff}) AS f{i}_mean_abs_diff, max({diff}) AS f{i}_max_abs_diff"
            )
        else:
            selects.append(
                f"count_if(p{i} IS NOT NULL AND s{i} IS NOT NULL) AS f{i}_compared, "
                f"count_if(p{i} = s{i}) AS f{i}_agreed, "
                f"CAST(NULL AS double) AS f{i}_mean_abs_diff, "
                f"CAST(NULL AS double) AS f{i}_max_abs_diff"
            )
    field_columns = ",\n  ".join(selects)

    def count(variant: str, state: str, name: str) -> str:
        return f"count_if(variant = {variant} AND state = '{state}') AS {name}"

    # Two one-row aggregates, each one pass: the counts over every line, the agreement over the
    # pairs; a scalar subquery per count would read the captures once per count.
    return f"""counts AS (
  SELECT
    {count(p, "readable", "production_records")},
    {count(s, "readable", "shadow_records")},
    {count(p, "unreadable", "production_unreadable")},
    {count(s, "unreadable", "shadow_unreadable")},
    {count(p, "input_only", "production_input_only")},
    {count(s, "input_only", "shadow_input_only")},
    {count(p, "output_only", "production_output_only")},
    {count(s, "output_only", "shadow_output_only")}
  FROM classified
),
agreement AS (
  SELECT
    count(*) AS paired,
    {field_columns}
  FROM pairs
)
SELECT
  counts.*, agreement.*
FROM counts CROSS JOIN agreement"""


def differences_sql(base_sql: str, fields: Sequence[FieldSpec], limit: int = 20000) -> str:
    """From `comparison_sql`'s text: up to `limit` rows (field, signed shadow - production
    difference) for the numeric fields, for the report's distribution plot: field by field (in
    `fields` order), each in the pairs' order (shadow time and eventId, then production's, then
    the key), so every engine returns the same rows in the same order."""
    head = base_sql[: base_sql.rindex("\nSELECT\n")]
    parts = [
        f"SELECT {i} AS fi, {_lit(f.name)} AS field, s{i} - p{i} AS diff, s_at, s_event, p_at, "
        f"p_event, pair_key FROM pairs WHERE p{i} IS NOT NULL AND s{i} IS NOT NULL"
        for i, f in enumerate(fields)
        if f.kind == "number"
    ]
    if not parts:
        return (
            f"{head}\nSELECT CAST(NULL AS varchar) AS field, CAST(NULL AS double) AS diff "
            "WHERE 1 = 0"
        )
    return (
        f"{head}\nSELECT field, diff FROM ({' UNION ALL '.join(parts)}) d\n"
        f"ORDER BY fi, s_at, s_event, p_at, p_event, pair_key LIMIT {int(limit)}"
    )


def _int(v: Any) -> int:
    return 0 if v is None else int(v)


def _float(v: Any) -> float | None:
    return None if v is None else float(v)


MEAN_DIGITS = 10  # significant digits of a reported mean (see `parse_row`)


def _mean(v: Any) -> float | None:
    return None if v is None else float(f"{float(v):.{MEAN_DIGITS}g}")


def parse_row(row: Mapping[str, Any], fields: Sequence[FieldSpec]) -> Comparison:
    """`comparison_sql`'s one result row (column name -> value; Athena returns text) as data.

    A mean difference is kept to `MEAN_DIGITS` significant digits: its last bits depend on the
    order its sum was added in (DuckDB's threads add in any order, the small engine in pair
    order), and the report shows the same figure whichever engine ran."""
    paired = _int(row["paired"])
    prod_records, shadow_records = _int(row["production_records"]), _int(row["shadow_records"])
    out: list[FieldAgreement] = []
    for i, f in enumerate(fields):
        out.append(
            FieldAgreement(
                name=f.name,
                kind=f.kind,
                compared=_int(row[f"f{i}_compared"]),
                agreed=_int(row[f"f{i}_agreed"]),
                paired=paired,
                mean_abs_diff=_mean(row[f"f{i}_mean_abs_diff"]),
                max_abs_diff=_float(row[f"f{i}_max_abs_diff"]),
            )
        )
    return Comparison(
        paired=paired,
        production=VariantCounts(
            prod_records,
            _int(row["production_unreadable"]),
            prod_records - paired,
            _int(row.get("production_input_only")),
            _int(row.get("production_output_only")),
        ),
        shadow=VariantCounts(
            shadow_records,
            _int(row["shadow_unreadable"]),
            shadow_records - paired,
            _int(row.get("shadow_input_only")),
            _int(row.get("shadow_output_only")),
        ),
        fields=tuple(out),
    )


# --------------------------------------------------------------------------- the recommendation


def p99_ratio(production: VariantMetrics, shadow: VariantMetrics) -> float | None:
    """Shadow p99 / production p99; None when either is missing or production's is 0."""
    if production.p99_latency_ms is None or shadow.p99_latency_ms is None:
        return None
    if production.p99_latency_ms <= 0:
        return None
    return shadow.p99_latency_ms / production.p99_latency_ms


def recommend(
    cmp: Comparison,
    production: VariantMetrics | None,
    shadow: VariantMetrics | None,
    t: Thresholds,
) -> Recommendation:
    """Reject beats keep-shadowing beats promote; never promote on missing evidence.

    reject: enough pairs and some field's agreement below `min_agreement`; or the shadow's p99
    latency above `max_p99_latency_ratio` x production's; or the shadow's 5xx rate above
    production's by more than `ERROR_RATE_MARGIN` (0.1 percentage point: one stray error in a
    small sample is not a verdict). keep_shadowing: fewer than `min_pairs` pairs, or latency data missing.
    promote: otherwise.
    """
    reasons: list[str] = []
    if cmp.paired >= t.min_pairs:
        for f in cmp.fields:
            pct = f.agreement_percent
            if pct is not None and pct < t.min_agreement:
                reasons.append(
                    f"{f.name}: agreement {pct:.2f}% < min_agreement {t.min_agreement:g}% "
                    f"over {cmp.paired} pairs"
                )
    if production is not None and shadow is not None:
        ratio = p99_ratio(production, shadow)
        if ratio is not None and ratio > t.max_p99_latency_ratio:
            reasons.append(
                f"p99 latency ratio {ratio:.2f} > max_p99_latency_ratio {t.max_p99_latency_ratio:g}"
            )
        pe, se = production.error_rate, shadow.error_rate
        if pe is not None and se is not None and se > pe + ERROR_RATE_MARGIN:
            reasons.append(
                f"shadow 5xx rate {100 * se:.2f}% > production {100 * pe:.2f}% + 0.1 points"
            )
    if reasons:
        return Recommendation("reject", "; ".join(reasons))
    if cmp.paired < t.min_pairs:
        return Recommendation(
            "keep_shadowing", f"{cmp.paired} pairs < min_pairs {t.min_pairs}; keep collecting"
        )
    if production is None or shadow is None or p99_ratio(production, shadow) is None:
        return Recommendation(
            "keep_shadowing", "no ModelLatency p99 for both variants in CloudWatch yet"
        )
    worst = min(
        (f.agreement_percent for f in cmp.fields if f.agreement_percent is not None),
        default=100.0,
    )
    ratio = p99_ratio(production, shadow)
    return Recommendation(
        "promote",
        f"{cmp.paired} pairs >= {t.min_pairs}; lowest field agreement {worst:.2f}% >= "
        f"{t.min_agreement:g}%; p99 ratio {ratio:.2f} <= {t.max_p99_latency_ratio:g}",
    )
