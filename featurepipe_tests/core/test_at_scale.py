"""The issue's case at full size: one stray quote in a day of a million events costs its own
line, and a quote closed by another hundreds of lines later costs those lines, counted."""

from __future__ import annotations

import datetime as dt

import pytest

from featurepipe.core.sample import generate_day
from featurepipe_tests.core.support import validate

ROWS = 1_000_000
# Slow: a million events, about 4 s of CPU.
pytestmark = pytest.mark.slow


def _open_last_field(line: bytes) -> bytes:
    head, _, last = line.rpartition(b",")
    return head + b',"' + last


def test_stray_quotes_in_a_day_of_a_million_events():
    lines = b"".join(generate_day(dt.date(2025, 11, 19), ROWS, seed=16)).split(b"\n")
    for number in (13, 500_000, 500_600):  # physical lines; the header is line 1
        lines[number - 1] = _open_last_field(lines[number - 1])
    day = validate(b"\n".join(lines))
    rejected = day.rejected[["line", "lines", "reason"]].values.tolist()
    assert rejected == [[13, 1, "unterminated_quote"], [500_000, 601, "line_break_in_value"]]
    summary = day.summary
    assert (summary.data_lines, summary.quarantined_lines) == (ROWS, 602)
    assert summary.valid == summary.valid_lines == ROWS - 602
    assert summary.quarantine_ratio == 602 / ROWS
    expected = [n for n in range(2, ROWS + 2) if n != 13 and not 500_000 <= n <= 500_600]
    assert day.events["line"].tolist() == expected
