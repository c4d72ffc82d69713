"""Where lines and records end in CSV bytes, found with numpy, never a Python loop per byte.

A line ends at LF, CRLF or a lone CR. A record ends at a line end outside quotes. Quotes are
lexed as pyarrow and Python's csv module read them: a quote opens a quoted value only at the
start of a field; inside one, two quotes stand for a quote and a single quote closes it, and
quotes after that, up to the next comma or line end, are plain text. So only runs of an odd
number of quotes change the state: at the start of a field such a run flips it (opens or
closes), anywhere else it leaves the state unquoted (it closes a quoted value or is text).

A quote that does not close within MAX_QUOTED_LINE_BREAKS line breaks, or never, is
unterminated: the record it is in is cut at the end of the quote's line, and the next record
starts on the line after.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LF, CR, QUOTE, COMMA = b"\n"[0], b"\r"[0], b'"'[0], b","[0]


def has_lone_cr(data: bytes, final: bool) -> bool:
    """A CR that is not part of a CRLF. A CR at the end of data counts only when data is final:
    otherwise the next byte may be its LF."""
    if b"\r" not in data:
        return False
    arr = np.frombuffer(data, np.uint8)
    followed = (arr[:-1] == CR) & (arr[1:] != LF)
    return bool(followed.any() or (final and arr[-1] == CR))


def line_ends(data: bytes, final: bool) -> np.ndarray:
    """Offsets of the last byte of each line end (the LF of a CRLF)."""
    arr = np.frombuffer(data, np.uint8)
    ends = np.flatnonzero(arr == LF)
    if not has_lone_cr(data, final):
        return ends
    crs = np.flatnonzero(arr == CR)
    lone = np.full(crs.size, final)
    inside = crs + 1 < arr.size
    lone[inside] = arr[crs[inside] + 1] != LF
    return np.sort(np.concatenate([ends, crs[lone]]))


def count_lines(data: bytes) -> int:
    """Physical lines in `data`, which is final: a last line without a line end counts."""
    if not data:
        return 0
    if has_lone_cr(data, final=True):
        ends = line_ends(data, final=True).size
    else:
        ends = int(np.count_nonzero(np.frombuffer(data, np.uint8) == LF))
    return ends + (data[-1] not in (LF, CR))


@dataclass(frozen=True)
class Lexed:
    ends: np.ndarray  # line ends, as line_ends() gives them
    closes: np.ndarray  # per line end: outside quotes, so it ends a record
    opens: np.ndarray  # offsets of the quotes that open a quoted value
    shuts: np.ndarray  # per opening: offset of the quote that closes it; -1: none in data


def lex(data: bytes, final: bool) -> Lexed:
    """Line ends and quoted values of `data`, which starts a record."""
    arr = np.frombuffer(data, np.uint8)
    ends = line_ends(data, final)
    quotes = np.flatnonzero(arr == QUOTE)
    first = np.ones(quotes.size, bool)
    first[1:] = np.diff(quotes) > 1
    odd = np.diff(np.append(np.flatnonzero(first), quotes.size)) % 2 == 1
    runs = quotes[first][odd]
    before = arr[np.maximum(runs - 1, 0)]
    flips = (runs == 0) | (before == COMMA) | (before == LF) | (before == CR)
    # Inside quotes after each run: flips since the last run that reset the state to unquoted.
    index = np.arange(runs.size)
    last_reset = np.maximum.accumulate(np.where(flips, -1, index))
    count = np.cumsum(flips)
    since_reset = count - np.where(last_reset >= 0, count[np.maximum(last_reset, 0)], 0)
    quoted = since_reset % 2 == 1
    closes = np.ones(ends.size, bool)
    if runs.size:
        run = np.searchsorted(runs, ends, side="right") - 1
        closes = (run < 0) | ~quoted[np.maximum(run, 0)]
    # Inside quotes, the next odd run closes whatever it is.
    opening = np.flatnonzero(quoted)
    shut = opening + 1
    shuts = np.where(shut < runs.size, runs[np.minimum(shut, runs.size - 1)], -1)
    return Lexed(ends, closes, runs[opening], shuts)


@dataclass(frozen=True)
class Split:
    cut: int  # data[:cut] is whole records
    stop: int  # data[cut:stop] is a record cut at an unterminated quote; stop == cut: none
    ends: np.ndarray | None  # line ends, when they were needed
    closes: np.ndarray | None  # per line end, whether it ends a record; None: every one does


def split_records(data: bytes, final: bool, max_breaks: int) -> Split:
    """Whole records at the start of `data` (which starts a record), and the unterminated
    record after them if one follows. Not final: a record still open may need more data."""
    quoted = b'"' in data
    if not quoted and not has_lone_cr(data, final):  # then every line feed ends a record
        cut = len(data) if final else data.rfind(b"\n") + 1
        return Split(cut, cut, None, None)
    if not quoted:
        ends = line_ends(data, final)
        cut = len(data) if final else int(ends[-1]) + 1 if ends.size else 0
        return Split(cut, cut, ends, None)
    lexed = lex(data, final)
    ends, closes = lexed.ends, lexed.closes
    first = np.searchsorted(ends, lexed.opens)  # the line end of each opening quote's line
    last = np.where(lexed.shuts >= 0, np.searchsorted(ends, lexed.shuts), ends.size)
    too_long = last - first > max_breaks
    if final:
        too_long |= lexed.shuts < 0
    if too_long.any():
        at = int(np.argmax(too_long))
        line_end = int(first[at])
        stop = int(ends[line_end]) + 1 if line_end < ends.size else len(data)
        record_ends = ends[:line_end][closes[:line_end]]
        cut = int(record_ends[-1]) + 1 if record_ends.size else 0
        return Split(cut, stop, ends, closes)
    if final:
        return Split(len(data), len(data), ends, closes)
    record_ends = ends[closes]
    cut = int(record_ends[-1]) + 1 if record_ends.size else 0
    return Split(cut, cut, ends, closes)


def first_record_end(data: bytes, final: bool) -> int | None:
    """Length of the first record of `data` with its line end; None when it does not end in
    `data`: more is needed or, when final, a quote in it never closes."""
    if b'"' not in data and not has_lone_cr(data, final):
        end = data.find(b"\n")
        return end + 1 if end >= 0 else len(data) if final else None
    lexed = lex(data, final)
    record_ends = lexed.ends[lexed.closes]
    if record_ends.size:
        return int(record_ends[0]) + 1
    if final and (lexed.shuts >= 0).all():  # the end of the file ends it
        return len(data)
    return None
