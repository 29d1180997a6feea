"""The small-input engine of `rollout shadow-report`: the comparison query, evaluated in Python.

Why it exists: DuckDB costs about 0.1 s of CPU before it reads a line (its native module, a
connection, planning the query); a few thousand records take a plain Python loop less than
that. Up to `SMALL_CAPTURE_BYTES` of capture files (`small_engine`, used by
`cmd_shadow.compare_local`) the report runs here, above it on DuckDB. The specification stays ONE text:
`strategies.shadow_compare.comparison_sql` (what Athena and DuckDB run). This module evaluates
exactly that query, step by step (its CTE names are cited below), and a differential property
test (tests/cli/test_shadow_small.py) holds its result row and differences equal to DuckDB's
running the query over the same files.

Where Python's reading of a line could differ from DuckDB's, this engine does not guess: it
raises `Declined` and the report runs the query on DuckDB instead (same answer, DuckDB's
speed). Declined inputs, all rare in what SageMaker writes:
- files: a name starting with `.` or holding `\\`, a symlink, a capture folder entry that is not a
  file, bytes that are not UTF-8, a BOM, a NUL, `\\x01` (the line reader's delimiter) or `\\r`;
- lines: a non-blank line Python's `json` rejects (DuckDB's JSON reader accepts more, e.g.
  trailing commas), a duplicate object key (DuckDB keeps the first, Python the last), a
  `\\uD800`-`\\uDFFF` or `\\u0000` escape, nesting deeper than Python's recursion limit;
- values: a read capture field that is not a string or null; an `inferenceTime` not of the form
  `YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM|-HH:MM)` or not a whole millisecond; BASE64 data that
  Python's strict decoder rejects or that decodes to text holding NUL or not UTF-8; an answer a
  JSON field reads that `json` rejects; a number field whose text is not a plain JSON-style
  number and might still be one to DuckDB (`inf`, `1.`, `+1`, `0x10`); a JSON label that is a
  float, bool or container (DuckDB prints those its own way);
- order: two readable records of one key, side, time and eventId (DuckDB would order them
  arbitrarily).
"""

from __future__ import annotations

import binascii
import contextlib
import gc
import json
import os
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from hashlib import sha256
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson

from sagemaker_rollouts.strategies.shadow_compare import PAIRING_ROUNDS, FieldSpec


class Declined(Exception):
    """This input is outside what the small engine reads exactly like DuckDB: run DuckDB."""


def _digits(text: str, n: int) -> bool:
    return len(text) == n and text.isascii() and text.isdigit()


def capture_files(root: str, endpoint: str) -> list[tuple[str, str, str, int]] | None:
    """(variant, hour `yyyy/mm/dd/hh`, path, bytes) of every file the local view reads under
    `root/endpoint` (`<variant>/<yyyy>/<mm>/<dd>/<hh>/*.jsonl`); a file whose folders are not
    digits gets hour "" (the view's regular expression matches nothing: variant and hour empty).
    None: the tree holds something only DuckDB's glob can say how it reads (see the module doc).
    """
    out: list[tuple[str, str, str, int]] = []
    base = os.path.join(root, endpoint)
    if not os.path.isdir(base):
        return out

    def entries(path: str) -> list[os.DirEntry[str]] | None:
        found: list[os.DirEntry[str]] = []
        with os.scandir(path) as it:
            for e in it:
                if e.name.startswith(".") or "\\" in e.name or e.is_symlink():
                    return None
                found.append(e)
        return found

    def walk(path: str, parts: list[str]) -> bool:
        got = entries(path)
        if got is None:
            return False
        depth = len(parts)
        for e in got:
            if depth < 5:
                if e.is_dir() and not walk(e.path, [*parts, e.name]):
                    return False
            elif e.name.endswith(".jsonl"):
                if not e.is_file():
                    return False
                variant, y, m, d, h = parts
                ok = _digits(y, 4) and _digits(m, 2) and _digits(d, 2) and _digits(h, 2)
                hour = f"{y}/{m}/{d}/{h}" if ok else ""
                out.append((variant if ok else "", hour, e.path, e.stat().st_size))
        return True

    return out if walk(base, []) else None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        raise Declined("a duplicate JSON object key")
    return d


