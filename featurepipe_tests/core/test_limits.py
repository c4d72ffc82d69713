"""Each bound the README states, on each side of its edge, and values past the limits of the
libraries underneath (Arrow's casts, Python's int(), the csv module's field limit): the fast
path and the reference give the same answer, and no value fails the day."""

from __future__ import annotations

import csv

import pytest

from featurepipe.core import rules
from featurepipe.core.contract import (
    BOM,
    INT64_MAX,
    INT64_MIN,
    MAX_HEADER_BYTES,
    MAX_QUOTED_LINE_BREAKS,
    HeaderError,
    ReadError,
)
from featurepipe_tests.core.support import (
    HEADER,
    SOURCE,
    assert_same,
    fast,
    pandera_off,
    raw,
    reference,
    validate,
)

ROW = "2025-11-19T00:00:01Z,7,s1,click,ios,US,1,2.5,,10"  # row_sum 20.5
CSV_FIELD_LIMIT = 131_072  # the csv module's default field_size_limit()
INT_DIGIT_LIMIT = 4_300  # Python's default sys.get_int_max_str_digits()


@pytest.fixture(autouse=True)
def _no_pandera():
    with pandera_off():
        yield


def both(data: bytes):
    """The outcome, the same on the fast path and the reference."""
    got, expected = fast(data), reference(data)
    assert_same(got, expected)
    assert got.adds_up()
    return got


def row_with(**values: str) -> str:
    fields = dict(zip(HEADER.split(","), ROW.split(","), strict=True))
    fields.update(values)
    return ",".join(fields.values())


# --- the header: at most 1 MiB with its line end, the BOM not counted ---------------------------


def header_of(size: int, line_end: str) -> str:
    """HEADER and one extra column, `size` bytes with the line end."""
    return f"{HEADER},{'n' * (size - len(HEADER) - 1 - len(line_end))}"


