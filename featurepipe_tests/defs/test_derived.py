"""A fourth Parquet asset is a DerivedTable: a function over frames and its pandera model. The
pipeline step builds, commits and records it per day, with its check, like event_features."""

import dataclasses

import dagster as dg
import pandas as pd
import pandera.pandas as pa
from dagster import materialize
from pandera.typing.pandas import Series

from featurepipe.core.schemas import CHECK
from featurepipe.core.validation import EMPTY_EVENTS
from featurepipe.defs.assets import build_daily_events
from featurepipe.defs.derived import DERIVED, DerivedTable
from featurepipe_tests.conftest import FEATURE_BUCKET, RAW_BUCKET, csv_bytes
from featurepipe_tests.defs.support import (
    expected_keys,
    failed_day,
    failure_text,
    filler,
    materializations,
    put_raw,
    resources,
    stored_keys,
    stored_table,
)

DAY = "2025-11-19"


# --- the whole of a new asset: its model, its function, its declaration ----------------------
class EventHours(pa.DataFrameModel):
    user_id: Series[int]
    hour: Series[int] = pa.Field(ge=0, le=23, description="Hour of the event, UTC.")

    class Config:
        strict = True


def event_hours(events: pd.DataFrame) -> pd.DataFrame:
    hours = events[["user_id"]].assign(hour=events["event_time"].dt.hour.astype("int64"))
    return EventHours.validate(hours.reset_index(drop=True), **CHECK)


EVENT_HOURS = DerivedTable(
    key=dg.AssetKey("event_hours"),
    description="The hour of each valid event.",
    reads=["event_time", "user_id"],
    build=event_hours,
    empty=event_hours(EMPTY_EVENTS),
    schema=EventHours,
)
# ------------------------------------------------------------------------------------------


def test_a_fourth_parquet_asset_is_one_declaration(local_storage):
    put_raw(local_storage, DAY, csv_bytes(*filler(DAY, 120)))
    pipeline = build_daily_events(derived=[*DERIVED, EVENT_HOURS])
    result = materialize([pipeline], partition_key=DAY, resources=resources(local_storage))
    assert result.success

    assert stored_keys(local_storage) == expected_keys(DAY) | {
        f"event_hours/date={DAY}/part.parquet"
    }
    hours = stored_table(local_storage, "event_hours", DAY)
    assert list(hours["user_id"]) == [1000 + i for i in range(120)]
    assert list(hours["hour"]) == [i // 3600 % 24 for i in range(120)]
    meta = materializations(result, "event_hours")[DAY]
    assert meta["dagster/row_count"].value == 120
    (check,) = [e for e in result.get_asset_check_evaluations() if e.asset_key == EVENT_HOURS.key]
    assert (check.check_name, check.passed, check.partition) == ("pandera_schema", True, DAY)


def late_hours(events: pd.DataFrame) -> pd.DataFrame:
    """event_hours, except that user 1100's hour breaks the model's bound."""
    hours = event_hours(events)
    hours.loc[hours["user_id"] == 1100, "hour"] = 24
    return EventHours.validate(hours, **CHECK)


BROKEN_HOURS = dataclasses.replace(EVENT_HOURS, build=late_hours)


def schema_evaluations(result) -> dict[str, bool]:
    return {
        f"{e.asset_key.to_user_string()}:{e.check_name}": e.passed
        for e in result.get_asset_check_evaluations()
    }


def test_a_derived_table_built_in_the_same_pass_that_breaks_its_schema_fails_the_day(
    local_storage,
):
    """Derived tables are built from each frame of events as it is validated: a table that
    breaks its model fails the day, named with the raw file, and nothing of the day is stored."""
    put_raw(local_storage, DAY, csv_bytes(*filler(DAY, 120)))
    pipeline = build_daily_events(derived=[*DERIVED, BROKEN_HOURS])
    result = failed_day(local_storage, DAY, assets=[pipeline])
    text = failure_text(result)
    assert "SchemaFailed" in text
    assert f"{RAW_BUCKET}/user_events_20251119.csv" in text
    assert "EventHours" in text and "less_than_or_equal_to(23)" in text
    assert schema_evaluations(result)["event_hours:pandera_schema"] is False
    assert stored_keys(local_storage) == set()
    assert result.get_asset_materialization_events() == []


def test_a_derived_table_built_from_stored_events_that_breaks_its_schema_names_them(
    local_storage,
):
    put_raw(local_storage, DAY, csv_bytes(*filler(DAY, 120)))
    good = build_daily_events(derived=[*DERIVED, EVENT_HOURS])
    pipeline = build_daily_events(derived=[*DERIVED, BROKEN_HOURS])
    with dg.instance_for_test() as instance:
        first = materialize(
            [good], partition_key=DAY, resources=resources(local_storage), instance=instance
        )
        assert first.success
        result = failed_day(
            local_storage, DAY, assets=[pipeline], selection="event_hours", instance=instance
        )
    text = failure_text(result)
    assert f"{FEATURE_BUCKET}/validated_events/date={DAY}/part.parquet" in text
    assert "EventHours" in text
    assert schema_evaluations(result) == {"event_hours:pandera_schema": False}
    # It failed on a table never stored: not a result about the one the good run stored.
    (failed,) = result.get_asset_check_evaluations()
    assert failed.target_materialization_data is None
    # The table stored by the good run stays as it was.
    assert list(stored_table(local_storage, "event_hours", DAY)["hour"]) == [
        i // 3600 % 24 for i in range(120)
    ]
