"""reading.tap: chunks of whole records, read at most a chunk ahead, unterminated quotes cut."""

from __future__ import annotations

import io

import pytest

from featurepipe.core import contract
from featurepipe.core.reading import read_batches, read_header
from featurepipe.core.reading.tap import Chunk, Tap
from featurepipe_tests.core.support import SOURCE, raw


def rows(n: int) -> list[str]:
    return [f"2025-11-19T00:00:{i % 60:02d}Z,{i},s{i},click,web,DE,0,1.5,,3" for i in range(n)]


def chunks(data: bytes, block_size: int) -> list[Chunk]:
    stream = io.BytesIO(data)
    header, rest = read_header(stream, SOURCE)
    tap = Tap(rest, stream, block_size, first_line=header.lines + 1)
    return list(iter(tap.next_chunk, None))


def test_the_stream_is_read_at_most_a_chunk_ahead_of_the_batches():
    """Memory follows the block size: the file is not read ahead into memory."""
    block = 4096
    stream = io.BytesIO(raw(*rows(20_000)))
    _, _, batches = read_batches(stream, SOURCE, block_size=block)
    positions = [stream.tell() for _ in batches]
    assert len(positions) > 100
    # The header read takes up to 64 KiB; past it, the batch being taken and one more chunk.
    assert all(p <= max(64 << 10, (k + 2) * block) for k, p in enumerate(positions))
    assert positions[-1] == len(stream.getvalue())


def test_a_stray_quote_holds_back_at_most_the_bound_of_lines():
    """Before a quote is known to be unterminated, the tap reads MAX_QUOTED_LINE_BREAKS lines
    past it, and no more: not the rest of the file."""
    lines = rows(20_000)
    lines[10] += ',"'  # a quote that never closes
    data = raw(*lines)
    line_bytes = len(lines[0]) + 1
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(contract, "MAX_QUOTED_LINE_BREAKS", 1000)
        stream = io.BytesIO(data)
        _, _, batches = read_batches(stream, SOURCE, block_size=4096)
        positions = [(stream.tell(), batch) for batch in batches]
    cut = next(k for k, (_, b) in enumerate(positions) if b.unparsed)
    assert positions[cut][1].unparsed[0][:3] == (12, 1, "unterminated_quote")
    assert positions[cut][0] <= (64 << 10) + 1000 * line_bytes * 2 + 2 * 4096
    assert positions[cut][0] < len(data) / 2


@pytest.mark.parametrize("block_size", [1, 7, 64, 1 << 20])
def test_chunks_are_whole_records_each_with_its_own_lines(block_size: int):
    data = raw(
        "a,b",
        '2025-11-19T00:00:01Z,7,s1,click,"x\ny",US,1,2.5,,10',
        "",
        '2025-11-19T00:00:01Z,\xe9,s1,click,ios,"US',  # a quote that never closes
        "2025-11-19T00:00:01Z,8,s1,click,ios,US,1,2.5,,10",
    ).replace("\xe9".encode(), b"\xe9")  # and a byte that is not UTF-8
    got = chunks(data, block_size)
    assert b"".join(c.data for c in got) == data[len(raw()) :].replace(b"\xe9", "\ufffd".encode())
    line = 2
    for chunk in got:
        assert chunk.first_line == line
        assert chunk.lines == len(chunk.data.splitlines())
        assert all(0 <= at < len(chunk.data) for at in chunk.bad.tolist())
        line += chunk.lines
    assert line == 2 + 6
    (cut_off,) = [c for c in got if c.unterminated]
    assert (cut_off.first_line, cut_off.lines) == (6, 1)
    assert cut_off.data.startswith(b"2025-11-19T00:00:01Z,\xef\xbf\xbd,")
    assert sum(len(c.bad) for c in got) == 1
