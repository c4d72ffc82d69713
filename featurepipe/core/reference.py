"""The row contract one record at a time, with nothing but the standard library.

It is the oracle the tests hold the vectorised path to, and the baseline the benchmark
measures featurepipe against: the straightforward way the old pipeline worked. It finds where
records end on its own, reading quotes a character at a time on the lines that have any, and
splits them into fields as the csv module would (`contract.split_record`, which has no limit
on a field's length).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import BinaryIO

from featurepipe.core import contract
from featurepipe.core.contract import (
    BOM,
    INT64_DIGITS,
    INT64_MAX,
    INT64_MIN,
    INTEGER_RE,
    NUMBER_RE,
    OPTIONAL_NUMERIC_COLUMNS,
    ROW_SUM_COLUMNS,
    SINGLE_LINE_COLUMNS,
    TEXT_COLUMNS,
    TIMESTAMP_RE,
    WHITESPACE,
    Reason,
    check_header,
    parse_header,
    split_record,
)


@dataclass
class ReferenceResult:
    valid: list[dict] = field(default_factory=list)  # typed fields, `line` and `row_sum`
    rejected: list[tuple[int, str, int]] = field(default_factory=list)  # (line, reason, lines)
    valid_lines: int = 0  # physical lines the valid rows cover
    blank_lines: int = 0
    data_lines: int = 0  # physical lines after the header


def reference_validate(stream: BinaryIO, source: str) -> ReferenceResult:
    data = stream.read()
    bom = data.startswith(BOM)
    data = data.removeprefix(BOM)
    physical = data.splitlines(keepends=True)  # at LF, CRLF and CR, as bytes.splitlines does
    texts, bad_lines = [], set()  # each line decoded, its line end included
    for number, raw in enumerate(physical):
        try:
            texts.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            texts.append(raw.decode("utf-8", errors="replace"))
            bad_lines.add(number)
    first, closed = _record(texts, 0, None) if texts else (0, True)
    names = parse_header(b"".join(physical[:first]) if closed else data, source, closed, bom)
    check_header(names, source)
    result = ReferenceResult(data_lines=len(texts) - first)
    records = []  # (first line, line after the last, closed), lines counted from 0
    while first < len(texts):
        stop, closed = _record(texts, first, contract.MAX_QUOTED_LINE_BREAKS)
        records.append((first, stop, closed))
        first = stop
    for first, stop, closed in records:
        line, lines = first + 1, stop - first
        if not closed:
            result.rejected.append((line, Reason.UNTERMINATED_QUOTE.value, lines))
            continue
        # Blank means the line itself is empty or whitespace: `""` is a field, not a blank.
        if not texts[first].strip(WHITESPACE):
            result.blank_lines += 1
            continue
        record = split_record("".join(texts[first:stop]).removesuffix("\n").removesuffix("\r"))
        if len(record) != len(names):
            result.rejected.append((line, Reason.FIELD_COUNT.value, lines))
            continue
        raw_values = dict(zip(names, record, strict=True))
        if any(
            "\r" in raw_values.get(n, "") or "\n" in raw_values.get(n, "")
            for n in SINGLE_LINE_COLUMNS
        ):
            result.rejected.append((line, Reason.LINE_BREAK_IN_VALUE.value, lines))
            continue
        values = {name: value.strip(WHITESPACE) for name, value in raw_values.items()}
        bad_utf8 = any(n in bad_lines for n in range(first, stop))
        reason, row = _check_row(values, bad_utf8)
        if reason:
            result.rejected.append((line, reason.value, lines))
            continue
        present = [name for name in ROW_SUM_COLUMNS if name in values]
        total = 0.0
        for name in present:
            total += float(row[name]) if row[name] is not None else 0.0
        row["line"], row["row_sum"] = line, total
        result.valid.append(row)
        result.valid_lines += lines
    return result


START, FIELD, QUOTED, QUOTE_IN_QUOTED = range(4)


def _record(texts: list[str], first: int, max_breaks: int | None) -> tuple[int, bool]:
    """Where the record that starts at line `first` ends: (the line after its last, True). A
    quote in it that does not close within max_breaks line breaks, or never: (the line after
    the one the quote opened on, False)."""
    state, opened = START, first
    for number in range(first, len(texts)):
        text = texts[number]
        if '"' in text:
            for char in text.rstrip("\r\n"):
                if state == QUOTED:
                    if char == '"':
                        state = QUOTE_IN_QUOTED
                elif state == QUOTE_IN_QUOTED:
                    state = QUOTED if char == '"' else START if char == "," else FIELD
                elif char == ",":
                    state = START
                elif char == '"' and state == START:
                    state, opened = QUOTED, number
                else:
                    state = FIELD
        if state != QUOTED:
            return number + 1, True
        if max_breaks is not None and number - opened + 1 > max_breaks:
            return opened + 1, False
    return opened + 1, False


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
    digits = text.lstrip("+-").lstrip("0")
    if len(digits) > INT64_DIGITS:
        return None
    value = -int(digits or "0") if text.startswith("-") else int(digits or "0")
    return value if INT64_MIN <= value <= INT64_MAX else None


def parse_number(text: str) -> float | None:
    if not NUMBER_RE.match(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None
