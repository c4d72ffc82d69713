"""Stream a raw CSV object into Arrow batches of string fields, each row with its source line.

pyarrow parses the CSV (RFC 4180, quoted commas and line breaks). Around it this module adds
what pyarrow does not give: physical line numbers for every record, blank-line accounting,
rows with a wrong field count kept with their text, and invalid UTF-8 reported per line
instead of failing the file.
"""

from __future__ import annotations

import codecs
import csv
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from featurepipe.core.contract import WHITESPACE, EmptyFileError, HeaderError, check_header
from featurepipe.core.prefetch import prefetch

BOM = b"\xef\xbb\xbf"
REPLACEMENT = "\ufffd".encode()
DEFAULT_BLOCK_SIZE = 2 << 20  # bytes read at a time; two chunks are in memory at most
MAX_HEADER_BYTES = 1 << 20
# pyarrow fails on a record that does not end in the block after the one it starts in. Each
# chunk is whole records, parsed as one block of its own whatever its size.
ARROW_BLOCK_SIZE = 2**31 - 1
QUOTE, COMMA, LF, CR = b'"'[0], b","[0], b"\n"[0], b"\r"[0]
# Bytes that can put whitespace at a field's edge: a line feed only inside quotes.
PADDING = [char.encode() for char in WHITESPACE.replace("\n", '"')]


@dataclass(frozen=True)
class Header:
    columns: list[str]
    absent: list[str]  # known optional columns the file does not have
    extra: list[str]  # columns the contract does not know (schema drift)


@dataclass(frozen=True)
class Batch:
    """Records of one parsed block, in file order."""

    fields: pa.Table  # one string column per header column; rows with the right field count
    lines: np.ndarray  # physical line where each row of `fields` starts
    bad_utf8: np.ndarray  # bool per row: the record had bytes that are not UTF-8
    malformed_lines: list[int]  # rows whose field count differs from the header's
    malformed_texts: list[str]
    blank: int
    padded: bool  # a field may have surrounding whitespace; False: trimming changes nothing


@dataclass
class ReadStats:
    data_lines: int = 0  # records after the header, blank ones included
    blank_lines: int = 0
    bytes_read: int = 0


def read_header(stream: BinaryIO, source: str) -> tuple[Header, bytes]:
    """Read and check the header line; return it with the bytes read past it."""
    head = b""
    while b"\n" not in head and len(head) < MAX_HEADER_BYTES:
        chunk = stream.read(64 << 10)
        if not chunk:
            break
        head += chunk
    if head.startswith(BOM):
        head = head[len(BOM) :]
    if not head:
        raise EmptyFileError(f"{source}: the file is empty (0 bytes); expected at least a header")
    line, _, rest = head.partition(b"\n")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as err:
        raise HeaderError(f"{source}: line 1: the header is not UTF-8 ({err.reason})") from None
    names = [name.strip(WHITESPACE) for name in next(csv.reader([text.rstrip("\r")]), [])]
    absent, extra = check_header(names, source)
    return Header(names, absent, extra), rest


@dataclass(frozen=True)
class _Chunk:
    data: bytes  # whole records
    empty_lines: np.ndarray  # empty lines from the chunk's first line on, as far as read
    bad_lines: np.ndarray  # lines with invalid UTF-8, likewise
    saw_quote: bool  # a quote so far: only then can a field hold a line break
    padded: bool  # whitespace other than record ends, or a quote (a quoted line break)


