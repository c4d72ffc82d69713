"""The pandera schemas: text columns must hold pandas' default string dtype, and nothing else."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pytest
from pandera.engines import pandas_engine

from featurepipe.core.schemas import CHECK, Text, ValidatedEvents
from featurepipe_tests.core.support import raw, validate


def events() -> pd.DataFrame:
    return validate(raw("2025-11-19T00:00:01Z,7,s1,click,web,DE,0,1.5,,3")).events


def test_the_text_dtype_answers_with_one_bool_for_the_column():
    """Not a True per row: pandera would then format failure cases for every text column."""
    column = events()["session_id"]
    assert Text().check(pandas_engine.Engine.dtype(column.dtype), column) is True
    assert Text().check(pandas_engine.Engine.dtype(pd.Series([1]).dtype)) is False


@pytest.mark.parametrize(
    "dtype",
    [object, pd.StringDtype("python", na_value=np.nan), pd.ArrowDtype(pyarrow.large_string())],
)
def test_text_columns_of_another_dtype_are_refused(dtype):
    frame = events().astype({"session_id": dtype})
    with pytest.raises(pa.errors.SchemaErrors, match="expected series 'session_id' to have type"):
        ValidatedEvents.validate(frame, **CHECK)


def test_text_checks_still_run_on_the_values():
    frame = events().assign(session_id="")
    with pytest.raises(pa.errors.SchemaErrors, match="str_length"):
        ValidatedEvents.validate(frame, **CHECK)
