"""How EventValidation hands a file on: frames of bounded size, rejected rows held back."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from featurepipe.core import reading, validation
from featurepipe.core.reading import read_batches
from featurepipe.core.validation import EventValidation
from featurepipe_tests.core.support import SOURCE, raw, validate


def rows(n: int) -> list[str]:
    """n rows; every fifth has no user_id and is rejected."""
    return [
        f"2025-11-19T00:00:{i % 60:02d}Z,{'' if i % 5 == 0 else i},s{i},click,web,DE,0,1.5,,3"
        for i in range(n)
    ]


@pytest.fixture
def small_frames(monkeypatch):
    monkeypatch.setattr(validation, "FRAME_ROWS", 10)


def test_rejected_rows_are_held_back_until_a_frame_is_full(small_frames):
    data = raw(*rows(200))
    frames = list(EventValidation(io.BytesIO(data), SOURCE, block_size=256).batches())
    rejected_sizes = [len(r) for _, r in frames if len(r)]
    assert len(frames) > 5
    # Whole frames of at least FRAME_ROWS, except what is left at the end of the file.
    assert all(size >= 10 for size in rejected_sizes[:-1])
    assert len(rejected_sizes) < len(frames)
    assert sum(rejected_sizes) == 40


def test_frames_add_up_to_the_whole_file(small_frames):
    data = raw(*rows(200))
    validation_ = EventValidation(io.BytesIO(data), SOURCE, block_size=256)
    frames = list(validation_.batches())
    events = pd.concat([e for e, _ in frames], ignore_index=True)
    rejected = pd.concat([r for _, r in frames], ignore_index=True)
    whole = validate(data)
    pd.testing.assert_frame_equal(events, whole.events)
    pd.testing.assert_frame_equal(rejected, whole.rejected)
    summary = validation_.summary()
    assert (summary.valid, summary.quarantined) == (160, 40)
    assert rejected["line"].tolist() == [2 + i for i in range(0, 200, 5)]


def test_rejected_rows_left_at_the_end_come_in_a_last_frame(small_frames):
    data = raw(*rows(6))  # one frame of events, one rejected row held back
    frames = list(EventValidation(io.BytesIO(data), SOURCE).batches())
    assert [(len(e), len(r)) for e, r in frames] == [(4, 0), (0, 2)]


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


def test_a_chunk_carries_only_the_blank_lines_near_it():
    """Blank lines are counted once each, and what the tap keeps of them stays chunk-sized."""
    lines = []
    for row in rows(3000):
        lines += [row, "", "   "]
    data = raw(*lines)
    day = validate(data, block_size=1024)
    assert day.summary.blank_lines == 6000
    assert day.summary.valid + day.summary.quarantined == 3000
    stream = io.BytesIO(data)
    _, rest = reading.read_header(stream, SOURCE)
    tap = reading._Tap(rest, stream, 1024)
    chunks = list(iter(tap.next_chunk, None))
    assert len(chunks) > 50
    # Each chunk holds at most its own empty lines and those of the record still pending.
    assert all(c.empty_lines.size <= c.data.count(b"\n") + 1 for c in chunks)


@pytest.mark.parametrize(
    "padded_row",
    [
        "2025-11-19T00:00:00Z, 7 ,padded,click,web,DE,0,1.5,,3",  # spaces
        "2025-11-19T00:00:00Z,\t7,padded,click,web,DE,0,1.5,,3",  # a tab
        '2025-11-19T00:00:00Z,"\n7",padded,click,web,DE,0,1.5,,3',  # a quoted line feed
    ],
)
def test_values_are_trimmed_in_a_chunk_whose_only_padding_is_one_value(padded_row: str):
    """Chunks with no whitespace or quote byte skip trimming; any other chunk is trimmed."""
    data = raw(*rows(400), padded_row, *rows(400))
    stream = io.BytesIO(data)
    _, _, batches = read_batches(stream, SOURCE, block_size=1024)
    padded = [b.padded for b in batches]
    assert padded.count(True) == 1 and len(padded) > 20
    events = validate(data, block_size=1024).events
    assert events.loc[events["session_id"] == "padded", "user_id"].tolist() == [7]
