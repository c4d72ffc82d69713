"""reading.header: the first record, BOM dropped, at most MAX_HEADER_BYTES, named errors."""

from __future__ import annotations

import io

import pytest

from featurepipe.core.contract import BOM, MAX_HEADER_BYTES, HeaderError
from featurepipe.core.reading import read_header
from featurepipe.core.reading.header import READ_SIZE
from featurepipe_tests.core.support import HEADER, SOURCE, Trickle, reference

ROW = b"2025-11-19T00:00:01Z,7,s1,click,ios,US,1,2.5,,10\n"


@pytest.mark.parametrize(
    "header",
    [
        HEADER.encode() + b"\n",
        HEADER.encode() + b"\r\n",
        HEADER.encode() + b"\r",
        HEADER.replace("device", '"dev\r\nice"').encode() + b"\n",  # an unknown name
        HEADER.replace("device", '"\ndevice\r"').encode() + b"\r\n",
        HEADER.encode(),  # the whole file
    ],
)
@pytest.mark.parametrize("step", [None, 1, 5])
def test_the_header_is_one_record(header: bytes, step: int | None):
    data = BOM + header + (ROW if header.endswith((b"\n", b"\r")) else b"")
    stream = io.BytesIO(data) if step is None else Trickle(data, step)
    parsed, rest = read_header(stream, SOURCE)
    assert parsed.size == len(BOM) + len(header)
    assert parsed.lines == len(header.splitlines())
    assert rest + stream.read() == data[parsed.size :]


def _header_of(size: int, line_end: bytes = b"\n") -> bytes:
    """A valid header record of exactly `size` bytes, its line end included."""
    pad = size - len(HEADER) - len(",") - len(line_end)
    return f"{HEADER},{'n' * pad}".encode() + line_end


@pytest.mark.parametrize("line_end", [b"\n", b"\r\n", b"\r"])
def test_a_header_of_the_limit_is_read_one_byte_more_is_refused(line_end: bytes):
    data = BOM + _header_of(MAX_HEADER_BYTES, line_end) + ROW.replace(b"\n", b",x\n")
    header, _ = read_header(io.BytesIO(data), SOURCE)
    assert header.size == len(BOM) + MAX_HEADER_BYTES
    assert reference(data).lines == [2]  # one extra column, unknown
    data = BOM + _header_of(MAX_HEADER_BYTES + 1, line_end) + ROW
    for run in (lambda d: read_header(io.BytesIO(d), SOURCE), reference):
        with pytest.raises(HeaderError, match="line 1: the header is longer than 1,048,576 bytes"):
            run(data)


def test_a_header_too_long_is_not_read_to_the_end_of_the_file():
    stream = io.BytesIO(b"event_time," + b"n" * (20 * MAX_HEADER_BYTES))
    with pytest.raises(HeaderError, match="longer than"):
        read_header(stream, SOURCE)
    assert stream.tell() <= MAX_HEADER_BYTES + 2 * READ_SIZE
