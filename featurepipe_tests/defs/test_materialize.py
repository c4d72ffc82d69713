"""The assets through Dagster's own materialize() and asset job, on local buckets and on S3:
what lands where, the values, and the metadata each partition records."""

import dagster as dg
import pandas as pd
import pytest
from dagster import materialize

from featurepipe.storage.keys import raw_key
from featurepipe_tests.conftest import HEADER, RAW_BUCKET, csv_bytes
from featurepipe_tests.defs.support import (
    ASSETS,
    RANGE_END,
    RANGE_START,
    TABLES,
    definition_metadata,
    expected_keys,
    filler,
    latest_metadata,
    materializations,
    materialize_range,
    put_raw,
    reasons,
    resources,
    stored_keys,
    stored_table,
)

BACKENDS = ["local_storage", "s3_storage"]
DAY = "2025-11-19"
LINES = [
    "2025-11-19T00:00:01Z,7,s1,click,ios,US,1,2.5,,10",
    "not-a-time,8,s2,click,ios,US,0,1,1,1",
    "",
    "2025-11-19T10:00:00+02:00,9,s3,view,web,DE,,x,4.5,",
]
# Enough valid rows that a quarantined one stays under the blocking quarantine_ratio check.
FILLER = 200
RANGE = ["2025-11-17", "2025-11-18", "2025-11-19"]


@pytest.fixture(params=BACKENDS)
def storage(request):
    return request.getfixturevalue(request.param)


def range_day(index: int, day: str) -> bytes:
    """Day `index` of RANGE: 100 * (index + 1) valid rows, index + 1 blank lines, one bad row."""
    lines = [
        *[""] * (index + 1),
        f"{day}Tbad,5,s,click,web,US,0,1,,1",
        *filler(day, 100 * (index + 1)),
    ]
    return csv_bytes(*lines)


def test_one_partition_lands_all_tables(storage):
    put_raw(storage, DAY, csv_bytes(*LINES, *filler(DAY, FILLER)))
    result = materialize(ASSETS, partition_key=DAY, resources=resources(storage))
    assert result.success
    assert stored_keys(storage) == expected_keys(DAY)

    features = stored_table(storage, "event_features", DAY)
    assert len(features) == 2 + FILLER
    assert list(features["row_sum"][:2]) == [7 + 1 + 2.5 + 10, 9 + 4.5]
    assert features["event_time"].iloc[1] == pd.Timestamp("2025-11-19T08:00:00Z")
    assert list(features["row_sum"][2:]) == [1000 + i + 11.5 for i in range(FILLER)]
    assert list(features.columns) == [
        "event_time",
        "user_id",
        "session_id",
        "event_type",
        "row_sum",
    ]
    rejected = stored_table(storage, "rejected_events", DAY)
    assert list(rejected["line"]) == [3]
    assert list(rejected["reason"]) == ["event_time_invalid"]
    validated = stored_table(storage, "validated_events", DAY)
    assert list(validated["line"]) == [2, 5, *range(6, 6 + FILLER)]
    assert list(validated["session_id"][:2]) == ["s1", "s3"]
    # The raw bucket is only read.
    assert stored_keys(storage, RAW_BUCKET) == {raw_key(DAY)}


def test_rematerializing_a_partition_replaces_it(local_storage):
    put_raw(local_storage, DAY, csv_bytes(*filler(DAY, 150)))
    assert materialize(ASSETS, partition_key=DAY, resources=resources(local_storage)).success
    put_raw(local_storage, DAY, csv_bytes(*filler(DAY, 120, first_user=5000)))
    assert materialize(ASSETS, partition_key=DAY, resources=resources(local_storage)).success

    assert stored_keys(local_storage) == expected_keys(DAY)
    features = stored_table(local_storage, "event_features", DAY)
    assert list(features["row_sum"]) == [5000 + i + 11.5 for i in range(120)]


