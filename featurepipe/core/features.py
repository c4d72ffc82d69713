"""Features of record, computed from validated events."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from featurepipe.core.columns import TABLES, Role
from featurepipe.core.contract import OPTIONAL_NUMERIC_COLUMNS
from featurepipe.core.schemas import CHECK, EventFeatures

# Lists, since pandas reads a tuple as one column's name.
KEY_COLUMNS = list(TABLES.features.names(Role.REQUIRED))
# What build_features reads from validated events.
INPUT_COLUMNS = list(TABLES.feature_inputs)


def row_sum(events: pd.DataFrame) -> pd.Series:
    """user_id plus the optional numeric columns, a null counting 0.0.

    Added left to right, so the float result is exactly that of a plain Python loop.
    A column absent from the raw header is all null in `events`, so it adds nothing.
    """
    total = events["user_id"].astype("float64")
    for name in OPTIONAL_NUMERIC_COLUMNS:
        total = total + events[name].fillna(0.0)
    return total.rename("row_sum")


def build_features(events: pd.DataFrame) -> pd.DataFrame:
    features = events[KEY_COLUMNS].assign(row_sum=row_sum(events)).reset_index(drop=True)
    return EventFeatures.validate(features, **CHECK)


# From the declared columns, not build_features(EMPTY_EVENTS): validating at import would
# register pandera's backends (and import hypothesis, where installed) on every load of the
# definitions, about 0.1 s, though a header-only day validates nothing.
EMPTY_FEATURES = TABLES.features.arrow_schema.empty_table().to_pandas()


LEGACY_COLUMNS = ["row_sum", *KEY_COLUMNS]


def legacy_csv(frames: Iterable[pd.DataFrame], path) -> int:
    """Write features the way the old pipeline did, CSV with row_sum as the first column,
    frame by frame; the rows written."""
    rows, header = 0, True
    with open(path, "w", newline="") as out:
        for frame in frames:
            frame[LEGACY_COLUMNS].to_csv(
                out, index=False, header=header, date_format="%Y-%m-%dT%H:%M:%S.%fZ"
            )
            rows, header = rows + len(frame), False
        if header:
            EMPTY_FEATURES[LEGACY_COLUMNS].to_csv(out, index=False)
    return rows
