"""The row contract one row at a time, with nothing but the standard library.

It is the oracle the tests hold the vectorised path to, and the baseline the benchmark
measures featurepipe against: the straightforward way the old pipeline worked.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from dataclasses import dataclass, field
from typing import BinaryIO

from featurepipe.core.contract import (
    INT64_MAX,
    INT64_MIN,
    INTEGER_RE,
    NUMBER_RE,
    OPTIONAL_NUMERIC_COLUMNS,
    ROW_SUM_COLUMNS,
    TEXT_COLUMNS,
    TIMESTAMP_RE,
    WHITESPACE,
    Reason,
)
from featurepipe.core.reading import read_header

# The contract sets no limit on a field's length; the csv module's default is 128 KiB.
csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))


@dataclass
class ReferenceResult:
    valid: list[dict] = field(default_factory=list)  # typed fields, `line` and `row_sum`
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    blank_lines: int = 0
    data_lines: int = 0


def reference_validate(stream: BinaryIO, source: str) -> ReferenceResult:
    header, rest = read_header(stream, source)
    names = header.columns
    result = ReferenceResult()
    data = rest + stream.read()
    physical = data.split(b"\n")
    if physical[-1] == b"":
        physical.pop()  # the file ends with a line break
    texts, bad_lines = [], set()
    for number, raw in enumerate(physical, start=2):
        try:
            texts.append(raw.decode("utf-8") + "\n")
        except UnicodeDecodeError:
            texts.append(raw.decode("utf-8", errors="replace") + "\n")
            bad_lines.add(number)
    reader = csv.reader(texts)
    consumed = 0
    for record in reader:
        line, last = consumed + 2, reader.line_num + 1
        consumed = reader.line_num
        bad_utf8 = any(n in bad_lines for n in range(line, last + 1))
        result.data_lines += 1
        # Blank means the line itself is empty or whitespace: `""` is a field, not a blank.
        if not texts[line - 2].strip(WHITESPACE):
            result.blank_lines += 1
            continue
        if len(record) != len(names):
            result.rejected.append((line, Reason.FIELD_COUNT.value))
            continue
        values = {name: value.strip(WHITESPACE) for name, value in zip(names, record, strict=True)}
        reason, row = _check_row(values, bad_utf8)
        if reason:
            result.rejected.append((line, reason.value))
            continue
        present = [name for name in ROW_SUM_COLUMNS if name in values]
        total = 0.0
        for name in present:
            total += float(row[name]) if row[name] is not None else 0.0
        row["line"], row["row_sum"] = line, total
        result.valid.append(row)
    return result


def _check_row(values: dict[str, str], bad_utf8: bool) -> tuple[Reason | None, dict]:
    if bad_utf8:
        return Reason.INVALID_UTF8, {}
    if not values["event_time"]:
        return Reason.EVENT_TIME_MISSING, {}
    event_time = parse_timestamp(values["event_time"])
    if event_time is None:
        return Reason.EVENT_TIME_INVALID, {}
    if not values["user_id"]:
        return Reason.USER_ID_MISSING, {}
    user_id = parse_integer(values["user_id"])
    if user_id is None:
        return Reason.USER_ID_INVALID, {}
    if not values["session_id"]:
        return Reason.SESSION_ID_MISSING, {}
    if not values["event_type"]:
        return Reason.EVENT_TYPE_MISSING, {}
    row = {
        "event_time": event_time,
        "user_id": user_id,
        "session_id": values["session_id"],
        "event_type": values["event_type"],
    }
    for name in TEXT_COLUMNS:
        row[name] = values.get(name) or None
    for name in OPTIONAL_NUMERIC_COLUMNS:
        row[name] = parse_number(values.get(name, ""))
    return None, row


def parse_timestamp(text: str) -> dt.datetime | None:
    if not TIMESTAMP_RE.match(text):
        return None
    try:
        value = dt.datetime.fromisoformat(text)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    except (ValueError, OverflowError):  # overflow: in UTC, before year 1 or after 9999
        return None


def parse_integer(text: str) -> int | None:
    if not INTEGER_RE.match(text):
        return None
    value = int(text)
    return value if INT64_MIN <= value <= INT64_MAX else None


def parse_number(text: str) -> float | None:
    if not NUMBER_RE.match(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None
