"""Tables derived from a day's validated events, frame by frame.

The pipeline step builds, commits and records each selected one for the day: its rows, column
schema and preview, its `pandera_schema` check, and whatever its profile measures. A new table
is a `DerivedTable` here, a function over DataFrames in `core` and its columns in
`core/columns.py`: the step, the checks launched alone and the UI need nothing more.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import dagster as dg
import pandas as pd
import pandera.pandas as pa

from featurepipe.core.columns import TABLES
from featurepipe.core.contract import ROW_SUM_COLUMNS
from featurepipe.core.features import EMPTY_FEATURES, INPUT_COLUMNS, build_features
from featurepipe.core.quality import RowSumStats
from featurepipe.core.schemas import EventFeatures
from featurepipe.defs.schema_checks import SCHEMA_CHECK, CheckOutcome


class Profile:
    """What a derived table measures while it is written; nothing, by default."""

    def add(self, frame: pd.DataFrame) -> None:
        pass

    def metadata(self) -> dict[str, dg.MetadataValue]:
        return {}

    def evaluations(self, rows: int, valid_read: int) -> dict[str, CheckOutcome]:
        """The outcome of each of the table's own checks, by check name."""
        return {}


@dataclass(frozen=True)
class DerivedTable:
    key: dg.AssetKey
    description: str
    reads: list[str]  # the validated columns it is built from
    build: Callable[[pd.DataFrame], pd.DataFrame]  # validates its result with `schema`
    empty: pd.DataFrame
    schema: type[pa.DataFrameModel]
    profile: Callable[[], Profile] = Profile
    checks: Mapping[str, str] = field(default_factory=dict)  # its own checks: name -> description
    kinds: frozenset[str] = frozenset({"pandas", "pandera", "parquet"})

    @property
    def check_keys(self) -> dict[dg.AssetCheckKey, str]:
        """Its checks: pandera_schema, then its own."""
        named = {
            SCHEMA_CHECK: f"The day's table matches the pandera schema {self.schema.__name__}.",
            **self.checks,
        }
        return {dg.AssetCheckKey(self.key, name): text for name, text in named.items()}


class RowSumProfile(Profile):
    def __init__(self):
        self.stats = RowSumStats()

    def add(self, frame: pd.DataFrame) -> None:
        row_sum = frame["row_sum"]
        if not pd.api.types.is_numeric_dtype(row_sum):  # a stored table someone broke
            row_sum = pd.to_numeric(row_sum, errors="coerce")
        self.stats.add(row_sum)

    def metadata(self) -> dict[str, dg.MetadataValue]:
        return {f"row_sum_{k}": dg.MetadataValue.float(v) for k, v in self.stats.summary().items()}

    def evaluations(self, rows: int, valid_read: int) -> dict[str, CheckOutcome]:
        nulls = self.stats.nulls
        return {
            "row_sum_not_null": CheckOutcome(nulls == 0, {"null_row_sums": nulls}),
            "one_row_per_valid_event": CheckOutcome(
                rows == valid_read,
                {"features": rows, "valid_events_read": valid_read},
                description=None if rows == valid_read else f"{rows} features, {valid_read} valid",
            ),
        }


EVENT_FEATURES = DerivedTable(
    key=dg.AssetKey(TABLES.features.name),
    description="Features of record, one row per valid event in input order: the event key and "
    f"`row_sum`, the sum of {', '.join(ROW_SUM_COLUMNS)} (a null counts 0.0).",
    reads=INPUT_COLUMNS,
    build=build_features,
    empty=EMPTY_FEATURES,
    schema=EventFeatures,
    profile=RowSumProfile,
    checks={
        "row_sum_not_null": "No row has a null row_sum.",
        "one_row_per_valid_event": "Row count equals the valid rows of the validated_events read.",
    },
)
# Every table derived from validated events, in the order they are built.
DERIVED = [EVENT_FEATURES]