def test_a_range_is_one_run_storing_and_recording_each_day(storage):
    for index, day in enumerate(RANGE):
        put_raw(storage, day, range_day(index, day))
    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize_range(storage, RANGE[0], RANGE[-1], instance)
        assert result.success
        runs = instance.get_runs()
        assert [run.run_id for run in runs] == [result.run_id]
        assert runs[0].tags[RANGE_START] == RANGE[0]
        assert runs[0].tags[RANGE_END] == RANGE[-1]
        # Each asset materialized once per day, in that one run...
        for asset in ("raw_events", *TABLES):
            assert sorted(materializations(result, asset)) == RANGE
        # ...and each day's materialization records that day's own counts.
        in_run = materializations(result, "validated_events")
        for index, day in enumerate(RANGE):
            valid, blank = 100 * (index + 1), index + 1
            record = latest_metadata(instance, "validated_events", day)
            assert record.run_id == result.run_id
            meta = record.asset_materialization.metadata
            assert meta == in_run[day]
            assert meta["rows_in"].value == valid + blank + 1
            assert meta["valid"].value == valid
            assert meta["quarantined"].value == 1
            assert meta["blank_lines"].value == blank
            assert meta["dagster/row_count"].value == valid
            assert reasons(meta) == {"event_time_invalid": 1}
            assert meta["source"].value == storage.store.uri(RAW_BUCKET, raw_key(day))

            raw = latest_metadata(instance, "raw_events", day).asset_materialization.metadata
            assert raw["source"].value == storage.store.uri(RAW_BUCKET, raw_key(day))
            assert raw["size_bytes"].value == len(range_day(index, day))

            features = latest_metadata(instance, "event_features", day)
            assert features.asset_materialization.metadata["dagster/row_count"].value == valid
        assert instance.get_materialized_partitions(dg.AssetKey("event_features")) == set(RANGE)

    # One object per asset per day, each holding that day's rows.
    assert stored_keys(storage) == expected_keys(*RANGE)
    for index, day in enumerate(RANGE):
        valid = 100 * (index + 1)
        features = stored_table(storage, "event_features", day)
        assert list(features["row_sum"]) == [1000 + i + 11.5 for i in range(valid)]
        assert set(features["event_time"].dt.strftime("%Y-%m-%d")) == {day}
        validated = stored_table(storage, "validated_events", day)
        assert list(validated["line"]) == list(range(index + 4, index + 4 + valid))
        rejected = stored_table(storage, "rejected_events", day)
        assert list(rejected["line"]) == [index + 3]
        assert list(rejected["reason"]) == ["event_time_invalid"]


def test_validated_events_metadata(local_storage):
    header = HEADER + ",campaign"
    lines = [
        "2025-11-19T00:00:01Z,7,s1,click,ios,US,1,2.5,,10,spring",
        "not-a-time,8,s2,click,ios,US,0,1,1,1,spring",
        "   ",
        "2025-11-19T00:00:02Z,,s3,click,ios,US,0,1,1,1,spring",
        *[line + ",fall" for line in filler(DAY, FILLER)],
    ]
    put_raw(local_storage, DAY, csv_bytes(*lines, header=header))
    result = materialize(ASSETS, partition_key=DAY, resources=resources(local_storage))
    assert result.success

    meta = materializations(result, "validated_events")[DAY]
    assert meta["rows_in"].value == len(lines) == FILLER + 4
    assert meta["valid"].value == FILLER + 1
    assert meta["quarantined"].value == 2
    assert meta["blank_lines"].value == 1
    assert reasons(meta) == {"event_time_invalid": 1, "user_id_missing": 1}
    assert meta["columns_extra"].value == ["campaign"]
    assert meta["dagster/row_count"].value == FILLER + 1
    stored = stored_table(local_storage, "validated_events", DAY)
    schema = definition_metadata("validated_events")["dagster/column_schema"].schema
    assert [column.name for column in schema.columns] == list(stored.columns)
    assert "dagster/column_schema" not in meta  # on the asset once, not on every day
    assert "event_time" in [column.name for column in schema.columns]
    assert meta["source"].value == local_storage.store.uri(RAW_BUCKET, raw_key(DAY))

    rejected = materializations(result, "rejected_events")[DAY]
    assert rejected["dagster/row_count"].value == 2
    assert reasons(rejected) == {"event_time_invalid": 1, "user_id_missing": 1}
    features = materializations(result, "event_features")[DAY]
    assert features["dagster/row_count"].value == FILLER + 1


def test_raw_events_metadata(storage):
    data = csv_bytes(*filler(DAY, 120))
    put_raw(storage, DAY, data)
    info = storage.store.head(RAW_BUCKET, raw_key(DAY))
    result = materialize(ASSETS, partition_key=DAY, resources=resources(storage))
    assert result.success

    meta = materializations(result, "raw_events")[DAY]
    source = meta["source"].value
    assert source == info.uri
    if storage.backend == "s3":
        assert source == f"s3://{RAW_BUCKET}/user_events_20251119.csv"
    else:
        assert source == str(storage.store.root / RAW_BUCKET / "user_events_20251119.csv")
    assert meta["size_bytes"].value == len(data)
    assert meta["etag"].value == info.etag
    assert meta["etag"].value
    assert meta["last_modified"].value == pytest.approx(info.last_modified.timestamp())
