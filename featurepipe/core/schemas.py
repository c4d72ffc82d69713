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


# Column descriptions shared by several columns; the UI shows them with each table's schema.
LINE = "Line of the raw file where the row starts (the header is line 1)."
OPTIONAL_TEXT = "As in the file; null when empty or when the file has no such column."
NUMBER = (
    "A decimal number; null when empty, not a number, not finite, or the file has no such column."
)
FIELD_TEXT = (
    "The field as text, as in the file; null when the file has no such column or the row has "
    "the wrong number of fields."
)


class EventKey(pa.DataFrameModel):
    """What identifies an event, in every table derived from the raw file."""

    event_time: Series[pd.DatetimeTZDtype] = pa.Field(
        dtype_kwargs=UTC_MICROS, description="When the event happened, in UTC."
    )
    user_id: Series[int] = pa.Field(description="The user, an integer in the int64 range.")
    session_id: Series[Text] = pa.Field(
        str_length={"min_value": 1}, description="The session, as the file names it."
    )
    event_type: Series[Text] = pa.Field(
        str_length={"min_value": 1}, description="What happened, e.g. click or view."
    )


class ValidatedEvents(EventKey):
    """Rows that passed the row contract, typed; `line` is where each starts in the raw file."""

    line: Series[int] = pa.Field(ge=2, unique=True, description=LINE)
    device: Series[Text] = pa.Field(nullable=True, description=OPTIONAL_TEXT)
    country: Series[Text] = pa.Field(nullable=True, description=OPTIONAL_TEXT)
    is_premium: Series[float] = pa.Field(nullable=True, description=NUMBER)
    event_value: Series[float] = pa.Field(nullable=True, description=NUMBER)
    amount: Series[float] = pa.Field(nullable=True, description=NUMBER)
    session_length_sec: Series[float] = pa.Field(nullable=True, description=NUMBER)

    class Config:
        strict = True


class EventFeatures(EventKey):
    """One row per valid event, in input order."""

    row_sum: Series[float] = pa.Field(
        nullable=False,
        description="user_id + is_premium + event_value + amount + session_length_sec, those "
        "the file has, as floats; a null counts 0.0.",
    )

    class Config:
        strict = True


class RejectedEvents(pa.DataFrameModel):
    """Quarantined records: where they were (the line each starts on, the lines it covers),
    why, and what they said."""

    line: Series[int] = pa.Field(ge=2, description=LINE)
    lines: Series[int] = pa.Field(
        ge=1, description="Physical lines of the raw file the record covers (1 for most)."
    )
    reason: Series[Text] = pa.Field(
        isin=[r.value for r in Reason], description="The first rule of the contract it broke."
    )
    record: Series[Text] = pa.Field(
        description="The whole row as CSV (invalid UTF-8 shown as U+FFFD)."
    )
    event_time: Series[Text] = pa.Field(nullable=True, description=FIELD_TEXT)
    user_id: Series[Text] = pa.Field(nullable=True, description=FIELD_TEXT)
    session_id: Series[Text] = pa.Field(nullable=True, description=FIELD_TEXT)
    event_type: Series[Text] = pa.Field(nullable=True, description=FIELD_TEXT)
    device: Series[Text] = pa.Field(nullable=True, description=FIELD_TEXT)
    country: Series[Text] = pa.Field(nullable=True, description=FIELD_TEXT)
    is_premium: Series[Text] = pa.Field(nullable=True, description=FIELD_TEXT)
    event_value: Series[Text] = pa.Field(nullable=True, description=FIELD_TEXT)
    amount: Series[Text] = pa.Field(nullable=True, description=FIELD_TEXT)
    session_length_sec: Series[Text] = pa.Field(nullable=True, description=FIELD_TEXT)

    class Config:
        strict = True
