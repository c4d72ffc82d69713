"""Crafted raw files in corpus/: what each must come to, the reference agreeing, any block size.

Each file's expected outcome is written out here by hand: the valid rows' lines and row sums,
the quarantined (line, reason) pairs and the blank-line count, or the error that refuses the
whole file. The fast path (validate_events + build_features, pandera included) must match it,
reference_validate must match the fast path exactly, and reading in tiny blocks (records,
multi-byte characters and CRLF pairs cut across block boundaries) must change nothing.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from featurepipe.core.contract import BOM, ContractError, EmptyFileError, HeaderError
from featurepipe.core.reading import read_batches
from featurepipe_tests.core.support import (
    SOURCE,
    assert_same,
    fast,
    pandera_off,
    reference,
    validate,
)

CORPUS = Path(__file__).parent / "corpus"
MAX64 = float(2**63 - 1)


@dataclass(frozen=True)
class Rows:
    lines: list[int]
    row_sums: list[float]
    rejected: list[tuple[int, str]] = field(default_factory=list)
    blank: int = 0
    spans: dict[int, int] = field(default_factory=dict)  # lines of a rejected record, if not 1


@dataclass(frozen=True)
class Refused:
    error: type[ContractError]
    fragment: str


def bad(reason: str, *lines: int) -> list[tuple[int, str]]:
    return [(line, reason) for line in lines]


# A data line of the corpus is, unless a file changes it, user 7, is_premium 1, event_value 2.5
# and session_length_sec 10: row_sum 20.5; user 8 gives 21.5 and so on.
EXPECTED: dict[str, Rows | Refused] = {
    # encoding and line ends
    "valid_lf.csv": Rows([2, 3, 4], [20.5, 24.75, 10.0]),
    "utf8_bom.csv": Rows([2, 3], [20.5, 21.5]),
    "crlf.csv": Rows([2, 4], [20.5, 21.5], blank=1),
    "mixed_lf_crlf.csv": Rows([2, 3, 5], [20.5, 21.5, 22.5], blank=1),
    "no_final_line_break.csv": Rows([2, 3], [20.5, 21.5]),
    "crlf_blank_lines_and_bom.csv": Rows([3, 6], [20.5, 21.5], blank=4),
    "nul_byte.csv": Rows([2, 3], [20.5, 21.5], bad("field_count", 4)),
    "multibyte_utf8.csv": Rows(list(range(2, 16)), [k + 13.5 for k in range(1, 15)]),
    "multibyte_crlf_quoted.csv": Rows(list(range(2, 17, 2)), [k + 13.5 for k in range(1, 9)]),
    "lone_cr_line_ends.csv": Rows([2, 4, 6], [20.5, 21.5, 22.5], blank=1),
    "bom_mid_file.csv": Rows(
        [2, 5, 7],
        [20.5, 22.5, 24.5],
        [(3, "event_time_invalid"), (4, "field_count"), (6, "event_time_invalid")],
    ),
    # invalid UTF-8
    "invalid_utf8_latin1.csv": Rows(
        [2, 4], [20.5, 22.5], [(3, "invalid_utf8"), (5, "field_count")]
    ),
    "invalid_utf8_cut_sequence_at_end.csv": Rows([2], [20.5], bad("invalid_utf8", 3)),
    "invalid_utf8_surrogate_and_overlong.csv": Rows(
        [2, 5], [20.5, 23.5], bad("invalid_utf8", 3, 4)
    ),
    "header_not_utf8.csv": Refused(HeaderError, "line 1: the header is not UTF-8"),
    # quoting
    "quoted_commas.csv": Rows([2, 3], [20.5, 21.5]),
    "quoted_doubled_quotes.csv": Rows([2, 3], [20.5, 21.5], bad("session_id_missing", 4)),
    "quoted_line_breaks_lf.csv": Rows([2, 4, 5], [20.5, 21.5, 22.5], bad("user_id_invalid", 9)),
    "line_breaks_in_single_line_values.csv": Rows(
        [8], [22.5], bad("line_break_in_value", 2, 4, 6), spans={2: 2, 4: 2, 6: 2}
    ),
    "quoted_line_breaks_crlf.csv": Rows([2, 4, 8], [20.5, 21.5, 22.5], blank=1),
    "long_quoted_field_with_line_breaks.csv": Rows(
        [2, 2003], [20.5, 21.5], bad("user_id_invalid", 2004)
    ),
    "quoted_values_trimmed.csv": Rows([2], [20.5]),
    "quoted_empty_required_fields.csv": Rows(
        [],
        [],
        [
            (2, "event_time_missing"),
            (3, "user_id_missing"),
            (4, "session_id_missing"),
            (5, "event_type_missing"),
        ],
    ),
    "quote_inside_unquoted_value.csv": Rows([2, 3, 4], [20.5, 21.5, 22.5]),
    "text_after_closing_quote.csv": Rows([2, 3], [20.5, 21.5]),
    "unterminated_quote_mid_file.csv": Rows(
        [2, 4, 5], [20.5, 22.5, 23.5], bad("unterminated_quote", 3)
    ),
    "unterminated_quote_last_line.csv": Rows([2], [20.5], bad("unterminated_quote", 3)),
    "stray_quote_closed_lines_later.csv": Rows(
        [2, 6], [20.5, 24.5], bad("line_break_in_value", 3), spans={3: 3}
    ),
    "lines_of_only_quotes_are_not_blank.csv": Rows([2, 5], [20.5, 21.5], bad("field_count", 3, 4)),
    "long_field_1mb.csv": Rows([2, 3], [20.5, 21.5]),
    # header
    "header_only.csv": Rows([], []),
    "header_only_no_line_break.csv": Rows([], []),
    "empty_0_bytes.csv": Refused(EmptyFileError, "the file is empty (0 bytes)"),
    "bom_only.csv": Refused(HeaderError, "line 1: the file holds only a UTF-8 BOM, no header"),
    "missing_required_column_user_id.csv": Refused(
        HeaderError, "missing required columns: user_id (header has: event_time, session_id"
    ),
    "duplicated_column.csv": Refused(HeaderError, "duplicated columns: amount"),
    "header_names_case_sensitive.csv": Refused(HeaderError, "missing required columns: user_id"),
    "padded_header_names.csv": Rows([2], [20.5]),
    "header_of_many_lines.csv": Rows([3], [20.5]),
    "reordered_columns.csv": Rows([2, 3], [6.5, 6.0]),
    "extra_unknown_columns.csv": Rows([2, 3], [20.5, 21.5]),
    "required_columns_only.csv": Rows([2, 3], [7.0, -3.0]),
    # the first line is always the header, blank or not
    "only_blank_lines.csv": Refused(HeaderError, "missing required columns: event_time, user_id"),
    "blank_first_line.csv": Refused(HeaderError, "(header has: nothing)"),
    # blank lines
    "blank_and_whitespace_lines.csv": Rows([3, 6], [20.5, 21.5], blank=7),
    "header_then_only_blank_lines.csv": Rows([], [], blank=3),
    "commas_only_lines.csv": Rows([4], [20.5], [(2, "event_time_missing"), (3, "field_count")]),
    # quarantine
    "field_count_short_and_long.csv": Rows([2, 6], [20.5, 21.5], bad("field_count", 3, 4, 5)),
    "event_time_missing_and_invalid.csv": Rows(
        [6],
        [20.5],
        bad("event_time_missing", 2, 3) + bad("event_time_invalid", 4, 5),
    ),
    "session_and_event_type_missing.csv": Rows(
        [5],
        [20.5],
        [(2, "session_id_missing"), (3, "event_type_missing"), (4, "session_id_missing")],
    ),
    "first_broken_rule_wins.csv": Rows(
        [],
        [],
        [
            (2, "event_time_missing"),
            (3, "event_time_invalid"),
            (4, "user_id_missing"),
            (5, "session_id_missing"),
            (6, "field_count"),
        ],
    ),
    "user_id_missing_invalid_overflow.csv": Rows(
        [5, 7, 9, 10],
        [MAX64 + 13.5, -MAX64 + 13.5, 55.5, 13.5],
        [(2, "user_id_missing"), *bad("user_id_invalid", 3, 4, 6, 8, 11)],
    ),
    # timestamps
    "timestamps_with_offsets.csv": Rows(list(range(2, 10)), [20.5] * 8),
    "timestamps_invalid_dates.csv": Rows(
        [3, 8], [20.5, 20.5], bad("event_time_invalid", 2, 4, 5, 6, 7)
    ),
    "timestamps_year_bounds.csv": Rows([2, 4], [20.5, 20.5], bad("event_time_invalid", 3, 5, 6)),
    # optional numerics
    "numbers_exotic.csv": Rows([2, 3], [7 + 1000.0 - 0.0 + 5.0 + 0.5, 7 + 5.0 + 0.01 + 7.0 - 2.5]),
    "numbers_non_finite.csv": Rows([2, 3], [7.0, 7.0]),
    "numbers_unparseable.csv": Rows([2, 3], [7.0, 7.0]),
    "numbers_huge_row_sum_overflows.csv": Rows([2, 3], [float("inf"), MAX64]),
    "whitespace_padded_values.csv": Rows([2], [22.5]),
}
FILES = sorted(EXPECTED)
ROW_FILES = [name for name in FILES if isinstance(EXPECTED[name], Rows)]


def read(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def test_every_corpus_file_has_an_expected_outcome():
    on_disk = sorted(path.name for path in CORPUS.iterdir())
    assert on_disk == FILES
    assert len(FILES) >= 40
    assert set(ROW_FILES) >= CUT_EVERYWHERE


@pytest.mark.parametrize("name", FILES)
def test_corpus_file(name: str):
    expected, data = EXPECTED[name], read(name)
    if isinstance(expected, Refused):
        for run in (validate, reference):
            with pytest.raises(expected.error) as raised:
                run(data)
            assert str(raised.value).startswith(f"{SOURCE}: ")
            assert expected.fragment in str(raised.value)
        return
    got = fast(data)  # the path as shipped, pandera included
    assert got.lines == expected.lines
    assert got.row_sums == expected.row_sums
    assert got.rejected == expected.rejected
    assert got.rejected_lines == [expected.spans.get(n, 1) for n, _ in expected.rejected]
    assert got.blank == expected.blank
    header_lines = 2 if name == "header_of_many_lines.csv" else 1
    assert got.data_lines == len(data.removeprefix(BOM).splitlines()) - header_lines
    assert got.adds_up()
    assert_same(got, reference(data))


# Files where a cut can fall inside a multi-byte character, between CR and LF, inside invalid
# UTF-8 or inside quotes: read a byte at a time and in blocks of 7 bytes as well.
CUT_EVERYWHERE = {
    "crlf.csv",
    "crlf_blank_lines_and_bom.csv",
    "mixed_lf_crlf.csv",
    "multibyte_utf8.csv",
    "multibyte_crlf_quoted.csv",
    "invalid_utf8_latin1.csv",
    "invalid_utf8_cut_sequence_at_end.csv",
    "invalid_utf8_surrogate_and_overlong.csv",
    "quoted_line_breaks_crlf.csv",
    "quoted_doubled_quotes.csv",
    "text_after_closing_quote.csv",
    "unterminated_quote_mid_file.csv",
    "blank_and_whitespace_lines.csv",
    "lone_cr_line_ends.csv",
    "bom_mid_file.csv",
    "stray_quote_closed_lines_later.csv",
    "line_breaks_in_single_line_values.csv",
    "header_of_many_lines.csv",
}


@pytest.mark.parametrize("name", ROW_FILES)
def test_tiny_blocks_change_nothing(name: str):
    data = read(name)
    with pandera_off():
        default = fast(data)
        for block_size in (1, 7, 64) if name in CUT_EVERYWHERE else (64,):
            assert_same(fast(data, block_size=block_size), default)


@pytest.mark.parametrize("name", sorted(CUT_EVERYWHERE))
def test_short_reads_change_nothing(name: str):
    """A source that gives a few bytes a read, inside the header too."""
    data = read(name)
    with pandera_off():
        assert_same(fast(data, block_size=64, step=5), fast(data))


def test_tiny_blocks_really_cut_the_file():
    """The block size is not ignored: small blocks give many batches, all records whole."""
    data = read("multibyte_crlf_quoted.csv")
    _, stats, batches = read_batches(io.BytesIO(data), SOURCE, block_size=64)
    sizes = [batch.fields.num_rows for batch in batches]
    assert len([size for size in sizes if size]) > 3
    assert sum(sizes) == 8
    assert stats.data_lines == 16  # each record covers two lines


# --- what some files hold, beyond the counts ----------------------------------------------


def test_long_field_is_kept_whole():
    events = validate(read("long_field_1mb.csv"), block_size=4096).events
    assert events["device"].str.len().tolist() == [1_000_000, 3]


def test_long_quoted_field_keeps_its_line_breaks():
    events = validate(read("long_quoted_field_with_line_breaks.csv"), block_size=1000).events
    # surrounding whitespace, the last line break included, is not part of a value
    assert events["country"].iloc[0] == ("y" * 99 + "\n") * 1999 + "y" * 99


def test_quoting_oddities_are_read_as_csv_modules_read_them():
    events = validate(read("text_after_closing_quote.csv")).events
    assert events["session_id"].tolist() == ["s1", "s1"]
    assert events["device"].tolist() == ["ios", 'ab"c"']
    events = validate(read("quote_inside_unquoted_value.csv")).events
    assert events["device"].tolist() == ['i"o"s', '5"', "ios"]


def test_an_unterminated_quote_costs_its_own_line():
    day = validate(read("unterminated_quote_mid_file.csv"))
    (record,) = day.rejected.to_dict("records")
    assert (record["line"], record["lines"], record["reason"]) == (3, 1, "unterminated_quote")
    assert record["record"] == '2025-11-19T00:00:01Z,8,s1,click,"ios,US,1,2.5,,10'
    assert day.events["user_id"].tolist() == [7, 9, 10]
    summary = day.summary
    assert (summary.data_lines, summary.quarantined_lines, summary.valid_lines) == (4, 1, 3)


def test_a_record_of_many_lines_counts_as_many_lines():
    day = validate(read("stray_quote_closed_lines_later.csv"))
    summary = day.summary
    assert (summary.valid, summary.quarantined) == (2, 1)
    assert (summary.valid_lines, summary.quarantined_lines) == (2, 3)
    assert summary.quarantine_ratio == 3 / 5
    assert day.rejected["lines"].tolist() == [3]


def test_columns_reported():
    day = validate(read("extra_unknown_columns.csv"))
    assert day.summary.extra_columns == ["note", "campaign_id"]
    assert day.summary.absent_columns == []
    day = validate(read("required_columns_only.csv"))
    assert day.summary.absent_columns == [
        "device",
        "country",
        "is_premium",
        "event_value",
        "amount",
        "session_length_sec",
    ]
    assert day.events[["device", "amount"]].isna().all().all()