# Two readers of JSON text. orjson (a C parser, about twice as fast as `json` on a capture
# line) keeps the last of duplicate keys where DuckDB keeps the first, so its result is used only
# when the text provably has no duplicate that matters: a capture line that is exactly orjson's
# own compact serialization of what it read (a duplicate would be missing from it); an answer in
# which each key of a field's JSON path occurs at most once. The careful reader (`json`)
# declines duplicate keys and reads everything else.
_BLANK = ("blank",)  # a marker: a blank line, or no document read yet
_loads = orjson.loads
_dumps = orjson.dumps
_decode = json.JSONDecoder(object_pairs_hook=_no_duplicates).decode
# Patterns used on rare paths only, compiled on first use (re caches them): compiling them all
# at import would cost more than a small report's whole comparison.
_SURROGATE = rb"\\u(?:[dD][89a-fA-F]|0000)"
_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z"
_MAYBE_NUMBER = r"(?i)[0-9]|inf|nan"
_EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
_MS = timedelta(milliseconds=1)
_SECONDS: dict[str, int] = {}  # "2026-11-29T12:00:00." -> its epoch ms, once parsed
_FRACTIONS = {f"{i:03d}": i for i in range(1000)}  # "000".."999" -> milliseconds


_DATE_TIME = ((0, 4), (5, 7), (8, 10), (11, 13), (14, 16), (17, 19))  # YYYY MM DD HH MM SS


def _ms(t: str) -> int:
    """`CAST(t AS TIMESTAMPTZ)` in epoch milliseconds, for `YYYY-MM-DDTHH:MM:SS[.f{1,6}]` then
    `Z` or `+HH:MM` / `-HH:MM` (checked by hand: a pattern would be compiled in every run, for
    the first record); Declined for any other text (DuckDB reads more forms, some in its
    session's time zone) or a time inside a millisecond."""
    zone = 1 if t.endswith("Z") else 6
    frac, offset = t[19 : len(t) - zone], t[len(t) - zone :]
    ok = (
        len(t) >= 20
        and t[4] == t[7] == "-"
        and t[10] == "T"
        and t[13] == t[16] == ":"
        and all(_digits(t[i:j], j - i) for i, j in _DATE_TIME)
        and (
            frac == ""
            or (frac[0] == "." and 2 <= len(frac) <= 7 and _digits(frac[1:], len(frac) - 1))
        )
        and (
            zone == 1
            or (offset[0] in "+-" and offset[3] == ":" and _digits(offset[1:3] + offset[4:], 4))
        )
    )
    if not ok:
        raise Declined(f"inferenceTime {t!r}")
    try:
        at = datetime.fromisoformat(t[:-1] + "+00:00" if zone == 1 else t)
    except ValueError:
        raise Declined(f"inferenceTime {t!r}") from None
    if at.microsecond % 1000:
        raise Declined(f"inferenceTime {t!r} is not a whole millisecond")
    ms = (at - _EPOCH) // _MS
    if zone == 1:
        _SECONDS[t[:19] + "."] = ms - at.microsecond // 1000
    return ms


def _text(value: Any) -> str | None:
    """`json_extract_string` of a capture field: its string, NULL for missing or null."""
    if value is None or type(value) is str:
        return value
    raise Declined(f"a capture field holding {type(value).__name__}")


def _decoded(data: str | None, encoding: str | None) -> str | None:
    """`CASE encoding WHEN 'BASE64' THEN TRY(DECODE(FROM_BASE64(data))) ELSE data END`."""
    if encoding != "BASE64" or data is None:
        return data
    try:
        text = binascii.a2b_base64(data, strict_mode=True).decode("utf-8")
    except (ValueError, binascii.Error):
        raise Declined("BASE64 data Python's strict decoder rejects") from None
    if "\x00" in text:
        raise Declined("BASE64 data decoding to a NUL")
    return text