class _Tap:
    """Cuts the stream into chunks of whole records, noting empty lines and lines with
    invalid UTF-8 on the way.

    Invalid byte sequences are replaced by U+FFFD so pyarrow never sees them; the lines
    they were on are remembered and those rows are quarantined.
    """

    def __init__(self, head: bytes, rest: BinaryIO, chunk_size: int):
        self._head, self._rest, self._chunk_size = head, rest, chunk_size
        self._out = b""  # whole records, ready for pyarrow
        self._pending = b""  # the start of a record not yet complete
        self._carry = b""  # an incomplete UTF-8 sequence at the end of the last chunk
        self._eof = False
        self.next_line = 2  # physical line the next byte belongs to (line 1 is the header)
        self._cur_len = 0  # bytes of the current line seen so far
        self._cur_first = -1
        self.empty_lines: list[np.ndarray] = []
        self.bad_lines: list[np.ndarray] = []
        self.bytes_read = 0
        self.saw_quote = False

    def next_chunk(self) -> _Chunk | None:
        """The next whole records; None at the end of the stream."""
        while not self._out and not self._eof:
            self._fill()
        if not self._out:
            return None
        data, self._out = self._out, b""
        empty, bad = _joined(self.empty_lines), _joined(self.bad_lines)
        # The next chunk starts where the record still pending does: the lines before it
        # matter to this chunk only, so what is kept stays the size of a chunk.
        start = self.next_line - self._pending.count(b"\n")
        self.empty_lines, self.bad_lines = [empty[empty >= start]], [bad[bad >= start]]
        padded = any(byte in data for byte in PADDING)
        return _Chunk(data, empty, bad, self.saw_quote, padded)

    def _fill(self) -> None:
        # A record longer than a chunk: take more at a time, so it is lexed O(1) times a byte.
        size = max(self._chunk_size, len(self._pending))
        if self._head:  # what the header read took past the header, a chunk at a time too
            data, self._head = self._head[:size], self._head[size:]
        else:
            data = _read_full(self._rest, size)
        self.bytes_read += len(data)
        if not data:
            self._eof = True
            data, self._carry = self._carry, b""
        else:
            data = self._carry + data
            cut = _complete_utf8_prefix(data)
            data, self._carry = data[:cut], data[cut:]
        if data:
            data, bad = _sanitize_utf8(data)
            self._scan(data, bad)
            self.saw_quote = self.saw_quote or b'"' in data
            self._pending += data
        cut = len(self._pending) if self._eof else _whole_records(self._pending)
        self._out += self._pending[:cut]
        self._pending = self._pending[cut:]

    def _scan(self, data: bytes, bad: list[int]) -> None:
        arr = np.frombuffer(data, np.uint8)
        nl = np.flatnonzero(arr == 10)
        if bad:
            self.bad_lines.append(self.next_line + np.searchsorted(nl, np.asarray(bad)))
        if nl.size == 0:
            if self._cur_len == 0 and arr.size:
                self._cur_first = int(arr[0])
            self._cur_len += arr.size
            return
        first_len = self._cur_len + int(nl[0])
        first_byte = self._cur_first if self._cur_len else (int(arr[0]) if nl[0] else -1)
        empty = [self.next_line] if first_len == 0 or (first_len == 1 and first_byte == 13) else []
        if empty:
            self.empty_lines.append(np.asarray(empty))
        lengths = np.diff(nl) - 1
        inner = (lengths == 0) | ((lengths == 1) & (arr[nl[:-1] + 1] == 13))
        if inner.any():
            self.empty_lines.append(self.next_line + 1 + np.flatnonzero(inner))
        self.next_line += nl.size
        self._cur_len = arr.size - int(nl[-1]) - 1
        self._cur_first = int(arr[nl[-1] + 1]) if self._cur_len else -1


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty(0, np.int64)


