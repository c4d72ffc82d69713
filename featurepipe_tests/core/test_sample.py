"""sample.generate_day: clean lines pass the contract, each malformed line is quarantined."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from featurepipe.core.sample import HEADER, MALFORMED_KINDS, REAL_TIME_KINDS, generate_day
from featurepipe_tests.core.support import assert_same, fast, reference, validate

DAY = dt.date(2025, 11, 19)
ROWS = 20_000
# The reason each kind of breakage must get, recognised from the line's comma-split fields
# (the generator never quotes).
BROKEN = {
    "short_row": (lambda f: len(f) < 10, "field_count"),
    "extra_field": (lambda f: len(f) > 10, "field_count"),
    "bad_event_time": (lambda f: f[0] == "2025-13-45T99:00:00", "event_time_invalid"),
    "empty_user_id": (lambda f: f[1] == "", "user_id_missing"),
    "bad_user_id": (lambda f: f[1].startswith("u"), "user_id_invalid"),
    "empty_session_id": (lambda f: f[2] == "", "session_id_missing"),
    "empty_event_type": (lambda f: f[3] == "", "event_type_missing"),
}


def broken_lines(data: bytes) -> dict[int, str]:
    """line -> kind, for each line the generator broke, read off the text itself."""
    found = {}
    for line, text in enumerate(data.decode().split("\n")[1:-1], start=2):
        fields = text.split(",")
        kinds = [kind for kind, (test, _) in BROKEN.items() if test(fields)]
        assert len(kinds) <= 1, (line, text)
        if kinds:
            found[line] = kinds[0]
    return found


def test_broken_kinds_are_the_generators():
    assert set(BROKEN) == set(MALFORMED_KINDS)


@pytest.mark.parametrize(("malformed", "seed"), [(0.05, 1), (0.3, 2)])
def test_malformed_lines_are_quarantined_and_clean_lines_valid(malformed: float, seed: int):
    data = b"".join(generate_day(DAY, ROWS, malformed, seed=seed))
    assert data.startswith((HEADER + "\n").encode()) and data.endswith(b"\n")
    broken = broken_lines(data)

    # the fraction is honoured: within 5 standard deviations of a binomial count
    sigma = math.sqrt(ROWS * malformed * (1 - malformed))
    assert abs(len(broken) - ROWS * malformed) < 5 * sigma
    assert set(broken.values()) == set(MALFORMED_KINDS)

    day = validate(data)
    expected_rejected = sorted((line, BROKEN[kind][1]) for line, kind in broken.items())
    assert list(zip(day.rejected["line"], day.rejected["reason"], strict=True)) == expected_rejected
    assert day.events["line"].tolist() == [n for n in range(2, ROWS + 2) if n not in broken]
    assert day.summary.blank_lines == 0
    assert day.summary.data_lines == ROWS
    # every clean line landed on its day
    assert (day.events["event_time"].dt.date == DAY).all()


def test_no_malformed_means_every_line_valid():
    data = b"".join(generate_day(DAY, 2_000, 0.0, seed=3))
    assert broken_lines(data) == {}
    got = fast(data)
    assert got.lines == list(range(2, 2_002))
    assert got.rejected == []
    assert_same(got, reference(data))


def test_sample_day_agrees_with_reference():
    data = b"".join(generate_day(DAY, 2_000, 0.1, seed=4))
    assert_same(fast(data), reference(data))


def test_without_impossible_dates_the_same_lines_break_in_other_ways():
    """The benchmark's second shape: as many malformed lines, none of them in event_time."""
    sample = b"".join(generate_day(DAY, ROWS, 0.05, seed=5))
    other = b"".join(generate_day(DAY, ROWS, 0.05, seed=5, impossible_dates=False))
    assert broken_lines(other).keys() == broken_lines(sample).keys()
    assert set(broken_lines(other).values()) == set(REAL_TIME_KINDS)
    day = validate(other)
    assert "event_time_invalid" not in set(day.rejected["reason"])
    assert len(day.rejected) == len(broken_lines(other))
    assert_same(fast(other), reference(other))


def test_same_seed_same_bytes():
    assert b"".join(generate_day(DAY, 500, 0.1, seed=9)) == b"".join(
        generate_day(DAY, 500, 0.1, seed=9)
    )


@pytest.mark.parametrize("malformed", [-0.1, 1.5])
def test_malformed_must_be_a_fraction(malformed: float):
    with pytest.raises(ValueError, match="fraction"):
        next(generate_day(DAY, 10, malformed))
