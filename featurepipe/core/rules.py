"""Apply the row contract to a batch of string fields: typed valid rows and quarantined rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from featurepipe.core.columns import TABLES, TIMESTAMP
from featurepipe.core.contract import (
    INT64_DIGITS,
    INT64_MAX,
    INT64_MIN,
    INTEGER_PATTERN,
    KNOWN_COLUMNS,
    NUMBER_PATTERN,
    OPTIONAL_NUMERIC_COLUMNS,
    SINGLE_LINE_COLUMNS,
    TEXT_COLUMNS,
    TIMESTAMP_PATTERN,
    Reason,
)
from featurepipe.core.reading import Batch

EARLIEST = pa.scalar(dt.datetime.min.replace(tzinfo=dt.UTC), TIMESTAMP)
LATEST = pa.scalar(dt.datetime.max.replace(tzinfo=dt.UTC), TIMESTAMP)
VALID_SCHEMA = TABLES.validated.arrow_schema
REJECTED_SCHEMA = TABLES.rejected.arrow_schema
REASONS = list(Reason)


class Ruled(NamedTuple):
    valid: pa.Table  # typed by VALID_SCHEMA
    rejected: pa.Table  # by REJECTED_SCHEMA
    valid_lines: int  # physical lines the valid rows cover


def apply_rules(batch: Batch) -> Ruled:
    """Split a batch into valid rows and rejected records."""
    fields = batch.fields
    n = fields.num_rows
    values = {
        name: pc.ascii_trim_whitespace(column) if batch.padded else column
        for name, column in zip(fields.column_names, fields.columns, strict=True)
    }
    codes = np.zeros(n, np.int8)  # 0 = valid, otherwise 1 + index into REASONS

    def fail(reason: Reason, mask) -> None:
        mask = np.asarray(mask, bool)
        codes[(codes == 0) & mask] = REASONS.index(reason) + 1

    fail(Reason.LINE_BREAK_IN_VALUE, _line_breaks(batch))
    fail(Reason.INVALID_UTF8, batch.bad_utf8)
    event_time, time_ok = _timestamps(values["event_time"])
    fail(Reason.EVENT_TIME_MISSING, _empty(values["event_time"]))
    fail(Reason.EVENT_TIME_INVALID, ~time_ok)
    user_id, user_ok = _integers(values["user_id"])
    fail(Reason.USER_ID_MISSING, _empty(values["user_id"]))
    fail(Reason.USER_ID_INVALID, ~user_ok)
    fail(Reason.SESSION_ID_MISSING, _empty(values["session_id"]))
    fail(Reason.EVENT_TYPE_MISSING, _empty(values["event_type"]))

    valid_mask = pa.array(codes == 0)
    columns = {
        "line": pa.array(batch.lines, pa.int64()),
        "event_time": event_time,
        "user_id": user_id,
        "session_id": values["session_id"],
        "event_type": values["event_type"],
    }
    for name in TEXT_COLUMNS:
        columns[name] = _text_or_null(values[name]) if name in values else pa.nulls(n, pa.string())
    for name in OPTIONAL_NUMERIC_COLUMNS:
        columns[name] = _numbers(values[name]) if name in values else pa.nulls(n, pa.float64())
    valid = pa.table(columns, schema=VALID_SCHEMA).filter(valid_mask)
    valid_lines = int(batch.line_counts[codes == 0].sum())
    return Ruled(valid, _rejected(batch, codes), valid_lines)


def _line_breaks(batch: Batch) -> np.ndarray:
    """Per row: a value of SINGLE_LINE_COLUMNS holds a line break (before trimming)."""
    found = np.zeros(batch.fields.num_rows, bool)
    rows = np.flatnonzero(batch.line_counts > 1)  # only a record of many lines can
    if rows.size:
        names = [name for name in SINGLE_LINE_COLUMNS if name in batch.fields.column_names]
        fields = batch.fields.select(names).take(pa.array(rows))
        for column in fields.columns:
            found[rows] |= _matches(column, "[\\r\\n]")
    return found


def _empty(strings: pa.Array) -> np.ndarray:
    return pc.equal(pc.binary_length(strings), 0).to_numpy(zero_copy_only=False)


def _matches(strings, pattern: str) -> np.ndarray:
    return pc.match_substring_regex(strings, pattern).to_numpy(zero_copy_only=False)


def _timestamps(strings) -> tuple[pa.Array, np.ndarray]:
    """ISO-8601 timestamps to UTC: the values (null where invalid) and a validity mask."""
    ok = _matches(strings, TIMESTAMP_PATTERN)
    zoned = _zoned(strings, ok)
    # Arrow refuses what the pattern passes only for a day past its month's end (2025-02-30).
    parsed = _cast(pc.if_else(pa.array(ok), zoned, None), TIMESTAMP, _utc)
    # An offset can carry the UTC time out of years 1-9999 (0001-01-01T00:00+01:00), which
    # Python cannot represent: such a time is invalid too.
    in_range = pc.and_(pc.greater_equal(parsed, EARLIEST), pc.less_equal(parsed, LATEST))
    ok &= pc.fill_null(in_range, False).to_numpy(zero_copy_only=False)
    return parsed, ok


def _utc(text: str) -> dt.datetime | None:
    """A timestamp Arrow refused, read by Python (`_zoned` gave it an offset); None when it is
    not a time."""
    try:
        return dt.datetime.fromisoformat(text).astimezone(dt.UTC)
    except (ValueError, OverflowError):
        return None


def _zoned(strings, ok: np.ndarray):
    """The values with an offset each, Z where they had none (UTC), so one cast reads them all."""
    in_utc = pc.ends_with(strings, "Z").to_numpy(zero_copy_only=False)
    if (in_utc | ~ok).all():  # the usual file: every time written in UTC with Z
        return strings
    # Past the date, a '+' or '-' can only start an offset.
    time_part = pc.utf8_slice_codeunits(strings, 10)
    has_offset = pc.or_(
        pa.array(in_utc),
        pc.or_(pc.match_substring(time_part, "+"), pc.match_substring(time_part, "-")),
    )
    return pc.if_else(has_offset, strings, pc.binary_join_element_wise(strings, "Z", ""))


def _integers(strings) -> tuple[pa.Array, np.ndarray]:
    # Bare digits match INTEGER_PATTERN, and checking them is five times cheaper than the
    # pattern: it runs on the other values only (empty, signed, not a number).
    ok = pc.ascii_is_decimal(strings).to_numpy(zero_copy_only=False)
    others = np.flatnonzero(~ok)
    if others.size:
        ok[others] = _matches(strings.take(others), INTEGER_PATTERN)
    candidates = pc.if_else(pa.array(ok), pc.utf8_ltrim(strings, "+"), None)
    parsed = _cast(candidates, pa.int64(), _int64)  # Arrow refuses what is out of range
    return parsed, parsed.is_valid().to_numpy(zero_copy_only=False)


def _int64(text: str) -> int | None:
    """An integer Arrow refused; None out of the int64 range."""
    digits = text.lstrip("-").lstrip("0")
    if len(digits) > INT64_DIGITS:
        return None
    value = int(digits or "0") * (-1 if text.startswith("-") else 1)
    return value if INT64_MIN <= value <= INT64_MAX else None


def _numbers(strings) -> pa.Array:
    """Decimal numbers as float64; empty, unparseable and non-finite values become null."""
    present = pc.if_else(pc.equal(pc.binary_length(strings), 0), None, strings)
    try:
        # Arrow's parser accepts exactly NUMBER_PATTERN plus nan/inf spellings, which are
        # dropped below as non-finite; the pattern is needed only when a value fails.
        parsed = pc.cast(present, pa.float64())
    except pa.ArrowInvalid:
        ok = pa.array(_matches(strings, NUMBER_PATTERN))
        parsed = _cast(pc.if_else(ok, strings, None), pa.float64(), float)
    return pc.if_else(pc.is_finite(parsed), parsed, None)


def _cast(strings, to: pa.DataType, parse: Callable[[str], object]):
    """`strings` cast to `to`, each value Arrow refuses replaced by `parse(value)` (None: not
    valid). The refused values are found by halving, a few casts each, and every other value
    keeps the cast's answer: a row comes to the same whatever else is in its batch."""
    try:
        return pc.cast(strings, to)
    except pa.ArrowInvalid:
        if isinstance(strings, pa.ChunkedArray):
            strings = strings.combine_chunks()
        if len(strings) == 1:
            return pa.array([parse(strings[0].as_py())], to)
        half = len(strings) // 2
        return pa.concat_arrays(
            [_cast(strings[:half], to, parse), _cast(strings[half:], to, parse)]
        )


def _text_or_null(strings) -> pa.Array:
    return pc.if_else(pc.equal(pc.binary_length(strings), 0), None, strings)


def _rejected(batch: Batch, codes: np.ndarray) -> pa.Table:
    rows = np.flatnonzero(codes)
    fields = batch.fields.take(pa.array(rows, pa.int64()))
    raw = fields.to_pylist()
    unparsed = batch.unparsed
    columns = {
        "line": [*batch.lines[rows].tolist(), *(record.line for record in unparsed)],
        "lines": [*batch.line_counts[rows].tolist(), *(record.lines for record in unparsed)],
        "reason": [
            *(REASONS[c - 1].value for c in codes[rows]),
            *(record.reason.value for record in unparsed),
        ],
        "record": [*(_csv_line(row.values()) for row in raw), *(r.text for r in unparsed)],
    }
    for name in KNOWN_COLUMNS:
        columns[name] = [row.get(name) for row in raw] + [None] * len(unparsed)
    table = pa.table(columns, schema=REJECTED_SCHEMA)
    return table.sort_by("line") if unparsed and rows.size else table


def _csv_line(values) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(values)
    return out.getvalue()
