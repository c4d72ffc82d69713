"""Realistic raw event files, optionally with malformed lines, for demos, tests and benchmarks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from featurepipe.core.contract import KNOWN_COLUMNS

HEADER = ",".join(KNOWN_COLUMNS)
EVENT_TYPES = ["page_view", "click", "search", "add_to_cart", "purchase", "logout"]
EVENT_WEIGHTS = [0.45, 0.25, 0.12, 0.08, 0.05, 0.05]
DEVICES = ["ios", "android", "web"]
COUNTRIES = ["US", "DE", "GB", "FR", "IN", "BR", "JP", "NL"]
MALFORMED_KINDS = [
    "short_row",
    "extra_field",
    "bad_event_time",
    "empty_user_id",
    "bad_user_id",
    "empty_session_id",
    "empty_event_type",
]
REAL_TIME_KINDS = [kind for kind in MALFORMED_KINDS if kind != "bad_event_time"]
CHUNK_ROWS = 500_000


def generate_day(
    day: dt.date,
    rows: int,
    malformed: float = 0.0,
    seed: int | None = None,
    impossible_dates: bool = True,
) -> Iterator[bytes]:
    """Yield the CSV bytes of one day: a header, then `rows` data lines of which about
    `malformed` (a fraction) break the row contract in one of MALFORMED_KINDS.

    Without `impossible_dates` no line breaks its event time (the same lines break in the
    other ways instead): every time in the file is real, the shape on which a parser that
    casts the whole column first goes fastest."""
    if not 0.0 <= malformed <= 1.0:
        raise ValueError(f"malformed must be a fraction between 0 and 1, got {malformed}")
    rng = np.random.default_rng(seed if seed is not None else day.toordinal())
    yield (HEADER + "\n").encode()
    start = np.datetime64(day.isoformat(), "ms")
    offsets = np.sort(rng.integers(0, 86_400_000, rows))
    for first in range(0, rows, CHUNK_ROWS):
        n = min(CHUNK_ROWS, rows - first)
        lines = _lines(rng, start + offsets[first : first + n], n)
        bad = np.flatnonzero(rng.random(n) < malformed)
        if bad.size:
            kinds = MALFORMED_KINDS if impossible_dates else REAL_TIME_KINDS
            lines = _break_lines(rng, lines, bad, kinds)
        yield ("\n".join(lines) + "\n").encode()


def _lines(rng: np.random.Generator, times: np.ndarray, n: int) -> list[str]:
    event_type = rng.choice(EVENT_TYPES, n, p=EVENT_WEIGHTS)
    purchase = event_type == "purchase"
    amount = np.where(purchase, np.round(rng.gamma(2.0, 25.0, n), 2), np.nan)
    values = {
        "event_time": pc.strftime(pa.array(times), format="%Y-%m-%dT%H:%M:%SZ"),
        "user_id": _text(rng.integers(1, 200_000, n)),
        "session_id": pa.array(np.char.add("s", rng.integers(1 << 32, 1 << 40, n).astype(str))),
        "event_type": pa.array(event_type),
        "device": pa.array(rng.choice(DEVICES, n, p=[0.4, 0.4, 0.2])),
        "country": pa.array(rng.choice(COUNTRIES, n)),
        "is_premium": _text((rng.random(n) < 0.2).astype(np.int64)),
        "event_value": _text(np.round(rng.exponential(3.0, n), 3)),
        "amount": _text(amount),
        "session_length_sec": _text(rng.integers(1, 7200, n)),
    }
    # In the declared order; a declared column needs its values here.
    return pc.binary_join_element_wise(*(values[c] for c in KNOWN_COLUMNS), ",").to_pylist()


def _text(values: np.ndarray) -> pa.Array:
    """Numbers as CSV text; NaN becomes an empty field."""
    array = pa.array(values, from_pandas=True)
    return pc.fill_null(pc.cast(array, pa.string()), "")


def _break_lines(
    rng: np.random.Generator, lines: list[str], rows: np.ndarray, kinds: list[str]
) -> list[str]:
    drawn = rng.integers(0, len(kinds), rows.size)
    for row, kind in zip(rows.tolist(), drawn.tolist(), strict=True):
        fields = lines[row].split(",")
        match kinds[kind]:
            case "short_row":
                fields = fields[:6]
            case "extra_field":
                fields.append("unexpected")
            case "bad_event_time":  # an impossible date
                fields[0] = "2025-13-45T99:00:00"
            case "empty_user_id":
                fields[1] = ""
            case "bad_user_id":
                fields[1] = "u" + fields[1]
            case "empty_session_id":
                fields[2] = ""
            case "empty_event_type":
                fields[3] = ""
        lines[row] = ",".join(fields)
    return lines
