"""pandera models of the stored tables, built from their declarations in `columns`."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
import pyarrow
from pandera import dtypes
from pandera.engines import pandas_engine
from pandera.typing.pandas import Series

from featurepipe.core.columns import FLOAT, INT, STRING, TABLES, Table

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


# The pandas dtype each stored Arrow type becomes, as pandera names it.
DTYPES = {STRING: Text, INT: int, FLOAT: float}


def model(table: Table) -> type[pa.DataFrameModel]:
    """The pandera model of a declared table: strict, each column typed as Arrow gives it to
    pandas, with its rules and description."""
    annotations, fields = {}, {}
    for column in table.columns:
        if isinstance(column.arrow, pyarrow.TimestampType):
            dtype, kwargs = pd.DatetimeTZDtype, {"unit": column.arrow.unit, "tz": column.arrow.tz}
        elif column.arrow in DTYPES:
            dtype, kwargs = DTYPES[column.arrow], None
        else:
            raise TypeError(f"{table.name}.{column.name}: no pandera dtype for {column.arrow}")
        annotations[column.name] = Series[dtype]
        fields[column.name] = pa.Field(
            dtype_kwargs=kwargs, description=column.description, **column.rules
        )
    config = type("Config", (), {"strict": True})
    namespace = {"__annotations__": annotations, "__doc__": table.doc, "Config": config}
    return type(table.model, (pa.DataFrameModel,), {"__module__": __name__, **namespace, **fields})


ValidatedEvents = model(TABLES.validated)
EventFeatures = model(TABLES.features)
RejectedEvents = model(TABLES.rejected)
