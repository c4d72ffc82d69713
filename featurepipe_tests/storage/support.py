"""Helpers shared by the storage tests."""

import dagster as dg
import numpy as np
import pandas as pd

from featurepipe.defs.io_managers import ParquetIOManager
from featurepipe.storage.objects import LocalStore

DAILY = dg.DailyPartitionsDefinition(start_date="2025-11-01", timezone="UTC")
DAY, DAYS = "2025-11-19", ["2025-11-17", "2025-11-18", "2025-11-19"]
RANGE = dg.PartitionKeyRange(DAYS[0], DAYS[-1])


def frame(seed: int = 0, rows: int = 3) -> pd.DataFrame:
    """The column types the assets store: UTC microsecond times, int64, str, float64 with NaN."""
    times = pd.date_range("2025-11-19", periods=rows, freq="37s", tz="UTC", unit="us")
    values = [1.5 + seed, np.nan, -0.25] * rows
    return pd.DataFrame(
        {
            "event_time": times + pd.Timedelta(microseconds=seed),
            "user_id": np.arange(rows, dtype="int64") + 2**40 * seed,
            "session_id": pd.array([f"s{seed}-{i}" for i in range(rows)], dtype="str"),
            "row_sum": np.array(values[:rows], dtype="float64"),
        }
    )


def key(day: str, asset: str = "tbl") -> str:
    return f"{asset}/date={day}/part.parquet"


def output(partition_key=None, key_range=None, asset="tbl") -> dg.OutputContext:
    return dg.build_output_context(
        asset_key=asset,
        partition_key=partition_key,
        asset_partition_key_range=key_range,
        asset_partitions_def=DAILY,
    )


def input_(partition_key=None, key_range=None, asset="tbl") -> dg.InputContext:
    return dg.build_input_context(
        asset_key=asset,
        partition_key=partition_key,
        asset_partition_key_range=key_range,
        asset_partitions_def=DAILY,
    )


# A built context is used in a `with` block: one left to the garbage collector tears its
# ephemeral Dagster instance down at a random later moment.


def save(storage, value, partition_key=DAY, key_range=None, asset="tbl") -> dict:
    """ParquetIOManager.handle_output; returns the metadata it logged."""
    with output(None if key_range else partition_key, key_range, asset) as context:
        ParquetIOManager(storage=storage).handle_output(context, value)
        return context.get_logged_metadata()


def load(storage, partition_key=DAY, key_range=None, asset="tbl", manager=ParquetIOManager):
    with input_(None if key_range else partition_key, key_range, asset) as context:
        return manager(storage=storage).load_input(context)


def put(store, bucket: str, key: str, data: bytes) -> None:
    with store.staged(bucket, key) as path:
        path.write_bytes(data)


def read(store, bucket: str, key: str) -> bytes:
    with store.open(bucket, key) as stream:
        return stream.read()


def keys(store, bucket: str, prefix: str = "") -> list[str]:
    return [info.key for info in store.list(bucket, prefix)]


def assert_nothing_stray(storage, expected: list[str]) -> None:
    """The bucket holds exactly `expected`: no temp file, no partial or pending upload."""
    store, bucket = storage.store, storage.feature_bucket
    assert keys(store, bucket) == expected
    if isinstance(store, LocalStore):
        on_disk = sorted(
            p.relative_to(store.root / bucket).as_posix()
            for p in (store.root / bucket).rglob("*")
            if p.is_file()
        )
        assert on_disk == expected
    else:
        uploads = store.client.list_multipart_uploads(Bucket=bucket)
        assert uploads.get("Uploads", []) == []


def operations(store, bucket: str, key: str) -> dict:
    """Each store operation on (bucket, key), by name, as a callable that runs it to the end."""

    def staged():
        with store.staged(bucket, key) as path:
            path.write_bytes(b"written")

    def opened():
        with store.open(bucket, key) as stream:
            stream.read()

    def copied():
        with store.local_copy(bucket, key):
            pass

    return {
        "head": lambda: store.head(bucket, key),
        "require": lambda: store.require(bucket, key),
        "open": opened,
        "copy": copied,
        "stage": staged,
    }