def _read_full(stream: BinaryIO, size: int) -> bytes:
    """`size` bytes, fewer only at the end of the stream: a short read is not the end."""
    parts, got = [], 0
    while got < size:
        part = stream.read(size - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _whole_records(data: bytes) -> int:
    """Length of the longest prefix of `data` that is whole records; `data` starts a record.

    Lexes quotes as pyarrow does: a quote opens a quoted field only at the start of a field;
    inside one, two quotes stand for a quote and a single quote closes it, and quotes after
    that, up to the next comma or line break, are plain characters. So only runs of an odd
    number of quotes change the state: at the start of a field such a run flips it (opens or
    closes), elsewhere it closes a quoted field or is plain text. A line feed ends a record
    when it is outside quotes.
    """
    if b'"' not in data:  # then every line feed ends a record
        return data.rfind(b"\n") + 1
    arr = np.frombuffer(data, np.uint8)
    feeds = np.flatnonzero(arr == LF)
    if feeds.size == 0:
        return 0
    quotes = np.flatnonzero(arr == QUOTE)
    first = np.ones(quotes.size, bool)
    first[1:] = np.diff(quotes) > 1
    starts = quotes[first]
    odd = np.diff(np.append(np.flatnonzero(first), quotes.size)) % 2 == 1
    starts = starts[odd]
    if starts.size == 0:
        return int(feeds[-1]) + 1
    before = arr[np.maximum(starts - 1, 0)]
    flips = (starts == 0) | (before == COMMA) | (before == LF) | (before == CR)
    index = np.arange(starts.size)
    last_reset = np.maximum.accumulate(np.where(flips, -1, index))
    count = np.cumsum(flips)
    since_reset = count - np.where(last_reset >= 0, count[np.maximum(last_reset, 0)], 0)
    quoted_after = since_reset % 2 == 1  # inside a quoted field after each run
    run = np.searchsorted(starts, feeds, side="right") - 1
    ends = feeds[(run < 0) | ~quoted_after[np.maximum(run, 0)]]
    return int(ends[-1]) + 1 if ends.size else 0


def _complete_utf8_prefix(data: bytes) -> int:
    """Length of `data` without a multi-byte character cut off at its end."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return len(data)
        if byte >= 0xC0:
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) if need <= back else len(data) - back
    return len(data)


def _sanitize_utf8(data: bytes) -> tuple[bytes, list[int]]:
    """Replace invalid UTF-8 with U+FFFD; return the new bytes and where replacements stand."""
    try:
        if not data.isascii():  # ASCII is UTF-8; decoding would build a string to throw away
            data.decode("utf-8")
        return data, []
    except UnicodeDecodeError:
        pass
    # One decoding pass that notes each invalid span: retrying the rest of the data after
    # every error would take quadratic time on a file in another encoding.
    _invalid.spans = spans = []
    text = data.decode("utf-8", _NOTE_INVALID)
    starts, ends = np.asarray(spans, np.int64).T
    grown = np.cumsum(len(REPLACEMENT) - (ends - starts))  # each span becomes U+FFFD
    bad = starts + np.concatenate(([0], grown[:-1]))
    return text.encode("utf-8"), bad.tolist()


class _InvalidSpans(threading.local):
    spans: list[tuple[int, int]]


_invalid = _InvalidSpans()
_NOTE_INVALID = "featurepipe.note_invalid_utf8"


def _note_invalid(err: UnicodeError) -> tuple[str, int]:
    _invalid.spans.append((err.start, err.end))
    return "\ufffd", err.end


codecs.register_error(_NOTE_INVALID, _note_invalid)


def read_batches(
    stream: BinaryIO, source: str, block_size: int = DEFAULT_BLOCK_SIZE
) -> tuple[Header, ReadStats, Iterator[Batch]]:
    """Check the header now; return it with stats that fill in as the batches are consumed."""
    header, rest = read_header(stream, source)
    stats = ReadStats()
    return header, stats, _batches(header, rest, stream, stats, block_size)


def _batches(
    header: Header, head: bytes, stream: BinaryIO, stats: ReadStats, block_size: int
) -> Iterator[Batch]:
    tap = _Tap(head, stream, block_size)
    numbering = _LineNumbering()
    first = 1  # record number of the next chunk's first record (1 = first after the header)
    # The tap reads and cuts the next chunk while this one is parsed: the stream is read at
    # most one chunk ahead, so memory follows the chunk size, not the file.
    for chunk in prefetch(tap.next_chunk, "csv-tap"):
        table, invalid = _parse(chunk.data, header.columns)
        taken = [(first - 1 + number, text) for number, text in invalid]
        numbers = _valid_record_numbers(first, table.num_rows, [n for n, _ in taken])
        first += table.num_rows + len(taken)
        for number, text in taken:
            numbering.add(number, text.count("\n"))
        if table.num_rows and chunk.saw_quote:
            numbering.add_many(numbers, _line_breaks_per_row(table))
        yield _finish_batch(table, numbers, taken, numbering, chunk, stats)
    stats.bytes_read = tap.bytes_read


def _parse(data: bytes, names: list[str]) -> tuple[pa.Table, list[tuple[int, str]]]:
    """Whole records as string columns, and the rows whose field count is wrong: (number
    within `data` from 1, text)."""
    invalid: list[tuple[int, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append((row.number, row.text))
        return "skip"

    table = pacsv.read_csv(
        pa.py_buffer(data),
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
    return table, invalid


def _valid_record_numbers(first: int, n: int, invalid_numbers: list[int]) -> np.ndarray:
    """The first `n` record numbers from `first` on that are not invalid rows."""
    if not invalid_numbers:
        return np.arange(first, first + n, dtype=np.int64)
    candidates = np.arange(first, first + n + len(invalid_numbers), dtype=np.int64)
    return np.setdiff1d(candidates, np.asarray(invalid_numbers, np.int64), assume_unique=True)[:n]


def _line_breaks_per_row(table: pa.Table) -> np.ndarray | None:
    """Line breaks inside each row's quoted fields, or None when there are none."""
    counts = None
    for column in table.columns:
        if pc.any(pc.match_substring(column, "\n")).as_py():
            per_row = pc.count_substring(column, "\n").to_numpy(zero_copy_only=False)
            counts = per_row if counts is None else counts + per_row
    return counts


class _LineNumbering:
    """Maps record numbers to physical lines: a record starts after the line breaks of all
    earlier records, including those inside quoted fields."""

    def __init__(self):
        self._known = np.empty(0, np.int64)  # numbers of records holding line breaks, sorted
        self._cumulative = np.empty(0, np.int64)  # line breaks up to and including each
        self._new: list[tuple[np.ndarray, np.ndarray]] = []

    def add(self, number: int, breaks: int) -> None:
        if breaks:
            self._new.append((np.asarray([number], np.int64), np.asarray([breaks], np.int64)))

    def add_many(self, numbers: np.ndarray, breaks: np.ndarray | None) -> None:
        if breaks is not None:
            keep = breaks > 0
            self._new.append((numbers[keep], breaks[keep].astype(np.int64)))

    def lines(self, numbers: np.ndarray) -> np.ndarray:
        if self._new:  # merge what was added since the last call, once
            extra = np.diff(self._cumulative, prepend=0)
            known = np.concatenate([self._known, *(n for n, _ in self._new)])
            extra = np.concatenate([extra, *(e for _, e in self._new)])
            order = np.argsort(known, kind="stable")
            self._known, self._cumulative = known[order], np.cumsum(extra[order])
            self._new = []
        lines = numbers + 1  # line 1 is the header
        if self._known.size:
            before = np.searchsorted(self._known, numbers, side="left")
            lines = lines + np.where(before > 0, self._cumulative[np.maximum(before - 1, 0)], 0)
        return lines


def _finish_batch(
    table: pa.Table,
    numbers: np.ndarray,
    taken: list[tuple[int, str]],
    numbering: _LineNumbering,
    chunk: _Chunk,
    stats: ReadStats,
) -> Batch:
    empty_lines, bad_lines = chunk.empty_lines, chunk.bad_lines
    malformed = [(number, text) for number, text in taken if text.strip(WHITESPACE)]
    blank = len(taken) - len(malformed)
    malformed_numbers = np.asarray([number for number, _ in malformed], np.int64)
    malformed_lines = numbering.lines(malformed_numbers).tolist()
    malformed_texts = [text for _, text in malformed]
    lines = numbering.lines(numbers) if numbers.size else np.empty(0, np.int64)
    # pyarrow turns an empty line into a row of empty fields, like a line of bare commas:
    # a row that starts on an empty line and has only empty fields is a blank line.
    on_empty = np.flatnonzero(np.isin(lines, empty_lines))
    if on_empty.size:
        candidates = table.take(pa.array(on_empty))
        all_empty = np.ones(on_empty.size, bool)
        for column in candidates.columns:
            all_empty &= pc.equal(pc.binary_length(column), 0).to_numpy(zero_copy_only=False)
        is_blank = np.zeros(table.num_rows, bool)
        is_blank[on_empty[all_empty]] = True
        blank += int(is_blank.sum())
        if is_blank.any():
            table, lines = table.filter(pa.array(~is_blank)), lines[~is_blank]
    bad_utf8 = np.zeros(table.num_rows, bool)
    if bad_lines.size:
        breaks = _line_breaks_per_row(table)
        last = lines + (breaks if breaks is not None else 0)
        bad_utf8 = np.searchsorted(bad_lines, lines, "left") < np.searchsorted(
            bad_lines, last, "right"
        )
    stats.data_lines += len(numbers) + len(taken)
    stats.blank_lines += blank
    return Batch(table, lines, bad_utf8, malformed_lines, malformed_texts, blank, chunk.padded)
