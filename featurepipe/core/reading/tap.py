"""Cut a byte stream into chunks of whole records, invalid UTF-8 repaired on the way, and a
record with an unterminated quote cut out as a chunk of its own."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from featurepipe.core import contract
from featurepipe.core.reading.records import count_lines, split_records
from featurepipe.core.reading.utf8 import NONE, complete_prefix, repair


@dataclass(frozen=True)
class Chunk:
    data: bytes  # whole records; or, when `unterminated`, one record cut at its quote's line
    first_line: int  # physical line of data's first byte
    lines: int  # physical lines in data
    bad: np.ndarray  # offsets of the U+FFFD that replaced invalid UTF-8, sorted
    ends: np.ndarray | None  # offsets of the line ends, when the lexer needed them
    closes: np.ndarray | None  # per line end: it ends a record; None: every one does
    unterminated: bool = False


class Tap:
    """Reads a stream a chunk at a time; `next_chunk()` until it gives None.

    What is kept between chunks is the start of a record not yet complete, so memory follows
    the chunk size, or the longest record (at most MAX_QUOTED_LINE_BREAKS lines of quotes).
    """

    def __init__(self, head: bytes, rest: BinaryIO, chunk_size: int, first_line: int):
        self._head, self._rest, self._chunk_size = head, rest, chunk_size
        self._max_breaks = contract.MAX_QUOTED_LINE_BREAKS
        self._ready: deque[Chunk] = deque()
        self._pending = b""  # the start of a record not yet complete
        self._bad = NONE  # replacements in _pending
        self._carry = b""  # an incomplete UTF-8 sequence at the end of the last read
        self._eof = False
        self._line = first_line  # of _pending's first byte
        self.bytes_read = 0

    def next_chunk(self) -> Chunk | None:
        while not self._ready and not self._eof:
            self._fill()
        return self._ready.popleft() if self._ready else None

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
            cut = complete_prefix(data)
            data, self._carry = data[:cut], data[cut:]
        if data:
            data, bad = repair(data)
            if bad.size:
                self._bad = np.concatenate([self._bad, bad + len(self._pending)])
            self._pending += data
        while self._pending:
            split = split_records(self._pending, self._eof, self._max_breaks)
            if split.cut:
                self._take(split.cut, split.ends, split.closes)
            if split.stop == split.cut:
                break
            self._take(split.stop - split.cut, None, None, unterminated=True)

    def _take(
        self,
        size: int,
        ends: np.ndarray | None,
        closes: np.ndarray | None,
        unterminated: bool = False,
    ) -> None:
        data, self._pending = self._pending[:size], self._pending[size:]
        inside = int(np.searchsorted(self._bad, size))
        bad, self._bad = self._bad[:inside], self._bad[inside:] - size
        if ends is None:
            lines = count_lines(data)
        else:
            inside = int(np.searchsorted(ends, size))
            ends = ends[:inside]
            closes = closes[:inside] if closes is not None else None
            after_last_end = int(ends[-1]) + 1 if inside else 0
            lines = inside + (size > after_last_end)  # the file's last line, without its end
        self._ready.append(Chunk(data, self._line, lines, bad, ends, closes, unterminated))
        self._line += lines


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
