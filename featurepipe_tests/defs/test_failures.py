"""Files that cannot be used fail their partition clearly, and store nothing for it."""

import dagster as dg
import pytest
from dagster import materialize

from featurepipe.storage.keys import raw_key
from featurepipe_tests.conftest import RAW_BUCKET, csv_bytes
from featurepipe_tests.defs.support import (
    ASSETS,
    expected_keys,
    failed_day,
    failure_text,
    filler,
    materialize_range,
    put_raw,
    resources,
    stored_bytes,
    stored_keys,
    stored_table,
)

DAY = "2025-11-19"


def location(storage, day: str = DAY) -> str:
    """Where the raw file of a day is, as a person would look for it."""
    if storage.backend == "s3":
        return f"s3://{RAW_BUCKET}/user_events_{day.replace('-', '')}.csv"
    return str(storage.store.root / RAW_BUCKET / f"user_events_{day.replace('-', '')}.csv")


def test_a_missing_raw_file_fails_naming_its_location(storage):
    result = failed_day(storage, DAY)
    text = failure_text(result)
    assert "ObjectNotFound" in text
    assert f"{location(storage)} does not exist" in text
    assert result.get_asset_materialization_events() == []
    assert stored_keys(storage) == set()


def test_a_missing_raw_file_raises_its_own_error(local_storage):
    with pytest.raises(dg.Failure, match=f"ObjectNotFound: head_object: {location(local_storage)}"):
        materialize(ASSETS, partition_key=DAY, resources=resources(local_storage))


def test_a_header_without_required_columns_fails_and_stores_nothing(storage):
    header = "event_time,user_id,device,country,amount"
    put_raw(storage, DAY, csv_bytes("2025-11-19T00:00:00Z,1,ios,US,1", header=header))
    result = failed_day(storage, DAY)
    text = failure_text(result)
    assert "HeaderError" in text
    assert f"{location(storage)}: line 1: missing required columns: session_id, event_type" in text
    assert stored_keys(storage) == set()
    # The file could not be used: not even raw_events is recorded for the day.
    assert result.get_asset_materialization_events() == []


def test_a_bad_header_leaves_the_previous_good_version_intact(storage):
    put_raw(storage, DAY, csv_bytes(*filler(DAY, 150)))
    assert materialize(ASSETS, partition_key=DAY, resources=resources(storage)).success
    keys = expected_keys(DAY)
    assert stored_keys(storage) == keys
    before = {key: stored_bytes(storage, key) for key in keys}

    put_raw(storage, DAY, csv_bytes("2025-11-19T00:00:00Z,1,s,click", header="time,user,s,type"))
    with pytest.raises(dg.Failure, match="missing required columns: event_time, user_id"):
        materialize(ASSETS, partition_key=DAY, resources=resources(storage))

    assert stored_keys(storage) == keys
    assert {key: stored_bytes(storage, key) for key in keys} == before
    assert len(stored_table(storage, "event_features", DAY)) == 150


def test_an_empty_file_fails_clearly(local_storage):
    put_raw(local_storage, DAY, b"")
    text = failure_text(failed_day(local_storage, DAY))
    assert "EmptyFileError" in text
    assert f"{location(local_storage)}: the file is empty (0 bytes)" in text
    assert stored_keys(local_storage) == set()


def test_an_empty_file_raises_its_own_error(s3_storage):
    put_raw(s3_storage, DAY, b"")
    with pytest.raises(
        dg.Failure, match=f"^{DAY}: EmptyFileError: {location(s3_storage)}: the file is empty"
    ):
        materialize(ASSETS, partition_key=DAY, resources=resources(s3_storage))
    assert stored_keys(s3_storage) == set()


def test_a_header_only_file_is_a_valid_empty_day(local_storage):
    put_raw(local_storage, DAY, csv_bytes())
    result = materialize(ASSETS, partition_key=DAY, resources=resources(local_storage))
    assert result.success
    assert stored_keys(local_storage) == expected_keys(DAY)
    assert len(stored_table(local_storage, "event_features", DAY)) == 0


def test_one_bad_day_in_a_range_fails_the_run_naming_that_day(local_storage):
    days = ["2025-11-17", "2025-11-18", "2025-11-19"]
    for day in days:
        put_raw(local_storage, day, csv_bytes(*filler(day, 120)))
    put_raw(local_storage, days[1], csv_bytes("x,1", header="event_time,user_id"))
    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize_range(local_storage, days[0], days[-1], instance, raise_on_error=False)
    assert not result.success
    text = failure_text(result)
    assert f"{location(local_storage, days[1])}: line 1: missing required columns" in text
    assert location(local_storage, days[0]) not in text
    assert not any(days[1] in key for key in stored_keys(local_storage))
    assert raw_key(days[1]) in stored_keys(local_storage, RAW_BUCKET)
