"""pandera schemas of the stored tables, staged by inheritance."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera import dtypes
from pandera.engines import pandas_engine
from pandera.typing.pandas import Series

from featurepipe.core.contract import Reason

UTC_MICROS = {"unit": "us", "tz": "UTC"}
# How every frame is checked: all failures reported at once, and in place, since the frames
# checked are always new (from Arrow, Parquet or a computation) and no schema coerces.
CHECK = {"lazy": True, "inplace": True}


@pandas_engine.Engine.register_dtype
@dtypes.immutable(init=True)
class Text(pandas_engine.STRING):
    """pandas' default string dtype (`str`), checked by the column's dtype alone.

    pandera's own STRING answers a match with one True per row, and pandera then formats the
    (empty) failure cases of every such column on every call: 4 ms for each 100k-row frame of
    events, a third of the schema's cost.
    """

    def check(self, pandera_dtype: dtypes.DataType, data_container=None) -> bool:
        try:
            return pandas_engine.Engine.dtype(pandera_dtype).type == self.type
        except TypeError:
            return False


class EventKey(pa.DataFrameModel):
    """What identifies an event, in every table derived from the raw file."""

    event_time: Series[pd.DatetimeTZDtype] = pa.Field(dtype_kwargs=UTC_MICROS)
    user_id: Series[int]
    session_id: Series[Text] = pa.Field(str_length={"min_value": 1})
    event_type: Series[Text] = pa.Field(str_length={"min_value": 1})


class ValidatedEvents(EventKey):
    """Rows that passed the row contract, typed; `line` is where each starts in the raw file."""

    line: Series[int] = pa.Field(ge=2, unique=True)
    device: Series[Text] = pa.Field(nullable=True)
    country: Series[Text] = pa.Field(nullable=True)
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
    """Quarantined records: where they were (the line each starts on, the lines it covers),
    why, and what they said."""

    line: Series[int] = pa.Field(ge=2)
    lines: Series[int] = pa.Field(ge=1)
    reason: Series[Text] = pa.Field(isin=[r.value for r in Reason])
    record: Series[Text]
    event_time: Series[Text] = pa.Field(nullable=True)
    user_id: Series[Text] = pa.Field(nullable=True)
    session_id: Series[Text] = pa.Field(nullable=True)
    event_type: Series[Text] = pa.Field(nullable=True)
    device: Series[Text] = pa.Field(nullable=True)
    country: Series[Text] = pa.Field(nullable=True)
    is_premium: Series[Text] = pa.Field(nullable=True)
    event_value: Series[Text] = pa.Field(nullable=True)
    amount: Series[Text] = pa.Field(nullable=True)
    session_length_sec: Series[Text] = pa.Field(nullable=True)

    class Config:
        strict = True
