"""ParquetIOManager and RawFileIOManager through Dagster's own APIs, on both backends."""

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from featurepipe.defs.io_managers import ParquetIOManager, RawFileIOManager
from featurepipe.storage.objects import ObjectNotFound
from featurepipe.storage.verified import RawFile
from featurepipe_tests.conftest import RAW_BUCKET, csv_bytes
from featurepipe_tests.storage.support import (
    DAILY,
    DAY,
    DAYS,
    RANGE,
    assert_nothing_stray,
    frame,
    key,
    load,
    output,
    put,
    save,
)

# Dagster's own resource setup in materialize() calls its deprecated InitResourceContext API.
pytestmark = pytest.mark.filterwarnings("ignore:InitResourceContext.dagster_run")


def test_one_partition_is_one_object(storage):
    store, bucket = storage.store, storage.feature_bucket
    metadata = save(storage, frame())
    assert [info.key for info in store.list(bucket)] == [key(DAY)]
    assert metadata["uri"].value == store.uri(bucket, key(DAY))
    assert metadata["bytes_written"].value == store.head(bucket, key(DAY)).size > 0
    pd.testing.assert_frame_equal(load(storage), frame())


def test_round_trip_keeps_the_types(storage):
    save(storage, frame())
    loaded = load(storage)
    assert {name: str(dtype) for name, dtype in loaded.dtypes.items()} == {
        "event_time": "datetime64[us, UTC]",
        "user_id": "int64",
        "session_id": "str",
        "row_sum": "float64",
    }
    assert np.isnan(loaded["row_sum"].iloc[1])
    assert loaded["user_id"].iloc[0] == frame()["user_id"].iloc[0]
    pd.testing.assert_frame_equal(loaded, frame())


def test_empty_day_keeps_its_columns_and_types(storage):
    empty = frame().iloc[0:0]
    save(storage, empty)
    loaded = load(storage)
    assert len(loaded) == 0
    pd.testing.assert_frame_equal(loaded, empty.reset_index(drop=True))


def test_several_partitions_are_one_object_each(storage):
    store, bucket = storage.store, storage.feature_bucket
    with output(key_range=RANGE) as context:
        assert list(context.asset_partition_keys) == DAYS
    metadata = save(storage, {day: frame(i) for i, day in enumerate(DAYS)}, key_range=RANGE)
    assert [info.key for info in store.list(bucket)] == [key(day) for day in DAYS]
    assert metadata["uris"].value == {day: store.uri(bucket, key(day)) for day in DAYS}
    sizes = sum(store.head(bucket, key(day)).size for day in DAYS)
    assert metadata["bytes_written"].value == sizes

    loaded = load(storage, key_range=RANGE)
    assert isinstance(loaded, dict)
    assert list(loaded) == DAYS
    for i, day in enumerate(DAYS):
        pd.testing.assert_frame_equal(loaded[day], frame(i))
    pd.testing.assert_frame_equal(load(storage, partition_key=DAYS[1]), frame(1))


@pytest.mark.parametrize(
    ("partition_key", "key_range", "value"),
    [
        (None, RANGE, {day: frame() for day in DAYS[:2]}),  # a day missing
        (None, RANGE, {day: frame() for day in [*DAYS, "2025-11-20"]}),  # a day too many
        (DAY, None, {"2025-11-18": frame()}),  # another day than the run's
        (None, RANGE, frame()),  # one frame for several days
    ],
)
def test_output_must_hold_exactly_the_runs_partitions(storage, partition_key, key_range, value):
    with pytest.raises(ValueError, match="partitions"):
        save(storage, value, partition_key, key_range)
    assert_nothing_stray(storage, [])


def test_overwrite_replaces_the_partition(storage):
    store, bucket = storage.store, storage.feature_bucket
    save(storage, frame(1, rows=5))
    save(storage, frame(2, rows=2))
    pd.testing.assert_frame_equal(load(storage), frame(2, rows=2))
    assert [info.key for info in store.list(bucket)] == [key(DAY)]


def test_failed_overwrite_keeps_the_previous_partition(storage):
    store, bucket = storage.store, storage.feature_bucket
    save(storage, frame(1))
    before = store.head(bucket, key(DAY))
    unwritable = pd.DataFrame({"mixed": [1, "one", 2.0]}, dtype=object)
    with pytest.raises(pa.ArrowException):
        save(storage, unwritable)
    assert store.head(bucket, key(DAY)) == before
    pd.testing.assert_frame_equal(load(storage), frame(1))
    assert_nothing_stray(storage, [key(DAY)])


def test_missing_partition_names_the_object(storage):
    store, bucket = storage.store, storage.feature_bucket
    with pytest.raises(ObjectNotFound) as raised:
        load(storage)
    assert store.uri(bucket, key(DAY)) in str(raised.value)


@dg.asset(partitions_def=DAILY, backfill_policy=dg.BackfillPolicy.single_run())
def upstream(context: dg.AssetExecutionContext):
    frames = {day: frame(int(day[-2:])) for day in context.partition_keys}
    return frames[context.partition_key] if len(frames) == 1 else frames


@dg.asset(partitions_def=DAILY, backfill_policy=dg.BackfillPolicy.single_run())
def downstream(context: dg.AssetExecutionContext, upstream):
    frames = upstream if isinstance(upstream, dict) else {context.partition_key: upstream}
    assert list(frames) == list(context.partition_keys)
    out = {day: f.assign(row_sum=f["row_sum"] * 2) for day, f in frames.items()}
    return out[context.partition_key] if len(out) == 1 else out


def test_materialize_one_day(storage):
    result = dg.materialize(
        [upstream, downstream],
        partition_key=DAY,
        resources={"io_manager": ParquetIOManager(storage=storage)},
    )
    assert result.success
    store, bucket = storage.store, storage.feature_bucket
    assert [i.key for i in store.list(bucket)] == [key(DAY, "downstream"), key(DAY, "upstream")]
    stored = load(storage, asset="downstream")
    pd.testing.assert_frame_equal(stored, result.asset_value("downstream"))
    assert stored.dtypes["event_time"] == "datetime64[us, UTC]"


def test_materialize_a_range_in_one_run(storage):
    result = dg.materialize(
        [upstream, downstream],
        resources={"io_manager": ParquetIOManager(storage=storage)},
        tags={
            "dagster/asset_partition_range_start": DAYS[0],
            "dagster/asset_partition_range_end": DAYS[-1],
        },
    )
    assert result.success
    store, bucket = storage.store, storage.feature_bucket
    expected = sorted(key(day, asset) for day in DAYS for asset in ("upstream", "downstream"))
    assert [i.key for i in store.list(bucket)] == expected
    loaded = load(storage, key_range=RANGE, asset="downstream")
    for day in DAYS:
        expected_frame = frame(int(day[-2:]))
        expected_frame["row_sum"] *= 2
        pd.testing.assert_frame_equal(loaded[day], expected_frame)


def test_raw_file_is_read_where_it_landed(storage):
    data = csv_bytes("2025-11-19T00:00:01Z,7,s1,click,ios,US,1,2.5,,10")
    put(storage.store, RAW_BUCKET, "user_events_20251119.csv", data)
    raw = load(storage, manager=RawFileIOManager)
    assert isinstance(raw, RawFile)
    assert raw.info.size == len(data)
    with raw.open() as stream:
        assert stream.read() == data


def test_missing_raw_file_names_it(storage):
    with pytest.raises(ObjectNotFound, match="does not exist") as raised:
        load(storage, manager=RawFileIOManager)
    assert storage.store.uri(RAW_BUCKET, "user_events_20251119.csv") in str(raised.value)