@pytest.mark.parametrize("bom", [False, True], ids=["no-bom", "bom"])
@pytest.mark.parametrize("line_end", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_a_header_of_1_mib_is_read_one_byte_more_is_refused(bom: bool, line_end: str):
    at_edge = raw(
        ROW + ",x", header=header_of(MAX_HEADER_BYTES, line_end), newline=line_end, bom=bom
    )
    assert len(at_edge.split(line_end.encode())[0]) + len(line_end) == MAX_HEADER_BYTES + 3 * bom
    assert both(at_edge).lines == [2]
    (extra,) = validate(at_edge).summary.extra_columns
    assert len(extra) == MAX_HEADER_BYTES - len(HEADER) - 1 - len(line_end)
    over = raw(
        ROW + ",x", header=header_of(MAX_HEADER_BYTES + 1, line_end), newline=line_end, bom=bom
    )
    for run in (validate, reference):
        with pytest.raises(HeaderError) as raised:
            run(over)
        assert str(raised.value).startswith(
            f"{SOURCE}: line 1: the header is longer than 1,048,576 bytes"
        )


@pytest.mark.parametrize(
    "name",
    [
        "n" * CSV_FIELD_LIMIT,
        "n" * (CSV_FIELD_LIMIT + 1),
        "n" * (3 * CSV_FIELD_LIMIT),
        '"' + 'n,""\n' * CSV_FIELD_LIMIT + '"',  # quoted: commas, quotes and line breaks in it
    ],
    ids=["csv-limit", "csv-limit-plus-one", "three-times", "quoted"],
)
def test_a_header_name_longer_than_the_csv_field_limit_is_an_extra_column(name: str):
    assert csv.field_size_limit() == CSV_FIELD_LIMIT  # as in the CLI (test_process_state)
    data = raw(ROW + ",x", header=f"{HEADER},{name}")
    lines = name.count("\n")
    assert both(data).lines == [2 + lines]
    (extra,) = validate(data).summary.extra_columns
    if name.startswith('"'):
        assert extra == name[1:-1].replace('""', '"').strip()
    else:
        assert extra == name


def test_a_header_of_many_line_breaks_is_bound_by_its_bytes_only():
    """The 10,000-line-break bound is for data records; the header has its 1 MiB."""
    name = '"' + "\n" * (MAX_QUOTED_LINE_BREAKS + 1) + 'note"'
    data = raw(ROW + ",x", header=f"{HEADER},{name}")
    assert both(data).lines == [MAX_QUOTED_LINE_BREAKS + 3]
    assert validate(data).summary.extra_columns == ["note"]


def test_a_bom_only_file_has_no_header():
    for run in (validate, reference):
        with pytest.raises(HeaderError) as raised:
            run(BOM)
        assert str(raised.value) == f"{SOURCE}: line 1: the file holds only a UTF-8 BOM, no header"


# --- a quoted value: at most 10,000 line breaks -------------------------------------------------


@pytest.mark.parametrize("line_break", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
@pytest.mark.parametrize("block_size", [None, 4096])
def test_a_value_of_10000_line_breaks_is_read_one_more_is_unterminated(line_break, block_size):
    def data(breaks: int) -> bytes:
        value = '"' + line_break * breaks + 'a"'
        return raw(row_with(device=value), ROW, newline=line_break)

    at_edge = data(MAX_QUOTED_LINE_BREAKS)
    got = fast(at_edge, block_size=block_size)
    assert_same(got, reference(at_edge))
    assert got.lines == [2, MAX_QUOTED_LINE_BREAKS + 3]
    assert got.rejected == []

    over = data(MAX_QUOTED_LINE_BREAKS + 1)
    got = fast(over, block_size=block_size)
    assert_same(got, reference(over))
    # cut at the end of the quote's line; the empty lines after it are blank
    assert got.rejected[0] == (2, "unterminated_quote")
    assert got.rejected_lines[0] == 1
    assert got.blank == MAX_QUOTED_LINE_BREAKS
    assert got.lines == [MAX_QUOTED_LINE_BREAKS + 4]


# --- user_id: an integer in the int64 range, however it is written ------------------------------

VALID_IDS = [
    (str(INT64_MAX), INT64_MAX),
    (str(INT64_MIN), INT64_MIN),
    ("0" * 5000 + str(INT64_MAX), INT64_MAX),
    ("-" + "0" * 5000 + str(INT64_MIN)[1:], INT64_MIN),
    ("+" + "0" * INT_DIGIT_LIMIT + "7", 7),
    ("0" * (INT_DIGIT_LIMIT + 1), 0),
    ("-" + "0" * 10_000, 0),
]
INVALID_IDS = [
    str(INT64_MAX + 1),
    str(INT64_MIN - 1),
    "0" * 5000 + str(INT64_MAX + 1),
    "9" * 20,
    "9" * INT_DIGIT_LIMIT,
    "9" * (INT_DIGIT_LIMIT + 1),
    "1" + "0" * 5000,
    "-" + "9" * 10_000,
    "+" + "1" * (INT_DIGIT_LIMIT + 1),
    "1" * (CSV_FIELD_LIMIT + 1),
]


@pytest.mark.parametrize("block_size", [None, 1 << 12])
def test_user_ids_of_any_length_are_judged_by_their_value(block_size):
    """Each id among valid rows: the others stay valid, whatever falls back in their batch."""
    lines = []
    for text, _ in VALID_IDS:
        lines += [ROW, row_with(user_id=text)]
    for text in INVALID_IDS:
        lines += [ROW, row_with(user_id=text)]
    data = raw(*lines)
    got = fast(data, block_size=block_size)
    assert_same(got, reference(data))
    first_invalid = 2 + 2 * len(VALID_IDS)
    assert got.rejected == [
        (first_invalid + 2 * i + 1, "user_id_invalid") for i in range(len(INVALID_IDS))
    ]
    valid_ids = [row[2] for row in got.rows if row[0] < first_invalid and row[0] % 2]
    assert valid_ids == [value for _, value in VALID_IDS]


# --- values past other limits ---------------------------------------------------------------------

LONG = "x" * (CSV_FIELD_LIMIT + 1)


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"session_id": LONG}, None),
        ({"session_id": '"' + 'a,""\n' * 9_000 + 'a,""' * CSV_FIELD_LIMIT + '"'}, None),
        ({"device": LONG, "country": LONG}, None),
        ({"event_time": "2025-11-19T00:00:01." + "1" * 5000 + "Z"}, "event_time_invalid"),
        ({"event_time": "2" * 5000 + "-11-19T00:00:01Z"}, "event_time_invalid"),
        ({"event_time": LONG}, "event_time_invalid"),
        ({"amount": "1" * 5000}, None),  # not finite: null
        ({"amount": "0." + "0" * 5000 + "1"}, None),  # 0.0
        ({"amount": "9007199254740993" + "0" * 1000 + "1e-1001"}, None),  # rounds up
        ({"amount": "1e" + "9" * 5000, "event_value": "-1e-" + "9" * 5000}, None),
        ({"amount": LONG}, None),  # not a number: null
    ],
    ids=[
        "long-session",
        "long-quoted-session",
        "long-texts",
        "long-fraction",
        "long-year",
        "long-time",
        "5000-digit-number",
        "5000-zeros-fraction",
        "long-at-a-rounding-edge",
        "5000-digit-exponents",
        "long-non-number",
    ],
)
def test_long_values_are_the_record_s_own(values: dict[str, str], reason: str | None):
    data = raw(ROW, row_with(**values), ROW)
    got = both(data)
    lines = 2 + "".join(values.values()).count("\n")
    assert got.rejected == ([(3, reason)] if reason else [])
    assert got.lines == ([2, 3, lines + 2] if reason is None else [2, lines + 2])


def test_a_failure_under_the_rules_names_the_file_and_the_lines(monkeypatch):
    """Should a library under the rules still refuse a value, the day fails with featurepipe's
    own error, naming the file and the lines of the chunk, and quoting the start of the
    library's message (Arrow's quote the whole value)."""

    def refuse(strings):
        raise OverflowError("a limit nobody knew of: " + "9" * 5_000)

    monkeypatch.setattr(rules, "_numbers", refuse)
    with pytest.raises(ReadError) as raised:
        validate(raw(ROW, "", ROW))
    said = "OverflowError: a limit nobody knew of: " + "9" * 5_000
    assert str(raised.value) == (
        f"{SOURCE}: lines 2-4: checking the row contract failed: {said[:500]}… (5,039 characters)"
    )


def test_a_header_error_quotes_the_start_of_a_long_header():
    names = ["n" * CSV_FIELD_LIMIT, *(f"c{i}" for i in range(30_000))]
    data = raw(header=",".join(["event_time", *names, "c7"]))
    for run in (validate, reference):
        with pytest.raises(HeaderError) as raised:
            run(data)
        assert str(raised.value) == f"{SOURCE}: line 1: duplicated columns: c7"
    data = raw(header=",".join(["event_time", *names]))
    listed = ", ".join(["event_time", "n" * 100 + "… (131,072 characters)"])
    listed += ", " + ", ".join(f"c{i}" for i in range(18)) + ", … (29,982 more)"
    for run in (validate, reference):
        with pytest.raises(HeaderError) as raised:
            run(data)
        assert str(raised.value) == (
            f"{SOURCE}: line 1: missing required columns: user_id, session_id, event_type"
            f" (header has: {listed})"
        )
