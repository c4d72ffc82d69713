"""reading.batches: pyarrow's parse of each chunk, with lines, blanks and named errors."""

from __future__ import annotations

import io

import pytest

from featurepipe.core.contract import BOM, ReadError
from featurepipe.core.reading import batches as batches_module
from featurepipe.core.reading import read_batches, read_header
from featurepipe.core.reading.header import READ_SIZE
from featurepipe.core.reading.tap import Tap
from featurepipe_tests.core.support import HEADER, SOURCE, raw, validate


def rows(n: int) -> list[str]:
    return [f"2025-11-19T00:00:{i % 60:02d}Z,{i},s{i},click,web,DE,0,1.5,,3" for i in range(n)]


def test_blank_lines_are_counted_once_at_any_block_size():
    lines = []
    for row in rows(3000):
        lines += [row, "", "   ", "\r"]
    data = raw(*lines)
    for block_size in (1024, 1 << 20):
        summary = validate(data, block_size=block_size).summary
        assert summary.blank_lines == 9000
        assert summary.valid == summary.valid_lines == 3000


@pytest.mark.parametrize(
    "padded_row",
    [
        "2025-11-19T00:00:00Z, 7 ,padded,click,web,DE,0,1.5,,3",  # spaces
        "2025-11-19T00:00:00Z,\t7,padded,click,web,DE,0,1.5,,3",  # a tab
        '2025-11-19T00:00:00Z,7,"\npadded",click,web,DE,0,1.5,,3',  # a quoted line feed
    ],
)
def test_values_are_trimmed_in_a_chunk_whose_only_padding_is_one_value(padded_row: str):
    """Chunks with no whitespace or quote byte skip trimming; any other chunk is trimmed."""
    data = raw(*rows(400), padded_row, *rows(400))
    _, _, batches = read_batches(io.BytesIO(data), SOURCE, block_size=1024)
    padded = [b.padded for b in batches]
    assert padded.count(True) == 1 and len(padded) > 20
    events = validate(data, block_size=1024).events
    assert events.loc[events["session_id"] == "padded", "user_id"].tolist() == [7]


def _bom_at_a_chunk_start(line: str) -> bytes:
    """A file whose line after the first READ_SIZE bytes starts with a BOM, then `line`:
    the header read ends there, so the tap's second chunk starts with the BOM."""
    head = raw(*rows(1))
    filler = READ_SIZE - len(head) - 1
    return head + b"x" * filler + b"\n" + BOM + line.encode() + b"\n" + raw(*rows(2))[len(raw()) :]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("2025-11-19T00:00:01Z,7,s1,click,ios,US,1,2.5,,10", "event_time_invalid"),
        # after a BOM a quote is text: no quoted value running on over the next lines
        ('"2025-11-19T00:00:01Z,7,s1,click,ios,US,1,2.5,,10', "event_time_invalid"),
        ("", "field_count"),
    ],
)
def test_a_bom_where_a_chunk_starts_is_data(line: str, reason: str):
    data = _bom_at_a_chunk_start(line)
    stream = io.BytesIO(data)
    _, rest = read_header(stream, SOURCE)
    tap = Tap(rest, stream, 2 << 20, first_line=2)
    starts = [chunk.data[:3] for chunk in iter(tap.next_chunk, None)]
    assert starts[1] == BOM  # the case the test is about
    day = validate(data)
    assert day.rejected[["line", "reason"]].values.tolist() == [[3, "field_count"], [4, reason]]
    assert day.events["line"].tolist() == [2, 5, 6]


def test_a_file_that_ends_in_a_bom_on_its_own_line():
    """pyarrow calls a buffer holding only a BOM an empty CSV file: here it is a line."""
    for block_size in (1, 4, 1 << 20):
        day = validate(raw(*rows(1)) + BOM, block_size=block_size)
        assert day.rejected[["line", "reason"]].values.tolist() == [[3, "field_count"]]


def test_a_pyarrow_error_names_the_file_and_the_lines(monkeypatch):
    """Whatever pyarrow raises reaches the user with the file and lines it was reading."""
    monkeypatch.setattr(batches_module, "ARROW_BLOCK_SIZE", 16)  # a record straddles blocks
    data = raw(*rows(3), '2025-11-19T00:00:01Z,7,s1,click,"a\nb",US,1,2.5,,10')
    with pytest.raises(ReadError) as raised:
        validate(data)
    assert str(raised.value).startswith(f"{SOURCE}: lines 2-6: the CSV parser failed: ")


def test_rows_know_the_lines_they_cover():
    data = raw(
        '2025-11-19T00:00:01Z,7,s1,click,"a\r\nb\rc\nd",US,1,2.5,,10',
        "",
        rows(1)[0],
        header=HEADER.replace("device", '"device\n"'),
    )
    _, stats, batches = read_batches(io.BytesIO(data), SOURCE)
    (batch,) = list(batches)
    assert batch.lines.tolist() == [3, 8]
    assert batch.line_counts.tolist() == [4, 1]
    assert (batch.blank, stats.data_lines, stats.blank_lines) == (1, 6, 1)
    assert stats.bytes_read == len(data)
