"""pandera schemas of the stored tables, staged by inheritance."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing.pandas import Series

from featurepipe.core.contract import Reason

UTC_MICROS = {"unit": "us", "tz": "UTC"}
# How every frame is checked: all failures reported at once, and in place, since the frames
# checked are always new (from Arrow, Parquet or a computation) and no schema coerces.
CHECK = {"lazy": True, "inplace": True}


class EventKey(pa.DataFrameModel):
    """What identifies an event, in every table derived from the raw file."""

    event_time: Series[pd.DatetimeTZDtype] = pa.Field(dtype_kwargs=UTC_MICROS)
    user_id: Series[int]
    session_id: Series[str] = pa.Field(str_length={"min_value": 1})
    event_type: Series[str] = pa.Field(str_length={"min_value": 1})


class ValidatedEvents(EventKey):
    """Rows that passed the row contract, typed; `line` is where each starts in the raw file."""

    line: Series[int] = pa.Field(ge=2, unique=True)
    device: Series[str] = pa.Field(nullable=True)
    country: Series[str] = pa.Field(nullable=True)
    is_premium: Series[float] = pa.Field(nullable=True)
    event_value: Series[float] = pa.Field(nullable=True)
    amount: Series[float] = pa.Field(nullable=True)
    session_length_sec: Series[float] = pa.Field(nullable=True)

    class Config:
        strict = True


class EventFeatures(EventKey):
    """One row per valid event, in input order."""

    row_sum: Series[float] = pa.Field(nullable=False)

    class Config:
        strict = True


class RejectedEvents(pa.DataFrameModel):
    """Quarantined rows: where they were, why, and what they said."""

    line: Series[int] = pa.Field(ge=2)
    reason: Series[str] = pa.Field(isin=[r.value for r in Reason])
    record: Series[str]
    event_time: Series[str] = pa.Field(nullable=True)
    user_id: Series[str] = pa.Field(nullable=True)
    session_id: Series[str] = pa.Field(nullable=True)
    event_type: Series[str] = pa.Field(nullable=True)
    device: Series[str] = pa.Field(nullable=True)
    country: Series[str] = pa.Field(nullable=True)
    is_premium: Series[str] = pa.Field(nullable=True)
    event_value: Series[str] = pa.Field(nullable=True)
    amount: Series[str] = pa.Field(nullable=True)
    session_length_sec: Series[str] = pa.Field(nullable=True)

    class Config:
        strict = True
