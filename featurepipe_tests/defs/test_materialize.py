"""The assets through Dagster's own materialize(), on local buckets and on S3."""

import pandas as pd
import pytest
from dagster import materialize

from featurepipe.defs.assets import event_features, raw_events, validate_raw_events
from featurepipe.defs.io_managers import ParquetIOManager, RawFileIOManager
from featurepipe_tests.conftest import FEATURE_BUCKET, RAW_BUCKET, csv_bytes

ASSETS = [raw_events, validate_raw_events, event_features]
DAY = "2025-11-19"
LINES = [
    "2025-11-19T00:00:01Z,7,s1,click,ios,US,1,2.5,,10",
    "not-a-time,8,s2,click,ios,US,0,1,1,1",
    "",
    "2025-11-19T10:00:00+02:00,9,s3,view,web,DE,,x,4.5,",
]


def resources(storage):
    return {
        "storage": storage,
        "io_manager": ParquetIOManager(storage=storage),
        "raw_io_manager": RawFileIOManager(storage=storage),
    }


def put_raw(storage, day: str, data: bytes) -> None:
    key = f"user_events_{day.replace('-', '')}.csv"
    with storage.store.staged(RAW_BUCKET, key) as path:
        path.write_bytes(data)


@pytest.mark.parametrize("backend", ["local_storage", "s3_storage"])
def test_one_partition_lands_all_tables(backend, request):
    storage = request.getfixturevalue(backend)
    put_raw(storage, DAY, csv_bytes(*LINES))
    # One row in three is quarantined: raise the blocking threshold for this tiny file.
    lenient = {"ops": {"validate_raw_events": {"config": {"warn_ratio": 0.5, "error_ratio": 0.5}}}}
    result = materialize(
        ASSETS, partition_key=DAY, resources=resources(storage), run_config=lenient
    )
    assert result.success
    store = storage.store
    names = {o.key for o in store.list(FEATURE_BUCKET)}
    assert names == {
        f"{asset}/date={DAY}/part.parquet"
        for asset in ("validated_events", "rejected_events", "event_features")
    }
    features = result.asset_value("event_features")
    assert list(features["row_sum"]) == [7 + 1 + 2.5 + 10, 9 + 4.5]
    assert features["event_time"].iloc[1] == pd.Timestamp("2025-11-19T08:00:00Z")
    rejected = result.asset_value("rejected_events")
    assert list(rejected["line"]) == [3]
    assert list(rejected["reason"]) == ["event_time_invalid"]
