"""Chunks of whole records parsed by pyarrow into batches of string fields, each record with
the physical line it starts on and the lines it covers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from featurepipe.core.contract import BOM, WHITESPACE, ReadError, Reason, quoted
from featurepipe.core.prefetch import prefetch
from featurepipe.core.reading.header import Header, read_header
from featurepipe.core.reading.records import CR, LF, line_ends
from featurepipe.core.reading.tap import Chunk, Tap

DEFAULT_BLOCK_SIZE = 2 << 20  # bytes read at a time; two chunks are in memory at most
# pyarrow fails on a record that does not end in the block after the one it starts in. Each
# chunk is whole records, parsed as one block of its own whatever its size.
ARROW_BLOCK_SIZE = 2**31 - 1
# Bytes that can put whitespace at a field's edge: a line end only inside quotes.
PADDING = [char.encode() for char in WHITESPACE.replace("\n", '"')]


class Unparsed(NamedTuple):
    """A record quarantined before it has fields."""

    line: int
    lines: int
    reason: Reason
    text: str


@dataclass(frozen=True)
class Batch:
    """Records of one chunk, in file order."""

    fields: pa.Table  # one string column per header column; rows with the right field count
    lines: np.ndarray  # physical line where each row of `fields` starts
    line_counts: np.ndarray  # physical lines each row covers
    bad_utf8: np.ndarray  # bool per row: the record had bytes that are not UTF-8
    unparsed: list[Unparsed]  # wrong field count, unterminated quote
    blank: int
    padded: bool  # a field may have surrounding whitespace; False: trimming changes nothing
    where: str  # the file and the lines of the chunk, for errors


@dataclass
class ReadStats:
    data_lines: int = 0  # physical lines after the header, blank ones included
    blank_lines: int = 0
    bytes_read: int = 0  # the whole file's, once the batches are consumed


def read_batches(
    stream: BinaryIO, source: str, block_size: int = DEFAULT_BLOCK_SIZE
) -> tuple[Header, ReadStats, Iterator[Batch]]:
    """Check the header now; return it with stats that fill in as the batches are consumed."""
    header, rest = read_header(stream, source)
    stats = ReadStats()
    return header, stats, _batches(header, rest, stream, source, stats, block_size)


def _batches(
    header: Header, head: bytes, stream: BinaryIO, source: str, stats: ReadStats, block_size: int
) -> Iterator[Batch]:
    tap = Tap(head, stream, block_size, first_line=header.lines + 1)
    # The tap reads and cuts the next chunk while this one is parsed: the stream is read at
    # most one chunk ahead, so memory follows the chunk size, not the file.
    for chunk in prefetch(tap.next_chunk, "csv-tap"):
        batch = _batch(chunk, header.columns, source)
        stats.data_lines += chunk.lines
        stats.blank_lines += batch.blank
        yield batch
    stats.bytes_read = header.size + tap.bytes_read


def _batch(chunk: Chunk, names: list[str], source: str) -> Batch:
    where = f"{source}: lines {chunk.first_line}-{chunk.first_line + chunk.lines - 1}"
    if chunk.unterminated:
        text = chunk.data.decode().removesuffix("\n").removesuffix("\r")
        record = Unparsed(chunk.first_line, chunk.lines, Reason.UNTERMINATED_QUOTE, text)
        none = np.empty(0, np.int64)
        empty = pa.table({name: pa.array([], pa.string()) for name in names})
        return Batch(empty, none, none, none.astype(bool), [record], 0, False, where)
    table, invalid = _parse(chunk.data, names, where)
    starts, counts = _records(chunk)
    if starts.size != table.num_rows + len(invalid):
        raise ReadError(
            f"{where}: the CSV parser found {table.num_rows + len(invalid)} records where the"
            f" record lexer found {starts.size} (a bug in featurepipe)"
        )
    rows = np.arange(starts.size)
    unparsed, blank = [], 0
    if invalid:
        numbers = np.asarray([number - 1 for number, _ in invalid], np.int64)
        rows = np.setdiff1d(rows, numbers, assume_unique=True)
        for number, (_, text) in zip(numbers.tolist(), invalid, strict=True):
            if text.strip(WHITESPACE):
                line = chunk.first_line + int(starts[number])
                unparsed.append(Unparsed(line, int(counts[number]), Reason.FIELD_COUNT, text))
            else:  # a line of whitespace: pyarrow reads it as a record of one field
                blank += 1
    # pyarrow turns an empty line into a row of empty fields, like a line of bare commas.
    empty = _empty_lines(table, starts[rows], chunk)
    if empty.any():
        blank += int(empty.sum())
        table, rows = table.filter(pa.array(~empty)), rows[~empty]
    bad_utf8 = np.zeros(rows.size, bool)
    if chunk.bad.size:
        ends = chunk.ends if chunk.ends is not None else line_ends(chunk.data, final=True)
        bad_lines = np.searchsorted(ends, chunk.bad)
        bad_records = np.searchsorted(starts + counts - 1, bad_lines)
        bad_utf8 = np.isin(rows, bad_records)
    padded = any(byte in chunk.data for byte in PADDING)
    lines = chunk.first_line + starts[rows]
    return Batch(table, lines, counts[rows], bad_utf8, unparsed, blank, padded, where)


def _parse(data: bytes, names: list[str], where: str) -> tuple[pa.Table, list[tuple[int, str]]]:
    """Whole records as string columns, and the rows whose field count is wrong: (number
    within `data` from 1, text)."""
    # pyarrow drops a BOM at the start of the buffer it parses; an empty line before it keeps
    # it the data it is anywhere but at the start of the file.
    guard = data.startswith(BOM)
    invalid: list[tuple[int, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append((row.number - guard, row.text))
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.py_buffer(b"\n" + data if guard else data),
            read_options=pacsv.ReadOptions(
                column_names=names, use_threads=False, block_size=ARROW_BLOCK_SIZE
            ),
            parse_options=pacsv.ParseOptions(
                newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=on_invalid
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                check_utf8=False,  # the tap has replaced every invalid sequence already
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                null_values=[],
            ),
        )
    except pa.ArrowException as err:
        raise ReadError(f"{where}: the CSV parser failed: {quoted(err)}") from err
    return (table.slice(1) if guard else table), invalid


def _records(chunk: Chunk) -> tuple[np.ndarray, np.ndarray]:
    """Per record of the chunk: the line it starts on (from the chunk's first, 0) and the
    lines it covers."""
    if chunk.closes is None:
        return np.arange(chunk.lines, dtype=np.int64), np.ones(chunk.lines, np.int64)
    last = np.flatnonzero(chunk.closes)
    if chunk.lines > chunk.closes.size:  # the file's last line, without a line end
        last = np.append(last, chunk.lines - 1)
    return np.concatenate(([0], last[:-1] + 1)), np.diff(last, prepend=-1)


def _empty_lines(table: pa.Table, starts: np.ndarray, chunk: Chunk) -> np.ndarray:
    """Per row: it was an empty line (every field empty, and nothing on its line)."""
    empty = np.zeros(table.num_rows, bool)
    if not table.num_rows:
        return empty
    candidates = pc.equal(pc.binary_length(table.column(0)), 0).to_numpy(zero_copy_only=False)
    at = np.flatnonzero(candidates)
    if not at.size:
        return empty
    fields = table.take(pa.array(at))
    for column in fields.columns[1:]:
        candidates[at] &= pc.equal(pc.binary_length(column), 0).to_numpy(zero_copy_only=False)
    at = np.flatnonzero(candidates)
    if not at.size:
        return empty
    arr = np.frombuffer(chunk.data, np.uint8)
    ends = chunk.ends if chunk.ends is not None else line_ends(chunk.data, final=True)
    line = starts[at]
    after = np.concatenate(([-1], ends))[line]  # the line end before the line
    stop = np.concatenate((ends, [arr.size]))[line]  # its own line end, or the end of the file
    length = stop - after - 1  # the line's bytes, a CRLF's CR included
    crlf = np.zeros(at.size, bool)
    check = (line < ends.size) & (length > 0)
    crlf[check] = (arr[stop[check]] == LF) & (arr[stop[check] - 1] == CR)
    empty[at] = length - crlf == 0
    return empty
