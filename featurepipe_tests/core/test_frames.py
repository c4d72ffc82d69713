"""How EventValidation hands a file on: frames of bounded size, rejected rows held back."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from featurepipe.core import validation
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
