"""reading.records: where lines and records end, and where an unterminated quote is cut."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from featurepipe.core.reading.records import (
    count_lines,
    first_record_end,
    has_lone_cr,
    line_ends,
    split_records,
)
from featurepipe.core.reference import _record

NO_BOUND = 10**9
TOKENS = ["a", ",", '"', '""', "\n", "\r\n", "\r", " ", "é", "\ufeff"]


def texts(max_size: int = 25) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(TOKENS), max_size=max_size).map("".join)


@pytest.mark.parametrize(
    ("data", "final", "ends", "lone_cr"),
    [
        (b"a\nb\r\nc\rd", True, [1, 4, 6], True),
        (b"a\r\nb\r\n", True, [2, 5], False),
        (b"a\r", False, [], False),  # an LF may follow
        (b"a\r", True, [1], True),
        (b"\r\r\n\n", True, [0, 2, 3], True),
        (b"a\r\rb", False, [1, 2], True),
        (b"", True, [], False),
        (b"x", True, [], False),
    ],
)
def test_lines_end_at_lf_crlf_and_lone_cr(data: bytes, final: bool, ends: list, lone_cr: bool):
    assert line_ends(data, final).tolist() == ends
    assert has_lone_cr(data, final) == lone_cr
    if final:  # bytes.splitlines splits at exactly these three
        assert count_lines(data) == len(data.splitlines())


def _csv_record_ends(text: str) -> list[int]:
    """Python's csv module: the offsets (in characters) after which a record ends."""
    lines = text.splitlines(keepends=True)
    reader = csv.reader(lines)
    ends, offsets = [], np.cumsum([len(line) for line in lines]).tolist()
    for _ in reader:
        ends.append(offsets[reader.line_num - 1])
    return ends


@settings(max_examples=400, deadline=None)
@given(texts())
def test_records_end_where_pythons_csv_ends_them(text: str):
    """The tap hands pyarrow whole records only: its quote lexer must agree with a CSV parser
    on where records end, or a record could be cut in two."""
    ends = _csv_record_ends(text + "Z\n")[:-1]  # the last record: Z's, or one still open
    # Not final: a CR at the very end may be the first half of a CRLF still to come.
    whole = [
        end for end in ends if end <= len(text) and not (end == len(text) and text[-1:] == "\r")
    ]
    expected = len(text[: whole[-1]].encode()) if whole else 0
    assert split_records(text.encode(), False, NO_BOUND).cut == expected


def _reference_records(text: str, bound: int) -> list[tuple[int, int, bool]]:
    lines = text.splitlines(keepends=True)
    records, first = [], 0
    while first < len(lines):
        stop, closed = _record(lines, first, bound)
        records.append((first, stop, closed))
        first = stop
    return records


def _lexer_records(data: bytes, bound: int) -> list[tuple[int, int, bool]]:
    """split_records applied as the tap applies it: (first line, line after the last, closed)."""
    records, line = [], 0
    while data:
        split = split_records(data, True, bound)
        lines = count_lines(data[: split.cut])
        if split.closes is None:
            last = list(range(lines))
        else:
            closes = split.closes[: np.searchsorted(split.ends, split.cut)]
            last = [*np.flatnonzero(closes).tolist(), *([lines - 1] if lines > closes.size else [])]
        for first, end in zip([-1, *last], last, strict=False):
            records.append((line + first + 1, line + end + 1, True))
        line += lines
        if split.stop > split.cut:
            cut_off = count_lines(data[split.cut : split.stop])
            records.append((line, line + cut_off, False))
            line += cut_off
        data = data[split.stop :]
    return records


@settings(max_examples=500, deadline=None)
@given(texts(40), st.integers(0, 3))
def test_records_and_unterminated_quotes_as_the_reference_reads_them(text: str, bound: int):
    """Where each record starts and ends, and which are cut at a quote that closes after more
    than `bound` line breaks or never: the numpy lexer and the reference's reading a
    character at a time agree."""
    assert _lexer_records(text.encode(), bound) == _reference_records(text, bound)


def cut_stop(split) -> tuple[int, int]:
    return split.cut, split.stop


def test_a_stray_quote_is_cut_at_the_end_of_its_line():
    data = b'a,b\nc,"d\ne,f\ng,h\n'
    split = split_records(data, True, 1)
    assert (split.cut, split.stop) == (4, 9)  # "c,"d\n" alone; e,f and g,h are read again
    # within the bound the quote closes nothing either: the file ends first
    assert cut_stop(split_records(data, True, 5)) == (4, 9)
    # not final and within the bound: wait for more
    assert cut_stop(split_records(data, False, 5)) == (4, 4)
    # not final, but more line breaks than the bound already: cut now
    assert cut_stop(split_records(data, False, 1)) == (4, 9)


def test_a_quote_that_closes_within_the_bound_is_one_record():
    data = b'a,"b\n\nc",d\ne,f\n'
    split = split_records(data, True, 2)
    assert (split.cut, split.stop) == (len(data), len(data))
    assert split.closes.tolist() == [False, False, True, True]
    split = split_records(data, True, 1)
    assert (split.cut, split.stop) == (0, 5)


def test_the_quote_of_a_later_line_of_a_record_cuts_the_record_there():
    """A record whose first quoted value closed, then a quote that never does: the record
    runs from its start to the end of that quote's line."""
    data = b'a,"b\nc","d\ne\nf\n'
    split = split_records(data, True, 1)
    assert (split.cut, split.stop) == (0, 11)


@pytest.mark.parametrize(
    ("data", "final", "end"),
    [
        (b"a,b\nc", False, 4),
        (b'"a\nb",c\r\nd', False, 9),
        (b"a,b\r", False, None),
        (b"a,b\r", True, 4),
        (b"a,b\rc", False, 4),
        (b"a,b", True, 3),
        (b'"a,b', True, None),  # never closed
        (b'"a\n', False, None),
    ],
)
def test_first_record_end(data: bytes, final: bool, end: int | None):
    assert first_record_end(data, final) == end
