"""Chunks may start anywhere a record does: reading in blocks of every size from one byte to
the whole file gives the same records, and the fast path agrees with the reference.

The files hold what once depended on where a chunk began: BOMs at the start of lines and at
the end of the file, lone CRs and CRLFs, stray quotes (with a bound of two line breaks, so
that some close in time and some do not), quoted line breaks, invalid UTF-8, a header of many
lines.
"""

from __future__ import annotations

import io

import pytest

from featurepipe.core import contract
from featurepipe.core.reading import read_batches
from featurepipe_tests.core.support import (
    HEADER,
    SOURCE,
    Trickle,
    assert_same,
    fast,
    pandera_off,
    raw,
    reference,
)

ROW = "2025-11-19T00:00:01Z,{},s1,click,{},US,1,2.5,,10"


def row(user: int, device: str = "ios") -> str:
    return ROW.format(user, device)


BOM = "\ufeff"
FILES = {
    "boms": raw(row(1), BOM + row(2), BOM, row(3), BOM + '"' + row(4), row(5)) + BOM.encode(),
    "line-ends": raw(row(1), row(2, '"a\rb"'), "", row(3), newline="\r")
    + b"\r\n".join(row(n).encode() for n in (4, 5))
    + b"\r\r\n\r",
    "stray-quotes": raw(
        row(1, '"x'), row(2), row(3), row(4), row(5, 'y"'), row(6), row(7, '"z'), row(8, '"w')
    ),
    "quoted-line-breaks": raw(row(1, '"a\nb"'), row(2, '"\r\n\r\n"'), row(3, '"c\r"'))
    + b'2025-11-19T00:00:01Z,"4\n",s1,click,ios,US,1,2.5,,10\n',
    "invalid-utf8": raw(row(1, "\xe9t\xe9"), row(2)).replace("\xe9".encode(), b"\xe9")
    + "é".encode()[:1],
    "header-of-many-lines": raw(
        row(1), BOM + row(2), header=HEADER.replace("device", '"de\r\nvi\rce"')
    ),
}


def records(data: bytes, block_size: int, step: int | None = None) -> tuple:
    stream = io.BytesIO(data) if step is None else Trickle(data, step)
    _, stats, batches = read_batches(stream, SOURCE, block_size)
    rows, unparsed, blank = [], [], 0
    for batch in batches:
        rows += zip(
            batch.lines.tolist(),
            batch.line_counts.tolist(),
            batch.fields.to_pylist(),
            batch.bad_utf8.tolist(),
            strict=True,
        )
        unparsed += batch.unparsed
        blank += batch.blank
    return rows, unparsed, blank, stats.data_lines, stats.blank_lines, stats.bytes_read


@pytest.fixture(autouse=True)
def _small_bound(monkeypatch):
    monkeypatch.setattr(contract, "MAX_QUOTED_LINE_BREAKS", 2)


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_block_size_reads_the_same_records(name: str):
    data = FILES[name]
    whole = records(data, 1 << 20)
    assert whole[0] and whole[3] >= 2  # the file is read, not refused
    for block_size in range(1, len(data) + 2):
        assert records(data, block_size) == whole, block_size
    for step in (1, 2, 3):
        assert records(data, 8, step) == whole


@pytest.mark.parametrize("name", sorted(FILES))
def test_the_fast_path_agrees_with_the_reference(name: str):
    with pandera_off():
        assert_same(fast(FILES[name]), reference(FILES[name]))
        assert_same(fast(FILES[name], block_size=1), reference(FILES[name]))
