"""Run a raw file through the fast path and through the reference, as comparable outcomes."""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd
import pytest

from featurepipe.core import features, validation
from featurepipe.core.features import build_features
from featurepipe.core.reference import reference_validate
from featurepipe.core.validation import ValidatedDay, validate_events

HEADER = (
    "event_time,user_id,session_id,event_type,device,country,"
    "is_premium,event_value,amount,session_length_sec"
)
SOURCE = "user_events_20251119.csv"
ROW_FIELDS = (
    "line",
    "event_time",
    "user_id",
    "session_id",
    "event_type",
    "device",
    "country",
    "is_premium",
    "event_value",
    "amount",
    "session_length_sec",
    "row_sum",
)


def raw(*lines: str, header: str = HEADER, newline: str = "\n", bom: bool = False) -> bytes:
    """A file: the header, then `lines`, each ended by `newline`."""
    data = "".join(line + newline for line in (header, *lines)).encode()
    return (b"\xef\xbb\xbf" if bom else b"") + data


@dataclass(frozen=True)
class Outcome:
    """What a file came to, in terms both implementations can state."""

    lines: list[int]  # line of each valid row, in order
    row_sums: list[float]
    rejected: list[tuple[int, str]]  # (line, reason), in line order
    rejected_lines: list[int]  # physical lines each rejected record covers
    valid_lines: int  # physical lines the valid rows cover
    blank: int
    data_lines: int  # physical lines after the header
    rows: list[tuple]  # every typed value of each valid row (ROW_FIELDS)

    @property
    def valid(self) -> int:
        return len(self.lines)

    @property
    def quarantined(self) -> int:
        return len(self.rejected)

    def adds_up(self) -> bool:
        """Every line a valid row's, a rejected record's or blank."""
        return self.data_lines == self.valid_lines + sum(self.rejected_lines) + self.blank


def _plain(value):
    """pandas' value as the reference states it: None for missing, datetime, int, float."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return value


class Trickle(io.RawIOBase):
    """A stream that gives at most `step` bytes a read, as network streams may."""

    def __init__(self, data: bytes, step: int):
        self._data, self._step, self._pos = data, step, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._data[self._pos : self._pos + min(self._step, len(buffer))]
        buffer[: len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)


def validate(data: bytes, block_size: int | None = None, step: int | None = None) -> ValidatedDay:
    kwargs = {} if block_size is None else {"block_size": block_size}
    stream = io.BytesIO(data) if step is None else Trickle(data, step)
    return validate_events(stream, SOURCE, **kwargs)


def fast(data: bytes, block_size: int | None = None, step: int | None = None) -> Outcome:
    """validate_events + build_features, with the invariants every run must keep."""
    day = validate(data, block_size, step)
    features = build_features(day.events)
    summary = day.summary
    assert summary.source == SOURCE
    assert summary.bytes_read == len(data)
    assert (summary.valid, summary.quarantined) == (len(day.events), len(day.rejected))
    assert summary.quarantined_lines == day.rejected["lines"].sum()
    assert summary.reasons == day.rejected["reason"].value_counts().to_dict()
    key = ["event_time", "user_id", "session_id", "event_type"]
    assert features[key].equals(day.events[key].reset_index(drop=True))
    rows = [
        tuple(_plain(v) for v in row)
        for row in day.events.assign(row_sum=features["row_sum"].to_numpy())[
            list(ROW_FIELDS)
        ].itertuples(index=False)
    ]
    return Outcome(
        lines=day.events["line"].tolist(),
        row_sums=features["row_sum"].tolist(),
        rejected=list(zip(day.rejected["line"].tolist(), day.rejected["reason"], strict=True)),
        rejected_lines=day.rejected["lines"].tolist(),
        valid_lines=summary.valid_lines,
        blank=summary.blank_lines,
        data_lines=summary.data_lines,
        rows=rows,
    )


def reference(data: bytes) -> Outcome:
    result = reference_validate(io.BytesIO(data), SOURCE)
    return Outcome(
        lines=[row["line"] for row in result.valid],
        row_sums=[row["row_sum"] for row in result.valid],
        rejected=[(line, reason) for line, reason, _ in result.rejected],
        rejected_lines=[lines for _, _, lines in result.rejected],
        valid_lines=result.valid_lines,
        blank=result.blank_lines,
        data_lines=result.data_lines,
        rows=[tuple(row[name] for name in ROW_FIELDS) for row in result.valid],
    )


def assert_same(a: Outcome, b: Outcome) -> None:
    """Exactly equal, field by field so a failure says which (row sums compared with ==)."""
    assert a.lines == b.lines
    assert a.row_sums == b.row_sums
    assert a.rejected == b.rejected
    assert a.rejected_lines == b.rejected_lines
    assert (a.valid_lines, a.blank, a.data_lines) == (b.valid_lines, b.blank, b.data_lines)
    assert a.rows == b.rows


def outcome_or_error(run, data: bytes):
    """The outcome, or (error class, message) when the file as a whole is refused."""
    from featurepipe.core.contract import ContractError

    try:
        return run(data)
    except ContractError as err:
        return type(err), str(err)


class _Unchecked:
    @staticmethod
    def validate(frame, lazy=False, inplace=False):
        return frame


@contextlib.contextmanager
def pandera_off() -> Iterator[None]:
    """Skip the pandera checks of validate_events and build_features.

    pandera costs tens of milliseconds a table whatever its size, which would make the
    hundreds of tiny cases here slow; it only checks, never changes a value. The corpus
    tests run every file through the path as shipped, pandera included.
    """
    with pytest.MonkeyPatch.context() as patch:
        for module, name in [
            (validation, "ValidatedEvents"),
            (validation, "RejectedEvents"),
            (features, "EventFeatures"),
        ]:
            patch.setattr(module, name, _Unchecked)
        yield