def _json_path(path: str) -> list[str | int]:
    """`$.a.b[0]` (the paths strategy.shadow.outputs[].json_path allows) as steps."""
    keys = path[2:].split(".")
    if path.startswith("$.") and all(k.isidentifier() and k.isascii() for k in keys):
        return list(keys)  # the common `$.a.b`, without compiling a pattern
    steps: list[str | int] = []
    for key, index in re.findall(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[([0-9]+)\]", path[1:]):
        steps.append(key if key else int(index))
    return steps


def _at_path(doc: Any, steps: list[str | int]) -> Any:
    """The value at a `_json_path` (None where a step finds nothing, as DuckDB's NULL)."""
    for step in steps:
        if isinstance(step, str):
            doc = doc.get(step) if type(doc) is dict else None
        elif type(doc) is list and step < len(doc):
            doc = doc[step]
        else:
            return None
    return doc


_BLANKS = " \t\n\r"
_INF = (float("inf"), float("-inf"))


def _finisher(number: bool) -> Any:
    """nullif(trim(raw, ' \t\n\r'), '') and, for numbers, try_cast(... AS double)."""

    def finish(raw: str | None) -> Any:
        if raw is None:
            return None
        text = raw.strip(_BLANKS)
        if not text:
            return None
        if not number:
            return text
        if re.match(_NUMBER, text):
            v = float(text)
            if v in _INF:
                raise Declined(f"number {text!r} overflows")
            return v
        if re.search(_MAYBE_NUMBER, text):
            raise Declined(f"text {text!r} might be a number to DuckDB")
        return None

    return finish


def _json_value(v: Any, number: bool, finish: Any) -> Any:
    """`finish` of `json_extract_string`'s text of a JSON value `v` (DuckDB prints non-strings)."""
    if v is None or type(v) is str:
        return finish(v)
    if type(v) is int and -(2**63) <= v < 2**64:
        return finish(str(v))
    if number and type(v) is float:
        if v != v or v in _INF:
            raise Declined("NaN or an overflowing number")
        return v  # yyjson prints the shortest text that reads back as this double
    raise Declined(f"a JSON {type(v).__name__} where a field is read")


def _read_answer(answer: str, quoted: list[str]) -> Any:
    """An answer's JSON: orjson's reading when each key in `quoted` occurs at most once (and no
    \\u escape could spell one another way: then no object has any of them twice, so orjson's
    last-of-duplicates cannot differ from DuckDB's first), else the careful reader's."""
    if "\\u" not in answer and all(answer.count(q) <= 1 for q in quoted):
        with contextlib.suppress(ValueError):
            return _loads(answer)
    try:
        return _decode(answer)
    except ValueError:
        raise Declined("an answer Python's json rejects") from None
    except RecursionError:
        raise Declined("an answer nested too deep") from None


def _key_reader(key: str, number: bool, finish: Any) -> Any:
    """`from_json` for a one-key path (`$.score`), the common case, with `_read_answer` inline."""
    quoted, loads = f'"{key}"', _loads

    def from_key(answer: str) -> Any:
        if "\\u" in answer or answer.count(quoted) > 1:
            doc = _read_answer(answer, [quoted])
        else:
            try:
                doc = loads(answer)
            except ValueError:
                doc = _read_answer(answer, [quoted])
        v = doc.get(key) if type(doc) is dict else None
        if number and type(v) is float and v - v == 0.0:  # finite
            return v
        return _json_value(v, number, finish)

    return from_key


def _field_reader(f: FieldSpec) -> Any:
    """`_field_value` of the query for one field: answer text -> value (text, float or None)."""
    number = f.kind == "number"
    finish = _finisher(number)
    if f.json_path is not None:
        steps = _json_path(f.json_path)
        quoted = [f'"{k}"' for k in steps if type(k) is str]
        if len(steps) == 1 and type(steps[0]) is str:
            return _key_reader(steps[0], number, finish)

        def from_json(answer: str) -> Any:
            return _json_value(_at_path(_read_answer(answer, quoted), steps), number, finish)

        return from_json
    if f.csv_column is not None:
        col = f.csv_column

        def from_csv(answer: str) -> Any:
            parts = answer.split(",")
            return finish(parts[col] if col < len(parts) else "")

        return from_csv
    return finish


Rec = tuple[int, int, str, tuple[Any, ...]]
Pair = tuple[tuple[Any, ...], tuple[Any, ...], int, str, int, str, str]


# Where the local report switches from this engine to DuckDB, in bytes of the capture files it
# reads (the production and shadow variants' files in the report's hours). Measured, not
# guessed: `python bench/bench_shadow.py --sizes 5000,10000,15000,20000,30000 --repeat 5
# --engines` times both engines forced, in fresh interleaved processes, over the bench's captures
# (~480 bytes a record). 2026-12-06, load 10-11, small / DuckDB by CPU: 0.48 at 4.8 MB, 0.76 at
# 9.6 MB, 1.03 at 14.4 MB, 1.12 at 19.1 MB, 1.31 at 28.7 MB: they cross at about 13.8 MB, where
# each costs ~0.77 of the plain `json` loop. Set a little below the crossing.
SMALL_CAPTURE_BYTES = 13_000_000


def small_engine(
    root: Path, endpoint: str, variants: Sequence[str], since: datetime, until: datetime
) -> PythonEngine | None:
    """This engine over the captures under `root` (`<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl`)
    when the files of `variants` in the hours of [since, until] total at most
    `SMALL_CAPTURE_BYTES`; None when DuckDB (`shadow_engine.LocalEngine`) should run: more
    bytes, or a tree only DuckDB's glob can say how it reads (`capture_files`)."""
    from sagemaker_rollouts.strategies.shadow_compare import hour_partition

    files = capture_files(str(root), endpoint)
    if files is None:
        return None
    if not files and (root / endpoint).is_dir() and any((root / endpoint).rglob("*.jsonl")):
        return None  # files, none at the glob's depth: DuckDB's view decides (it fails)
    lo, hi = hour_partition(since), hour_partition(until)
    read = [f for f in files if f[0] in variants and lo <= f[1] <= hi]
    return PythonEngine(read) if sum(f[3] for f in read) <= SMALL_CAPTURE_BYTES else None


class PythonEngine:
    """The comparison query evaluated in Python over capture files listed by `capture_files`.

    `comparison(...)` returns the query's one row (the same column names and values as
    `comparison_sql`'s) and, with `differences`, `differences_sql`'s rows (`limit` of them, in
    its order). Raises `Declined` for inputs listed in the module doc."""

    dialect = "python"

    def __init__(self, files: list[tuple[str, str, str, int]]) -> None:
        self._files = files

    def comparison(
        self,
        *,
        production: str,
        shadow: str,
        fields: tuple[FieldSpec, ...] | list[FieldSpec],
        since: datetime,
        until: datetime,
        window_seconds: int,
        rounds: int = PAIRING_ROUNDS,
        differences: bool = False,
        limit: int = 20000,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        from sagemaker_rollouts.strategies.shadow_compare import hour_partition

        # at_time < since  <=>  at_ms < ceil(since_us / 1000), the same for until (whole ms)
        lo_ms, hi_ms = -(-_epoch_us(since) // 1000), -(-_epoch_us(until) // 1000)
        lo, hi = hour_partition(since), hour_partition(until)
        readers = [_field_reader(f) for f in fields]
        # No reference cycles are made here: the collector would only traverse the records
        # kept for pairing, again and again as they grow (a fifth of the time at 20k records).
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._compare(
                production,
                shadow,
                fields,
                readers,
                lo_ms,
                hi_ms,
                (lo, hi),
                window_seconds,
                rounds,
                differences,
                limit,
            )
        finally:
            if collecting:
                gc.enable()

    def _compare(
        self,
        production: str,
        shadow: str,
        fields: Sequence[FieldSpec],
        readers: list[Any],
        lo_ms: int,
        hi_ms: int,
        hours: tuple[str, str],
        window_seconds: int,
        rounds: int,
        differences: bool,
        limit: int,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        lo, hi = hours
        counts = [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]  # per side, as `_rows` counts
        by_key: dict[str, list[Rec]] = {}
        for variant, hour, path, _ in self._files:
            if variant not in (production, shadow) or not (lo <= hour <= hi):
                continue
            is_shadow = 0 if variant == production else 1
            n = _read_file(path, is_shadow, lo_ms, hi_ms, readers, by_key)
            counts[is_shadow] = [a + b for a, b in zip(counts[is_shadow], n, strict=True)]
        pairs = _pairs(by_key, int(window_seconds) * 1000, rounds)
        row: dict[str, Any] = {}
        rows = counts[0][4] + counts[1][4]
        for i, side in enumerate(("production", "shadow")):
            for j, state in enumerate(("records", "unreadable", "input_only", "output_only")):
                # count_if over no rows is NULL in DuckDB (parse_row reads it as 0)
                row[f"{side}_{state}"] = counts[i][j] if rows else None
        row["paired"] = len(pairs)
        for i, f in enumerate(fields):
            _aggregate(row, i, f, pairs)
        diffs: list[dict[str, Any]] = []
        if differences:
            diffs = _differences(fields, pairs, int(limit))
        return row, diffs

    def close(self) -> None:
        """Nothing to release (the DuckDB engine's counterpart closes its connection)."""


def _aggregate(row: dict[str, Any], i: int, f: FieldSpec, pairs: list[Pair]) -> None:
    """`agreement`'s columns for field `i` (count_if, avg, max over the pairs)."""
    both = [(p[0][i], p[1][i]) for p in pairs if p[0][i] is not None and p[1][i] is not None]
    row[f"f{i}_compared"] = len(both) if pairs else None  # count_if: NULL over no rows
    if f.kind == "number":
        tol = float(f.tolerance)
        gaps = [abs(a - b) for a, b in both]
        # count_if sums its condition: NULL when it is NULL on every row (no pair compared)
        row[f"f{i}_agreed"] = sum(1 for g in gaps if g <= tol) if gaps else None
        row[f"f{i}_mean_abs_diff"] = sum(gaps) / len(gaps) if gaps else None
        row[f"f{i}_max_abs_diff"] = max(gaps) if gaps else None
    else:
        row[f"f{i}_agreed"] = sum(1 for a, b in both if a == b) if both else None
        row[f"f{i}_mean_abs_diff"] = None
        row[f"f{i}_max_abs_diff"] = None


def _differences(
    fields: Sequence[FieldSpec], pairs: list[Pair], limit: int
) -> list[dict[str, Any]]:
    """`differences_sql`'s rows: (field, shadow - production) of numeric fields, in its order."""
    out: list[tuple[int, int, str, int, str, str, float]] = []
    for i, f in enumerate(fields):
        if f.kind == "number":
            out += [
                (i, p[2], p[3], p[4], p[5], p[6], p[1][i] - p[0][i])
                for p in pairs
                if p[0][i] is not None and p[1][i] is not None
            ]
    out.sort(key=lambda d: d[:6])
    return [{"field": fields[d[0]].name, "diff": d[6]} for d in out[:limit]]


def _epoch_us(t: datetime) -> int:
    """Epoch microseconds of an aware time (TIMESTAMPTZ's precision), exactly."""
    return (t - _EPOCH) // timedelta(microseconds=1)


def _line_fields(doc: Any) -> tuple[Any, ...] | None:
    """The capture fields the query reads from a parsed line (`raw` and `decoded`'s `doc[i]`):
    (inferenceId, eventId, inferenceTime, input data, input encoding, output data, output
    encoding); None when the line is JSON but no object."""
    if type(doc) is not dict:
        return None
    meta = doc.get("eventMetadata")
    iid = eid = t = None
    if type(meta) is dict:
        iid, eid, t = meta.get("inferenceId"), meta.get("eventId"), meta.get("inferenceTime")
    cap = doc.get("captureData")
    in_data = in_enc = out_data = out_enc = None
    if type(cap) is dict:
        inp, out = cap.get("endpointInput"), cap.get("endpointOutput")
        if type(inp) is dict:
            in_data, in_enc = inp.get("data"), inp.get("encoding")
        if type(out) is dict:
            out_data, out_enc = out.get("data"), out.get("encoding")
    got = (iid, eid, t, in_data, in_enc, out_data, out_enc)
    for v in got:
        if v is not None and type(v) is not str:
            raise Declined(f"a capture field holding {type(v).__name__}")
    return got


def _line(line: bytes) -> tuple[Any, ...] | None:
    """`_line_fields` of one capture line; `_BLANK` for a blank line (no record). orjson's
    reading is used when the line is its own serialization of it (no duplicate key), else the
    careful reader's. Raises Declined for a non-blank line `json` rejects."""
    if b"\\u" in line and re.search(_SURROGATE, line):
        raise Declined("a \\uD800-\\uDFFF or \\u0000 escape")
    try:
        doc = _loads(line)
        if _dumps(doc) == line:
            return _line_fields(doc)
    except ValueError:
        pass
    text = line.decode()
    try:
        return _line_fields(_decode(text))
    except ValueError:
        if text.strip(" ") == "":
            return _BLANK
        raise Declined("a line Python's json rejects") from None
    except RecursionError:
        raise Declined("a line nested too deep") from None


def _at_ms(t: str) -> int:
    """CAST(inferenceTime AS TIMESTAMPTZ) in epoch ms; the common form with its second seen
    before (2026-11-29T12:00:00.123Z) by two lookups."""
    if len(t) == 24 and t[23] == "Z":
        sec, ms = _SECONDS.get(t[:20]), _FRACTIONS.get(t[20:23])
        if sec is not None and ms is not None:
            return sec + ms
    return _ms(t)


def _read_file(
    path: str,
    is_shadow: int,
    lo_ms: int,
    hi_ms: int,
    readers: list[Any],
    by_key: dict[str, list[Rec]],
) -> list[int]:
    """CTEs `raw`, `decoded` and `classified` for one file: each readable line in [lo_ms,
    hi_ms) filed under its pairing key in `by_key`; returns the counts (`_rows`)."""
    with open(path, "rb") as fh:
        data = fh.read()
    if b"\r" in data or b"\x01" in data or b"\x00" in data or data.startswith(b"\xef\xbb\xbf"):
        raise Declined(f"{path}: a byte the line reader treats specially")
    try:
        data.isascii() or data.decode("utf-8")
    except UnicodeDecodeError:
        raise Declined(f"{path}: not UTF-8") from None
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    return _rows(lines, is_shadow, lo_ms, hi_ms, readers, by_key)


def _state(request: Any, answer: Any, request_data: Any, answer_data: Any) -> int:
    """`decoded`'s state of a record that is not readable, as an index of `_rows`' counts."""
    if request is not None and answer_data is None:
        return 2  # input-only
    if answer is not None and request_data is None:
        return 3  # output-only
    return 1  # unreadable


def _rows(
    lines: list[bytes],
    is_shadow: int,
    lo_ms: int,
    hi_ms: int,
    readers: list[Any],
    by_key: dict[str, list[Rec]],
) -> list[int]:
    """CTEs `raw` to `classified` line by line: each line's state; readable records filed by
    key. Returns the counts: records, unreadable, input-only, output-only, rows."""
    get = by_key.get
    n = [0, 0, 0, 0, 0]  # records, unreadable, input-only, output-only, blank
    seconds, fractions, loads, dumps = _SECONDS, _FRACTIONS, _loads, _dumps
    one = readers[0] if len(readers) == 1 else None
    for line in lines:
        try:
            # `_line`, inline, for the shape SageMaker writes: a line that is orjson's own
            # serialization of what it read (so no duplicate key) holding both sides and the
            # metadata as texts
            doc = loads(line)
            if type(doc) is not dict or dumps(doc) != line or b"\\u" in line:
                raise KeyError
            meta, cap = doc["eventMetadata"], doc["captureData"]
            t, eid, iid = meta["inferenceTime"], meta["eventId"], meta.get("inferenceId")
            inp, out = cap["endpointInput"], cap["endpointOutput"]
            request_data, in_enc = inp["data"], inp["encoding"]
            answer_data, out_enc = out["data"], out["encoding"]
            # (a subscript that worked found a dict: orjson makes no other mapping)
            if not (
                type(t) is type(eid) is type(request_data) is type(in_enc) is str
                and type(answer_data) is type(out_enc) is str
                and (iid is None or type(iid) is str)
            ):
                raise KeyError
        except (ValueError, KeyError, TypeError):
            if not line:
                continue  # an empty line is no row (the line reader gives NULL)
            got = _line(line)
            if got is _BLANK:
                n[4] += 1  # a row of `classified`, counted as nothing
                continue
            if got is None or got[2] is None:
                n[1] += 1  # JSON but no object, or no inferenceTime: unreadable
                continue
            iid, eid, t, request_data, in_enc, answer_data, out_enc = got
        sec = seconds.get(t[:20]) if len(t) == 24 and t[23] == "Z" else None
        ms = fractions.get(t[20:23]) if sec is not None else None
        at = sec + ms if ms is not None else _ms(t)  # type: ignore[operator]
        if not lo_ms <= at < hi_ms:
            continue  # outside the range: not counted
        request = _decoded(request_data, in_enc) if in_enc == "BASE64" else request_data
        answer = _decoded(answer_data, out_enc) if out_enc == "BASE64" else answer_data
        if answer is not None and (
            request is not None or (request_data is None and iid is not None)
        ):
            key = iid if iid is not None else sha256(request.encode()).hexdigest()  # type: ignore[union-attr]
            values = (one(answer),) if one is not None else tuple([r(answer) for r in readers])
            rec = (at, is_shadow, "" if eid is None else eid, values)
            same = get(key)
            if same is None:
                by_key[key] = [rec]
            else:
                same.append(rec)
            n[0] += 1
        else:
            n[_state(request, answer, request_data, answer_data)] += 1
    n[4] += sum(n[:4])  # the rows of `classified`: every line but the out-of-range records
    return n


def _pairs(by_key: dict[str, list[Rec]], window_ms: int, rounds: int) -> list[Pair]:
    """Every pair of the rule, over all keys (CTE `pairs`)."""
    pairs: list[Pair] = []
    for key, recs in by_key.items():
        if len(recs) == 2:
            a, b = recs
            if a[1] != b[1]:
                # one production and one shadow record: a pair when within the window
                p, s = (a, b) if a[1] == 0 else (b, a)
                if abs(s[0] - p[0]) <= window_ms:
                    pairs.append((p[3], s[3], s[0], s[2], p[0], p[2], key))
                continue
        if len(recs) > 1:
            _pair_key(key, recs, window_ms, rounds, pairs)
    return pairs


def _pair_key(key: str, recs: list[Rec], window_ms: int, rounds: int, pairs: list[Pair]) -> None:
    """CTEs `o{r}`, `c{r}`, `k{r}`, `w{r}`, `m{r}` and `l{r}` for the records of one key."""
    cur = sorted(recs, key=lambda r: r[:3])
    for a, b in pairwise(cur):
        if a[:3] == b[:3]:
            raise Declined("two records of one key, side, time and eventId")
    for _ in range(rounds):
        # o{r}: p_seq (productions up to this row), prev_at / next_at (the nearest production
        # times before and after in (time, is_shadow, eventId) order); c{r}: the candidate
        prods = [r for r in cur if r[1] == 0]
        offers: dict[int, list[tuple[int, int, str, Rec]]] = {}
        seq = 0
        for r in cur:
            if r[1] == 0:
                seq += 1
                continue
            d_prev = r[0] - prods[seq - 1][0] if seq > 0 else None
            d_next = prods[seq][0] - r[0] if seq < len(prods) else None
            if (
                d_prev is not None
                and d_prev <= window_ms
                and (d_next is None or d_next > window_ms or d_prev <= d_next)
            ):
                offers.setdefault(seq, []).append((d_prev, r[0], r[2], r))
            elif d_next is not None and d_next <= window_ms:
                offers.setdefault(seq + 1, []).append((d_next, r[0], r[2], r))
        # k{r} / w{r}: the nearest proposer of each production record wins (ties: the earlier,
        # then eventId); m{r}: the pairs
        lost = False
        taken: set[int] = set()
        for cand, got in offers.items():
            if len(got) > 1:
                lost = True
                got.sort(key=lambda o: o[:3])
            s, p = got[0][3], prods[cand - 1]
            pairs.append((p[3], s[3], s[0], s[2], p[0], p[2], key))
            taken.update((id(p), id(s)))
        if not lost:
            return
        # l{r}: what this round left unpaired, in a key where a proposal lost
        cur = [r for r in cur if id(r) not in taken]
